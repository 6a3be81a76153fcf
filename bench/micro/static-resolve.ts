/**
 * Micro benchmark: src/web/static resolving a GET for a cached 1 KiB file and producing its
 * response (status, headers, serialised header bytes and body buffer), as the web server would
 * call it per request. Nothing is written to a socket.
 * Run: node --import tsx bench/micro/static-resolve.ts [iterations]
 * Prints ns/request for: a plain GET (the prepared response, no system call), a GET through
 * `try_files $uri $uri/ /index.html` (two cache lookups), a conditional GET answered 304, a
 * single-range GET (206), and the first request of a file (stat + read on an empty cache).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStaticConf, serveStatic, StaticContext, type StaticRequest, type StaticResult } from '../../src/web/static/index.js';

const iterations = Number(process.argv[2] ?? 1_000_000);
const root = mkdtempSync(join(tmpdir(), 'tsgi-bench-static-'));
writeFileSync(join(root, 'app.css'), Buffer.alloc(1024, 0x61));
writeFileSync(join(root, 'index.html'), '<!doctype html>\n');

const types = new Map([
  ['css', 'text/css'],
  ['html', 'text/html'],
]);
const plain = createStaticConf({ files: { kind: 'root', root }, types });
const spa = createStaticConf({ files: { kind: 'root', root }, types, tryFiles: ['$uri', '$uri/', '/index.html'] });
const ctx = new StaticContext();

let sink = 0;
/** Requests that needed the file system: the cache revalidates an entry every 2 s (one stat). */
let revalidations = 0;

async function time(request: StaticRequest, conf = plain): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    let result: StaticResult | Promise<StaticResult> = serveStatic(ctx, request, conf);
    if (result instanceof Promise) {
      revalidations++;
      result = await result;
    }
    if (result.kind === 'response') sink += result.status;
  }
  return Number(process.hrtime.bigint() - start) / iterations;
}

const get: StaticRequest = { method: 'GET', uri: '/app.css', args: '', headers: {} };
const etag = await (async () => {
  const first = await serveStatic(ctx, get, plain);
  if (first.kind !== 'response') throw new Error('no response');
  return first.headers.find(([name]) => name === 'ETag')![1];
})();
await serveStatic(ctx, get, spa);
const conditional: StaticRequest = { ...get, headers: { ifNoneMatch: etag } };
const ranged: StaticRequest = { ...get, headers: { range: 'bytes=0-99' } };

// The cost of the first request of a file: a fresh context (empty cache) per request.
async function cold(count: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const result = await serveStatic(new StaticContext(), get, plain);
    if (result.kind === 'response') sink += result.status;
  }
  return Number(process.hrtime.bigint() - start) / count;
}

const rows: Array<[string, number]> = [];
async function best(fn: () => Promise<number>): Promise<number> {
  let min = Infinity;
  for (let run = 0; run < 5; run++) min = Math.min(min, await fn());
  return min;
}
rows.push(['GET, cached 1 KiB file (prepared response)', await best(() => time(get))]);
rows.push(['GET via try_files $uri $uri/ /index.html', await best(() => time(get, spa))]);
rows.push(['GET with If-None-Match -> 304', await best(() => time(conditional))]);
rows.push(['GET with Range -> 206', await best(() => time(ranged))]);
let coldBest = Infinity;
for (let run = 0; run < 3; run++) coldBest = Math.min(coldBest, await cold(2000));
rows.push(['first request, empty cache (stat + read)', coldBest]);

console.log(`1 KiB file, ${iterations} iterations x 5 runs (best); ${revalidations} requests revalidated the cache entry (a stat every 2 s)`);
for (const [name, ns] of rows) console.log(`${name.padEnd(46)} ${ns.toFixed(0).padStart(8)} ns/request`);
rmSync(root, { recursive: true, force: true });
if (sink === 0) throw new Error('nothing served');

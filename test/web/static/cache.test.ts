/**
 * The open-file cache as serveStatic uses it: a hot file is answered synchronously (no Promise,
 * so no system call), the entry is revalidated after validMs, a changed file is seen then, and
 * memory stays within its bounds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStaticConf, FileCache, serveStatic, StaticContext, type StaticRequest, type StaticResult } from '../../../src/web/static/index.js';

const get = (uri: string, headers: StaticRequest['headers'] = {}): StaticRequest => ({ method: 'GET', uri, args: '', headers });

async function settle(result: StaticResult | Promise<StaticResult>): Promise<StaticResult> {
  return result instanceof Promise ? await result : result;
}

function bodyText(result: StaticResult): string {
  assert.equal(result.kind, 'response');
  if (result.kind !== 'response') return '';
  if (result.body.kind === 'buffer') return result.body.data.toString();
  return `<${result.body.kind}>`;
}

describe('open-file cache', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsgi-static-cache-'));
    writeFileSync(join(dir, 'a.txt'), 'one');
    writeFileSync(join(dir, 'index.html'), 'index');
    writeFileSync(join(dir, 'big.bin'), Buffer.alloc(1_100_000, 7));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('answers a hot file synchronously, with the same response object each time', async () => {
    const ctx = new StaticContext();
    const conf = createStaticConf({ files: { kind: 'root', root: dir } });
    const first = serveStatic(ctx, get('/a.txt'), conf);
    assert.ok(first instanceof Promise, 'the first request stats and reads');
    assert.equal(bodyText(await first), 'one');
    const second = serveStatic(ctx, get('/a.txt'), conf);
    assert.ok(!(second instanceof Promise), 'the second is served from memory');
    assert.equal(serveStatic(ctx, get('/a.txt'), conf), second, 'prepared once, returned as is');
    const head = serveStatic(ctx, { ...get('/a.txt'), method: 'HEAD' }, conf);
    assert.ok(!(head instanceof Promise) && head.kind === 'response' && head.body.kind === 'none');
    assert.ok(!(second instanceof Promise) && second.kind === 'response' && second.rawHeaders !== undefined);
    assert.equal((second as { rawHeaders: Buffer }).rawHeaders.toString(), second.headers.map(([n, v]) => `${n}: ${v}\r\n`).join(''));
  });

  it('answers conditional, range, try_files and index requests from the cache too', async () => {
    const ctx = new StaticContext();
    const conf = createStaticConf({ files: { kind: 'root', root: dir }, tryFiles: ['$uri', '$uri/', '/index.html'] });
    const warm = await settle(serveStatic(ctx, get('/a.txt'), conf));
    const etag = warm.kind === 'response' ? warm.headers.find(([n]) => n === 'ETag')![1] : '';
    for (const request of [get('/a.txt', { ifNoneMatch: etag }), get('/a.txt', { range: 'bytes=0-0' }), get('/a.txt', { ifMatch: '"x"' })]) {
      assert.ok(!(serveStatic(ctx, request, conf) instanceof Promise), JSON.stringify(request.headers));
    }
    await settle(serveStatic(ctx, get('/nothing'), conf));
    const fallback = serveStatic(ctx, get('/nothing'), conf);
    assert.ok(!(fallback instanceof Promise), 'missing files are remembered as missing');
    assert.deepEqual(fallback, { kind: 'internalRedirect', uri: '/index.html', args: '' });
  });

  it('revalidates after validMs and sees a changed file', async () => {
    let now = 1_000_000;
    const ctx = new StaticContext({ now: () => now, cache: { validMs: 1000 } });
    const conf = createStaticConf({ files: { kind: 'root', root: dir } });
    writeFileSync(join(dir, 'c.txt'), 'old');
    assert.equal(bodyText(await settle(serveStatic(ctx, get('/c.txt'), conf))), 'old');
    writeFileSync(join(dir, 'c.txt'), 'newer');
    utimesSync(join(dir, 'c.txt'), 2_000_000, 2_000_000);
    now += 999;
    assert.equal(bodyText(await settle(serveStatic(ctx, get('/c.txt'), conf))), 'old', 'still trusted');
    now += 2;
    const revalidated = serveStatic(ctx, get('/c.txt'), conf);
    assert.ok(revalidated instanceof Promise, 'a stat is due');
    assert.equal(bodyText(await revalidated), 'newer');
    const etag = (await settle(serveStatic(ctx, get('/c.txt'), conf))) as { headers: ReadonlyArray<readonly [string, string]> };
    assert.equal(etag.headers.find(([n]) => n === 'ETag')![1], `"${(2_000_000).toString(16)}-5"`);
  });

  it('keeps content and prepared headers when a revalidated file did not change', async () => {
    let now = 5_000_000;
    const ctx = new StaticContext({ now: () => now, cache: { validMs: 10 } });
    const conf = createStaticConf({ files: { kind: 'root', root: dir } });
    await settle(serveStatic(ctx, get('/a.txt'), conf));
    const prepared = serveStatic(ctx, get('/a.txt'), conf);
    now += 20;
    assert.equal(await settle(serveStatic(ctx, get('/a.txt'), conf)), prepared);
  });

  it('sees a deleted file after validMs', async () => {
    let now = 0;
    const ctx = new StaticContext({ now: () => now, cache: { validMs: 100 } });
    const conf = createStaticConf({ files: { kind: 'root', root: dir } });
    writeFileSync(join(dir, 'gone.txt'), 'x');
    assert.equal((await settle(serveStatic(ctx, get('/gone.txt'), conf))).kind, 'response');
    unlinkSync(join(dir, 'gone.txt'));
    now = 200;
    assert.deepEqual(await settle(serveStatic(ctx, get('/gone.txt'), conf)), { kind: 'error', status: 404, headers: [] });
  });

  it('streams files above maxFileSize from disk, and without a cache', async () => {
    const conf = createStaticConf({ files: { kind: 'root', root: dir } });
    const cached = await settle(serveStatic(new StaticContext(), get('/big.bin'), conf));
    assert.ok(cached.kind === 'response' && cached.body.kind === 'file' && cached.body.end === 1_100_000);
    const none = await settle(serveStatic(new StaticContext({ cache: false }), get('/a.txt'), conf));
    assert.ok(none.kind === 'response' && none.body.kind === 'file');
    const bigger = await settle(serveStatic(new StaticContext({ cache: { maxFileSize: 2_000_000 } }), get('/big.bin'), conf));
    assert.ok(bigger.kind === 'response' && bigger.body.kind === 'buffer' && bigger.body.data.length === 1_100_000);
  });

  it('stays within maxEntries and maxBytes, oldest first', () => {
    const cache = new FileCache({ maxEntries: 2, maxBytes: 10 });
    const info = { kind: 'file', size: 6, mtime: 0, mtimeMs: 0, ino: 1, dev: 1 } as const;
    const a = cache.store('/a', info, 0);
    cache.storeContent(a, Buffer.alloc(6));
    const b = cache.store('/b', { ...info, ino: 2 }, 0);
    cache.storeContent(b, Buffer.alloc(6));
    assert.equal(cache.bytes, 6, 'the older content went to make room');
    assert.equal(cache.fresh('/a', 1), undefined);
    cache.store('/c', { error: 'ENOENT' }, 0);
    cache.store('/d', { error: 'ENOENT' }, 0);
    assert.equal(cache.size, 2);
    assert.ok(cache.fresh('/d', 1) !== undefined);
    const noErrors = new FileCache({ cacheErrors: false });
    noErrors.store('/x', { error: 'ENOENT' }, 0);
    assert.equal(noErrors.size, 0);
  });

  it('pins the clock per request: expires headers follow the injected time', async () => {
    const ctx = new StaticContext({ now: () => 1_700_000_000_000 });
    const conf = createStaticConf({ files: { kind: 'root', root: dir }, expires: { kind: 'access', seconds: 60 } });
    const result = await settle(serveStatic(ctx, get('/a.txt'), conf));
    assert.ok(result.kind === 'response');
    assert.deepEqual(result.headers.filter(([n]) => n === 'Expires' || n === 'Cache-Control'), [
      ['Expires', 'Tue, 14 Nov 2023 22:14:20 GMT'],
      ['Cache-Control', 'max-age=60'],
    ]);
    assert.equal(statSync(join(dir, 'a.txt')).size, 3);
  });
});

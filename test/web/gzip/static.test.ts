/**
 * gzip_static against nginx: for each mode, file layout, method and Accept-Encoding, nginx
 * serves the .gz (Content-Encoding: gzip) exactly when tsgi says `serve`, sends Vary exactly
 * when tsgi marks the request for it (gzip_vary on), and answers 404 where tsgi says so.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { GzipModule } from '../../../src/web/gzip/index.js';
import { configFromText, fakeContext } from '../variables/fake-context.js';
import { header, nginx, startNginx, type NginxRun } from '../variables/nginx-runner.js';

const HTTP = `
  access_log off;
  types { application/javascript js; }
  server {
    listen 127.0.0.1:PORT;
    root DIR/html;
    gzip_vary on;
    location /on/ { gzip_static on; }
    location /always/ { gzip_static always; }
    location /novary/ { gzip_static on; gzip_vary off; }
    location /off/ { gzip_static off; }
  }
`;
const DIRS = ['on', 'always', 'novary', 'off'];
const SOURCE = 'console.log("hello");\n'.repeat(40);

describe('gzip_static against nginx', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let run: NginxRun;
  let config: ReturnType<typeof configFromText>;

  before(async () => {
    if (!('path' in nginx)) return;
    run = await startNginx(nginx.path, HTTP);
    for (const dir of DIRS) {
      const base = join(run.dir, 'html', dir);
      mkdirSync(base, { recursive: true });
      for (const name of ['a.js', 'b.js', 'c.js', 'f.js']) writeFileSync(join(base, name), SOURCE);
      writeFileSync(join(base, 'a.js.gz'), gzipSync(SOURCE));
      mkdirSync(join(base, 'c.js.gz'));
      execFileSync('mkfifo', [join(base, 'f.js.gz')]);
    }
    config = configFromText(`events {} http { ${HTTP.replaceAll('PORT', String(run.port)).replaceAll('DIR', run.dir)} }`);
  });
  after(async () => run?.stop());

  const cases: { dir: string; file: string; method: string; ae: boolean }[] = [];
  for (const dir of DIRS) {
    for (const file of ['a.js', 'b.js', 'c.js', 'f.js']) {
      for (const method of ['GET', 'HEAD']) for (const ae of [true, false]) cases.push({ dir, file, method, ae });
    }
    cases.push({ dir, file: 'a.js', method: 'POST', ae: true });
  }

  for (const c of cases) {
    it(`${c.method} /${c.dir}/${c.file}${c.ae ? ' (gzip)' : ''}`, async () => {
      const raw = `${c.method} /${c.dir}/${c.file} HTTP/1.1\r\nHost: h\r\n${c.ae ? 'Accept-Encoding: gzip\r\n' : ''}Connection: close\r\n\r\n`;
      const theirs = await run.request(raw);
      const ctx = fakeContext({ config, raw, location: `/${c.dir}/` });
      const gzip = new GzipModule(config, null);
      const result = await gzip.gzipStatic(ctx, join(run.dir, 'html', c.dir, c.file));
      const served = result.kind === 'serve';
      assert.equal(header(theirs, 'content-encoding') === 'gzip', served, theirs.raw.slice(0, 400));
      if (result.kind === 'status') assert.equal(theirs.status, result.status);
      if (served && c.method === 'GET') assert.equal(theirs.body.length, gzipSync(SOURCE).length);
      // The filter adds Vary for what gzip_static marked (gzip itself is off here).
      const filtered = gzip.apply(ctx, { status: theirs.status === 404 ? 404 : 200, headers: [['Content-Type', 'application/javascript']], body: { kind: 'none' } });
      const ourVary = filtered.headers.some(([name]) => name === 'Vary');
      if (theirs.status === 200) assert.equal(ourVary, header(theirs, 'vary') === 'Accept-Encoding');
    });
  }

  it('a URI ending in / is never looked at', async () => {
    const ctx = fakeContext({ config, raw: 'GET /on/ HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n', location: '/on/' });
    const result = await new GzipModule(config, null).gzipStatic(ctx, join(run.dir, 'html/on/'));
    assert.deepEqual(result, { kind: 'decline', vary: false });
  });
});

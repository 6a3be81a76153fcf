/**
 * gzip_static end to end: the same files and locations under the real nginx and `tsgi web`, and
 * the same requests; status, the headers that matter and the body must agree (the .gz file's
 * ETag and Last-Modified, the original name's Content-Type, Content-Encoding, Vary, ranges and
 * conditionals on the .gz file, try_files ahead of it, HEAD, a client that takes no gzip).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { nginx, startOracle, type NginxOracle } from '../match/nginx-oracle.js';
import { exchangeRaw, type RawResponse } from '../server/raw-http.js';
import { startWeb, type RunningWeb } from '../server/tsgi-web.js';

const root = mkdtempSync(join(tmpdir(), 'tsgi-gzip-static-'));
const MTIME = new Date('2024-03-04T05:06:07Z');
const GZ_MTIME = new Date('2024-03-05T05:06:07Z');
const SCRIPT = 'console.log("hello gzip_static");\n'.repeat(40);
function put(path: string, data: string | Buffer, mtime = MTIME): void {
  const full = join(root, path);
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, data);
  utimesSync(full, mtime, mtime);
}
for (const dir of ['on', 'always', 'try', 'off']) {
  put(`${dir}/app.js`, SCRIPT);
  put(`${dir}/app.js.gz`, gzipSync(SCRIPT), GZ_MTIME);
  put(`${dir}/plain.txt`, 'no gz beside me\n');
}
put('on/index.html', '<p>index</p>\n');
put('on/index.html.gz', gzipSync('<p>index</p>\n'), GZ_MTIME);

const SERVERS = `
  server {
    listen 127.0.0.1:PORT;
    server_tokens off;
    root ${root};
    types { application/javascript js; text/plain txt; text/html html; }
    gzip_vary on;
    location /on/ { gzip_static on; }
    location /always/ { gzip_static always; }
    location /try/ { gzip_static on; try_files $uri /try/app.js; }
    location /off/ { }
  }`;

const GZ = 'Accept-Encoding: gzip\r\n';
const etagOfGz = `"${Math.floor(GZ_MTIME.getTime() / 1000).toString(16)}-${gzipSync(SCRIPT).length.toString(16)}"`;
const get = (path: string, headers = '', method = 'GET'): string => `${method} ${path} HTTP/1.1\r\nHost: gz\r\nConnection: close\r\n${headers}\r\n`;

const CASES: ReadonlyArray<{ name: string; raw: string; head?: boolean }> = [
  { name: 'on, client takes gzip', raw: get('/on/app.js', GZ) },
  { name: 'on, client takes no gzip', raw: get('/on/app.js') },
  { name: 'on, no .gz beside the file', raw: get('/on/plain.txt', GZ) },
  { name: 'on, HEAD', raw: get('/on/app.js', GZ, 'HEAD'), head: true },
  { name: 'on, range over the .gz', raw: get('/on/app.js', `${GZ}Range: bytes=0-9\r\n`) },
  { name: 'on, If-None-Match of the .gz', raw: get('/on/app.js', `${GZ}If-None-Match: ${etagOfGz}\r\n`) },
  { name: 'on, directory index', raw: get('/on/', GZ) },
  { name: 'always, client takes no gzip', raw: get('/always/app.js') },
  { name: 'try_files fallback then gzip_static', raw: get('/try/missing.js', GZ) },
  { name: 'off', raw: get('/off/app.js', GZ) },
];

const KEPT = ['content-type', 'content-length', 'content-encoding', 'etag', 'last-modified', 'vary', 'content-range', 'location'];

function comparable(response: RawResponse): unknown {
  return {
    status: response.statusLine,
    headers: response.headers.filter(([name]) => KEPT.includes(name.toLowerCase())).map(([name, value]) => `${name.toLowerCase()}: ${value}`),
    body: response.body.toString('base64'),
  };
}

describe('gzip_static: tsgi web and nginx agree', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let oracle: NginxOracle;
  let web: RunningWeb;

  before(async () => {
    if (!('path' in nginx)) return;
    web = await startWeb(`access_log off;\n${SERVERS}`);
    oracle = await startOracle(nginx.path, SERVERS);
  });

  after(async () => {
    await oracle?.stop();
    await web?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const options = { expect: 1, heads: c.head === true ? [true] : undefined };
      const theirs = await exchangeRaw(oracle.port, c.raw, options);
      const ours = await exchangeRaw(web.port, c.raw, options);
      assert.deepEqual(comparable(ours.responses[0]!), comparable(theirs.responses[0]!));
    });
  }

  it('really serves the .gz (the check above is not vacuous)', async () => {
    const ours = await exchangeRaw(web.port, get('/on/app.js', GZ), { expect: 1 });
    const response = ours.responses[0]!;
    assert.equal(response.header('content-encoding'), 'gzip');
    assert.equal(response.header('content-type'), 'application/javascript');
    assert.equal(response.body.length, gzipSync(SCRIPT).length);
  });
});

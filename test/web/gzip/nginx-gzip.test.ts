/**
 * gzip decisions against nginx. One nginx serves each case twice: from a server with the gzip
 * settings under test, and from a twin server with gzip off (Host: plain). tsgi's filter gets the
 * plain response and must produce the headers nginx sent from the gzip server (same names, same
 * order, same values but the dates), and a body that gunzips to the plain body.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { acceptEncodingAllowsGzip, GzipModule } from '../../../src/web/gzip/index.js';
import type { HeaderPair, OutgoingResponse } from '../../../src/web/request-context.js';
import { configFromText, fakeContext } from '../variables/fake-context.js';
import { header, nginx, startNginx, type NginxRun, type RawResponse } from '../variables/nginx-runner.js';

const TYPES = 'types { text/html html; text/css css; application/json json; image/png png; text/plain txt; application/javascript js; }';
const LOCATIONS = `
    location / { }
    location /ret { default_type text/html; return 200 "${'0123456789'.repeat(10)}"; }
    location /ret404 { return 404; }
    location /ret500 { return 500; }
    location /v10/ { gzip_http_version 1.0; }
    location /prox/ { gzip_proxied expired no-cache auth; }
    location /proxany/ { gzip_proxied any; }
    location /novary/ { gzip_vary off; }
    location /disable/ { gzip_disable "curl" msie6; }
    location /all/ { gzip_types *; }
    location /min/ { gzip_min_length 5000; }
    location /level9/ { gzip_comp_level 9; }
    location /static/ { gzip_static on; }
    location /always/ { gzip_static always; }
    location /exp/ { expires -1h; gzip_proxied expired; }
    location /cc/ { add_header Cache-Control "private, max-age=5"; gzip_proxied private; }
`;
const HTTP = `
  access_log off;
  ${TYPES}
  server {
    listen 127.0.0.1:PORT;
    server_name gz;
    root DIR/html;
    gzip on;
    gzip_vary on;
    gzip_types text/css application/json application/javascript;
    ${LOCATIONS}
  }
  server {
    listen 127.0.0.1:PORT;
    server_name plain;
    root DIR/html;
    ${LOCATIONS.replace(/gzip_static \w+;/g, '')}
  }
`;

const BIG_HTML = '<html><body>' + 'hello gzip world '.repeat(200) + '</body></html>\n';
const FILES: Readonly<Record<string, string>> = {
  'big.html': BIG_HTML,
  'small.html': 'tiny\n',
  'style.css': 'body { color: red; }\n'.repeat(50),
  'data.json': JSON.stringify({ list: Array.from({ length: 100 }, (_, i) => i) }),
  'plain.txt': 'plain text is not in gzip_types\n'.repeat(20),
  'img.png': 'not really a png but long enough to be compressed\n'.repeat(5),
};
const DIRS = ['', 'v10/', 'prox/', 'proxany/', 'novary/', 'disable/', 'all/', 'min/', 'level9/', 'static/', 'always/', 'exp/', 'cc/'];

interface Case {
  readonly path: string;
  readonly headers?: string;
  readonly method?: 'GET' | 'HEAD';
  readonly protocol?: 'HTTP/1.0' | 'HTTP/1.1';
}

const GZ = 'Accept-Encoding: gzip, deflate\r\n';
const CASES: readonly Case[] = [
  { path: '/big.html', headers: GZ },
  { path: '/big.html' },
  { path: '/big.html', headers: 'Accept-Encoding: br\r\n' },
  { path: '/big.html', headers: GZ, method: 'HEAD' },
  { path: '/big.html', headers: GZ, protocol: 'HTTP/1.0' },
  { path: '/small.html', headers: GZ },
  { path: '/style.css', headers: GZ },
  { path: '/data.json', headers: GZ },
  { path: '/plain.txt', headers: GZ },
  { path: '/img.png', headers: GZ },
  { path: '/missing.html', headers: GZ },
  { path: '/ret', headers: GZ },
  { path: '/ret404', headers: GZ },
  { path: '/ret500', headers: GZ },
  { path: '/big.html', headers: GZ + 'Range: bytes=0-9\r\n' },
  { path: '/big.html', headers: 'Range: bytes=0-9\r\n' },
  { path: '/small.html', headers: GZ + 'Range: bytes=0-1\r\n' },
  { path: '/ret404', headers: GZ, method: 'HEAD' },
  { path: '/v10/big.html', headers: GZ, protocol: 'HTTP/1.0' },
  { path: '/big.html', headers: GZ + 'Via: 1.1 proxy\r\n' },
  { path: '/prox/big.html', headers: GZ + 'Via: 1.1 proxy\r\n' },
  { path: '/prox/big.html', headers: GZ + 'Via: 1.1 proxy\r\nAuthorization: Basic eDp5\r\n' },
  { path: '/proxany/big.html', headers: GZ + 'Via: 1.1 proxy\r\n' },
  { path: '/exp/big.html', headers: GZ + 'Via: 1.1 proxy\r\n' },
  { path: '/cc/big.html', headers: GZ + 'Via: 1.1 proxy\r\n' },
  { path: '/novary/big.html', headers: GZ },
  { path: '/novary/big.html' },
  { path: '/disable/big.html', headers: GZ + 'User-Agent: curl/8.5.0\r\n' },
  { path: '/disable/big.html', headers: GZ + 'User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.0)\r\n' },
  { path: '/disable/big.html', headers: GZ + 'User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)\r\n' },
  { path: '/all/img.png', headers: GZ },
  { path: '/all/plain.txt', headers: GZ },
  { path: '/min/big.html', headers: GZ },
  { path: '/level9/style.css', headers: GZ },
];

/** Headers that depend on the moment or the connection, not on gzip. */
const VOLATILE = new Set(['server', 'date', 'connection', 'transfer-encoding', 'keep-alive']);
const stable = (headers: readonly HeaderPair[]): HeaderPair[] => headers.filter(([name]) => !VOLATILE.has(name.toLowerCase()));

function rawRequest(c: Case, host: string): string {
  const protocol = c.protocol ?? 'HTTP/1.1';
  return `${c.method ?? 'GET'} ${c.path} ${protocol}\r\nHost: ${host}\r\n${c.headers ?? ''}${protocol === 'HTTP/1.1' ? 'Connection: close\r\n' : ''}\r\n`;
}

function location(path: string): string | undefined {
  for (const name of ['/ret404', '/ret500', '/ret']) if (path === name) return name;
  const dir = /^(\/[a-z0-9]+\/)/.exec(path)?.[1];
  return dir && DIRS.includes(dir.slice(1)) ? dir : '/';
}

describe('gzip filter against nginx', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let run: NginxRun;
  let config: ReturnType<typeof configFromText>;

  before(async () => {
    if (!('path' in nginx)) return;
    run = await startNginx(nginx.path, HTTP);
    for (const dir of DIRS) {
      mkdirSync(join(run.dir, 'html', dir), { recursive: true });
      for (const [name, text] of Object.entries(FILES)) writeFileSync(join(run.dir, 'html', dir, name), text);
    }
    config = configFromText(`events {} http { ${HTTP.replaceAll('PORT', String(run.port)).replaceAll('DIR', run.dir)} }`);
  });
  after(async () => run?.stop());

  for (const c of CASES) {
    it(`${c.method ?? 'GET'} ${c.path} ${c.protocol ?? ''} ${JSON.stringify(c.headers ?? '')}`, async () => {
      const theirs = await run.request(rawRequest(c, 'gz'));
      let plain = await run.request(rawRequest(c, 'plain'));
      const gzip = new GzipModule(config, null);
      const ctx = fakeContext({ config, raw: rawRequest(c, 'gz'), location: location(c.path), serverIndex: 0 });
      const asInput = (response: RawResponse): OutgoingResponse => ({
        status: response.status,
        headers: stable(response.headers),
        body: c.method === 'HEAD' ? { kind: 'none' } : { kind: 'buffer', data: Buffer.from(response.body, 'latin1') },
      });
      if (plain.status === 206) {
        // The static handler asks before it cuts a range: a compressed response is sent whole.
        const whole = await run.request(rawRequest({ ...c, headers: (c.headers ?? '').replace(/Range: [^\r]*\r\n/, '') }, 'plain'));
        if (gzip.compresses(ctx, asInput(whole))) plain = whole;
      }
      ctx.status = plain.status;
      const input = asInput(plain);
      const ours = await gzip.apply(ctx, input);
      assert.equal(ours.status, theirs.status);
      assert.deepEqual(stable(ours.headers), stable(theirs.headers));
      const body = await collect(ours);
      if (c.method === 'HEAD') {
        assert.equal(body.length, 0);
      } else if (header(theirs, 'content-encoding') === 'gzip') {
        assert.equal(gunzipSync(body).toString('latin1'), plain.body);
        assert.equal(gunzipSync(Buffer.from(theirs.body, 'latin1')).toString('latin1'), plain.body);
        assert.ok(ctx.variables.get('gzip_ratio'));
      } else {
        assert.equal(body.toString('latin1'), theirs.body);
      }
    });
  }

  it('Accept-Encoding values: gzip or not, as nginx decides', async () => {
    const values = [
      'gzip', 'GZIP', 'gzip,deflate', 'deflate, gzip', 'deflate,gzip', 'br;q=1, gzip;q=0.5', 'gzip;q=0', 'gzip; q=0',
      'gzip;q=0.000', 'gzip;q=0.001', 'gzip;q=1', 'gzip;q=1.0', 'gzip;q=1.001', 'gzip;q=2', 'gzip;q=0.5000', 'x-gzip',
      'gzipx', 'identity', 'gzip ;q=0', 'gzip;Q=0.2', 'gzip;x=1', 'gzip;q=', 'gzip;q=a', '*', 'deflate;gzip', ' gzip', 'gzip , br',
    ];
    const mismatches: string[] = [];
    for (const value of values) {
      const response = await run.request(`GET /ret HTTP/1.1\r\nHost: gz\r\nAccept-Encoding: ${value}\r\nConnection: close\r\n\r\n`);
      const nginxGzips = header(response, 'content-encoding') === 'gzip';
      if (nginxGzips !== acceptEncodingAllowsGzip(value)) mismatches.push(`${value}: nginx ${nginxGzips}`);
    }
    assert.deepEqual(mismatches, []);
  });
});

async function collect(response: OutgoingResponse): Promise<Buffer> {
  const body = response.body;
  if (body.kind === 'none') return Buffer.alloc(0);
  if (body.kind === 'buffer') return body.data;
  if (body.kind !== 'stream') throw new Error(`unexpected body ${body.kind}`);
  const chunks: Buffer[] = [];
  for await (const chunk of body.chunks) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * The gzip pieces one by one: q-values, zlib parameters, $gzip_ratio rounding, ETag weakening,
 * streaming round trips of every body kind, and gzip_static's decisions (the comparisons with
 * nginx are in nginx-gzip.test.ts and static.test.ts).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  GzipModule,
  acceptEncodingAllowsGzip,
  deflateOptions,
  gzipBody,
  gzipQuantity,
  gzipRatio,
  isMsie6,
  weakEtag,
  withVary,
} from '../../../src/web/gzip/index.js';
import type { OutgoingResponse, ResponseBody } from '../../../src/web/request-context.js';
import { configFromText, fakeContext } from '../variables/fake-context.js';

async function drain(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of chunks) out.push(chunk);
  return Buffer.concat(out);
}

describe('gzipQuantity and Accept-Encoding', () => {
  const Q: readonly (readonly [string, number])[] = [
    ['1', 100], ['0', 0], ['0.5', 5], ['0.001', 1], ['0.000', 0], ['1.000', 100], ['1.001', 0], ['2', 0], ['0.1234', 0], ['0,', 0], ['1 ', 100], ['x', 0],
  ];
  for (const [text, q] of Q) it(`q=${text} → ${q}`, () => assert.equal(gzipQuantity(text, 0), q));

  const AE: readonly (readonly [string, boolean])[] = [
    ['gzip', true], ['gzip,deflate', true], ['deflate, gzip', true], ['gzip;q=0', false], ['gzip; q=0.5', true], ['x-gzip', false],
    ['identity', false], ['gzip;x', false], ['GZIP', true], ['gzi', false],
  ];
  for (const [value, ok] of AE) it(`Accept-Encoding: ${value} → ${ok}`, () => assert.equal(acceptEncodingAllowsGzip(value), ok));

  it('recognises MSIE 4-6 without SV1 (gzip_disable msie6)', () => {
    assert.equal(isMsie6('Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.0)'), true);
    assert.equal(isMsie6('Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)'), false);
    assert.equal(isMsie6('Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)'), true);
    assert.equal(isMsie6('Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)'), false);
    assert.equal(isMsie6('Opera/9.0 (MSIE 6.0; x)'), false);
  });
});

describe('zlib parameters and bookkeeping', () => {
  const settings = { gzip: true, gzipTypes: ['text/html'], gzipMinLength: 20, gzipCompLevel: 6, gzipWindow: 32768, gzipHash: 131072 };

  it('shrinks window and memLevel for a short body as nginx does', () => {
    assert.deepEqual([deflateOptions(settings, -1).windowBits, deflateOptions(settings, -1).memLevel], [15, 9]);
    assert.deepEqual([deflateOptions(settings, 100_000).windowBits, deflateOptions(settings, 100_000).memLevel], [15, 9]);
    // 1000 bytes < 2^(w-1) - 262 until w = 11.
    assert.deepEqual([deflateOptions(settings, 1000).windowBits, deflateOptions(settings, 1000).memLevel], [11, 5]);
    assert.deepEqual([deflateOptions(settings, 1).windowBits, deflateOptions(settings, 1).memLevel], [9, 3]);
    assert.equal(deflateOptions({ ...settings, gzipHash: 512 }, 1).memLevel, 1);
    assert.equal(deflateOptions(settings, 1).level, 6);
  });

  it('$gzip_ratio: two decimals, rounded on the third', () => {
    assert.equal(gzipRatio(1000, 300), '3.33');
    assert.equal(gzipRatio(2125, 1000), '2.13');
    assert.equal(gzipRatio(1999, 1000), '2.00');
    assert.equal(gzipRatio(100, 0), null);
  });

  it('weakens strong ETags, keeps weak ones, drops others', () => {
    assert.equal(weakEtag('"abc"'), 'W/"abc"');
    assert.equal(weakEtag('W/"abc"'), 'W/"abc"');
    assert.equal(weakEtag('abc'), null);
  });

  it('puts Vary after the entity fields, once', () => {
    assert.deepEqual(
      withVary([['Content-Type', 'text/html'], ['Last-Modified', 'x'], ['ETag', '"e"']]),
      [['Content-Type', 'text/html'], ['Last-Modified', 'x'], ['Vary', 'Accept-Encoding'], ['ETag', '"e"']],
    );
    assert.equal(withVary([['Vary', 'Accept-Encoding']]).length, 1);
  });
});

describe('round trips', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-gzip-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const text = Buffer.from(Array.from({ length: 20000 }, (_, i) => `line ${i} of a long body\n`).join(''));
  writeFileSync(join(dir, 'big.txt'), text);
  const options = { level: 1, windowBits: 15, memLevel: 8 };

  const BODIES: readonly (readonly [string, () => ResponseBody, Buffer])[] = [
    ['small buffer', () => ({ kind: 'buffer', data: Buffer.from('hello hello hello hello') }), Buffer.from('hello hello hello hello')],
    ['large buffer', () => ({ kind: 'buffer', data: text }), text],
    ['file slice by path', () => ({ kind: 'file', path: join(dir, 'big.txt'), start: 10, end: 300_000 }), text.subarray(10, 300_000)],
    ['stream', () => ({ kind: 'stream', chunks: (async function* () { yield text.subarray(0, 7); yield text.subarray(7); })() }), text],
    ['empty stream', () => ({ kind: 'stream', chunks: (async function* () {})() }), Buffer.alloc(0)],
  ];
  for (const [name, body, expected] of BODIES) {
    it(name, async () => {
      let sizes: [number, number] = [0, 0];
      const out = await drain(gzipBody(body(), options, (zin, zout) => (sizes = [zin, zout])));
      assert.deepEqual(gunzipSync(out), expected);
      assert.deepEqual(sizes, [expected.length, out.length]);
    });
  }

  it('stops reading when the consumer stops early', async () => {
    let pulled = 0;
    const endless = (async function* () {
      for (;;) {
        pulled += 1;
        yield Buffer.alloc(64 * 1024, pulled);
      }
    })();
    for await (const chunk of gzipBody({ kind: 'stream', chunks: endless }, options, () => {})) {
      assert.ok(chunk.length > 0);
      break;
    }
    const after = pulled;
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(pulled - after <= 1, `kept reading: ${pulled - after}`);
  });

  it('reads a file slice through its fd and leaves the fd open', async () => {
    const fd = openSync(join(dir, 'big.txt'), 'r');
    const out = await drain(gzipBody({ kind: 'file', path: join(dir, 'big.txt'), fd, start: 0, end: 5000 }, options, () => {}));
    assert.deepEqual(gunzipSync(out), text.subarray(0, 5000));
    closeSync(fd);
  });
});

describe('GzipModule.apply', () => {
  const config = configFromText(`
events {}
http {
  access_log off;
  server {
    listen 127.0.0.1:8080;
    gzip on;
    location / {}
    location /css { gzip_types text/css; gzip_min_length 0; }
    location /off { gzip off; gzip_vary on; }
    location /dis { gzip_disable "."; }
  }
}`);
  const gzip = new GzipModule(config, null);
  const html = (data: string, headers: [string, string][] = []): OutgoingResponse => ({
    status: 200,
    headers: [['Content-Type', 'text/html; charset=utf-8'], ['Content-Length', String(data.length)], ...headers],
    body: { kind: 'buffer', data: Buffer.from(data) },
  });
  const request = (location: string, extra = 'Accept-Encoding: gzip\r\n') =>
    fakeContext({ config, raw: `GET ${location} HTTP/1.1\r\nHost: h\r\n${extra}\r\n`, location });

  it('leaves an encoded response alone', async () => {
    const response = html('x'.repeat(100), [['Content-Encoding', 'br']]);
    assert.equal(gzip.verdict(request('/'), response), 'encoded');
    assert.equal(await gzip.apply(request('/'), response), response);
  });

  it('compresses with a type that has parameters, sets $gzip_ratio at the end', async () => {
    const ctx = request('/');
    const out = await gzip.apply(ctx, html('y'.repeat(1000)));
    assert.deepEqual(out.headers, [['Content-Type', 'text/html; charset=utf-8'], ['Content-Encoding', 'gzip']]);
    assert.equal(ctx.variables.get('gzip_ratio'), undefined);
    assert.equal(out.body.kind, 'stream');
    if (out.body.kind === 'stream') assert.equal(gunzipSync(await drain(out.body.chunks)).toString(), 'y'.repeat(1000));
    assert.match(ctx.variables.get('gzip_ratio')!, /^\d+\.\d\d$/);
  });

  it('gzip_min_length 0 compresses even an empty body', async () => {
    const ctx = request('/css');
    const out = await gzip.apply(ctx, { status: 200, headers: [['Content-Type', 'text/css']], body: { kind: 'buffer', data: Buffer.alloc(0) } });
    assert.equal(out.body.kind, 'stream');
    if (out.body.kind === 'stream') assert.equal(gunzipSync(await drain(out.body.chunks)).length, 0);
  });

  it('gzip off: no compression, no Vary (unless gzip_static asked for it)', async () => {
    const response = html('z'.repeat(100));
    assert.equal(gzip.verdict(request('/off'), response), 'off');
    assert.deepEqual((await gzip.apply(request('/off'), response)).headers, response.headers);
  });

  it('tests the request once: gzip_static and the filter share the answer', () => {
    const ctx = request('/', 'Accept-Encoding: gzip\r\n');
    assert.equal(gzip.accepts(ctx, null), true);
    const curl = 'Accept-Encoding: gzip\r\nUser-Agent: curl\r\n';
    assert.equal(gzip.accepts(request('/dis', curl), null), false);
    // A later location with gzip_disable does not test the request again (nginx's r->gzip_tested).
    ctx.loc = request('/dis', curl).loc;
    assert.equal(gzip.accepts(ctx, null), true);
  });
});

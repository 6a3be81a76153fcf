/**
 * The header buffer limits (414, 494 sent as 400) at their exact boundaries, next to nginx:
 * with `client_header_buffer_size 1k; large_client_header_buffers 2 1k;` a sweep of request
 * line and header line lengths, and heads made of several lines that fill the buffers.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { nginx, startOracle, type NginxOracle } from '../match/nginx-oracle.js';
import { exchangeRaw } from './raw-http.js';
import { startWeb, type RunningWeb } from './tsgi-web.js';
import { HeadBufferModel, HeadVerdict } from '../../../src/web/server/head-buffers.js';

const SERVERS = `
  server {
    listen 127.0.0.1:PORT;
    client_header_buffer_size 1k;
    large_client_header_buffers 2 1k;
    location / { return 200 "ok\\n"; }
  }
`;

const line = (target: string): string => `GET ${target} HTTP/1.1\r\n`;
const pad = (n: number): string => 'a'.repeat(Math.max(0, n));

/** Requests whose lengths straddle the 1k buffers. */
function cases(): { name: string; raw: string }[] {
  const out: { name: string; raw: string }[] = [];
  for (let length = 1010; length <= 1030; length += 2) {
    // A request line of `length` bytes with its CRLF.
    out.push({ name: `request line of ${length} bytes`, raw: line(`/${pad(length - 'GET / HTTP/1.1\r\n'.length)}`) + 'Host: x\r\n\r\n' });
  }
  for (let length = 1010; length <= 1030; length += 2) {
    out.push({ name: `header line of ${length} bytes`, raw: line('/') + 'Host: x\r\n' + `X-A: ${pad(length - 'X-A: \r\n'.length)}\r\n\r\n` });
  }
  for (const [count, size] of [
    [2, 600],
    [3, 600],
    [4, 500],
    [5, 400],
    [6, 400],
    [2, 990],
    [3, 990],
  ] as const) {
    const headers = Array.from({ length: count }, (_, i) => `X-${i}: ${pad(size)}\r\n`).join('');
    out.push({ name: `${count} headers of ${size} bytes`, raw: line('/') + 'Host: x\r\n' + headers + '\r\n' });
  }
  out.push({ name: 'empty lines before the request line', raw: '\r\n'.repeat(700) + line('/') + 'Host: x\r\n\r\n' });
  return out;
}

describe('header buffers, next to nginx', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let oracle: NginxOracle;
  let web: RunningWeb;

  before(async () => {
    if (!('path' in nginx)) return;
    [oracle, web] = await Promise.all([startOracle(nginx.path, SERVERS), startWeb(SERVERS)]);
  });

  after(async () => {
    await oracle?.stop();
    await web?.stop();
  });

  for (const testCase of cases()) {
    it(testCase.name, async () => {
      const [theirs, ours] = await Promise.all([exchangeRaw(oracle.port, testCase.raw, { waitMs: 50 }), exchangeRaw(web.port, testCase.raw, { waitMs: 50 })]);
      assert.equal(ours.responses[0]?.statusLine, theirs.responses[0]?.statusLine);
      assert.equal(ours.responses[0]?.body.toString().replace(/tsgi\/[\d.]+/, 'nginx/1.22.1'), theirs.responses[0]?.body.toString());
    });
  }
});

describe('HeadBufferModel', () => {
  it('decides the same whatever the read boundaries', () => {
    const raw = Buffer.from(line('/') + 'Host: x\r\n' + `X-A: ${pad(1100)}\r\n\r\n`, 'latin1');
    const whole = new HeadBufferModel({ small: 1024, large: 1024, count: 2 }).feed(raw, 0, raw.length).verdict;
    const model = new HeadBufferModel({ small: 1024, large: 1024, count: 2 });
    let verdict = HeadVerdict.More;
    for (let i = 0; i < raw.length && verdict === HeadVerdict.More; i += 7) verdict = model.feed(raw, i, Math.min(raw.length, i + 7)).verdict;
    assert.equal(whole, HeadVerdict.HeaderTooLarge);
    assert.equal(verdict, whole);
  });

  it('reports where a complete head ends', () => {
    const raw = Buffer.from('GET / HTTP/1.1\nHost: x\n\nbody', 'latin1');
    const result = new HeadBufferModel({ small: 1024, large: 8192, count: 4 }).feed(raw, 0, raw.length);
    assert.deepEqual(result, { verdict: HeadVerdict.Complete, used: raw.length - 4 });
  });
});

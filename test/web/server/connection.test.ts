/**
 * Connection behaviour of `tsgi web`: keep-alive limits and timeouts, checked against the real
 * nginx with the same configuration where nginx's behaviour can be seen from the client, and
 * the seams issue 7 plugs into (a content handler that reads the request body, the counters
 * stub_status reads).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nginx, startOracle, type NginxOracle } from '../match/nginx-oracle.js';
import { exchangeRaw } from './raw-http.js';
import { startWeb, type RunningWeb } from './tsgi-web.js';
import type { ContentHandler, RequestContext } from '../../../src/web/request-context.js';

const SERVERS = `
  server {
    listen 127.0.0.1:PORT;
    keepalive_requests 2;
    keepalive_timeout 1s 7;
    client_header_timeout 1s;
    client_body_timeout 1s;
    lingering_timeout 1s;
    send_timeout 1s;
    root DIR;
    location / { return 200 "ok\\n"; }
    location /files/ { }
    location /echo { proxy_pass http://127.0.0.1:9; }
    location /status { stub_status; }
  }
`;

const get = (target: string, extra = ''): string => `GET ${target} HTTP/1.1\r\nHost: a\r\n${extra}\r\n`;

/** Opens a connection and reports how long until the server closed it (and what it sent). */
function timeToClose(port: number, send: string, timeoutMs = 8000): Promise<{ ms: number; data: string }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let data = '';
    const socket: Socket = connect({ port, host: '127.0.0.1' }, () => socket.write(send));
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after ${timeoutMs} ms; got ${JSON.stringify(data.slice(0, 200))}`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      resolve({ ms: Date.now() - started, data });
    };
    socket.on('end', done);
    socket.on('error', done);
  });
}

/** Reads the body through the content-handler slot: what `*_pass` handlers will do. */
const echoHandler: ContentHandler = {
  name: 'test-echo',
  claims: (location) => location?.name === '/echo',
  async handle(ctx: RequestContext) {
    const body = await ctx.body.read();
    const text = body.kind === 'buffer' ? body.data.toString('latin1') : '';
    const data = Buffer.from(`echo ${ctx.method} ${text.length} ${text.slice(0, 20)}\n`);
    return { kind: 'response', response: { status: 200, headers: [['Content-Type', 'text/plain'], ['Content-Length', String(data.length)]], body: { kind: 'buffer', data } } };
  },
};

/** Answers with the counters, the way stub_status will read them. */
const countersHandler: ContentHandler = {
  name: 'test-counters',
  claims: (location) => location?.name === '/status',
  async handle(ctx: RequestContext) {
    const c = await ctx.worker.collectCounters();
    const data = Buffer.from(`active=${c.active} accepts=${c.accepts} handled=${c.handled} requests=${c.requests} reading=${c.reading} writing=${c.writing} waiting=${c.waiting}\n`);
    return { kind: 'response', response: { status: 200, headers: [['Content-Length', String(data.length)]], body: { kind: 'buffer', data } } };
  },
};

describe('tsgi web connections, next to nginx', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let oracle: NginxOracle;
  let web: RunningWeb;

  before(async () => {
    if (!('path' in nginx)) return;
    web = await startWeb(SERVERS, { content: [echoHandler, countersHandler] });
    oracle = await startOracle(nginx.path, SERVERS.replace('root DIR;', `root ${web.dir};`));
    mkdirSync(join(web.dir, 'files'));
    writeFileSync(join(web.dir, 'files', 'big'), Buffer.alloc(32 * 1024 * 1024, 0x61));
  });

  after(async () => {
    await oracle?.stop();
    await web?.stop();
  });

  it('keepalive_requests ends the connection after its last request, Keep-Alive: timeout=N', async () => {
    for (const port of [oracle.port, web.port]) {
      const result = await exchangeRaw(port, get('/') + get('/') + get('/'), { expect: 2 });
      assert.equal(result.responses.length, 2, `port ${port}`);
      assert.equal(result.responses[0]!.header('connection'), 'keep-alive');
      assert.equal(result.responses[0]!.header('keep-alive'), 'timeout=7');
      assert.equal(result.responses[1]!.header('connection'), 'close');
      assert.equal(result.closed, true);
    }
  });

  it('client_header_timeout closes a connection that sends no request, without an answer', async () => {
    for (const port of [oracle.port, web.port]) {
      const { ms, data } = await timeToClose(port, '');
      assert.equal(data, '');
      assert.ok(ms >= 900 && ms < 2500, `closed after ${ms} ms (port ${port})`);
    }
  });

  it('client_header_timeout closes a half-sent head, without an answer', async () => {
    for (const port of [oracle.port, web.port]) {
      const { ms, data } = await timeToClose(port, 'GET / HT');
      assert.equal(data, '');
      assert.ok(ms >= 900 && ms < 2500, `closed after ${ms} ms (port ${port})`);
    }
  });

  it('keepalive_timeout closes an idle kept-alive connection', async () => {
    for (const port of [oracle.port, web.port]) {
      const { ms, data } = await timeToClose(port, get('/'));
      assert.match(data, /^HTTP\/1\.1 200 OK/);
      assert.ok(ms >= 900 && ms < 2500, `closed after ${ms} ms (port ${port})`);
    }
  });

  it('a body nobody reads: answered at once, then discarded for lingering_timeout', async () => {
    for (const port of [oracle.port, web.port]) {
      const { ms, data } = await timeToClose(port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab');
      assert.match(data, /^HTTP\/1\.1 200 OK/);
      assert.ok(ms >= 900 && ms < 2500, `closed after ${ms} ms (port ${port})`);
    }
  });

  it('a content handler reads the body through the request context', async () => {
    const body = 'x'.repeat(100_000);
    const chunked = `POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`;
    const result = await exchangeRaw(web.port, `POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n${body}${chunked}`, { expect: 2 });
    assert.equal(result.responses[0]!.body.toString(), `echo POST 100000 ${'x'.repeat(20)}\n`);
    assert.equal(result.responses[1]!.body.toString(), 'echo POST 5 hello\n');
  });

  it('Expect: 100-continue is answered when the handler reads the body', async () => {
    const result = await exchangeRaw(web.port, 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc', { expect: 1 });
    assert.equal(result.responses[0]!.body.toString(), 'echo POST 3 abc\n');
  });

  it('client_body_timeout: a body that stops coming ends the request (408, no answer)', async () => {
    const { ms, data } = await timeToClose(web.port, 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab');
    assert.equal(data, '');
    assert.ok(ms >= 900 && ms < 2500, `closed after ${ms} ms`);
  });

  it('send_timeout closes a connection whose client stops reading', async () => {
    const socket = connect({ port: web.port, host: '127.0.0.1' });
    socket.pause();
    socket.write(get('/files/big'));
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(web.server.connectionCount, 1);
    while (web.server.connectionCount > 0 && Date.now() - started < 6000) await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    assert.equal(web.server.connectionCount, 0, 'the stalled connection was not closed');
    assert.ok(Date.now() - started >= 900);
  });

  it('counts connections and requests as stub_status does', async () => {
    const result = await exchangeRaw(web.port, get('/status'));
    const text = result.responses[0]!.body.toString();
    const values = Object.fromEntries(text.trim().split(' ').map((pair) => pair.split('=') as [string, string]).map(([k, v]) => [k, Number(v)]));
    assert.equal(values.active, 1, text);
    assert.equal(values.writing, 1, text);
    assert.equal(values.reading, 0, text);
    assert.equal(values.waiting, 0, text);
    assert.ok(values.accepts! >= 10 && values.accepts === values.handled, text);
    assert.ok(values.requests! >= 10, text);
  });
});

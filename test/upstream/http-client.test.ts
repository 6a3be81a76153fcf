import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient, type HttpBody, type HttpRequest } from '../../src/upstream/http-client.js';
import { UpstreamError } from '../../src/upstream/errors.js';

const servers: (Server | NetServer)[] = [];
const clients: HttpClient[] = [];
const dir = mkdtempSync(join(tmpdir(), 'tsgi-http-client-'));

/** Every accepted socket: a net server's close() waits for its connections, and the silent and
 *  deaf peers below never end theirs. */
const accepted = new Set<Socket>();

after(async () => {
  for (const client of clients) await client.close();
  for (const socket of accepted) socket.destroy();
  for (const server of servers) {
    if ('closeAllConnections' in server) server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  rmSync(dir, { recursive: true, force: true });
});

async function listen<T extends Server | NetServer>(server: T): Promise<number> {
  servers.push(server);
  server.on('connection', (socket: Socket) => {
    accepted.add(socket);
    socket.once('close', () => accepted.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

/** A Node http backend that counts connections and echoes the request it got. */
async function echoBackend(handler?: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (handler) return handler(req, res, body);
      const text = JSON.stringify({ method: req.method, url: req.url, headers: req.rawHeaders, body: body.toString('latin1'), length: body.length });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  server.on('connection', () => connections++);
  const port = await listen(server);
  return { port, connections: () => connections };
}

function client(port: number, options: Partial<ConstructorParameters<typeof HttpClient>[0]> = {}): HttpClient {
  const c = new HttpClient({ address: `127.0.0.1:${port}`, log: () => {}, ...options });
  clients.push(c);
  return c;
}

function get(target: string, keepAlive: boolean, extra: string[] = []): HttpRequest {
  return { method: 'GET', target, headers: ['Host', 'backend', 'Connection', keepAlive ? '' : 'close', ...extra].filter((_, i, a) => !(i % 2 === 1 && a[i] === '') && !(i % 2 === 0 && a[i + 1] === '')), httpVersion: '1.1', keepAlive };
}

async function text(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks).toString('latin1');
}

async function rejects(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof UpstreamError, String(error));
    return error;
  }
  assert.fail('expected an UpstreamError');
}

describe('HttpClient against Node http', () => {
  test('keep-alive: 20 requests over one pooled connection', async () => {
    const backend = await echoBackend();
    const c = client(backend.port, { pool: { maxIdle: 4 } });
    for (let i = 0; i < 20; i++) {
      const res = await c.request(get(`/n/${i}`, true), { kind: 'none' });
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(await text(res.body)).url, `/n/${i}`);
    }
    assert.equal(backend.connections(), 1);
    assert.equal(c.idleConnections, 1);
  });

  test('without a pool (or keepAlive false) each request has its own connection', async () => {
    const backend = await echoBackend();
    const c = client(backend.port);
    for (let i = 0; i < 5; i++) await text((await c.request(get('/', false), { kind: 'none' })).body);
    assert.equal(backend.connections(), 5);
  });

  test('keepalive_requests closes a connection after N requests', async () => {
    const backend = await echoBackend();
    const c = client(backend.port, { pool: { maxIdle: 4 }, maxRequestsPerConnection: 3 });
    for (let i = 0; i < 9; i++) await text((await c.request(get('/', true), { kind: 'none' })).body);
    assert.equal(backend.connections(), 3);
  });

  test('chunked responses stream progressively', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const backend = await echoBackend((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('first;');
      void gate.then(() => res.end('second'));
    });
    const c = client(backend.port, { pool: { maxIdle: 2 } });
    const res = await c.request(get('/', true), { kind: 'none' });
    assert.ok(res.headers.some((h) => h.toLowerCase() === 'transfer-encoding'));
    const iterator = res.body[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(first.value?.toString(), 'first;');
    release();
    let rest = '';
    for (let step = await iterator.next(); step.done !== true; step = await iterator.next()) rest += step.value.toString();
    assert.equal(rest, 'second');
    // The chunked body ended by its framing: the connection is reusable.
    assert.equal(c.idleConnections, 1);
  });

  test('a close-delimited response ends at EOF and is not reused', async () => {
    const server = createNetServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close'));
    });
    const port = await listen(server);
    const c = client(port, { pool: { maxIdle: 2 } });
    const res = await c.request(get('/', true), { kind: 'none' });
    assert.equal(await text(res.body), 'until close');
    assert.equal(c.idleConnections, 0);
  });

  test('request bodies: buffer, file, stream with length, chunked stream', async () => {
    const backend = await echoBackend();
    const c = client(backend.port, { pool: { maxIdle: 2 } });
    const file = join(dir, 'body.bin');
    writeFileSync(file, 'from a file');
    async function* chunks(): AsyncIterable<Buffer> {
      yield Buffer.from('str');
      yield Buffer.from('eam');
    }
    const cases: [HttpBody, string[], string][] = [
      [{ kind: 'buffer', data: Buffer.from('buffered') }, ['Content-Length', '8'], 'buffered'],
      [{ kind: 'file', path: file, size: 11 }, ['Content-Length', '11'], 'from a file'],
      [{ kind: 'stream', chunks: chunks(), length: 6 }, ['Content-Length', '6'], 'stream'],
      [{ kind: 'stream', chunks: chunks(), length: -1 }, ['Transfer-Encoding', 'chunked'], 'stream'],
    ];
    for (const [body, headers, expected] of cases) {
      const request: HttpRequest = { method: 'POST', target: '/p', headers: ['Host', 'b', ...headers], httpVersion: '1.1', keepAlive: true };
      const res = await c.request(request, body);
      const echoed = JSON.parse(await text(res.body));
      assert.equal(echoed.body, expected);
      // The peer may answer before this side saw its last write (a file's EOF read): the
      // connection returns to the pool only then.
      for (let wait = 0; c.idleConnections === 0 && wait < 100; wait++) await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(backend.connections(), 1);
  });

  test('a stale pooled connection is retried once on a new one', async () => {
    let connections = 0;
    const server = createNetServer((socket) => {
      const serial = ++connections;
      let requests = 0;
      socket.on('data', () => {
        requests++;
        // The first connection answers once, then hangs up on the next request unanswered.
        if (serial === 1 && requests === 2) socket.destroy();
        else socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${serial}`);
      });
    });
    const port = await listen(server);
    const c = client(port, { pool: { maxIdle: 2 } });
    assert.equal(await text((await c.request(get('/', true), { kind: 'none' })).body), '1');
    assert.equal(await text((await c.request(get('/', true), { kind: 'none' })).body), '2');
    assert.equal(connections, 2);
  });

  test('101 Switching Protocols hands over the socket and the bytes after the head', async () => {
    const server = createServer((_req, res) => res.end());
    server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhello;');
      socket.on('data', (data) => socket.write(data));
    });
    const port = await listen(server);
    const c = client(port);
    const res = await c.request(get('/ws', false, ['Upgrade', 'echo', 'Connection', 'Upgrade']), { kind: 'none' });
    assert.equal(res.status, 101);
    assert.ok(res.upgrade);
    const { socket, head } = res.upgrade;
    let received = head.toString();
    socket.on('error', () => {});
    socket.on('data', (data: Buffer) => (received += data.toString()));
    socket.resume();
    socket.write('ping');
    const deadline = Date.now() + 3000;
    while (!received.includes('ping') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(received, 'hello;ping');
    socket.destroy();
  });

  test('errors carry nginx\'s phase and code', async () => {
    // Refused.
    const closed = createNetServer();
    const refusedPort = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    servers.splice(servers.indexOf(closed), 1);
    const refused = await rejects(client(refusedPort).request(get('/', false), { kind: 'none' }));
    assert.equal(refused.code, 'ERR_UPSTREAM_CONNECT');
    assert.equal(refused.phase, 'connecting');
    assert.match(refused.message, /^connect\(\) failed \(111: Connection refused\) while connecting to upstream/);

    // Silent peer: read timeout before the head.
    const silent = await listen(createNetServer((socket) => socket.on('data', () => {})));
    const timedOut = await rejects(client(silent, { readTimeout: 100 }).request(get('/', false), { kind: 'none' }));
    assert.equal(timedOut.code, 'ERR_UPSTREAM_READ_TIMEOUT');
    assert.equal(timedOut.phase, 'reading response header');

    // A peer that stops reading: send timeout.
    const deaf = await listen(createNetServer((socket) => socket.pause()));
    const big = Buffer.alloc(32 * 1024 * 1024);
    const request: HttpRequest = { method: 'POST', target: '/', headers: ['Host', 'b', 'Content-Length', String(big.length)], httpVersion: '1.1', keepAlive: false };
    const sendTimeout = await rejects(client(deaf, { sendTimeout: 150 }).request(request, { kind: 'buffer', data: big }));
    assert.equal(sendTimeout.code, 'ERR_UPSTREAM_SEND_TIMEOUT');
    assert.equal(sendTimeout.phase, 'sending request');

    // Closed inside the head; invalid header; body shorter than its Content-Length.
    const answers = [
      'HTTP/1.1 200 OK\r\nX-Cut: y',
      'HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort',
      'HTTP/1.1 200 OK\r\nX: ' + 'a'.repeat(5000) + '\r\n\r\n',
    ];
    let index = 0;
    const broken = await listen(createNetServer((socket) => socket.once('data', () => socket.end(answers[index++]))));
    const cut = await rejects(client(broken).request(get('/', false), { kind: 'none' }));
    assert.equal(cut.code, 'ERR_UPSTREAM_PREMATURE_CLOSE');
    assert.equal(cut.phase, 'reading response header');
    const invalid = await rejects(client(broken).request(get('/', false), { kind: 'none' }));
    assert.equal(invalid.code, 'ERR_UPSTREAM_INVALID_RESPONSE');
    assert.match(invalid.message, /^upstream sent invalid header/);
    const res = await client(broken).request(get('/', false), { kind: 'none' });
    const short = await rejects(text(res.body));
    assert.equal(short.code, 'ERR_UPSTREAM_PREMATURE_CLOSE');
    assert.equal(short.phase, 'reading response body');
    const tooBig = await rejects(client(broken).request(get('/', false), { kind: 'none' }));
    assert.match(tooBig.message, /^upstream sent too big header while reading response header from upstream/);
  });

  test('abort before the head rejects with ERR_UPSTREAM_ABORTED', async () => {
    const silent = await listen(createNetServer((socket) => socket.on('data', () => {})));
    const controller = new AbortController();
    const pending = client(silent).request(get('/', false), { kind: 'none' }, controller.signal);
    setTimeout(() => controller.abort(), 50);
    const aborted = await rejects(pending);
    assert.equal(aborted.code, 'ERR_UPSTREAM_ABORTED');
  });
});

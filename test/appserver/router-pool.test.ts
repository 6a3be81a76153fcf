/**
 * The router's kept worker connections (src/appserver/router/worker-pool.ts) against a scripted
 * uwsgi worker that speaks the keep protocol (docs/protocols.md, "Kept router connections"):
 * reuse, the pool's limit and queue, a worker that does not agree, a stopping worker's goodbye,
 * and a worker that dies in a request.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import { RouterServer } from '../../src/appserver/router/server.js';
import { KEEP_CONNECTION } from '../../src/appserver/router/worker-pool.js';
import { UwsgiRequestDecoder, type UwsgiRequest } from '../../src/protocols/uwsgi.js';
import { Logger } from '../../src/appserver/log.js';
import { exchange, openSocket, readUntil, splitResponses } from '../helpers/net.js';

/** What the worker does with a request on a connection: answer (write) or not (destroy...). */
type Script = (socket: Socket, request: UwsgiRequest, path: string, nth: number) => void;

const KEPT = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTsgi-Keep: 1\r\n\r\nok';
/** python/tsgi/server.py's GOODBYE. */
const GOODBYE = 'HTTP/1.1 503 Service Unavailable\r\nTsgi-Retry: 1\r\nContent-Length: 0\r\n\r\n';
const temp = mkdtempSync(join(tmpdir(), 'tsgi-router-pool-'));
const workerPath = join(temp, 'worker.sock');
let script: Script = (socket) => socket.write(KEPT);
let connections = 0;
let open = 0;
let mostOpen = 0;
const modifiers: number[] = [];
/** The request bodies the worker read, in order. */
const bodies: string[] = [];
/** The worker connections that carried a request since the last reset(). */
const used = new Set<Socket>();

const worker: Server = createServer((socket) => {
  connections++;
  open++;
  mostOpen = Math.max(mostOpen, open);
  let nth = 0;
  socket.on('close', () => open--);
  const next = (): UwsgiRequestDecoder => {
    let request: UwsgiRequest | null = null;
    const body: Buffer[] = [];
    return new UwsgiRequestDecoder(
      {
        onRequest: (decoded) => (request = decoded),
        onBody: (chunk) => body.push(Buffer.from(chunk)),
        onComplete: () => {
          bodies.push(Buffer.concat(body).toString('latin1'));
          decoder = next();
          modifiers.push(request!.modifier2);
          used.add(socket);
          const path = request!.vars[request!.vars.indexOf('PATH_INFO') + 1]!;
          script(socket, request!, path, nth++);
        },
      },
      { bufferSize: 65535 },
    );
  };
  let decoder = next();
  socket.on('data', (chunk: Buffer) => decoder.execute(chunk));
  socket.on('error', () => {});
});

const lines: string[] = [];
const log = new Logger({ write: (text: string) => lines.push(text) });
let router: RouterServer;
let front: Server;
let port = 0;

before(async () => {
  await new Promise<void>((resolve) => worker.listen(workerPath, resolve));
  router = new RouterServer({ upstream: { path: workerPath }, log, serverName: 'testhost', bufferSize: 4096, timeoutSeconds: 2, keepAliveSeconds: 75, chunkedBodyLimit: 1024, keptConnections: 2 });
  front = createServer();
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const address = front.address();
  port = typeof address === 'object' && address !== null ? address.port : 0;
  router.attach(front, String(port));
});

after(async () => {
  await router.close(0);
  front.close();
  worker.close();
  rmSync(temp, { recursive: true, force: true });
});

function reset(next: Script): void {
  script = next;
  modifiers.length = 0;
  lines.length = 0;
  connections = 0;
  used.clear();
  mostOpen = open;
}

const GET = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

describe('router: kept worker connections', () => {
  it('sends request after request on one worker connection, asking with modifier2 K; Tsgi-Keep is not relayed', async () => {
    reset((socket) => socket.write(KEPT));
    const client = await openSocket(port);
    for (let i = 0; i < 10; i++) {
      client.write(GET('/a'));
      const text = await readUntil(client, (t) => t.endsWith('ok'));
      assert.doesNotMatch(text, /tsgi-keep/i);
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    }
    client.destroy();
    assert.equal(connections, 1);
    assert.deepEqual(new Set(modifiers), new Set([KEEP_CONNECTION]));
  });

  it('closes a worker connection whose response did not say Tsgi-Keep, and opens another for the next request', async () => {
    reset((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const client = await openSocket(port);
    for (let i = 0; i < 3; i++) {
      client.write(GET('/b'));
      await readUntil(client, (t) => t.endsWith('ok'));
    }
    client.destroy();
    assert.equal(used.size, 3);
  });

  it('holds at most keptConnections worker connections: other requests wait for one, none fails', async () => {
    reset((socket) => setTimeout(() => socket.write(KEPT), 50));
    const replies = await Promise.all(Array.from({ length: 6 }, () => exchange(port, `GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)));
    assert.ok(replies.every((text) => splitResponses(text)[0]?.status === 200));
    assert.ok(mostOpen <= 2, `${mostOpen} worker connections open at once`);
  });

  it('follows a new limit (the master sends one on TTIN/TTOU): a higher one opens connections for waiting requests at once', async () => {
    const pool = router.context.pool!;
    pool.setLimit(1);
    reset((socket) => setTimeout(() => socket.write(KEPT), 300));
    // Let the idle connections of the earlier tests close down to the new limit.
    const warm = await Promise.all(Array.from({ length: 2 }, () => exchange(port, `GET /w HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)));
    assert.ok(warm.every((text) => splitResponses(text)[0]?.status === 200));
    reset((socket) => setTimeout(() => socket.write(KEPT), 300));
    const started = Date.now();
    const pending = Promise.all(Array.from({ length: 3 }, () => exchange(port, `GET /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    pool.setLimit(3);
    const replies = await pending;
    assert.ok(replies.every((text) => splitResponses(text)[0]?.status === 200));
    // One at a time through one connection would take 900 ms.
    assert.ok(Date.now() - started < 800, `took ${Date.now() - started} ms`);
    pool.setLimit(2);
  });

  it("sends a body-less request again on a fresh connection after a stopping worker's goodbye (Tsgi-Retry)", async () => {
    reset((socket) => socket.write(KEPT));
    const client = await openSocket(port);
    client.write(GET('/warm'));
    await readUntil(client, (t) => t.endsWith('ok'));
    // The worker now answers every request on a kept connection with its goodbye, and serves new ones.
    reset((socket, _request, _path, nth) => (nth > 0 ? socket.end(GOODBYE) : socket.write(KEPT)));
    for (const request of [GET('/again'), 'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n']) {
      client.write(request);
      const text = await readUntil(client, (t) => t.endsWith('ok'));
      assert.match(text, /^HTTP\/1\.1 200 OK/);
      assert.doesNotMatch(text, /503|tsgi-retry/i);
    }
    // With its body, too, when the body was small enough to keep.
    reset((socket, request, _path, nth) => (nth > 0 ? socket.end(GOODBYE) : socket.write(KEPT)));
    client.write('POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc');
    assert.match(await readUntil(client, (t) => t.endsWith('ok')), /^HTTP\/1\.1 200 OK/);
    assert.deepEqual(bodies.slice(-1), ['abc']);
    // A body past what the router keeps (64 KiB) cannot be sent again: a 502.
    const big = 'x'.repeat(70 * 1024);
    client.write(`POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: ${big.length}\r\n\r\n${big}`);
    assert.match(await readUntil(client, (t) => /<\/html>/.test(t)), /^HTTP\/1\.1 502 /);
    client.destroy();
    assert.ok(lines.some((line) => line.includes('worker stopped before reading the request')), lines.join(''));
  });

  it('a worker that dies in a request on a kept connection gets it a 502, and the request is not run twice', async () => {
    reset((socket) => socket.write(KEPT));
    const client = await openSocket(port);
    client.write(GET('/warm'));
    await readUntil(client, (t) => t.endsWith('ok'));
    reset((socket) => socket.destroy());
    client.write(GET('/crash'));
    assert.match(await readUntil(client, (t) => /<\/html>/.test(t)), /^HTTP\/1\.1 502 /);
    client.destroy();
    assert.equal(modifiers.length, 1, 'the request reached a worker once');
  });

  it('without keptConnections (JS workers) the packet has modifier2 0 and each request its own connection', async () => {
    const plain = new RouterServer({ upstream: { path: workerPath }, log, bufferSize: 4096, timeoutSeconds: 2, keepAliveSeconds: 75, chunkedBodyLimit: 1024 });
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    plain.attach(server, '0');
    reset((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const client = await openSocket(typeof address === 'object' && address !== null ? address.port : 0);
    for (let i = 0; i < 2; i++) {
      client.write(GET('/d'));
      await readUntil(client, (t) => t.endsWith('ok'));
    }
    client.destroy();
    await plain.close(0);
    server.close();
    assert.deepEqual(modifiers, [0, 0]);
    assert.equal(connections, 2);
  });
});

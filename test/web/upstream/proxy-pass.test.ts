/**
 * proxy_pass end to end through tsgi web, to Node http backends: keep-alive reuse, streaming with
 * proxy_buffering off, WebSocket-style Upgrade both ways, a 10 MB upload, 502 and 504.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, Agent, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { exchange, openSocket, readUntil } from '../../helpers/net.js';
import { startWeb, type RunningWeb } from '../server/tsgi-web.js';
import { rawPeer } from './pass-helpers.js';

interface Backend {
  port: number;
  server: Server;
  connections: () => number;
  release: () => void;
}

/** The Node http backend: /echo (method, url, headers), /stream (a chunk now, one when
 *  released), /upload (length and sha256 of the body), and an `upgrade` echo. */
async function nodeBackend(): Promise<Backend> {
  let connections = 0;
  let release: () => void = () => {};
  let gate = new Promise<void>((resolve) => (release = resolve));
  const server = createServer((req, res) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('first;');
      void gate.then(() => {
        res.end('second');
        gate = new Promise<void>((resolve) => (release = resolve));
      });
      return;
    }
    const hash = createHash('sha256');
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      length += chunk.length;
    });
    req.on('end', () => {
      const text = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, length, sha256: hash.digest('hex') });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'X-Backend': 'node', 'X-Pad': 'pad' });
      res.end(text);
    });
  });
  server.on('connection', () => connections++);
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade ?? ''}\r\nConnection: Upgrade\r\nX-Up: yes\r\n\r\nwelcome;`);
    if (head.length > 0) socket.write(head);
    socket.on('data', (data: Buffer) => socket.write(data.toString().toUpperCase()));
    socket.on('error', () => {});
    // The upgrade socket is half-open after the proxy's FIN (http servers allow half-open).
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, server, connections: () => connections, release: () => release() };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function send(port: number, path: string, options: { method?: string; body?: Buffer; agent?: Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: options.agent ?? false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('proxy_pass through tsgi web', () => {
  let backend: Backend;
  let web: RunningWeb;
  let silentPeer: Awaited<ReturnType<typeof rawPeer>>;

  before(async () => {
    backend = await nodeBackend();
    silentPeer = await rawPeer((socket) => socket.on('data', () => {}));
    web = await startWeb(`
      upstream kept { server 127.0.0.1:${backend.port}; keepalive 8; }
      server {
        listen 127.0.0.1:PORT;
        client_max_body_size 32m;
        location / { proxy_pass http://127.0.0.1:${backend.port}; }
        location /kept/ { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://kept/; }
        location /unbuffered/ { proxy_buffering off; proxy_pass http://127.0.0.1:${backend.port}/; }
        location /ws/ {
          proxy_http_version 1.1;
          proxy_set_header Upgrade $http_upgrade;
          proxy_set_header Connection "upgrade";
          proxy_pass http://127.0.0.1:${backend.port};
        }
        location /pass-header/ { proxy_pass_header X-Pad; proxy_hide_header X-Backend; proxy_pass http://127.0.0.1:${backend.port}; }
        location /down/ { proxy_pass http://127.0.0.1:1; }
        location /slow/ { proxy_read_timeout 200ms; proxy_pass http://127.0.0.1:${silentPeer.port}; }
      }`);
  });

  after(async () => {
    await web?.stop();
    await silentPeer?.close();
    backend?.server.closeAllConnections();
    await new Promise((resolve) => backend?.server.close(resolve));
  });

  test('a GET is passed and its answer comes back with nginx\'s header rules', async () => {
    const reply = await send(web.port, '/a/b?c=d');
    assert.equal(reply.status, 200);
    const echoed = JSON.parse(reply.body.toString());
    assert.equal(echoed.url, '/a/b?c=d');
    assert.equal(echoed.headers.connection, 'close');
    assert.equal(reply.headers['x-backend'], 'node');
    // X-Pad is on proxy_pass's hidden list, unless proxy_pass_header names it.
    assert.equal(reply.headers['x-pad'], undefined);
    const passed = await send(web.port, '/pass-header/');
    assert.equal(passed.headers['x-pad'], 'pad');
    assert.equal(passed.headers['x-backend'], undefined);
  });

  test('keepalive: 30 requests reuse the pooled upstream connections', async () => {
    const before = backend.connections();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 30; i++) {
      const reply = await send(web.port, `/kept/${i}`, { agent });
      assert.equal(JSON.parse(reply.body.toString()).url, `/${i}`);
    }
    agent.destroy();
    assert.equal(backend.connections() - before, 1);
  });

  test('proxy_buffering off: the response arrives while the backend is still writing', async () => {
    const socket = await openSocket(web.port);
    socket.write('GET /unbuffered/stream HTTP/1.1\r\nHost: x\r\n\r\n');
    const first = await readUntil(socket, (text) => text.includes('first;'));
    assert.match(first, /^HTTP\/1\.1 200 /);
    assert.ok(!first.includes('second'));
    backend.release();
    const rest = await readUntil(socket, (text) => text.includes('second') && text.endsWith('0\r\n\r\n'));
    assert.ok(rest.includes('second'));
    socket.destroy();
  });

  test('an Upgrade (WebSocket-style) passes through both ways', async () => {
    const socket = await openSocket(web.port);
    socket.write('GET /ws/chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    const head = await readUntil(socket, (text) => text.includes('welcome;'));
    assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(head, /\r\nUpgrade: websocket\r\n/i);
    assert.match(head, /\r\nX-Up: yes\r\n/);
    socket.write('ping');
    const echoed = await readUntil(socket, (text) => text.includes('PING'));
    assert.ok(echoed.endsWith('PING'));
    socket.write('again');
    await readUntil(socket, (text) => text.includes('AGAIN'));
    socket.destroy();
  });

  test('a 10 MB POST arrives whole', async () => {
    const body = Buffer.alloc(10 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body[i] = i & 0xff;
    const reply = await send(web.port, '/upload', { method: 'POST', body });
    assert.equal(reply.status, 200);
    const echoed = JSON.parse(reply.body.toString());
    assert.equal(echoed.length, body.length);
    assert.equal(echoed.sha256, createHash('sha256').update(body).digest('hex'));
    assert.equal(echoed.headers['content-length'], String(body.length));
  });

  test('a refused connection is 502, a silent backend 504, each logged as nginx does', async () => {
    const down = await exchange(web.port, 'GET /down/ HTTP/1.0\r\n\r\n');
    assert.match(down, /^HTTP\/1\.1 502 /);
    const slow = await exchange(web.port, 'GET /slow/ HTTP/1.0\r\n\r\n');
    assert.match(slow, /^HTTP\/1\.1 504 /);
    const log = web.errorLog();
    assert.match(log, /connect\(\) failed \(111: Connection refused\) while connecting to upstream.*upstream: "http:\/\/127\.0\.0\.1:1\/down\/"/);
    assert.match(log, /upstream timed out \(110: Connection timed out\) while reading response header from upstream/);
  });
});

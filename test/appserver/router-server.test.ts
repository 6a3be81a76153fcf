/**
 * The HTTP router's request path in one process: a RouterServer in front of a scripted uwsgi
 * "worker" on a UNIX socket, so that what the router sends (the uwsgi vars, the body) and what it
 * makes of every kind of worker response (framing, errors, timeouts) is asserted byte by byte.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { RouterServer } from '../../src/appserver/router/server.js';
import { percentDecodeBytes, requestVars } from '../../src/appserver/router/vars.js';
import { UwsgiRequestDecoder } from '../../src/protocols/uwsgi.js';
import { Logger } from '../../src/appserver/log.js';
import { exchange, openSocket, readAll, readUntil, splitResponses } from '../helpers/net.js';

interface WorkerRequest {
  vars: Record<string, string>;
  order: string[];
  body: Buffer;
}

/** What the scripted worker does with a request: write raw bytes and close, or anything else. */
type Script = (socket: Socket, request: WorkerRequest) => void;

const temp = mkdtempSync(join(tmpdir(), 'tsgi-router-unit-'));
const workerPath = join(temp, 'worker.sock');
let script: Script = (socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
const seen: WorkerRequest[] = [];
let workerConnections = 0;

const worker: Server = createServer((socket) => {
  workerConnections++;
  let request: WorkerRequest | null = null;
  const body: Buffer[] = [];
  const decoder = new UwsgiRequestDecoder(
    {
      onRequest: (decoded) => {
        const vars: Record<string, string> = {};
        const order: string[] = [];
        for (let i = 0; i < decoded.vars.length; i += 2) {
          vars[decoded.vars[i]!] = decoded.vars[i + 1]!;
          order.push(decoded.vars[i]!);
        }
        request = { vars, order, body: Buffer.alloc(0) };
      },
      onBody: (chunk) => body.push(Buffer.from(chunk)),
      onComplete: () => {
        request!.body = Buffer.concat(body);
        seen.push(request!);
        script(socket, request!);
      },
    },
    { bufferSize: 65535 },
  );
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
  router = new RouterServer({
    upstream: { path: workerPath },
    log,
    serverName: 'testhost',
    bufferSize: 4096,
    timeoutSeconds: 2,
    keepAliveSeconds: 75,
    chunkedBodyLimit: 1024 * 1024,
  });
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

/** Another router on its own port, for a test that needs other settings. */
async function routerOn(upstream: { path: string }, settings: { keepAliveSeconds?: number } = {}): Promise<{ port: number; close(): Promise<void> }> {
  const other = new RouterServer({ upstream, log, bufferSize: 4096, timeoutSeconds: 5, keepAliveSeconds: settings.keepAliveSeconds ?? 75, chunkedBodyLimit: 1024 });
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  other.attach(server, '0');
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    close: async () => {
      await other.close(0);
      server.close();
    },
  };
}

function reset(next: Script): void {
  script = next;
  seen.length = 0;
  lines.length = 0;
  workerConnections = 0;
}

describe('vars', () => {
  it('PATH_INFO is percent-decoded byte by byte; a broken escape stays', () => {
    assert.equal(percentDecodeBytes('/a%20b/%E2%82%AC'), '/a b/\u00e2\u0082\u00ac');
    assert.equal(percentDecodeBytes('/100%/x%2'), '/100%/x%2');
    assert.equal(percentDecodeBytes('/plain'), '/plain');
  });

  it('follows uWSGI\'s order and joins a repeated header', () => {
    const vars = requestVars(
      {
        method: 'GET',
        target: '/p?q=1',
        versionMinor: 1,
        headers: ['Host', 'h', 'X-A', '1', 'x-a', '2', 'Content-Type', 'text/plain'],
        contentLength: -1,
        chunked: false,
        keepAlive: true,
        expectContinue: false,
        upgrade: false,
        host: 'h',
      },
      { remoteAddr: '10.0.0.1', remotePort: '5555', serverName: 'n', serverPort: '80' },
      -1,
    );
    assert.deepEqual(vars, [
      'REQUEST_METHOD', 'GET', 'REQUEST_URI', '/p?q=1', 'PATH_INFO', '/p', 'QUERY_STRING', 'q=1',
      'SERVER_PROTOCOL', 'HTTP/1.1', 'SCRIPT_NAME', '', 'SERVER_NAME', 'n', 'SERVER_PORT', '80',
      'UWSGI_ROUTER', 'http', 'REMOTE_ADDR', '10.0.0.1', 'REMOTE_PORT', '5555',
      'HTTP_HOST', 'h', 'HTTP_X_A', '1, 2', 'CONTENT_TYPE', 'text/plain',
    ]);
  });
});

describe('RouterServer against a scripted uwsgi worker', () => {
  it('sends the request as uwsgi vars and relays a Content-Length response with keep-alive', async () => {
    reset((socket, request) => {
      const body = `${request.vars.PATH_INFO}|${request.vars.QUERY_STRING}`;
      socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    });
    const socket = await openSocket(port);
    socket.write('GET /a%20b?x=%20 HTTP/1.1\r\nHost: example.org\r\nX-Forwarded-For: 9.9.9.9\r\n\r\n');
    const first = await readUntil(socket, (text) => text.endsWith('/a b|x=%20'));
    assert.match(first, /^HTTP\/1\.1 200 OK\r\nContent-Type: text\/plain\r\nContent-Length: 10\r\nDate: .+ GMT\r\n\r\n\/a b\|x=%20$/);
    socket.write('GET /second HTTP/1.1\r\nHost: example.org\r\n\r\n');
    await readUntil(socket, (text) => text.endsWith('/second|'));
    socket.destroy();
    assert.equal(seen.length, 2);
    assert.equal(workerConnections, 2, 'a worker connection per request');
    const vars = seen[0]!.vars;
    assert.equal(vars.REQUEST_METHOD, 'GET');
    assert.equal(vars.REQUEST_URI, '/a%20b?x=%20');
    assert.equal(vars.SERVER_NAME, 'testhost');
    assert.equal(vars.SERVER_PORT, String(port));
    assert.equal(vars.REMOTE_ADDR, '127.0.0.1');
    assert.equal(vars.REMOTE_PORT, seen[1]!.vars.REMOTE_PORT, 'both requests came on one client connection');
    assert.equal(vars.HTTP_HOST, 'example.org');
    assert.equal(vars.HTTP_X_FORWARDED_FOR, '9.9.9.9', 'X-Forwarded-For passes untouched, as in uWSGI');
    assert.equal(vars.UWSGI_ROUTER, 'http');
    assert.equal(vars.CONTENT_LENGTH, undefined);
  });

  it('streams a body with Content-Length and sends 100 Continue when asked', async () => {
    reset((socket, request) => socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${String(request.body.length).length}\r\n\r\n${request.body.length}`));
    const body = Buffer.alloc(300_000, 'x');
    const socket = await openSocket(port);
    socket.write(`POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
    const interim = await readUntil(socket, (text) => text.includes('100 Continue\r\n\r\n'));
    assert.equal(interim, 'HTTP/1.1 100 Continue\r\n\r\n');
    socket.write(body);
    const text = await readUntil(socket, (t) => t.endsWith('300000'));
    socket.destroy();
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(seen[0]!.vars.CONTENT_LENGTH, '300000');
  });

  it('de-chunks a chunked request body into CONTENT_LENGTH and drops Transfer-Encoding', async () => {
    reset((socket, request) => socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${request.body.length}\r\n\r\n${request.body}`));
    const text = await exchange(port, 'POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    assert.match(text, /\r\n\r\nhello world$/);
    assert.equal(seen[0]!.vars.CONTENT_LENGTH, '11');
    assert.equal(seen[0]!.vars.HTTP_TRANSFER_ENCODING, undefined);
  });

  it('answers 413 for a chunked body over the limit', async () => {
    reset((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const socket = await openSocket(port);
    const all = readAll(socket);
    socket.write('POST /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n');
    const piece = Buffer.alloc(256 * 1024, 'y');
    for (let i = 0; i < 5; i++) socket.write(Buffer.concat([Buffer.from('40000\r\n'), piece, Buffer.from('\r\n')]));
    const text = (await all).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 413 Content Too Large\r\n/);
    assert.equal(seen.length, 0, 'nothing reached the worker');
    assert.match(lines.join(''), /too large chunked body.*request: "POST \/big HTTP\/1\.1"/);
  });

  it('re-frames a response without a length as chunked for an HTTP/1.1 client, and closes for HTTP/1.0', async () => {
    reset((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst,');
      setTimeout(() => socket.end('second'), 20);
    });
    const socket = await openSocket(port);
    socket.write('GET /s HTTP/1.1\r\nHost: h\r\n\r\n');
    const text = await readUntil(socket, (t) => t.endsWith('0\r\n\r\n'));
    assert.match(text, /Transfer-Encoding: chunked\r\n/);
    assert.deepEqual(splitResponses(text).map((r) => r.body), ['first,second']);
    socket.write('GET /again HTTP/1.1\r\nHost: h\r\n\r\n');
    await readUntil(socket, (t) => t.endsWith('0\r\n\r\n'));
    socket.destroy();

    const old = await exchange(port, 'GET /s HTTP/1.0\r\n\r\n');
    assert.match(old, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(old, /Connection: close\r\n/);
    assert.doesNotMatch(old, /Transfer-Encoding/);
    assert.ok(old.endsWith('\r\n\r\nfirst,second'));
  });

  it('relays a chunked response as it is and keeps the connection', async () => {
    reset((socket) => socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'));
    const socket = await openSocket(port);
    socket.write('GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n');
    const text = await readUntil(socket, (t) => splitResponses(t).length === 2 && t.endsWith('0\r\n\r\n'));
    socket.destroy();
    assert.deepEqual(splitResponses(text).map((r) => r.body), ['abc', 'abc']);
    assert.deepEqual(seen.map((r) => r.vars.PATH_INFO), ['/1', '/2'], 'pipelined requests are answered in order');
  });

  it('answers a client that half-closes after its request', async () => {
    reset((socket) => setTimeout(() => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), 20));
    const socket = await openSocket(port);
    const all = readAll(socket);
    socket.end('GET /half HTTP/1.1\r\nHost: h\r\n\r\n');
    const text = (await all).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(text.endsWith('ok'));
  });

  it('answers HEAD without a body, whatever Content-Length says', async () => {
    reset((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'));
    const socket = await openSocket(port);
    socket.write('HEAD /h HTTP/1.1\r\nHost: h\r\n\r\nHEAD /h HTTP/1.1\r\nHost: h\r\n\r\n');
    const text = await readUntil(socket, (t) => t.split('Content-Length: 1000').length === 3 && t.endsWith('\r\n\r\n'));
    socket.destroy();
    assert.equal(text.split('HTTP/1.1 200 OK').length, 3);
  });

  it('turns a CGI-style head (Status:) into a status line and drops the worker\'s Connection header', async () => {
    reset((socket) => socket.end('Status: 404 Not Found\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nn'));
    const text = await exchange(port, 'GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.doesNotMatch(text, /keep-alive/);
    assert.match(text, /Connection: close\r\n/);
  });

  it('relays an interim 103 before the final response', async () => {
    reset((socket) => socket.end('HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const text = await exchange(port, 'GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 103 Early Hints\r\nLink: <\/a\.css>\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    assert.ok(text.endsWith('ok'));
  });

  it('answers 502 when the worker closes before its head (a harakiri), naming the request', async () => {
    reset((socket) => socket.destroy());
    const socket = await openSocket(port);
    socket.write('GET /stuck?a=1 HTTP/1.1\r\nHost: h\r\n\r\n');
    const text = await readUntil(socket, (t) => t.includes('</html>'));
    assert.match(text, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.match(text, /Connection: keep-alive/);
    reset((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    socket.write('GET /next HTTP/1.1\r\nHost: h\r\n\r\n');
    await readUntil(socket, (t) => t.endsWith('ok'));
    socket.destroy();
  });

  it('logs the 502 in nginx\'s words', async () => {
    reset((socket) => socket.destroy());
    await exchange(port, 'GET /stuck?a=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    assert.match(
      lines.join(''),
      /tsgi http router: upstream prematurely closed connection while reading response header from upstream, client: 127\.0\.0\.1, request: "GET \/stuck\?a=1 HTTP\/1\.1", upstream: "uwsgi:\/\/unix:.*worker\.sock", host: "h" -> 502 Bad Gateway/,
    );
  });

  it('cuts the client connection when the worker dies in the middle of a body', async () => {
    reset((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
      setTimeout(() => socket.destroy(), 20);
    });
    const text = await exchange(port, 'GET /x HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.match(text, /\r\n\r\npartial$/, 'the client sees a short body and a closed connection, never a 502 after a 200');
    assert.match(lines.join(''), /while reading upstream.*-> connection closed/);
  });

  it('answers 504 when the worker stays silent past --http-timeout', async () => {
    reset(() => {
      // Never answers.
    });
    const started = Date.now();
    const text = await exchange(port, 'GET /slow HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', 10_000);
    assert.match(text, /^HTTP\/1\.1 504 Gateway Timeout\r\n/);
    assert.ok(Date.now() - started >= 1500, 'after about the 2 s timeout');
    assert.match(lines.join(''), /upstream timed out \(110: Connection timed out\) while reading response header from upstream/);
  });

  it('answers 400 to a malformed request without bothering a worker', async () => {
    reset((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const text = await exchange(port, 'GET / HTTP/1.1\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.equal(seen.length, 0);
  });

  it('answers 502 when nothing listens on the workers\' socket', async () => {
    const lonely = await routerOn({ path: join(temp, 'nobody.sock') });
    lines.length = 0;
    const text = await exchange(lonely.port, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    await lonely.close();
    assert.match(text, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.match(lines.join(''), /connect\(\) failed \(2: No such file or directory\) while connecting to upstream/);
  });

  it('waits and connects again while the workers\' listen queue is full (EAGAIN on a UNIX socket)', async () => {
    // A listener with a queue of 1 that accepts nothing for a second, then answers everyone.
    const path = join(temp, 'full.sock');
    const python = spawn('python3', [
      '-c',
      [
        'import socket, sys, time',
        's = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)',
        'print("listening", flush=True)',
        'time.sleep(1)',
        'while True:',
        '    c, _ = s.accept(); c.recv(65536)',
        '    c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok"); c.close()',
      ].join('\n'),
      path,
    ]);
    await new Promise<void>((resolve) => python.stdout.once('data', () => resolve()));
    const patient = await routerOn({ path });
    try {
      const replies = await Promise.all([1, 2, 3, 4, 5].map(() => exchange(patient.port, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')));
      for (const reply of replies) assert.match(reply, /^HTTP\/1\.1 200 OK\r\n[^]*ok$/);
    } finally {
      python.kill('SIGKILL');
      await patient.close();
    }
  });

  it('closes every connection after its response with --http-keepalive 0 (uWSGI\'s default)', async () => {
    reset((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const closing = await routerOn({ path: workerPath }, { keepAliveSeconds: 0 });
    try {
      const text = await exchange(closing.port, 'GET / HTTP/1.1\r\nHost: h\r\n\r\n');
      assert.match(text, /Connection: close\r\n/);
      assert.ok(text.endsWith('ok'));
      // Without keep-alive, a client still has --http-timeout to send its only request.
      const slow = await openSocket(closing.port);
      const all = readAll(slow, 5000);
      await sleep(1300);
      slow.write('GET / HTTP/1.1\r\nHost: h\r\n\r\n');
      assert.ok((await all).toString('latin1').endsWith('ok'));
    } finally {
      await closing.close();
    }
  });

  it('answers 502 for vars bigger than the workers\' --buffer-size', async () => {
    reset((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const text = await exchange(port, `GET / HTTP/1.1\r\nHost: h\r\nCookie: ${'c'.repeat(5000)}\r\nConnection: close\r\n\r\n`);
    assert.match(text, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.equal(seen.length, 0);
    assert.match(lines.join(''), /uwsgi request is too big: \d+ bytes of vars, the workers' --buffer-size is 4096/);
  });

  it('delivers a large body to a client that reads late (backpressure both ways)', async () => {
    const size = 8 * 1024 * 1024;
    reset((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
      const piece = Buffer.alloc(64 * 1024, 'z');
      let sent = 0;
      const pump = (): void => {
        while (sent < size) {
          sent += piece.length;
          if (!socket.write(piece)) {
            socket.once('drain', pump);
            return;
          }
        }
        socket.end();
      };
      pump();
    });
    const socket = await openSocket(port);
    socket.pause();
    socket.write('GET /big HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    await sleep(300);
    const all = readAll(socket, 10_000);
    socket.resume();
    const text = await all;
    assert.equal(text.length - text.indexOf('\r\n\r\n') - 4, size);
  });
});

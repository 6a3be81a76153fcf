/** `serve(app, { http })`: HTTP/1.1 behaviour over real sockets, asserted byte by byte. */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { serve, type ServerHandle } from '../../src/appserver/serve.js';
import { Logger } from '../../src/appserver/log.js';
import type { App, Environ } from '../../src/gateway/types.js';
import { validator, type ValidationError } from '../../src/gateway/validator.js';
import { exchange, openSocket, readAll, readUntil, splitResponses } from '../helpers/net.js';

function portOf(server: ServerHandle): number {
  if (!('port' in server.address)) throw new Error('not a TCP server');
  return server.address.port;
}

/** A logger whose lines the test can read. */
function memoryLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger({ write: (text: string) => lines.push(text) }), lines };
}

async function readBody(environ: Environ): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of environ['tsgi.input']) parts.push(part);
  return Buffer.concat(parts);
}

describe('serve() over HTTP/1.1', () => {
  const { log, lines } = memoryLogger();
  const closed: string[] = [];
  let lastEnviron: Environ | null = null;
  let produced = 0;

  const app: App = async (environ, startResponse) => {
    lastEnviron = environ;
    const path = environ.PATH_INFO;
    switch (path) {
      case '/hello':
        startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', '6']]);
        return ['hello\n'];
      case '/echo': {
        const body = await readBody(environ);
        startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', String(body.length)], ['X-Length', String(body.length)]]);
        return [body];
      }
      case '/slow': {
        const ms = Number(new URLSearchParams(environ.QUERY_STRING).get('ms'));
        await sleep(ms);
        startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', String(String(ms).length)]]);
        return [String(ms)];
      }
      case '/chunked':
        startResponse('200 OK', [['Content-Type', 'text/plain']]);
        return (async function* () {
          yield 'one,';
          await sleep(5);
          yield '';
          yield 'two,';
          yield Buffer.from('three');
        })();
      case '/lazy-start': {
        // startResponse called during the first iteration (PEP 3333 allows it).
        return (function* () {
          startResponse('201 Created', [['Content-Type', 'text/plain'], ['Content-Length', '4']]);
          yield 'made';
        })();
      }
      case '/throw':
        throw new Error('boom from /throw');
      case '/throw-late': {
        startResponse('200 OK', [['Content-Type', 'text/plain']]);
        return (function* () {
          yield 'partial';
          throw new Error('boom while streaming');
        })();
      }
      case '/never-starts':
        return ['body without startResponse'];
      case '/with-close': {
        startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', '2']]);
        return Object.assign(['ok'], { close: () => void closed.push(environ.QUERY_STRING) });
      }
      case '/big': {
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        const total = Number(new URLSearchParams(environ.QUERY_STRING).get('mb')) * 16;
        startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', String(total * chunk.length)]]);
        produced = 0;
        const body = (function* () {
          for (let i = 0; i < total; i++) {
            produced += chunk.length;
            yield chunk;
          }
        })();
        return Object.assign(body, { close: () => void closed.push(`big:${environ.QUERY_STRING}`) });
      }
      case '/ignore-body':
        startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', '7']]);
        return ['ignored'];
      case '/bad-header':
        startResponse('200 OK', [['Content-Type', 'text/plain'], ['X-Evil', 'a\r\nInjected: yes']]);
        return ['x'];
      default:
        startResponse('404 Not Found', [['Content-Type', 'text/plain'], ['Content-Length', '0']]);
        return [];
    }
  };

  // The validator watches both sides; the server's side must never be at fault.
  const violations: ValidationError[] = [];
  const validated = validator(app, { onViolation: (error) => violations.push(error) });

  let server: ServerHandle;
  let port: number;
  before(async () => {
    server = await serve(validated, { http: '127.0.0.1:0', log });
    port = portOf(server);
  });
  after(() => server.close(1000));

  it('answers a lone Connection: close request and closes', async () => {
    const text = await exchange(port, 'GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(splitResponses(text).length, 1, 'nothing is answered after Connection: close');
  });

  it('answers a GET with the application status, headers and body, plus Date', async () => {
    const text = await exchange(port, 'GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const [response] = splitResponses(text);
    assert.equal(response!.status, 200);
    assert.equal(response!.body, 'hello\n');
    assert.equal(response!.headers['content-type'], 'text/plain');
    assert.equal(response!.headers['connection'], 'close');
    assert.ok(!Number.isNaN(Date.parse(response!.headers['date']!)));
  });

  it('builds the environ from the request', async () => {
    await exchange(
      port,
      'POST /a%20b/%C3%A9t%C3%A9?x=1&y=%20 HTTP/1.1\r\nHost: example.test:8080\r\nX-Odd-Header: v1\r\nx-odd-header: v2\r\n' +
        'Cookie: a=1\r\nCookie: b=2\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc',
    );
    const environ = lastEnviron!;
    assert.equal(environ.REQUEST_METHOD, 'POST');
    assert.equal(environ.PATH_INFO, '/a b/été');
    assert.equal(environ.SCRIPT_NAME, '');
    assert.equal(environ.QUERY_STRING, 'x=1&y=%20');
    assert.equal(environ.REQUEST_URI, '/a%20b/%C3%A9t%C3%A9?x=1&y=%20');
    assert.equal(environ.HTTP_HOST, 'example.test:8080');
    assert.equal(environ.HTTP_X_ODD_HEADER, 'v1, v2');
    assert.equal(environ.HTTP_COOKIE, 'a=1; b=2');
    assert.equal(environ.CONTENT_TYPE, 'text/plain');
    assert.equal(environ.CONTENT_LENGTH, '3');
    assert.equal(environ.HTTP_CONTENT_LENGTH, undefined);
    assert.equal(environ.SERVER_PROTOCOL, 'HTTP/1.1');
    assert.equal(environ.SERVER_PORT, String(port));
    assert.equal(environ.REMOTE_ADDR, '127.0.0.1');
    assert.match(environ.REMOTE_PORT, /^\d+$/);
    assert.deepEqual(environ['tsgi.version'], [1, 0]);
    assert.equal(environ['tsgi.url_scheme'], 'http');
    assert.equal(environ['tsgi.multithread'], true);
    assert.equal(environ['tsgi.multiprocess'], false);
    assert.equal(environ['tsgi.run_once'], false);
  });

  it('keeps the connection alive across requests', async () => {
    const socket = await openSocket(port);
    socket.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
    const first = await readUntil(socket, (t) => t.endsWith('hello\n'));
    assert.match(first, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(first, /Connection: close/);
    const all = readAll(socket);
    socket.write('GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const second = (await all).toString('latin1');
    assert.equal(splitResponses(second).length, 1);
  });

  it('answers pipelined requests in order even when the first is the slowest', async () => {
    const text = await exchange(
      port,
      'GET /slow?ms=60 HTTP/1.1\r\nHost: x\r\n\r\nGET /slow?ms=1 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
        'GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    const responses = splitResponses(text);
    assert.deepEqual(
      responses.map((r) => r.body),
      ['60', '1', 'hello', 'hello\n'],
    );
  });

  it('decodes a chunked request body (extensions, trailers) into tsgi.input', async () => {
    const text = await exchange(
      port,
      'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
        '5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n',
    );
    const [response] = splitResponses(text);
    assert.equal(response!.body, 'hello world');
    assert.equal(lastEnviron!.CONTENT_LENGTH, undefined);
  });

  it('sends a chunked response when the application gives no Content-Length, skipping empty chunks', async () => {
    const text = await exchange(port, 'GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(text, /Transfer-Encoding: chunked\r\n/);
    assert.ok(text.endsWith('4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n'), text);
  });

  it('closes after a body without Content-Length on HTTP/1.0', async () => {
    const text = await exchange(port, 'GET /chunked HTTP/1.0\r\n\r\n');
    assert.match(text, /Connection: close\r\n/);
    assert.doesNotMatch(text, /Transfer-Encoding/);
    assert.ok(text.endsWith('\r\n\r\none,two,three'));
  });

  it('keeps an HTTP/1.0 connection alive when asked', async () => {
    const socket = await openSocket(port);
    socket.write('GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const first = await readUntil(socket, (t) => t.endsWith('hello\n'));
    assert.match(first, /Connection: keep-alive\r\n/);
    socket.end();
  });

  it('sends 100 Continue only when the application reads the body', async () => {
    const socket = await openSocket(port);
    socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    const interim = await readUntil(socket, (t) => t.includes('\r\n\r\n'));
    assert.equal(interim, 'HTTP/1.1 100 Continue\r\n\r\n');
    const rest = readAll(socket);
    socket.write('data');
    const final = (await rest).toString('latin1');
    assert.match(final, /^HTTP\/1\.1 200 OK/);
    assert.ok(final.endsWith('data'));
  });

  it('answers without 100 Continue and closes when the application ignores the body', async () => {
    const text = await exchange(port, 'POST /ignore-body HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n');
    assert.doesNotMatch(text, /100 Continue/);
    assert.match(text, /^HTTP\/1\.1 200 OK/);
    assert.match(text, /Connection: close|ignored$/);
  });

  it('drops an ignored body and keeps serving the connection', async () => {
    const text = await exchange(
      port,
      'POST /ignore-body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.deepEqual(
      splitResponses(text).map((r) => r.body),
      ['ignored', 'hello\n'],
    );
  });

  it('answers HEAD with the headers of GET and no body, still iterating and closing the body', async () => {
    const text = await exchange(port, 'HEAD /with-close?head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /Content-Length: 2\r\n/);
    assert.ok(text.endsWith('\r\n\r\n'), 'no body after the head');
    assert.ok(closed.includes('head'));
  });

  it('supports startResponse called during the first iteration', async () => {
    const [response] = splitResponses(await exchange(port, 'GET /lazy-start HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    assert.equal(response!.status, 201);
    assert.equal(response!.body, 'made');
  });

  it('turns an exception into a 500, logs the stack and keeps serving', async () => {
    const text = await exchange(
      port,
      'GET /throw HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    const responses = splitResponses(text);
    assert.equal(responses[0]!.status, 500);
    assert.equal(responses[1]!.body, 'hello\n');
    const logged = lines.join('');
    assert.match(logged, /GET \/throw/);
    assert.match(logged, /Error: boom from \/throw\n\s+at /);
  });

  it('gives a 500 when the application never calls startResponse', async () => {
    const [response] = splitResponses(await exchange(port, 'GET /never-starts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    assert.equal(response!.status, 500);
    assert.match(lines.join(''), /startResponse/);
  });

  it('cuts the connection when the body fails after headers were sent', async () => {
    const text = await exchange(port, 'GET /throw-late HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 200 OK/);
    assert.match(text, /partial/);
    assert.ok(!text.endsWith('0\r\n\r\n'), 'the chunked body must not look complete');
  });

  it('rejects a header with CR/LF from the application with a 500 instead of sending it', async () => {
    // Served without the validator, which would catch it first: this checks the server's own guard.
    const raw = await serve(app, { http: '127.0.0.1:0', log: false });
    try {
      const text = await exchange(portOf(raw), 'GET /bad-header HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.match(text, /^HTTP\/1\.1 500 /);
      assert.doesNotMatch(text, /Injected/);
    } finally {
      await raw.close(1000);
    }
  });

  it('calls close() on the body exactly once', async () => {
    await exchange(port, 'GET /with-close?once HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.deepEqual(closed.filter((c) => c === 'once'), ['once']);
  });

  it('accepts a bare LF as the line end, as nginx does', async () => {
    const [response] = splitResponses(await exchange(port, 'GET /hello HTTP/1.1\nHost: x\nConnection: close\n\n'));
    assert.equal(response!.body, 'hello\n');
  });

  it('answers malformed requests with 400 and closes', async () => {
    const text = await exchange(port, 'GET /hello HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(text, /Connection: close/);
    assert.match(lines.join(''), /bad request from 127\.0\.0\.1/);
  });

  it('does not buffer a whole response for a slow reader (backpressure)', async () => {
    const socket = await openSocket(port);
    socket.pause();
    socket.write('GET /big?mb=64 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await sleep(300);
    // Nothing read yet: only socket buffers (kernel + one high-water mark) may be full.
    assert.ok(produced < 16 * 1024 * 1024, `produced ${produced} bytes for a reader that read nothing`);
    const all = readAll(socket, 20_000);
    socket.resume();
    const received = await all;
    assert.equal(produced, 64 * 1024 * 1024);
    assert.ok(received.length > 64 * 1024 * 1024);
  });

  it('calls close() when the client goes away mid-response', async () => {
    const socket = await openSocket(port);
    socket.write('GET /big?mb=256 HTTP/1.1\r\nHost: x\r\n\r\n');
    await readUntil(socket, (t) => t.length > 100_000);
    socket.destroy();
    for (let i = 0; i < 100 && !closed.includes('big:mb=256'); i++) await sleep(20);
    assert.ok(closed.includes('big:mb=256'), 'close() was called');
    assert.ok(produced < 256 * 1024 * 1024, 'the body stopped being iterated');
  });

  it('breaks no server-side rule of the validator', () => {
    const serverFaults = violations.filter((v) => v.party === "server");
    assert.deepEqual(serverFaults.map((v) => v.message), []);
    validated.assertAllClosed();
  });

  it('streams a large request body without holding it whole', async () => {
    let maxBuffered = 0;
    let total = 0;
    const streaming = await serve(
      async (environ, startResponse) => {
        const input = environ['tsgi.input'] as unknown as { buffered: number } & AsyncIterable<Uint8Array>;
        for await (const part of input) {
          total += part.length;
          maxBuffered = Math.max(maxBuffered, input.buffered + part.length);
          await sleep(1);
        }
        startResponse('200 OK', [['Content-Length', String(String(total).length)]]);
        return [String(total)];
      },
      { http: '127.0.0.1:0', log: false },
    );
    try {
      const size = 10 * 1024 * 1024;
      const body = await new Promise<string>((resolve, reject) => {
        const req = request({ port: portOf(streaming), method: 'POST', path: '/', headers: { 'Content-Length': size } }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        const chunk = Buffer.alloc(256 * 1024, 1);
        let sent = 0;
        const pump = (): void => {
          while (sent < size) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      });
      assert.equal(body, String(size));
      assert.ok(maxBuffered < 1024 * 1024, `buffered up to ${maxBuffered} bytes`);
    } finally {
      await streaming.close(1000);
    }
  });
});

describe('serve() on a UNIX socket', () => {
  it('serves HTTP on a socket path and removes it on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-'));
    const path = join(dir, 'app.sock');
    const server = await serve(
      (_environ, startResponse) => {
        startResponse('200 OK', [['Content-Length', '4']]);
        return ['unix'];
      },
      { http: path, log: false },
    );
    try {
      assert.deepEqual(server.address, { path });
      const body = await new Promise<string>((resolve, reject) => {
        request({ socketPath: path, path: '/' }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        })
          .on('error', reject)
          .end();
      });
      assert.equal(body, 'unix');
    } finally {
      await server.close(1000);
    }
    const { existsSync } = await import('node:fs');
    assert.equal(existsSync(path), false);
  });
});

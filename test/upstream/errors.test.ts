/**
 * Every way an upstream request fails, for each protocol, against fake servers (fake-upstream.ts):
 * connect refused, no socket file, connect timeout, send timeout, read timeout before and inside
 * the body, a premature close inside the head and inside the body, a malformed head, a bad
 * Content-Length. Each asserts the error code, the phase, and nginx's message naming the peer.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FCGI_OVERLOADED, FCGI_VERSION_1 } from '../../src/protocols/fastcgi.js';
import { FastcgiClient } from '../../src/upstream/fastcgi-client.js';
import { ScgiClient } from '../../src/upstream/scgi-client.js';
import { UwsgiClient } from '../../src/upstream/uwsgi-client.js';
import { UpstreamError, phaseAction, type UpstreamErrorCode, type UpstreamPhase } from '../../src/upstream/errors.js';
import type { UpstreamScheme } from '../../src/upstream/peer.js';
import type { UpstreamClient, UpstreamClientOptions } from '../../src/upstream/types.js';
import { blackHole, deafServer, fakeUpstream, refusedAddress, type FakeRequest, type FakeServer } from './fake-upstream.js';
import { drain } from './generated.js';

const PROTOCOLS: readonly UpstreamScheme[] = ['uwsgi', 'scgi', 'fastcgi'];
const SHORT = 250;
const TIMED_OUT = 'upstream timed out (110: Connection timed out)';
const GET: [string, string][] = [['REQUEST_METHOD', 'GET'], ['PATH_INFO', '/'], ['QUERY_STRING', '']];

function makeClient(protocol: UpstreamScheme, options: UpstreamClientOptions & { keepConn?: boolean }): UpstreamClient {
  if (protocol === 'uwsgi') return new UwsgiClient(options);
  if (protocol === 'scgi') return new ScgiClient(options);
  return new FastcgiClient(options);
}

/** A response head in the protocol's style: a status line for uwsgi, `Status:` for the others. */
function head(protocol: UpstreamScheme, status: string, headers: string[] = []): string {
  const first = protocol === 'uwsgi' ? `HTTP/1.1 ${status}` : `Status: ${status}`;
  return `${[first, ...headers].join('\r\n')}\r\n\r\n`;
}

/** Asserts an UpstreamError with this code and phase whose message ends as nginx's does:
 *  "... while <action>, upstream: "<peer>"". */
function isUpstreamError(code: UpstreamErrorCode, phase: UpstreamPhase, peer: string, message?: string | RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof UpstreamError, `not an UpstreamError: ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.phase, phase, error.message);
    assert.equal(error.peer, peer);
    assert.ok(error.message.endsWith(` while ${phaseAction(phase)}, upstream: "${peer}"`), error.message);
    if (typeof message === 'string') assert.equal(error.message, message);
    else if (message !== undefined) assert.match(error.message, message);
    return true;
  };
}

/** A fake server for the test, closed at the end of the file. */
const servers: FakeServer[] = [];
async function serve(protocol: UpstreamScheme, onRequest: (request: FakeRequest) => void): Promise<FakeServer> {
  const server = await fakeUpstream(protocol, onRequest);
  servers.push(server);
  return server;
}
after(async () => {
  for (const server of servers) await server.close();
});

for (const protocol of PROTOCOLS) {
  describe(`${protocol} client failures`, () => {
    it('connect refused', async () => {
      const address = await refusedAddress();
      const client = makeClient(protocol, { address });
      const peer = `${protocol}://${address}`;
      await assert.rejects(
        client.request({ vars: GET }),
        isUpstreamError('ERR_UPSTREAM_CONNECT', 'connecting', peer, `connect() failed (111: Connection refused) while connecting to upstream, upstream: "${peer}"`),
      );
    });

    it('no such UNIX socket', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tsgi-upstream-'));
      after(() => rmSync(dir, { recursive: true, force: true }));
      const path = join(dir, 'missing.sock');
      const client = makeClient(protocol, { address: path });
      const peer = `${protocol}://unix:${path}`;
      await assert.rejects(
        client.request({ vars: GET }),
        isUpstreamError('ERR_UPSTREAM_CONNECT', 'connecting', peer, `connect() to unix:${path} failed (2: No such file or directory) while connecting to upstream, upstream: "${peer}"`),
      );
    });

    it('connect timeout', async () => {
      const hole = await blackHole();
      try {
        const client = makeClient(protocol, { address: hole.address, connectTimeout: SHORT });
        const peer = `${protocol}://${hole.address}`;
        const started = Date.now();
        await assert.rejects(
          client.request({ vars: GET }),
          isUpstreamError('ERR_UPSTREAM_CONNECT_TIMEOUT', 'connecting', peer, `${TIMED_OUT} while connecting to upstream, upstream: "${peer}"`),
        );
        assert.ok(Date.now() - started >= SHORT - 20);
      } finally {
        await hole.close();
      }
    });

    it('send timeout: the peer stops taking the request body', async () => {
      const server = await deafServer();
      servers.push(server);
      const client = makeClient(protocol, { address: server.address, sendTimeout: SHORT });
      const peer = `${protocol}://${server.address}`;
      const body = Buffer.alloc(64 * 1024 * 1024);
      await assert.rejects(
        client.request({ vars: [['REQUEST_METHOD', 'POST'], ['PATH_INFO', '/']], body }),
        isUpstreamError('ERR_UPSTREAM_SEND_TIMEOUT', 'sending request', peer, `${TIMED_OUT} while sending request to upstream, upstream: "${peer}"`),
      );
    });

    it('read timeout before the head: the peer never answers', async () => {
      const server = await serve(protocol, () => {});
      const client = makeClient(protocol, { address: server.address, readTimeout: SHORT });
      const peer = `${protocol}://${server.address}`;
      await assert.rejects(
        client.request({ vars: GET }),
        isUpstreamError('ERR_UPSTREAM_READ_TIMEOUT', 'reading response header', peer, `${TIMED_OUT} while reading response header from upstream, upstream: "${peer}"`),
      );
    });

    it('read timeout inside the body: the peer stalls', async () => {
      const server = await serve(protocol, (request) => request.send(`${head(protocol, '200 OK', ['Content-Length: 100'])}0123456789`));
      const client = makeClient(protocol, { address: server.address, readTimeout: SHORT });
      const peer = `${protocol}://${server.address}`;
      const response = await client.request({ vars: GET });
      assert.equal(response.status, 200);
      await assert.rejects(drain(response.body), isUpstreamError('ERR_UPSTREAM_READ_TIMEOUT', 'reading response body', peer, `${TIMED_OUT} while reading upstream, upstream: "${peer}"`));
    });

    it('the read timeout is between reads: a slow, steady body is fine', async () => {
      const server = await serve(protocol, (request) => {
        request.send(head(protocol, '200 OK', ['Content-Length: 10']));
        let sent = 0;
        const timer = setInterval(() => {
          request.send(String(sent));
          if (++sent === 10) {
            clearInterval(timer);
            request.endRequest();
            request.close();
          }
        }, SHORT / 3);
      });
      const client = makeClient(protocol, { address: server.address, readTimeout: SHORT });
      const response = await client.request({ vars: GET });
      const started = Date.now();
      assert.equal((await drain(response.body)).bytes.toString(), '0123456789');
      assert.ok(Date.now() - started > SHORT * 2, 'the whole body took longer than readTimeout');
    });

    it('premature close inside the head', async () => {
      const server = await serve(protocol, (request) => {
        request.send(head(protocol, '200 OK', ['Content-Type: text/plain']).slice(0, 20));
        request.close();
      });
      const client = makeClient(protocol, { address: server.address });
      const peer = `${protocol}://${server.address}`;
      await assert.rejects(
        client.request({ vars: GET }),
        isUpstreamError('ERR_UPSTREAM_PREMATURE_CLOSE', 'reading response header', peer, `upstream prematurely closed connection while reading response header from upstream, upstream: "${peer}"`),
      );
    });

    it('premature close inside the body (short of Content-Length)', async () => {
      const server = await serve(protocol, (request) => {
        request.send(`${head(protocol, '200 OK', ['Content-Length: 100'])}0123456789`);
        request.close();
      });
      const client = makeClient(protocol, { address: server.address });
      const peer = `${protocol}://${server.address}`;
      const response = await client.request({ vars: GET });
      assert.equal(response.status, 200);
      const got: Buffer[] = [];
      await assert.rejects(
        async () => {
          for await (const chunk of response.body) got.push(chunk);
        },
        isUpstreamError('ERR_UPSTREAM_PREMATURE_CLOSE', 'reading response body', peer, /^upstream prematurely closed connection .*while reading upstream/),
      );
      assert.equal(Buffer.concat(got).toString(), '0123456789');
    });

    // Heads the client refuses, each answered whole (END_REQUEST, close) so only the head is at fault.
    const refusedHeads: Array<[string, string, RegExp]> = [
      ['a header line without a colon', head(protocol, '200 OK', ['X-Good: 1', 'this line has no colon']), /^upstream sent invalid header: "this\\x20\.\.\."/],
      ['an interim (1xx) status as the response', `${head(protocol, '100 Continue')}${head(protocol, '200 OK')}body`, /^upstream sent an interim status 100 as its response/],
      ['an invalid Content-Length', `${head(protocol, '200 OK', ['Content-Length: 12abc'])}hello`, /^upstream sent invalid "Content-Length" header: "Content-Length: 12abc"/],
      [
        'a duplicate Content-Length',
        `${head(protocol, '200 OK', ['Content-Length: 5', 'Content-Length: 6'])}hello`,
        /^upstream sent duplicate header line: "Content-Length: 6", previous value: "Content-Length: 5"/,
      ],
    ];
    for (const [what, response, words] of refusedHeads) {
      it(`a malformed head: ${what}`, async () => {
        const server = await serve(protocol, (request) => {
          request.send(response);
          request.endRequest();
          request.close();
        });
        const client = makeClient(protocol, { address: server.address });
        await assert.rejects(client.request({ vars: GET }), isUpstreamError('ERR_UPSTREAM_INVALID_RESPONSE', 'reading response header', client.peer, words));
      });
    }

    it('bytes past Content-Length are dropped, with nginx\'s warning', async () => {
      const server = await serve(protocol, (request) => {
        request.send(`${head(protocol, '200 OK', ['Content-Length: 5'])}hello, and more`);
        request.endRequest();
        request.close();
      });
      const logs: string[] = [];
      const client = makeClient(protocol, { address: server.address, log: (level, message) => logs.push(`${level}: ${message}`) });
      const response = await client.request({ vars: GET });
      assert.equal((await drain(response.body)).bytes.toString(), 'hello');
      assert.deepEqual(logs, [`warn: upstream sent more data than specified in "Content-Length" header while reading upstream, upstream: "${client.peer}"`]);
    });

    it('an AbortSignal before the head, and cancel() inside the body, close the connection', async () => {
      let answer: FakeRequest | null = null;
      const server = await serve(protocol, (request) => {
        answer = request;
      });
      const client = makeClient(protocol, { address: server.address });
      const controller = new AbortController();
      const pending = client.request({ vars: GET, signal: controller.signal });
      while (answer === null) await new Promise((resolve) => setTimeout(resolve, 5));
      controller.abort();
      await assert.rejects(pending, isUpstreamError('ERR_UPSTREAM_ABORTED', 'reading response header', client.peer));
      const closed = answer as FakeRequest;
      await new Promise((resolve) => (closed.socket.destroyed ? resolve(null) : closed.socket.once('close', resolve)));

      const streaming = await serve(protocol, (request) => request.send(`${head(protocol, '200 OK')}${'x'.repeat(100_000)}`));
      const second = makeClient(protocol, { address: streaming.address });
      const response = await second.request({ vars: GET });
      for await (const chunk of response.body) {
        assert.ok(chunk.length > 0);
        break; // cancels
      }
      await assert.rejects(response.body.next(), { code: 'ERR_UPSTREAM_ABORTED' });
      const deadline = Date.now() + 2000;
      while (streaming.open() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal(streaming.open(), 0, 'the server saw the connection close');
    });
  });
}

describe('request validation (nothing is sent)', () => {
  it('a uwsgi vars block over 64 KiB, a duplicate SCGI name, a body of unknown length', async () => {
    const server = await serve('uwsgi', (request) => request.close());
    const uwsgi = new UwsgiClient({ address: server.address });
    await assert.rejects(uwsgi.request({ vars: [...GET, ['HTTP_X_BIG', 'x'.repeat(70_000)]] }), isUpstreamError('ERR_UPSTREAM_INVALID_REQUEST', 'sending request', uwsgi.peer, /uwsgi var "HTTP_X_BIG" is longer than 65535 bytes/));
    async function* stream(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('x');
    }
    await assert.rejects(uwsgi.request({ vars: GET, body: stream() }), isUpstreamError('ERR_UPSTREAM_INVALID_REQUEST', 'sending request', uwsgi.peer, /unknown length/));
    await assert.rejects(uwsgi.request({ vars: [...GET, ['CONTENT_LENGTH', '3']], body: Buffer.from('four') }), isUpstreamError('ERR_UPSTREAM_INVALID_REQUEST', 'sending request', uwsgi.peer, /CONTENT_LENGTH is 3 but the body has 4 bytes/));
    const scgi = new ScgiClient({ address: server.address });
    await assert.rejects(scgi.request({ vars: [...GET, ['HTTP_X', 'a'], ['HTTP_X', 'b']] }), isUpstreamError('ERR_UPSTREAM_INVALID_REQUEST', 'sending request', scgi.peer, /duplicate SCGI header "HTTP_X"/));
    assert.equal(server.connections(), 0);
  });

  it('a request body shorter than declared, or whose source throws', async () => {
    for (const protocol of PROTOCOLS) {
      const server = await serve(protocol, (request) => request.close());
      const client = makeClient(protocol, { address: server.address });
      async function* short(): AsyncGenerator<Uint8Array> {
        yield Buffer.from('abc');
      }
      await assert.rejects(client.request({ vars: GET, body: short(), contentLength: 10 }), isUpstreamError('ERR_UPSTREAM_REQUEST_BODY', 'sending request', client.peer, /request body ended after 3 of its declared 10 bytes/));
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield Buffer.from('abc');
        throw new Error('client went away');
      }
      await assert.rejects(client.request({ vars: GET, body: failing(), contentLength: 10 }), isUpstreamError('ERR_UPSTREAM_REQUEST_BODY', 'sending request', client.peer, /request body source failed after 3 bytes \(client went away\)/));
    }
  });

  it('a closed client refuses new requests', async () => {
    const client = new UwsgiClient({ address: '127.0.0.1:9' });
    await client.close();
    await assert.rejects(client.request({ vars: GET }), { code: 'ERR_UPSTREAM_CLIENT_CLOSED' });
  });
});

describe('FastCGI-only failures', () => {
  it('END_REQUEST before the head is complete: FastCGI stdout closed early', async () => {
    const server = await serve('fastcgi', (request) => {
      request.send('Status: 200 OK\r\nContent-Ty');
      request.endRequest();
    });
    const client = new FastcgiClient({ address: server.address });
    await assert.rejects(
      client.request({ vars: GET }),
      isUpstreamError('ERR_UPSTREAM_PREMATURE_CLOSE', 'reading response header', client.peer, `upstream prematurely closed FastCGI stdout while reading response header from upstream, upstream: "${client.peer}"`),
    );
  });

  it('END_REQUEST short of Content-Length', async () => {
    const server = await serve('fastcgi', (request) => {
      request.send('Status: 200 OK\r\nContent-Length: 100\r\n\r\n0123456789');
      request.endRequest();
    });
    const client = new FastcgiClient({ address: server.address, keepConn: true });
    const response = await client.request({ vars: GET });
    await assert.rejects(drain(response.body), isUpstreamError('ERR_UPSTREAM_PREMATURE_CLOSE', 'reading response body', client.peer, /^upstream prematurely closed FastCGI stdout \(10 of 100 body bytes\) while reading upstream/));
    assert.equal(client.idleConnections, 0, 'a connection whose response failed is not pooled');
  });

  it('the connection closes before END_REQUEST (no Content-Length)', async () => {
    const server = await serve('fastcgi', (request) => {
      request.send('Status: 200 OK\r\n\r\npartial');
      request.close();
    });
    const client = new FastcgiClient({ address: server.address });
    const response = await client.request({ vars: GET });
    await assert.rejects(drain(response.body), isUpstreamError('ERR_UPSTREAM_PREMATURE_CLOSE', 'reading response body', client.peer, `upstream prematurely closed connection while reading upstream, upstream: "${client.peer}"`));
  });

  it('a record that is not FastCGI', async () => {
    const server = await serve('fastcgi', (request) => {
      const bad = Buffer.from([FCGI_VERSION_1 + 1, 6, 0, 1, 0, 0, 0, 0]);
      request.socket.write(bad);
    });
    const client = new FastcgiClient({ address: server.address });
    await assert.rejects(client.request({ vars: GET }), isUpstreamError('ERR_UPSTREAM_INVALID_RESPONSE', 'reading response header', client.peer, /^upstream sent invalid FastCGI data: /));
  });

  it('END_REQUEST with FCGI_OVERLOADED', async () => {
    const server = await serve('fastcgi', (request) => request.endRequest(FCGI_OVERLOADED));
    const client = new FastcgiClient({ address: server.address });
    await assert.rejects(
      client.request({ vars: GET }),
      isUpstreamError('ERR_UPSTREAM_REJECTED', 'reading response header', client.peer, `upstream rejected the request (FCGI_OVERLOADED) while reading response header from upstream, upstream: "${client.peer}"`),
    );
  });

  it('STDERR goes to the log, in nginx\'s words', async () => {
    const server = await serve('fastcgi', (request) => {
      request.stderr('PHP message: something odd\n');
      request.send('Status: 200 OK\r\n\r\n');
      request.stderr('PHP message: later\n');
      request.send('body');
      request.endRequest();
    });
    const logs: string[] = [];
    const client = new FastcgiClient({ address: server.address, log: (level, message) => logs.push(`${level}: ${message}`) });
    const response = await client.request({ vars: GET });
    assert.equal((await drain(response.body)).bytes.toString(), 'body');
    assert.deepEqual(logs, [
      `error: FastCGI sent in stderr: "PHP message: something odd" while reading response header from upstream, upstream: "${client.peer}"`,
      `error: FastCGI sent in stderr: "PHP message: later" while reading upstream, upstream: "${client.peer}"`,
    ]);
  });
});

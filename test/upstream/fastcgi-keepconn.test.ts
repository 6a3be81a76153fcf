/**
 * FastCGI connection reuse against a fake FastCGI server built from the codec
 * (FcgiServerSession), which counts connections on the server side: FCGI_KEEP_CONN, the pool's
 * limits, a peer that closes idle connections, and the one retry of a stale pooled connection.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { FastcgiClient } from '../../src/upstream/fastcgi-client.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';
import { fakeUpstream, type FakeRequest, type FakeServer } from './fake-upstream.js';
import { drain } from './generated.js';

const servers: FakeServer[] = [];
const clients: FastcgiClient[] = [];
after(async () => {
  for (const client of clients) await client.close();
  for (const server of servers) await server.close();
});

/** A fake server that answers each request with its QUERY_STRING and body length. */
async function echoServer(hook?: (request: FakeRequest, index: number) => boolean): Promise<FakeServer & { keepConnFlags: boolean[] }> {
  const keepConnFlags: boolean[] = [];
  let index = 0;
  const server = await fakeUpstream('fastcgi', (request) => {
    keepConnFlags.push(request.keepConn);
    if (hook?.(request, index++) === true) return;
    request.send(`Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n${request.var('QUERY_STRING') ?? ''} ${request.body.length}`);
    request.endRequest();
  });
  servers.push(server);
  return Object.assign(server, { keepConnFlags });
}

function client(address: string, options: { keepConn?: boolean; pool?: { maxIdle?: number; idleTimeout?: number } } = {}): FastcgiClient {
  const made = new FastcgiClient({ address, ...options });
  clients.push(made);
  return made;
}

async function text(response: Promise<UpstreamResponse>): Promise<string> {
  return (await drain((await response).body)).bytes.toString();
}

function vars(query: string): [string, string][] {
  return [['REQUEST_METHOD', 'POST'], ['QUERY_STRING', query]];
}

async function waitFor(condition: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('FastCGI keep-conn and the pool', () => {
  it('with keepConn, 20 sequential requests share one connection', async () => {
    const server = await echoServer();
    const c = client(server.address, { keepConn: true });
    for (let i = 0; i < 20; i++) {
      assert.equal(await text(c.request({ vars: vars(`i=${i}`), body: Buffer.alloc(i * 1000) })), `i=${i} ${i * 1000}`);
    }
    assert.equal(server.connections(), 1);
    assert.equal(server.requests(), 20);
    assert.ok(server.keepConnFlags.every((flag) => flag), 'FCGI_KEEP_CONN is set on every request');
    assert.equal(c.idleConnections, 1);
  });

  it('without keepConn, each request has its own connection, which the application closes', async () => {
    const server = await echoServer();
    const c = client(server.address);
    for (let i = 0; i < 5; i++) assert.equal(await text(c.request({ vars: vars(`i=${i}`) })), `i=${i} 0`);
    assert.equal(server.connections(), 5);
    assert.ok(server.keepConnFlags.every((flag) => !flag));
    assert.equal(c.idleConnections, 0);
    await waitFor(() => server.open() === 0, 'the connections to close');
  });

  it('concurrent requests open connections; at most maxIdle stay', async () => {
    const server = await echoServer();
    const c = client(server.address, { keepConn: true, pool: { maxIdle: 2 } });
    const answers = await Promise.all([1, 2, 3, 4].map((i) => text(c.request({ vars: vars(`i=${i}`) }))));
    assert.deepEqual(answers, ['i=1 0', 'i=2 0', 'i=3 0', 'i=4 0']);
    assert.equal(server.connections(), 4);
    assert.equal(c.idleConnections, 2);
    await waitFor(() => server.open() === 2, 'the surplus connections to close');
    // The idle ones serve the next requests.
    for (let i = 0; i < 3; i++) await text(c.request({ vars: vars('again') }));
    assert.equal(server.connections(), 4);
  });

  it('an idle connection closes after idleTimeout', async () => {
    const server = await echoServer();
    const c = client(server.address, { keepConn: true, pool: { idleTimeout: 100 } });
    await text(c.request({ vars: vars('a') }));
    assert.equal(c.idleConnections, 1);
    await waitFor(() => c.idleConnections === 0 && server.open() === 0, 'the idle timeout');
    await text(c.request({ vars: vars('b') }));
    assert.equal(server.connections(), 2);
  });

  // After END_REQUEST the application hangs up (php-fpm recycling a child after
  // pm.max_requests), or sends bytes it should not: either way the idle connection leaves the pool.
  for (const [what, afterEnd] of [
    ['closes the idle connection', (request: FakeRequest) => request.close()],
    ['sends bytes after END_REQUEST', (request: FakeRequest) => request.send('stray')],
  ] as const) {
    it(`the application ${what}: the pool drops it, the next request opens another`, async () => {
      const server = await echoServer((request) => {
        request.send('Status: 200 OK\r\n\r\nok');
        request.endRequest();
        setTimeout(() => afterEnd(request), 20);
        return true;
      });
      const c = client(server.address, { keepConn: true });
      assert.equal(await text(c.request({ vars: vars('a') })), 'ok');
      await waitFor(() => c.idleConnections === 0, 'the pool to drop the connection');
      assert.equal(await text(c.request({ vars: vars('b') })), 'ok');
      assert.equal(server.connections(), 2);
    });
  }

  /** Hangs up on the second request, the first on the reused connection, without a byte. */
  const hangUpOnSecond = (request: FakeRequest, index: number): boolean => {
    if (index !== 1) return false;
    request.socket.end();
    return true;
  };

  it('a stale pooled connection (closed as the request arrives) is retried once on a new one', async () => {
    const server = await echoServer(hangUpOnSecond);
    const c = client(server.address, { keepConn: true });
    assert.equal(await text(c.request({ vars: vars('first') })), 'first 0');
    assert.equal(await text(c.request({ vars: vars('second'), body: Buffer.from('replayable') })), 'second 10');
    assert.equal(server.connections(), 2);
    assert.equal(server.requests(), 3);
  });

  it('no retry when the body cannot be sent again', async () => {
    const server = await echoServer(hangUpOnSecond);
    const c = client(server.address, { keepConn: true });
    await text(c.request({ vars: vars('first') }));
    async function* body(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('once');
    }
    await assert.rejects(c.request({ vars: vars('second'), body: body() }), { code: 'ERR_UPSTREAM_PREMATURE_CLOSE', phase: 'reading response header' });
    assert.equal(server.connections(), 1);
  });

  it('close() closes the idle connections', async () => {
    const server = await echoServer();
    const c = client(server.address, { keepConn: true });
    await text(c.request({ vars: vars('a') }));
    assert.equal(server.open(), 1);
    await c.close();
    await waitFor(() => server.open() === 0, 'the idle connection to close');
    await assert.rejects(c.request({ vars: vars('b') }), { code: 'ERR_UPSTREAM_CLIENT_CLOSED' });
  });
});

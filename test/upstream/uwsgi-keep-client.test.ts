/**
 * The uwsgi client with `keep` against scripted peers: a kept response is reused, a pooled
 * connection the peer closed is retried once on a new one, and a stopping Python worker's goodbye
 * (`503` + `Tsgi-Retry: 1`, python/tsgi/server.py) is never shown as a response: the request goes
 * again on a new connection.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { UwsgiClient } from '../../src/upstream/uwsgi-client.js';
import { drain } from './generated.js';

const KEPT = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTsgi-Keep: 1\r\n\r\nok';
const GOODBYE = 'HTTP/1.1 503 Service Unavailable\r\nTsgi-Retry: 1\r\nContent-Length: 0\r\n\r\n';
const VARS = ['REQUEST_METHOD', 'GET', 'PATH_INFO', '/', 'SERVER_PROTOCOL', 'HTTP/1.1'];

/** A peer answering the n-th packet overall with answer(n, socket); counts accepts and modifier2s. */
async function scriptedPeer(answer: (n: number, socket: Socket) => void) {
  const seen = { accepts: 0, packets: 0, modifier2: [] as number[] };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    seen.accepts++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('data', (data: Buffer) => {
      // One small packet per read in these tests: the header's 4th byte is modifier2.
      seen.modifier2.push(data[3]!);
      answer(seen.packets++, socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, seen, close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function text(client: UwsgiClient): Promise<{ status: number; body: string }> {
  const response = await client.request({ vars: VARS });
  return { status: response.status, body: (await drain(response.body)).bytes.toString() };
}

describe('uwsgi client with keep against scripted peers', () => {
  it('asks with modifier2 K and reuses a kept connection', async () => {
    const peer = await scriptedPeer((_n, socket) => socket.write(KEPT));
    const client = new UwsgiClient({ address: `127.0.0.1:${peer.port}`, keep: true });
    for (let i = 0; i < 5; i++) assert.deepEqual(await text(client), { status: 200, body: 'ok' });
    assert.equal(peer.seen.accepts, 1);
    assert.deepEqual(peer.seen.modifier2, [0x4b, 0x4b, 0x4b, 0x4b, 0x4b]);
    await client.close();
    await peer.close();
  });

  it('without keep, modifier2 is 0', async () => {
    const peer = await scriptedPeer((_n, socket) => socket.end('HTTP/1.1 200 OK\r\n\r\nok'));
    const client = new UwsgiClient({ address: `127.0.0.1:${peer.port}` });
    assert.deepEqual(await text(client), { status: 200, body: 'ok' });
    assert.deepEqual(peer.seen.modifier2, [0]);
    await client.close();
    await peer.close();
  });

  it("sends the request again on a new connection after a stopping worker's goodbye", async () => {
    const peer = await scriptedPeer((n, socket) => {
      if (n === 1) socket.end(GOODBYE);
      else socket.write(KEPT);
    });
    const client = new UwsgiClient({ address: `127.0.0.1:${peer.port}`, keep: true });
    assert.deepEqual(await text(client), { status: 200, body: 'ok' });
    assert.deepEqual(await text(client), { status: 200, body: 'ok' }, 'the goodbye never reaches the caller');
    assert.equal(peer.seen.accepts, 2);
    assert.equal(peer.seen.packets, 3);
    await client.close();
    await peer.close();
  });

  it('retries once on a new connection when a pooled one was closed by the peer', async () => {
    const peer = await scriptedPeer((n, socket) => {
      if (n === 1) socket.destroy();
      else socket.write(KEPT);
    });
    const client = new UwsgiClient({ address: `127.0.0.1:${peer.port}`, keep: true });
    assert.deepEqual(await text(client), { status: 200, body: 'ok' });
    assert.deepEqual(await text(client), { status: 200, body: 'ok' });
    assert.equal(peer.seen.accepts, 2);
    await client.close();
    await peer.close();
  });

  it('reads a chunked kept response and a peer that does not agree (no Tsgi-Keep) to the close', async () => {
    const peer = await scriptedPeer((n, socket) => {
      if (n === 0) socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTsgi-Keep: 1\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n');
      else socket.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz');
    });
    const client = new UwsgiClient({ address: `127.0.0.1:${peer.port}`, keep: true });
    const chunked = await client.request({ vars: VARS });
    assert.equal(chunked.headers.some((name) => /transfer-encoding|tsgi-keep/i.test(name)), false);
    assert.equal((await drain(chunked.body)).bytes.toString(), 'abc');
    assert.equal(client.idleConnections, 1);
    assert.deepEqual(await text(client), { status: 200, body: 'xyz' });
    assert.equal(client.idleConnections, 0);
    await client.close();
    await peer.close();
  });
});

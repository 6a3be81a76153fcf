/**
 * Backpressure from the body's reader to the peer: while the caller does not read, the client
 * stops reading the socket, so a peer streaming a large response is held by TCP flow control
 * instead of the client buffering the whole response in memory. The read timeout does not run
 * while the caller is the one waiting.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { encodeStdout } from '../../src/protocols/fastcgi.js';
import { FastcgiClient } from '../../src/upstream/fastcgi-client.js';
import { UwsgiClient } from '../../src/upstream/uwsgi-client.js';
import type { UpstreamScheme } from '../../src/upstream/peer.js';
import type { UpstreamClient } from '../../src/upstream/types.js';
import { fakeUpstream, type FakeRequest, type FakeServer } from './fake-upstream.js';

const MIB = 1024 * 1024;
const TOTAL = 64 * MIB;
const PIECE = 64 * 1024;
const READER_PAUSE_MS = 400;

const servers: FakeServer[] = [];
after(async () => {
  for (const server of servers) await server.close();
});

/** Streams TOTAL bytes as fast as the socket takes them; `flushed()` counts what the kernel took. */
function streamer(protocol: UpstreamScheme): { flushed: () => number; onRequest: (request: FakeRequest) => void } {
  let flushed = 0;
  return {
    flushed: () => flushed,
    onRequest(request) {
      const headLine = protocol === 'uwsgi' ? 'HTTP/1.1 200 OK' : 'Status: 200 OK';
      request.send(`${headLine}\r\nContent-Length: ${TOTAL}\r\n\r\n`);
      const piece = Buffer.alloc(PIECE, 0x61);
      let sent = 0;
      const pump = (): void => {
        while (sent < TOTAL) {
          sent += PIECE;
          // The callback runs once the kernel took the bytes: that is what the peer got rid of.
          const more = request.socket.write(protocol === 'fastcgi' ? encodeStdoutFor(piece) : piece, () => (flushed += PIECE));
          if (!more) {
            request.socket.once('drain', pump);
            return;
          }
        }
        request.endRequest();
        request.close();
      };
      pump();
    },
  };
}

/** A STDOUT record for request id 1, the id the client always uses. */
function encodeStdoutFor(piece: Buffer): Buffer {
  return encodeStdout(1, piece);
}

for (const protocol of ['uwsgi', 'fastcgi'] as const) {
  describe(`${protocol}: a slow reader holds the peer back`, () => {
    it(`a ${TOTAL / MIB} MiB response is not read ahead of the caller, and the read timeout waits for it`, async () => {
      const source = streamer(protocol);
      const server = await fakeUpstream(protocol, source.onRequest);
      servers.push(server);
      const client: UpstreamClient =
        protocol === 'uwsgi' ? new UwsgiClient({ address: server.address, readTimeout: 100 }) : new FastcgiClient({ address: server.address, readTimeout: 100 });
      const response = await client.request({ vars: [['REQUEST_METHOD', 'GET']] });
      const iterator = response.body[Symbol.asyncIterator]();
      const first = await iterator.next();
      assert.equal(first.done, false);
      // The caller is busy for 4 read timeouts: no timeout, and the peer is held back.
      await new Promise((resolve) => setTimeout(resolve, READER_PAUSE_MS));
      const heldAt = source.flushed();
      assert.ok(heldAt < TOTAL / 2, `the peer could only write ${heldAt} of ${TOTAL} bytes while the caller did not read`);
      let length = first.value?.length ?? 0;
      for (;;) {
        const step = await iterator.next();
        if (step.done === true) break;
        length += step.value.length;
      }
      assert.equal(length, TOTAL);
      assert.equal(source.flushed(), TOTAL);
    });
  });
}

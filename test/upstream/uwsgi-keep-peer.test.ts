/**
 * The uwsgi client with `keep` (tsgi web's `keepalive` in an upstream block) against a peer that
 * does not know tsgi's extension: real uWSGI ignores modifier2 'K' and closes after each
 * response, so every request still works, each on its own connection, and nothing is pooled.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UwsgiClient } from '../../src/upstream/uwsgi-client.js';
import { drain } from './generated.js';
import { peerForSuite, startUwsgi, uwsgiPeer } from './real-peers.js';

const uwsgi = uwsgiPeer();
const skip = 'skip' in uwsgi ? uwsgi.skip : false;

function vars(path: string, method = 'GET'): string[] {
  return ['REQUEST_METHOD', method, 'PATH_INFO', path, 'QUERY_STRING', '', 'SERVER_PROTOCOL', 'HTTP/1.1', 'SERVER_NAME', 'localhost', 'SERVER_PORT', '80'];
}

describe('uwsgi client with keep against real uWSGI', { skip }, () => {
  const peer = peerForSuite('skip' in uwsgi ? null : () => startUwsgi(uwsgi.path));

  it('falls back to a connection per request, with length-framed, streamed and HEAD responses', async () => {
    const client = peer.track(new UwsgiClient({ address: `127.0.0.1:${peer.running().uwsgiPort}`, keep: true }));
    for (let i = 0; i < 3; i++) {
      const response = await client.request({ vars: vars('/env'), body: Buffer.from('abc') });
      assert.equal(response.status, 200);
      const doc = JSON.parse((await drain(response.body)).bytes.toString()) as { body_length: number };
      assert.equal(doc.body_length, 3);
      assert.equal(client.idleConnections, 0, 'uWSGI did not agree: nothing is pooled');
    }
    const open = await client.request({ vars: vars('/stream-open') });
    assert.equal((await drain(open.body, false)).length, 16 * 65536);
    const head = await client.request({ vars: vars('/env', 'HEAD') });
    assert.equal(head.status, 200);
    assert.equal((await drain(head.body)).length, 0);
    const short = await client.request({ vars: vars('/short') });
    await assert.rejects(drain(short.body), /prematurely closed/);
    assert.equal(client.idleConnections, 0);
  });
});

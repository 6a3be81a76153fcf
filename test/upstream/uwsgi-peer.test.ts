/**
 * The tsgi uwsgi and SCGI clients against a real uWSGI (Debian's, python3 plugin) serving
 * test/fixtures/upstream/app.py: uwsgi over TCP and over a UNIX socket, SCGI over TCP
 * (uWSGI's --scgi-socket). The shared cases are in peer-suite.ts; uWSGI-specific behaviour
 * (a body cut short, an exception in the middle of the body, a body that ends with the close,
 * HEAD) follows.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UwsgiClient } from '../../src/upstream/uwsgi-client.js';
import { ScgiClient } from '../../src/upstream/scgi-client.js';
import { UpstreamError } from '../../src/upstream/errors.js';
import type { UpstreamClient } from '../../src/upstream/types.js';
import { drain, generatedDigest } from './generated.js';
import { cgiVars, lazyCase, peerCases, type CaseRequest, type PeerCase, type Seen, type Vars } from './peer-suite.js';
import { peerForSuite, startUwsgi, uwsgiPeer, type RunningUwsgi } from './real-peers.js';

const uwsgi = uwsgiPeer();
const skip = 'skip' in uwsgi ? uwsgi.skip : false;

const ACTION_PATHS = { env: '/env', stream: '/stream', error: '/error' } as const;

/** app.py routes on PATH_INFO. */
function appVars(path: string, request: CaseRequest): Vars {
  return cgiVars(path, request.query, [['PATH_INFO', path]], request);
}

function seenFromPython(json: unknown): Seen {
  const doc = json as Record<string, string | number | null>;
  return {
    method: String(doc.REQUEST_METHOD),
    query: String(doc.QUERY_STRING ?? ''),
    odd: (doc.HTTP_X_ODD as string | null) ?? null,
    tab: (doc.HTTP_X_TAB as string | null) ?? null,
    multi: (doc.HTTP_X_MULTI as string | null) ?? null,
    longLength: typeof doc.HTTP_X_LONG === 'string' ? doc.HTTP_X_LONG.length : 0,
    bodyLength: Number(doc.body_length),
    bodySha256: String(doc.body_sha256),
  };
}

describe('uwsgi and SCGI clients against real uWSGI', { skip }, () => {
  const peer = peerForSuite('skip' in uwsgi ? null : () => startUwsgi(uwsgi.path));

  /** A PeerCase for one socket of the running uWSGI. */
  function uwsgiCase(make: (server: RunningUwsgi) => UpstreamClient, mergeRepeated: boolean): () => PeerCase {
    return lazyCase(() => {
      const server = peer.running();
      const client = peer.track(make(server));
      return {
        client,
        logs: [],
        vars: (action, request) => appVars(ACTION_PATHS[action], request),
        seen: seenFromPython,
        mergeRepeated,
        // uWSGI builds the environ as a dict: of a repeated var, the last one wins.
        expectedMulti: mergeRepeated ? 'one, two' : 'two',
        repeatedResponseHeader: ['Set-Cookie', ['a=1', 'b=2']],
        async checkAppError({ response, error }) {
          // uWSGI (without --catch-exceptions) logs the traceback and closes without a byte:
          // nginx reports "upstream prematurely closed connection" and answers 502.
          assert.equal(response, null);
          assert.ok(error instanceof UpstreamError, String(error));
          assert.equal(error.code, 'ERR_UPSTREAM_PREMATURE_CLOSE');
          assert.equal(error.phase, 'reading response header');
          assert.ok(error.message.includes(`upstream: "${client.peer}"`), error.message);
          assert.match(server.output(), /RuntimeError: application failure for the upstream client test/);
        },
      };
    });
  }

  describe('uwsgi over TCP', () => peerCases(uwsgiCase((server) => new UwsgiClient({ address: `127.0.0.1:${server.uwsgiPort}` }), false)));
  describe('uwsgi over a UNIX socket', () => peerCases(uwsgiCase((server) => new UwsgiClient({ address: `unix:${server.uwsgiSocket}` }), false)));
  describe('SCGI over TCP', () => peerCases(uwsgiCase((server) => new ScgiClient({ address: `127.0.0.1:${server.scgiPort}` }), true)));

  describe('uWSGI specifics', () => {
    const client = (): UpstreamClient => peer.track(new UwsgiClient({ address: `127.0.0.1:${peer.running().uwsgiPort}` }));

    it('a body cut short of its Content-Length throws, after the bytes that came', async () => {
      const c = client();
      const response = await c.request({ vars: appVars('/short', { method: 'GET', query: '', headers: [] }) });
      assert.equal(response.status, 200);
      const received: Buffer[] = [];
      await assert.rejects(
        async () => {
          for await (const chunk of response.body) received.push(chunk);
        },
        (error: unknown) => {
          assert.ok(error instanceof UpstreamError);
          assert.equal(error.code, 'ERR_UPSTREAM_PREMATURE_CLOSE');
          assert.equal(error.phase, 'reading response body');
          assert.equal(error.message, `upstream prematurely closed connection (10 of 1000 body bytes) while reading upstream, upstream: "${c.peer}"`);
          return true;
        },
      );
      assert.equal(Buffer.concat(received).toString(), '0123456789');
    });

    it('an exception in the middle of the body is a truncated body, not a short whole one', async () => {
      const c = client();
      const response = await c.request({ vars: appVars('/stream-fail', { method: 'GET', query: '', headers: [] }) });
      assert.equal(response.status, 200);
      await assert.rejects(drain(response.body), { code: 'ERR_UPSTREAM_PREMATURE_CLOSE', phase: 'reading response body' });
      assert.match(peer.running().output(), /RuntimeError: application failure in the middle of the body/);
    });

    it('a body without Content-Length ends with the close', async () => {
      const c = client();
      const response = await c.request({ vars: appVars('/stream-open', { method: 'GET', query: 'mb=3', headers: [] }) });
      const expected = generatedDigest(3);
      const got = await drain(response.body, false);
      assert.deepEqual({ length: got.length, sha256: got.sha256 }, expected);
    });

    it('HEAD: the head only, whatever Content-Length says', async () => {
      const c = client();
      const response = await c.request({ vars: appVars('/env', { method: 'HEAD', query: '', headers: [] }) });
      assert.equal(response.status, 200);
      const got = await drain(response.body);
      assert.equal(got.length, 0);
    });

    it('a vars block uWSGI refuses (over its --buffer-size) fails the request', async () => {
      const c = client();
      const vars = appVars('/env', { method: 'GET', query: '', headers: [['HTTP_X_HUGE', 'h'.repeat(40_000)]] });
      // uWSGI closes after the 4 header bytes with the rest unread, so the kernel resets the
      // connection: nginx logs "recv() failed (104: Connection reset by peer)" (or a failed
      // writev, or a plain close, depending on when the reset lands).
      await assert.rejects(c.request({ vars }), (error: unknown) => {
        assert.ok(error instanceof UpstreamError);
        assert.ok(['ERR_UPSTREAM_READ', 'ERR_UPSTREAM_SEND', 'ERR_UPSTREAM_PREMATURE_CLOSE'].includes(error.code), error.message);
        assert.ok(error.message.endsWith(`upstream: "${c.peer}"`), error.message);
        return true;
      });
      assert.match(peer.running().output(), /invalid request block size: \d+ \(max 32768\)/);
    });
  });
});

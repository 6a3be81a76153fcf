/**
 * The tsgi FastCGI client against a real php-fpm serving test/fixtures/upstream/echo.php, over
 * TCP and over a UNIX socket, without and with FCGI_KEEP_CONN. The shared cases are in
 * peer-suite.ts; then PHP's errors on the stderr stream, and connection reuse counted on the
 * server side (a counting TCP relay in front of php-fpm).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import { FastcgiClient } from '../../src/upstream/fastcgi-client.js';
import type { UpstreamClient } from '../../src/upstream/types.js';
import { drain } from './generated.js';
import { cgiVars, lazyCase, peerCases, type CaseRequest, type PeerCase, type Seen, type Vars } from './peer-suite.js';
import { FIXTURES, peerForSuite, phpFpmPeer, startPhpFpm, type RunningPhpFpm } from './real-peers.js';

const phpFpm = phpFpmPeer();
const skip = 'skip' in phpFpm ? phpFpm.skip : false;
const SCRIPT = join(FIXTURES, 'echo.php');

/** echo.php routes on its `do` parameter. */
function phpVars(action: string, request: CaseRequest): Vars {
  const query = request.query === '' ? `do=${action}` : `do=${action}&${request.query}`;
  const routing: Vars = [
    ['GATEWAY_INTERFACE', 'CGI/1.1'],
    ['SERVER_SOFTWARE', 'tsgi'],
    ['SCRIPT_NAME', '/echo.php'],
    ['SCRIPT_FILENAME', SCRIPT],
    ['DOCUMENT_ROOT', FIXTURES],
  ];
  return cgiVars('/echo.php', query, routing, request);
}

function seenFromPhp(json: unknown): Seen {
  const doc = json as { server: Record<string, string | undefined>; body_length: number; body_sha256: string };
  const server = doc.server;
  return {
    method: String(server.REQUEST_METHOD),
    // The fixture's own routing parameter is not part of what the case sent.
    query: String(server.QUERY_STRING ?? '').replace(/^do=env&?/, ''),
    odd: server.HTTP_X_ODD ?? null,
    tab: server.HTTP_X_TAB ?? null,
    multi: server.HTTP_X_MULTI ?? null,
    longLength: server.HTTP_X_LONG?.length ?? 0,
    bodyLength: doc.body_length,
    bodySha256: doc.body_sha256,
  };
}

/** A TCP relay to php-fpm that counts the connections it accepts: reuse, seen from the server. */
async function countingRelay(targetPort: number): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const server: Server = createServer((downstream) => {
    connections++;
    const upstream = connect(targetPort, '127.0.0.1');
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    downstream.on('error', () => upstream.destroy());
    upstream.on('error', () => downstream.destroy());
    downstream.on('close', () => upstream.destroy());
    upstream.on('close', () => downstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('relay has no port');
  return {
    port: address.port,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('FastCGI client against real php-fpm', { skip }, () => {
  const peer = peerForSuite('skip' in phpFpm ? null : () => startPhpFpm(phpFpm.path));

  function phpCase(address: (server: RunningPhpFpm) => string, keepConn: boolean): () => PeerCase {
    return lazyCase(() => {
      const logs: string[] = [];
      const client = peer.track(new FastcgiClient({ address: address(peer.running()), keepConn, log: (level, message) => logs.push(`[${level}] ${message}`) }));
      return {
        client,
        logs,
        vars: phpVars,
        seen: seenFromPhp,
        mergeRepeated: false,
        // PHP fills $_SERVER from the params in order: of a repeated one, the last wins.
        expectedMulti: 'two',
        repeatedResponseHeader: ['X-Multi', ['one', 'two']],
        async checkAppError({ response, error }) {
          assert.equal(error, null);
          assert.ok(response !== null);
          assert.equal(response.status, 500);
          await drain(response.body);
          const stderr = logs.filter((line) => line.includes('FastCGI sent in stderr:'));
          assert.ok(stderr.length > 0, logs.join('\n'));
          const text = stderr.join('\n');
          assert.ok(text.startsWith('[error] FastCGI sent in stderr: "PHP message: echo.php: about to throw'), text);
          assert.match(text, /PHP Fatal error: {2}Uncaught RuntimeException: application failure for the upstream client test/);
          assert.match(text, /while reading response header from upstream, upstream: "fastcgi:\/\//);
        },
      };
    });
  }

  describe('over TCP, a connection per request', () => peerCases(phpCase((server) => `127.0.0.1:${server.port}`, false)));
  describe('over a UNIX socket, with keep-conn', () => peerCases(phpCase((server) => `unix:${server.socket}`, true)));

  describe('php-fpm specifics', () => {
    it('a PHP fatal error: 500, and the message on stderr', async () => {
      const logs: string[] = [];
      const client = peer.track(new FastcgiClient({ address: `127.0.0.1:${peer.running().port}`, log: (_level, message) => logs.push(message) }));
      const response = await client.request({ vars: phpVars('fatal', { method: 'GET', query: '', headers: [] }) });
      assert.equal(response.status, 500);
      assert.equal(response.reason, 'Internal Server Error');
      await drain(response.body);
      assert.match(logs.join('\n'), /FastCGI sent in stderr: "PHP message: PHP Fatal error: {2}Uncaught Error: Call to undefined function undefined_function_for_the_test\(\)/);
    });

    it('a Status from the script is the status, and is not a header', async () => {
      const client = peer.track(new FastcgiClient({ address: `127.0.0.1:${peer.running().port}` }));
      const response = await client.request({ vars: phpVars('nothing-here', { method: 'GET', query: '', headers: [] }) });
      assert.equal(response.status, 404);
      assert.equal(response.reason, 'Not Found');
      assert.ok(!response.headers.some((name, i) => i % 2 === 0 && name.toLowerCase() === 'status'), response.headers.join(' '));
      assert.equal((await drain(response.body)).bytes.toString(), 'not found\n');
    });

    for (const keepConn of [true, false]) {
      it(`${keepConn ? 'with' : 'without'} keep-conn, 10 sequential requests use ${keepConn ? 'one connection' : 'ten connections'}`, async () => {
        const relay = await countingRelay(peer.running().port);
        const client = new FastcgiClient({ address: `127.0.0.1:${relay.port}`, keepConn });
        try {
          for (let i = 0; i < 10; i++) {
            const response = await client.request({ vars: phpVars('env', { method: 'POST', query: `i=${i}`, headers: [], contentType: 'text/plain' }), body: Buffer.from(`request ${i}`) });
            const seen = seenFromPhp(JSON.parse((await drain(response.body)).bytes.toString()));
            assert.equal(seen.query, `i=${i}`);
            assert.equal(seen.bodyLength, `request ${i}`.length);
          }
          assert.equal(relay.connections(), keepConn ? 1 : 10);
          assert.equal(client.idleConnections, keepConn ? 1 : 0);
        } finally {
          await client.close();
          await relay.close();
        }
      });
    }
  });
});

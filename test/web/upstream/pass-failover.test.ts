/**
 * Failover of uwsgi_pass across an upstream of three app servers: round-robin, a dead server
 * skipped for GETs with no client error, a POST that reached a failing server not retried,
 * http_503 as a next_upstream condition, and the $upstream_* variables of each attempt.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWeb, type RunningWeb } from '../server/tsgi-web.js';
import { freePort } from '../../helpers/nginx.js';
import { echoApp, get, portOf, rawPeer, startApp } from './pass-helpers.js';
import type { ServerHandle } from '../../../src/appserver/serve.js';

const LOG_FORMAT = `log_format up '$request_method $uri|$upstream_addr|$upstream_status|$upstream_response_time|$upstream_header_time|$upstream_connect_time';`;

function upstreamLog(web: RunningWeb): string[][] {
  return readFileSync(join(web.dir, 'up.log'), 'utf8').trim().split('\n').map((line) => line.split('|'));
}

describe('uwsgi_pass to an upstream of three app servers', () => {
  const servers: ServerHandle[] = [];
  const ports: number[] = [];
  let web: RunningWeb;

  before(async () => {
    for (const name of ['I', 'II', 'III']) {
      const server = await startApp(echoApp(name).app, [{ protocol: 'uwsgi', address: '127.0.0.1:0' }]);
      servers.push(server);
      ports.push(portOf(server));
    }
    web = await startWeb(`
      ${LOG_FORMAT}
      upstream app_servers {
        server 127.0.0.1:${ports[0]};
        server 127.0.0.1:${ports[1]};
        server 127.0.0.1:${ports[2]};
      }
      server {
        listen 127.0.0.1:PORT;
        access_log DIR/up.log up;
        location / {
          include uwsgi_params;
          uwsgi_pass app_servers;
        }
      }`);
  });
  after(async () => {
    await web.stop();
    for (const server of servers) await server.close(100);
  });

  it('balances round-robin over the three', async () => {
    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push(String((await get(web.port, '/who')).headers['x-app']));
    assert.deepEqual([...names].sort(), ['I', 'I', 'II', 'II', 'III', 'III']);
    assert.deepEqual(names.slice(0, 3), names.slice(3), 'the same order each round');
  });

  it('skips a killed server for GETs with zero failed requests, and the POST that reached it is not retried', async () => {
    await servers[1]!.close(0);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await get(web.port, `/after-kill/${i}`)).status);
    assert.deepEqual(statuses, Array(12).fill(200));
    const lines = upstreamLog(web).filter((line) => line[0]!.startsWith('GET /after-kill/'));
    const retried = lines.filter((line) => line[1]!.includes(', '));
    assert.equal(retried.length, 1, `one GET met the dead server and went on (max_fails=1 keeps it out then): ${JSON.stringify(lines)}`);
    const [addrs, codes, responseTimes, headerTimes, connectTimes] = retried[0]!.slice(1);
    assert.match(addrs!, new RegExp(`^127\\.0\\.0\\.1:${ports[1]}, 127\\.0\\.0\\.1:\\d+$`));
    assert.equal(codes, '502, 200');
    assert.match(responseTimes!, /^\d+\.\d{3}, \d+\.\d{3}$/);
    assert.match(headerTimes!, /^-, \d+\.\d{3}$/);
    assert.match(connectTimes!, /^-, \d+\.\d{3}$/, 'no connection to the dead server; the time to connect to the live one');
    assert.match(web.errorLog(), new RegExp(`connect\\(\\) failed \\(111: Connection refused\\) while connecting to upstream, .*upstream: "uwsgi://127\\.0\\.0\\.1:${ports[1]}"`));
  });
});

describe('a failed server returns to the rotation after fail_timeout', () => {
  it('skips a server that refused, then uses it again once fail_timeout has passed and it is back', async () => {
    const up = await startApp(echoApp('up').app, [{ protocol: 'uwsgi', address: '127.0.0.1:0' }]);
    const laterPort = await freePort();
    const web = await startWeb(`
      upstream pair { server 127.0.0.1:${portOf(up)}; server 127.0.0.1:${laterPort} fail_timeout=1s; }
      server { listen 127.0.0.1:PORT; location / { include uwsgi_params; uwsgi_pass pair; } }`);
    let later: ServerHandle | null = null;
    try {
      const first: string[] = [];
      for (let i = 0; i < 4; i++) first.push(String((await get(web.port, '/')).headers['x-app']));
      assert.deepEqual(first, ['up', 'up', 'up', 'up'], 'the refusing server is skipped, with no error to the client');
      later = await startApp(echoApp('later').app, [{ protocol: 'uwsgi', address: `127.0.0.1:${laterPort}` }]);
      // nginx counts fail_timeout in whole seconds of its clock: past 2 s the server is tried again.
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const after: string[] = [];
      for (let i = 0; i < 4; i++) after.push(String((await get(web.port, '/')).headers['x-app']));
      assert.ok(after.includes('later'), JSON.stringify(after));
    } finally {
      await web.stop();
      await up.close(100);
      await later?.close(100);
    }
  });
});

describe('uwsgi_next_upstream conditions', () => {
  it('does not retry a POST sent to a server that closed without answering, but retries a GET', async () => {
    const app = echoApp('good');
    const good = await startApp(app.app, [{ protocol: 'uwsgi', address: '127.0.0.1:0' }]);
    // Reads the request, then closes: "upstream prematurely closed connection".
    const closer = await rawPeer((socket) => socket.once('data', () => socket.destroy()));
    const web = await startWeb(`
      ${LOG_FORMAT}
      upstream pair { server 127.0.0.1:${closer.port} max_fails=0; server 127.0.0.1:${portOf(good)} max_fails=0; }
      server { listen 127.0.0.1:PORT; access_log DIR/up.log up; location / { include uwsgi_params; uwsgi_pass pair; } }`);
    try {
      const results: string[] = [];
      for (let i = 0; i < 4; i++) {
        const post = await get(web.port, '/post', { method: 'POST', body: 'data' });
        const getReply = await get(web.port, '/get');
        results.push(`${post.status} ${getReply.status}`);
      }
      // Round-robin alternates: each POST that lands on the closer ends in 502, each GET there moves on.
      assert.ok(results.some((r) => r.startsWith('502')), JSON.stringify(results));
      assert.ok(results.every((r) => r.endsWith(' 200')), JSON.stringify(results));
      assert.equal(app.seen.posts, results.filter((r) => r.startsWith('200')).length, 'no POST reached the good server after the closer had it');
      assert.match(web.errorLog(), /upstream prematurely closed connection while reading response header from upstream/);
      const postLines = upstreamLog(web).filter((line) => line[0] === 'POST /post');
      assert.ok(postLines.every((line) => !line[1]!.includes(', ')), 'a POST is never tried twice');
    } finally {
      await web.stop();
      await closer.close();
      await good.close(100);
    }
  });

  it('moves on after an http_503 when listed, and passes the last 503 on when no server is left', async () => {
    const busy = await startApp(echoApp('busy').app, [{ protocol: 'uwsgi', address: '127.0.0.1:0' }]);
    const web = await startWeb(`
      ${LOG_FORMAT}
      upstream twice { server 127.0.0.1:${portOf(busy)} max_fails=0; server 127.0.0.1:${portOf(busy)} max_fails=0; }
      server {
        listen 127.0.0.1:PORT;
        access_log DIR/up.log up;
        location / { include uwsgi_params; uwsgi_next_upstream error timeout http_503; uwsgi_pass twice; }
      }`);
    try {
      const reply = await get(web.port, '/status/503');
      assert.equal(reply.status, 503, 'the last attempt\'s response is sent as is');
      assert.equal(reply.json().name, 'busy');
      assert.equal(upstreamLog(web)[0]![2], '503, 503');
    } finally {
      await web.stop();
      await busy.close(100);
    }
  });

  it('stops at uwsgi_next_upstream_tries', async () => {
    const dead = [await freePort(), await freePort(), await freePort()];
    const web = await startWeb(`
      ${LOG_FORMAT}
      upstream dead { ${dead.map((port) => `server 127.0.0.1:${port};`).join(' ')} }
      server { listen 127.0.0.1:PORT; access_log DIR/up.log up; location / { uwsgi_next_upstream_tries 2; uwsgi_pass dead; } }`);
    try {
      assert.equal((await get(web.port, '/')).status, 502);
      const [line] = upstreamLog(web);
      assert.equal(line![2], '502, 502', 'two attempts, then 502');
    } finally {
      await web.stop();
    }
  });
});

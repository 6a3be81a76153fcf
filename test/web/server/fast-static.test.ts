/**
 * The fast path for plain static GETs (src/web/server/fast-static.ts) against the pipeline: the
 * same requests, answered once with the fast path switched off and once with it on (after a
 * warm-up that prepares the answers), must give the same bytes (Date and Expires masked, as they
 * follow the clock) and the same access log lines. nginx parity of the answers themselves is the
 * business of parity.test.ts and test/web/static.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { FastStatic } from '../../../src/web/server/fast-static.js';
import { startWeb, type RunningWeb } from './tsgi-web.js';

const FORMAT = `'$request|$status|$body_bytes_sent|$bytes_sent|$request_length|$uri|$args|$host|$sent_http_etag|$sent_http_accept_ranges|$sent_http_content_type|$connection_requests|$server_name'`;

const SERVERS = `
  log_format t ${FORMAT};
  server {
    listen 127.0.0.1:PORT;
    server_name a;
    keepalive_requests 5;
    keepalive_timeout 5s 7;
    root DIR/www;
    access_log DIR/access.log t;
    location /styles/ { charset utf-8; charset_types text/css; expires 1h; server_tokens off; }
    location /quiet/ { access_log off; etag off; }
    location /limited/ { add_header X-A b; }
  }
`;

const CONNECTIONS: readonly (readonly string[])[] = [
  [
    'GET /a.html HTTP/1.1\r\nHost: a\r\n\r\n',
    'HEAD /a.html HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET /a.html?x=1 HTTP/1.1\r\nHost: A\r\nUser-Agent: t\r\n\r\n',
    'GET /styles/s.css HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n',
    // The 5th request of the connection: keepalive_requests 5 closes it, the 6th is not served.
    'GET /quiet/q.txt HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET /a.html HTTP/1.1\r\nHost: a\r\n\r\n',
  ],
  [
    'GET /limited/l.html HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET /a.html HTTP/1.1\r\nHost: a\r\nIf-None-Match: "x"\r\nRange: bytes=0-3\r\n\r\n',
    'GET /a.html HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
  ],
  ['GET /a.html HTTP/1.0\r\n\r\n'],
];

function exchange(port: number, requests: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = connect({ port, host: '127.0.0.1' }, () => socket.write(requests.join('')));
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error(`no close; got ${JSON.stringify(data.slice(0, 300))}`));
    });
  });
}

const mask = (text: string): string => text.replace(/^(Date|Expires): .*$/gm, '$1: X');

async function run(web: RunningWeb): Promise<{ wire: string; log: string }> {
  const logFile = join(web.dir, 'access.log');
  writeFileSync(logFile, '');
  let wire = '';
  for (const requests of CONNECTIONS) wire += mask(await exchange(web.port, requests));
  // Log lines are written as responses end; the file is flushed on the next tick or so.
  await new Promise((resolve) => setTimeout(resolve, 100));
  return { wire, log: readFileSync(logFile, 'latin1') };
}

describe('web: the fast path for plain static GETs', () => {
  let web: RunningWeb | undefined;
  after(async () => web?.stop());

  it('answers byte for byte as the pipeline does, and logs the same lines', async () => {
    web = await startWeb(SERVERS);
    const www = join(web.dir, 'www');
    for (const dir of ['styles', 'quiet', 'limited']) mkdirSync(join(www, dir), { recursive: true });
    writeFileSync(join(www, 'a.html'), '<p>a</p>\n');
    writeFileSync(join(www, 'styles', 's.css'), 'p{}\n');
    writeFileSync(join(www, 'quiet', 'q.txt'), 'q\n');
    writeFileSync(join(www, 'limited', 'l.html'), 'l\n');
    writeFileSync(join(www, 'big.bin'), Buffer.alloc(100 * 1024, 7));

    const lookup = FastStatic.prototype.lookup;
    let hits = 0;
    let baseline: { wire: string; log: string };
    try {
      FastStatic.prototype.lookup = () => null;
      await run(web);
      baseline = await run(web);
    } finally {
      FastStatic.prototype.lookup = function (this: FastStatic, ...args) {
        const hit = lookup.apply(this, args);
        if (hit !== null) hits++;
        return hit;
      };
    }
    try {
      await run(web);
      hits = 0;
      const fast = await run(web);
      assert.equal(fast.wire, baseline.wire);
      assert.equal(fast.log, baseline.log);
      // Most went the fast way: not add_header's location, nor the conditional request, nor
      // the request after the connection's last; nor a file whose cache entry went stale (2 s)
      // or, for s.css, whose answer was prepared in another second (`expires 1h` dates it).
      assert.ok(hits >= 3, `${hits} fast answers`);
      // Right after the pipeline revalidated it, a plain GET is answered the fast way.
      await exchange(web.port, ['GET /a.html HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n']);
      hits = 0;
      await exchange(web.port, ['GET /a.html HTTP/1.1\r\nHost: a\r\n\r\n', 'HEAD /a.html HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n']);
      assert.equal(hits, 2);
      assert.match(fast.wire, /Connection: close\r\n/);
      assert.match(fast.wire, /Keep-Alive: timeout=7\r\n/);
      assert.match(fast.wire, /Server: tsgi\r\n/);
    } finally {
      FastStatic.prototype.lookup = lookup;
    }
  });
});

/**
 * proxy_pass's request, byte for byte against nginx: the same locations served by the real nginx
 * and by tsgi web in front of one echo backend that answers with the raw request it received.
 * Covers nginx's URI rules (with and without a URI part, normalisation and re-escaping, rewrite
 * break, set $args, internal redirects, variables, upstream groups) and its header rules
 * (defaults, proxy_set_header, empty values, hop-by-hop headers, pass_request_headers off,
 * bodies).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { exchange } from '../../helpers/net.js';
import { nginxPeer, startNginx, type RunningNginx } from '../../helpers/nginx.js';
import { startWeb, type RunningWeb } from '../server/tsgi-web.js';
import { rawEchoBackend, responseBody, statusOf, type EchoBackend } from './proxy-helpers.js';

const peer = nginxPeer();

const locations = (back: number): string => `
    location /plain/ { proxy_pass http://127.0.0.1:${back}; }
    location /uri/ { proxy_pass http://127.0.0.1:${back}/new/; }
    location = /exact { proxy_pass http://127.0.0.1:${back}/e; }
    location /rw/ { rewrite ^/rw/(.*)$ /changed/$1 break; proxy_pass http://127.0.0.1:${back}/x/; }
    location /rwnouri/ { rewrite ^/rwnouri/(.*)$ /c/$1 break; proxy_pass http://127.0.0.1:${back}; }
    location /hdr/ {
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header Host $host:$proxy_port;
      proxy_set_header Accept "";
      proxy_set_header X-Empty $http_x_nothing;
      proxy_pass http://127.0.0.1:${back};
    }
    location /v11/ { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://127.0.0.1:${back}; }
    location /ws/ {
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_pass http://127.0.0.1:${back};
    }
    location /nohdr/ { proxy_pass_request_headers off; proxy_pass http://127.0.0.1:${back}; }
    location /setargs/ { set $args "a=1&b"; proxy_pass http://127.0.0.1:${back}; }
    location /var/ { set $b 127.0.0.1:${back}; proxy_pass http://$b/v$request_uri; }
    location /varnouri/ { set $b 127.0.0.1:${back}; proxy_pass http://$b; }
    location /group/ { proxy_pass http://backend/g/; }
    location /method/ { proxy_method PUT; proxy_pass http://127.0.0.1:${back}; }
    location /named/ { try_files /nonexistent @named; }
    location @named { proxy_pass http://127.0.0.1:${back}; }
    location /ep/ { error_page 404 = /uri/from-error; return 404; }
`;

const upstreamBlock = (back: number): string => `upstream backend { server 127.0.0.1:${back}; }`;

/** [name, raw request]. Every request closes its connection so `exchange` returns. */
const CASES: readonly (readonly [string, string])[] = [
  ['no URI part: the target as sent', 'GET /plain/a%20b/../c//d?x=1&y HTTP/1.1\r\nHost: ex.com\r\nUser-Agent: t\r\nConnection: close\r\n\r\n'],
  ['hop-by-hop headers dropped', 'GET /plain/h HTTP/1.1\r\nHost: ex.com\r\nConnection: close\r\nTE: trailers\r\nKeep-Alive: 5\r\nUpgrade: foo\r\nX-Kept: 1\r\n\r\n'],
  ['URI part replaces the location prefix', 'GET /uri/a/b?q=1 HTTP/1.1\r\nHost: ex.com\r\nConnection: close\r\n\r\n'],
  ['URI part: normalised and escaped again', 'GET /uri/a%20b//c/./d/../e%3F?q HTTP/1.1\r\nHost: ex.com\r\nConnection: close\r\n\r\n'],
  ['URI part: unescaped target', 'GET /uri/x/y HTTP/1.0\r\n\r\n'],
  ['exact location', 'GET /exact?z=9 HTTP/1.0\r\n\r\n'],
  ['rewrite break ignores the URI part', 'GET /rw/one/two?k=v HTTP/1.0\r\n\r\n'],
  ['rewrite break without URI part', 'GET /rwnouri/p%41th?k=v HTTP/1.0\r\n\r\n'],
  ['proxy_set_header and $proxy_add_x_forwarded_for', 'GET /hdr/ HTTP/1.1\r\nHost: Ex.COM:8080\r\nAccept: */*\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nConnection: close\r\n\r\n'],
  ['HTTP/1.1 with Connection ""', 'GET /v11/k HTTP/1.1\r\nHost: ex.com\r\nConnection: close\r\n\r\n'],
  ['WebSocket headers set from the client', 'GET /ws/ HTTP/1.1\r\nHost: ex.com\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n'],
  ['proxy_pass_request_headers off', 'GET /nohdr/ HTTP/1.1\r\nHost: ex.com\r\nX-Dropped: 1\r\nConnection: close\r\n\r\n'],
  ['set $args', 'GET /setargs/p?old=1 HTTP/1.0\r\n\r\n'],
  ['variables with a URI part', 'GET /var/x%20y?y=1 HTTP/1.0\r\n\r\n'],
  ['variables without a URI part', 'GET /varnouri/x%20y?y=1 HTTP/1.0\r\n\r\n'],
  ['upstream group: Host is its name', 'GET /group/q HTTP/1.0\r\n\r\n'],
  ['proxy_method', 'GET /method/ HTTP/1.0\r\n\r\n'],
  ['named location keeps the target', 'GET /named/a%20b?n=1 HTTP/1.0\r\n\r\n'],
  ['error_page internal redirect', 'GET /ep/x?e=1 HTTP/1.0\r\n\r\n'],
  ['POST with Content-Length', 'POST /plain/post HTTP/1.1\r\nHost: ex.com\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello'],
  ['POST chunked: buffered and sent with a length', 'POST /plain/chunked HTTP/1.1\r\nHost: ex.com\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n'],
  ['POST with an empty body', 'POST /plain/empty HTTP/1.1\r\nHost: ex.com\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'],
];

describe('proxy_pass sends what nginx sends', { skip: 'skip' in peer ? peer.skip : false }, () => {
  let backend: EchoBackend;
  let nginx: RunningNginx;
  let web: RunningWeb;

  before(async () => {
    if ('skip' in peer) return;
    backend = await rawEchoBackend();
    nginx = await startNginx(peer.path, locations(backend.port), upstreamBlock(backend.port));
    web = await startWeb(`${upstreamBlock(backend.port)}\nserver {\n listen 127.0.0.1:PORT;\n${locations(backend.port)}\n}`);
  });

  after(async () => {
    await web?.stop();
    await nginx?.stop();
    await backend?.close();
  });

  for (const [name, request] of CASES) {
    test(name, async () => {
      const fromNginx = await exchange(nginx.port, request);
      const fromWeb = await exchange(web.port, request);
      assert.equal(statusOf(fromWeb), statusOf(fromNginx), `status\nnginx: ${fromNginx}\ntsgi:  ${fromWeb}`);
      assert.equal(responseBody(fromWeb), responseBody(fromNginx));
    });
  }
});

/**
 * uwsgi_pass from tsgi web to tsgi serve's uwsgi socket (the app server in this process), with
 * the seeds' configurations as written, the param rules, and nginx's 502/504 and error-log lines.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWeb, type RunningWeb } from '../server/tsgi-web.js';
import { freePort } from '../../helpers/nginx.js';
import { echoApp, get, portOf, rawPeer, startApp } from './pass-helpers.js';
import type { ServerHandle } from '../../../src/appserver/serve.js';

describe('uwsgi_pass to tsgi serve --socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-pass-uwsgi-'));
  const socketPath = join(dir, 'uwsgi.sock');
  const app = echoApp('one');
  let appServer: ServerHandle;
  let web: RunningWeb;
  let appPort = 0;

  before(async () => {
    appServer = await startApp(app.app, [
      { protocol: 'uwsgi', address: '127.0.0.1:0' },
      { protocol: 'uwsgi', address: socketPath },
    ]);
    appPort = portOf(appServer);
    web = await startWeb(`
      server {
        listen 127.0.0.1:PORT;
        server_name localhost;
        uwsgi_param X_A server-level;

        # Seed 000, as written.
        location / {
          include uwsgi_params;
          uwsgi_pass 127.0.0.1:${appPort};
        }
        # Seed 000's /myapp, over the UNIX socket.
        location /myapp {
          include uwsgi_params;
          uwsgi_param SCRIPT_NAME /myapp;
          uwsgi_pass unix:${socketPath};
        }
        location /mod {
          include uwsgi_params;
          uwsgi_param SCRIPT_NAME /mod;
          uwsgi_modifier1 30;
          uwsgi_pass 127.0.0.1:${appPort};
        }
        location /inherit {
          uwsgi_pass 127.0.0.1:${appPort};
        }
        location /own {
          uwsgi_param X_B own;
          uwsgi_param X_EMPTY $arg_missing if_not_empty;
          uwsgi_param X_KEPT $arg_missing;
          uwsgi_param HTTP_X_OVER from-config;
          uwsgi_param REQUEST_METHOD $request_method;
          uwsgi_pass 127.0.0.1:${appPort};
        }
      }`);
  });
  after(async () => {
    await web.stop();
    await appServer.close(100);
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes a GET with the uwsgi_params variables and the request headers', async () => {
    const reply = await get(web.port, '/hello/there?x=1', { headers: { 'User-Agent': 'pass-test' } });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['x-app'], 'one');
    const env = reply.json();
    assert.equal(env.REQUEST_METHOD, 'GET');
    assert.equal(env.PATH_INFO, '/hello/there');
    assert.equal(env.QUERY_STRING, 'x=1');
    assert.equal(env.REQUEST_URI, '/hello/there?x=1');
    assert.equal(env.SERVER_NAME, 'localhost');
    assert.equal(env.SERVER_PORT, String(web.port));
    assert.equal(env.REMOTE_ADDR, '127.0.0.1');
    assert.equal(env.HTTP_HOST, '127.0.0.1', 'uwsgi_params sends $host as HTTP_HOST');
    assert.equal(env.HTTP_USER_AGENT, 'pass-test');
    assert.equal(env.SCRIPT_NAME, '');
    assert.equal(typeof env.DOCUMENT_ROOT, 'string');
  });

  it('passes a POST body and its length', async () => {
    const body = Buffer.alloc(5000, 'a');
    const reply = await get(web.port, '/upload', { method: 'POST', body, headers: { 'Content-Type': 'text/plain' } });
    const env = reply.json();
    assert.equal(env.body_length, 5000);
    assert.equal(env.CONTENT_LENGTH, '5000');
    assert.equal(env.CONTENT_TYPE, 'text/plain');
  });

  it('passes a chunked request body with its length (read whole first)', async () => {
    const reply = await get(web.port, '/upload', { method: 'POST', body: 'chunked body', headers: { 'Transfer-Encoding': 'chunked' } });
    assert.equal(reply.status, 200);
    assert.equal(reply.json().body_length, 12);
  });

  it('serves /myapp over unix: with SCRIPT_NAME from uwsgi_param', async () => {
    const reply = await get(web.port, '/myapp/page');
    assert.equal(reply.status, 200);
    const env = reply.json();
    assert.equal(env.SCRIPT_NAME, '/myapp');
    assert.equal(env.PATH_INFO, '/myapp/page', 'uwsgi_params sends $document_uri as PATH_INFO; the app server strips the mount');
  });

  it('sends uwsgi_modifier1 30 in the packet: the app server strips SCRIPT_NAME from PATH_INFO', async () => {
    const env = (await get(web.port, '/mod/page')).json();
    assert.equal(env.SCRIPT_NAME, '/mod');
    assert.equal(env.PATH_INFO, '/page');
  });

  it('inherits uwsgi_param only into a level that sets none', async () => {
    const inherited = (await get(web.port, '/inherit')).json();
    assert.equal(inherited.X_A, 'server-level');
    assert.equal(inherited.DOCUMENT_ROOT, undefined, 'no uwsgi_params at that level');
    const own = (await get(web.port, '/own', { headers: { 'X-Over': 'from-client' } })).json();
    assert.equal(own.X_A, undefined, 'a level with its own uwsgi_param drops the inherited ones');
    assert.equal(own.X_B, 'own');
    assert.equal(own.X_EMPTY, undefined, 'if_not_empty leaves an empty value out');
    assert.equal(own.X_KEPT, '', 'without if_not_empty the empty value is sent');
    assert.equal(own.HTTP_X_OVER, 'from-config', 'a param named HTTP_X overrides the header');
  });

  it('passes a 503 on when http_503 is not a uwsgi_next_upstream condition', async () => {
    const reply = await get(web.port, '/status/503');
    assert.equal(reply.status, 503);
    assert.equal(reply.json().name, 'one');
  });
});

describe('uwsgi_pass failures', () => {
  it('answers 502 for a refused connection, with nginx\'s error-log line', async () => {
    const port = await freePort();
    const web = await startWeb(`server { listen 127.0.0.1:PORT; server_name localhost; location / { uwsgi_pass 127.0.0.1:${port}; } }`);
    try {
      const reply = await get(web.port, '/x');
      assert.equal(reply.status, 502);
      assert.match(reply.body.toString(), /502 Bad Gateway/);
      assert.match(
        web.errorLog(),
        new RegExp(
          `\\[error\\] \\d+#\\d+: \\*\\d+ connect\\(\\) failed \\(111: Connection refused\\) while connecting to upstream, client: 127\\.0\\.0\\.1, server: localhost, request: "GET /x HTTP/1\\.1", upstream: "uwsgi://127\\.0\\.0\\.1:${port}", host: "127\\.0\\.0\\.1:${web.port}"`,
        ),
      );
    } finally {
      await web.stop();
    }
  });

  it('answers 504 when the peer does not answer within uwsgi_read_timeout', async () => {
    const peer = await rawPeer(() => {});
    const web = await startWeb(`server { listen 127.0.0.1:PORT; location / { uwsgi_read_timeout 200ms; uwsgi_pass 127.0.0.1:${peer.port}; } }`);
    try {
      const started = Date.now();
      const reply = await get(web.port, '/slow');
      assert.equal(reply.status, 504);
      assert.ok(Date.now() - started >= 190);
      assert.match(web.errorLog(), /upstream timed out \(110: Connection timed out\) while reading response header from upstream, client: 127\.0\.0\.1/);
    } finally {
      await web.stop();
      await peer.close();
    }
  });

  it('logs "no live upstreams" and answers 502 when every server is down', async () => {
    const port = await freePort();
    const web = await startWeb(`
      upstream backend { server 127.0.0.1:${port} down; }
      server { listen 127.0.0.1:PORT; location / { uwsgi_pass backend; } }`);
    try {
      assert.equal((await get(web.port, '/')).status, 502);
      assert.match(web.errorLog(), /no live upstreams while connecting to upstream, client: .*upstream: "uwsgi:\/\/backend"/);
    } finally {
      await web.stop();
    }
  });
});

/**
 * tsgi web in front of the real application servers: Debian's uWSGI serving the Flask fixture
 * over uwsgi_pass, php-fpm over fastcgi_pass (SCRIPT_FILENAME, fastcgi_split_path_info,
 * fastcgi_index, keep_conn), and tsgi serve's SCGI socket over scgi_pass. A missing peer skips
 * (fails under CI=true).
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWeb, type RunningWeb } from '../server/tsgi-web.js';
import { freePort } from '../../helpers/nginx.js';
import { pythonSkip } from '../../python/harness.js';
import { FIXTURES, phpFpmPeer, runUntilListening, startPhpFpm, uwsgiPeer, type RunningPhpFpm } from '../../upstream/real-peers.js';
import { echoApp, get, portOf, rawPeer, startApp } from './pass-helpers.js';
import type { ServerHandle } from '../../../src/appserver/serve.js';

const FLASK_DIR = fileURLToPath(new URL('../../fixtures/python/', import.meta.url));

const uwsgi = uwsgiPeer();
const flaskSkip = 'skip' in uwsgi ? uwsgi.skip : pythonSkip([['flask', 'python3-flask']]);

describe('uwsgi_pass to real uWSGI serving Flask', { skip: flaskSkip }, () => {
  let stop: () => Promise<void> = async () => {};
  let web: RunningWeb;
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-pass-flask-'));

  before(async () => {
    if (!('path' in uwsgi)) return;
    const port = await freePort();
    const log = join(dir, 'uwsgi.log');
    const peer = await runUntilListening(
      uwsgi.path,
      ['--plugin', 'python3', '--socket', `127.0.0.1:${port}`, '--chdir', FLASK_DIR, '--wsgi-file', 'flask_app.py', '--mount', '/myapp=flask_app.py', '--callable', 'app', '--manage-script-name',
        '--master', '--processes', '1', '--die-on-term', '--need-app', '--disable-logging', '--logto', log],
      dir,
      log,
      [port],
    );
    stop = peer.stop;
    web = await startWeb(`
      server {
        listen 127.0.0.1:PORT;
        location / { include uwsgi_params; uwsgi_pass 127.0.0.1:${port}; }
        location /myapp {
          include uwsgi_params;
          uwsgi_param SCRIPT_NAME /myapp;
          uwsgi_pass 127.0.0.1:${port};
        }
      }`);
  });
  after(async () => {
    await web?.stop();
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the Flask routes: a page, a route variable, a form POST, a streamed response', async () => {
    const home = await get(web.port, '/');
    assert.equal(home.status, 200);
    assert.equal(home.body.toString(), 'Hello from Flask');
    assert.deepEqual((await get(web.port, '/user/ada?greeting=hi')).json(), { name: 'ada', greeting: 'hi' });
    const form = await get(web.port, '/form', { method: 'POST', body: 'a=1&b=2&a=3', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.deepEqual(form.json(), { fields: { a: ['1', '3'], b: ['2'] } });
    const stream = await get(web.port, '/stream?chunks=3');
    assert.equal(stream.headers['transfer-encoding'], 'chunked', 'no Content-Length from Flask: chunked to the client');
    assert.equal(stream.body.toString(), 'line 1 of 3 (/stream)\nline 2 of 3 (/stream)\nline 3 of 3 (/stream)\n');
    assert.equal((await get(web.port, '/missing')).status, 404);
  });

  it('serves the seed\'s /myapp: uwsgi_param SCRIPT_NAME and uWSGI --mount /myapp=... --manage-script-name', async () => {
    const reply = await get(web.port, '/myapp/links');
    assert.equal(reply.status, 200, reply.body.toString());
    const links = reply.json();
    assert.equal(links.script_root, '/myapp');
    assert.equal(links.path, '/links');
    assert.equal(links.user, '/myapp/user/ada');
  });
});

const php = phpFpmPeer();

describe('fastcgi_pass to php-fpm', { skip: 'skip' in php ? php.skip : false }, () => {
  let fpm: RunningPhpFpm;
  let web: RunningWeb;

  before(async () => {
    if (!('path' in php)) return;
    fpm = await startPhpFpm(php.path);
    web = await startWeb(`
      upstream fpm { server 127.0.0.1:${fpm.port}; keepalive 4; }
      server {
        listen 127.0.0.1:PORT;
        root ${FIXTURES};
        location ~ ^(.+\\.php)(/.*)?$ {
          fastcgi_split_path_info ^(.+\\.php)(/.*)$;
          include fastcgi_params;
          fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
          fastcgi_param PATH_INFO $fastcgi_path_info;
          fastcgi_keep_conn on;
          fastcgi_pass fpm;
        }
        location /dir/ {
          include fastcgi_params;
          fastcgi_index echo.php;
          fastcgi_param SCRIPT_FILENAME ${FIXTURES}echo.php;
          fastcgi_param X_SCRIPT $fastcgi_script_name;
          fastcgi_pass unix:${fpm.socket};
        }
      }`);
  });
  after(async () => {
    await web?.stop();
    await fpm?.stop();
    if (fpm) rmSync(fpm.dir, { recursive: true, force: true });
  });

  it('runs the script named by SCRIPT_FILENAME, with PATH_INFO from fastcgi_split_path_info', async () => {
    const reply = await get(web.port, '/echo.php/extra/path?do=env', { headers: { 'X-Twice': 'a' } });
    assert.equal(reply.status, 200);
    const { server } = reply.json<{ server: Record<string, string> }>();
    assert.equal(server.SCRIPT_FILENAME, `${FIXTURES}echo.php`);
    assert.equal(server.SCRIPT_NAME, '/echo.php');
    assert.equal(server.PATH_INFO, '/extra/path');
    assert.equal(server.QUERY_STRING, 'do=env');
    assert.equal(server.HTTP_X_TWICE, 'a');
    assert.deepEqual(reply.headers['x-multi'], 'one, two');
  });

  it('keeps FastCGI connections with fastcgi_keep_conn on + keepalive, and only then', async () => {
    // A TCP forwarder in front of php-fpm counts the connections tsgi web opens.
    let accepted = 0;
    const forwarder = await rawPeer((socket) => {
      accepted++;
      const upstream = connect(fpm.port, '127.0.0.1');
      upstream.on('error', () => socket.destroy());
      socket.pipe(upstream).pipe(socket);
      socket.on('close', () => upstream.destroy());
    });
    const counting = await startWeb(`
      upstream kept { server 127.0.0.1:${forwarder.port}; keepalive 2; }
      server {
        listen 127.0.0.1:PORT;
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME ${FIXTURES}echo.php;
        location /kept { fastcgi_keep_conn on; fastcgi_pass kept; }
        location /closed { fastcgi_pass 127.0.0.1:${forwarder.port}; }
      }`);
    try {
      // php-fpm gives a kept connection one of its 2 children for as long as it stays open: the
      // closed ones go first.
      for (let i = 0; i < 3; i++) assert.equal((await get(counting.port, '/closed?do=env')).status, 200);
      assert.equal(accepted, 3, 'a connection per request without keep_conn');
      const body = Buffer.alloc(100_000, 'z');
      for (let i = 0; i < 3; i++) {
        const reply = await get(counting.port, '/kept?do=env', { method: 'POST', body, headers: { 'Content-Type': 'application/octet-stream' } });
        assert.equal(reply.json<{ body_length: number }>().body_length, body.length);
      }
      assert.equal(accepted, 4, 'three requests on one kept connection');
    } finally {
      await counting.stop();
      await forwarder.close();
    }
  });

  it('passes a PHP 500 on and logs its stderr line', async () => {
    const reply = await get(web.port, '/echo.php?do=error');
    assert.equal(reply.status, 500);
    assert.match(web.errorLog(), /FastCGI sent in stderr: .*echo\.php: about to throw/);
  });

  it('appends fastcgi_index to a URI ending in / in $fastcgi_script_name', async () => {
    const { server } = (await get(web.port, '/dir/?do=env')).json<{ server: Record<string, string> }>();
    assert.equal(server.X_SCRIPT, '/dir/echo.php');
  });
});

describe('scgi_pass to tsgi serve --scgi-socket', () => {
  let appServer: ServerHandle;
  let web: RunningWeb;

  before(async () => {
    appServer = await startApp(echoApp('scgi').app, [{ protocol: 'scgi', address: '127.0.0.1:0' }]);
    web = await startWeb(`
      server {
        listen 127.0.0.1:PORT;
        location / { include scgi_params; scgi_pass 127.0.0.1:${portOf(appServer)}; }
      }`);
  });
  after(async () => {
    await web.stop();
    await appServer.close(100);
  });

  it('passes a request with scgi_params, a body, and repeated headers joined', async () => {
    const reply = await get(web.port, '/s/path?q=1', { method: 'POST', body: 'hello', headers: { 'X-Twice': 'a, b', 'Content-Type': 'text/plain' } });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.status, undefined, 'the Status header is hidden');
    const env = reply.json();
    assert.equal(env.name, 'scgi');
    assert.equal(env.REQUEST_METHOD, 'POST');
    assert.equal(env.QUERY_STRING, 'q=1');
    assert.equal(env.CONTENT_LENGTH, '5');
    assert.equal(env.body_length, 5);
    assert.equal(env.HTTP_X_TWICE, 'a, b');
  });
});

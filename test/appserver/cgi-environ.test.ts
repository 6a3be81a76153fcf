/** The environ built from CGI variables as nginx's *_params files send them. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { buildCgiEnviron } from '../../src/appserver/cgi-environ.js';
import { BodyInput } from '../../src/gateway/input.js';
import { LogErrorStream } from '../../src/gateway/environ.js';

const context = { errors: new LogErrorStream(() => {}), multiprocess: true, serverName: 'fallback', serverPort: '9000' };
const build = (vars: Record<string, string>, strip = false) =>
  buildCgiEnviron(Object.entries(vars).flat(), BodyInput.empty(), context, { stripScriptName: strip });

// What Debian's /etc/nginx/uwsgi_params produces for `GET /app/x?y=1`.
const UWSGI_PARAMS = {
  QUERY_STRING: 'y=1',
  REQUEST_METHOD: 'GET',
  CONTENT_TYPE: '',
  CONTENT_LENGTH: '',
  REQUEST_URI: '/app/x%20y?y=1',
  PATH_INFO: '/app/x y',
  DOCUMENT_ROOT: '/usr/share/nginx/html',
  SERVER_PROTOCOL: 'HTTP/1.1',
  REQUEST_SCHEME: 'http',
  HTTPS: '',
  REMOTE_ADDR: '127.0.0.1',
  REMOTE_PORT: '40000',
  SERVER_PORT: '80',
  SERVER_NAME: 'example.test',
  HTTP_HOST: 'example.test',
};

it('passes uwsgi_params through, dropping empty CONTENT_TYPE and CONTENT_LENGTH', () => {
  const environ = build(UWSGI_PARAMS);
  assert.equal(environ.PATH_INFO, '/app/x y');
  assert.equal(environ.SCRIPT_NAME, '');
  assert.equal(environ.QUERY_STRING, 'y=1');
  assert.equal('CONTENT_LENGTH' in environ, false);
  assert.equal('CONTENT_TYPE' in environ, false);
  assert.equal(environ.SERVER_NAME, 'example.test');
  assert.equal(environ.HTTP_HOST, 'example.test');
  assert.equal(environ['tsgi.url_scheme'], 'http');
  assert.equal(environ['tsgi.multiprocess'], true);
});

it('strips SCRIPT_NAME from PATH_INFO for modifier1 30 / manage-script-name', () => {
  const environ = build({ ...UWSGI_PARAMS, SCRIPT_NAME: '/app' }, true);
  assert.equal(environ.SCRIPT_NAME, '/app');
  assert.equal(environ.PATH_INFO, '/x y');
  const notPrefix = build({ ...UWSGI_PARAMS, SCRIPT_NAME: '/ap' }, true);
  assert.equal(notPrefix.PATH_INFO, '/app/x y', 'only at a segment boundary');
});

it('derives PATH_INFO from DOCUMENT_URI or REQUEST_URI when fastcgi_params sends none', () => {
  const fastcgi = build({ REQUEST_METHOD: 'POST', SCRIPT_NAME: '/hello/world', REQUEST_URI: '/hello/world?a', DOCUMENT_URI: '/hello/world', QUERY_STRING: 'a', CONTENT_LENGTH: '3' });
  assert.equal(fastcgi.SCRIPT_NAME, '', "fastcgi_params' SCRIPT_NAME is the script path, not a mount point");
  assert.equal(fastcgi.PATH_INFO, '/hello/world');
  assert.equal(fastcgi.CONTENT_LENGTH, '3');
  const scgi = build({ REQUEST_URI: '/caf%C3%A9?q' });
  assert.equal(scgi.PATH_INFO, '/café');
  const mounted = build({ SCRIPT_NAME: '/myapp', REQUEST_URI: '/myapp/page' });
  assert.equal(mounted.SCRIPT_NAME, '/myapp');
  assert.equal(mounted.PATH_INFO, '/page');
});

it('fills required keys the front server left out, and reads the scheme from HTTPS', () => {
  const environ = build({ HTTPS: 'on' });
  assert.equal(environ.REQUEST_METHOD, 'GET');
  assert.equal(environ.PATH_INFO, '/');
  assert.equal(environ.SERVER_NAME, 'fallback');
  assert.equal(environ.SERVER_PORT, '9000');
  assert.equal(environ.SERVER_PROTOCOL, 'HTTP/1.1');
  assert.equal(environ['tsgi.url_scheme'], 'https');
  assert.equal(build({ UWSGI_SCHEME: 'https' })['tsgi.url_scheme'], 'https');
});

it('joins a header nginx sent twice, as nginx 1.23+ does', () => {
  const environ = buildCgiEnviron(['HTTP_X_A', '1', 'HTTP_X_A', '2', 'HTTP_COOKIE', 'a=1', 'HTTP_COOKIE', 'b=2', 'SCRIPT_NAME', '/x', 'SCRIPT_NAME', '/y', 'PATH_INFO', '/z'], BodyInput.empty(), context);
  assert.equal(environ.HTTP_X_A, '1, 2');
  assert.equal(environ.HTTP_COOKIE, 'a=1; b=2');
  assert.equal(environ.SCRIPT_NAME, '/y');
});

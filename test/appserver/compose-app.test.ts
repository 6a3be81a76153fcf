/** --mount (with and without --manage-script-name) and --static-map. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { mountDispatcher } from '../../src/appserver/compose-app.js';
import { staticMap, parseStaticMapping } from '../../src/appserver/static-map.js';
import { serve, type ServerHandle } from '../../src/appserver/serve.js';
import type { App, Environ, HeaderList } from '../../src/gateway/types.js';
import { makeEnviron } from '../helpers/environ.js';
import { nginxPeer, startNginx, type RunningNginx } from '../helpers/nginx.js';

const named = (name: string): App => (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [`${name} ${environ.SCRIPT_NAME}|${environ.PATH_INFO}`];
};

async function call(app: App, environ: Environ): Promise<{ status: string; headers: HeaderList; body: string }> {
  let status = '';
  let headers: HeaderList = [];
  const body = await app(environ, (s, h) => {
    status = s;
    headers = h;
    return async () => {};
  });
  const parts: string[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) parts.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
  await body.close?.();
  return { status, headers, body: parts.join('') };
}

describe('mountDispatcher', () => {
  const mounts: Array<[string, App]> = [['/myapp', named('myapp')], ['/myapp/admin', named('admin')]];

  it('with manage-script-name, picks by PATH_INFO and sets SCRIPT_NAME (the seed: nginx also sends SCRIPT_NAME /myapp)', async () => {
    const app = mountDispatcher(mounts, named('main'), true);
    assert.equal((await call(app, makeEnviron({ SCRIPT_NAME: '/myapp', PATH_INFO: '/myapp/page' }))).body, 'myapp /myapp|/page');
    assert.equal((await call(app, makeEnviron({ PATH_INFO: '/myapp/admin/x' }))).body, 'admin /myapp/admin|/x');
    assert.equal((await call(app, makeEnviron({ PATH_INFO: '/myapplication' }))).body, 'main |/myapplication');
  });

  it('without it, picks by SCRIPT_NAME and leaves PATH_INFO alone', async () => {
    const app = mountDispatcher(mounts, null, false);
    assert.equal((await call(app, makeEnviron({ SCRIPT_NAME: '/myapp', PATH_INFO: '/myapp/page' }))).body, 'myapp /myapp|/myapp/page');
    const miss = await call(app, makeEnviron({ PATH_INFO: '/myapp/page' }));
    assert.equal(miss.status, '404 Not Found');
  });
});

describe('staticMap', () => {
  const root = mkdtempSync(join(tmpdir(), 'tsgi-static-'));
  mkdirSync(join(root, 'css'));
  writeFileSync(join(root, 'css', 'site.css'), 'body{}');
  writeFileSync(join(tmpdir(), 'tsgi-outside.txt'), 'secret');
  utimesSync(join(root, 'css', 'site.css'), new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'));
  const app = staticMap([parseStaticMapping(`/static=${root}`)!], named('app'));

  it('serves an existing file with its type, length and Last-Modified', async () => {
    const response = await call(app, makeEnviron({ PATH_INFO: '/static/css/site.css' }));
    assert.equal(response.status, '200 OK');
    assert.equal(response.body, 'body{}');
    assert.deepEqual(response.headers, [
      ['Content-Type', 'text/css'],
      ['Content-Length', '6'],
      ['Last-Modified', 'Thu, 01 Jan 2026 00:00:00 GMT'],
    ]);
  });

  it('answers 304 to If-Modified-Since, and HEAD without a body', async () => {
    const notModified = await call(app, makeEnviron({ PATH_INFO: '/static/css/site.css', HTTP_IF_MODIFIED_SINCE: 'Thu, 01 Jan 2026 00:00:00 GMT' }));
    assert.equal(notModified.status, '304 Not Modified');
    const head = await call(app, makeEnviron({ REQUEST_METHOD: 'HEAD', PATH_INFO: '/static/css/site.css' }));
    assert.equal(head.body, '');
  });

  it('falls through to the application for missing files, directories, other methods and escapes', async () => {
    for (const environ of [
      makeEnviron({ PATH_INFO: '/static/missing.css' }),
      makeEnviron({ PATH_INFO: '/static/css' }),
      makeEnviron({ REQUEST_METHOD: 'POST', PATH_INFO: '/static/css/site.css' }),
      makeEnviron({ PATH_INFO: '/static/../tsgi-outside.txt' }),
    ]) {
      assert.match((await call(app, environ)).body, /^app /, environ.PATH_INFO);
    }
  });
});

const nginx = nginxPeer();
describe('the seed: nginx `uwsgi_param SCRIPT_NAME /myapp` + mount = /myapp=... + manage-script-name', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let server: ServerHandle;
  let front: RunningNginx;
  before(async () => {
    if (!('path' in nginx)) return;
    server = await serve(mountDispatcher([['/myapp', named('myapp')]], null, true), { sockets: [{ protocol: 'uwsgi', address: '127.0.0.1:0' }], log: false });
    const port = 'port' in server.address ? server.address.port : 0;
    front = await startNginx(nginx.path, `location /myapp { include /etc/nginx/uwsgi_params; uwsgi_param SCRIPT_NAME /myapp; uwsgi_pass 127.0.0.1:${port}; }`);
  });
  after(async () => {
    await front?.stop();
    await server?.close(1000);
  });

  it('the app sees SCRIPT_NAME /myapp and PATH_INFO without it', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      request({ port: front.port, host: '127.0.0.1', path: '/myapp/hello?x=1' }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => resolve(text));
      })
        .on('error', reject)
        .end();
    });
    assert.equal(body, 'myapp /myapp|/hello');
  });
});

/**
 * A real Django project (Debian's python3-django) generated with `startproject`, migrated and
 * collectstatic'd, served by `tsgi serve --http-socket ... --chdir DIR --module mysite.wsgi
 * --static-map /static=STATIC_ROOT`: a page, the admin login page, its POST with and without the
 * CSRF token, and the admin's CSS through --static-map.
 */
import { before, after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTsgi, waitForUrl, type Running } from '../helpers/process.js';
import { freePort } from '../helpers/nginx.js';
import { pythonSkip } from './harness.js';
import { HELLO, makeDjangoProject, type DjangoProject } from './django-project.js';

const skip = pythonSkip([['django', 'python3-django']]);

describe('tsgi serve: a generated Django project', { skip }, () => {
  let root: string;
  let project: DjangoProject;
  let tsgi: Running;
  let url: string;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'tsgi-django-'));
    project = makeDjangoProject(join(root, 'site'), 'mysite', { migrate: true, collectstatic: true });
    const port = await freePort();
    tsgi = runTsgi([
      '--http-socket', `127.0.0.1:${port}`,
      '--chdir', project.dir,
      '--module', 'mysite.wsgi',
      '--static-map', `/static=${project.staticRoot}`,
      '--master', '--processes', '2', '--threads', '2',
    ]);
    url = (await waitForUrl(tsgi, 30_000)).replace(/\/$/, '');
  });

  after(async () => {
    await tsgi?.stop();
    assert.doesNotMatch(tsgi?.output() ?? '', /Traceback/, tsgi?.output());
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('serves a view of the project', async () => {
    const res = await fetch(`${url}/hello/`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), HELLO);
    const missing = await fetch(`${url}/nowhere/`);
    assert.equal(missing.status, 404, 'Django answers its own 404 (DEBUG off)');
  });

  it('the admin login page: 200 with the form and a CSRF cookie', async () => {
    const res = await fetch(`${url}/admin/login/?next=/admin/`);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /<form [^>]*action="\/admin\/login\/\?next=\/admin\/"[^>]*method="post"/);
    assert.match(html, /name="username"/);
    assert.match(html, /name="csrfmiddlewaretoken" value="[^"]+"/);
    assert.ok(res.headers.getSetCookie().some((cookie) => cookie.startsWith('csrftoken=')), 'csrftoken cookie');
  });

  it('a POST with the CSRF cookie and token passes the check; without the token it is 403', async () => {
    const page = await fetch(`${url}/admin/login/`);
    const html = await page.text();
    const token = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(html)![1]!;
    const cookie = page.headers.getSetCookie().find((c) => c.startsWith('csrftoken='))!.split(';')[0]!;
    const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();
    const headers = { Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded' };

    const accepted = await fetch(`${url}/admin/login/`, {
      method: 'POST',
      headers,
      body: form({ csrfmiddlewaretoken: token, username: 'nobody', password: 'wrong', next: '/admin/' }),
      redirect: 'manual',
    });
    const answer = await accepted.text();
    // No superuser exists: the form comes back with Django's message, past the CSRF check and the DB.
    assert.equal(accepted.status, 200, answer.slice(0, 500));
    assert.match(answer, /Please enter the correct username and password/);

    const refused = await fetch(`${url}/admin/login/`, {
      method: 'POST',
      headers,
      body: form({ username: 'nobody', password: 'wrong' }),
      redirect: 'manual',
    });
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /CSRF/);
  });

  it('static files through --static-map: the admin CSS, byte for byte, as text/css; a missing one falls through to Django', async () => {
    const res = await fetch(`${url}/static/admin/css/base.css`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/css');
    const body = Buffer.from(await res.arrayBuffer());
    assert.deepEqual(body, readFileSync(join(project.staticRoot, 'admin', 'css', 'base.css')));
    assert.equal(res.headers.get('content-length'), String(body.length));
    const lastModified = res.headers.get('last-modified')!;
    const again = await fetch(`${url}/static/admin/css/base.css`, { headers: { 'If-Modified-Since': lastModified } });
    assert.equal(again.status, 304);
    const js = await fetch(`${url}/static/admin/js/core.js`);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    await js.arrayBuffer();
    const missing = await fetch(`${url}/static/admin/css/nothing.css`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
    const escape = await fetch(`${url}/static/..%2fmysite/settings.py`);
    assert.equal(escape.status, 404, 'the map never leaves STATIC_ROOT');
    await escape.arrayBuffer();
  });
});

/**
 * The seeds' Python deployments run verbatim with `tsgi` in place of `uwsgi` (only paths and
 * ports adapted), behind a real nginx with the seeds' own `uwsgi_pass` locations:
 * - seed 000: `tsgi -x app_config.xml` (pythonpath, module, callable, socket, master, processes 4,
 *   memory-report), nginx `location / { include uwsgi_params; uwsgi_pass ...; }`;
 * - seed 004: `tsgi --ini site.ini` (vhost, plugins, socket, master, enable-threads, workers,
 *   wsgi-file, virtualenv, chdir) serving a startproject'ed Django project from a virtualenv;
 * - seed 004: `tsgi -x nowamagic_pj.xml` (socket, listen, master, pythonpath, processes, logdate,
 *   daemonize, plugins; no app, so uWSGI's "full dynamic mode": 500s);
 * - seed 000: `mount=/myapp=server.py` + `manage-script-name=true` behind
 *   `location /myapp { include uwsgi_params; uwsgi_param SCRIPT_NAME /myapp; uwsgi_pass ...; }`,
 *   on TCP and on the socket file of the seed's last section: a Flask app's routes and url_for.
 */
import { before, after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTsgi, runTsgiToExit, type Running } from '../helpers/process.js';
import { freePort, nginxPeer, startNginx, type RunningNginx } from '../helpers/nginx.js';
import { PYTHON, pythonEnv, pythonSkip } from './harness.js';
import { HELLO, makeDjangoProject } from './django-project.js';

const nginx = nginxPeer();
const skipFlask = 'skip' in nginx ? nginx.skip : pythonSkip([['flask', 'python3-flask']]);
const skipDjango = 'skip' in nginx ? nginx.skip : pythonSkip([['django', 'python3-django'], ['venv', 'python3-venv']]);
const nginxPath = 'path' in nginx ? nginx.path : '';

/** Waits for the master's "serving ... on uwsgi://..." line. */
async function waitForServing(running: Running, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!/serving .* on uwsgi:/.test(running.output())) {
    if (running.child.exitCode !== null) throw new Error(`tsgi exited with ${running.child.exitCode}:\n${running.output()}`);
    if (Date.now() - started > timeoutMs) throw new Error(`tsgi did not start in ${timeoutMs} ms:\n${running.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { redirect: 'manual' });
  return { status: res.status, body: await res.text() };
}

function cleanUp(root: string, tsgi: Running | undefined, front: RunningNginx | undefined): Promise<void> {
  return (async () => {
    await front?.stop();
    const code = await tsgi?.stop('SIGINT');
    if (root !== '') rmSync(root, { recursive: true, force: true });
    assert.doesNotMatch(tsgi?.output() ?? '', /Traceback/, tsgi?.output());
    assert.ok(code === undefined || code === 0 || code === 'SIGINT', `tsgi stopped with ${String(code)}:\n${tsgi?.output()}`);
  })();
}

// Seed 000 calls its module `flask` (flaskdemo/flask.py): with the pythonpath first on sys.path
// it shadows the Flask package, under uWSGI as here, so the seed's file cannot itself import
// Flask. It is a plain WSGI app that tells which worker answered.
const FLASKDEMO = `import os


def app(environ, start_response):
    body = ('flaskdemo %s pid=%d' % (environ['PATH_INFO'], os.getpid())).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
`;

describe('seed 000: tsgi -x app_config.xml behind nginx', { skip: skipFlask }, () => {
  let root = '';
  let tsgi: Running;
  let front: RunningNginx;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'tsgi-seed-xml-'));
    mkdirSync(join(root, 'flaskdemo'));
    writeFileSync(join(root, 'flaskdemo', 'flask.py'), FLASKDEMO);
    const port = await freePort();
    writeFileSync(
      join(root, 'app_config.xml'),
      `<uwsgi>
     <pythonpath>${root}/flaskdemo</pythonpath>
     <module>flask</module>
     <callable>app</callable>
     <socket>127.0.0.1:${port}</socket>
     <master/>
     <processes>4</processes>
     <memory-report/>
</uwsgi>
`,
    );
    tsgi = runTsgi(['-x', 'app_config.xml'], { cwd: root });
    await waitForServing(tsgi);
    front = await startNginx(nginxPath, `location / {
    include /etc/nginx/uwsgi_params;
    uwsgi_pass 127.0.0.1:${port};
    root   html;
    index  index.html index.htm;
}`);
  });

  after(() => cleanUp(root, tsgi, front));

  it('four Python workers answer through nginx', async () => {
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => get(front.port, `/page/${i}`)));
    answers.forEach((answer, i) => {
      assert.equal(answer.status, 200);
      assert.match(answer.body, new RegExp(`^flaskdemo /page/${i} pid=\\d+$`));
    });
    const log = tsgi.output();
    for (let id = 1; id <= 4; id++) assert.match(log, new RegExp(`spawned tsgi worker ${id} \\(pid: \\d+`));
    assert.match(log, /added .*flaskdemo to pythonpath/);
    // <memory-report/>: the Python workers' request lines carry uWSGI's memory prefix.
    const started = Date.now();
    while (!/\{address space usage: \d+ bytes\/\d+MB\} \{rss usage: \d+ bytes\/\d+MB\} \[pid: \d+\|app: 0\|req: \d+\/\d+\] [^\n]* GET \/page\/15 => generated/.test(tsgi.output()) && Date.now() - started < 3000) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.match(tsgi.output(), /\{address space usage: \d+ bytes\/\d+MB\} \{rss usage: \d+ bytes\/\d+MB\} \[pid: \d+\|app: 0\|req: \d+\/\d+\] [^\n]* GET \/page\/15 => generated/);
    assert.doesNotMatch(tsgi.output(), /has no effect with Python workers/);
  });
});

describe('seed 004: tsgi --ini with a Django project in a virtualenv behind nginx', { skip: skipDjango }, () => {
  let root = '';
  let tsgi: Running;
  let front: RunningNginx;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'tsgi-seed-ini-'));
    // The seed's layout: /root/nowamagic_venv (the venv) holding nowamagic_pj (the project).
    const venv = join(root, 'nowamagic_venv');
    const made = spawnSync(PYTHON, ['-m', 'venv', '--system-site-packages', '--without-pip', venv], { env: pythonEnv(), encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const project = makeDjangoProject(join(venv, 'nowamagic_pj'), 'nowamagic_pj');
    const port = await freePort();
    writeFileSync(
      join(venv, 'nowamagic_pj.ini'),
      `[uwsgi]
vhost = false
plugins = python
socket = 127.0.0.1:${port}
master = true
enable-threads = true
workers = 1
wsgi-file = ${project.dir}/nowamagic_pj/wsgi.py
virtualenv = ${venv}
chdir = ${project.dir}
`,
    );
    tsgi = runTsgi(['--ini', join(venv, 'nowamagic_pj.ini')], { cwd: root });
    await waitForServing(tsgi);
    front = await startNginx(nginxPath, `location / {
uwsgi_pass 127.0.0.1:${port};
#include uwsgi_params;
include /etc/nginx/uwsgi_params;
}`);
  });

  after(() => cleanUp(root, tsgi, front));

  it("serves the project's view with the virtualenv's interpreter", async () => {
    const answer = await get(front.port, '/hello/');
    assert.equal(answer.status, 200);
    assert.equal(answer.body, HELLO);
    assert.equal((await get(front.port, '/nowhere/')).status, 404);
    assert.match(tsgi.output(), new RegExp(`python: ${root}/nowamagic_venv/bin/python`));
    assert.match(tsgi.output(), /option "plugins".* is accepted and ignored/);
  });
});

describe("seed 004: tsgi -x with the seed's xml (no app: full dynamic mode), daemonized, behind nginx", { skip: skipFlask }, () => {
  let root = '';
  let pid = 0;
  let front: RunningNginx | undefined;
  const logFile = (): string => join(root, 'uwsgi.log');

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'tsgi-seed-xml-dynamic-'));
    const port = await freePort();
    writeFileSync(
      join(root, 'nowamagic_pj.xml'),
      `<uwsgi><socket>127.0.0.1:${port}</socket>
<listen>80</listen>
<master>true</master>
<pythonpath>${root}</pythonpath>
<processes>1</processes>
<logdate>true</logdate>
<daemonize>${root}/uwsgi.log</daemonize>
<plugins>python</plugins>
</uwsgi>
`,
    );
    const launched = await runTsgiToExit(['-x', join(root, 'nowamagic_pj.xml')], { cwd: root });
    assert.equal(launched.code, 0, launched.output);
    pid = Number(/running in the background \(pid (\d+)\)/.exec(launched.output)?.[1]);
    const started = Date.now();
    while (!/serving .* on uwsgi:/.test(readLog(logFile())) && Date.now() - started < 30_000) await new Promise((resolve) => setTimeout(resolve, 50));
    front = await startNginx(nginxPath, `location / {
uwsgi_pass 127.0.0.1:${port};
include /etc/nginx/uwsgi_params;
}`);
  });

  after(async () => {
    await front?.stop();
    if (pid > 0) {
      process.kill(pid, 'SIGINT');
      const stopping = Date.now();
      while (alive(pid) && Date.now() - stopping < 10_000) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(alive(pid), false, 'the daemonized master stopped on SIGINT');
    }
    if (root !== '') rmSync(root, { recursive: true, force: true });
  });

  it('starts as uWSGI does without an app: every request gets 500, the log says why, with dates', async () => {
    const answer = await get(front!.port, '/');
    assert.equal(answer.status, 500);
    const log = readLog(logFile());
    assert.match(log, /\*\*\* no app loaded\. going in full dynamic mode \*\*\*/);
    assert.match(log, /serving no app \(full dynamic mode\) with 1 worker\(s\)/);
    assert.match(log, /^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} - /m, 'logdate');
  });
});

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// The seed's server.py: a Flask app whose links must carry the mountpoint.
const SERVER_PY = `from flask import Flask, request, url_for

app = Flask(__name__)


@app.route('/')
def index():
    return 'index of %s, hello at %s' % (request.script_root, url_for('hello', name='ada'))


@app.route('/hello/<name>')
def hello(name):
    return 'hello %s (SCRIPT_NAME=%s PATH_INFO=%s)' % (name, request.environ['SCRIPT_NAME'], request.environ['PATH_INFO'])
`;

for (const kind of ['tcp', 'unix'] as const) {
  describe(`seed 000: mount=/myapp=server.py with manage-script-name, nginx sends SCRIPT_NAME (${kind} socket)`, { skip: skipFlask }, () => {
    let root = '';
    let tsgi: Running;
    let front: RunningNginx;

    before(async () => {
      root = mkdtempSync(join(tmpdir(), 'tsgi-seed-mount-'));
      writeFileSync(join(root, 'server.py'), SERVER_PY);
      const address = kind === 'tcp' ? `127.0.0.1:${await freePort()}` : join(root, 'uwsgi.sock');
      writeFileSync(
        join(root, 'site.ini'),
        `[uwsgi]
socket=${address}
chdir=${root}
callable=app
master=true
mount=/myapp=server.py
manage-script-name=true
`,
      );
      tsgi = runTsgi(['--ini', 'site.ini'], { cwd: root });
      await waitForServing(tsgi);
      front = await startNginx(nginxPath, `location /myapp {
    include /etc/nginx/uwsgi_params;
    uwsgi_param SCRIPT_NAME /myapp;
    uwsgi_pass ${kind === 'tcp' ? address : `unix:${address}`};
}`);
    });

    after(() => cleanUp(root, tsgi, front));

    it('url_for gives /myapp/... links and the routes resolve under the mountpoint', async () => {
      const index = await get(front.port, '/myapp/');
      assert.equal(index.status, 200);
      assert.equal(index.body, 'index of /myapp, hello at /myapp/hello/ada');
      const hello = await get(front.port, '/myapp/hello/ada');
      assert.equal(hello.status, 200);
      assert.equal(hello.body, 'hello ada (SCRIPT_NAME=/myapp PATH_INFO=/hello/ada)');
      assert.equal((await get(front.port, '/myapp/nowhere')).status, 404, "Flask's own 404 under the mount");
      assert.match(tsgi.output(), /WSGI app 1 \(mountpoint='\/myapp'\) ready/);
    });
  });
}

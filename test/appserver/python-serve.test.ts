/**
 * `tsgi serve` with Python WSGI apps (--wsgi-file / --module): the real `tsgi` binary, its master
 * spawning python/tsgi_worker.py under Debian's /usr/bin/python3 on the bound socket (fd 3).
 * The seeds' commands with `tsgi` in place of `uwsgi`: --http with processes x threads, --socket
 * with a uwsgi client in front, a Flask app, a segfaulting worker respawned, a reload, and an
 * import error with --need-app. Skipped (with the reason) without /usr/bin/python3 or Flask;
 * failed under CI=true.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTsgi, runTsgiToExit, waitForUrl, type Running } from '../helpers/process.js';
import { cgiVars, FIXTURES, PYTHON, pythonSkip, readBody } from '../python/harness.js';
import { UwsgiClient } from '../../src/upstream/uwsgi-client.js';

const skip = pythonSkip([['flask', 'python3-flask']]);

const running: Running[] = [];
const tempDirs: string[] = [];

after(async () => {
  for (const tsgi of running) await tsgi.stop('SIGINT');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function start(args: string[]): Running {
  const tsgi = runTsgi(args, { cwd: FIXTURES });
  running.push(tsgi);
  return tsgi;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-python-serve-'));
  tempDirs.push(dir);
  return dir;
}

async function waitForOutput(tsgi: Running, pattern: RegExp, ms = 15_000): Promise<void> {
  const started = Date.now();
  while (!pattern.test(tsgi.output())) {
    if (Date.now() - started > ms) throw new Error(`output never matched ${String(pattern)}:\n${tsgi.output()}`);
    if (tsgi.child.exitCode !== null) throw new Error(`tsgi exited with ${tsgi.child.exitCode}:\n${tsgi.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** `/slow` of wsgi_app.py answers the request thread's name, and the worker's pid in X-Pid. */
async function slow(url: string, ms: number): Promise<{ pid: string; thread: string }> {
  const response = await fetch(`${url}slow?ms=${ms}`);
  assert.equal(response.status, 200);
  return { pid: response.headers.get('x-pid') ?? '', thread: await response.text() };
}

describe('tsgi serve with Python WSGI apps', { skip }, () => {
  it('the seed command: --http :PORT --wsgi-file --master --processes 2 --threads 2 (router + Python workers)', async () => {
    const tsgi = start(['--http', ':0', '--wsgi-file', 'wsgi_app.py', '--master', '--processes', '2', '--threads', '2']);
    const url = (await waitForUrl(tsgi)).replace('0.0.0.0', '127.0.0.1');
    // 8 requests of 400 ms at once: 2 workers x 2 threads all take some.
    const answers = await Promise.all(Array.from({ length: 8 }, () => slow(url, 400)));
    const pids = new Set(answers.map((a) => a.pid));
    const slots = new Set(answers.map((a) => `${a.pid}/${a.thread}`));
    assert.equal(pids.size, 2, JSON.stringify(answers));
    assert.equal(slots.size, 4, JSON.stringify(answers));
    assert.match(tsgi.output(), /spawned tsgi worker 2 \(pid: \d+, cores: 2, python: \/usr\/bin\/python3\)/);
    assert.match(tsgi.output(), /spawned tsgi http 1/);
    // wsgi.multithread and wsgi.multiprocess follow --threads and --processes.
    const env = (await (await fetch(`${url}env`)).json()) as { wsgi: Record<string, unknown> };
    assert.equal(env.wsgi['wsgi.multithread'], true);
    assert.equal(env.wsgi['wsgi.multiprocess'], true);
    assert.equal(await tsgi.stop('SIGTERM'), 0);
    assert.match(tsgi.output(), /The work of process \d+ is done/);
  });

  it('a segfaulting Python worker gets its request a 502 from the router and is respawned', async () => {
    const tsgi = start(['--http', '127.0.0.1:0', '--wsgi-file', 'wsgi_app.py', '--processes', '1']);
    const url = await waitForUrl(tsgi);
    const before = await slow(url, 1);
    const crashed = await fetch(`${url}segfault`);
    assert.equal(crashed.status, 502);
    await crashed.arrayBuffer();
    await waitForOutput(tsgi, /died, killed by signal 11/);
    await waitForOutput(tsgi, /Respawned tsgi worker 1 \(new pid: \d+\)/);
    await waitForOutput(tsgi, /tsgi-python ready pid=\d+[\s\S]*tsgi-python ready pid=\d+/);
    const afterCrash = await slow(url, 1);
    assert.notEqual(afterCrash.pid, before.pid);
    assert.match(tsgi.output(), /Fatal Python error: Segmentation fault/);
  });

  it('--socket (uwsgi, what nginx uwsgi_pass speaks) with a uwsgi client in front; --virtualenv; HUP reloads', async () => {
    const dir = tempDir();
    // A "virtualenv" whose bin/python is Debian's interpreter: --virtualenv picks DIR/bin/python.
    mkdirSync(join(dir, 'venv', 'bin'), { recursive: true });
    symlinkSync(PYTHON, join(dir, 'venv', 'bin', 'python'));
    const socketPath = join(dir, 'app.sock');
    const tsgi = start(['--socket', socketPath, '--wsgi-file', 'wsgi_app.py', '--master', '--processes', '2', '-H', join(dir, 'venv')]);
    await waitForOutput(tsgi, /serving wsgi_app\.py with 2 worker\(s\) on uwsgi:/);
    assert.match(tsgi.output(), /python: .*venv\/bin\/python\)/);
    const client = new UwsgiClient({ address: `unix:${socketPath}`, readTimeout: 10_000, log: () => {} });
    const ask = async (): Promise<string> => {
      const response = await client.request({ vars: cgiVars({ path: '/slow', query: 'ms=200' }) });
      assert.equal(response.status, 200);
      await readBody(response);
      const pid = response.headers.findIndex((value, index) => index % 2 === 0 && value.toLowerCase() === 'x-pid');
      return response.headers[pid + 1]!;
    };
    const first = new Set(await Promise.all([ask(), ask(), ask(), ask()]));
    assert.equal(first.size, 2);
    tsgi.child.kill('SIGHUP');
    await waitForOutput(tsgi, /reload complete: 2 worker\(s\) of generation 2 serving/);
    const second = new Set(await Promise.all([ask(), ask(), ask(), ask()]));
    for (const pid of second) assert.ok(!first.has(pid), `pid ${pid} is from before the reload`);
    assert.equal(await tsgi.stop('SIGTERM'), 0);
  });

  it('a Flask app through --http', async () => {
    const tsgi = start(['--http', '127.0.0.1:0', '--wsgi-file', 'flask_app.py', '--processes', '2', '--threads', '2']);
    const url = await waitForUrl(tsgi);
    const index = await fetch(url);
    assert.equal(index.status, 200);
    assert.equal(await index.text(), 'Hello from Flask');
    const user = await fetch(`${url}user/ada?greeting=hi%20there`);
    assert.deepEqual(await user.json(), { name: 'ada', greeting: 'hi there' });
    const missing = await fetch(`${url}nowhere`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
    assert.doesNotMatch(tsgi.output(), /Traceback|AssertionError|WSGIWarning/);
  });

  it('--http-socket with a Python app is served by the router on that address', async () => {
    const tsgi = start(['--http-socket', '127.0.0.1:0', '--wsgi-file', 'hello_app.py']);
    const url = await waitForUrl(tsgi);
    assert.match(tsgi.output(), /--http-socket 127\.0\.0\.1:0 with a Python app: the HTTP router accepts on it/);
    const response = await fetch(url);
    assert.equal(await response.text(), 'Hello, World!');
  });

  it('an import error with --need-app: tsgi exits 22 naming the file and the exception', async () => {
    const dir = tempDir();
    const result = await runTsgiToExit(['--socket', join(dir, 'app.sock'), '--wsgi-file', 'import_error_app.py', '--processes', '2', '--need-app'], { cwd: FIXTURES });
    assert.equal(result.code, 22, result.output);
    assert.match(result.output, /the application could not be loaded: unable to load the application \(--wsgi-file import_error_app\.py\): .*ModuleNotFoundError: No module named 'tsgi_test_module_that_does_not_exist'/);
    assert.match(result.output, /no app loaded\. GAME OVER/);
  });

  it('a missing interpreter (--virtualenv without bin/python) is a start-up error naming it', async () => {
    const dir = tempDir();
    const result = await runTsgiToExit(['--http', '127.0.0.1:0', '--wsgi-file', 'hello_app.py', '--virtualenv', join(dir, 'novenv')], { cwd: FIXTURES });
    assert.notEqual(result.code, 0);
    assert.match(result.output, /cannot run the Python workers: the interpreter .*novenv\/bin\/python does not exist or is not executable \(from --virtualenv /);
  });
});

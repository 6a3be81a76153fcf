/**
 * --py-autoreload N with real Python workers on a --socket, driven over uwsgi as nginx's
 * uwsgi_pass drives them (a connection per request): an edited module is seen within N seconds,
 * logged with uWSGI's line, and the master's graceful reload swaps the workers while a steady
 * stream of requests runs; none of them fails. A module named by --py-auto-reload-ignore is not
 * watched.
 */
import { before, after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTsgi, type Running } from '../helpers/process.js';
import { freePort } from '../helpers/nginx.js';
import { UwsgiClient } from '../../src/upstream/uwsgi-client.js';
import { cgiVars, pythonSkip, readBody } from './harness.js';

const skip = pythonSkip();

const APP = `import greeting
import ignored


def application(environ, start_response):
    body = ('%s %s' % (greeting.TEXT, ignored.TEXT)).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
`;

/** Writes a module and moves its mtime forward, so the change is visible whatever the clock's grain. */
function writeModule(dir: string, name: string, text: string, ageSeconds: number): void {
  const file = join(dir, `${name}.py`);
  writeFileSync(file, `TEXT = ${JSON.stringify(text)}\n`);
  const when = Date.now() / 1000 + ageSeconds;
  utimesSync(file, when, when);
}

describe('tsgi serve --py-autoreload', { skip }, () => {
  let dir: string;
  let tsgi: Running;
  let client: UwsgiClient;
  /** GET / over uwsgi: status and body. */
  const get = async (): Promise<{ status: number; body: string }> => {
    const response = await client.request({ vars: cgiVars({ path: '/' }) });
    return { status: response.status, body: (await readBody(response)).toString() };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsgi-autoreload-'));
    writeFileSync(join(dir, 'app.py'), APP);
    writeModule(dir, 'greeting', 'v1', -10);
    writeModule(dir, 'ignored', 'i1', -10);
    const port = await freePort();
    tsgi = runTsgi([
      '--socket', `127.0.0.1:${port}`, '--chdir', dir, '--wsgi-file', 'app.py',
      '--master', '--processes', '2', '--py-autoreload', '1', '--py-auto-reload-ignore', 'ignored',
    ]);
    client = new UwsgiClient({ address: `127.0.0.1:${port}`, readTimeout: 10_000, log: () => {} });
    // Serving, and both workers have started their reloader (it records the files when it starts).
    const started = Date.now();
    while (!/serving .* on uwsgi:/.test(tsgi.output()) || (tsgi.output().match(/Python auto-reloader enabled/g) ?? []).length < 2) {
      if (tsgi.child.exitCode !== null || Date.now() - started > 20_000) throw new Error(`tsgi did not start:\n${tsgi.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  });

  after(async () => {
    await tsgi?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('an ignored module does not reload; an edited one does, with no failed request', async () => {
    assert.deepEqual(await get(), { status: 200, body: 'v1 i1' });

    writeModule(dir, 'ignored', 'i2', 0);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.doesNotMatch(tsgi.output(), /has been modified/, 'a --py-auto-reload-ignore module is not watched');
    assert.deepEqual(await get(), { status: 200, body: 'v1 i1' });

    const failures: string[] = [];
    const bodies = new Set<string>();
    let running = true;
    const load = async (): Promise<void> => {
      while (running) {
        try {
          const res = await get();
          if (res.status !== 200) failures.push(`${res.status} ${res.body}`);
          else bodies.add(res.body);
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const clients = [load(), load(), load()];
    writeModule(dir, 'greeting', 'v2', 0);
    const edited = Date.now();
    while (!bodies.has('v2 i2') && Date.now() - edited < 8000) await new Promise((resolve) => setTimeout(resolve, 50));
    const seenAfter = Date.now() - edited;
    // Keep the load on until the old workers have drained.
    const settled = Date.now();
    while (!/reload complete/.test(tsgi.output()) && Date.now() - settled < 8000) await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, 300));
    running = false;
    await Promise.all(clients);

    const log = tsgi.output();
    assert.ok(bodies.has('v2 i2'), `the new code answered within 8 s:\n${log}`);
    assert.ok(seenAfter < 5000, `the new code answered after ${seenAfter} ms`);
    assert.match(log, new RegExp(`\\[uwsgi-python-reloader\\] module/file ${dir}/greeting\\.py has been modified`));
    assert.match(log, /gracefully reloading workers/);
    assert.deepEqual(failures, [], 'no request failed during the reload');
    assert.deepEqual(await get(), { status: 200, body: 'v2 i2' });
    assert.equal((log.match(/gracefully reloading workers/g) ?? []).length, 1, 'one edit, one reload, though both workers saw it');
  });
});

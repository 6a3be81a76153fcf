/**
 * The Python worker's --mount, --manage-script-name and --static-map, request by request over
 * uwsgi (as nginx sends them): which app answers, with which SCRIPT_NAME and PATH_INFO; a mount
 * that fails to load; no app for a request; files served, refused and passed on.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pythonSkip, runToExit, useWorkers, VALIDATOR_COMPLAINTS, type Worker } from './harness.js';

const skip = pythonSkip();

async function answer(worker: Worker, path: string, scriptName?: string): Promise<{ app: string; script_name: string; path_info: string }> {
  const res = await worker.request({ path, ...(scriptName === undefined ? {} : { scriptName }) });
  assert.equal(res.status, 200, `${path}: ${res.status} ${res.body.toString()}`);
  return JSON.parse(res.body.toString()) as { app: string; script_name: string; path_info: string };
}

describe('Python worker: --mount', { skip }, () => {
  const workers = useWorkers();

  it('--manage-script-name: the longest mountpoint at a / boundary moves into SCRIPT_NAME; a broken mount is logged and skipped', async () => {
    const worker = await workers.start([
      '--module', 'mount_apps', '--manage-script-name',
      '--mount', '/api=mount_apps:api', '--mount', '/api/v2=mount_apps:api_v2',
      '--mount', '/file=mount_file.py', '--mount', '/broken=mount_broken.py',
    ]);
    assert.deepEqual(await answer(worker, '/api/x'), { app: 'api', script_name: '/api', path_info: '/x' });
    assert.deepEqual(await answer(worker, '/api/v2/y'), { app: 'api_v2', script_name: '/api/v2', path_info: '/y' });
    assert.deepEqual(await answer(worker, '/apix'), { app: 'default', script_name: '', path_info: '/apix' });
    assert.deepEqual(await answer(worker, '/file'), { app: 'file', script_name: '/file', path_info: '' });
    assert.deepEqual(await answer(worker, '/broken/z'), { app: 'default', script_name: '', path_info: '/broken/z' });
    // nginx's `uwsgi_param SCRIPT_NAME /api` with PATH_INFO /api/x: set, not doubled.
    assert.deepEqual(await answer(worker, '/api/x', '/api'), { app: 'api', script_name: '/api', path_info: '/x' });
    const log = await worker.waitForLog(/unable to load app 4 \(mountpoint='\/broken'\) \(callable not found or import error\)/);
    assert.match(log, /RuntimeError: mount_broken cannot be loaded/);
    assert.match(log, /WSGI app 3 \(mountpoint='\/file'\) ready/);
    assert.doesNotMatch(log, VALIDATOR_COMPLAINTS);
  });

  it('without --manage-script-name the app is chosen by SCRIPT_NAME and PATH_INFO is left alone', async () => {
    const worker = await workers.start(['--module', 'mount_apps', '--mount', '/api=mount_apps:api']);
    assert.deepEqual(await answer(worker, '/api/x', '/api'), { app: 'api', script_name: '/api', path_info: '/api/x' });
    assert.deepEqual(await answer(worker, '/api/x'), { app: 'default', script_name: '', path_info: '/api/x' });
  });

  it('mounts only: a request no mountpoint takes gets 500 and uWSGI\'s "no python application found"', async () => {
    const worker = await workers.start(['--mount', '/api=mount_apps:api', '--manage-script-name']);
    assert.equal((await answer(worker, '/api/')).app, 'api');
    const res = await worker.request({ path: '/elsewhere' });
    assert.equal(res.status, 500);
    await worker.waitForLog(/--- no python application found for SCRIPT_NAME='' PATH_INFO='\/elsewhere'/);
  });

  it('a --mount that is not /PREFIX=APP is a usage error (exit 2)', async () => {
    const result = await runToExit(['--socket', '/tmp/never.sock', '--mount', 'api=mount_apps:api']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--mount expects \/PREFIX=APP, got 'api=mount_apps:api'/);
  });
});

describe('Python worker: --static-map', { skip }, () => {
  const workers = useWorkers();
  let worker: Worker;
  const css = 'body { color: red }\n';

  before(async () => {
    const root = join(workers.dir(), 'site');
    const files = join(root, 'files');
    mkdirSync(join(files, 'sub'), { recursive: true });
    writeFileSync(join(files, 'style.css'), css);
    writeFileSync(join(files, 'sub', 'a.txt'), 'a');
    writeFileSync(join(root, 'secret.txt'), 'secret');
    symlinkSync(join(root, 'secret.txt'), join(files, 'escape.txt'));
    worker = await workers.start(['--module', 'mount_apps', '--static-map', `/s=${files}`, '--mount', '/s/api=mount_apps:api', '--manage-script-name']);
  });

  it('GET and HEAD of a file: its type, length and Last-Modified; If-Modified-Since gives 304', async () => {
    const res = await worker.request({ path: '/s/style.css' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/css');
    assert.equal(res.headers['content-length'], String(css.length));
    assert.equal(res.body.toString(), css);
    const head = await worker.request({ method: 'HEAD', path: '/s/style.css' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(css.length));
    assert.equal(head.body.length, 0);
    const again = await worker.request({ path: '/s/style.css', headers: [['If-Modified-Since', res.headers['last-modified']!]] });
    assert.equal(again.status, 304);
    assert.equal((await worker.request({ path: '/s/sub/a.txt' })).body.toString(), 'a');
  });

  it('anything else goes on to the apps: another method, a missing file, a directory, a way out of DIR', async () => {
    for (const [method, path] of [['POST', '/s/style.css'], ['GET', '/s/missing.css'], ['GET', '/s/sub'], ['GET', '/s/../secret.txt'], ['GET', '/s/escape.txt']] as const) {
      const res = await worker.request({ method, path, ...(method === 'POST' ? { body: Buffer.from('x'), headers: [['Content-Type', 'text/plain']] as Array<[string, string]> } : {}) });
      assert.equal(res.status, 200, `${method} ${path}`);
      assert.equal((JSON.parse(res.body.toString()) as { app: string }).app, 'default', `${method} ${path} reaches the app`);
    }
    // The map sees PATH_INFO before --manage-script-name moves the mountpoint.
    assert.deepEqual(await answer(worker, '/s/api/style.css'), { app: 'api', script_name: '/s/api', path_info: '/style.css' });
  });
});

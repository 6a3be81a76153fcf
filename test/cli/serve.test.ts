/** The `tsgi serve` command, run as a real process and queried with real curl. */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePeer } from '../helpers/peers.js';
import { runTsgi, runTsgiToExit, waitForUrl } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgi-cli-'));
const files = {
  'tsgi.ts': `import type { App } from ${JSON.stringify(join(process.cwd(), 'src/gateway/types.js'))};
const app: App = (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return ['tsgi ', environ.PATH_INFO, '?', environ.QUERY_STRING];
};
export default app;
`,
  'plain.js': `export const application = (environ, startResponse) => { startResponse('200 OK', []); return ['js']; };\n`,
  'module.mjs': `export default { fetch: (request) => new Response('fetch object ' + new URL(request.url).pathname) };\n`,
  'handler.mjs': `export const handler = (request) => new Response('fetch handler ' + request.method);\n`,
  'node-handler.mjs': `export default (req, res) => { res.setHeader('X-Kind', 'node'); res.end('node ' + req.url); };\n`,
  'not-an-app.mjs': `export default 42;\n`,
  'no-default.mjs': `export const something = 1;\n`,
  'broken.ts': `export default (environ: unknown => {;\n`,
  'throws.mjs': `throw new Error('refusing to load');\n`,
};
for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);

const curl = requirePeer('curl');

async function withServer(args: string[], check: (url: string) => Promise<void> | void): Promise<void> {
  const running = runTsgi(args);
  try {
    const url = await waitForUrl(running);
    await check(url);
  } finally {
    assert.equal(await running.stop('SIGTERM'), 0, running.output());
  }
}

function curlGet(url: string, extra: string[] = []): string {
  if (!('path' in curl)) throw new Error('curl missing');
  return execFileSync(curl.path, ['-sS', '-i', ...extra, url], { encoding: 'latin1' });
}

describe('tsgi serve', { skip: 'skip' in curl ? curl.skip : false }, () => {
  before(() => {
    if ('skip' in curl) console.log(`# skipped: ${curl.skip}`);
  });

  it('serves a .ts TSGI app with no build step, and stops cleanly on SIGTERM', async () => {
    await withServer(['serve', '--http-socket', '127.0.0.1:0', '--app', join(dir, 'tsgi.ts')], (url) => {
      const response = curlGet(`${url}some/path?q=1`);
      assert.match(response, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(response, /Transfer-Encoding: chunked/);
      assert.ok(response.endsWith('tsgi /some/path?q=1'), response);
    });
  });

  it('accepts uWSGI-style options without the serve subcommand and --opt=value', async () => {
    await withServer(['--http-socket=127.0.0.1:0', `--app=${join(dir, 'plain.js')}`], (url) => {
      assert.ok(curlGet(url).endsWith('\r\n\r\njs'));
    });
  });

  it('detects a fetch object (Hono-style) in a .mjs file', async () => {
    await withServer(['serve', '--http-socket', '127.0.0.1:0', '--app', join(dir, 'module.mjs')], (url) => {
      assert.ok(curlGet(`${url}x`).endsWith('fetch object /x'));
    });
  });

  it('picks a named export with FILE:EXPORT and detects a one-argument fetch handler', async () => {
    await withServer(['serve', '--http-socket', '127.0.0.1:0', '--app', `${join(dir, 'handler.mjs')}:handler`], (url) => {
      assert.ok(curlGet(url, ['-X', 'PUT']).endsWith('fetch handler PUT'));
    });
  });

  it('runs a Node (req, res) handler with --app-kind node', async () => {
    await withServer(['serve', '--http-socket', '127.0.0.1:0', '--app', join(dir, 'node-handler.mjs'), '--app-kind', 'node'], (url) => {
      const response = curlGet(`${url}n?1`);
      assert.match(response, /X-Kind: node/i);
      assert.ok(response.endsWith('node /n?1'), response);
    });
  });

  it('prints --help from the option table', async () => {
    const { code, output } = await runTsgiToExit(['serve', '--help']);
    assert.equal(code, 0);
    for (const option of ['--http-socket', '--app', '--app-kind', '--listen']) assert.ok(output.includes(option), option);
  });

  const failures: Array<[string, string[], number, RegExp]> = [
    ['a missing file', ['--app', join(dir, 'missing.ts')], 1, /missing\.ts does not exist/],
    ['an export that is not an app', ['--app', join(dir, 'not-an-app.mjs')], 1, /export "default" of .*not-an-app\.mjs is number; expected a TSGI app/],
    ['a module without the export', ['--app', join(dir, 'no-default.mjs')], 1, /no-default\.mjs has no export "default" or "app" or "application" \(it exports: something\)/],
    ['a named export that does not exist', ['--app', `${join(dir, 'plain.js')}:nope`], 1, /plain\.js has no export "nope"/],
    ['a syntax error', ['--app', join(dir, 'broken.ts')], 1, /importing .*broken\.ts failed/],
    ['a module that throws', ['--app', join(dir, 'throws.mjs')], 1, /throws\.mjs failed: Error: refusing to load/],
    ['a wrong --app-kind', ['--app', join(dir, 'not-an-app.mjs'), '--app-kind', 'fetch'], 1, /is not a fetch handler/],
    ['no --app', [], 2, /no application given/],
    ['an unknown option', ['--app', join(dir, 'plain.js'), '--frobnicate'], 2, /unknown option "--frobnicate"/],
    ['a bad address', ['--app', join(dir, 'plain.js'), '--http-socket', 'nowhere'], 1, /invalid socket address "nowhere"/],
  ];
  for (const [what, args, expectedCode, message] of failures) {
    it(`exits ${expectedCode} naming the problem for ${what}`, async () => {
      const withSocket = args.includes('--http-socket') ? args : ['--http-socket', '127.0.0.1:0', ...args];
      const { code, output } = await runTsgiToExit(['serve', ...withSocket]);
      assert.equal(code, expectedCode, output);
      assert.match(output, message);
    });
  }
});

describe('tsgi serve sockets from the command line and config files', () => {
  async function waitForOutput(running: ReturnType<typeof runTsgi>, pattern: RegExp): Promise<void> {
    for (let i = 0; i < 300 && !pattern.test(running.output()); i++) {
      if (running.child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.match(running.output(), pattern);
  }

  it('binds uwsgi, FastCGI and SCGI UNIX sockets with --chmod-socket, and --vacuum removes them', async () => {
    const { statSync, existsSync } = await import('node:fs');
    const sockDir = mkdtempSync(join(tmpdir(), 'tsgi-socks-'));
    const [uwsgi, fastcgi, scgi] = ['u.sock', 'f.sock', 's.sock'].map((name) => join(sockDir, name));
    const running = runTsgi(['serve', '--app', join(dir, 'plain.js'), '--socket', uwsgi!, '--fastcgi-socket', fastcgi!, '--scgi-socket', scgi!, '--chmod-socket=660', '--vacuum']);
    await waitForOutput(running, /on scgi:/);
    for (const path of [uwsgi!, fastcgi!, scgi!]) assert.equal(statSync(path).mode & 0o777, 0o660, path);
    assert.equal(await running.stop('SIGTERM'), 0, running.output());
    for (const path of [uwsgi!, fastcgi!, scgi!]) assert.equal(existsSync(path), false, `${path} removed by --vacuum`);
  });

  it('refuses a socket a live server holds, and replaces the stale file a killed one left', async () => {
    const { existsSync } = await import('node:fs');
    const path = join(mkdtempSync(join(tmpdir(), 'tsgi-socks-')), 'app.sock');
    const first = runTsgi(['serve', '--app', join(dir, 'plain.js'), '--socket', path]);
    await waitForOutput(first, /on uwsgi:/);
    const second = await runTsgiToExit(['serve', '--app', join(dir, 'plain.js'), '--socket', path]);
    assert.equal(second.code, 1);
    assert.match(second.output, /is in use by a running server/);
    assert.equal(await first.stop('SIGKILL'), 'SIGKILL');
    assert.equal(existsSync(path), true, 'a killed server leaves its socket file');
    const third = runTsgi(['serve', '--app', join(dir, 'plain.js'), '--socket', path]);
    await waitForOutput(third, /on uwsgi:/);
    assert.equal(await third.stop('SIGTERM'), 0);
  });

  it('reads sockets from an ini file, and names the file and line of a bad --buffer-size', async () => {
    const ini = join(dir, 'site.ini');
    writeFileSync(ini, `[uwsgi]\nhttp-socket = 127.0.0.1:0\napp = ${join(dir, 'plain.js')}\nbuffer-size = 70000\n`);
    const bad = await runTsgiToExit(['serve', '--ini', ini]);
    assert.equal(bad.code, 2);
    assert.match(bad.output, /--buffer-size expects 1 to 65535, got 70000 in .*site\.ini:4/);
    writeFileSync(ini, `[uwsgi]\nhttp-socket = 127.0.0.1:0\napp = ${join(dir, 'plain.js')}\nbuffer-size = 32768\nplugins = python3\n`);
    await withServer(['serve', ini], (url) => {
      assert.ok(curlGet(url).endsWith('js'));
    });
  });
});

describe('tsgi serve with a master and workers', () => {
  const pidApp = join(process.cwd(), 'test/fixtures/apps/pid-app.ts');

  async function pids(url: string, count: number): Promise<Set<string>> {
    const seen = new Set<string>();
    for (let i = 0; i < count; i++) {
      const response = await fetch(url, { headers: { Connection: 'close' } });
      seen.add((await response.text()).split(' ')[0]!);
    }
    return seen;
  }

  it('runs --processes 2 workers, reloads with --reload PIDFILE and stops with --stop PIDFILE', async () => {
    const pidfile = join(mkdtempSync(join(tmpdir(), 'tsgi-pid-')), 'master.pid');
    const running = runTsgi(['--master', '--processes', '2', '--http-socket', '127.0.0.1:0', '--app', pidApp, '--pidfile', pidfile, '--env', 'APP_VERSION_FILE=']);
    try {
      const url = await waitForUrl(running);
      const { readFileSync } = await import('node:fs');
      assert.equal(readFileSync(pidfile, 'utf8').trim(), String(running.child.pid));
      const before = await pids(url, 40);
      assert.equal(before.size, 2, `two workers answer: ${[...before].join(', ')}`);
      assert.ok(!before.has(String(running.child.pid)), 'the master serves no request itself');

      const reload = await runTsgiToExit(['serve', '--reload', pidfile]);
      assert.equal(reload.code, 0, reload.output);
      let after = await pids(url, 20);
      for (let i = 0; i < 50 && [...after].some((pid) => before.has(pid)); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        after = await pids(url, 20);
      }
      assert.ok([...after].every((pid) => !before.has(pid)), 'new workers after the reload');

      const stop = await runTsgiToExit(['serve', '--stop', pidfile]);
      assert.equal(stop.code, 0, stop.output);
      const code = await running.stop('SIGCONT');
      assert.equal(code, 0, running.output());
    } finally {
      await running.stop('SIGKILL');
    }
  });
});

describe('tsgi serve --mount and --static-map', () => {
  it('mounts two apps with --manage-script-name and serves static files, in workers', async () => {
    const staticDir = mkdtempSync(join(tmpdir(), 'tsgi-static-'));
    writeFileSync(join(staticDir, 'hello.txt'), 'static hello');
    const running = runTsgi([
      '--http-socket', '127.0.0.1:0', '--processes', '2',
      '--mount', `/a=${join(dir, 'plain.js')}`, '--mount', `/b=${join(dir, 'module.mjs')}`, '--manage-script-name',
      '--static-map', `/static=${staticDir}`,
    ]);
    try {
      const url = await waitForUrl(running);
      assert.equal(await (await fetch(`${url}a/x`)).text(), 'js');
      assert.equal(await (await fetch(`${url}b/y`)).text(), 'fetch object /b/y');
      const file = await fetch(`${url}static/hello.txt`);
      assert.equal(file.headers.get('content-type'), 'text/plain');
      assert.equal(await file.text(), 'static hello');
      assert.equal((await fetch(`${url}elsewhere`)).status, 404);
    } finally {
      assert.equal(await running.stop('SIGTERM'), 0, running.output());
    }
  });
});

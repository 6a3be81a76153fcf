/**
 * `npm start`: the command in package.json's "start" script, run as is (with free ports, not the
 * 8080-8083 a developer may be using), as real processes queried over real sockets: the static
 * site from tsgi web, /app/ balanced round-robin over the three tsgi serve instances, and a
 * SIGINT that leaves no process, port or file behind.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer, type Server } from 'node:net';
import { freePort } from '../helpers/nginx.js';
import { processTree } from '../../bench/lib/proctree.js';

interface Launched {
  readonly child: ChildProcess;
  readonly exited: Promise<number | string>;
  output(): string;
}

/** The start script, split into words; `node` is this Node, as npm would find it on PATH. */
function startCommand(): string[] {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } };
  const words = pkg.scripts.start.split(/\s+/);
  assert.equal(words[0], 'node', `the start script is expected to run node: ${pkg.scripts.start}`);
  return [process.execPath, ...words.slice(1)];
}

function launch(extra: string[]): Launched {
  const [command, ...args] = startCommand();
  const child = spawn(command!, [...args, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return { child, exited, output: () => output };
}

async function waitForOutput(launched: Launched, pattern: RegExp, timeoutMs = 25_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(launched.output());
    if (match) return match;
    if (launched.child.exitCode !== null) throw new Error(`npm start exited with ${launched.child.exitCode}:\n${launched.output()}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${launched.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function fetchText(port: number, path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on('error', reject);
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Stops a launcher a failed test left running: it stops its servers; any that linger are killed by pid. */
async function cleanUp(stack: Launched): Promise<void> {
  if (stack.child.exitCode !== null || stack.child.signalCode !== null) return;
  const tree = processTree([stack.child.pid!]);
  stack.child.kill('SIGINT');
  const timer = setTimeout(() => tree.forEach((pid) => alive(pid) && process.kill(pid, 'SIGKILL')), 15_000);
  await stack.exited;
  clearTimeout(timer);
  for (const pid of tree.filter(alive)) process.kill(pid, 'SIGKILL');
}

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

describe('npm start', () => {
  let ports: number[];
  let stack: Launched;
  let prefix: string;

  before(async () => {
    ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    stack = launch(['--port', String(ports[0]), '--app-ports', ports.slice(1).join(',')]);
    prefix = (await waitForOutput(stack, /files \(pid, access log\): (\S+), removed at exit/))[1]!;
  });

  // Only when a test failed before the SIGINT one.
  after(() => (stack ? cleanUp(stack) : undefined));

  it('prints both URLs', () => {
    assert.match(stack.output(), new RegExp(`http://127\\.0\\.0\\.1:${ports[0]}/ `));
    assert.match(stack.output(), new RegExp(`http://127\\.0\\.0\\.1:${ports[0]}/app/ `));
  });

  it('GET / is examples/site, from tsgi web', async () => {
    const page = await fetchText(ports[0]!, '/');
    assert.equal(page.status, 200);
    assert.match(page.headers['server'] as string, /^tsgi\//);
    assert.equal(page.body, readFileSync('examples/site/html/index.html', 'utf8'));
    const css = await fetchText(ports[0]!, '/style.css');
    assert.equal(css.status, 200);
    assert.equal(css.headers['content-type'], 'text/css');
  });

  it('GET /app/ goes round-robin over the three app servers, in nginx\'s order', async () => {
    const seen: Array<{ instance: string; socket: string; pid: string }> = [];
    for (let i = 0; i < 4; i++) {
      const page = await fetchText(ports[0]!, '/app/');
      assert.equal(page.status, 200, page.body);
      const instance = /id="instance">([^<]+)</.exec(page.body)?.[1];
      assert.equal(page.headers['x-app-instance'], instance);
      assert.match(page.body, /<th>PATH_INFO<\/th><td><code>\/app\/<\/code>/);
      seen.push({ instance: instance!, socket: /id="socket">uwsgi:\/\/([^<]+)</.exec(page.body)![1]!, pid: /id="pid">(\d+)</.exec(page.body)![1]! });
    }
    assert.deepEqual(seen.map((s) => s.instance), ['app-1', 'app-2', 'app-3', 'app-1']);
    assert.deepEqual(seen.map((s) => s.socket), [1, 2, 3, 1].map((i) => `127.0.0.1:${ports[i]}`));
    assert.equal(new Set(seen.slice(0, 3).map((s) => s.pid)).size, 3, 'three processes answered');
    assert.equal(seen[3]!.pid, seen[0]!.pid);
  });

  it('SIGINT stops every process and leaves no port, pid file or socket behind', async () => {
    const tree = processTree([stack.child.pid!]);
    // At least the launcher, the three app servers, the web master and its worker.
    assert.ok(tree.length >= 6, `process tree: ${tree.join(' ')}`);
    assert.ok(existsSync(`${prefix}/logs/nginx.pid`));
    stack.child.kill('SIGINT');
    assert.equal(await stack.exited, 0, stack.output());
    assert.deepEqual(tree.filter(alive), []);
    assert.equal(existsSync(prefix), false, `${prefix} is still there`);
    for (const port of ports) assert.ok(await portFree(port), `port ${port} is still bound`);
  });
});

describe('npm start stopped by SIGTERM', () => {
  it('stops every process and removes its prefix, as on Ctrl-C', async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const stack = launch(['--port', String(ports[0]), '--app-ports', ports.slice(1).join(',')]);
    try {
      const prefix = (await waitForOutput(stack, /files \(pid, access log\): (\S+), removed at exit/))[1]!;
      assert.equal((await fetchText(ports[0]!, '/app/')).status, 200);
      const tree = processTree([stack.child.pid!]);
      stack.child.kill('SIGTERM');
      assert.equal(await stack.exited, 0, stack.output());
      assert.deepEqual(tree.filter(alive), []);
      assert.equal(existsSync(prefix), false);
    } finally {
      await cleanUp(stack);
    }
  });
});

describe('npm start with a port in use', () => {
  let squatter: Server;
  let port: number;

  before(async () => {
    port = await freePort();
    squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
  });

  after(() => squatter.close());

  it('fails at once, naming the port and what needed it, and starts nothing', async () => {
    const others = await Promise.all([freePort(), freePort(), freePort()]);
    const stack = launch(['--port', String(others[0]), '--app-ports', `${others[1]},${port},${others[2]}`]);
    const code = await stack.exited;
    assert.equal(code, 1, stack.output());
    assert.match(stack.output(), new RegExp(`port ${port} \\(app server app-2\\) is already in use`));
    assert.doesNotMatch(stack.output(), /\[app-1\]/);
  });
});

/**
 * The real peers of the upstream client tests, started once per test file in a temp dir and
 * stopped by pid: Debian's uWSGI (python3 plugin) serving test/fixtures/upstream/app.py, and
 * php-fpm serving test/fixtures/upstream/echo.php. A missing one skips (CI=true: fails), as
 * test/helpers/peers.ts does for commands.
 */
import { before, after } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requirePeer } from '../helpers/peers.js';
import { freePort } from '../helpers/nginx.js';
import type { UpstreamClient } from '../../src/upstream/types.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/upstream/', import.meta.url));
const UWSGI_PYTHON_PLUGIN = '/usr/lib/uwsgi/plugins/python3_plugin.so';
const STOP_GRACE_MS = 5000;
const START_TIMEOUT_MS = 15_000;

export interface RunningPeer {
  dir: string;
  /** What the peer printed and logged so far (for assertion messages). */
  output(): string;
  stop(): Promise<void>;
}

function missing(reason: string): { skip: string } {
  if (process.env.CI === 'true') throw new Error(`CI=true and a required peer is missing: ${reason}`);
  return { skip: reason };
}

/** Debian's uwsgi binary with its python3 plugin, or why not. */
export function uwsgiPeer(): { path: string } | { skip: string } {
  const found = requirePeer('uwsgi', 'uwsgi');
  if ('skip' in found) return found;
  if (!existsSync(UWSGI_PYTHON_PLUGIN)) return missing(`${UWSGI_PYTHON_PLUGIN} not installed (Debian package uwsgi-plugin-python3)`);
  return found;
}

/** php-fpm (Debian names it php-fpmX.Y in /usr/sbin), or why not. */
export function phpFpmPeer(): { path: string } | { skip: string } {
  const sbin = existsSync('/usr/sbin') ? readdirSync('/usr/sbin').filter((name) => /^php-fpm[\d.]*$/.test(name)).sort() : [];
  if (sbin.length > 0) return { path: join('/usr/sbin', sbin[sbin.length - 1]) };
  return requirePeer('php-fpm', 'php-fpm');
}

/** The environment for a peer: pyenv's variables would point uWSGI's embedded Debian python
 *  at another interpreter's stdlib. */
function peerEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.PYTHONHOME;
  delete env.PYTHONPATH;
  return env;
}

function run(binary: string, args: string[], dir: string, logFile: string): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
  const child = spawn(binary, args, { cwd: dir, env: peerEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let printed = '';
  child.stdout!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const output = (): string => `${printed}${existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''}`;
  return {
    child,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Starts the peer and waits until each target accepts connections; stops it if that fails. */
export async function runUntilListening(binary: string, args: string[], dir: string, logFile: string, targets: Array<number | string>): Promise<Pick<RunningPeer, 'output' | 'stop'>> {
  const peer = run(binary, args, dir, logFile);
  try {
    for (const target of targets) await waitForListener(target, peer.child, peer.output);
  } catch (error) {
    await peer.stop();
    throw error;
  }
  return { output: peer.output, stop: peer.stop };
}

/**
 * A peer for one test file: started in `before` (unless `start` is null: the peer is missing
 * and the suite skips), stopped in `after`, with the clients the cases made closed first.
 */
export function peerForSuite<T extends RunningPeer>(start: (() => Promise<T>) | null): { running: () => T; track: <C extends UpstreamClient>(client: C) => C } {
  let running: T | null = null;
  const clients: UpstreamClient[] = [];
  before(async () => {
    if (start !== null) running = await start();
  });
  after(async () => {
    for (const client of clients) await client.close();
    await running?.stop();
    if (running !== null) rmSync(running.dir, { recursive: true, force: true });
  });
  return {
    running: () => {
      if (running === null) throw new Error('the peer is not running');
      return running;
    },
    track: (client) => {
      clients.push(client);
      return client;
    },
  };
}

/** Resolves once something accepts connections at the TCP port or UNIX path. */
async function waitForListener(target: number | string, child: ChildProcess, output: () => string): Promise<void> {
  const started = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = typeof target === 'number' ? connect(target, '127.0.0.1') : connect(target);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (child.exitCode !== null) throw new Error(`peer exited with ${child.exitCode} at start:\n${output()}`);
    if (Date.now() - started > START_TIMEOUT_MS) throw new Error(`peer not listening on ${target} after ${START_TIMEOUT_MS} ms:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface RunningUwsgi extends RunningPeer {
  uwsgiPort: number;
  uwsgiSocket: string;
  scgiPort: number;
}

/**
 * uWSGI with a uwsgi socket on TCP and on a UNIX path, and an SCGI socket, one worker. No
 * request log (--disable-logging); the rest goes to uwsgi.log. --buffer-size 32768 lets the
 * long-header case through (uWSGI's default 4096 would refuse its vars block).
 */
export async function startUwsgi(binary: string): Promise<RunningUwsgi> {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-upstream-uwsgi-'));
  const uwsgiPort = await freePort();
  const scgiPort = await freePort();
  const uwsgiSocket = join(dir, 'uwsgi.sock');
  const logFile = join(dir, 'uwsgi.log');
  const args = [
    '--plugin', 'python3',
    '--socket', `127.0.0.1:${uwsgiPort}`,
    '--socket', uwsgiSocket,
    '--scgi-socket', `127.0.0.1:${scgiPort}`,
    '--wsgi-file', join(FIXTURES, 'app.py'),
    '--master', '--processes', '1', '--die-on-term', '--need-app',
    '--buffer-size', '32768',
    '--disable-logging',
    '--logto', logFile,
  ];
  const peer = await runUntilListening(binary, args, dir, logFile, [uwsgiPort, uwsgiSocket]);
  return { dir, uwsgiPort, uwsgiSocket, scgiPort, ...peer };
}

export interface RunningPhpFpm extends RunningPeer {
  port: number;
  socket: string;
}

/**
 * php-fpm as root (-R) in the foreground (-F) without php.ini (-n: the defaults, not the
 * machine's), one pool on TCP and one on a UNIX socket, 2 static children each. Errors go to
 * the FastCGI stderr stream (display_errors off, log_errors on, no error_log in the pool).
 */
export async function startPhpFpm(binary: string): Promise<RunningPhpFpm> {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-upstream-php-'));
  const port = await freePort();
  const socket = join(dir, 'php.sock');
  const logFile = join(dir, 'error.log');
  const pool = (name: string, listen: string): string => `
[${name}]
listen = ${listen}
pm = static
pm.max_children = 2
clear_env = no
php_admin_value[display_errors] = Off
php_admin_flag[log_errors] = On
`;
  writeFileSync(
    join(dir, 'php-fpm.conf'),
    `[global]\nerror_log = ${logFile}\ndaemonize = no\npid = ${join(dir, 'php-fpm.pid')}\n${pool('tcp', `127.0.0.1:${port}`)}${pool('unix', socket)}`,
  );
  const peer = await runUntilListening(binary, ['-R', '-F', '-n', '-y', join(dir, 'php-fpm.conf'), '-p', dir], dir, logFile, [port, socket]);
  return { dir, port, socket, ...peer };
}

/**
 * `npm start`: the seeds' stack on one machine.
 *
 *   client ──HTTP──▶ tsgi web 127.0.0.1:8080 ──uwsgi──▶ tsgi serve 127.0.0.1:8081 ─┐
 *                    (static files, balancing)         tsgi serve 127.0.0.1:8082 ─┼─▶ app.ts
 *                                                      tsgi serve 127.0.0.1:8083 ─┘
 *
 *   npm start                                       # the ports above
 *   npm start -- --port 9080 --app-ports 9081,9082,9083
 *
 * Starts the three app servers, then `tsgi web` on examples/stack/nginx.conf with a temporary
 * prefix (pid file, access log, temp files; `html` there links to examples/site/html), waits until
 * every one answers, prints the URLs. Ctrl-C (SIGINT) or SIGTERM stops the web server first (no
 * new requests reach the apps), then the app servers (which finish what they are running), then
 * removes the prefix: no process, pid file or socket is left.
 *
 * Why a script in the example rather than a `tsgi` subcommand: it is glue that knows this
 * example's files and ports. Running several servers together is what a process manager or
 * uWSGI's emperor does; tsgi has no such command, and a demo should not invent one.
 *
 * Each child runs in its own process group, so a terminal's Ctrl-C reaches only this script and
 * the shutdown happens once, in order; their output is shown line by line behind their name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HOST = '127.0.0.1';
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TSGI = join(REPO, 'dist/src/cli/main.js');
const CONF = join(REPO, 'examples/stack/nginx.conf');
const SITE = join(REPO, 'examples/site/html');
const APP = 'examples/stack/app.ts';
/** The ports written in nginx.conf; other ports are put in their place in the prefix's copy. */
const CONF_PORTS = { web: 8080, apps: [8081, 8082, 8083] } as const;
const START_TIMEOUT_MS = 20_000;
/** How long a server may take to stop before its whole process group is killed. */
const STOP_TIMEOUT_MS = 10_000;

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
  output: string;
}

class StackError extends Error {}

const children: Child[] = [];
let prefix: string | null = null;
let stopping = false;

main().catch(async (error: unknown) => {
  process.stderr.write(`tsgi stack: ${error instanceof StackError ? error.message : (error as Error).stack}\n`);
  await stopAll(1);
});

async function main(): Promise<void> {
  const ports = parsePorts();
  if (!existsSync(TSGI)) throw new StackError(`${TSGI} is missing: run \`npm install\` (or \`npm run build\`) first`);
  for (const [port, what] of [[ports.web, 'tsgi web'], ...ports.apps.map((p, i) => [p, `app server app-${i + 1}`] as const)] as const) {
    if (!(await portFree(port))) {
      throw new StackError(`port ${port} (${what}) is already in use on ${HOST}: stop what listens there, or choose other ports with \`npm start -- --port P --app-ports P1,P2,P3\``);
    }
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\ntsgi stack: ${signal} received, stopping tsgi web, then the app servers\n`);
      void stopAll(0);
    });
  }
  // The last resort, should this script die on an error: never leave servers running.
  process.on('exit', () => children.forEach((child) => killGroup(child, 'SIGKILL')));

  prefix = mkdtempSync(join(tmpdir(), 'tsgi-stack-'));
  mkdirSync(join(prefix, 'logs'));
  symlinkSync(SITE, join(prefix, 'html'));
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, withPorts(readFileSync(CONF, 'utf8'), ports));

  const apps = ports.apps.map((port, i) => {
    const name = `app-${i + 1}`;
    const socket = `${HOST}:${port}`;
    const args = ['serve', '--socket', socket, '--app', APP, '--env', `TSGI_STACK_INSTANCE=${name}`, '--env', `TSGI_STACK_SOCKET=${socket}`];
    return startChild(name, args);
  });
  await Promise.all(apps.map((app, i) => waitFor(app, () => app.output.includes(`on uwsgi://${HOST}:${ports.apps[i]}`))));
  // `-p` with a trailing slash: nginx glues relative paths to it as written.
  const web = startChild('web', ['web', '-c', conf, '-p', `${prefix}/`]);
  await waitFor(web, () => answers(ports.web));
  followAccessLog(join(prefix, 'logs/access.log'));

  const base = `http://${HOST}:${ports.web}`;
  process.stdout.write(
    [
      '',
      'tsgi stack is up (the picture in README.md, "The seeds\' stack"):',
      `  ${base}/      static site: tsgi web serves examples/site/html itself`,
      `  ${base}/app/  the app: tsgi web → uwsgi → ${ports.apps.map((p) => `${HOST}:${p}`).join(', ')} (round-robin)`,
      `  files (pid, access log): ${prefix}, removed at exit`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}

function parsePorts(): { web: number; apps: number[] } {
  const { values } = parseArgs({
    options: { port: { type: 'string' }, 'app-ports': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write('Usage: npm start [-- --port PORT --app-ports P1,P2,P3]\n');
    process.exit(0);
  }
  const web = port(values.port ?? String(CONF_PORTS.web), '--port');
  const apps = (values['app-ports'] ?? CONF_PORTS.apps.join(',')).split(',').map((p) => port(p, '--app-ports'));
  if (apps.length !== CONF_PORTS.apps.length) throw new StackError(`--app-ports takes ${CONF_PORTS.apps.length} ports, as the upstream in nginx.conf has`);
  if (new Set([web, ...apps]).size !== apps.length + 1) throw new StackError('the four ports must differ');
  return { web, apps };
}

function port(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new StackError(`${flag}: "${text}" is not a port`);
  return value;
}

/**
 * nginx.conf with the chosen ports in place of the ones it names. The addresses are replaced
 * whole (`127.0.0.1:8081`), and each must be found, so an edited file fails loudly, not silently.
 */
function withPorts(text: string, ports: { web: number; apps: number[] }): string {
  const pairs = [[CONF_PORTS.web, ports.web], ...CONF_PORTS.apps.map((p, i) => [p, ports.apps[i]!] as const)] as const;
  let out = text;
  for (const [from, to] of pairs) {
    const pattern = new RegExp(`\\b${HOST.replaceAll('.', '\\.')}:${from}\\b`, 'g');
    if (!pattern.test(out)) throw new StackError(`${CONF} no longer names ${HOST}:${from}; the launcher cannot move it to port ${to}`);
    out = out.replace(pattern, `${HOST}:${to}`);
  }
  return out;
}

function startChild(name: string, args: string[]): Child {
  const proc = spawn(process.execPath, [TSGI, ...args], { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const child: Child = {
    name,
    process: proc,
    output: '',
    exited: new Promise((resolve) => proc.once('exit', () => resolve())),
  };
  children.push(child);
  for (const [stream, sink] of [[proc.stdout!, process.stdout], [proc.stderr!, process.stderr]] as const) {
    createInterface({ input: stream }).on('line', (line) => {
      child.output += line + '\n';
      sink.write(`[${name}] ${line}\n`);
    });
  }
  proc.once('exit', (code, signal) => {
    if (stopping) return;
    process.stderr.write(`tsgi stack: ${name} exited (${signal ?? `code ${code}`}); stopping the others\n`);
    void stopAll(1);
  });
  return child;
}

async function waitFor(child: Child, ready: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await ready())) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) throw new StackError(`${child.name} did not start`);
    if (Date.now() > deadline) throw new StackError(`${child.name} did not answer within ${START_TIMEOUT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether anything answers HTTP on the port (any status: the server is up). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: HOST, port, path: '/', agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

/**
 * Shows the access log's new lines as they come: its `upstream=` field is the balancer at work.
 * (The log is a file, not /dev/stdout: a Node child's stdout is a socket, which open() refuses.)
 */
function followAccessLog(file: string): void {
  let offset = 0;
  let partial = '';
  const timer = setInterval(() => {
    if (!existsSync(file) || statSync(file).size <= offset) return;
    const fd = openSync(file, 'r');
    const chunk = Buffer.alloc(statSync(file).size - offset);
    offset += readSync(fd, chunk, 0, chunk.length, offset);
    closeSync(fd);
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) process.stdout.write(`[access] ${line}\n`);
  }, 200);
  timer.unref();
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** The web server first, so nothing new reaches the app servers while they stop. */
async function stopAll(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const web = children.filter((child) => child.name === 'web');
  const apps = children.filter((child) => child.name !== 'web');
  await Promise.all(web.map(stop));
  await Promise.all(apps.map(stop));
  if (prefix !== null) rmSync(prefix, { recursive: true, force: true });
  process.exit(code);
}

/**
 * SIGTERM to the server's master: tsgi web stops as nginx does on TERM, tsgi serve lets its
 * workers finish their requests. The group is killed only if that takes too long.
 */
async function stop(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => {
    process.stderr.write(`tsgi stack: ${child.name} still running after ${STOP_TIMEOUT_MS / 1000} s, killing it\n`);
    killGroup(child, 'SIGKILL');
  }, STOP_TIMEOUT_MS);
  await child.exited;
  clearTimeout(timer);
}

function killGroup(child: Child, signal: NodeJS.Signals): void {
  try {
    if (child.process.pid !== undefined) process.kill(-child.process.pid, signal);
  } catch {
    // The group is already gone.
  }
}

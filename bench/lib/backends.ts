/**
 * The app servers that sit behind nginx in the nginx-* scenarios, all answering the same hello
 * world (200, `Content-Type: text/plain`, `Content-Length: 12`, `Hello world\n`):
 *
 *   tsgiServe   tsgi serve --socket | --fastcgi-socket | --scgi-socket | --http-socket
 *               + bench/apps/hello-tsgi.ts
 *   nodeHttp    Node's raw `http` (bench/apps/hello-node.mjs, or a cluster of it)
 *   uwsgiPython real uWSGI with Debian's python3 plugin + bench/apps/hello_wsgi.py
 *
 * Each takes the number of processes from the run (`--processes`, `SideContext.processes`), so
 * both sides of a scenario always run the same number of backend processes.
 */
import { execFile } from 'node:child_process';
import { executable, TSGI_CLI, tsgiBuilt } from './exists.js';
import { LOOPBACK } from './ports.js';
import { REPO_ROOT } from './root.js';
import type { BenchParams, ProcessSpec, ReadyCheck } from './types.js';

export const UWSGI = '/usr/bin/uwsgi';
const TSGI_APP = 'bench/apps/hello-tsgi.ts';
const PYTHON_APP = 'bench/apps/hello_wsgi.py';

/** Where a backend listens: a loopback TCP port or a UNIX socket file. */
export type Listen = { port: number } | { path: string };

export type TsgiProtocol = 'http' | 'uwsgi' | 'fastcgi' | 'scgi';

const TSGI_FLAG: Record<TsgiProtocol, string> = {
  http: '--http-socket',
  uwsgi: '--socket',
  fastcgi: '--fastcgi-socket',
  scgi: '--scgi-socket',
};

/** `127.0.0.1:PORT` or the socket path, as both tsgi/uWSGI flags and nginx's `*_pass` take it. */
export function address(listen: Listen): string {
  return 'port' in listen ? `${LOOPBACK}:${listen.port}` : listen.path;
}

/** What nginx's `uwsgi_pass` / `fastcgi_pass` / `scgi_pass` / upstream `server` take. */
export function nginxAddress(listen: Listen): string {
  return 'port' in listen ? `${LOOPBACK}:${listen.port}` : `unix:${listen.path}`;
}

function readyOn(listen: Listen, protocol: TsgiProtocol | null = null): ReadyCheck {
  if (!('port' in listen)) return { kind: 'unix', path: listen.path };
  return protocol === 'http' ? { kind: 'http', port: listen.port, path: '/' } : { kind: 'tcp', port: listen.port };
}

/** `tsgi serve` speaking `protocol` on `listen`, hosting the TSGI hello app. */
export function tsgiServe(protocol: TsgiProtocol, listen: Listen, processes: number): ProcessSpec {
  return {
    label: `tsgi serve (${protocol})`,
    command: process.execPath,
    args: [
      TSGI_CLI,
      'serve',
      TSGI_FLAG[protocol],
      address(listen),
      '--app',
      TSGI_APP,
      ...(processes > 1 ? ['--processes', String(processes)] : []),
    ],
    ready: readyOn(listen, protocol),
  };
}

/**
 * Node's raw `http` hello world: one plain process when `processes` is 1, else a `cluster` of
 * `processes` workers scheduled by `schedPolicy`.
 */
export function nodeHttp(listen: Listen, processes: number, schedPolicy: SchedPolicy): ProcessSpec {
  if (processes > 1) return nodeHttpCluster(listen, processes, schedPolicy);
  return {
    label: 'node http',
    command: process.execPath,
    args: ['bench/apps/hello-node.mjs', String(tcpPort(listen))],
    ready: { kind: 'http', port: tcpPort(listen), path: '/' },
  };
}

/**
 * Node's NODE_CLUSTER_SCHED_POLICY. `rr` (Node's default on Linux, and so what PM2's cluster mode
 * runs) has the primary accept every connection and pass it to a worker; `none` lets the workers
 * accept on the shared socket themselves. With a connection per request the hand-off costs about
 * 3× (the project brief), so connection-per-request peers get `none`, Node's best case.
 */
export type SchedPolicy = 'rr' | 'none';

/** The hello world as a `cluster` primary + `workers` workers (even one: the primary is the point). */
export function nodeHttpCluster(listen: Listen, workers: number, schedPolicy: SchedPolicy): ProcessSpec {
  const port = tcpPort(listen);
  return {
    label: `node http cluster (${workers} × ${schedPolicy})`,
    command: process.execPath,
    args: ['bench/apps/hello-node-cluster.mjs', String(port), String(workers)],
    env: { NODE_CLUSTER_SCHED_POLICY: schedPolicy },
    ready: { kind: 'http', port, path: '/' },
  };
}

function tcpPort(listen: Listen): number {
  if (!('port' in listen)) throw new Error('the Node http peer listens on a TCP port');
  return listen.port;
}

/**
 * Real uWSGI serving the Python hello app over the uwsgi protocol: a master and `processes`
 * workers, no request log (nginx runs with `access_log off` too), ended by SIGTERM.
 */
export function uwsgiPython(listen: Listen, processes: number): ProcessSpec {
  return {
    label: 'uwsgi (python3)',
    command: UWSGI,
    args: [
      '--plugin',
      'python3',
      '--socket',
      address(listen),
      '--wsgi-file',
      PYTHON_APP,
      '--master',
      '--processes',
      String(processes),
      '--need-app',
      '--disable-logging',
      // uWSGI 2.0 reloads on SIGTERM unless told otherwise; the harness ends servers with it.
      '--die-on-term',
    ],
    ready: readyOn(listen),
  };
}

/** `true` when uWSGI and its python3 plugin run here. */
export async function uwsgiAvailable(): Promise<true | string> {
  if (!(await executable(UWSGI))) return `${UWSGI} not found (apt-get install uwsgi uwsgi-plugin-python3)`;
  const ok = await succeeds(UWSGI, ['--plugin', 'python3', '--python-version']);
  return ok ? true : `${UWSGI} cannot load its python3 plugin (apt-get install uwsgi-plugin-python3)`;
}

/**
 * `true` when the tsgi build can run `params.processes` backend processes: always for 1; for more,
 * once `tsgi serve --help` lists `--processes` (the master/workers being built).
 */
export async function tsgiCanRun(params: BenchParams): Promise<true | string> {
  const built = await tsgiBuilt();
  if (built !== true || params.processes === 1) return built;
  tsgiHelp ??= output(process.execPath, [TSGI_CLI, 'serve', '--help']);
  const help = await tsgiHelp;
  return /--processes\b/.test(help) ? true : `--processes ${params.processes}: tsgi serve has no --processes yet`;
}

let tsgiHelp: Promise<string> | undefined;

function output(command: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: REPO_ROOT, timeout: 10_000 }, (_err, stdout, stderr) => resolve(`${stdout}${stderr}`));
  });
}

function succeeds(command: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: REPO_ROOT, timeout: 10_000 }, (err) => resolve(err === null));
  });
}

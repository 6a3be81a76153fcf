/**
 * Python WSGI workers (`--wsgi-file`, `--module`): the master spawns `python/tsgi_worker.py`
 * under the chosen interpreter with the bound uwsgi socket as the child's fd 3, and supervises it
 * like a JS worker (docs/python.md has the worker's side of the contract: readiness line, exit
 * codes, signals).
 *
 * What differs from a JS worker: no Node IPC channel. Readiness is the `tsgi-python ready pid=N`
 * line on stdout, and a graceful stop is SIGTERM (the worker drains within --worker-reload-mercy
 * and exits 0). In place of the IPC channel, fd 4 (NOTES_FD, as for JS workers) is a socket on
 * which the worker writes newline-delimited JSON: the WorkerMessages `report` and `retire`, and
 * the harakiri note; the master writes back `totals` and `reopen-logs` (python/tsgi/reporter.py).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duplex } from 'node:stream';
import { NOTES_FD } from '../process/spawn.js';
import type { MasterMessage, RequestLogSettings } from './worker-protocol.js';

/** What `MasterConfig.python` holds: the interpreter and the app options passed to the worker. */
export interface PythonWorkerConfig {
  /** The interpreter: `/usr/bin/python3`, or `VENV/bin/python` for --virtualenv. */
  interpreter: string;
  /** App options, as the worker takes them (`--wsgi-file FILE`, `--module M`, `--callable`, `--pythonpath`). */
  args: string[];
  /** For messages: the option that chose the interpreter (`--virtualenv /srv/venv`), if any. */
  interpreterSource?: string;
}

/** Debian's interpreter; the default when no --virtualenv is given. */
export const DEFAULT_PYTHON = '/usr/bin/python3';

/** Kept router connections per worker thread: python/tsgi/server.py's KEPT_PER_THREAD. */
export const PYTHON_KEPT_PER_THREAD = 2;

/** How many kept connections the router may hold to `processes` Python workers of `threads` threads. */
export function pythonKeptConnections(processes: number, threads: number | null): number {
  return PYTHON_KEPT_PER_THREAD * processes * Math.max(1, threads ?? 1);
}

/** The readiness line of the worker (docs/python.md). */
export const PYTHON_READY = /^tsgi-python ready pid=(\d+)/;
/** The worker's line naming the file and the exception when the app cannot be loaded. */
const LOAD_FAILURE = /unable to load the application \((.*)$/;

/**
 * `python/tsgi_worker.py`: two levels up from `src/appserver/` under tsx, three from
 * `dist/src/appserver/` when built (the package ships `python/` beside `dist/`).
 */
export function pythonWorkerScript(): string {
  for (const relative of ['../../python/tsgi_worker.py', '../../../python/tsgi_worker.py']) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('python/tsgi_worker.py not found next to the tsgi installation');
}

/** The interpreter of `--virtualenv DIR` / `--home DIR` (uWSGI's PYTHONHOME). */
export function virtualenvInterpreter(dir: string): string {
  return join(dir, 'bin', 'python');
}

/** null when `interpreter` can be run, else why not. A bare name is looked up on PATH. */
export function checkInterpreter(interpreter: string, path = process.env.PATH ?? ''): string | null {
  const candidates = interpreter.includes('/') ? [interpreter] : path.split(delimiter).filter(Boolean).map((dir) => join(dir, interpreter));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return null;
    } catch {
      // try the next one
    }
  }
  return interpreter.includes('/') ? `${interpreter} does not exist or is not executable` : `${interpreter} not found on PATH`;
}

/**
 * The workers' environment: the master's, minus PYTHONHOME and PYTHONPATH (pyenv's would point
 * another interpreter at its own stdlib), plus --env; a PYTHONPATH given with --env stays.
 */
export function pythonEnv(base: NodeJS.ProcessEnv, extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  delete env.PYTHONHOME;
  delete env.PYTHONPATH;
  return { ...env, ...extra };
}

export interface PythonSpawnSettings {
  /** The bound (not yet listening) socket the worker accepts on; it becomes the child's fd 3. */
  fd: number;
  threads: number | null;
  processes: number;
  bufferSize: number | undefined;
  backlog: number;
  needApp: boolean;
  mercyMs: number;
  env: NodeJS.ProcessEnv;
  cwd: string | undefined;
  /** uWSGI's worker id, for the harakiri and request log lines. */
  workerId: number;
  reportIntervalMs: number;
  /** Seconds, bytes, requests; null for none. */
  harakiri: number | null;
  maxRequests: number | null;
  reloadOnRss: number | null;
  requestLog: RequestLogSettings | undefined;
}

/** The worker's command line after the interpreter. */
export function pythonWorkerArgs(config: PythonWorkerConfig, settings: PythonSpawnSettings): string[] {
  const args = [pythonWorkerScript(), '--fd', '3', '--listen', String(settings.backlog), ...config.args];
  if (settings.threads !== null && settings.threads > 1) args.push('--threads', String(settings.threads));
  if (settings.processes > 1) args.push('--multiprocess');
  if (settings.bufferSize !== undefined) args.push('--buffer-size', String(settings.bufferSize));
  if (settings.needApp) args.push('--need-app');
  args.push('--worker-reload-mercy', String(Math.max(1, Math.ceil(settings.mercyMs / 1000))));
  args.push('--worker-id', String(settings.workerId), '--report-fd', String(NOTES_FD), '--report-interval', String(Math.max(1, Math.round(settings.reportIntervalMs))));
  // uWSGI's --harakiri takes whole seconds; a fraction (tests) rounds up to 1.
  if (settings.harakiri !== null) args.push('--harakiri', String(Math.max(1, Math.ceil(settings.harakiri))));
  if (settings.maxRequests !== null) args.push('--max-requests', String(settings.maxRequests));
  if (settings.reloadOnRss !== null) args.push('--reload-on-rss', String(Math.max(1, Math.round(settings.reloadOnRss))));
  if (settings.requestLog !== undefined) args.push('--request-log', JSON.stringify(settings.requestLog));
  return args;
}

/** Spawns one Python worker: stdin closed, stdout and stderr piped to the master, the socket on fd 3. */
export function spawnPythonWorker(config: PythonWorkerConfig, settings: PythonSpawnSettings): ChildProcess {
  const cwd = settings.cwd === undefined || isAbsolute(settings.cwd) ? settings.cwd : join(process.cwd(), settings.cwd);
  return spawn(config.interpreter, pythonWorkerArgs(config, settings), {
    cwd,
    env: settings.env,
    stdio: ['ignore', 'pipe', 'pipe', settings.fd, 'pipe'],
  });
}

/** The worker's channel (fd 4): a socket both ways, or null when the spawn failed. */
export function pythonChannel(child: ChildProcess): Duplex | null {
  const stream = child.stdio[NOTES_FD];
  return stream instanceof Duplex ? stream : null;
}

/** Writes one master message on a Python worker's channel; false when it is closed. */
export function tellPython(channel: Duplex, message: MasterMessage): boolean {
  if (channel.destroyed || !channel.writable) return false;
  channel.write(`${JSON.stringify(message)}\n`);
  return true;
}

/** A line the worker wrote on its channel: a harakiri note (`event`), else a WorkerMessage to parse. */
export function isPythonNote(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'event' in value;
}

/** The worker's "unable to load the application (...)" line, without its prefix, or null. */
export function pythonLoadFailure(line: string): string | null {
  const match = LOAD_FAILURE.exec(line);
  return match === null ? null : `unable to load the application (${match[1]!}`;
}

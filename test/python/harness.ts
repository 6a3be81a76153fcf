/**
 * Starting the Python worker (python/tsgi_worker.py) under Debian's /usr/bin/python3 on a temp
 * UNIX socket, talking to it with the TS `UwsgiClient` (the client the master and `uwsgi_pass`
 * use), and stopping it by pid. A missing interpreter or module skips with the reason printed;
 * under CI=true it fails (test/helpers/peers.ts).
 */
import { after } from 'node:test';
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requirePeer } from '../helpers/peers.js';
import { UwsgiClient } from '../../src/upstream/uwsgi-client.js';
import type { UpstreamResponse } from '../../src/upstream/types.js';

/** Debian's interpreter: it has python3-flask and python3-django; the pyenv one on PATH has not. */
export const PYTHON = '/usr/bin/python3';
export const WORKER = fileURLToPath(new URL('../../python/tsgi_worker.py', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures/python/', import.meta.url)).replace(/\/$/, '');

const READY = /tsgi-python ready pid=(\d+)/;
const START_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;

function missing(reason: string): string {
  if (process.env.CI === 'true') throw new Error(`CI=true and a required peer is missing: ${reason}`);
  return reason;
}

/** false when the worker's tests can run, else why not (printed as the skip reason). */
export function pythonSkip(modules: ReadonlyArray<readonly [module: string, debianPackage: string]> = []): string | false {
  const found = requirePeer(PYTHON, 'python3');
  if ('skip' in found) return found.skip;
  for (const [module, debianPackage] of modules) {
    const probe = spawnSync(PYTHON, ['-c', `import ${module}`], { env: pythonEnv(), encoding: 'utf8' });
    if (probe.status !== 0) return missing(`${PYTHON} cannot import ${module} (Debian package ${debianPackage})`);
  }
  return false;
}

/** pyenv's variables would point Debian's interpreter at another stdlib; bytecode files would
 *  land in python/ and the fixtures. */
export function pythonEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...extra };
  delete env.PYTHONHOME;
  delete env.PYTHONPATH;
  return env;
}

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TestRequest {
  method?: string;
  /** PATH_INFO as nginx sends it (with the SCRIPT_NAME prefix for modifier1 30). */
  path: string;
  query?: string;
  /** Request headers as [name, value]; sent as HTTP_* vars (and CONTENT_TYPE), as nginx does. */
  headers?: Array<[string, string]>;
  body?: Buffer;
  scriptName?: string;
  modifier1?: number;
  /** Extra CGI vars, appended last (so they win over the defaults). */
  vars?: Array<[string, string]>;
}

export interface TestResponse {
  status: number;
  reason: string;
  /** Lower-cased names; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface Worker {
  child: ChildProcess;
  pid: number;
  /** The UNIX socket path (unused with StartOptions.tcpPort). */
  socketPath: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<ExitResult>;
  /** Sends `signal` (default SIGTERM) and waits for the exit; SIGKILL after 5 s. */
  stop(signal?: NodeJS.Signals): Promise<ExitResult>;
  /** The response head, as the client returns it (the body still to read). */
  send(request: TestRequest): Promise<UpstreamResponse>;
  /** The whole response; throws if the body is cut short. */
  request(request: TestRequest): Promise<TestResponse>;
  /** Resolves with stderr once it matches. */
  waitForLog(pattern: RegExp | string, ms?: number): Promise<string>;
}

export interface StartOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Instead of --socket: pass this fd as the child's fd 3 (the socket path is still known). */
  fd?: { fd: number; path: string };
  python?: string;
  /** Listen on 127.0.0.1:PORT (TCP) instead of a UNIX socket. */
  tcpPort?: number;
}

/** The vars nginx's uwsgi_params send, for `request`. */
export function cgiVars(request: TestRequest): Array<[string, string]> {
  const query = request.query ?? '';
  const vars: Array<[string, string]> = [
    ['QUERY_STRING', query],
    ['REQUEST_METHOD', request.method ?? 'GET'],
    ['REQUEST_URI', request.path + (query ? `?${query}` : '')],
    ['PATH_INFO', request.path],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['REQUEST_SCHEME', 'http'],
    ['REMOTE_ADDR', '127.0.0.1'],
    ['REMOTE_PORT', '40000'],
    ['SERVER_PORT', '80'],
    ['SERVER_NAME', 'localhost'],
  ];
  if (request.scriptName !== undefined) vars.push(['SCRIPT_NAME', request.scriptName]);
  let host = false;
  for (const [name, value] of request.headers ?? []) {
    const key = name.toUpperCase().replace(/-/g, '_');
    if (key === 'CONTENT_TYPE') vars.push(['CONTENT_TYPE', value]);
    if (key === 'HOST') host = true;
    // nginx passes every header as HTTP_*, Content-Type and Content-Length included.
    vars.push([`HTTP_${key}`, value]);
  }
  if (!host) vars.push(['HTTP_HOST', 'localhost']);
  vars.push(...(request.vars ?? []));
  return vars;
}

export async function readBody(response: UpstreamResponse): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function headerMap(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!.toLowerCase()] = flat[i + 1]!;
  return out;
}

/** Registers an `after` hook that stops every worker started through the returned function. */
export function useWorkers(): { start(args: string[], options?: StartOptions): Promise<Worker>; dir(): string } {
  const workers: Worker[] = [];
  let dir: string | null = null;
  const tempDir = (): string => (dir ??= mkdtempSync(join(tmpdir(), 'tsgi-python-')));
  after(async () => {
    await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  });
  let count = 0;
  return {
    dir: tempDir,
    async start(args, options = {}) {
      count += 1;
      const socketPath = options.fd?.path ?? join(tempDir(), `worker-${count}.sock`);
      const stdio: StdioOptions = options.fd ? ['ignore', 'pipe', 'pipe', options.fd.fd] : ['ignore', 'pipe', 'pipe'];
      const address = options.tcpPort !== undefined ? `127.0.0.1:${options.tcpPort}` : socketPath;
      const where = options.fd ? ['--fd', '3'] : ['--socket', address];
      const worker = launch(options.python ?? PYTHON, [WORKER, ...where, ...args], socketPath, stdio, options);
      workers.push(worker);
      await waitReady(worker);
      return worker;
    },
  };
}

/** Starts the worker without waiting for readiness (for start-up failures). */
export function runToExit(args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<ExitResult & { stdout: string; stderr: string }> {
  const child = spawn(PYTHON, [WORKER, ...args], { cwd: options.cwd, env: pythonEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? START_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function launch(python: string, argv: string[], socketPath: string, stdio: StdioOptions, options: StartOptions): Worker {
  const child = spawn(python, argv, { cwd: options.cwd ?? FIXTURES, env: pythonEnv(options.env), stdio });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<ExitResult>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const address = options.tcpPort !== undefined ? `127.0.0.1:${options.tcpPort}` : `unix:${socketPath}`;
  const client = new UwsgiClient({ address, readTimeout: 30_000, log: () => {} });
  const worker: Worker = {
    child,
    pid: child.pid ?? -1,
    socketPath,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(worker.pid, signal);
        } catch {
          // Already gone.
        }
      }
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) process.kill(worker.pid, 'SIGKILL');
      }, STOP_GRACE_MS);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
    send(request) {
      return client.request({ vars: cgiVars(request), body: request.body, modifier1: request.modifier1 });
    },
    async request(request) {
      const response = await worker.send(request);
      const body = await readBody(response);
      return { status: response.status, reason: response.reason, headers: headerMap(response.headers), body };
    },
    async waitForLog(pattern, ms = 5000) {
      const started = Date.now();
      const matches = (): boolean => (typeof pattern === 'string' ? stderr.includes(pattern) : pattern.test(stderr));
      while (!matches()) {
        if (Date.now() - started > ms) throw new Error(`stderr never matched ${String(pattern)}; stderr so far:\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return stderr;
    },
  };
  return worker;
}

async function waitReady(worker: Worker): Promise<void> {
  const started = Date.now();
  for (;;) {
    const match = READY.exec(worker.stdout());
    if (match) {
      if (Number(match[1]) !== worker.pid) throw new Error(`ready line names pid ${match[1]}, the child is ${worker.pid}`);
      return;
    }
    if (worker.child.exitCode !== null || worker.child.signalCode !== null) {
      throw new Error(`the worker exited (${worker.child.exitCode ?? worker.child.signalCode}) before it was ready:\n${worker.stderr()}`);
    }
    if (Date.now() - started > START_TIMEOUT_MS) throw new Error(`the worker was not ready after ${START_TIMEOUT_MS} ms:\n${worker.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** What wsgiref.validate says when it finds something: none of it may appear in a clean run. */
export const VALIDATOR_COMPLAINTS = /AssertionError|WSGIWarning|Exception ignored in|Iterator garbage collected/;

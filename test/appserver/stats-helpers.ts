/**
 * Helpers shared by the monitoring tests (stats*, lifecycle*, cli/top): small apps written to a
 * temp dir, the real `tsgi` binary (dist/, built by `npm run build`) run as a process, waiting for
 * a log line, and plain HTTP requests without keep-alive (each request a new connection, so the
 * kernel spreads them over the workers).
 */
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTsgi, type Running } from '../helpers/process.js';

export const APPS = {
  'hello.mjs': `export default (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return ['Hello World!'];
};
`,
  /** Answers after ?ms=N milliseconds; ?status=N picks the status; /pid answers the worker's pid. */
  'slow.mjs': `export default async (environ, startResponse) => {
  const query = new URLSearchParams(environ.QUERY_STRING);
  const ms = Number(query.get('ms') ?? 0);
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  const status = query.get('status') ?? '200';
  startResponse(status + ' X', [['Content-Type', 'text/plain'], ['X-Pid', String(process.pid)]]);
  return [environ.PATH_INFO === '/empty' ? '' : String(process.pid)];
};
`,
  'throws.mjs': `throw new Error('refusing to load');\n`,
};

/** A temp dir holding APPS; removed with `cleanup()`. */
export function appDir(prefix: string): { dir: string; path(name: keyof typeof APPS): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const [name, text] of Object.entries(APPS)) writeFileSync(join(dir, name), text);
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `read()` until `pattern` matches it; returns the match. */
export async function waitForText(read: () => string, pattern: RegExp, ms = 15_000, what = 'output'): Promise<RegExpExecArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const match = pattern.exec(read());
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`no match for ${pattern} in ${ms} ms; ${what}:\n${read()}`);
    await sleep(25);
  }
}

export function readOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One GET on a new connection. */
export function get(url: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { Connection: 'close' } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A started server: the process, its URL, and every pid it logged (killed by `stop`). */
export interface Server {
  running: Running;
  url: string;
  output(): string;
  /** The "*** Stats server enabled on ADDR ***" address, when --stats was given. */
  statsAddress: string | null;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Pids logged by a server ("spawned tsgi worker N (pid: P", "new pid: P"). */
export function loggedPids(output: string): number[] {
  return [...output.matchAll(/(?:spawned tsgi worker \d+ \(pid: |new pid: )(\d+)/g)].map((match) => Number(match[1]));
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Runs `tsgi serve ARGS` and waits until it serves (and its stats server is up, with --stats). */
export async function startServer(args: string[], options: { cwd?: string } = {}): Promise<Server> {
  const running = runTsgi(['serve', ...args], options);
  const url = (await waitForText(running.output, /on (http:\/\/[^\s]+\/)/, 30_000))[1]!;
  let statsAddress: string | null = null;
  if (args.includes('--stats')) statsAddress = (await waitForText(running.output, /\*\*\* Stats server enabled on (\S+) \*\*\*/))[1]!;
  return {
    running,
    url,
    output: running.output,
    statsAddress,
    async stop(signal = 'SIGINT') {
      const code = await running.stop(signal);
      for (const pid of loggedPids(running.output())) killQuietly(pid);
      return code;
    },
  };
}

/** The pids of the running (not cheap) workers in a stats document. */
export function workerPids(document: { workers: Array<{ pid: number; status: string }> }): number[] {
  return document.workers.filter((worker) => worker.pid > 0 && worker.status !== 'cheap').map((worker) => worker.pid);
}

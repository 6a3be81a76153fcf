/**
 * Starting a supervised Node child and stopping it again.
 *
 * The child is a module of tsgi itself (the worker entry), forked with an IPC channel. That module
 * must run from `dist/` when tsgi is built and from `src/` under tsx when the tests run: the entry
 * is resolved next to the calling module with the caller's own extension, and the child inherits
 * the parent's `execArgv`, which carries `--import tsx` when the parent runs TypeScript.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { exitStatus, type ExitStatus } from './exit-codes.js';

/**
 * File descriptor of the child's "notes" pipe (after stdin, stdout, stderr and the IPC channel):
 * a channel the child can write to with `fs.writeSync` from any thread, even while its main
 * thread is stuck, which the IPC channel cannot offer. The harakiri watchdog reports through it.
 */
export const NOTES_FD = 4;

export interface ForkOptions {
  /** The module to run (a path). */
  entry: string;
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Node options for the child; default: `childExecArgv()`. */
  execArgv?: readonly string[];
}

/**
 * A sibling module of `callerUrl` (pass `import.meta.url`) named `name`, with the caller's
 * extension: `worker.ts` next to `master.ts` under tsx, `worker.js` next to `master.js` in dist.
 */
export function siblingModule(callerUrl: string, name: string): string {
  const extension = /\.[cm]?ts$/.test(callerUrl) ? '.ts' : '.js';
  return fileURLToPath(new URL(`./${name}${extension}`, callerUrl));
}

/** True when `--import` / `--loader` already registers tsx (directly or through its loader file). */
function hasTsxLoader(execArgv: readonly string[]): boolean {
  return execArgv.some((argument) => argument.includes('tsx'));
}

/**
 * The parent's Node options minus those that must not be inherited: `--inspect*` (the child would
 * fight over the debugger port) and `--test*` (the child would become a test runner). A bare
 * `tsx` loader is rewritten to its absolute URL because the child may run in another directory
 * (--chdir), where a bare specifier would not resolve; and a TypeScript entry gets tsx even when
 * the parent runs without it.
 */
export function childExecArgv(entry: string, parentExecArgv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let index = 0; index < parentExecArgv.length; index++) {
    const argument = parentExecArgv[index]!;
    if (/^--(inspect|debug)(-brk|-port|-wait)?(=|$)/.test(argument) || argument.startsWith('--test')) continue;
    if ((argument === '--import' || argument === '--loader' || argument === '--experimental-loader') && parentExecArgv[index + 1] === 'tsx') {
      out.push(argument, import.meta.resolve('tsx'));
      index++;
      continue;
    }
    if (argument === '--import=tsx') {
      out.push(`--import=${import.meta.resolve('tsx')}`);
      continue;
    }
    out.push(argument);
  }
  if (/\.[cm]?ts$/.test(entry) && !hasTsxLoader(out)) out.push('--import', import.meta.resolve('tsx'));
  return out;
}

/**
 * Forks `entry` with stdout and stderr piped to the parent (so the supervisor owns the log, as
 * uWSGI's --log-master), an IPC channel, and the notes pipe on fd 4.
 */
export function forkChild(options: ForkOptions): ChildProcess {
  return fork(options.entry, options.args ?? [], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    execArgv: [...(options.execArgv ?? childExecArgv(options.entry))],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc', 'pipe'],
    serialization: 'json',
  });
}

/** The notes pipe of a child forked by `forkChild`. */
export function notesStream(child: ChildProcess): Readable | null {
  const stream = child.stdio[NOTES_FD];
  return stream instanceof Readable ? stream : null;
}

/** Calls `onLine` for each complete line of `stream` (and the unterminated rest at its end). */
export function forwardLines(stream: Readable, onLine: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const text = rest + chunk;
    const lines = text.split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  stream.on('end', () => {
    if (rest !== '') onLine(rest);
    rest = '';
  });
  stream.on('error', () => {
    // The child died with the pipe open: what was read has been forwarded; nothing else to do.
  });
}

/** True while the child has not exited. */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Resolves with the child's exit status; `null` if `timeoutMs` passes first. */
export function waitForExit(child: ChildProcess, timeoutMs = Number.POSITIVE_INFINITY): Promise<ExitStatus | null> {
  if (!isRunning(child)) return Promise.resolve(exitStatus(child.exitCode, child.signalCode));
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (timer !== undefined) clearTimeout(timer);
      resolve(exitStatus(code, signal));
    };
    child.once('exit', onExit);
    if (Number.isFinite(timeoutMs)) {
      timer = setTimeout(() => {
        child.off('exit', onExit);
        resolve(null);
      }, timeoutMs);
    }
  });
}

/**
 * gunicorn's stop(): send `signal`, wait up to `graceMs` for the child to exit, then SIGKILL.
 * Resolves with the exit status once the child is gone.
 */
export async function stopChild(child: ChildProcess, options: { signal?: NodeJS.Signals; graceMs: number }): Promise<ExitStatus> {
  if (isRunning(child)) child.kill(options.signal ?? 'SIGTERM');
  const status = await waitForExit(child, options.graceMs);
  if (status !== null) return status;
  child.kill('SIGKILL');
  return (await waitForExit(child))!;
}

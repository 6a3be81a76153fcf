/**
 * Starting and ending the servers under test.
 *
 * Each server is spawned `detached`, which makes it the leader of a new process group whose id is
 * its pid. Ending it means signalling the whole group (`kill(-pgid)`), so the workers an app server
 * or nginx forks end with their master. Being outside the harness's group also means Ctrl-C in the
 * terminal does not reach the servers: the harness ends them itself, by pid, in `stopAll()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ProcessSpec } from './types.js';

/** How long a group gets between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 3000;
const STOP_POLL_MS = 50;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartedProcess {
  spec: ProcessSpec;
  /** Also the process group id. */
  pid: number;
  /** Where the process's stdout and stderr go. */
  logPath: string;
  /** Resolves when the group leader exits. */
  exited: Promise<ExitInfo>;
  /** The exit, once it happened. */
  exit: ExitInfo | null;
}

export class ServerProcesses {
  readonly #live = new Set<StartedProcess>();

  /**
   * Spawns `spec` in its own process group. Output goes straight to `logPath` (a file, not a pipe)
   * so that a chatty server costs the harness nothing and never blocks on a full pipe.
   */
  async start(spec: ProcessSpec, root: string, logPath: string): Promise<StartedProcess> {
    const fd = openSync(logPath, 'w');
    let child: ChildProcess;
    try {
      child = spawn(spec.command, spec.args, {
        cwd: resolve(root, spec.cwd ?? '.'),
        env: { ...process.env, ...spec.env },
        detached: true,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      // The child holds its own copy of the descriptor.
      closeSync(fd);
    }
    const pid = await spawned(child, spec.label);
    const started: StartedProcess = {
      spec,
      pid,
      logPath,
      exit: null,
      exited: new Promise((resolveExit) => {
        child.once('exit', (code, signal) => {
          started.exit = { code, signal };
          resolveExit(started.exit);
        });
      }),
    };
    this.#live.add(started);
    return started;
  }

  /** SIGTERM to the group, SIGKILL to whatever is left after the grace period. */
  async stop(proc: StartedProcess): Promise<void> {
    if (!this.#live.delete(proc)) return;
    signalGroup(proc.pid, 'SIGTERM');
    const deadline = Date.now() + STOP_GRACE_MS;
    while (groupAlive(proc.pid) && Date.now() < deadline) await sleep(STOP_POLL_MS);
    if (groupAlive(proc.pid)) {
      signalGroup(proc.pid, 'SIGKILL');
      // The leader is our child: its exit is certain once SIGKILL lands.
      if (proc.exit === null) await proc.exited;
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#live].map((p) => this.stop(p)));
  }

  /** Last resort for `process.on('exit')`, where nothing asynchronous runs any more. */
  killAllNow(): void {
    for (const proc of this.#live) signalGroup(proc.pid, 'SIGKILL');
    this.#live.clear();
  }
}

/**
 * Ends every server on Ctrl-C, SIGTERM, SIGHUP or a crash of the harness itself, then exits.
 * `abort` stops a load generator that is running at that moment.
 */
export function endServersOnExit(servers: ServerProcesses, abort: AbortController): void {
  let ending = false;
  const end = (code: number, why: string): void => {
    if (ending) return;
    ending = true;
    process.stderr.write(`\n${why}: stopping servers\n`);
    abort.abort();
    servers.stopAll().finally(() => process.exit(code));
  };
  // 128 + signal number, as a shell reports a process ended by that signal.
  process.on('SIGINT', () => end(130, 'interrupted'));
  process.on('SIGTERM', () => end(143, 'terminated'));
  process.on('SIGHUP', () => end(129, 'hung up'));
  process.on('uncaughtException', (err) => {
    process.stderr.write(`${err.stack ?? String(err)}\n`);
    end(1, 'uncaught error');
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    end(1, 'unhandled rejection');
  });
  process.on('exit', () => servers.killAllNow());
}

/** The pid once the spawn succeeded, or the spawn error (ENOENT for a missing binary). */
function spawned(child: ChildProcess, label: string): Promise<number> {
  return new Promise((resolvePid, reject) => {
    child.once('error', (err) => reject(new Error(`cannot start ${label}: ${err.message}`)));
    child.once('spawn', () => {
      if (child.pid === undefined) reject(new Error(`cannot start ${label}: no pid`));
      else resolvePid(child.pid);
    });
  });
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    // ESRCH: the group is already empty, which is what we wanted.
    if (!isErrno(err, 'ESRCH')) throw err;
  }
}

/** Signal 0 checks for existence without delivering anything. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    // EPERM means a member exists but belongs to someone else: still alive.
    return !isErrno(err, 'ESRCH');
  }
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && 'code' in err && err.code === code;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * `--daemonize FILE`: uWSGI forks, calls setsid() and lets the parent exit, so the command returns
 * at once and the server goes on in the background, logging to FILE. A Node process cannot fork
 * itself, so tsgi starts the same command again, detached (a new session, no terminal), with stdin
 * on /dev/null and stdout/stderr appended to FILE, and marks it with an environment variable so
 * that the copy serves instead of daemonizing again. The copy then logs to FILE as `--logto` does
 * (reopened on SIGUSR1); its stdout and stderr stay on the file opened here, so output that bypasses
 * the log (a crash trace) still lands in FILE, or in the renamed one after a rotation.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

/** Set in the environment of the background copy. */
export const DAEMON_ENV = 'TSGI_DAEMONIZED';

/** True in the background copy started by `daemonize()`. */
export function isDaemonChild(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[DAEMON_ENV] === '1';
}

/**
 * Starts this command again in the background with its output appended to `logFile`; returns the
 * pid of the background process. The caller exits right after.
 */
export function daemonize(logFile: string, argv: readonly string[] = process.argv.slice(1)): number {
  const fd = openSync(logFile, 'a', 0o640);
  try {
    const child = spawn(process.execPath, [...process.execArgv, ...argv], {
      cwd: process.cwd(),
      env: { ...process.env, [DAEMON_ENV]: '1' },
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot start the background process for --daemonize ${logFile}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

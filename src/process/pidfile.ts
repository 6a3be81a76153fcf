/**
 * The pidfile (uWSGI's --pidfile): the master's pid in a text file, so that `kill -HUP $(cat f)`,
 * `tsgi serve --reload f` and init scripts can find the master.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { TsgiError } from '../errors.js';

/** The pidfile is missing, unreadable, holds no pid, or names a process that is not running. */
export class PidfileError extends TsgiError {
  constructor(path: string, why: string, options?: { cause?: unknown }) {
    super('ERR_PIDFILE', `pidfile ${path}: ${why}`, options);
  }
}

/** Writes `pid` followed by a newline. Written to a temporary name and renamed, so a reader never sees half a number. */
export function writePidfile(path: string, pid: number = process.pid): void {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, `${pid}\n`);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new PidfileError(path, `cannot write it: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

export function readPidfile(path: string): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new PidfileError(path, `cannot read it: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const pid = Number(text.trim());
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new PidfileError(path, `does not contain a pid (${JSON.stringify(text.slice(0, 40))})`);
  return pid;
}

/**
 * Removes the pidfile if it still names `pid`: a master that stops must not delete the pidfile a
 * newer instance already wrote over it.
 */
export function removePidfile(path: string, pid: number = process.pid): boolean {
  let current: number;
  try {
    current = readPidfile(path);
  } catch {
    return false;
  }
  if (current !== pid) return false;
  rmSync(path, { force: true });
  return true;
}

/** Sends `signal` to the process the pidfile names; returns its pid. */
export function signalPidfile(path: string, signal: NodeJS.Signals): number {
  const pid = readPidfile(path);
  try {
    process.kill(pid, signal);
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? error.code : undefined;
    const why = code === 'ESRCH' ? `process ${pid} is not running (stale pidfile?)` : `cannot signal process ${pid}: ${String(error)}`;
    throw new PidfileError(path, why, { cause: error });
  }
  return pid;
}

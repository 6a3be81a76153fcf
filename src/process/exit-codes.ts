/**
 * How a supervised process ended, and the exit codes tsgi's own processes use. Where uWSGI has a
 * code for the same situation the value is uWSGI's (`core/uwsgi.h`), so an operator who knows
 * "exit status 22: the app failed to load" reads tsgi's logs the same way.
 */
import { constants } from 'node:os';

/** The process finished what it was asked to do (a worker that drained, a master that stopped). */
export const EXIT_OK = 0;
/** Generic failure of the master itself (bad configuration, a socket that cannot be bound). */
export const EXIT_FAILURE = 1;
/** A worker left because its master asked it to reload (uWSGI's UWSGI_RELOAD_CODE). */
export const EXIT_RELOAD = 17;
/** A worker could not load the application (uWSGI's UWSGI_FAILED_APP_CODE). */
export const EXIT_FAILED_APP = 22;
/** A worker was told to end at once (uWSGI's UWSGI_END_CODE: SIGINT/SIGQUIT to a worker). */
export const EXIT_END = 30;
/** A worker whose master went away (its IPC channel closed) drained and ended itself. */
export const EXIT_ORPHANED = 31;

/** What `waitpid()` reported: exactly one of `code` and `signal` is set. */
export type ExitStatus = { code: number; signal: null } | { code: null; signal: NodeJS.Signals };

/** Normalises the (code, signal) pair of a ChildProcess 'exit' event. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): ExitStatus {
  if (signal !== null) return { code: null, signal };
  return { code: code ?? EXIT_FAILURE, signal: null };
}

/** The number of a signal (`SIGKILL` is 9): uWSGI's log lines give numbers, not names. */
export function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 0;
}

/** `exit code 3` or `killed by signal 9`: the tail of a death notice. */
export function describeExit(status: ExitStatus): string {
  return status.signal !== null ? `killed by signal ${signalNumber(status.signal)}` : `exit code ${status.code}`;
}

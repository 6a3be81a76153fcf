import { format } from 'node:util';
import type { Environ } from '../gateway/types.js';
import type { HandlerLog } from '../gateway/handler.js';

/**
 * The server log: one line per event on a writable (stderr unless --logto says otherwise).
 * Application failures carry the request line so a log reader can find the request at fault.
 */
export class Logger implements HandlerLog {
  constructor(private readonly out: { write(text: string): unknown } = process.stderr) {}

  line(text: string): void {
    this.out.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  info(message: string): void {
    this.line(`tsgi: ${message}`);
  }

  error(message: string, error?: unknown): void {
    this.line(error === undefined ? `tsgi: ${message}` : `tsgi: ${message}: ${describeError(error)}`);
  }

  appError(environ: Environ, message: string, error: unknown): void {
    const request = `${environ.REQUEST_METHOD} ${String(environ.REQUEST_URI ?? environ.PATH_INFO)}`;
    this.line(`tsgi: ${message} (${request} from ${environ.REMOTE_ADDR}): ${describeError(error)}`);
  }
}

/** The stack when there is one (the log is where a developer looks for it), else the value. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return format('%o', error);
}

/** A logger that drops everything (tests, and servers embedded with `log: false`). */
export const silentLogger = new Logger({ write: () => true });

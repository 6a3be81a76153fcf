import { format } from 'node:util';
import type { Environ } from '../gateway/types.js';
import type { HandlerLog } from '../gateway/handler.js';

/**
 * The server log: one line per event on a writable (stderr unless --logto says otherwise).
 * Application failures carry the request line so a log reader can find the request at fault.
 */
export class Logger implements HandlerLog {
  /** uWSGI's --log-date: a strftime format put before every line, or null for none. */
  private dateFormat: string | null = null;

  constructor(private readonly out: { write(text: string): unknown } = process.stderr) {}

  /** Starts each line with the date (uWSGI's --log-date: `Sun Nov 22 02:08:44 2026 - line`). */
  dateLines(format: string = UWSGI_LOG_DATE_FORMAT): void {
    this.dateFormat = format;
  }

  line(text: string): void {
    const block = text.endsWith('\n') ? text : `${text}\n`;
    if (this.dateFormat === null) {
      this.out.write(block);
      return;
    }
    const prefix = `${strftime(this.dateFormat, new Date())} - `;
    this.out.write(prefix + block.slice(0, -1).replace(/\n/g, `\n${prefix}`) + '\n');
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

/** uWSGI's default --log-date format (core/logging.c). */
export const UWSGI_LOG_DATE_FORMAT = '%a %b %d %H:%M:%S %Y';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

/** The strftime codes log formats use (local time); other codes are kept as written. */
export function strftime(format: string, date: Date): string {
  return format.replace(/%([aAbBdeHMSYymjpz%])/g, (_, code: string) => {
    switch (code) {
      case 'a': return DAYS[date.getDay()]!;
      case 'A': return new Intl.DateTimeFormat('en-US', { weekday: 'long' }).format(date);
      case 'b': return MONTHS[date.getMonth()]!;
      case 'B': return new Intl.DateTimeFormat('en-US', { month: 'long' }).format(date);
      case 'd': return two(date.getDate());
      case 'e': return String(date.getDate()).padStart(2, ' ');
      case 'H': return two(date.getHours());
      case 'M': return two(date.getMinutes());
      case 'S': return two(date.getSeconds());
      case 'Y': return String(date.getFullYear());
      case 'y': return two(date.getFullYear() % 100);
      case 'm': return two(date.getMonth() + 1);
      case 'j': return String(Math.floor((date.getTime() - new Date(date.getFullYear(), 0, 0).getTime()) / 86_400_000)).padStart(3, '0');
      case 'p': return date.getHours() < 12 ? 'AM' : 'PM';
      case 'z': {
        const offset = -date.getTimezoneOffset();
        return `${offset >= 0 ? '+' : '-'}${two(Math.floor(Math.abs(offset) / 60))}${two(Math.abs(offset) % 60)}`;
      }
      default: return '%';
    }
  });
}

/** The stack when there is one (the log is where a developer looks for it), else the value. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return format('%o', error);
}

/** A logger that drops everything (tests, and servers embedded with `log: false`). */
export const silentLogger = new Logger({ write: () => true });

/**
 * The request log of a worker (uWSGI's `log_request` and `uwsgi_logit_simple`, core/logging.c):
 * one line per request, written when the response has ended, in one of three forms.
 *
 *   default    uWSGI's line, field for field, so the tools that parse uWSGI logs keep working:
 *              [pid: 4242|app: 0|req: 3/7] 127.0.0.1 () {26 vars in 312 bytes} [Sun Nov 22 01:11:25 2026]
 *              GET /x?y=1 => generated 12 bytes in 0 msecs (HTTP/1.1 200) 1 headers in 45 bytes (1 switches on core 0)
 *   json       one JSON object per line with the same facts (`--log-format json`)
 *   template   any other `--log-format` value is a uWSGI log format: `%(addr) [%(ltime)] "%(method) %(uri)" %(status)`
 *
 * With `--memory-report` every line starts with uWSGI's
 * `{address space usage: N bytes/NMB} {rss usage: N bytes/NMB} ` (a field of its own in json).
 *
 * The logger is a TSGI middleware that runs inside the worker's RequestTracker, so its clock starts
 * when the request holds a --threads slot, as uWSGI's starts when a core picks the request up. It
 * costs little on the hot path: a sync array body (the common case) is measured when the app
 * returns, without a Proxy; the date is formatted once a second; and lines are written in batches
 * (`LineBatch`), not one write per request.
 */
import type { App, Body, Chunk, Environ, HeaderList, StartResponse } from '../gateway/types.js';
import type { RequestLogSettings } from './worker-protocol.js';
import { readMemory, type MemoryUsage } from './stats/memory.js';

/** Everything a log line may say about one request. */
export interface RequestFacts {
  pid: number;
  workerId: number;
  /** uWSGI's app id; tsgi hosts one application per worker. */
  appId: number;
  /** Requests this worker's application has started, this one included (uWSGI's app `requests`). */
  appRequests: number;
  /** Requests every worker has finished, this one included (uWSGI's `workers[0].requests`). */
  totalRequests: number;
  remoteAddr: string;
  remoteUser: string;
  /** Request variables, counting names and values apart as uWSGI does (2 per variable). */
  vars: number;
  /** Size of those variables as a uwsgi packet body: 2 + name + 2 + value bytes each. */
  varsBytes: number;
  /** When the request started, ms since the epoch. */
  startedAt: number;
  method: string;
  uri: string;
  protocol: string;
  status: number;
  /** Body bytes the application produced (uWSGI's response_size). */
  bodyBytes: number;
  /** Headers the application gave, and the size of the header block with its status line. */
  headerCount: number;
  headerBytes: number;
  /** Time from the start of the request to the end of its response, microseconds. */
  micros: number;
  /** uWSGI's async switches: 1 for every request (tsgi does not count awaits). */
  switches: number;
  core: number;
  /** The worker's memory after the request, with --memory-report. */
  memory: MemoryUsage | null;
  environ: Environ;
}

export type LineFormatter = (facts: RequestFacts) => string;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function pad2(value: number): string {
  return value < 10 ? `0${value}` : String(value);
}

/** C's ctime() without the newline, in local time: `Sun Nov  2 01:11:25 2026`. */
export function ctime(ms: number): string {
  const date = new Date(ms);
  const day = date.getDate();
  const clock = `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
  return `${DAYS[date.getDay()]} ${MONTHS[date.getMonth()]} ${day < 10 ? ` ${day}` : day} ${clock} ${date.getFullYear()}`;
}

/** strftime's `%d/%b/%Y:%H:%M:%S %z` in local time (uWSGI's `%(ltime)`, Apache's log date). */
export function ltime(ms: number): string {
  const date = new Date(ms);
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const zone = `${sign}${pad2(Math.floor(Math.abs(offset) / 60))}${pad2(Math.abs(offset) % 60)}`;
  const clock = `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
  return `${pad2(date.getDate())}/${MONTHS[date.getMonth()]}/${date.getFullYear()}:${clock} ${zone}`;
}

/** A formatter of one date format that formats each second once: most lines share their second. */
function cachedBySecond(format: (ms: number) => string): (ms: number) => string {
  let second = Number.NaN;
  let text = '';
  return (ms) => {
    const current = Math.floor(ms / 1000);
    if (current !== second) {
      second = current;
      text = format(current * 1000);
    }
    return text;
  };
}

function megabytes(bytes: number): number {
  return Math.floor(bytes / 1024 / 1024);
}

/** uWSGI's --memory-report prefix, trailing space included. */
export function memoryReportPrefix(memory: MemoryUsage): string {
  return `{address space usage: ${memory.vsz} bytes/${megabytes(memory.vsz)}MB} {rss usage: ${memory.rss} bytes/${megabytes(memory.rss)}MB} `;
}

function environString(environ: Environ, key: string): string {
  const value = environ[key];
  return typeof value === 'string' ? value : '';
}

/** uWSGI's default request line (uwsgi_logit_simple), with `micros` instead of `msecs` under --log-micros. */
function defaultFormatter(micros: boolean): LineFormatter {
  const date = cachedBySecond(ctime);
  return (f) => {
    const time = micros ? `${Math.round(f.micros)} micros` : `${Math.floor(f.micros / 1000)} msecs`;
    const memory = f.memory === null ? '' : memoryReportPrefix(f.memory);
    return (
      `${memory}[pid: ${f.pid}|app: ${f.appId}|req: ${f.appRequests}/${f.totalRequests}] ${f.remoteAddr} (${f.remoteUser}) ` +
      `{${f.vars} vars in ${f.varsBytes} bytes} [${date(f.startedAt)}] ${f.method} ${f.uri} => generated ${f.bodyBytes} bytes ` +
      `in ${time} (${f.protocol} ${f.status}) ${f.headerCount} headers in ${f.headerBytes} bytes (${f.switches} switches on core ${f.core})`
    );
  };
}

/** `--log-format json`: the facts of the default line, named after uWSGI's log-format variables. */
function jsonFormatter(): LineFormatter {
  return (f) => {
    const line: Record<string, string | number> = {
      time: new Date(f.startedAt).toISOString(),
      pid: f.pid,
      wid: f.workerId,
      app: f.appId,
      req: f.appRequests,
      total_req: f.totalRequests,
      addr: f.remoteAddr,
      user: f.remoteUser,
      vars: f.vars,
      pktsize: f.varsBytes,
      method: f.method,
      uri: f.uri,
      proto: f.protocol,
      status: f.status,
      rsize: f.bodyBytes,
      headers: f.headerCount,
      hsize: f.headerBytes,
      size: f.bodyBytes + f.headerBytes,
      msecs: Math.floor(f.micros / 1000),
      micros: Math.round(f.micros),
      switches: f.switches,
      core: f.core,
      host: environString(f.environ, 'HTTP_HOST'),
      uagent: environString(f.environ, 'HTTP_USER_AGENT'),
      referer: environString(f.environ, 'HTTP_REFERER'),
    };
    if (f.memory !== null) {
      line.rss = f.memory.rss;
      line.vsz = f.memory.vsz;
    }
    return JSON.stringify(line);
  };
}

/** The variables of uWSGI's --log-format (docs: LogFormat), by name. */
function templateVariables(): Record<string, (f: RequestFacts) => string | number> {
  const cachedCtime = cachedBySecond(ctime);
  const cachedLtime = cachedBySecond(ltime);
  return {
    uri: (f) => f.uri,
    method: (f) => f.method,
    user: (f) => f.remoteUser,
    addr: (f) => f.remoteAddr,
    host: (f) => environString(f.environ, 'HTTP_HOST'),
    proto: (f) => f.protocol,
    uagent: (f) => environString(f.environ, 'HTTP_USER_AGENT'),
    referer: (f) => environString(f.environ, 'HTTP_REFERER'),
    status: (f) => f.status,
    micros: (f) => Math.round(f.micros),
    msecs: (f) => Math.floor(f.micros / 1000),
    time: (f) => Math.floor(f.startedAt / 1000),
    ctime: (f) => cachedCtime(f.startedAt),
    ltime: (f) => cachedLtime(f.startedAt),
    ftime: (f) => cachedLtime(f.startedAt),
    epoch: () => Math.floor(Date.now() / 1000),
    tmsecs: (f) => Math.floor(f.startedAt),
    tmicros: (f) => Math.floor(f.startedAt * 1000),
    size: (f) => f.bodyBytes + f.headerBytes,
    rsize: (f) => f.bodyBytes,
    hsize: (f) => f.headerBytes,
    cl: (f) => Number(environString(f.environ, 'CONTENT_LENGTH')) || 0,
    pid: (f) => f.pid,
    wid: (f) => f.workerId,
    switches: (f) => f.switches,
    vars: (f) => f.vars,
    pktsize: (f) => f.varsBytes,
    headers: (f) => f.headerCount,
    core: (f) => f.core,
    modifier1: () => 0,
    modifier2: () => 0,
    rss: (f) => f.memory?.rss ?? process.memoryUsage.rss(),
    vsz: (f) => f.memory?.vsz ?? 0,
    rssM: (f) => megabytes(f.memory?.rss ?? process.memoryUsage.rss()),
    vszM: (f) => megabytes(f.memory?.vsz ?? 0),
  };
}

/**
 * A uWSGI log format: literal text with `%(name)` variables. As in uWSGI, a variable that is empty
 * or unknown (uWSGI's user logvars, which tsgi apps cannot set) prints as `-`; `%(var.NAME)` is the
 * request variable NAME (`%(var.HTTP_X_REQUEST_ID)`).
 */
function templateFormatter(template: string): LineFormatter {
  const variables = templateVariables();
  const parts: Array<string | ((f: RequestFacts) => string | number)> = [];
  const pattern = /%\(([^)]*)\)/g;
  let last = 0;
  for (const match of template.matchAll(pattern)) {
    if (match.index > last) parts.push(template.slice(last, match.index));
    const name = match[1]!;
    if (name.startsWith('var.')) {
      const key = name.slice(4);
      parts.push((f) => environString(f.environ, key));
    } else {
      parts.push(variables[name] ?? (() => ''));
    }
    last = match.index + match[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  return (f) => {
    let line = '';
    for (const part of parts) {
      if (typeof part === 'string') {
        line += part;
        continue;
      }
      const value = String(part(f));
      line += value === '' ? '-' : value;
    }
    return line;
  };
}

/** The formatter for a --log-format value: `default`, `json`, or a uWSGI template. */
export function compileFormat(format: string, options: { micros?: boolean } = {}): LineFormatter {
  if (format === '' || format === 'default') return defaultFormatter(options.micros ?? false);
  if (format === 'json') return jsonFormatter();
  return templateFormatter(format);
}

/**
 * Lines collected for a few milliseconds and written together: a worker under load finishes many
 * requests in that time, and one write of all their lines costs what one line did. Through the
 * master's stderr (a pipe the master reads and writes on), writing every 20 ms instead of every
 * event loop turn took the master's share of a logged hello-world request from 2.5 to 0.9 µs.
 */
export class LineBatch {
  private text = '';
  private scheduled = false;
  private readonly flushSoon = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(
    private readonly out: (text: string) => void,
    /** How long a line may wait for others. */
    private readonly delayMs = 20,
    /** Written at once past this many characters, so a burst does not hold unbounded text. */
    private readonly maxPending = 64 * 1024,
  ) {}

  push(line: string): void {
    this.text += `${line}\n`;
    if (this.text.length >= this.maxPending) {
      this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      // Unref'd: pending lines never keep a process alive; the graceful ways out flush them first.
      setTimeout(this.flushSoon, this.delayMs).unref();
    }
  }

  flush(): void {
    if (this.text === '') return;
    const text = this.text;
    this.text = '';
    this.out(text);
  }
}

/** False when the settings log nothing at all (--disable-logging without a --log-4xx... exception). */
export function logsAnything(settings: RequestLogSettings): boolean {
  if (settings.enabled) return true;
  return settings.log4xx === true || settings.log5xx === true || settings.logZero === true || settings.logSlowMs !== undefined || settings.logBigBytes !== undefined;
}

export interface RequestLoggerOptions {
  settings: RequestLogSettings;
  workerId: number;
  /** Requests finished by the other workers, as the master last said (0 without a master). */
  otherRequests: () => number;
  /** The core (--threads slot) of the request being called now. */
  currentCore: () => number;
  /** Receives each line, without its newline. */
  write: (line: string) => void;
}

/** What the logger notes about a request while it runs. */
class RequestRecord {
  status = 0;
  headers: HeaderList | null = null;
  statusLine = '';
  bodyBytes = 0;
  readonly started = performance.now();
  readonly startedAt = Date.now();
  /** The request variables as uWSGI counts them, on arrival (the app may add its own later). */
  readonly vars: number = 0;
  readonly varsBytes: number = 0;

  constructor(
    readonly environ: Environ,
    readonly appRequests: number,
    readonly core: number,
  ) {
    // String values only, not the `tsgi.*` objects: names and values count apart, 2 + length each.
    for (const key in environ) {
      const value = environ[key];
      if (typeof value !== 'string' || key.includes('.')) continue;
      this.vars += 2;
      this.varsBytes += 4 + key.length + value.length;
    }
  }
}

function chunkBytes(chunk: Chunk): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk);
  return chunk instanceof Uint8Array ? chunk.byteLength : 0;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && 'then' in value && typeof value.then === 'function';
}


/** Conditional logging: uWSGI's --log-4xx, --log-5xx, --log-slow, --log-zero and --log-big still log when logging is off. */
function wantsLine(settings: RequestLogSettings, record: RequestRecord, micros: number): boolean {
  if (settings.enabled) return true;
  const status = record.status;
  if (settings.log4xx === true && status >= 400 && status <= 499) return true;
  if (settings.log5xx === true && status >= 500 && status <= 599) return true;
  if (settings.logSlowMs !== undefined && micros / 1000 >= settings.logSlowMs) return true;
  if (settings.logZero === true && record.bodyBytes === 0) return true;
  if (settings.logBigBytes !== undefined && record.bodyBytes >= settings.logBigBytes) return true;
  return false;
}

export class RequestLogger {
  /** Requests started (uWSGI's app `requests`, counted when a request starts) and finished. */
  private appRequests = 0;
  private finishedRequests = 0;
  private readonly format: LineFormatter;

  constructor(private readonly options: RequestLoggerOptions) {
    this.format = compileFormat(options.settings.format, { micros: options.settings.micros });
  }

  wrap(app: App): App {
    return (environ, startResponse) => {
      const record = new RequestRecord(environ, ++this.appRequests, this.options.currentCore());
      const observed: StartResponse = (status, headers, excInfo) => {
        record.status = Number.parseInt(status, 10) || 0;
        record.statusLine = status;
        record.headers = headers;
        const write = startResponse(status, headers, excInfo);
        return (chunk) => {
          record.bodyBytes += chunkBytes(chunk);
          return write(chunk);
        };
      };
      let result: Body | Promise<Body>;
      try {
        result = app(environ, observed);
      } catch (error) {
        this.fail(record);
        throw error;
      }
      if (isThenable(result)) {
        return Promise.resolve(result).then(
          (body) => this.watch(body, record),
          (error: unknown) => {
            this.fail(record);
            throw error;
          },
        );
      }
      return this.watch(result, record);
    };
  }

  /** The application failed before a response: the server answers 500. */
  private fail(record: RequestRecord): void {
    record.status = 500;
    record.headers = null;
    this.finish(record);
  }

  /** Counts the body's bytes and logs when it is done: at once for an array, at close() otherwise. */
  private watch(body: Body, record: RequestRecord): Body {
    if (typeof body !== 'object' || body === null) {
      // Not a body: the server answers 500 and will not call close().
      this.fail(record);
      return body;
    }
    const original: unknown = Reflect.get(body, 'close');
    if (Array.isArray(body)) {
      for (const chunk of body as Chunk[]) record.bodyBytes += chunkBytes(chunk);
      if (typeof original !== 'function') {
        this.finish(record);
        return body;
      }
    }
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      this.finish(record);
    };
    const close = (): void | Promise<void> => {
      let outcome: unknown;
      try {
        outcome = typeof original === 'function' ? Reflect.apply(original, body, []) : undefined;
      } finally {
        if (!isThenable(outcome)) finish();
      }
      if (isThenable(outcome)) {
        return Promise.resolve(outcome).then(finish, (error: unknown) => {
          finish();
          throw error;
        });
      }
      return undefined;
    };
    const counted = Array.isArray(body);
    return new Proxy(body, {
      get(target, property) {
        if (property === 'close') return close;
        if (!counted && property === Symbol.iterator) {
          const iterable = target as Iterable<Chunk>;
          return function* countingIterator(): Generator<Chunk, void, undefined> {
            for (const chunk of iterable) {
              record.bodyBytes += chunkBytes(chunk);
              yield chunk;
            }
          };
        }
        if (!counted && property === Symbol.asyncIterator) {
          const iterable = target as AsyncIterable<Chunk>;
          return async function* countingAsyncIterator(): AsyncGenerator<Chunk, void, undefined> {
            for await (const chunk of iterable) {
              record.bodyBytes += chunkBytes(chunk);
              yield chunk;
            }
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        // Methods run against the real object: private fields and internal slots need it as `this`.
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  private finish(record: RequestRecord): void {
    this.finishedRequests++;
    const micros = (performance.now() - record.started) * 1000;
    const settings = this.options.settings;
    if (!wantsLine(settings, record, micros)) return;
    const environ = record.environ;
    const protocol = environString(environ, 'SERVER_PROTOCOL');
    let headerCount = 0;
    let headerBytes = 0;
    if (record.headers !== null) {
      // The header block as uWSGI counts it: status line, `Name: value\r\n` each, blank line.
      headerBytes = protocol.length + 1 + record.statusLine.length + 2 + 2;
      for (const [name, value] of record.headers) {
        headerCount++;
        headerBytes += name.length + 2 + String(value).length + 2;
      }
    }
    const facts: RequestFacts = {
      pid: process.pid,
      workerId: this.options.workerId,
      appId: 0,
      appRequests: record.appRequests,
      totalRequests: this.options.otherRequests() + this.finishedRequests,
      remoteAddr: environString(environ, 'REMOTE_ADDR'),
      remoteUser: environString(environ, 'REMOTE_USER'),
      vars: record.vars,
      varsBytes: record.varsBytes,
      startedAt: record.startedAt,
      method: environString(environ, 'REQUEST_METHOD'),
      uri: environString(environ, 'REQUEST_URI') || environString(environ, 'PATH_INFO'),
      protocol,
      status: record.status,
      bodyBytes: record.bodyBytes,
      headerCount,
      headerBytes,
      micros,
      switches: 1,
      core: record.core,
      memory: settings.memoryReport ? readMemory() : null,
      environ,
    };
    this.options.write(this.format(facts));
  }
}

/**
 * The error log (src/core/ngx_log.c and ngx_http_log_error in ngx_http_request.c, nginx 1.22).
 * One line per message:
 *
 *   2026/11/22 01:02:40 [error] 4242#4242: *7 open() "/srv/x" failed (2: No such file or directory), client: 127.0.0.1, server: example.com, request: "GET /x HTTP/1.1", host: "example.com"
 *   └ local time ─────┘ └level┘ └pid#tid┘ └conn┘ └ message ─────────────────────────────────────┘ └ request trailer ──────────────────────────────────────────────────────────────────────┘
 *
 *   - the thread id is the pid: Debian's nginx is built with threads, and the main thread's
 *     gettid() is the pid;
 *   - `*N ` (the connection number, as $connection) only for messages about a connection;
 *   - the trailer: `, client: ADDR` then, for a request, `, server: NAME` (the server's first
 *     server_name, may be empty), `, request: "LINE"`, `, upstream: "..."`, `, host: "HOST
 *     HEADER"`, `, referrer: "REFERER"`; for a connection without a request, `, server: LISTEN`;
 *   - the whole line is cut at 2047 bytes plus the line feed (NGX_MAX_ERROR_STR);
 *   - nothing is escaped (unlike the access log).
 *
 * Levels: a message is written to every `error_log` of the context in force whose level it
 * reaches (`error_log x warn` takes warn, error, crit, alert, emerg). A request's messages go to
 * the location's error_log, else the server's, http's, then the main context's.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { TsgiError } from '../../errors.js';
import { describeErrno } from '../config/errors.js';
import { LOG_LEVELS, type ErrorLogEntry, type LogLevel, type NginxConfig, type PerLocation } from '../config/types.js';
import { isByteString, textToBytes } from '../match/index.js';
import type { ConnectionInfo, ErrorLog, RequestContext } from '../request-context.js';
import { SyslogSender, parseSyslogTarget, syslogHeader, syslogSeverity } from './syslog.js';
import { TimeTexts } from './time.js';

/** NGX_MAX_ERROR_STR: the line buffer, line feed included. */
export const MAX_ERROR_LINE = 2048;
const LINE_FEED = '\n';
const LOG_FILE_MODE = 0o644;
const STDERR_FD = 2;

/** What an error log line is made of. Strings are byte strings (ASCII messages are too). */
export interface ErrorLineFields {
  /** Wall clock, ms since the epoch. */
  readonly timeMs: number;
  readonly level: LogLevel;
  readonly pid: number;
  /** Thread id; nginx's main thread reports the pid. */
  readonly tid?: number;
  /** The connection number (`*N`), for messages about a connection. */
  readonly connection?: number | null;
  readonly message: string;
  /** `ngx_log_errno`: appended as " (2: No such file or directory)". */
  readonly errno?: string | null;
  /** nginx's log->action: " while reading response header from upstream". */
  readonly action?: string | null;
  /** The trailer: client address, then request or listen details. */
  readonly client?: string | null;
  readonly server?: string | null;
  readonly request?: string | null;
  readonly upstream?: string | null;
  readonly host?: string | null;
  readonly referrer?: string | null;
}

/** One error log line as nginx writes it, without the line feed, cut to MAX_ERROR_LINE - 1 bytes. */
export function formatErrorLine(fields: ErrorLineFields, times: TimeTexts = new TimeTexts()): string {
  let line = `${times.errorLogTime(fields.timeMs)} [${fields.level}] ${fields.pid}#${fields.tid ?? fields.pid}: `;
  if (fields.connection !== undefined && fields.connection !== null) line += `*${fields.connection} `;
  line += fields.message;
  if (fields.errno) line += ` ${fields.errno}`;
  if (fields.level !== 'debug') {
    if (fields.action) line += ` while ${fields.action}`;
    if (fields.client !== undefined && fields.client !== null) {
      line += `, client: ${fields.client}`;
      if (fields.server !== undefined && fields.server !== null) line += `, server: ${fields.server}`;
      if (fields.request) line += `, request: "${fields.request}"`;
      if (fields.upstream) line += `, upstream: "${fields.upstream}"`;
      if (fields.host !== undefined && fields.host !== null) line += `, host: "${fields.host}"`;
      if (fields.referrer !== undefined && fields.referrer !== null) line += `, referrer: "${fields.referrer}"`;
    }
  }
  const bytes = isByteString(line) ? line : textToBytes(line);
  return bytes.length > MAX_ERROR_LINE - 1 ? bytes.slice(0, MAX_ERROR_LINE - 1) : bytes;
}

/** The trailer fields of a request (ngx_http_log_error_handler). */
export function requestFields(ctx: RequestContext): Pick<ErrorLineFields, 'connection' | 'client' | 'server' | 'request' | 'host' | 'referrer'> {
  return {
    connection: ctx.connection.serial,
    client: ctx.connection.remoteAddr,
    server: ctx.serverName,
    request: ctx.head.requestLine,
    host: ctx.headers.get('host') ?? null,
    referrer: ctx.headers.get('referer') ?? null,
  };
}

/** A level's rank: higher is more severe. */
export function levelRank(level: LogLevel): number {
  return LOG_LEVELS.indexOf(level);
}

/** An error log could not be opened: nginx's `open() "x" failed (13: Permission denied)`. */
export class LogOpenError extends TsgiError {
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super('ERR_LOG_OPEN', `open() "${path}" failed ${describeErrno(cause)}`, { cause });
  }
}

/** Opens a log file as nginx does: append, create with 0644. Throws LogOpenError. */
export function openLogFile(path: string): number {
  try {
    return openSync(path, 'a', LOG_FILE_MODE);
  } catch (error) {
    throw new LogOpenError(path, error);
  }
}

/** Where error lines go. */
interface Sink {
  write(line: string, level: LogLevel): void;
  reopen(): void;
  close(): void;
}

class FileSink implements Sink {
  private fd: number;
  constructor(readonly path: string) {
    this.fd = openLogFile(path);
  }
  write(line: string): void {
    try {
      writeSync(this.fd, Buffer.from(line + LINE_FEED, 'latin1'));
    } catch {
      // nginx has nowhere to report a failing error log either.
    }
  }
  reopen(): void {
    // Open the new file before closing the old one, as ngx_reopen_files does: on failure the old
    // descriptor keeps working.
    let fd: number;
    try {
      fd = openLogFile(this.path);
    } catch {
      return;
    }
    closeSync(this.fd);
    this.fd = fd;
  }
  close(): void {
    closeSync(this.fd);
  }
}

class StderrSink implements Sink {
  constructor(private readonly writeText: (text: string) => void) {}
  write(line: string): void {
    this.writeText(line + LINE_FEED);
  }
  reopen(): void {}
  close(): void {}
}

/** `error_log memory:SIZE`: a ring of the last lines, for debugging (nginx reads it with gdb). */
class MemorySink implements Sink {
  private lines: string[] = [];
  private bytes = 0;
  constructor(private readonly size: number) {}
  write(line: string): void {
    this.lines.push(line);
    this.bytes += line.length + 1;
    while (this.bytes > this.size && this.lines.length > 0) this.bytes -= this.lines.shift()!.length + 1;
  }
  text(): string {
    return this.lines.map((l) => l + LINE_FEED).join('');
  }
  reopen(): void {}
  close(): void {}
}

class SyslogSink implements Sink {
  private readonly sender: SyslogSender;
  constructor(
    target: string,
    private readonly hostname: string,
    private readonly now: () => number,
  ) {
    this.sender = new SyslogSender(parseSyslogTarget(target));
  }
  write(line: string, level: LogLevel): void {
    // The syslog header replaces the time; the message starts after "[level] ".
    const header = syslogHeader(this.sender.target, this.now(), this.hostname, syslogSeverity(level));
    const body = line.slice(line.indexOf('] ') + 2);
    this.sender.send(Buffer.from(header + body, 'latin1'));
  }
  reopen(): void {}
  close(): void {
    this.sender.close();
  }
}

const MEMORY_PREFIX = 'memory:';
const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, K: 1024, m: 1024 * 1024, M: 1024 * 1024 };

export interface ErrorLogOptions {
  /** Wall clock (Date.now). */
  readonly now?: () => number;
  readonly pid?: number;
  /** Where `stderr` targets write (process.stderr). */
  readonly stderr?: (text: string) => void;
  readonly hostname?: string;
}

/**
 * The error log of one configuration generation. Every `error_log` target of the configuration
 * (main context and every level of http {}) is opened when it is made, as nginx opens them at
 * start; an unopenable file throws LogOpenError (nginx refuses to start with the same words).
 */
export class ErrorLogWriter implements ErrorLog {
  private readonly sinks = new Map<string, Sink>();
  private readonly times = new TimeTexts();
  private readonly now: () => number;
  private readonly pid: number;
  private readonly stderr: (text: string) => void;
  private readonly hostname: string;
  private readonly main: readonly ErrorLogEntry[];
  private closed = false;

  constructor(config: NginxConfig | null, options: ErrorLogOptions = {}) {
    this.now = options.now ?? Date.now;
    this.pid = options.pid ?? process.pid;
    this.stderr = options.stderr ?? ((text) => process.stderr.write(Buffer.from(text, 'latin1')));
    this.hostname = (options.hostname ?? osHostname()).toLowerCase();
    this.main = config?.main.errorLog ?? [{ target: 'stderr', level: 'error' }];
    try {
      for (const entry of this.main) this.sink(entry.target);
      if (config) for (const per of everyPerLocation(config)) for (const entry of per.settings.errorLog ?? []) this.sink(entry.target);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  private sink(target: string): Sink {
    let sink = this.sinks.get(target);
    if (sink) return sink;
    if (target === 'stderr') sink = new StderrSink(this.stderr);
    else if (target.startsWith(MEMORY_PREFIX)) sink = new MemorySink(parseMemorySize(target.slice(MEMORY_PREFIX.length)));
    else if (target.startsWith('syslog:')) sink = new SyslogSink(target, this.hostname, this.now);
    else sink = new FileSink(target);
    this.sinks.set(target, sink);
    return sink;
  }

  /** The entries in force for a request: the closest level that wrote error_log, else main's. */
  private entries(ctx: RequestContext | undefined): readonly ErrorLogEntry[] {
    return ctx?.loc.settings.errorLog ?? this.main;
  }

  /** True when a message at `level` would be written anywhere (skip building costly messages). */
  enabled(level: LogLevel, ctx?: RequestContext): boolean {
    const rank = levelRank(level);
    return this.entries(ctx).some((entry) => rank >= levelRank(entry.level));
  }

  /**
   * `ErrorLog.log`. `details` adds what the upstream module knows: the peer (`upstream:`), the
   * action in progress (` while connecting to upstream`), and errno text.
   */
  log(level: LogLevel, message: string, ctx?: RequestContext, details: Pick<ErrorLineFields, 'upstream' | 'action' | 'errno'> = {}): void {
    const entries = this.entries(ctx);
    const rank = levelRank(level);
    if (!entries.some((entry) => rank >= levelRank(entry.level))) return;
    const line = formatErrorLine(
      { timeMs: this.now(), level, pid: this.pid, message, ...(ctx ? requestFields(ctx) : {}), ...details },
      this.times,
    );
    this.emit(entries, rank, line, level);
  }

  /** A message about a connection that has no request (yet): `, client: X, server: LISTEN`. */
  logConnection(level: LogLevel, message: string, connection: ConnectionInfo, details: Pick<ErrorLineFields, 'action' | 'errno'> = {}): void {
    const rank = levelRank(level);
    if (!this.main.some((entry) => rank >= levelRank(entry.level))) return;
    const line = formatErrorLine(
      {
        timeMs: this.now(),
        level,
        pid: this.pid,
        message,
        connection: connection.serial,
        client: connection.remoteAddr,
        server: connection.listen.text,
        ...details,
      },
      this.times,
    );
    this.emit(this.main, rank, line, level);
  }

  private emit(entries: readonly ErrorLogEntry[], rank: number, line: string, level: LogLevel): void {
    // A request that finishes while its generation shuts down logs nothing rather than reopen a
    // file that may be gone (and throw from the connection's last step).
    if (this.closed) return;
    const written = new Set<Sink>();
    for (const entry of entries) {
      if (rank < levelRank(entry.level)) continue;
      const sink = this.sink(entry.target);
      // Two error_log lines naming one file write the message once.
      if (written.has(sink)) continue;
      written.add(sink);
      sink.write(line, level);
    }
  }

  /** What `error_log memory:SIZE` holds. */
  memory(target: string): string {
    const sink = this.sinks.get(target);
    return sink instanceof MemorySink ? sink.text() : '';
  }

  reopen(): void {
    for (const sink of this.sinks.values()) sink.reopen();
  }

  close(): void {
    this.closed = true;
    for (const sink of this.sinks.values()) sink.close();
    this.sinks.clear();
  }
}

function parseMemorySize(text: string): number {
  const match = /^(\d+)([kKmM]?)$/.exec(text);
  return match ? Number(match[1]) * SIZE_UNITS[match[2]!]! : 0;
}

/** Every settings level of a configuration: http, servers, locations (nested), ifs, limit_except. */
export function everyPerLocation(config: NginxConfig): PerLocation[] {
  const out: PerLocation[] = [];
  const visitSteps = (per: PerLocation): void => {
    for (const step of per.settings.rewrite) {
      if (step.op === 'if' && step.block.loc) {
        out.push(step.block.loc);
        visitSteps(step.block.loc);
      }
    }
  };
  const add = (per: PerLocation): void => {
    out.push(per);
    visitSteps(per);
  };
  if (config.http) add(config.http.loc);
  for (const server of config.servers) {
    add(server.loc);
    const walk = (locations: typeof server.locations): void => {
      for (const location of locations) {
        add(location);
        if (location.limitExcept) add(location.limitExcept.loc);
        walk(location.locations);
      }
    };
    walk(server.locations);
  }
  return out;
}

/** The `WebModules.errorLog` of a configuration. Throws LogOpenError. */
export function createErrorLog(config: NginxConfig, options: ErrorLogOptions = {}): ErrorLogWriter {
  return new ErrorLogWriter(config, options);
}

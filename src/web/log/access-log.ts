/**
 * The access log (ngx_http_log_module.c, nginx 1.22): after each request, one line per
 * `access_log` of the location in force (`off` writes none; without any `access_log`, nginx's
 * default PREFIX/logs/access.log in the `combined` format).
 *
 *   access_log PATH [FORMAT [buffer=SIZE] [gzip[=LEVEL]] [flush=TIME] [if=CONDITION]];
 *
 *   - every PATH without variables is opened once, when the configuration is loaded (an
 *     unopenable file stops the start, as in nginx), in append mode, shared by every
 *     `access_log` naming it; USR1 reopens it (`reopen()`), after flushing its buffer;
 *   - `buffer=`: lines collect in memory and are written when the next would not fit, when
 *     `flush=` passes after the first buffered line, at reopen and at close; `gzip` implies a 64k
 *     buffer and writes each flush as one gzip member (`zcat` reads the file whole);
 *   - a PATH with variables is expanded per request and opened for that line (nginx does the
 *     same without open_log_file_cache); as nginx does, nothing is written when the request's
 *     root directory does not exist;
 *   - `if=`: no line when the condition expands to "" or "0";
 *   - `syslog:server=...`: one datagram per line (see syslog.ts).
 *
 * Workers: every worker opens the files itself (nginx's master opens them and the workers inherit
 * them). Files are opened with O_APPEND, so lines written by several workers never overwrite
 * each other; a buffered log may interleave whole buffers, as nginx's do.
 */
import { closeSync, statSync, writeSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { gzipSync } from 'node:zlib';
import { describeErrno } from '../config/errors.js';
import type { AccessLogEntry, NginxConfig } from '../config/index.js';
import type { AccessLog, ErrorLog, ModuleFactory, RequestContext } from '../request-context.js';
import { Variables } from '../variables.js';
import { everyPerLocation, openLogFile } from './error-log.js';
import { compileLogFormat, type LogLine } from './format.js';
import { SyslogSender, parseSyslogTarget, syslogHeader } from './syslog.js';

const LINE_FEED = '\n';
/** nginx reports a failing log at most once a minute (log->error_log_time). */
const WRITE_ERROR_INTERVAL_MS = 60_000;

/** Schedules `callback` after `ms`; returns a cancel function. Injected by tests. */
export type Schedule = (callback: () => void, ms: number) => () => void;

const realSchedule: Schedule = (callback, ms) => {
  const timer = setTimeout(callback, ms);
  // A pending flush must not keep a stopping worker alive: close() flushes anyway.
  timer.unref();
  return () => clearTimeout(timer);
};

export interface AccessLogOptions {
  readonly now?: () => number;
  readonly schedule?: Schedule;
  readonly hostname?: string;
}

interface Reporter {
  report(message: string, ctx: RequestContext | undefined): void;
}

/** One log file with its buffer (nginx's ngx_open_file_t + ngx_http_log_buf_t). */
class LogFile {
  private fd: number;
  private readonly buffer: Buffer | null;
  private used = 0;
  private cancelFlush: (() => void) | null = null;
  private lastErrorMs = Number.NEGATIVE_INFINITY;
  private readonly flushMs: number | null;
  /** `gzip[=LEVEL]`: each write is one gzip member. */
  private readonly gzipLevel: number | null;

  constructor(
    readonly path: string,
    entry: AccessLogEntry,
    private readonly schedule: Schedule,
    private readonly now: () => number,
    private readonly reporter: Reporter,
  ) {
    this.fd = openLogFile(path);
    this.buffer = entry.buffer ? Buffer.allocUnsafe(entry.buffer) : null;
    this.flushMs = entry.flushMs;
    this.gzipLevel = entry.gzip;
  }

  /** Writes one line (a byte string with its line feed). */
  write(line: string, ctx: RequestContext): void {
    const bytes = Buffer.from(line, 'latin1');
    if (!this.buffer) {
      this.writeOut(bytes, ctx);
      return;
    }
    if (bytes.length > this.buffer.length - this.used) this.flush(ctx);
    if (bytes.length <= this.buffer.length - this.used) {
      if (this.used === 0 && this.flushMs !== null) this.cancelFlush = this.schedule(() => this.flush(undefined), this.flushMs);
      bytes.copy(this.buffer, this.used);
      this.used += bytes.length;
      return;
    }
    // A line longer than the whole buffer is written on its own, as nginx does.
    this.writeOut(bytes, ctx);
  }

  /** Writes what the buffer holds. */
  flush(ctx: RequestContext | undefined): void {
    this.cancelFlush?.();
    this.cancelFlush = null;
    if (!this.buffer || this.used === 0) return;
    const data = Buffer.from(this.buffer.subarray(0, this.used));
    this.used = 0;
    this.writeOut(data, ctx);
  }

  private writeOut(data: Buffer, ctx: RequestContext | undefined): void {
    const out = this.gzipLevel === null ? data : gzipSync(data, { level: this.gzipLevel });
    try {
      writeSync(this.fd, out);
    } catch (error) {
      const now = this.now();
      if (now - this.lastErrorMs >= WRITE_ERROR_INTERVAL_MS) {
        this.lastErrorMs = now;
        this.reporter.report(`write() to "${this.path}" failed ${describeErrno(error)}`, ctx);
      }
    }
  }

  reopen(): void {
    this.flush(undefined);
    let fd: number;
    try {
      fd = openLogFile(this.path);
    } catch (error) {
      // ngx_reopen_files keeps the old descriptor when the new open fails.
      this.reporter.report(`open() "${this.path}" failed ${describeErrno(error)}`, undefined);
      return;
    }
    closeSync(this.fd);
    this.fd = fd;
  }

  close(): void {
    this.flush(undefined);
    closeSync(this.fd);
  }
}

/** How one `access_log` writes its line. */
type Target =
  | { readonly kind: 'file'; readonly file: LogFile }
  | { readonly kind: 'script'; readonly path: (ctx: RequestContext) => string }
  | { readonly kind: 'syslog'; readonly sender: SyslogSender };

interface CompiledEntry {
  readonly line: LogLine;
  readonly condition: ((ctx: RequestContext) => string) | null;
  readonly target: Target;
}

/**
 * The access logs of one configuration generation. Throws LogOpenError when a file cannot be
 * opened, and VariableError for a format nginx would refuse.
 */
export class AccessLogWriter implements AccessLog {
  private readonly files = new Map<string, LogFile>();
  private readonly senders = new Map<string, SyslogSender>();
  private readonly entries = new Map<AccessLogEntry, CompiledEntry>();
  private readonly formats = new Map<string, LogLine>();
  private readonly now: () => number;
  private readonly schedule: Schedule;
  private readonly hostname: string;
  private readonly reporter: Reporter;

  constructor(
    private readonly config: NginxConfig,
    private readonly variables: Variables,
    private readonly errorLog: ErrorLog | null,
    options: AccessLogOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.schedule = options.schedule ?? realSchedule;
    this.hostname = (options.hostname ?? osHostname()).toLowerCase();
    this.reporter = { report: (message, ctx) => this.errorLog?.log('alert', message, ctx) };
    try {
      for (const per of everyPerLocation(config)) {
        // The http {} level itself never serves a request: its default log is nginx's only if
        // a server or location ends up without any access_log, and those levels are listed too.
        if (per === config.http?.loc) continue;
        const logs = per.settings.accessLog;
        if (logs !== 'off') for (const entry of logs) this.compiled(entry);
      }
    } catch (error) {
      this.closeFiles();
      throw error;
    }
  }

  private format(name: string): LogLine {
    let line = this.formats.get(name);
    if (!line) {
      const format = this.config.http?.logFormats.get(name);
      if (!format) throw new Error(`log format "${name}" is not in the configuration`);
      line = compileLogFormat(format, this.variables);
      this.formats.set(name, line);
    }
    return line;
  }

  private compiled(entry: AccessLogEntry): CompiledEntry {
    let compiled = this.entries.get(entry);
    if (compiled) return compiled;
    compiled = {
      line: this.format(entry.format),
      condition: entry.condition === null ? null : this.variables.compile(entry.condition),
      target: this.target(entry),
    };
    this.entries.set(entry, compiled);
    return compiled;
  }

  private target(entry: AccessLogEntry): Target {
    if (entry.path.startsWith('syslog:')) {
      let sender = this.senders.get(entry.path);
      if (!sender) {
        sender = new SyslogSender(parseSyslogTarget(entry.path));
        this.senders.set(entry.path, sender);
      }
      return { kind: 'syslog', sender };
    }
    if (entry.path.includes('$')) return { kind: 'script', path: this.variables.compile(entry.path) };
    let file = this.files.get(entry.path);
    if (!file) {
      file = new LogFile(entry.path, entry, this.schedule, this.now, this.reporter);
      this.files.set(entry.path, file);
    }
    return { kind: 'file', file };
  }

  /** `AccessLog.write`: the lines of the location in force, after the response. */
  write(ctx: RequestContext): void {
    const logs = ctx.loc.settings.accessLog;
    if (logs === 'off') return;
    for (const entry of logs) {
      const compiled = this.compiled(entry);
      if (compiled.condition) {
        const value = compiled.condition(ctx);
        if (value === '' || value === '0') continue;
      }
      const line = compiled.line(ctx);
      const target = compiled.target;
      if (target.kind === 'file') target.file.write(line + LINE_FEED, ctx);
      else if (target.kind === 'syslog') target.sender.send(Buffer.from(syslogHeader(target.sender.target, this.now(), this.hostname) + line, 'latin1'));
      else this.writeScript(target.path(ctx), line + LINE_FEED, ctx);
    }
  }

  /** ngx_http_log_script_write: a path made per request, opened for this one line. */
  private writeScript(path: string, line: string, ctx: RequestContext): void {
    // nginx writes nothing when the request's root directory does not exist, so that requests
    // for unknown hosts cannot create log files in arbitrary places.
    const root = this.variables.get(ctx, 'document_root');
    try {
      if (root === null || !statSync(root).isDirectory()) return;
    } catch (error) {
      this.errorLog?.log('error', `testing "${root}" existence failed ${describeErrno(error)}`, ctx);
      return;
    }
    let fd: number;
    try {
      fd = openLogFile(path);
    } catch (error) {
      this.errorLog?.log('crit', `open() "${path}" failed ${describeErrno(error)}`, ctx);
      return;
    }
    try {
      writeSync(fd, Buffer.from(line, 'latin1'));
    } catch (error) {
      this.errorLog?.log('alert', `write() to "${path}" failed ${describeErrno(error)}`, ctx);
    } finally {
      closeSync(fd);
    }
  }

  /** Writes every buffered line now (nginx flushes them at reopen and exit). */
  flush(): void {
    for (const file of this.files.values()) file.flush(undefined);
  }

  /** USR1. */
  reopen(): void {
    for (const file of this.files.values()) file.reopen();
  }

  async close(): Promise<void> {
    this.closeFiles();
  }

  private closeFiles(): void {
    for (const file of this.files.values()) file.close();
    this.files.clear();
    for (const sender of this.senders.values()) sender.close();
    this.senders.clear();
  }
}

/** The `WebModules.accessLog` factory. */
export const createAccessLog: ModuleFactory<AccessLogWriter> = (config, env) => {
  const variables = env.variables instanceof Variables ? env.variables : new Variables(config);
  return new AccessLogWriter(config, variables, env.errorLog);
};

/**
 * Logs and status: ngx_http_log_module (`access_log`, `log_format`, `open_log_file_cache`) and
 * ngx_http_stub_status_module.
 */
import type { Directive } from '../parser.js';
import type { AccessLogEntry, LogFormat } from '../types.js';
import { Context, HTTP_SRV_LOC, ONE_OR_MORE, TAKE1234, TWO_OR_MORE, custom, fieldOf, slot, take, type DirectiveContext, type DirectiveSpec } from './spec.js';
import { arg, atoi, parseSize, parseTime } from './setters.js';

/** nginx's predefined format; `access_log` without a format name uses it. */
export const COMBINED_FORMAT: LogFormat = {
  name: 'combined',
  escape: 'default',
  format: '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"',
  position: null,
};

const DEFAULT_FORMATS: ReadonlyMap<string, LogFormat> = new Map([['combined', COMBINED_FORMAT]]);

/** `ngx_http_log_compile`: the variables of a format, with its messages. */
function compileFormat(d: Directive, cx: DirectiveContext, text: string): void {
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '$') {
      i += 1;
      continue;
    }
    i += 1;
    if (i === text.length) throw cx.error(d, `invalid parameter "${text}"`);
    let bracket = false;
    if (text[i] === '{') {
      bracket = true;
      i += 1;
      if (i === text.length) throw cx.error(d, `invalid parameter "${text}"`);
    }
    const start = i;
    let end = i;
    while (i < text.length) {
      const ch = text[i]!;
      if (ch === '}' && bracket) {
        end = i;
        i += 1;
        bracket = false;
        break;
      }
      if (!/[A-Za-z0-9_]/.test(ch)) break;
      i += 1;
      end = i;
    }
    if (bracket) throw cx.error(d, `the closing bracket in "${text.slice(start, i)}" variable is missing`);
    if (end === start) throw cx.error(d, `invalid parameter "${text}"`);
    cx.useVariable(d, text.slice(start, end));
  }
}

function applyLogFormat(d: Directive, cx: DirectiveContext): void {
  const raw = cx.raw('http');
  const formats = new Map(raw.logFormats ?? DEFAULT_FORMATS);
  const name = arg(d, 0);
  if (formats.has(name)) throw cx.error(d, `duplicate "log_format" name "${name}"`);
  let parts = d.args.slice(1);
  let escape: LogFormat['escape'] = 'default';
  if (parts[0]?.startsWith('escape=')) {
    const value = parts[0].slice('escape='.length);
    if (value !== 'default' && value !== 'json' && value !== 'none') throw cx.error(d, `unknown log format escaping "${value}"`);
    escape = value;
    parts = parts.slice(1);
  }
  for (const part of parts) compileFormat(d, cx, part);
  formats.set(name, { name, escape, format: parts.join(''), position: { file: d.file, line: d.line } });
  raw.logFormats = formats;
}

function addAccessLog(d: Directive, cx: DirectiveContext, previous: readonly AccessLogEntry[] | 'off' | undefined): AccessLogEntry[] | 'off' {
  const path = arg(d, 0);
  if (path === 'off') {
    if (d.args.length !== 1) throw cx.error(d, `invalid parameter "${d.args[1]}"`);
    return 'off';
  }
  const formatName = d.args[1] ?? 'combined';
  const formats = cx.raw('http').logFormats ?? DEFAULT_FORMATS;
  const format = [...formats.keys()].find((name) => name.toLowerCase() === formatName.toLowerCase());
  if (format === undefined) throw cx.error(d, `unknown log format "${formatName}"`);
  let buffer: number | null = null;
  let gzip: number | null = null;
  let flushMs: number | null = null;
  let condition: string | null = null;
  for (const word of d.args.slice(2)) {
    if (word.startsWith('buffer=')) {
      const text = word.slice('buffer='.length);
      const size = parseSize(text);
      if (size === null || size === 0) throw cx.error(d, `invalid buffer size "${text}"`);
      buffer = size;
      continue;
    }
    if (word.startsWith('flush=')) {
      const text = word.slice('flush='.length);
      const time = parseTime(text, false);
      if (time === null || time === 0) throw cx.error(d, `invalid flush time "${text}"`);
      flushMs = time;
      continue;
    }
    if (word === 'gzip' || word.startsWith('gzip=')) {
      // gzip implies a 64k buffer unless one was given before it.
      buffer ??= 64 * 1024;
      if (word === 'gzip') {
        gzip = 1;
        continue;
      }
      const level = atoi(word.slice('gzip='.length));
      if (level === null || level < 1 || level > 9) throw cx.error(d, `invalid compression level "${word.slice('gzip='.length)}"`);
      gzip = level;
      continue;
    }
    if (word.startsWith('if=')) {
      condition = word.slice('if='.length);
      cx.useVariables(d, condition);
      continue;
    }
    throw cx.error(d, `invalid parameter "${word}"`);
  }
  if (flushMs !== null && buffer === null) throw cx.error(d, `no buffer is defined for access_log "${path}"`);
  let full = path;
  if (!path.startsWith('syslog:')) {
    cx.useVariables(d, path);
    full = cx.fullPath(path);
  }
  const entry: AccessLogEntry = { path: full, format, buffer, gzip, flushMs, condition };
  // `off` anywhere at a level wins over the logs written next to it, as nginx checks it first.
  if (previous === 'off') return 'off';
  return [...(previous ?? []), entry];
}

export const LOG_DIRECTIVES: readonly DirectiveSpec[] = [
  custom('log_format', Context.Http, TWO_OR_MORE, applyLogFormat, {
    help: 'a named access log format',
    slots: [fieldOf('http', 'logFormats', DEFAULT_FORMATS)],
  }),
  slot('access_log', HTTP_SRV_LOC | Context.LocationIf | Context.LimitExcept, ONE_OR_MORE, 'loc', 'accessLog', addAccessLog, {
    default: (env) => [{ path: env.prefix + 'logs/access.log', format: 'combined', buffer: null, gzip: null, flushMs: null, condition: null }],
    accumulate: true,
    help: 'access log: PATH [FORMAT [buffer=] [gzip] [flush=] [if=]] or off',
  }),
  slot('open_log_file_cache', HTTP_SRV_LOC, TAKE1234, 'loc', 'openLogFileCache', (d) => [...d.args], {
    default: null,
    help: 'cache of log file descriptors (accepted)',
  }),
  slot('stub_status', Context.Server | Context.Location, take(0, 1), 'loc', 'stubStatus', () => true, {
    default: false,
    merge: 'none',
    accumulate: true,
    help: 'answer with the basic status counters',
  }),
];

/**
 * `log_format` lines (ngx_http_log_module.c, nginx 1.22): a format compiled once, run per
 * request. Variables are written according to the format's `escape=`:
 *
 *   escape=    value not found    bytes escaped                          as
 *   default    "-"                " \ 0x00-0x1F 0x7F-0xFF                \xHH (upper-case hex)
 *   json       nothing            " \ and 0x00-0x1F                      \" \\ \n \r \t \b \f \u00HH
 *   none       nothing            nothing
 *
 * A found empty value writes nothing in every mode ("-" is only for not found). The log
 * module's own `$status`, `$time_local`, `$body_bytes_sent`... always have a value and never
 * need escaping, so reading them as variables gives the same bytes.
 */
import type { LogFormat } from '../config/index.js';
import type { RequestContext } from '../request-context.js';
import { VariableError, type TemplatePart, type Variables, type VariableValue } from '../variables.js';

const HEX = '0123456789ABCDEF';
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LAST_CONTROL = 0x1f;
const DEL = 0x7f;

/** ngx_http_log_escape: what the default escaping turns into `\xHH`. */
function needsDefaultEscape(c: number): boolean {
  return c <= LAST_CONTROL || c === QUOTE || c === BACKSLASH || c >= DEL;
}

/** escape=default for one value (a byte string). */
export function escapeDefault(value: string): string {
  let i = 0;
  while (i < value.length && !needsDefaultEscape(value.charCodeAt(i))) i += 1;
  if (i === value.length) return value;
  let out = value.slice(0, i);
  for (; i < value.length; i += 1) {
    const c = value.charCodeAt(i);
    out += needsDefaultEscape(c) ? '\\x' + HEX[c >> 4] + HEX[c & 0xf] : value[i];
  }
  return out;
}

const JSON_SHORT: Readonly<Record<number, string>> = { 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x08: '\\b', 0x0c: '\\f' };

/** ngx_escape_json for one value: bytes above 0x1F other than `"` and `\` pass unchanged. */
export function escapeJson(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i += 1) {
    const c = value.charCodeAt(i);
    if (c > LAST_CONTROL) out += c === QUOTE || c === BACKSLASH ? '\\' + value[i] : value[i];
    else out += JSON_SHORT[c] ?? '\\u00' + HEX[c >> 4] + HEX[c & 0xf];
  }
  return out;
}

type Writer = (value: VariableValue) => string;

const WRITERS: Readonly<Record<LogFormat['escape'], Writer>> = {
  default: (value) => (value === null ? '-' : escapeDefault(value)),
  json: (value) => (value === null ? '' : escapeJson(value)),
  none: (value) => value ?? '',
};

/** A compiled format: one line (byte string, no line feed) per request. */
export type LogLine = (ctx: RequestContext) => string;

/** Compiles a `log_format` with the configuration's variables. Throws VariableError. */
export function compileLogFormat(format: Pick<LogFormat, 'escape' | 'format'>, variables: Variables): LogLine {
  const write = WRITERS[format.escape];
  const parts: readonly TemplatePart[] = variables.compileParts(format.format);
  for (const part of parts) {
    // The log module's compiler has no captures: it reads "$1" as a variable named "1", which
    // nginx refuses when it loads the configuration.
    if (part.kind === 'capture') throw new VariableError('ERR_UNKNOWN_VARIABLE', `unknown "${part.index}" variable`);
  }
  return (ctx) => {
    let line = '';
    for (const part of parts) {
      if (part.kind === 'text') line += part.text;
      else if (part.kind === 'variable') line += write(part.get(ctx));
    }
    return line;
  };
}

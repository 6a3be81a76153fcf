/**
 * Errors of the nginx.conf reader, one class with a stable code per kind of failure (undici's
 * `errors.js` pattern). The message is nginx's text followed by where it was written, exactly as
 * `nginx -t` prints it after its `nginx: [emerg] ` prefix:
 *
 *     unknown directive "x" in /etc/nginx/nginx.conf:12
 *     "worker_processes" directive invalid value in command line     (from -g)
 *     no "events" section in configuration                           (no position)
 *
 * The CLI adds the `tsgi: [emerg] ` prefix; tests match on `code`, `file` and `line`.
 */
import { TsgiError } from '../../errors.js';

/** Where a piece of configuration text came from: a file and line, or the `-g` command line. */
export type ConfigOrigin = { kind: 'file'; file: string; line: number } | { kind: 'command-line' } | { kind: 'none' };

/** Stable codes, one per kind of failure. */
export const NginxConfigErrorCode = {
  /** The text does not tokenize or nest: `unexpected "}"`, `unexpected end of file, ...`. */
  Syntax: 'ERR_NGINX_CONF_SYNTAX',
  /** `unknown directive "x"`. */
  UnknownDirective: 'ERR_NGINX_CONF_UNKNOWN_DIRECTIVE',
  /** `"x" directive is not allowed here`. */
  NotAllowedHere: 'ERR_NGINX_CONF_NOT_ALLOWED_HERE',
  /** `invalid number of arguments in "x" directive`, or a block/`;` mismatch. */
  Arguments: 'ERR_NGINX_CONF_ARGUMENTS',
  /** `"x" directive is duplicate`, `duplicate location "/a"`, `duplicate upstream "u"`. */
  Duplicate: 'ERR_NGINX_CONF_DUPLICATE',
  /** A value the directive does not accept: `"keepalive_timeout" directive invalid value`. */
  InvalidValue: 'ERR_NGINX_CONF_INVALID_VALUE',
  /** A location nested where nginx forbids it (`location "/b" is outside location "/a"`). */
  Location: 'ERR_NGINX_CONF_LOCATION',
  /** A file that cannot be opened or read: `open() "/x" failed (2: No such file or directory)`. */
  Open: 'ERR_NGINX_CONF_OPEN',
  /** An `include` that leads back to a file already being read (nginx itself crashes on this). */
  IncludeLoop: 'ERR_NGINX_CONF_INCLUDE_LOOP',
  /** A required part is missing: `no "events" section in configuration`. */
  Missing: 'ERR_NGINX_CONF_MISSING',
} as const;
export type NginxConfigErrorCode = (typeof NginxConfigErrorCode)[keyof typeof NginxConfigErrorCode];

/** nginx's severity words, as printed in brackets. */
export type ConfigLevel = 'emerg' | 'crit' | 'warn';

/** Renders nginx's position suffix: ` in FILE:LINE`, ` in command line`, or nothing. */
export function positionSuffix(origin: ConfigOrigin): string {
  switch (origin.kind) {
    case 'file':
      return ` in ${origin.file}:${origin.line}`;
    case 'command-line':
      return ' in command line';
    case 'none':
      return '';
  }
}

/** A configuration that nginx would refuse; `message` is exactly the text after `nginx: [emerg] `. */
export class NginxConfigError extends TsgiError {
  /** The message without its position suffix. */
  readonly text: string;
  /** The file the error was found in; null for `-g` text and for errors with no position. */
  readonly file: string | null;
  /** The line nginx reports (the line of the `;` or `{` ending the directive); 0 without a file. */
  readonly line: number;
  /** The bracketed level nginx prints: `emerg` for nearly everything, `crit` for failed reads. */
  readonly level: ConfigLevel;

  constructor(code: NginxConfigErrorCode, text: string, origin: ConfigOrigin, options?: { cause?: unknown; level?: ConfigLevel }) {
    super(code, text + positionSuffix(origin), options);
    this.text = text;
    this.file = origin.kind === 'file' ? origin.file : null;
    this.line = origin.kind === 'file' ? origin.line : 0;
    this.level = options?.level ?? 'emerg';
  }
}

/** A `[warn]` nginx would print (or that tsgi adds, like the alias pitfall); loading continues. */
export interface ConfigWarning {
  /** The text after `[warn] `, position included, as nginx prints it. */
  readonly message: string;
  readonly text: string;
  readonly file: string | null;
  readonly line: number;
  /** True for warnings nginx itself prints; false for the ones tsgi adds. */
  readonly nginx: boolean;
}

export function makeWarning(text: string, origin: ConfigOrigin, nginx: boolean): ConfigWarning {
  return {
    message: text + positionSuffix(origin),
    text,
    file: origin.kind === 'file' ? origin.file : null,
    line: origin.kind === 'file' ? origin.line : 0,
    nginx,
  };
}

/** The errno numbers and strerror texts nginx prints in `open() "x" failed (2: No such file or directory)`. */
const ERRNO: Record<string, readonly [number, string]> = {
  ENOENT: [2, 'No such file or directory'],
  EACCES: [13, 'Permission denied'],
  EPERM: [1, 'Operation not permitted'],
  EISDIR: [21, 'Is a directory'],
  ENOTDIR: [20, 'Not a directory'],
  ELOOP: [40, 'Too many levels of symbolic links'],
  EMFILE: [24, 'Too many open files'],
  ENAMETOOLONG: [36, 'File name too long'],
  EIO: [5, 'Input/output error'],
};

/** `(2: No such file or directory)` for a Node.js system error, in nginx's (glibc's) words. */
export function describeErrno(error: unknown): string {
  const code = error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : 'EIO';
  const known = ERRNO[code];
  if (known) return `(${known[0]}: ${known[1]})`;
  const errno = error instanceof Error && 'errno' in error && typeof error.errno === 'number' ? Math.abs(error.errno) : 0;
  return `(${errno}: ${code})`;
}

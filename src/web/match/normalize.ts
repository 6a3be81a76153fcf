/**
 * Request-target → `$uri`, `$args`, `$request_uri`, exactly as nginx computes them before it looks
 * for a location (ngx_http_parse_request_line, ngx_http_process_request_uri and
 * ngx_http_parse_complex_uri in src/http/ngx_http_parse.c / ngx_http_request.c, nginx 1.22).
 *
 *   target                     $uri        $args    notes
 *   /a/./b/../c?x=1            /a/c        x=1      dot-segments are resolved
 *   //a//b                     /a/b                 merge_slashes on (the default)
 *   /a%2fb%3Fc                 /a/b?c               %2F is a real slash; %3F stays in the path
 *   /a?b#c                     /a          b        '#' ends the path and the query
 *   /a/%2e%2e/b                /b                   encoded dots are dots
 *   /..  /%2e%2e  /a/../..     400                  ".." above the root
 *   /%00  /%zz  /%4            400                  NUL, bad or cut-off escapes
 *   http://Host:80/x?q         /x          q        absolute-form: host "host" wins over Host:
 *   http://host?q              /           q        empty path; $request_uri is "?q"
 *   *   x/y                    400                  nginx refuses asterisk-form and relative targets
 *
 * Only the path is decoded; `$args` stays as sent (nginx never decodes it), and `$request_uri`
 * is the target as sent (from the path on, fragment included).
 *
 * Strings are byte strings (see bytes.ts): %C3%A9 becomes the two chars '\xc3\xa9', as in nginx.
 *
 * merge_slashes: nginx reads it from the *default* server of the listening address, because the
 * request line is parsed before the Host header picks a server (checked against nginx 1.22:
 * `merge_slashes off` in a non-default server has no effect). Pass that server's value.
 */
import { validateHost } from './host.js';

export interface RequestTarget {
  /** `$uri`: decoded, dot-segments resolved, slashes merged (byte string). */
  readonly uri: string;
  /** `$args`: the query as sent, without '?' and without any '#fragment'; '' if none. */
  readonly args: string;
  /** `$request_uri`: the target as sent, from the path on (absolute-form loses scheme and host). */
  readonly requestUri: string;
  /** nginx's `r->exten`: what follows the last '.' of the last path segment ('' if none). */
  readonly exten: string;
  /** The host of an absolute-form target, validated and normalised (see host.ts); else null. */
  readonly host: string | null;
}

export type TargetResult =
  | { readonly ok: true; readonly target: RequestTarget }
  /** `reason` is what nginx logs at the info level before it answers 400. */
  | { readonly ok: false; readonly status: 400; readonly reason: string };

export interface NormalizeOptions {
  /** `merge_slashes` of the address's default server (default: on, as in nginx). */
  readonly mergeSlashes?: boolean;
}

const SLASH = 0x2f; // '/'
const DOT = 0x2e; // '.'
const PERCENT = 0x25; // '%'
const QUESTION = 0x3f; // '?'
const HASH = 0x23; // '#'
const PLUS = 0x2b; // '+'
const COLON = 0x3a; // ':'
const MINUS = 0x2d; // '-'
const UNDERSCORE = 0x5f; // '_'
const TILDE = 0x7e; // '~'
const OPEN_BRACKET = 0x5b; // '['
const CLOSE_BRACKET = 0x5d; // ']'
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const LOWER_A = 0x61;
const LOWER_F = 0x66;
const LOWER_Z = 0x7a;
const SPACE = 0x20;
const DEL = 0x7f;
const NUL = 0x00;
/** OR-ing this bit lower-cases an ASCII letter (nginx's `ch | 0x20`). */
const ASCII_CASE_BIT = 0x20;
const MAX_BYTE = 0xff;
/** Stands for the byte after the target, which nginx reads but never processes. */
const END = -1;

const BAD_REQUEST = 'client sent invalid request';
const BAD_HOST = 'client sent invalid host in request line';

function fail(reason: string): TargetResult {
  return { ok: false, status: 400, reason };
}

/**
 * Parses a request-target as nginx does. `target` is the second word of the request line, as a
 * byte string. Never throws: anything nginx refuses comes back as `{ ok: false, status: 400 }`.
 */
export function parseRequestTarget(target: string, options: NormalizeOptions = {}): TargetResult {
  const mergeSlashes = options.mergeSlashes ?? true;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    // The request line ends the target at SP and refuses other control bytes (sw_check_uri:
    // `ch < 0x20 || ch == 0x7f`); chars above 0xFF mean the caller did not pass bytes.
    if (c <= SPACE || c === DEL || c > MAX_BYTE) return fail(BAD_REQUEST);
  }
  if (target.charCodeAt(0) === SLASH) return parsePath(target, 0, false, mergeSlashes);
  return parseAbsoluteForm(target, mergeSlashes);
}

/** absolute-form: scheme "://" host [":" port] [path-abempty] ["?" query] (sw_schema .. sw_port). */
function parseAbsoluteForm(target: string, mergeSlashes: boolean): TargetResult {
  const n = target.length;
  let i = 0;
  if (!isAsciiLetter(target.charCodeAt(0))) return fail(BAD_REQUEST);
  while (i < n && isSchemeChar(target.charCodeAt(i))) i++;
  if (target.charCodeAt(i) !== COLON || target.charCodeAt(i + 1) !== SLASH || target.charCodeAt(i + 2) !== SLASH) {
    return fail(BAD_REQUEST);
  }
  const schemeEnd = i; // the ':'
  i += 3;
  const hostStart = i;
  if (target.charCodeAt(i) === OPEN_BRACKET) {
    i++;
    for (;;) {
      if (i >= n) return fail(BAD_REQUEST);
      const c = target.charCodeAt(i++);
      if (c === CLOSE_BRACKET) break;
      if (!isIpLiteralChar(c)) return fail(BAD_REQUEST);
    }
  } else {
    while (i < n && isHostChar(target.charCodeAt(i))) i++;
  }
  if (target.charCodeAt(i) === COLON) {
    i++;
    while (i < n && isDigit(target.charCodeAt(i))) i++;
  }
  const rawHost = target.slice(hostStart, i);
  let pathStart: number;
  let emptyPath = false;
  if (i === n) {
    // "http://host" alone: nginx points $uri and $request_uri at the first '/' of "//".
    return finishWithHost(parsePath(target.slice(schemeEnd + 1, schemeEnd + 2), 0, false, mergeSlashes), rawHost);
  }
  const c = target.charCodeAt(i);
  if (c === SLASH) {
    pathStart = i;
  } else if (c === QUESTION) {
    pathStart = i;
    emptyPath = true;
  } else {
    return fail(BAD_REQUEST);
  }
  return finishWithHost(parsePath(target, pathStart, emptyPath, mergeSlashes), rawHost);
}

function finishWithHost(result: TargetResult, rawHost: string): TargetResult {
  // nginx processes the URI first, then validates the host (ngx_http_process_request_line).
  if (!result.ok) return result;
  const host = validateHost(rawHost);
  if (host === null) return fail(BAD_HOST);
  const { uri, args, requestUri, exten } = result.target;
  return { ok: true, target: { uri, args, requestUri, exten, host } };
}

/**
 * From the path on. Simple paths (no '%', '#', "/." or "//") are taken as they are, like nginx;
 * anything else goes through the ngx_http_parse_complex_uri state machine.
 */
function parsePath(s: string, start: number, emptyPath: boolean, mergeSlashes: boolean): TargetResult {
  const requestUri = s.slice(start);
  if (!emptyPath) {
    const simple = parseSimplePath(s, start, requestUri);
    if (simple !== null) return { ok: true, target: simple };
  }
  return parseComplexPath(s, start, emptyPath, requestUri, mergeSlashes);
}

/**
 * The request-line parser's view (sw_after_slash_in_uri / sw_check_uri): returns null as soon as
 * it sees what makes nginx set complex_uri or quoted_uri before the query starts.
 */
function parseSimplePath(s: string, start: number, requestUri: string): RequestTarget | null {
  const n = s.length;
  let extStart = -1;
  let afterSlash = false;
  let i = start;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === QUESTION) break;
    if (c === PERCENT || c === HASH) return null;
    if (afterSlash && (c === SLASH || c === DOT)) return null;
    afterSlash = c === SLASH;
    if (c === SLASH) extStart = -1;
    else if (c === DOT) extStart = i + 1;
  }
  if (i < n) {
    // A '#' in the query also makes the URI complex: the fragment must be cut off.
    for (let j = i + 1; j < n; j++) if (s.charCodeAt(j) === HASH) return null;
  }
  // Object literals with every field, never spreads: spreading is ~100x slower here in V8.
  return {
    uri: s.slice(start, i),
    args: i < n ? s.slice(i + 1) : '',
    requestUri,
    exten: extStart >= 0 ? s.slice(extStart, i) : '',
    host: null,
  };
}

enum State {
  Usual,
  Slash,
  Dot,
  DotDot,
  Quoted,
  QuotedSecond,
}

/** ngx_http_parse_complex_uri, state for state (the Win32 backslash cases left out). */
function parseComplexPath(
  s: string,
  start: number,
  emptyPath: boolean,
  requestUri: string,
  mergeSlashes: boolean,
): TargetResult {
  const end = s.length;
  // The output never outgrows the input (plus the '/' of an empty path), as in nginx.
  const out = Buffer.allocUnsafe(end - start + 1);
  let u = 0; // write position in `out`, as nginx's `u`
  let uriExt = -1;
  let state = State.Usual;
  let quotedState = State.Usual;
  let decoded = 0;
  let argsStart = -1;

  const write = (c: number): void => {
    out[u++] = c;
  };
  if (emptyPath) write(SLASH);

  let p = start;
  const next = (): number => (p < end ? s.charCodeAt(p++) : (p++, END));
  let ch = next();

  /** Backs up over "/.." and the segment before it; false when that would leave the root. */
  const backUpOverDotDot = (): boolean => {
    u -= 4;
    for (;;) {
      if (u < 0) return false;
      if (out[u] === SLASH) {
        u++;
        return true;
      }
      u--;
    }
  };

  let finished: 'done' | 'args' | null = null;
  while (p <= end && finished === null) {
    switch (state) {
      case State.Usual:
        if (isUsual(ch)) {
          write(ch);
          ch = next();
          break;
        }
        if (ch === SLASH) {
          uriExt = -1;
          state = State.Slash;
          write(ch);
        } else if (ch === PERCENT) {
          quotedState = state;
          state = State.Quoted;
        } else if (ch === QUESTION) {
          argsStart = p;
          finished = 'args';
          break;
        } else if (ch === HASH) {
          finished = 'done';
          break;
        } else if (ch === DOT) {
          uriExt = u + 1;
          write(ch);
        } else {
          write(ch);
        }
        ch = next();
        break;

      case State.Slash:
        if (isUsual(ch)) {
          state = State.Usual;
          write(ch);
          ch = next();
          break;
        }
        if (ch === SLASH) {
          if (!mergeSlashes) write(ch);
        } else if (ch === DOT) {
          state = State.Dot;
          write(ch);
        } else if (ch === PERCENT) {
          quotedState = state;
          state = State.Quoted;
        } else if (ch === QUESTION) {
          argsStart = p;
          finished = 'args';
          break;
        } else if (ch === HASH) {
          finished = 'done';
          break;
        } else {
          state = State.Usual;
          write(ch);
        }
        ch = next();
        break;

      case State.Dot:
        if (isUsual(ch)) {
          state = State.Usual;
          write(ch);
          ch = next();
          break;
        }
        if (ch === SLASH) {
          state = State.Slash;
          u--;
        } else if (ch === DOT) {
          state = State.DotDot;
          write(ch);
        } else if (ch === PERCENT) {
          quotedState = state;
          state = State.Quoted;
        } else if (ch === QUESTION) {
          u--;
          argsStart = p;
          finished = 'args';
          break;
        } else if (ch === HASH) {
          u--;
          finished = 'done';
          break;
        } else {
          state = State.Usual;
          write(ch);
        }
        ch = next();
        break;

      case State.DotDot:
        if (isUsual(ch)) {
          state = State.Usual;
          write(ch);
          ch = next();
          break;
        }
        if (ch === SLASH || ch === QUESTION || ch === HASH) {
          if (!backUpOverDotDot()) return fail(BAD_REQUEST);
          if (ch === QUESTION) {
            argsStart = p;
            finished = 'args';
            break;
          }
          if (ch === HASH) {
            finished = 'done';
            break;
          }
          state = State.Slash;
        } else if (ch === PERCENT) {
          quotedState = state;
          state = State.Quoted;
        } else {
          state = State.Usual;
          write(ch);
        }
        ch = next();
        break;

      case State.Quoted: {
        const digit = hexValue(ch);
        if (digit < 0) return fail(BAD_REQUEST);
        decoded = digit;
        state = State.QuotedSecond;
        ch = next();
        break;
      }

      case State.QuotedSecond: {
        if (isDigit(ch)) {
          ch = (decoded << 4) + (ch - DIGIT_0);
          // A decoded '%' or '#' is data, never syntax: written as is, back to the usual state.
          if (ch === PERCENT || ch === HASH) {
            state = State.Usual;
            write(ch);
            ch = next();
            break;
          }
          if (ch === NUL) return fail(BAD_REQUEST);
          state = quotedState;
          break; // the decoded byte is processed again in the state before the '%'
        }
        const lower = ch | ASCII_CASE_BIT;
        if (ch !== END && lower >= LOWER_A && lower <= LOWER_F) {
          ch = (decoded << 4) + (lower - LOWER_A) + 10;
          // A decoded '?' belongs to the path, it does not start the query.
          if (ch === QUESTION) {
            state = State.Usual;
            write(ch);
            ch = next();
            break;
          }
          state = quotedState;
          break;
        }
        return fail(BAD_REQUEST);
      }
    }
  }

  if (finished === null) {
    if (state === State.Quoted || state === State.QuotedSecond) return fail(BAD_REQUEST);
    if (state === State.Dot) {
      u--;
    } else if (state === State.DotDot) {
      if (!backUpOverDotDot()) return fail(BAD_REQUEST);
    }
  }

  let args = '';
  if (finished === 'args') {
    let argsEnd = end;
    for (let j = argsStart; j < end; j++) {
      if (s.charCodeAt(j) === HASH) {
        argsEnd = j;
        break;
      }
    }
    args = s.slice(argsStart, argsEnd);
  }
  const uri = out.toString('latin1', 0, u);
  return {
    ok: true,
    target: { uri, args, requestUri, exten: uriExt >= 0 ? uri.slice(uriExt) : '', host: null },
  };
}

/**
 * nginx's `usual` table: the bytes the URI state machine copies without a second look. The others
 * are SP and control bytes, '#', '%', '+', '.', '/', '?' and DEL.
 */
function isUsual(c: number): boolean {
  if (c <= SPACE || c === DEL) return false;
  return c !== HASH && c !== PERCENT && c !== PLUS && c !== DOT && c !== SLASH && c !== QUESTION;
}

function isDigit(c: number): boolean {
  return c >= DIGIT_0 && c <= DIGIT_9;
}

function hexValue(c: number): number {
  if (isDigit(c)) return c - DIGIT_0;
  const lower = c | ASCII_CASE_BIT;
  if (c !== END && lower >= LOWER_A && lower <= LOWER_F) return lower - LOWER_A + 10;
  return -1;
}

function isAsciiLetter(c: number): boolean {
  const lower = c | ASCII_CASE_BIT;
  return c !== END && lower >= LOWER_A && lower <= LOWER_Z;
}

/** sw_schema: letters, digits, '+', '-', '.'. */
function isSchemeChar(c: number): boolean {
  return isAsciiLetter(c) || isDigit(c) || c === PLUS || c === MINUS || c === DOT;
}

/** sw_host: letters, digits, '.', '-' (no '_': nginx answers 400 to http://a_b/). */
function isHostChar(c: number): boolean {
  return isAsciiLetter(c) || isDigit(c) || c === DOT || c === MINUS;
}

/** sw_host_ip_literal: unreserved and sub-delims of RFC 3986, and ':'. */
function isIpLiteralChar(c: number): boolean {
  if (isAsciiLetter(c) || isDigit(c)) return true;
  return c === COLON || c === MINUS || c === DOT || c === UNDERSCORE || c === TILDE || SUB_DELIMS.has(c);
}

const SUB_DELIMS = new Set(Array.from("!$&'()*+,;=", (c) => c.charCodeAt(0)));

/**
 * Response head codec shared by the uwsgi, SCGI and FastCGI paths: what an app server sends back
 * on those protocols is a CGI response (RFC 3875 §6: header fields with an optional `Status:`)
 * or, from uWSGI on a uwsgi socket, a raw HTTP response (an `HTTP/1.x NNN Reason` status line
 * first). Either way the body runs until the caller says the response ended: close for uwsgi and
 * SCGI, FCGI_END_REQUEST for FastCGI. Pure: bytes in, a head and body chunks out; no sockets.
 *
 * Decoding follows nginx's upstream modules (src/http/modules/ngx_http_uwsgi_module.c and
 * ngx_http_scgi_module.c, `*_process_status_line` / `*_process_header`; ngx_http_fastcgi_module.c,
 * `ngx_http_fastcgi_process_header`; the line grammars in src/http/ngx_http_parse.c):
 *
 *  - The first line is tried as a status line (ngx_http_parse_status_line): "HTTP/" major "."
 *    minor SP+ 3DIGIT, then SP or '.' and any text, or the line end. If the line does not start
 *    with "HTTP/" it is the first header line (nginx falls back the same way). nginx also falls back
 *    when a line starting with "HTTP/" is malformed, and then ignores that line; tsgi refuses it
 *    (ERR_CGI_BAD_STATUS_LINE) rather than answer 200 for a response it could not read. nginx's
 *    FastCGI module never looks for a status line; tsgi honours one on every protocol.
 *  - Header lines end with LF or CRLF (nginx takes both). A later line whose name is "HTTP" followed
 *    by '/' is skipped: nginx does this because IIS may repeat the status line.
 *  - Status: without a status line, the first `Status` header gives the status: three digits, then
 *    the reason (nginx `ngx_atoi(value, 3)`, "upstream sent invalid status"); later ones are
 *    ignored, as nginx ignores duplicate header lines it keeps one of. No Status but a `Location`:
 *    302 "Moved Temporarily" (nginx's status line; RFC 3875 §6.2.3 client redirect). Neither: 200.
 *    The Status field stays in `headers`: nginx's fastcgi and scgi modules hide it from the client
 *    (their `*_hide_headers` lists), its uwsgi module does not; that is the caller's policy.
 *  - An empty reason ("Status: 404", "HTTP/1.1 404") becomes the standard phrase for the code, as
 *    nginx then writes its own status line.
 *
 * Stricter than nginx, because tsgi passes these fields on to Node's HTTP layer and to apps,
 * which refuse what nginx lets through: a header line without a colon (nginx reads it as a field
 * with an empty value), a name outside RFC 9110 tchar (nginx only refuses CTL, SP and DEL), a value
 * with a control byte other than HTAB (nginx only refuses NUL), a status below 100, CR CR LF.
 *
 * Errors are values with stable codes (`CgiResponseError`); messages use nginx's wording so the
 * caller can append ", upstream: ..." the way nginx's error log does:
 *
 *   ERR_CGI_BAD_STATUS_LINE   a first line starting with "HTTP/" that is not a status line.
 *   ERR_CGI_BAD_STATUS        a Status value that does not start with a 3-digit code (>= 100).
 *   ERR_CGI_BAD_HEADER        "upstream sent invalid header": bad name byte, no colon, bad value byte.
 *   ERR_CGI_HEAD_TOO_BIG      "upstream sent too big header": the head is over maxHeadSize.
 *   ERR_CGI_TRUNCATED         "upstream prematurely closed connection": end() before the head ended.
 *   ERR_CGI_DATA_AFTER_END    execute() after end().
 *   ERR_CGI_INVALID_FIELD     formatCgiHead/formatHttpHead: a field that cannot be sent.
 */
import { TsgiError } from '../errors.js';
import { reasonPhrase } from './http1.js';

// ---------------------------------------------------------------------------------------------
// Constants

/** nginx's `uwsgi_buffer_size` / `scgi_buffer_size` / `fastcgi_buffer_size` default: one memory
 *  page, 4k on x86-64 Linux. The whole response head has to fit. */
export const DEFAULT_CGI_MAX_HEAD_SIZE = 4096;

const HTAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const DOT = 0x2e;
const SLASH = 0x2f;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const COLON = 0x3a;
const UPPER_H = 0x48;
const UPPER_P = 0x50;
const UPPER_T = 0x54;
const DEL = 0x7f;
/** Control bytes are 0x00-0x1f and DEL (RFC 5234 B.1). */
const LAST_CTL = 0x1f;
/** "HTTP" before the '/' of a status line. */
const HTTP_NAME_LENGTH = 4;
/** nginx refuses a major or minor version above 99 before reading another digit: 3 digits max. */
const MAX_VERSION_DIGITS = 3;
const STATUS_DIGITS = 3;
const MIN_STATUS = 100;
/** How much of an offending line goes into an error message. */
const MAX_QUOTED = 128;
const LATIN1 = 'latin1';

const LOCATION_REDIRECT_STATUS = 302;
/** nginx's status line for a Location without Status (ngx_http_*_process_header). */
const LOCATION_REDIRECT_REASON = 'Moved Temporarily';
const DEFAULT_STATUS = 200;

/** Distinct values of a byte: the size of a lookup table indexed by byte. */
const BYTE_VALUES = 256;
/** First size of the partial-line buffer; it doubles up to maxHeadSize. */
const MIN_PENDING_SIZE = 256;

/** tchar, RFC 9110 §5.6.2: the bytes of a field name. */
const TCHAR = new Uint8Array(BYTE_VALUES);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

// ---------------------------------------------------------------------------------------------
// Errors

export type CgiResponseErrorCode =
  | 'ERR_CGI_BAD_STATUS_LINE'
  | 'ERR_CGI_BAD_STATUS'
  | 'ERR_CGI_BAD_HEADER'
  | 'ERR_CGI_HEAD_TOO_BIG'
  | 'ERR_CGI_TRUNCATED'
  | 'ERR_CGI_DATA_AFTER_END'
  | 'ERR_CGI_INVALID_FIELD';

/** A response head the parser refuses, or one the formatters cannot write. */
export class CgiResponseError extends TsgiError {
  override readonly code: CgiResponseErrorCode;
  constructor(code: CgiResponseErrorCode, message: string) {
    super(code, message);
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------
// Public types

export interface CgiResponseHead {
  /** From the status line, else the Status header, else 302 with Location, else 200. */
  status: number;
  /** As sent; the standard phrase when none was sent; "Moved Temporarily" / "OK" by default. */
  reason: string;
  /** Flat [name, value, ...] as sent (names keep their case, Status included), values trimmed. */
  headers: string[];
  /** "HTTP/1.1" etc. when the response started with a status line. */
  httpVersion?: string;
}

export interface CgiResponseHandlers {
  onHead(head: CgiResponseHead): void;
  /** A subarray of the input (no copy); may be called many times; never empty. */
  onBody(chunk: Buffer): void;
}

export interface CgiResponseOptions {
  /** Largest head (status line + header lines + empty line) accepted. Default 4096. */
  maxHeadSize?: number;
}

// ---------------------------------------------------------------------------------------------
// Parser

const enum Phase {
  Head,
  Body,
  /** end() was called after the head. */
  Ended,
  Failed,
}

export class CgiResponseParser {
  private readonly handlers: CgiResponseHandlers;
  private readonly maxHeadSize: number;

  private phase: Phase = Phase.Head;
  private failure: CgiResponseError | null = null;

  /** Head bytes consumed so far, line ends included. */
  private headBytes = 0;
  /** An incomplete line, copied out of earlier inputs. */
  private pending: Buffer | null = null;
  private pendingLength = 0;
  private firstLine = true;

  private readonly headers: string[] = [];
  private lineStatus = 0;
  private lineReason = '';
  private httpVersion: string | undefined = undefined;
  private statusValue: string | undefined = undefined;
  private location = false;

  constructor(handlers: CgiResponseHandlers, options?: CgiResponseOptions) {
    this.handlers = handlers;
    const size = options?.maxHeadSize;
    if (size === undefined) {
      this.maxHeadSize = DEFAULT_CGI_MAX_HEAD_SIZE;
    } else if (Number.isSafeInteger(size) && size > 0) {
      this.maxHeadSize = size;
    } else {
      throw new RangeError(`maxHeadSize must be a positive integer, got ${String(size)}`);
    }
  }

  /** The error that stopped the parser, or null. */
  get error(): CgiResponseError | null {
    return this.failure;
  }

  /** True once onHead has been called. */
  get headComplete(): boolean {
    return this.phase === Phase.Body || this.phase === Phase.Ended;
  }

  /**
   * Feed bytes from `offset`. Head bytes are parsed, and whatever follows the head is handed to
   * onBody in the same call, so it consumes everything given: returns `data.length - offset`, or
   * -1 on an error (see `error`).
   */
  execute(data: Buffer, offset = 0): number {
    const phase = this.phase;
    if (phase === Phase.Failed) return -1;
    const end = data.length;
    let p = offset;
    if (p >= end) return 0;
    if (phase === Phase.Ended) return this.fail('ERR_CGI_DATA_AFTER_END', 'upstream sent data after the end of the response');
    if (phase === Phase.Head) {
      p = this.parseHead(data, p, end);
      if (p < 0) return -1;
    }
    if (p < end) this.handlers.onBody(p === 0 ? data : data.subarray(p, end));
    return end - offset;
  }

  /**
   * The response ended (EOF for uwsgi and SCGI, FCGI_END_REQUEST for FastCGI). Returns an error
   * if the head was not complete, else null.
   */
  end(): CgiResponseError | null {
    if (this.failure !== null) return this.failure;
    if (this.phase === Phase.Head) {
      this.fail('ERR_CGI_TRUNCATED', 'upstream prematurely closed connection');
      return this.failure;
    }
    this.phase = Phase.Ended;
    return null;
  }

  /** Reads head lines from `p`; returns where the body starts (`end` if the head is not done
   *  yet), or -1 on an error. */
  private parseHead(data: Buffer, p: number, end: number): number {
    while (p < end) {
      const lf = data.indexOf(LF, p);
      const through = lf < 0 ? end : lf + 1;
      if (this.headBytes + (through - p) > this.maxHeadSize) {
        return this.fail('ERR_CGI_HEAD_TOO_BIG', `upstream sent too big header (more than ${this.maxHeadSize} bytes)`);
      }
      this.headBytes += through - p;
      if (lf < 0) {
        this.hold(data, p, end);
        return end;
      }
      let line = data;
      let start = p;
      let stop = lf;
      if (this.pendingLength > 0) {
        this.hold(data, p, lf);
        const pending = this.pending;
        if (pending === null) return this.fail('ERR_CGI_HEAD_TOO_BIG', 'lost partial header line');
        line = pending;
        start = 0;
        stop = this.pendingLength;
        this.pendingLength = 0;
      }
      p = through;
      if (stop > start && line[stop - 1] === CR) stop--;
      if (stop === start) {
        this.firstLine = false;
        return this.emitHead() ? p : -1;
      }
      if (!this.parseLine(line, start, stop)) return -1;
    }
    return p;
  }

  /** Appends data[from, to) to the partial line buffer (bounded by maxHeadSize). */
  private hold(data: Buffer, from: number, to: number): void {
    const length = this.pendingLength;
    const needed = length + (to - from);
    let pending = this.pending;
    if (pending === null || pending.length < needed) {
      const grown = Buffer.allocUnsafe(Math.min(this.maxHeadSize, Math.max(needed, (pending?.length ?? 0) * 2, MIN_PENDING_SIZE)));
      if (pending !== null) pending.copy(grown, 0, 0, length);
      this.pending = pending = grown;
    }
    data.copy(pending, length, from, to);
    this.pendingLength = needed;
  }

  /** One non-empty head line, line end excluded; false when it failed. */
  private parseLine(buf: Buffer, start: number, stop: number): boolean {
    const startsWithHttpSlash =
      stop - start > HTTP_NAME_LENGTH &&
      buf[start] === UPPER_H &&
      buf[start + 1] === UPPER_T &&
      buf[start + 2] === UPPER_T &&
      buf[start + 3] === UPPER_P &&
      buf[start + HTTP_NAME_LENGTH] === SLASH;
    if (this.firstLine) {
      this.firstLine = false;
      if (startsWithHttpSlash) return this.parseStatusLine(buf, start, stop);
    } else if (startsWithHttpSlash) {
      // nginx's sw_ignore_line: IIS may send the status line again.
      return true;
    }
    return this.parseHeaderLine(buf, start, stop);
  }

  /** "HTTP/" 1*3DIGIT "." 1*3DIGIT SP+ 3DIGIT [ (SP / ".") text ] (ngx_http_parse_status_line). */
  private parseStatusLine(buf: Buffer, start: number, stop: number): boolean {
    let p = start + HTTP_NAME_LENGTH + 1;
    const major = p;
    while (p < stop && isDigit(buf[p])) p++;
    if (p === major || buf[major] === DIGIT_0 || p - major > MAX_VERSION_DIGITS || p === stop || buf[p] !== DOT) {
      return this.failStatusLine(buf, start, stop);
    }
    const minor = ++p;
    while (p < stop && isDigit(buf[p])) p++;
    if (p === minor || p - minor > MAX_VERSION_DIGITS || p === stop || buf[p] !== SP) {
      return this.failStatusLine(buf, start, stop);
    }
    const versionEnd = p;
    while (p < stop && buf[p] === SP) p++;
    if (stop - p < STATUS_DIGITS || !isDigit(buf[p]) || !isDigit(buf[p + 1]) || !isDigit(buf[p + 2])) {
      return this.failStatusLine(buf, start, stop);
    }
    const status = threeDigits(buf, p);
    p += STATUS_DIGITS;
    if (status < MIN_STATUS) return this.failStatusLine(buf, start, stop);
    if (p < stop) {
      const separator = buf[p];
      // '.': nginx accepts IIS's "403.1"-style sub-statuses; the ".1" stays in the reason.
      if (separator === SP) p++;
      else if (separator !== DOT) return this.failStatusLine(buf, start, stop);
    }
    for (let i = p; i < stop; i++) {
      if (isCtl(buf[i])) return this.failStatusLine(buf, start, stop);
    }
    this.httpVersion = buf.toString(LATIN1, start, versionEnd);
    this.lineStatus = status;
    const reason = trimOws(buf.toString(LATIN1, p, stop));
    this.lineReason = reason.length > 0 ? reason : reasonPhrase(status);
    return true;
  }

  /** name ":" OWS value OWS; false when it failed. */
  private parseHeaderLine(buf: Buffer, start: number, stop: number): boolean {
    let p = start;
    while (p < stop && TCHAR[buf[p]] === 1) p++;
    if (p === stop) {
      this.fail('ERR_CGI_BAD_HEADER', `upstream sent invalid header: ${quote(buf, start, stop)} has no colon`);
      return false;
    }
    if (p === start || buf[p] !== COLON) return this.failHeaderByte(buf, start, p);
    const nameEnd = p++;
    while (p < stop && (buf[p] === SP || buf[p] === HTAB)) p++;
    const valueStart = p;
    let valueEnd = p;
    for (; p < stop; p++) {
      const c = buf[p];
      if (c === SP || c === HTAB) continue;
      if (isCtl(c)) return this.failHeaderByte(buf, start, p);
      valueEnd = p + 1;
    }
    // One decode per line, then slices: latin1 byte offsets are string offsets.
    const line = buf.toString(LATIN1, start, valueEnd);
    const name = line.slice(0, nameEnd - start);
    const value = line.slice(valueStart - start);
    this.headers.push(name, value);
    if (name.length === 'status'.length && name.toLowerCase() === 'status') {
      if (this.statusValue === undefined) this.statusValue = value;
    } else if (name.length === 'location'.length && name.toLowerCase() === 'location') {
      this.location = true;
    }
    return true;
  }

  /** The empty line arrived: work out the status (nginx's *_process_header) and emit the head. */
  private emitHead(): boolean {
    let status: number;
    let reason: string;
    if (this.httpVersion !== undefined) {
      status = this.lineStatus;
      reason = this.lineReason;
    } else if (this.statusValue !== undefined) {
      const value = this.statusValue;
      const code = statusCode(value);
      if (code < 0) {
        this.fail('ERR_CGI_BAD_STATUS', `upstream sent invalid status ${JSON.stringify(value)}`);
        return false;
      }
      status = code;
      const rest = trimOws(value.slice(STATUS_DIGITS));
      reason = rest.length > 0 ? rest : reasonPhrase(code);
    } else if (this.location) {
      status = LOCATION_REDIRECT_STATUS;
      reason = LOCATION_REDIRECT_REASON;
    } else {
      status = DEFAULT_STATUS;
      reason = reasonPhrase(DEFAULT_STATUS);
    }
    const head: CgiResponseHead = { status, reason, headers: this.headers };
    if (this.httpVersion !== undefined) head.httpVersion = this.httpVersion;
    // State first: a throwing handler must leave the parser consistent.
    this.phase = Phase.Body;
    this.pending = null;
    this.handlers.onHead(head);
    return true;
  }

  private failStatusLine(buf: Buffer, start: number, stop: number): false {
    this.fail('ERR_CGI_BAD_STATUS_LINE', `upstream sent invalid status line ${quote(buf, start, stop)}`);
    return false;
  }

  /** nginx's format: the line up to the offending byte, then that byte in hex. */
  private failHeaderByte(buf: Buffer, start: number, at: number): false {
    const shown = Math.min(at, start + MAX_QUOTED);
    const hex = buf[at].toString(16).padStart(2, '0');
    this.fail('ERR_CGI_BAD_HEADER', `upstream sent invalid header: "${printable(buf.toString(LATIN1, start, shown))}\\x${hex}..."`);
    return false;
  }

  private fail(code: CgiResponseErrorCode, message: string): number {
    this.failure = new CgiResponseError(code, message);
    this.phase = Phase.Failed;
    this.pending = null;
    this.pendingLength = 0;
    return -1;
  }
}

function isDigit(c: number): boolean {
  return c >= DIGIT_0 && c <= DIGIT_9;
}

/** CTL other than HTAB, and DEL: what Node's HTTP layer refuses in a field value. */
function isCtl(c: number): boolean {
  return c > LAST_CTL ? c === DEL : c !== HTAB;
}

function threeDigits(buf: Buffer, p: number): number {
  return (buf[p] - DIGIT_0) * 100 + (buf[p + 1] - DIGIT_0) * 10 + (buf[p + 2] - DIGIT_0);
}

/** The code at the start of a Status value: 3 digits (>= 100) followed by the end, SP or HTAB;
 *  -1 otherwise. nginx only looks at the 3 digits ("2000" reads as 200). */
function statusCode(value: string): number {
  if (value.length < STATUS_DIGITS) return -1;
  let code = 0;
  for (let i = 0; i < STATUS_DIGITS; i++) {
    const c = value.charCodeAt(i);
    if (!isDigit(c)) return -1;
    code = code * 10 + (c - DIGIT_0);
  }
  if (value.length > STATUS_DIGITS) {
    const next = value.charCodeAt(STATUS_DIGITS);
    if (next !== SP && next !== HTAB) return -1;
  }
  return code < MIN_STATUS ? -1 : code;
}

/** Leading and trailing SP / HTAB removed. */
function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === SP || s.charCodeAt(a) === HTAB)) a++;
  while (b > a && (s.charCodeAt(b - 1) === SP || s.charCodeAt(b - 1) === HTAB)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** A line for an error message: quoted, control bytes escaped, long lines cut. */
function quote(buf: Buffer, start: number, stop: number): string {
  const cut = stop - start > MAX_QUOTED;
  return `"${printable(buf.toString(LATIN1, start, cut ? start + MAX_QUOTED : stop))}${cut ? '...' : ''}"`;
}

/** Control bytes and DEL as \xNN, so a log line stays one line. */
function printable(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c <= LAST_CTL || c === DEL ? `\\x${c.toString(16).padStart(2, '0')}` : s[i];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Formatting (the app server's side)

/** A field name: one or more tchar (RFC 9110 §5.6.2). */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What may not appear in a value or reason: CR, LF and NUL (they would end or cut the line in
 *  the peer's parser: response splitting), and characters latin1 cannot carry. */
const FORBIDDEN_IN_VALUE = /[\r\n\0]|[^\u0000-\u00ff]/;
const MAX_STATUS = 999;

/**
 * A CGI response head as FastCGI and SCGI apps send it (and uWSGI on an SCGI socket:
 * proto/base.c, uwsgi_proto_base_cgi_prepare_headers writes "Status: " + the status line):
 *
 *   formatCgiHead(404, 'Not Found', [['Content-Type', 'text/plain']])
 *     === 'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\n'
 *
 * A latin1 string: write it with `Buffer.from(head, 'latin1')`. Throws `CgiResponseError`
 * ERR_CGI_INVALID_FIELD for a status outside 100..999, a name that is not a token, or CR, LF, NUL
 * or a character above U+00FF in the reason or a value (the caller answers 500 instead).
 */
export function formatCgiHead(status: number, reason: string, headers: ReadonlyArray<readonly [string, string]>): string {
  return `Status: ${statusLine(status, reason)}\r\n${fieldLines(headers)}\r\n`;
}

/**
 * A raw HTTP response head, as uWSGI answers on a uwsgi socket (proto/base.c,
 * uwsgi_proto_base_prepare_headers: the request's SERVER_PROTOCOL, else "HTTP/1.0", then the
 * status): pass the request's SERVER_PROTOCOL as `httpVersion` to do the same.
 *
 *   formatHttpHead(200, 'OK', [['Content-Length', '2']]) === 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n'
 *
 * Same checks as formatCgiHead; `httpVersion` must look like "HTTP/1.1".
 */
export function formatHttpHead(
  status: number,
  reason: string,
  headers: ReadonlyArray<readonly [string, string]>,
  httpVersion = 'HTTP/1.1',
): string {
  if (!/^HTTP\/\d{1,3}\.\d{1,3}$/.test(httpVersion)) {
    throw new CgiResponseError('ERR_CGI_INVALID_FIELD', `invalid HTTP version ${JSON.stringify(httpVersion)}`);
  }
  return `${httpVersion} ${statusLine(status, reason)}\r\n${fieldLines(headers)}\r\n`;
}

function statusLine(status: number, reason: string): string {
  if (!Number.isInteger(status) || status < MIN_STATUS || status > MAX_STATUS) {
    throw new CgiResponseError('ERR_CGI_INVALID_FIELD', `invalid status ${String(status)}: must be an integer in ${MIN_STATUS}..${MAX_STATUS}`);
  }
  if (FORBIDDEN_IN_VALUE.test(reason)) {
    throw new CgiResponseError('ERR_CGI_INVALID_FIELD', `invalid reason phrase ${JSON.stringify(reason)}: CR, LF, NUL or a character above U+00FF`);
  }
  return `${status} ${reason}`;
}

function fieldLines(headers: ReadonlyArray<readonly [string, string]>): string {
  let out = '';
  for (const [name, value] of headers) {
    if (!FIELD_NAME.test(name)) {
      throw new CgiResponseError('ERR_CGI_INVALID_FIELD', `invalid header name ${JSON.stringify(name)}: must be a token (RFC 9110 §5.6.2)`);
    }
    if (FORBIDDEN_IN_VALUE.test(value)) {
      throw new CgiResponseError('ERR_CGI_INVALID_FIELD', `invalid value for header ${JSON.stringify(name)}: CR, LF, NUL or a character above U+00FF`);
    }
    out += `${name}: ${value}\r\n`;
  }
  return out;
}

/**
 * HTTP/1.1 request codec (RFC 9112): bytes in, request heads and body chunks out. Pure: no
 * sockets, no timers. Shared by the app server's HTTP socket and the web server.
 *
 * Contract (waitress `parser.py` style): `execute(bytes)` returns how many bytes it consumed and
 * stops right after each complete message, so pipelined requests are handed out one at a time.
 * Protocol errors never throw: `execute` returns -1 and `error` holds an `HttpParseError` whose
 * `status` is the status nginx would answer with.
 *
 * What nginx does, and so what this codec does (nginx/nginx sources, src/http/ngx_http_parse.c
 * and src/http/ngx_http_request.c; "nginx" below means those files):
 *
 *   400 ERR_HTTP_BAD_METHOD        method bytes outside A-Z, '_' and '-'
 *                                  (ngx_http_parse_request_line, sw_start / sw_method).
 *   400 ERR_HTTP_BAD_REQUEST_LINE  anything else wrong in the request line; runs of SP between
 *                                  the parts and after the version are accepted as nginx does.
 *                                  HTTP/0.9 (no version) is rejected: nginx serves it, tsgi
 *                                  cannot express it in `versionMinor`.
 *   400 ERR_HTTP_BAD_TARGET        control bytes in the target (nginx: `ch < 0x20 || ch == 0x7f`)
 *                                  or a target form the method does not allow (RFC 9112 §3.2).
 *                                  nginx rejects `OPTIONS *` altogether; tsgi accepts it.
 *   505 ERR_HTTP_VERSION           major version above 1 (nginx NGX_HTTP_PARSE_INVALID_VERSION).
 *                                  HTTP/1.2+ is read as HTTP/1.1, like nginx's 1002 > 1001.
 *   414 ERR_HTTP_REQUEST_LINE_TOO_LONG  request line longer than maxRequestLineBytes
 *                                  (ngx_http_process_request_line: "client sent too long URI").
 *   400 ERR_HTTP_HEADER_TOO_LARGE  head longer than maxHeaderBytes. nginx uses the internal
 *   400 ERR_HTTP_TOO_MANY_HEADERS  status 494 and sends "400 Request Header Or Cookie Too Large"
 *                                  (ngx_http_process_request_headers). nginx has no count limit.
 *   400 ERR_HTTP_BAD_HEADER_NAME   bytes outside tchar, whitespace before the colon, a missing
 *                                  colon. nginx only rejects CTL/SP there and silently drops other
 *                                  invalid names (ignore_invalid_headers); a codec that feeds an
 *                                  app server must not drop, so it rejects (RFC 9112 §5.1).
 *   400 ERR_HTTP_BAD_HEADER_VALUE  CTL bytes other than HTAB in a value. nginx rejects only NUL;
 *                                  RFC 9110 §5.5 allows rejecting the rest, and CR/LF/NUL must be.
 *   400 ERR_HTTP_OBS_FOLD          a field line starting with SP/HTAB (RFC 9112 §5.2; nginx
 *                                  rejects a line starting with a byte <= 0x20).
 *   400 ERR_HTTP_BARE_CR           CR not followed by LF (RFC 9112 §2.2; nginx sw_almost_done).
 *   400 ERR_HTTP_DUPLICATE_HEADER  a second Host, Content-Length, Transfer-Encoding or Expect,
 *                                  even with the same value (ngx_http_process_unique_header_line,
 *                                  ngx_http_process_host).
 *   400 ERR_HTTP_BAD_HOST          empty host, "..", '/', SP or CTL in Host (ngx_http_validate_host).
 *   400 ERR_HTTP_MISSING_HOST      HTTP/1.1 without Host ("client sent HTTP/1.1 request without
 *                                  \"Host\" header"), even with an absolute-form target.
 *   400 ERR_HTTP_BAD_CONTENT_LENGTH  not plain decimal digits, or above 2^53-1 (ngx_atoof).
 *   400 ERR_HTTP_TRANSFER_ENCODING_HTTP10  Transfer-Encoding in an HTTP/1.0 request (nginx >= 1.21.2).
 *   501 ERR_HTTP_UNKNOWN_TRANSFER_ENCODING  anything but exactly "chunked" (case-insensitive).
 *   400 ERR_HTTP_CONTENT_LENGTH_AND_CHUNKED  both headers (nginx >= 1.21.1, RFC 9112 §6.1).
 *       The checks after the header block run in nginx's order (ngx_http_process_request_header):
 *       missing Host, Content-Length syntax, TE with HTTP/1.0, TE value, TE together with CL.
 *   400 ERR_HTTP_BAD_CHUNK         chunk framing (ngx_http_parse_chunked): hex size with an
 *                                  overflow check, extensions after ';' / SP / HTAB ignored, and
 *                                  CRLF required: nginx refuses a bare LF inside chunked framing
 *                                  although it takes one in the head, and so does tsgi.
 *   400 ERR_HTTP_TRUNCATED         EOF inside a message ("client prematurely closed connection").
 *
 * Not here, because they are server policy rather than framing: nginx answers CONNECT and TRACE
 * with 405, and ignores header names with '_' (underscores_in_headers off).
 *
 * Speed: the head is scanned once, byte by byte, on the Buffer (no regexes, no per-byte strings)
 * while field offsets go into a reused Int32Array; then the head is decoded with one latin1 call
 * and names/values are cut from that string (one native call instead of one per field: 4x
 * cheaper). A whole plain head in one input takes a straight-line fast path; anything else
 * (a split head, an error, a rare form) goes to a resumable state machine, which is the only code
 * that reports errors. A head split across reads is copied into a growing buffer and the scan
 * resumes where it stopped, so slow clients cost linear time. Body bytes are never copied.
 * bench/micro/http1-parse.ts measures it.
 */
import { TsgiError } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// Errors

/** Every way a request can be refused, with the status nginx answers it with. */
export const HTTP1_ERROR_STATUS = {
  ERR_HTTP_BAD_METHOD: 400,
  ERR_HTTP_BAD_REQUEST_LINE: 400,
  ERR_HTTP_BAD_TARGET: 400,
  ERR_HTTP_VERSION: 505,
  ERR_HTTP_REQUEST_LINE_TOO_LONG: 414,
  ERR_HTTP_HEADER_TOO_LARGE: 400,
  ERR_HTTP_TOO_MANY_HEADERS: 400,
  ERR_HTTP_BAD_HEADER_NAME: 400,
  ERR_HTTP_BAD_HEADER_VALUE: 400,
  ERR_HTTP_OBS_FOLD: 400,
  ERR_HTTP_BARE_CR: 400,
  ERR_HTTP_DUPLICATE_HEADER: 400,
  ERR_HTTP_BAD_HOST: 400,
  ERR_HTTP_MISSING_HOST: 400,
  ERR_HTTP_BAD_CONTENT_LENGTH: 400,
  ERR_HTTP_TRANSFER_ENCODING_HTTP10: 400,
  ERR_HTTP_UNKNOWN_TRANSFER_ENCODING: 501,
  ERR_HTTP_CONTENT_LENGTH_AND_CHUNKED: 400,
  ERR_HTTP_BAD_CHUNK: 400,
  ERR_HTTP_TRUNCATED: 400,
} as const;

export type Http1ErrorCode = keyof typeof HTTP1_ERROR_STATUS;

/** A request the codec refuses; `status` is what to answer before closing the connection. */
export class HttpParseError extends TsgiError {
  override readonly code: Http1ErrorCode;
  readonly status: number;
  constructor(code: Http1ErrorCode, message: string) {
    super(code, message);
    this.code = code;
    this.status = HTTP1_ERROR_STATUS[code];
  }
}

// ---------------------------------------------------------------------------------------------
// Public types

export interface RequestHead {
  /** As sent, e.g. 'GET'. */
  method: string;
  /** Raw request-target, e.g. '/a%20b?x=1' or 'http://host/path' (absolute-form kept as sent). */
  target: string;
  /** HTTP/1.0 or HTTP/1.1 (HTTP/1.2+ reads as 1). */
  versionMinor: 0 | 1;
  /** Flat [name, value, name, value, ...]: names as sent, values with OWS trimmed, latin1. */
  headers: string[];
  /** -1 when the request has no Content-Length (and is not chunked). */
  contentLength: number;
  /** Transfer-Encoding: chunked. */
  chunked: boolean;
  /** HTTP/1.1: unless `Connection: close`; HTTP/1.0: only with `Connection: keep-alive`. */
  keepAlive: boolean;
  /** `Expect: 100-continue` in an HTTP/1.1 request (RFC 9110 §10.1.1: ignored in 1.0). */
  expectContinue: boolean;
  /** HTTP/1.1 with an Upgrade header and the `upgrade` token in Connection (RFC 9110 §7.8). */
  upgrade: boolean;
  /** Value of the Host header, '' if none. */
  host: string;
}

export interface Http1Limits {
  /** Whole head: request line + field lines + the empty line. Over it: 400 (nginx 494). */
  maxHeaderBytes: number;
  /** Field lines in one head (and trailer lines in one chunked body). */
  maxHeaderCount: number;
  /** Request line including its line end. Over it: 414. */
  maxRequestLineBytes: number;
}

/**
 * nginx's reading of field names for a web server in front of other servers (tsgi web): a line
 * whose name has bytes outside tchar (or `_`, unless underscores are allowed) is dropped, not
 * refused (`ignore_invalid_headers on`, `underscores_in_headers off`, their defaults), a name
 * without a colon is a field with an empty value, and control bytes other than NUL pass in values.
 * Whitespace or control bytes in a name, a line starting with ':' or whitespace, and NUL are still
 * refused with 400, as Debian's nginx 1.22 does (probed). The app servers keep the strict reading.
 */
export interface Http1Leniency {
  ignoreInvalidHeaders?: boolean;
  underscoresInHeaders?: boolean;
}

export const DEFAULT_HTTP1_LIMITS: Readonly<Http1Limits> = Object.freeze({
  maxHeaderBytes: 64 * 1024,
  maxHeaderCount: 100,
  // nginx large_client_header_buffers 4 8k: a request line must fit one 8k buffer.
  maxRequestLineBytes: 8192,
});

export interface Http1RequestHandlers {
  onHead(head: RequestHead): void;
  /** A subarray of the input (no copy); may be called many times; never empty. */
  onBody(chunk: Buffer): void;
  /** The message (head + body + trailers) is complete. */
  onComplete(): void;
  /** A field line dropped by `ignoreInvalidHeaders` (latin1, without its line end). */
  onInvalidHeader?(line: string): void;
}

// ---------------------------------------------------------------------------------------------
// Bytes

const HTAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HASH = 0x23;
const COMMA = 0x2c;
const ASTERISK = 0x2a;
const SLASH = 0x2f;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_1 = 0x31;
const DIGIT_9 = 0x39;
const COLON = 0x3a;
const SEMICOLON = 0x3b;
const QUESTION = 0x3f;
const AT = 0x40;
const UPPER_H = 0x48;
const UPPER_P = 0x50;
const UPPER_T = 0x54;
const OPEN_BRACKET = 0x5b;
const BACKSLASH = 0x5c;
const CLOSE_BRACKET = 0x5d;
const LOWER_A = 0x61;
const LOWER_Z = 0x7a;
const DEL = 0x7f;
/** "HTTP/1.x" */
const HTTP_1_X_LENGTH = 8;
/** "HTTP/1.x" and at least a LF after the SP before it. */
const HTTP_1_X_LF_LENGTH = 1 + HTTP_1_X_LENGTH + 1;
/** The last control byte below SP: 0x00-0x1f and DEL are CTL (RFC 5234 B.1). */
const LAST_CTL = 0x1f;
/** ASCII letters differ from their lower case only in this bit. */
const CASE_BIT = 0x20;

function byteClass(chars: string): Uint8Array {
  const table = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
}

const DIGITS = '0123456789';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
/** tchar, RFC 9110 §5.6.2: the bytes of a field name. */
const TCHAR = byteClass("!#$%&'*+-.^_`|~" + DIGITS + UPPER + LOWER);
/** tchar without '_': nginx's valid name bytes with underscores_in_headers off. */
const TCHAR_NO_UNDERSCORE = byteClass("!#$%&'*+-.^`|~" + DIGITS + UPPER + LOWER);
/** What nginx takes in a method (ngx_http_parse_request_line: 'A'-'Z', '_', '-'). */
const METHOD_CHAR = byteClass(UPPER + '_-');
/** URI scheme characters after the first letter (RFC 3986 §3.1). */
const SCHEME_CHAR = byteClass(UPPER + LOWER + DIGITS + '+-.');
const IS_DIGIT = byteClass(DIGITS);

/** Hex digit value, -1 for anything else. */
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUE['0123456789abcdef'.charCodeAt(i)] = i;
  HEX_VALUE['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/** Above this a chunk size cannot take another hex digit without passing 2^53 (nginx checks
 *  against NGX_MAX_OFF_T_VALUE / 16 the same way). */
const MAX_CHUNK_SIZE_BEFORE_DIGIT = Math.floor(Number.MAX_SAFE_INTEGER / 16);
/** Longest chunk-size line (size + extensions). nginx has no limit; Node's llhttp caps chunk
 *  extensions after a DoS report, and tsgi ignores extensions, so a small cap loses nothing. */
const MAX_CHUNK_LINE_BYTES = 4096;
/** A partial head buffer larger than this is dropped after use instead of kept for the next one. */
const KEEP_PENDING_BYTES = 16 * 1024;

// ---------------------------------------------------------------------------------------------
// States

const enum Phase {
  /** Between messages; empty lines before a request line are skipped here (RFC 9112 §2.2). */
  Idle,
  Head,
  /** Content-Length body. */
  Body,
  Chunked,
  Failed,
}

/** Positions in the request-line and field-line grammar (RFC 9112 §3, §5). */
const enum HeadState {
  Method,
  BeforeTarget,
  Target,
  BeforeVersion,
  VersionH,
  VersionHT,
  VersionHTT,
  VersionHTTP,
  MajorFirst,
  Major,
  MinorFirst,
  Minor,
  AfterVersion,
  RequestLineLF,
  /** First state past the request line; states below are part of the request line. */
  FieldStart,
  Name,
  BeforeValue,
  Value,
  FieldLF,
  EndLF,
}

/** Positions in the chunked-body grammar (RFC 9112 §7.1). */
const enum ChunkState {
  SizeFirst,
  Size,
  Extension,
  SizeLF,
  Data,
  DataCR,
  DataLF,
  TrailerStart,
  TrailerName,
  TrailerValue,
  TrailerLF,
  EndLF,
}

/** Field lines the parser has room for before it grows its offsets table. */
const INITIAL_FIELD_CAPACITY = 32;
/** Numbers kept per field line in `fields`. */
const FIELD_SLOT = 4;

/** scanHead results that are not a position. SCAN_FAILED is what `fail()` returns. */
const SCAN_FAILED = -1;
const SCAN_MORE = -2;

// ---------------------------------------------------------------------------------------------
// Parser

export class Http1RequestParser {
  private readonly handlers: Http1RequestHandlers;
  private readonly maxHeaderBytes: number;
  private readonly maxHeaderCount: number;
  private readonly maxRequestLineBytes: number;
  /** The bytes a field name may hold without the line being invalid (TCHAR, or without '_'). */
  private readonly nameChar: Uint8Array;
  private readonly lenient: boolean;

  private phase: Phase = Phase.Idle;
  private failure: HttpParseError | null = null;

  // Head scan, resumable across execute() calls. Offsets are relative to the head's first byte.
  private hstate: HeadState = HeadState.Method;
  private methodEnd = 0;
  private targetStart = 0;
  private targetEnd = 0;
  private minor = 0;
  private fieldCount = 0;
  private nameStart = 0;
  private nameEnd = 0;
  private valueStart = 0;
  /** The field line being scanned has an invalid name and will be dropped (lenient mode). */
  private invalidName = false;
  /** Offsets (start, end pairs, relative to the head) of the field lines dropped in this head. */
  private readonly droppedLines: number[] = [];
  /** Per field line, FIELD_SLOT numbers: name start, name end, value start, line end (CR/LF). */
  private fields: Int32Array;
  /** Bytes of an incomplete head, copied out of earlier inputs. */
  private pending: Buffer | null = null;
  private pendingLength = 0;

  // Body.
  private remaining = 0;
  private cstate: ChunkState = ChunkState.SizeFirst;
  private chunkLineBytes = 0;
  private trailerBytes = 0;
  private trailerCount = 0;

  constructor(handlers: Http1RequestHandlers, limits?: Partial<Http1Limits> & Http1Leniency) {
    this.handlers = handlers;
    this.lenient = limits?.ignoreInvalidHeaders === true;
    this.nameChar = this.lenient && limits?.underscoresInHeaders !== true ? TCHAR_NO_UNDERSCORE : TCHAR;
    this.maxHeaderBytes = limit(limits?.maxHeaderBytes, DEFAULT_HTTP1_LIMITS.maxHeaderBytes);
    this.maxHeaderCount = limit(limits?.maxHeaderCount, DEFAULT_HTTP1_LIMITS.maxHeaderCount);
    this.maxRequestLineBytes = limit(limits?.maxRequestLineBytes, DEFAULT_HTTP1_LIMITS.maxRequestLineBytes);
    // Grown on demand: a web server allows thousands of lines but most heads have a dozen, and
    // every idle connection keeps its parser.
    this.fields = new Int32Array(Math.min(this.maxHeaderCount, INITIAL_FIELD_CAPACITY) * FIELD_SLOT);
  }

  /** The error that stopped the parser, or null. */
  get error(): HttpParseError | null {
    return this.failure;
  }

  /** True between messages (nothing of the next message seen yet): the connection may be closed idle. */
  get idle(): boolean {
    return this.phase === Phase.Idle;
  }

  /** Number of bytes of an incomplete head currently buffered (callers use it for header timeouts). */
  get bufferedHeadBytes(): number {
    return this.phase === Phase.Head ? this.pendingLength : 0;
  }

  /** Feed bytes from `offset`. Returns the number of bytes consumed, so the message (if one
   *  completed) ends at `offset + n`. It STOPS right after a message completes so the caller can
   *  hold pipelined bytes until the response is written; the caller calls execute again with the
   *  rest. On error returns -1 and sets `error`; afterwards every call returns -1. Exceptions
   *  thrown by the handlers propagate. */
  execute(data: Buffer, offset = 0): number {
    if (this.phase === Phase.Failed) return -1;
    const end = data.length;
    let p = offset;
    if (p >= end) return 0;

    if (this.phase === Phase.Idle) {
      // RFC 9112 §2.2: empty lines before the request line are ignored (nginx takes CR and LF in
      // any order there). They are not buffered, so the connection stays idle.
      for (;;) {
        const c = data[p];
        if (c !== CR && c !== LF) break;
        if (++p === end) return end - offset;
      }
      this.phase = Phase.Head;
      this.hstate = HeadState.Method;
      this.invalidName = false;
      this.droppedLines.length = 0;
      this.fieldCount = 0;
    }

    if (this.phase === Phase.Head) {
      p = this.parseHead(data, p, end);
      if (p < 0) return -1;
    }
    const q = this.parseBody(data, p, end);
    return q < 0 ? -1 : q - offset;
  }

  /** Body bytes from `p` in the current phase; returns where it stopped, or -1 on error. */
  private parseBody(data: Buffer, p: number, end: number): number {
    if (p === end) return p;
    const phase = this.phase;
    if (phase === Phase.Body) {
      const available = end - p;
      const remaining = this.remaining;
      if (available < remaining) {
        this.remaining = remaining - available;
        this.handlers.onBody(p === 0 ? data : data.subarray(p, end));
        return end;
      }
      this.remaining = 0;
      this.phase = Phase.Idle;
      this.handlers.onBody(p === 0 && remaining === end ? data : data.subarray(p, p + remaining));
      this.handlers.onComplete();
      return p + remaining;
    }
    if (phase === Phase.Chunked) return this.parseChunked(data, p, end);
    // Idle: a message just completed; Head: all input was buffered.
    return p;
  }

  /** The connection hit EOF. Returns an error if a message was in progress (truncated), else null. */
  finish(): HttpParseError | null {
    if (this.failure !== null) return this.failure;
    if (this.phase === Phase.Idle) return null;
    this.fail('ERR_HTTP_TRUNCATED', 'client prematurely closed connection');
    return this.failure;
  }

  // -------------------------------------------------------------------------------------------
  // Head

  /** Scans head bytes from `p`; on a complete head emits it and returns the position after it,
   *  else buffers what it saw and returns `end`. -1 on error. */
  private parseHead(data: Buffer, p: number, end: number): number {
    const held = this.pendingLength;
    if (held === 0 && this.hstate === HeadState.Method) {
      const q = this.scanWholeHead(data, p, end);
      if (q > 0) return this.emitHead(data, p, q - p) ? q : -1;
      // Not a plain, complete head: the general scanner below starts over and decides.
    }
    // Offsets are relative to the head's first byte; with a partial head held, that byte was in
    // an earlier input, `held` bytes before `p`.
    const base = p - held;
    const q = this.scanHead(data, p, end, base);
    if (q === SCAN_FAILED) return -1;
    if (q === SCAN_MORE) {
      this.hold(data, p, end);
      return end;
    }
    let ok: boolean;
    if (held === 0) {
      ok = this.emitHead(data, p, q - p);
    } else {
      this.hold(data, p, q);
      const pending = this.pending;
      const length = this.pendingLength;
      this.pendingLength = 0;
      if (pending === null) return this.fail('ERR_HTTP_HEADER_TOO_LARGE', 'lost partial head');
      ok = this.emitHead(pending, 0, length);
      if (pending.length > KEEP_PENDING_BYTES) this.pending = null;
    }
    return ok ? q : -1;
  }

  /** Appends data[from, to) to the partial head buffer. */
  private hold(data: Buffer, from: number, to: number): void {
    const length = this.pendingLength;
    const needed = length + (to - from);
    let pending = this.pending;
    if (pending === null || pending.length < needed) {
      let size = pending === null ? 1024 : pending.length * 2;
      while (size < needed) size *= 2;
      const grown = Buffer.allocUnsafe(Math.min(size, Math.max(needed, this.maxHeaderBytes)));
      if (pending !== null) pending.copy(grown, 0, 0, length);
      this.pending = pending = grown;
    }
    data.copy(pending, length, from, to);
    this.pendingLength = needed;
  }

  /**
   * Fast path for the common case: a whole, plain head in one input. Straight-line loops with no
   * state to save, about a third faster than the general scanner. It accepts only the shapes it
   * knows are valid (single SP in the request line, HTTP/1.0 or HTTP/1.1, CRLF or LF line ends,
   * within the limits) and returns the position past the head, or 0 for anything else (an
   * incomplete head, an error, an unusual but valid form): the general scanner then re-reads the
   * head from its first byte and is the one place that reports errors.
   */
  private scanWholeHead(buf: Buffer, p: number, end: number): number {
    const base = p;
    const stop = Math.min(end, base + this.maxHeaderBytes);
    const lineStop = Math.min(stop, base + this.maxRequestLineBytes);

    while (p < lineStop && METHOD_CHAR[buf[p]] === 1) p++;
    if (p === base || p >= lineStop || buf[p] !== SP) return 0;
    const methodEnd = p - base;
    const targetStart = ++p;
    let c = 0;
    while (p < lineStop) {
      c = buf[p];
      if (c <= SP || c === DEL) break;
      p++;
    }
    if (p === targetStart || p + HTTP_1_X_LF_LENGTH > lineStop || c !== SP) return 0;
    const targetEnd = p++;
    if (
      buf[p] !== UPPER_H ||
      buf[p + 1] !== UPPER_T ||
      buf[p + 2] !== UPPER_T ||
      buf[p + 3] !== UPPER_P ||
      buf[p + 4] !== SLASH ||
      buf[p + 5] !== DIGIT_1 ||
      buf[p + 6] !== DOT
    ) {
      return 0;
    }
    const minor = buf[p + 7] - DIGIT_0;
    if (minor !== 0 && minor !== 1) return 0;
    p += HTTP_1_X_LENGTH;
    if (buf[p] === CR && p + 1 < lineStop) p++;
    if (buf[p] !== LF) return 0;
    p++;

    const fields = this.fields;
    const maxCount = this.maxHeaderCount;
    const nameChar = this.nameChar;
    let count = 0;
    for (;;) {
      if (p >= stop) return 0;
      c = buf[p];
      if (nameChar[c] !== 1) {
        if (c === CR) {
          if (p + 1 >= stop || buf[p + 1] !== LF) return 0;
          p += 2;
          break;
        }
        if (c !== LF) return 0;
        p++;
        break;
      }
      const nameStart = p++;
      while (p < stop && nameChar[buf[p]] === 1) p++;
      if (p >= stop || buf[p] !== COLON || count === maxCount || (count + 1) * FIELD_SLOT > fields.length) return 0;
      const nameEnd = p++;
      while (p < stop) {
        c = buf[p];
        if (c !== SP && c !== HTAB) break;
        p++;
      }
      const valueStart = p;
      while (p < stop) {
        c = buf[p];
        if (c > LAST_CTL ? c === DEL : c !== HTAB) break;
        p++;
      }
      if (p >= stop) return 0;
      const lineEnd = p;
      if (c === CR) {
        if (++p >= stop || buf[p] !== LF) return 0;
      } else if (c !== LF) {
        return 0;
      }
      p++;
      const slot = count * FIELD_SLOT;
      fields[slot] = nameStart - base;
      fields[slot + 1] = nameEnd - base;
      fields[slot + 2] = valueStart - base;
      fields[slot + 3] = lineEnd - base;
      count++;
    }

    this.methodEnd = methodEnd;
    this.targetStart = targetStart - base;
    this.targetEnd = targetEnd - base;
    this.minor = minor;
    this.fieldCount = count;
    return p;
  }

  /**
   * The head scanner: one pass over the bytes, validating as it goes and recording offsets.
   * Returns the absolute position just past the head, SCAN_MORE or SCAN_FAILED.
   */
  private scanHead(buf: Buffer, p: number, end: number, base: number): number {
    let state = this.hstate;
    let count = this.fieldCount;
    let nameStart = this.nameStart;
    let nameEnd = this.nameEnd;
    let valueStart = this.valueStart;
    let invalid = this.invalidName;
    let fields = this.fields;
    const maxCount = this.maxHeaderCount;
    const nameChar = this.nameChar;
    const lenient = this.lenient;
    // Scan no further than a head may reach, so a flood is refused after at most the limit.
    const lineLimit = base + this.maxRequestLineBytes;
    const headLimit = base + this.maxHeaderBytes;
    let stop = state < HeadState.FieldStart ? Math.min(end, lineLimit, headLimit) : Math.min(end, headLimit);
    let c = 0;

    while (p < stop) {
      switch (state) {
        case HeadState.Method: {
          while (p < stop && METHOD_CHAR[buf[p]] === 1) p++;
          if (p === stop) break;
          c = buf[p];
          if (c !== SP || p - base === 0) {
            return this.fail('ERR_HTTP_BAD_METHOD', 'client sent invalid method');
          }
          this.methodEnd = p - base;
          p++;
          state = HeadState.BeforeTarget;
          break;
        }
        case HeadState.BeforeTarget:
          if (buf[p] === SP) {
            p++;
            break;
          }
          this.targetStart = p - base;
          state = HeadState.Target;
          break;
        case HeadState.Target:
          // Bytes above 0x7f pass: nginx takes raw UTF-8 in URIs.
          while (p < stop) {
            c = buf[p];
            if (c <= SP || c === DEL) break;
            p++;
          }
          if (p === stop) break;
          if (c === SP) {
            this.targetEnd = p - base;
            p++;
            state = HeadState.BeforeVersion;
            break;
          }
          if (c === CR || c === LF) return this.fail('ERR_HTTP_BAD_REQUEST_LINE', 'HTTP/0.9 requests are not supported');
          // nginx sw_check_uri: control bytes in the target are refused.
          return this.fail('ERR_HTTP_BAD_TARGET', 'client sent a control character in the request target');
        case HeadState.BeforeVersion:
          c = buf[p];
          if (c === SP) {
            p++;
            break;
          }
          if (c === UPPER_H) {
            p++;
            state = HeadState.VersionH;
            break;
          }
          if (c === CR || c === LF) return this.fail('ERR_HTTP_BAD_REQUEST_LINE', 'HTTP/0.9 requests are not supported');
          return this.fail('ERR_HTTP_BAD_REQUEST_LINE', 'client sent invalid request');
        case HeadState.VersionH:
        case HeadState.VersionHT:
          if (buf[p] !== UPPER_T) return this.fail('ERR_HTTP_BAD_REQUEST_LINE', 'client sent invalid request');
          p++;
          state = state === HeadState.VersionH ? HeadState.VersionHT : HeadState.VersionHTT;
          break;
        case HeadState.VersionHTT:
          if (buf[p] !== UPPER_P) return this.fail('ERR_HTTP_BAD_REQUEST_LINE', 'client sent invalid request');
          p++;
          state = HeadState.VersionHTTP;
          break;
        case HeadState.VersionHTTP:
          if (buf[p] !== SLASH) return this.fail('ERR_HTTP_BAD_REQUEST_LINE', 'client sent invalid request');
          p++;
          state = HeadState.MajorFirst;
          break;
        case HeadState.MajorFirst:
          // nginx sw_first_major_digit: '1'-'9' only, so HTTP/0.x is a bad request, not a 505.
          c = buf[p];
          if (c < DIGIT_1 || c > DIGIT_9) return this.fail('ERR_HTTP_BAD_REQUEST_LINE', 'client sent invalid version');
          if (c !== DIGIT_1) return this.fail('ERR_HTTP_VERSION', 'client sent unsupported HTTP version');
          p++;
          state = HeadState.Major;
          break;
        case HeadState.Major:
          c = buf[p];
          if (c === DOT) {
            p++;
            state = HeadState.MinorFirst;
            break;
          }
          if (IS_DIGIT[c] !== 1) return this.fail('ERR_HTTP_BAD_REQUEST_LINE', 'client sent invalid version');
          // Any further digit makes the major version at least 10.
          return this.fail('ERR_HTTP_VERSION', 'client sent unsupported HTTP version');
        case HeadState.MinorFirst:
          c = buf[p];
          if (IS_DIGIT[c] !== 1) return this.fail('ERR_HTTP_BAD_REQUEST_LINE', 'client sent invalid version');
          this.minor = c - DIGIT_0;
          p++;
          state = HeadState.Minor;
          break;
        case HeadState.Minor:
          c = buf[p];
          if (IS_DIGIT[c] === 1) {
            // nginx sw_minor_digit: at most three digits.
            if (this.minor > 99) return this.fail('ERR_HTTP_BAD_REQUEST_LINE', 'client sent invalid version');
            this.minor = this.minor * 10 + (c - DIGIT_0);
            p++;
            break;
          }
          state = HeadState.AfterVersion;
          break;
        case HeadState.AfterVersion:
          c = buf[p];
          if (c === SP) {
            p++;
            break;
          }
          if (c === CR) {
            p++;
            state = HeadState.RequestLineLF;
            break;
          }
          if (c !== LF) return this.fail('ERR_HTTP_BAD_REQUEST_LINE', 'client sent invalid request');
          if (p + 1 - base > this.maxRequestLineBytes) return this.failLineTooLong();
          p++;
          state = HeadState.FieldStart;
          stop = Math.min(end, headLimit);
          break;
        case HeadState.RequestLineLF:
          // RFC 9112 §2.2: a CR not followed by LF is invalid.
          if (buf[p] !== LF) return this.fail('ERR_HTTP_BARE_CR', 'client sent CR without LF in the request line');
          if (p + 1 - base > this.maxRequestLineBytes) return this.failLineTooLong();
          p++;
          state = HeadState.FieldStart;
          stop = Math.min(end, headLimit);
          break;
        case HeadState.FieldStart:
          c = buf[p];
          if (nameChar[c] === 1 || (lenient && c > SP && c !== DEL && c !== COLON)) {
            invalid = nameChar[c] !== 1;
            nameStart = p - base;
            p++;
            state = HeadState.Name;
            break;
          }
          if (c === CR) {
            p++;
            state = HeadState.EndLF;
            break;
          }
          if (c === LF) {
            this.fieldCount = count;
            return p + 1;
          }
          if (c === SP || c === HTAB) {
            // RFC 9112 §2.2 (whitespace before the first field) and §5.2 (obs-fold): a folded
            // or indented line is read differently by different parsers, a smuggling vector.
            if (count === 0) return this.fail('ERR_HTTP_BAD_HEADER_NAME', 'client sent whitespace before the first header line');
            return this.fail('ERR_HTTP_OBS_FOLD', 'client sent obsolete line folding');
          }
          return this.fail('ERR_HTTP_BAD_HEADER_NAME', 'client sent invalid header line');
        case HeadState.Name:
          while (p < stop && nameChar[buf[p]] === 1) p++;
          if (p === stop) break;
          c = buf[p];
          if (lenient && c !== COLON && c > SP && c !== DEL) {
            invalid = true;
            p++;
            break;
          }
          if (lenient && (c === CR || c === LF)) {
            // nginx reads a name without a colon as a field with an empty value.
            if (!invalid && count === maxCount) return this.fail('ERR_HTTP_TOO_MANY_HEADERS', 'client sent too many header lines');
            if (!invalid && (count + 1) * FIELD_SLOT > fields.length) fields = this.growFields();
            nameEnd = p - base;
            valueStart = nameEnd;
            state = HeadState.Value;
            break;
          }
          if (c === COLON) {
            if (!invalid && count === maxCount) return this.fail('ERR_HTTP_TOO_MANY_HEADERS', 'client sent too many header lines');
            if (!invalid && (count + 1) * FIELD_SLOT > fields.length) fields = this.growFields();
            nameEnd = p - base;
            p++;
            state = HeadState.BeforeValue;
            break;
          }
          if (c === SP || c === HTAB) {
            // RFC 9112 §5.1: no whitespace between name and colon; "Transfer-Encoding : chunked"
            // is read as a different field by some proxies (request smuggling).
            return this.fail('ERR_HTTP_BAD_HEADER_NAME', 'client sent whitespace before the colon of a header');
          }
          return this.fail('ERR_HTTP_BAD_HEADER_NAME', 'client sent invalid header line');
        case HeadState.BeforeValue:
          while (p < stop) {
            c = buf[p];
            if (c !== SP && c !== HTAB) break;
            p++;
          }
          if (p === stop) break;
          valueStart = p - base;
          state = HeadState.Value;
          break;
        case HeadState.Value:
          // field-vchar / SP / HTAB (RFC 9110 §5.5); obs-text passes. nginx refuses only NUL.
          if (lenient) {
            while (p < stop) {
              c = buf[p];
              if (c === CR || c === LF || c === 0) break;
              p++;
            }
          } else {
            while (p < stop) {
              c = buf[p];
              if (c > LAST_CTL ? c === DEL : c !== HTAB) break;
              p++;
            }
          }
          if (p === stop) break;
          if (c === CR || c === LF) {
            if (invalid) {
              invalid = false;
              // Reported at emitHead, where the whole head is at hand (part may be held).
              this.droppedLines.push(nameStart, p - base);
            } else {
              const slot = count * FIELD_SLOT;
              fields[slot] = nameStart;
              fields[slot + 1] = nameEnd;
              fields[slot + 2] = valueStart;
              fields[slot + 3] = p - base;
              count++;
            }
            p++;
            state = c === CR ? HeadState.FieldLF : HeadState.FieldStart;
            break;
          }
          // RFC 9110 §5.5: NUL, CR, LF must not appear in a value; other CTLs are invalid too.
          return this.fail('ERR_HTTP_BAD_HEADER_VALUE', 'client sent a control character in a header value');
        case HeadState.FieldLF:
          if (buf[p] !== LF) return this.fail('ERR_HTTP_BARE_CR', 'client sent CR without LF in a header line');
          p++;
          state = HeadState.FieldStart;
          break;
        case HeadState.EndLF:
          if (buf[p] !== LF) return this.fail('ERR_HTTP_BARE_CR', 'client sent CR without LF after the header');
          this.fieldCount = count;
          return p + 1;
      }
    }

    // Stopped at the end of the input or at a limit, inside the head.
    this.hstate = state;
    this.fieldCount = count;
    this.nameStart = nameStart;
    this.invalidName = invalid;
    this.nameEnd = nameEnd;
    this.valueStart = valueStart;
    const seen = p - base;
    if (state < HeadState.FieldStart) {
      if (seen >= this.maxRequestLineBytes) return this.failLineTooLong();
    }
    if (seen >= this.maxHeaderBytes) {
      return this.fail('ERR_HTTP_HEADER_TOO_LARGE', 'client sent too large request');
    }
    return SCAN_MORE;
  }

  /**
   * Turns a scanned head into a RequestHead: one latin1 decode of the whole head, names and values
   * cut from it, then the framing checks in nginx's order. Sets up the body and calls the handlers.
   */
  private emitHead(buf: Buffer, start: number, length: number): boolean {
    const s = decodeLatin1(buf, start, start + length);
    const dropped = this.droppedLines;
    for (let i = 0; i < dropped.length; i += 2) this.handlers.onInvalidHeader?.(s.slice(dropped[i], dropped[i + 1]));
    const methodEnd = this.methodEnd;
    const method = methodName(s, methodEnd);
    const targetStart = this.targetStart;
    const targetEnd = this.targetEnd;
    const target = s.slice(targetStart, targetEnd);
    if (!validTargetForm(s, targetStart, targetEnd, method)) {
      this.fail('ERR_HTTP_BAD_TARGET', 'client sent invalid request target for ' + method);
      return false;
    }
    const versionMinor: 0 | 1 = this.minor === 0 ? 0 : 1;

    const count = this.fieldCount;
    const fields = this.fields;
    // Sized up front: growing it by push measured ~60 ns slower per typical request.
    const headers = new Array<string>(count * 2);
    let host = '';
    let hasHost = false;
    let contentLengthAt = -1;
    let contentLengthEnd = -1;
    let transferEncoding: string | null = null;
    let expect = false;
    let expectContinue = false;
    let hasUpgrade = false;
    let connection = 0;
    for (let i = 0; i < count; i++) {
      const slot = i * FIELD_SLOT;
      const nameStart = fields[slot];
      const nameEnd = fields[slot + 1];
      const valueStart = fields[slot + 2];
      let valueEnd = fields[slot + 3];
      // OWS after the value is not part of it (RFC 9112 §5).
      while (valueEnd > valueStart) {
        const c = s.charCodeAt(valueEnd - 1);
        if (c !== SP && c !== HTAB) break;
        valueEnd--;
      }
      const value = s.slice(valueStart, valueEnd);
      headers[2 * i] = s.slice(nameStart, nameEnd);
      headers[2 * i + 1] = value;

      // Only the fields that decide framing, routing and connection reuse are interpreted here.
      switch (nameEnd - nameStart) {
        case 4:
          if (!equalsLower(s, nameStart, 'host')) break;
          if (hasHost) return this.failDuplicate('Host');
          if (!validHost(value)) {
            this.fail('ERR_HTTP_BAD_HOST', 'client sent invalid host header');
            return false;
          }
          hasHost = true;
          host = value;
          break;
        case 6:
          if (!equalsLower(s, nameStart, 'expect')) break;
          if (expect) return this.failDuplicate('Expect');
          expect = true;
          expectContinue = value.length === 12 && equalsLower(value, 0, '100-continue');
          break;
        case 7:
          if (equalsLower(s, nameStart, 'upgrade') && value.length > 0) hasUpgrade = true;
          break;
        case 10:
          if (equalsLower(s, nameStart, 'connection')) connection |= connectionTokens(value);
          break;
        case 14:
          if (!equalsLower(s, nameStart, 'content-length')) break;
          if (contentLengthAt >= 0) return this.failDuplicate('Content-Length');
          contentLengthAt = valueStart;
          contentLengthEnd = valueEnd;
          break;
        case 17:
          if (!equalsLower(s, nameStart, 'transfer-encoding')) break;
          if (transferEncoding !== null) return this.failDuplicate('Transfer-Encoding');
          transferEncoding = value;
          break;
      }
    }

    if (versionMinor === 1 && !hasHost) {
      this.fail('ERR_HTTP_MISSING_HOST', 'client sent HTTP/1.1 request without "Host" header');
      return false;
    }
    let contentLength = -1;
    if (contentLengthAt >= 0) {
      contentLength = parseContentLength(s, contentLengthAt, contentLengthEnd);
      if (contentLength < 0) {
        this.fail('ERR_HTTP_BAD_CONTENT_LENGTH', 'client sent invalid "Content-Length" header');
        return false;
      }
    }
    let chunked = false;
    if (transferEncoding !== null) {
      // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
      if (versionMinor === 0) {
        this.fail('ERR_HTTP_TRANSFER_ENCODING_HTTP10', 'client sent HTTP/1.0 request with "Transfer-Encoding" header');
        return false;
      }
      if (transferEncoding.length !== 7 || !equalsLower(transferEncoding, 0, 'chunked')) {
        this.fail('ERR_HTTP_UNKNOWN_TRANSFER_ENCODING', 'client sent unknown "Transfer-Encoding"');
        return false;
      }
      // RFC 9112 §6.1: both framings at once is the classic request smuggling setup.
      if (contentLengthAt >= 0) {
        this.fail('ERR_HTTP_CONTENT_LENGTH_AND_CHUNKED', 'client sent "Content-Length" and "Transfer-Encoding" headers at the same time');
        return false;
      }
      chunked = true;
    }

    const keepAlive =
      (connection & CONNECTION_CLOSE) === 0 && (versionMinor === 1 || (connection & CONNECTION_KEEP_ALIVE) !== 0);
    const head: RequestHead = {
      method,
      target,
      versionMinor,
      headers,
      contentLength,
      chunked,
      keepAlive,
      expectContinue: expectContinue && versionMinor === 1,
      upgrade: hasUpgrade && versionMinor === 1 && (connection & CONNECTION_UPGRADE) !== 0,
      host,
    };

    if (chunked) {
      this.phase = Phase.Chunked;
      this.cstate = ChunkState.SizeFirst;
      this.handlers.onHead(head);
    } else if (contentLength > 0) {
      this.phase = Phase.Body;
      this.remaining = contentLength;
      this.handlers.onHead(head);
    } else {
      // RFC 9112 §6.3: a request with neither Content-Length nor chunked has no content.
      this.phase = Phase.Idle;
      this.handlers.onHead(head);
      this.handlers.onComplete();
    }
    return true;
  }

  private failDuplicate(name: string): false {
    this.fail('ERR_HTTP_DUPLICATE_HEADER', 'client sent duplicate header line: "' + name + '"');
    return false;
  }

  // -------------------------------------------------------------------------------------------
  // Chunked body (RFC 9112 §7.1, framed like ngx_http_parse_chunked)

  /** Decodes chunked framing from `p`; returns the position it stopped at (just past the message
   *  if it completed), or -1 on error. */
  private parseChunked(data: Buffer, p: number, end: number): number {
    let state = this.cstate;
    while (p < end) {
      switch (state) {
        case ChunkState.SizeFirst: {
          const digit = HEX_VALUE[data[p]];
          if (digit < 0) return this.fail('ERR_HTTP_BAD_CHUNK', 'client sent invalid chunk size');
          this.remaining = digit;
          this.chunkLineBytes = 1;
          p++;
          state = ChunkState.Size;
          break;
        }
        case ChunkState.Size: {
          let size = this.remaining;
          const from = p;
          let digit = 0;
          while (p < end && (digit = HEX_VALUE[data[p]]) >= 0) {
            if (size > MAX_CHUNK_SIZE_BEFORE_DIGIT) return this.fail('ERR_HTTP_BAD_CHUNK', 'client sent too large chunk size');
            size = size * 16 + digit;
            p++;
          }
          this.remaining = size;
          this.chunkLineBytes += p - from;
          if (this.chunkLineBytes > MAX_CHUNK_LINE_BYTES) return this.fail('ERR_HTTP_BAD_CHUNK', 'client sent too long chunk size line');
          if (p === end) break;
          const c = data[p];
          p++;
          this.chunkLineBytes++;
          if (c === CR) {
            state = ChunkState.SizeLF;
          } else if (c === SEMICOLON || c === SP || c === HTAB) {
            // Chunk extensions carry nothing tsgi uses; nginx skips them the same way.
            state = ChunkState.Extension;
          } else {
            return this.fail('ERR_HTTP_BAD_CHUNK', 'client sent invalid chunk size');
          }
          break;
        }
        case ChunkState.Extension: {
          const from = p;
          let c = 0;
          while (p < end) {
            c = data[p];
            if (c === CR || c === LF) break;
            p++;
          }
          this.chunkLineBytes += p - from;
          if (this.chunkLineBytes > MAX_CHUNK_LINE_BYTES) return this.fail('ERR_HTTP_BAD_CHUNK', 'client sent too long chunk extension');
          if (p === end) break;
          // nginx sw_chunk_extension: a bare LF ends nothing inside chunked framing.
          if (c === LF) return this.fail('ERR_HTTP_BAD_CHUNK', 'client sent LF without CR in chunked body');
          p++;
          state = ChunkState.SizeLF;
          break;
        }
        case ChunkState.SizeLF:
          if (data[p] !== LF) return this.fail('ERR_HTTP_BAD_CHUNK', 'client sent CR without LF in chunked body');
          p++;
          if (this.remaining === 0) {
            state = ChunkState.TrailerStart;
            this.trailerBytes = 0;
            this.trailerCount = 0;
          } else {
            state = ChunkState.Data;
          }
          break;
        case ChunkState.Data: {
          const remaining = this.remaining;
          const available = end - p;
          const n = available < remaining ? available : remaining;
          this.remaining = remaining - n;
          const from = p;
          p += n;
          if (n === remaining) state = ChunkState.DataCR;
          // State first: a throwing handler must leave the parser consistent.
          this.cstate = state;
          this.handlers.onBody(data.subarray(from, p));
          break;
        }
        case ChunkState.DataCR:
          if (data[p] !== CR) return this.fail('ERR_HTTP_BAD_CHUNK', 'client sent chunk data longer than its size');
          p++;
          state = ChunkState.DataLF;
          break;
        case ChunkState.DataLF:
          if (data[p] !== LF) return this.fail('ERR_HTTP_BAD_CHUNK', 'client sent CR without LF in chunked body');
          p++;
          state = ChunkState.SizeFirst;
          break;
        case ChunkState.TrailerStart: {
          // Trailer fields are read and dropped (nginx does the same without keep_trailers), but
          // still checked like header lines so nothing odd hides behind the last chunk.
          const c = data[p];
          if (c === CR) {
            p++;
            this.trailerBytes++;
            state = ChunkState.EndLF;
            break;
          }
          if (TCHAR[c] !== 1) return this.fail('ERR_HTTP_BAD_CHUNK', 'client sent invalid trailer line');
          if (this.trailerCount === this.maxHeaderCount) return this.fail('ERR_HTTP_TOO_MANY_HEADERS', 'client sent too many trailer lines');
          this.trailerCount++;
          state = ChunkState.TrailerName;
          break;
        }
        case ChunkState.TrailerName: {
          const from = p;
          while (p < end && TCHAR[data[p]] === 1) p++;
          if (this.addTrailerBytes(p - from)) return -1;
          if (p === end) break;
          if (data[p] !== COLON) return this.fail('ERR_HTTP_BAD_CHUNK', 'client sent invalid trailer line');
          p++;
          state = ChunkState.TrailerValue;
          break;
        }
        case ChunkState.TrailerValue: {
          const from = p;
          let c = 0;
          while (p < end) {
            c = data[p];
            if (c > LAST_CTL ? c === DEL : c !== HTAB) break;
            p++;
          }
          if (this.addTrailerBytes(p - from)) return -1;
          if (p === end) break;
          if (c !== CR) return this.fail('ERR_HTTP_BAD_CHUNK', 'client sent invalid trailer line');
          p++;
          state = ChunkState.TrailerLF;
          break;
        }
        case ChunkState.TrailerLF:
          if (data[p] !== LF) return this.fail('ERR_HTTP_BAD_CHUNK', 'client sent CR without LF in trailer');
          p++;
          if (this.addTrailerBytes(2)) return -1;
          state = ChunkState.TrailerStart;
          break;
        case ChunkState.EndLF:
          if (data[p] !== LF) return this.fail('ERR_HTTP_BAD_CHUNK', 'client sent CR without LF at the end of chunked body');
          p++;
          this.cstate = ChunkState.SizeFirst;
          this.phase = Phase.Idle;
          this.handlers.onComplete();
          return p;
      }
    }
    this.cstate = state;
    return p;
  }

  /** Counts trailer bytes against maxHeaderBytes; true when the limit is passed (and failed). */
  private addTrailerBytes(n: number): boolean {
    this.trailerBytes += n;
    if (this.trailerBytes <= this.maxHeaderBytes) return false;
    this.fail('ERR_HTTP_HEADER_TOO_LARGE', 'client sent too large trailer');
    return true;
  }

  private growFields(): Int32Array {
    const grown = new Int32Array(Math.min(this.maxHeaderCount, (this.fields.length / FIELD_SLOT) * 2) * FIELD_SLOT);
    grown.set(this.fields);
    this.fields = grown;
    return grown;
  }

  private failLineTooLong(): number {
    return this.fail('ERR_HTTP_REQUEST_LINE_TOO_LONG', 'client sent too long URI');
  }

  private fail(code: Http1ErrorCode, message: string): number {
    this.failure = new HttpParseError(code, message);
    this.phase = Phase.Failed;
    this.pending = null;
    this.pendingLength = 0;
    return -1;
  }
}

/** A limit from the caller, or the default when it is missing or not a positive integer. */
function limit(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isSafeInteger(value) && value > 0 ? value : fallback;
}

// ---------------------------------------------------------------------------------------------
// Field helpers

/** Connection tokens that matter here (RFC 9110 §7.6.1), as bits. */
const CONNECTION_CLOSE = 1;
const CONNECTION_KEEP_ALIVE = 2;
const CONNECTION_UPGRADE = 4;

/** Buffer.prototype.latin1Slice: what `toString('latin1', a, b)` ends up calling, without the
 *  encoding lookup. Not in @types/node, so it is looked up once and checked. */
const nativeLatin1Slice: unknown = Reflect.get(Buffer.prototype, 'latin1Slice');
const decodeLatin1: (buf: Buffer, start: number, end: number) => string =
  typeof nativeLatin1Slice === 'function'
    ? (buf, start, end) => Reflect.apply(nativeLatin1Slice, buf, [start, end])
    : (buf, start, end) => buf.toString('latin1', start, end);

/** The method, with the common ones as shared constants rather than fresh slices. */
function methodName(s: string, end: number): string {
  if (end === 3 && s.startsWith('GET')) return 'GET';
  if (end === 4 && s.startsWith('POST')) return 'POST';
  return s.slice(0, end);
}

/** True when s[at, at + lower.length) equals `lower` ignoring ASCII case. `lower` holds only
 *  lower-case letters, digits and '-', which the case bit leaves alone. */
function equalsLower(s: string, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((s.charCodeAt(at + i) | CASE_BIT) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** The tokens of one Connection value ("keep-alive, Upgrade"), as CONNECTION_* bits.
 *  nginx looks for the substrings "close" / "keep-alive"; whole tokens are what RFC 9110 says. */
function connectionTokens(value: string): number {
  let bits = 0;
  let i = 0;
  const n = value.length;
  while (i < n) {
    let c = value.charCodeAt(i);
    if (c === COMMA || c === SP || c === HTAB) {
      i++;
      continue;
    }
    const start = i;
    while (i < n) {
      c = value.charCodeAt(i);
      if (c === COMMA || c === SP || c === HTAB) break;
      i++;
    }
    const length = i - start;
    if (length === 5 && equalsLower(value, start, 'close')) bits |= CONNECTION_CLOSE;
    else if (length === 10 && equalsLower(value, start, 'keep-alive')) bits |= CONNECTION_KEEP_ALIVE;
    else if (length === 7 && equalsLower(value, start, 'upgrade')) bits |= CONNECTION_UPGRADE;
  }
  return bits;
}

/** Content-Length = 1*DIGIT (RFC 9112 §6.2); -1 if it is anything else or above 2^53 - 1.
 *  ngx_atoof takes the same: no sign, no spaces, no list. */
function parseContentLength(s: string, start: number, end: number): number {
  if (start === end) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < DIGIT_0 || c > DIGIT_9) return -1;
    n = n * 10 + (c - DIGIT_0);
  }
  return n > Number.MAX_SAFE_INTEGER ? -1 : n;
}

/** ngx_http_validate_host: no "..", no '/', no SP or CTL, and something before the port or the
 *  trailing dot. */
function validHost(host: string): boolean {
  const n = host.length;
  let hostLength = n;
  let dotAt = -2;
  let literal = false;
  let rest = false;
  for (let i = 0; i < n; i++) {
    const c = host.charCodeAt(i);
    if (c === DOT) {
      if (dotAt === i - 1) return false;
      dotAt = i;
    } else if (c === COLON) {
      if (!rest && !literal) {
        hostLength = i;
        rest = true;
      }
    } else if (c === OPEN_BRACKET) {
      if (i === 0) literal = true;
    } else if (c === CLOSE_BRACKET) {
      if (literal && !rest) {
        hostLength = i + 1;
        rest = true;
      }
    } else if (c === SLASH || c === BACKSLASH) {
      // A path separator in Host would let it walk out of a `root $host` directory. nginx
      // refuses '\\' only on Windows; tsgi refuses it everywhere.
      return false;
    } else if (c <= SP || c === DEL) {
      // nginx >= 1.21.1: "spaces or control characters in the Host request header line".
      return false;
    }
  }
  if (dotAt === hostLength - 1) hostLength--;
  return hostLength > 0;
}

/**
 * The request-target forms of RFC 9112 §3.2: origin-form ('/...') for every method but CONNECT,
 * absolute-form ('scheme://authority...'), authority-form ('host:port') only with CONNECT, and
 * asterisk-form ('*') only with OPTIONS.
 */
function validTargetForm(s: string, start: number, end: number, method: string): boolean {
  const first = s.charCodeAt(start);
  if (method === 'CONNECT') return validAuthorityForm(s, start, end);
  if (first === SLASH) return true;
  if (first === ASTERISK) return end - start === 1 && method === 'OPTIONS';
  // absolute-form: a scheme, "://", and a non-empty authority (RFC 9110 §4.2.1 refuses an
  // http URI with an empty host).
  if (((first | CASE_BIT) < LOWER_A) || ((first | CASE_BIT) > LOWER_Z)) return false;
  let i = start + 1;
  while (i < end && SCHEME_CHAR[s.charCodeAt(i)] === 1) i++;
  if (end - i < 4 || s.charCodeAt(i) !== COLON || s.charCodeAt(i + 1) !== SLASH || s.charCodeAt(i + 2) !== SLASH) {
    return false;
  }
  const authority = s.charCodeAt(i + 3);
  return authority !== SLASH && authority !== QUESTION && authority !== HASH;
}

/** authority-form = uri-host ":" port (RFC 9112 §3.2.3), no userinfo, path, query or fragment. */
function validAuthorityForm(s: string, start: number, end: number): boolean {
  const colon = s.lastIndexOf(':', end - 1);
  if (colon <= start || colon === end - 1) return false;
  for (let i = colon + 1; i < end; i++) {
    if (IS_DIGIT[s.charCodeAt(i)] !== 1) return false;
  }
  for (let i = start; i < colon; i++) {
    const c = s.charCodeAt(i);
    if (c === SLASH || c === QUESTION || c === HASH || c === AT) return false;
  }
  // An IP literal is bracketed; an unbracketed host has no colon of its own.
  if (s.charCodeAt(start) === OPEN_BRACKET) return s.charCodeAt(colon - 1) === CLOSE_BRACKET;
  return s.indexOf(':', start) === colon;
}

// ---------------------------------------------------------------------------------------------
// Response side

const LATIN1 = 'latin1';

/** The chunk-size line for a chunk of `length` bytes: `${hex}\r\n`. A zero length would end the
 *  body early, so it is refused: send LAST_CHUNK for that. */
export function chunkHeader(length: number): Buffer {
  if (!Number.isSafeInteger(length) || length <= 0) {
    throw new RangeError('chunk length must be a positive integer, got ' + String(length));
  }
  return Buffer.from(length.toString(16) + '\r\n', LATIN1);
}

/** The CRLF after each chunk's data. Shared: do not write into it. */
export const CHUNK_TRAILER: Buffer = Buffer.from('\r\n', LATIN1);

/** The last chunk with an empty trailer section. Shared: do not write into it. */
export const LAST_CHUNK: Buffer = Buffer.from('0\r\n\r\n', LATIN1);

/** Reason phrases of the IANA HTTP status code registry (RFC 9110 §15 and later RFCs). */
const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Continue',
  101: 'Switching Protocols',
  102: 'Processing',
  103: 'Early Hints',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  203: 'Non-Authoritative Information',
  204: 'No Content',
  205: 'Reset Content',
  206: 'Partial Content',
  207: 'Multi-Status',
  208: 'Already Reported',
  226: 'IM Used',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  305: 'Use Proxy',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  418: "I'm a Teapot",
  421: 'Misdirected Request',
  422: 'Unprocessable Content',
  423: 'Locked',
  424: 'Failed Dependency',
  425: 'Too Early',
  426: 'Upgrade Required',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
  506: 'Variant Also Negotiates',
  507: 'Insufficient Storage',
  508: 'Loop Detected',
  510: 'Not Extended',
  511: 'Network Authentication Required',
};

/** The standard reason phrase for `status` ('OK', 'Not Found', ...), '' for unknown codes. */
export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? '';
}

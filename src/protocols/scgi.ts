/**
 * SCGI request codec: bytes in, request vars and body chunks out, and the encoder for the
 * `scgi_pass` role. Pure: no sockets, no timers. The response on an SCGI connection is a CGI
 * response (headers with an optional `Status:`, body until close): `cgi-response.ts` decodes it.
 *
 * Wire format ("SCGI: A Simple Common Gateway Interface alternative", Neil Schemenauer, §3):
 *
 *   LEN ":" { NAME NUL VALUE NUL }* ","  body
 *
 * The headers are a netstring (D. J. Bernstein): LEN is the decimal length of the NAME/VALUE
 * block, without leading zeros. Names are one or more non-NUL bytes, values zero or more. The spec
 * requires: the first header is CONTENT_LENGTH, a non-empty run of ASCII digits (present even when
 * it is "0"); a header SCGI with the value "1"; no name twice. The body is CONTENT_LENGTH bytes.
 *
 * Contract (same as http1.ts and uwsgi.ts): `execute(bytes, offset)` returns how many bytes it
 * consumed and stops right after a complete request; errors are values (returns -1, `error`
 * holds an `ScgiError`). Body bytes are subarrays of the input; the header block is copied only
 * when it straddles inputs.
 *
 * The decoder is as strict as the spec, where uWSGI's SCGI parser (proto/scgi.c, scgi_parse) is
 * lenient: uWSGI takes a length with any digits, never checks CONTENT_LENGTH's place nor SCGI, and
 * keeps duplicates. A request that breaks the spec is refused here rather than guessed at:
 *
 *   ERR_SCGI_BAD_NETSTRING        the length is empty, has a leading zero or a non-digit before
 *                                 ':', or the block is not followed by ','.
 *   ERR_SCGI_HEADER_TOO_BIG       the length is over `maxHeaderSize` (default 4096: uWSGI reads
 *                                 SCGI headers into its --buffer-size and logs "invalid SCGI
 *                                 request size (max %u)...skip").
 *   ERR_SCGI_BAD_HEADERS          an empty name, a name without a value, a duplicate name
 *                                 (except HTTP_* names: nginx < 1.23 repeats those).
 *   ERR_SCGI_MISSING_CONTENT_LENGTH  the first header is not CONTENT_LENGTH.
 *   ERR_SCGI_BAD_CONTENT_LENGTH   CONTENT_LENGTH empty or not plain digits.
 *   ERR_SCGI_BAD_VERSION          no SCGI header, or a value other than "1".
 *   ERR_SCGI_TRUNCATED            EOF (finish()) inside a request.
 *   ERR_SCGI_BAD_VAR              encoder only: a var it cannot encode (see encodeScgiRequest).
 *
 * What nginx sends (src/http/modules/ngx_http_scgi_module.c, ngx_http_scgi_create_request):
 * "LEN:CONTENT_LENGTH\0<body length>\0" first, always, computed from the buffered body, then the
 * `scgi_param`s in order, then the request headers as HTTP_*; it does not add SCGI itself: the
 * stock conf/scgi_params has `scgi_param SCGI 1;`.
 */
import { TsgiError } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// Constants

/** uWSGI reads SCGI headers into its --buffer-size (default 4096). */
export const DEFAULT_SCGI_MAX_HEADER_SIZE = 4096;

const NUL = 0x00;
const SP = 0x20;
const DEL = 0x7f;
const COMMA = 0x2c;
const COLON = 0x3a;
const DIGIT_0 = 0x30;
const DIGIT_1 = 0x31;
const DIGIT_9 = 0x39;
const CONTENT_LENGTH = 'CONTENT_LENGTH';
const SCGI = 'SCGI';
const SCGI_VERSION = '1';
const LATIN1 = 'latin1';
/** No netstring length needs more digits than this: even 2^53 has 16. */
const MAX_LENGTH_DIGITS = 16;

// ---------------------------------------------------------------------------------------------
// Errors

export type ScgiErrorCode =
  | 'ERR_SCGI_BAD_NETSTRING'
  | 'ERR_SCGI_HEADER_TOO_BIG'
  | 'ERR_SCGI_BAD_HEADERS'
  | 'ERR_SCGI_MISSING_CONTENT_LENGTH'
  | 'ERR_SCGI_BAD_CONTENT_LENGTH'
  | 'ERR_SCGI_BAD_VERSION'
  | 'ERR_SCGI_TRUNCATED'
  | 'ERR_SCGI_BAD_VAR';

/** An SCGI request the codec refuses (decoder) or cannot build (encoder). */
export class ScgiError extends TsgiError {
  override readonly code: ScgiErrorCode;
  constructor(code: ScgiErrorCode, message: string) {
    super(code, message);
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------
// Public types

export interface ScgiRequest {
  /** Flat [name, value, ...] in request order, CONTENT_LENGTH and SCGI included, latin1. */
  vars: string[];
  /** The body length (CONTENT_LENGTH). */
  contentLength: number;
}

export interface ScgiRequestHandlers {
  onRequest(request: ScgiRequest): void;
  /** A subarray of the input (no copy); may be called many times; never empty. */
  onBody(chunk: Buffer): void;
  /** The request and its body are complete. */
  onComplete(): void;
}

export interface ScgiDecoderOptions {
  /** Largest header block (the netstring's length) accepted. Default 4096. */
  maxHeaderSize?: number;
}

/** Vars as a flat [name, value, ...] array or as [name, value] pairs (a Map works too). */
export type ScgiVars = readonly string[] | Iterable<readonly [string, string]>;

// ---------------------------------------------------------------------------------------------
// Decoder

/** Request headers as nginx forwards them; repeated ones arrive as repeated names. */
const HTTP_PREFIX = 'HTTP_';

const enum Phase {
  /** Between requests: nothing of the next one seen yet. */
  Idle,
  /** The decimal length before ':'. */
  Length,
  /** The header block and the ',' after it. */
  Headers,
  Body,
  Failed,
}

export class ScgiRequestDecoder {
  private readonly handlers: ScgiRequestHandlers;
  private readonly maxHeaderSize: number;

  private phase: Phase = Phase.Idle;
  private failure: ScgiError | null = null;

  private length = 0;
  private lengthDigits = 0;
  /** The header block plus its ',' when they straddle inputs. */
  private block: Buffer | null = null;
  private blockLength = 0;
  private remaining = 0;

  constructor(handlers: ScgiRequestHandlers, options?: ScgiDecoderOptions) {
    this.handlers = handlers;
    const size = options?.maxHeaderSize;
    if (size === undefined) {
      this.maxHeaderSize = DEFAULT_SCGI_MAX_HEADER_SIZE;
    } else if (Number.isSafeInteger(size) && size > 0) {
      this.maxHeaderSize = size;
    } else {
      throw new RangeError(`SCGI maxHeaderSize must be a positive integer, got ${String(size)}`);
    }
  }

  /** The error that stopped the decoder, or null. */
  get error(): ScgiError | null {
    return this.failure;
  }

  /** True between requests: the connection may be closed without losing a request. */
  get idle(): boolean {
    return this.phase === Phase.Idle;
  }

  /**
   * Feed bytes from `offset`. Returns the number consumed; a request that completed ends at
   * `offset + n` and the decoder is idle again. Returns -1 on a protocol error (see `error`).
   * Every call with bytes to read consumes at least one of them or fails.
   */
  execute(data: Buffer, offset = 0): number {
    if (this.phase === Phase.Failed) return -1;
    const end = data.length;
    let p = offset;
    if (p >= end) return 0;

    if (this.phase === Phase.Idle) {
      this.phase = Phase.Length;
      this.length = 0;
      this.lengthDigits = 0;
    }

    if (this.phase === Phase.Length) {
      for (;;) {
        if (p === end) return end - offset;
        const c = data[p++];
        if (c === COLON) break;
        // Netstrings forbid leading zeros, and an empty header block cannot hold CONTENT_LENGTH.
        const first = this.lengthDigits === 0;
        if (c < (first ? DIGIT_1 : DIGIT_0) || c > DIGIT_9 || this.lengthDigits === MAX_LENGTH_DIGITS) {
          return this.fail('ERR_SCGI_BAD_NETSTRING', `invalid SCGI netstring length: unexpected ${describeByte(c)}${first ? ' at the start' : ''}`);
        }
        this.length = this.length * 10 + (c - DIGIT_0);
        this.lengthDigits++;
        if (this.length > this.maxHeaderSize) {
          return this.fail('ERR_SCGI_HEADER_TOO_BIG', `invalid SCGI request size: header block of ${this.length}+ bytes (max ${this.maxHeaderSize})`);
        }
      }
      if (this.lengthDigits === 0) return this.fail('ERR_SCGI_BAD_NETSTRING', 'invalid SCGI netstring length: empty');
      this.phase = Phase.Headers;
      this.blockLength = 0;
    }

    if (this.phase === Phase.Headers) {
      // The block and its terminating ',' are read as one unit.
      const size = this.length + 1;
      let ok: boolean;
      if (this.blockLength === 0 && end - p >= size) {
        ok = this.readHeaders(data, p, p + this.length);
        p += size;
      } else {
        let block = this.block;
        if (block === null || block.length < size) this.block = block = Buffer.allocUnsafe(Math.max(size, this.maxHeaderSize + 1));
        const n = Math.min(size - this.blockLength, end - p);
        data.copy(block, this.blockLength, p, p + n);
        this.blockLength += n;
        p += n;
        if (this.blockLength < size) return end - offset;
        ok = this.readHeaders(block, 0, this.length);
      }
      if (!ok) return -1;
      if (this.remaining === 0) {
        this.phase = Phase.Idle;
        this.handlers.onComplete();
        return p - offset;
      }
      this.phase = Phase.Body;
    }

    // Phase.Body.
    if (p === end) return end - offset;
    const available = end - p;
    const remaining = this.remaining;
    if (available < remaining) {
      this.remaining = remaining - available;
      this.handlers.onBody(p === 0 ? data : data.subarray(p, end));
      return end - offset;
    }
    // State first: a throwing handler must leave the decoder consistent.
    this.remaining = 0;
    this.phase = Phase.Idle;
    this.handlers.onBody(data.subarray(p, p + remaining));
    this.handlers.onComplete();
    return p + remaining - offset;
  }

  /** The connection hit EOF. Returns an error if a request was in progress (truncated), else null. */
  finish(): ScgiError | null {
    if (this.failure !== null) return this.failure;
    switch (this.phase) {
      case Phase.Idle:
        return null;
      case Phase.Length:
        this.fail('ERR_SCGI_TRUNCATED', 'SCGI request truncated in the netstring length');
        break;
      case Phase.Headers:
        this.fail('ERR_SCGI_TRUNCATED', `SCGI request truncated: ${this.blockLength} of ${this.length + 1} header bytes`);
        break;
      default:
        this.fail('ERR_SCGI_TRUNCATED', `SCGI request body truncated: ${this.remaining} bytes missing`);
        break;
    }
    return this.failure;
  }

  /**
   * Parses the header block buf[start, end); the byte at `end` must be the netstring's ','.
   * Emits the request; false when it failed.
   */
  private readHeaders(buf: Buffer, start: number, end: number): boolean {
    if (buf[end] !== COMMA) {
      this.fail('ERR_SCGI_BAD_NETSTRING', `invalid SCGI netstring: expected ',' after the ${end - start}-byte header block, got ${describeByte(buf[end])}`);
      return false;
    }
    // One latin1 decode, then slices (byte offsets are string offsets in latin1).
    const text = buf.toString(LATIN1, start, end);
    const vars: string[] = [];
    const seen = new Set<string>();
    let scgi: string | undefined;
    let p = 0;
    const n = text.length;
    while (p < n) {
      const nameEnd = buf.indexOf(NUL, start + p) - start;
      if (nameEnd < 0 || nameEnd >= n) return this.failHeaders(`SCGI header name at offset ${p} has no value`);
      if (nameEnd === p) return this.failHeaders(`empty SCGI header name at offset ${p}`);
      const valueEnd = buf.indexOf(NUL, start + nameEnd + 1) - start;
      const name = text.slice(p, nameEnd);
      if (valueEnd < 0 || valueEnd >= n) return this.failHeaders(`SCGI header ${JSON.stringify(name)} has no NUL after its value`);
      const value = text.slice(nameEnd + 1, valueEnd);
      // nginx before 1.23 sends a repeated request header as two HTTP_* headers: those are kept
      // (the environ builder joins them); any other duplicate is refused.
      if (seen.has(name) && !name.startsWith(HTTP_PREFIX)) return this.failHeaders(`duplicate SCGI header ${JSON.stringify(name)}`);
      seen.add(name);
      if (vars.length === 0 && name !== CONTENT_LENGTH) {
        this.fail('ERR_SCGI_MISSING_CONTENT_LENGTH', `the first SCGI header must be CONTENT_LENGTH, got ${JSON.stringify(name)}`);
        return false;
      }
      if (name === SCGI) scgi = value;
      vars.push(name, value);
      p = valueEnd + 1;
    }
    if (vars.length === 0) {
      this.fail('ERR_SCGI_MISSING_CONTENT_LENGTH', 'the SCGI header block has no CONTENT_LENGTH');
      return false;
    }
    const contentLength = parseContentLength(vars[1]);
    if (contentLength < 0) {
      this.fail('ERR_SCGI_BAD_CONTENT_LENGTH', `invalid SCGI CONTENT_LENGTH ${JSON.stringify(vars[1])}: must be decimal digits`);
      return false;
    }
    if (scgi !== SCGI_VERSION) {
      const got = scgi === undefined ? 'no SCGI header' : `SCGI ${JSON.stringify(scgi)}`;
      this.fail('ERR_SCGI_BAD_VERSION', `unsupported SCGI request: ${got}, expected SCGI "1"`);
      return false;
    }
    this.remaining = contentLength;
    this.handlers.onRequest({ vars, contentLength });
    return true;
  }

  private failHeaders(message: string): false {
    this.fail('ERR_SCGI_BAD_HEADERS', message);
    return false;
  }

  private fail(code: ScgiErrorCode, message: string): number {
    this.failure = new ScgiError(code, message);
    this.phase = Phase.Failed;
    this.block = null;
    return -1;
  }
}

/** A byte for an error message: the character when printable, else its hex value. */
function describeByte(c: number): string {
  const printable = c > SP && c < DEL;
  return printable ? JSON.stringify(String.fromCharCode(c)) : `byte 0x${c.toString(16).padStart(2, '0')}`;
}

/** The spec's CONTENT_LENGTH: a non-empty run of ASCII digits; -1 for anything else. */
function parseContentLength(value: string): number {
  if (value.length === 0) return -1;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < DIGIT_0 || c > DIGIT_9) return -1;
    n = n * 10 + (c - DIGIT_0);
  }
  return n > Number.MAX_SAFE_INTEGER ? -1 : n;
}

// ---------------------------------------------------------------------------------------------
// Encoder

/** A string latin1 cannot carry byte for byte, or one holding the NUL that ends SCGI strings. */
const NOT_SCGI_TEXT = /[^\u0001-\u00ff]/;

/**
 * One SCGI request head: the netstring header block (the body is sent after it, unframed).
 * CONTENT_LENGTH goes first: `contentLength` when given, else the CONTENT_LENGTH found in `vars`
 * ('' or missing = "0"); SCGI=1 goes second; the other vars follow in order (any CONTENT_LENGTH or
 * SCGI in `vars` is replaced, not repeated). Throws `ScgiError` ERR_SCGI_BAD_VAR for an empty
 * name, a NUL or a character above U+00FF in a name or value, a duplicate name, or a
 * CONTENT_LENGTH that is not decimal digits.
 */
export function encodeScgiRequest(vars: ScgiVars, contentLength?: number): Buffer {
  const flat = flatVars(vars);
  let length = contentLength === undefined ? '0' : String(contentLength);
  if (contentLength !== undefined && (!Number.isSafeInteger(contentLength) || contentLength < 0)) {
    throw new ScgiError('ERR_SCGI_BAD_VAR', `SCGI content length must be a non-negative integer, got ${String(contentLength)}`);
  }
  const seen = new Set<string>();
  const rest: string[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i];
    const value = flat[i + 1];
    if (name.length === 0) throw new ScgiError('ERR_SCGI_BAD_VAR', 'SCGI header name cannot be empty');
    if (NOT_SCGI_TEXT.test(name) || (value.length > 0 && NOT_SCGI_TEXT.test(value))) {
      throw new ScgiError('ERR_SCGI_BAD_VAR', `SCGI header ${JSON.stringify(name)} has a NUL or a character above U+00FF`);
    }
    if (seen.has(name)) throw new ScgiError('ERR_SCGI_BAD_VAR', `duplicate SCGI header ${JSON.stringify(name)}`);
    seen.add(name);
    if (name === CONTENT_LENGTH) {
      if (contentLength === undefined && value.length > 0) {
        if (parseContentLength(value) < 0) {
          throw new ScgiError('ERR_SCGI_BAD_VAR', `invalid SCGI CONTENT_LENGTH ${JSON.stringify(value)}: must be decimal digits`);
        }
        length = value;
      }
    } else if (name !== SCGI) {
      rest.push(name, value);
    }
  }
  let block = `${CONTENT_LENGTH}\0${length}\0${SCGI}\0${SCGI_VERSION}\0`;
  for (let i = 0; i < rest.length; i += 2) block += `${rest[i]}\0${rest[i + 1]}\0`;
  return Buffer.from(`${block.length}:${block},`, LATIN1);
}

function isFlat(vars: ScgiVars): vars is readonly string[] {
  return Array.isArray(vars) && (vars.length === 0 || typeof vars[0] === 'string');
}

function flatVars(vars: ScgiVars): readonly string[] {
  if (isFlat(vars)) {
    if (vars.length % 2 !== 0) throw new ScgiError('ERR_SCGI_BAD_VAR', 'a flat SCGI vars array needs an even length');
    return vars;
  }
  const flat: string[] = [];
  for (const [name, value] of vars) flat.push(name, value);
  return flat;
}

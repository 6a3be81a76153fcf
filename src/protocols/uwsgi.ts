/**
 * uwsgi protocol codec: bytes in, request vars and body chunks out, and the encoder nginx's
 * `uwsgi_pass` role needs. Pure: no sockets, no timers. The app server decodes what nginx (or
 * `tsgi web`) sends; the web server encodes it. The response on a uwsgi connection is a raw HTTP
 * response (status line, headers, body until close): `cgi-response.ts` decodes it.
 *
 * Wire format (uWSGI `struct uwsgi_header`, the uwsgi protocol page of the uWSGI docs):
 *
 *   modifier1:u8  datasize:u16le  modifier2:u8      4-byte packet header
 *   { keylen:u16le key  vallen:u16le value }*       the vars block, exactly datasize bytes
 *   body                                            CONTENT_LENGTH bytes (absent or '' = 0)
 *
 * Contract (same as http1.ts): `execute(bytes, offset)` returns how many bytes it consumed and
 * stops right after a complete request, so the caller decides what the next bytes mean. nginx
 * sends one request per connection, but the decoder is restartable: call execute again and it
 * reads the next packet. Errors never throw: execute returns -1 and `error` holds a `UwsgiError`.
 * Body bytes are handed out as subarrays of the input; the vars block is copied only when it
 * straddles two inputs, into a buffer of at most `bufferSize` bytes that is reused.
 *
 * What uWSGI does, and so what this codec does (unbit/uwsgi sources):
 *
 *   ERR_UWSGI_BLOCK_TOO_BIG        datasize above --buffer-size (default 4096). proto/uwsgi.c,
 *                                  uwsgi_proto_uwsgi_parser, logs "invalid request block size:
 *                                  %u (max %u)...skip" and drops the connection; the message here
 *                                  starts with the same words so log searches still work.
 *                                  The encoder throws it for a vars block over 65535 bytes (nginx,
 *                                  ngx_http_uwsgi_create_request: "uwsgi request is too big").
 *   ERR_UWSGI_HTTP_ON_UWSGI_SOCKET the 4 header bytes spell the start of an HTTP request: "GET "
 *                                  reads as modifier1 71 ('G'), datasize 21573 ("ET"), modifier2
 *                                  32 (' '), which is why uWSGI logs "invalid request block size:
 *                                  21573 (max 4096)...skip" when a browser hits --socket. uWSGI
 *                                  only says that when 21573 is over --buffer-size (with a larger
 *                                  one it waits for 21573 bytes); tsgi recognises the common
 *                                  methods whatever the buffer size and says what happened.
 *   ERR_UWSGI_BAD_VARS             a key or value length that runs past the end of the block, a
 *                                  partial var at the end, or an empty key (core/protocol.c,
 *                                  uwsgi_parse_vars: "invalid uwsgi request (current strsize:
 *                                  %d). skip." and "uwsgi key cannot be null. skip this var.").
 *   ERR_UWSGI_BAD_CONTENT_LENGTH   CONTENT_LENGTH that is not '' or plain decimal digits, or two
 *                                  different CONTENT_LENGTH vars. uWSGI's get_content_length reads
 *                                  leading digits and ignores the rest ("12abc" is 12) and the last
 *                                  var wins; a framing length is not the place to guess, so tsgi
 *                                  refuses instead.
 *   ERR_UWSGI_TRUNCATED            EOF (finish()) inside a packet or its body.
 *   ERR_UWSGI_BAD_VAR              encoder only: an empty key, a character above U+00FF (vars
 *                                  travel as latin1 bytes), or an odd-length flat array.
 *
 * Not here, because they are server policy: which modifier1 values the app server serves (uWSGI
 * logs "-- unavailable modifier requested: %d --" in core/uwsgi.c, unconfigured_hook), and the
 * SCRIPT_NAME/PATH_INFO adjustment of modifier1 30, which the environ builder applies with
 * `applyModifier30` below.
 */
import { TsgiError } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// Constants

/** modifier1 0: a WSGI request (uWSGI's python plugin; tsgi routes it to the app). */
export const UWSGI_MODIFIER_WSGI = 0;
/**
 * modifier1 30 (uWSGI `UWSGI_MODIFIER_MANAGE_PATH_INFO`): a WSGI request whose PATH_INFO still
 * starts with SCRIPT_NAME, as nginx sends it when `uwsgi_modifier1 30` is set next to
 * `uwsgi_param SCRIPT_NAME /app`. The server removes SCRIPT_NAME from the front of PATH_INFO
 * before calling the app (plugins/python/wsgi_subhandler.c). See `applyModifier30`.
 */
export const UWSGI_MODIFIER_STRIP_SCRIPT_NAME = 30;

/** Bytes in the packet header: modifier1, datasize (2), modifier2. */
export const UWSGI_HEADER_SIZE = 4;
/** The largest vars block a u16 datasize can describe; also the largest key or value. */
export const UWSGI_MAX_BLOCK_SIZE = 0xffff;
/** uWSGI's default `--buffer-size`: the largest vars block it accepts. */
export const DEFAULT_UWSGI_BUFFER_SIZE = 4096;

/** Each var costs its key and value plus two u16 lengths. */
const VAR_LENGTHS_SIZE = 4;
const LENGTH_SIZE = 2;
const BITS_PER_BYTE = 8;
const BYTE_MASK = 0xff;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const CONTENT_LENGTH = 'CONTENT_LENGTH';
/** How much of an over-long key goes into an error message. */
const MAX_QUOTED_KEY = 64;
const LATIN1 = 'latin1';

/**
 * Request starts that are read as a uwsgi header when someone speaks HTTP to a uwsgi socket, as
 * little-endian u32 keys of their first 4 bytes ("GET " is the classic one; "PRI " starts the
 * HTTP/2 connection preface).
 */
const HTTP_REQUEST_STARTS: ReadonlyMap<number, string> = new Map(
  ['GET ', 'POST', 'PUT ', 'HEAD', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE', 'PRI '].map((method) => {
    const start = method.slice(0, UWSGI_HEADER_SIZE);
    return [Buffer.from(start, LATIN1).readUInt32LE(0), start];
  }),
);

// ---------------------------------------------------------------------------------------------
// Errors

export type UwsgiErrorCode =
  | 'ERR_UWSGI_BLOCK_TOO_BIG'
  | 'ERR_UWSGI_HTTP_ON_UWSGI_SOCKET'
  | 'ERR_UWSGI_BAD_VARS'
  | 'ERR_UWSGI_BAD_CONTENT_LENGTH'
  | 'ERR_UWSGI_TRUNCATED'
  | 'ERR_UWSGI_BAD_VAR';

/** A uwsgi packet the codec refuses (decoder) or cannot build (encoder). */
export class UwsgiError extends TsgiError {
  override readonly code: UwsgiErrorCode;
  constructor(code: UwsgiErrorCode, message: string) {
    super(code, message);
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------
// Public types

export interface UwsgiRequest {
  modifier1: number;
  modifier2: number;
  /** Flat [key, value, key, value, ...] in packet order, latin1-decoded (one char per byte). */
  vars: string[];
  /** Body length from CONTENT_LENGTH: 0 when it is absent or ''. */
  contentLength: number;
}

export interface UwsgiRequestHandlers {
  onRequest(request: UwsgiRequest): void;
  /** A subarray of the input (no copy); may be called many times; never empty. */
  onBody(chunk: Buffer): void;
  /** The packet and its body are complete. */
  onComplete(): void;
}

export interface UwsgiDecoderOptions {
  /** uWSGI `--buffer-size`: the largest vars block accepted, 1..65535. Default 4096. */
  bufferSize?: number;
}

/** Vars as a flat [key, value, ...] array or as [key, value] pairs (a Map works too). */
export type UwsgiVars = readonly string[] | Iterable<readonly [string, string]>;

// ---------------------------------------------------------------------------------------------
// Decoder

const enum Phase {
  /** Between packets: nothing of the next one seen yet. */
  Idle,
  Header,
  Vars,
  Body,
  Failed,
}

export class UwsgiRequestDecoder {
  private readonly handlers: UwsgiRequestHandlers;
  private readonly bufferSize: number;

  private phase: Phase = Phase.Idle;
  private failure: UwsgiError | null = null;

  /** Header bytes seen so far when the header straddles inputs. */
  private readonly header = Buffer.alloc(UWSGI_HEADER_SIZE);
  private headerLength = 0;
  private modifier1 = 0;
  private modifier2 = 0;
  private datasize = 0;
  /** The vars block when it straddles inputs; allocated once, `bufferSize` bytes. */
  private block: Buffer | null = null;
  private blockLength = 0;
  /** Body bytes still expected. */
  private remaining = 0;

  constructor(handlers: UwsgiRequestHandlers, options?: UwsgiDecoderOptions) {
    this.handlers = handlers;
    const size = options?.bufferSize;
    if (size === undefined) {
      this.bufferSize = DEFAULT_UWSGI_BUFFER_SIZE;
    } else if (Number.isSafeInteger(size) && size > 0 && size <= UWSGI_MAX_BLOCK_SIZE) {
      this.bufferSize = size;
    } else {
      // A datasize is a u16, so a larger buffer could never be used: this is a caller mistake.
      throw new RangeError(`uwsgi bufferSize must be an integer in 1..${UWSGI_MAX_BLOCK_SIZE}, got ${String(size)}`);
    }
  }

  /** The error that stopped the decoder, or null. */
  get error(): UwsgiError | null {
    return this.failure;
  }

  /** True between packets: the connection may be closed without losing a request. */
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
      this.phase = Phase.Header;
      this.headerLength = 0;
    }

    if (this.phase === Phase.Header) {
      if (this.headerLength === 0 && end - p >= UWSGI_HEADER_SIZE) {
        if (!this.readHeader(data, p)) return -1;
        p += UWSGI_HEADER_SIZE;
      } else {
        // The header straddles inputs: collect its 4 bytes first.
        const n = Math.min(UWSGI_HEADER_SIZE - this.headerLength, end - p);
        data.copy(this.header, this.headerLength, p, p + n);
        this.headerLength += n;
        p += n;
        if (this.headerLength < UWSGI_HEADER_SIZE) return end - offset;
        if (!this.readHeader(this.header, 0)) return -1;
      }
      this.phase = Phase.Vars;
      this.blockLength = 0;
    }

    if (this.phase === Phase.Vars) {
      const size = this.datasize;
      let ok: boolean;
      if (this.blockLength === 0 && end - p >= size) {
        ok = this.readVars(data, p, p + size);
        p += size;
      } else {
        let block = this.block;
        if (block === null) this.block = block = Buffer.allocUnsafe(this.bufferSize);
        const n = Math.min(size - this.blockLength, end - p);
        data.copy(block, this.blockLength, p, p + n);
        this.blockLength += n;
        p += n;
        if (this.blockLength < size) return end - offset;
        ok = this.readVars(block, 0, size);
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

  /** The connection hit EOF. Returns an error if a packet was in progress (truncated), else null. */
  finish(): UwsgiError | null {
    if (this.failure !== null) return this.failure;
    switch (this.phase) {
      case Phase.Idle:
        return null;
      case Phase.Header:
        this.fail('ERR_UWSGI_TRUNCATED', `uwsgi packet truncated: ${this.headerLength} of ${UWSGI_HEADER_SIZE} header bytes`);
        break;
      case Phase.Vars:
        this.fail('ERR_UWSGI_TRUNCATED', `uwsgi packet truncated: ${this.blockLength} of ${this.datasize} vars bytes`);
        break;
      default:
        this.fail('ERR_UWSGI_TRUNCATED', `uwsgi request body truncated: ${this.remaining} bytes missing`);
        break;
    }
    return this.failure;
  }

  /** Checks the 4 header bytes at `at`; false when it failed. */
  private readHeader(buf: Buffer, at: number): boolean {
    const modifier1 = buf[at];
    const datasize = buf[at + 1] | (buf[at + 2] << BITS_PER_BYTE);
    const modifier2 = buf[at + 3];
    const http = HTTP_REQUEST_STARTS.get(buf.readUInt32LE(at));
    if (http !== undefined) {
      const uwsgiWords =
        datasize > this.bufferSize ? `invalid request block size: ${datasize} (max ${this.bufferSize})...skip: ` : '';
      this.fail(
        'ERR_UWSGI_HTTP_ON_UWSGI_SOCKET',
        `${uwsgiWords}the client sent an HTTP request (${JSON.stringify(http)}) to a uwsgi socket; ` +
          'use an HTTP socket (--http-socket) for browsers and HTTP proxies, or uwsgi_pass in nginx',
      );
      return false;
    }
    if (datasize > this.bufferSize) {
      this.fail('ERR_UWSGI_BLOCK_TOO_BIG', `invalid request block size: ${datasize} (max ${this.bufferSize})...skip`);
      return false;
    }
    this.modifier1 = modifier1;
    this.modifier2 = modifier2;
    this.datasize = datasize;
    return true;
  }

  /** Parses the vars block buf[start, end), emits the request; false when it failed. */
  private readVars(buf: Buffer, start: number, end: number): boolean {
    // One latin1 decode for the whole block, then slices: latin1 maps byte i to char i, so byte
    // offsets are string offsets, and one native call is far cheaper than one per var.
    const text = buf.toString(LATIN1, start, end);
    const vars: string[] = [];
    let contentLength = -1;
    let p = start;
    while (p < end) {
      if (end - p < VAR_LENGTHS_SIZE) {
        return this.failVars(end - p, `${end - p} trailing bytes cannot hold a var`, end - start);
      }
      const keyLength = buf[p] | (buf[p + 1] << BITS_PER_BYTE);
      p += LENGTH_SIZE;
      if (keyLength === 0) {
        this.fail('ERR_UWSGI_BAD_VARS', `uwsgi key cannot be null. skip this var. (at offset ${p - start - LENGTH_SIZE} of the vars block)`);
        return false;
      }
      if (end - p < keyLength + LENGTH_SIZE) return this.failVars(keyLength, 'key length', end - start);
      const key = text.slice(p - start, p - start + keyLength);
      p += keyLength;
      const valueLength = buf[p] | (buf[p + 1] << BITS_PER_BYTE);
      p += LENGTH_SIZE;
      if (end - p < valueLength) return this.failVars(valueLength, 'value length', end - start);
      const value = text.slice(p - start, p - start + valueLength);
      p += valueLength;
      if (key === CONTENT_LENGTH) {
        const n = parseContentLength(value);
        if (n < 0 || (contentLength >= 0 && n !== contentLength)) {
          const why = n < 0 ? 'not a decimal number' : `a second, different CONTENT_LENGTH (first was ${contentLength})`;
          this.fail('ERR_UWSGI_BAD_CONTENT_LENGTH', `invalid CONTENT_LENGTH ${JSON.stringify(value)} in uwsgi request: ${why}`);
          return false;
        }
        contentLength = n;
      }
      vars.push(key, value);
    }
    this.remaining = contentLength > 0 ? contentLength : 0;
    this.handlers.onRequest({
      modifier1: this.modifier1,
      modifier2: this.modifier2,
      vars,
      contentLength: this.remaining,
    });
    return true;
  }

  private failVars(strsize: number, what: string, blockSize: number): false {
    this.fail(
      'ERR_UWSGI_BAD_VARS',
      `invalid uwsgi request (current strsize: ${strsize}). skip. (${what} overflows the ${blockSize}-byte vars block)`,
    );
    return false;
  }

  private fail(code: UwsgiErrorCode, message: string): number {
    this.failure = new UwsgiError(code, message);
    this.phase = Phase.Failed;
    return -1;
  }
}

/** CONTENT_LENGTH as nginx sends it ($content_length: '' or digits); -1 for anything else. */
function parseContentLength(value: string): number {
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

/** Matches a string that latin1 cannot carry byte for byte. */
const NOT_LATIN1 = /[^\u0000-\u00ff]/;

/**
 * One uwsgi request packet: header + vars block (the body is sent after it, unframed). Keys and
 * values are written as latin1, one byte per char, in the order given. Throws `UwsgiError`
 * ERR_UWSGI_BLOCK_TOO_BIG when the block passes 65535 bytes (the receiver's --buffer-size may be
 * smaller: uWSGI's default is 4096) and ERR_UWSGI_BAD_VAR for a var it cannot encode losslessly.
 */
export function encodeUwsgiRequest(vars: UwsgiVars, modifier1 = UWSGI_MODIFIER_WSGI, modifier2 = 0): Buffer {
  checkModifier('modifier1', modifier1);
  checkModifier('modifier2', modifier2);
  const flat = flatVars(vars);
  // The packet is built as one latin1 string (length fields as two chars each) and encoded with
  // one native call: several times faster than writing ~40 small strings into a Buffer.
  let block = '';
  for (let i = 0; i < flat.length; i += 2) {
    const key = flat[i];
    const value = flat[i + 1];
    if (key.length === 0) throw new UwsgiError('ERR_UWSGI_BAD_VAR', 'uwsgi var key cannot be empty');
    if (key.length > UWSGI_MAX_BLOCK_SIZE || value.length > UWSGI_MAX_BLOCK_SIZE) {
      throw new UwsgiError('ERR_UWSGI_BLOCK_TOO_BIG', `uwsgi var ${JSON.stringify(key.slice(0, MAX_QUOTED_KEY))} is longer than ${UWSGI_MAX_BLOCK_SIZE} bytes`);
    }
    block += u16Chars(key.length) + key + u16Chars(value.length) + value;
  }
  const size = block.length;
  if (size > UWSGI_MAX_BLOCK_SIZE) {
    // nginx's wording (ngx_http_uwsgi_create_request), so the two web servers log alike.
    throw new UwsgiError('ERR_UWSGI_BLOCK_TOO_BIG', `uwsgi request is too big: ${size}`);
  }
  // Length chars are <= 0xff, so only a key or value can trip this; find it for the message.
  if (NOT_LATIN1.test(block)) {
    let culprit = '';
    for (let i = 0; i < flat.length && culprit === ''; i += 2) {
      if (NOT_LATIN1.test(flat[i]) || NOT_LATIN1.test(flat[i + 1])) culprit = flat[i];
    }
    throw new UwsgiError('ERR_UWSGI_BAD_VAR', `uwsgi var ${JSON.stringify(culprit)} has a character above U+00FF (vars are latin1 bytes)`);
  }
  return Buffer.from(String.fromCharCode(modifier1) + u16Chars(size) + String.fromCharCode(modifier2) + block, LATIN1);
}

/** u16Chars for the lengths below 256 that almost every var has, made once. */
const SMALL_U16_CHARS: readonly string[] = Array.from({ length: BYTE_MASK + 1 }, (_, n) => String.fromCharCode(n, 0));

/** A u16 as two latin1 chars, little-endian. */
function u16Chars(n: number): string {
  return n <= BYTE_MASK ? SMALL_U16_CHARS[n] : String.fromCharCode(n & BYTE_MASK, n >>> BITS_PER_BYTE);
}

function checkModifier(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > BYTE_MASK) {
    throw new RangeError(`uwsgi ${name} must be an integer in 0..${BYTE_MASK}, got ${String(value)}`);
  }
}

function isFlat(vars: UwsgiVars): vars is readonly string[] {
  return Array.isArray(vars) && (vars.length === 0 || typeof vars[0] === 'string');
}

/** Vars in either accepted shape as a flat [key, value, ...] array (the input itself if flat). */
function flatVars(vars: UwsgiVars): readonly string[] {
  if (isFlat(vars)) {
    if (vars.length % 2 !== 0) throw new UwsgiError('ERR_UWSGI_BAD_VAR', 'a flat uwsgi vars array needs an even length');
    return vars;
  }
  const flat: string[] = [];
  for (const [key, value] of vars) flat.push(key, value);
  return flat;
}

// ---------------------------------------------------------------------------------------------
// modifier1 30

/**
 * PATH_INFO as the app must see it for a modifier1 30 request: SCRIPT_NAME removed from its
 * front. uWSGI (plugins/python/wsgi_subhandler.c, `UWSGI_MODIFIER_MANAGE_PATH_INFO`) cuts
 * len(SCRIPT_NAME) characters off PATH_INFO without looking at them; tsgi cuts only when PATH_INFO
 * really starts with SCRIPT_NAME and otherwise leaves it unchanged, so a misconfigured location
 * cannot turn "/other" into "er". The last occurrence of a var wins, as in the environ dict uWSGI
 * builds. Returns '' when there is no PATH_INFO.
 *
 *   vars: ['SCRIPT_NAME', '/app', 'PATH_INFO', '/app/users/1']  ->  '/users/1'
 */
export function applyModifier30(vars: readonly string[]): string {
  let scriptName = '';
  let pathInfo = '';
  for (let i = 0; i + 1 < vars.length; i += 2) {
    const key = vars[i];
    if (key === 'SCRIPT_NAME') scriptName = vars[i + 1];
    else if (key === 'PATH_INFO') pathInfo = vars[i + 1];
  }
  return scriptName.length > 0 && pathInfo.startsWith(scriptName) ? pathInfo.slice(scriptName.length) : pathInfo;
}

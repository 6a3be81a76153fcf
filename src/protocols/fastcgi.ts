/**
 * FastCGI 1.0 codec: records, name-value pairs and the encoders of both directions. Pure: no
 * sockets, no timers. The per-connection state machines that the app server (responder) and the
 * web server (client of php-fpm or tsgi serve) run on top of it are in `fastcgi-session.ts`.
 *
 * "Spec" below is the FastCGI Specification, Mark R. Brown, Open Market, document version 1.0,
 * 29 April 1996 (doc/fcgi-spec.html in FastCGI-Archives/fcgi2); "§" numbers are its sections.
 *
 * Contract (same as `http1.ts`): `execute(data, offset)` consumes bytes and returns how many it
 * consumed (here always all of them: records of different requests are independent, so there is
 * nothing to hold back), or -1 on a protocol error, which is then in `error` (a `FastcgiError`
 * with a stable code). Nothing throws out of `execute`; exceptions thrown by handlers propagate.
 * A chunk boundary may fall anywhere, including inside a record header or a name-value length.
 *
 * Copies: a record whose content is in one input is handed out as a subarray of it. With
 * `splitStreams`, the content of stream records (PARAMS, STDIN, DATA, STDOUT, STDERR; §3.3 "the
 * value of a stream is independent of how many records it contains or how its bytes are divided")
 * is handed out in parts as it arrives, so request and response bodies are never copied; a
 * discrete record split across inputs is copied into one buffer (at most 65535 bytes).
 *
 * What the peers do (and so what this codec is built to meet):
 *   nginx (src/http/modules/ngx_http_fastcgi_module.c, ngx_http_fastcgi_create_request):
 *     - request id is always 1; BEGIN_REQUEST {FCGI_RESPONDER, flags} with FCGI_KEEP_CONN only
 *       under `fastcgi_keep_conn on`.
 *     - all params go in ONE PARAMS record, padded to a multiple of 8; a params block over 65535
 *       bytes is refused ("fastcgi request record is too big"); then an empty PARAMS record.
 *     - the body goes in STDIN records of at most 32 KiB, each padded, then an empty STDIN record.
 *     - it never sends FCGI_ABORT_REQUEST (ngx_http_fastcgi_abort_request only logs): it aborts by
 *       closing the connection, so a responder treats EOF as an abort of every active request.
 *     - reading the response (ngx_http_fastcgi_process_record): version must be 1 ("upstream sent
 *       unsupported FastCGI protocol version"), type must be STDOUT, STDERR or END_REQUEST
 *       ("invalid FastCGI record type"), request id must be 1 ("unexpected FastCGI request id");
 *       END_REQUEST's body is skipped, not read; the connection is kept only if END_REQUEST and
 *       its padding end exactly where the data read so far ends.
 *   php-fpm (php-src main/fastcgi.c, fcgi_read_request / fcgi_get_params / fcgi_write):
 *     - a header version below 1 is refused; BEGIN_REQUEST content must be exactly 8 bytes; an
 *       unknown role closes the connection (no FCGI_UNKNOWN_ROLE).
 *     - each PARAMS record is parsed on its own: a name-value pair split across two records is a
 *       "Malformed request" and the connection is closed; a PARAMS record whose content plus
 *       padding exceeds FCGI_MAX_LENGTH (0xffff) is refused too. So `encodeFcgiRequest` keeps
 *       every pair that fits inside one record, and records at most 0xfff8 bytes of content.
 *     - its writer splits output into records of 0xfff8 bytes (so no padding is needed) and pads
 *       the rest to 8 (fcgi_make_header); FCGI_END_REQUEST {0, FCGI_REQUEST_COMPLETE} follows the
 *       last STDOUT data without an empty STDOUT record (fcgi_flush), so a client must not wait
 *       for one.
 *     - GET_VALUES is answered with the known names only (FCGI_MPXS_CONNS is "0": it does not
 *       multiplex), then the connection is closed.
 */
import { TsgiError } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// Constants (spec §8, names as the spec spells them)

/** Value of the `version` header byte (§3.3, §8). */
export const FCGI_VERSION_1 = 1;
/** Bytes in an FCGI_Header; "future versions of the protocol will not reduce this number" (§8). */
export const FCGI_HEADER_LEN = 8;
/** requestId of management records (§3.3 "Types of Record Types"). */
export const FCGI_NULL_REQUEST_ID = 0;

// Record types (§8).
export const FCGI_BEGIN_REQUEST = 1;
export const FCGI_ABORT_REQUEST = 2;
export const FCGI_END_REQUEST = 3;
export const FCGI_PARAMS = 4;
export const FCGI_STDIN = 5;
export const FCGI_STDOUT = 6;
export const FCGI_STDERR = 7;
export const FCGI_DATA = 8;
export const FCGI_GET_VALUES = 9;
export const FCGI_GET_VALUES_RESULT = 10;
export const FCGI_UNKNOWN_TYPE = 11;
export const FCGI_MAXTYPE = FCGI_UNKNOWN_TYPE;

/** Mask for the flags byte of FCGI_BeginRequestBody (§5.1). */
export const FCGI_KEEP_CONN = 1;

// Roles (§5.1, §6).
export const FCGI_RESPONDER = 1;
export const FCGI_AUTHORIZER = 2;
export const FCGI_FILTER = 3;

// protocolStatus of FCGI_EndRequestBody (§5.5).
export const FCGI_REQUEST_COMPLETE = 0;
export const FCGI_CANT_MPX_CONN = 1;
export const FCGI_OVERLOADED = 2;
export const FCGI_UNKNOWN_ROLE = 3;

// Variable names for FCGI_GET_VALUES / FCGI_GET_VALUES_RESULT (§4.1).
export const FCGI_MAX_CONNS = 'FCGI_MAX_CONNS';
export const FCGI_MAX_REQS = 'FCGI_MAX_REQS';
export const FCGI_MPXS_CONNS = 'FCGI_MPXS_CONNS';

/** contentLength is two bytes: "between 0 and 65535 bytes of data" (§3.3). */
export const FCGI_MAX_CONTENT_LENGTH = 0xffff;
/** The largest multiple of 8 that fits contentLength: records of this size need no padding, so
 *  content + padding never passes 0xffff (php-fpm refuses PARAMS records that do, and its own
 *  writer uses this size). Every stream encoder here cuts records at this size. */
export const FCGI_MAX_ALIGNED_CONTENT = 0xfff8;
/** requestId is two bytes (§3.3). */
export const FCGI_MAX_REQUEST_ID = 0xffff;
/** Records are padded so they start on multiples of eight bytes (§3.3 "Padding"). */
export const FCGI_RECORD_ALIGNMENT = 8;
/** Size of FCGI_BeginRequestBody, FCGI_EndRequestBody and FCGI_UnknownTypeBody (§8). */
export const FCGI_BEGIN_REQUEST_BODY_LEN = 8;
export const FCGI_END_REQUEST_BODY_LEN = 8;
export const FCGI_UNKNOWN_TYPE_BODY_LEN = 8;

/** Default cap on one request's PARAMS stream (encoded bytes, length prefixes included): nginx
 *  cannot send more than 65535 (one record), so every nginx request fits. */
export const DEFAULT_FCGI_MAX_PARAMS_BYTES = 64 * 1024;

// Byte offsets inside FCGI_Header (§3.3).
const H_VERSION = 0;
const H_TYPE = 1;
const H_REQUEST_ID_B1 = 2;
const H_REQUEST_ID_B0 = 3;
const H_CONTENT_LENGTH_B1 = 4;
const H_CONTENT_LENGTH_B0 = 5;
const H_PADDING_LENGTH = 6;
const H_RESERVED = 7;
// Offsets inside FCGI_BeginRequestBody (§5.1), FCGI_EndRequestBody (§5.5), FCGI_UnknownTypeBody (§4.2).
const BEGIN_ROLE_B1 = 0;
const BEGIN_ROLE_B0 = 1;
const BEGIN_FLAGS = 2;
const END_APP_STATUS = 0;
const END_PROTOCOL_STATUS = 4;
const UNKNOWN_TYPE_TYPE = 0;

/** Name-value lengths (§3.4): the high bit of the first byte selects the four-byte form. */
const NV_LONG_LENGTH_FLAG = 0x80;
const NV_LONG_LENGTH_MASK = 0x7f;
/** "Lengths of 127 bytes and less can be encoded in one byte" (§3.4). */
const NV_SHORT_LENGTH_MAX = 127;
const NV_LONG_LENGTH_SIZE = 4;
/** The four-byte form carries 31 bits. */
const NV_MAX_LENGTH = 0x7fffffff;
const BYTE = 0xff;
const BYTE_BITS = 8;
const LOW_BITS_ALIGNMENT = FCGI_RECORD_ALIGNMENT - 1;

const EMPTY: Buffer = Buffer.alloc(0);

/** Spec names of the record types, for messages. */
const RECORD_TYPE_NAMES: readonly string[] = [
  'type 0',
  'FCGI_BEGIN_REQUEST',
  'FCGI_ABORT_REQUEST',
  'FCGI_END_REQUEST',
  'FCGI_PARAMS',
  'FCGI_STDIN',
  'FCGI_STDOUT',
  'FCGI_STDERR',
  'FCGI_DATA',
  'FCGI_GET_VALUES',
  'FCGI_GET_VALUES_RESULT',
  'FCGI_UNKNOWN_TYPE',
];

/** 'FCGI_STDIN' for 5, 'type 42' for a type the spec does not define. */
export function recordTypeName(type: number): string {
  return RECORD_TYPE_NAMES[type] ?? `type ${type}`;
}

/** Stream record types (§3.3, appendix A): their content forms a byte sequence ended by an empty
 *  record. The others (BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST and the management types) are
 *  discrete. */
export function isStreamRecordType(type: number): boolean {
  return type >= FCGI_PARAMS && type <= FCGI_DATA;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Every way a FastCGI peer can break the protocol. Each ends the connection. */
export const FASTCGI_ERROR_CODES = [
  /** The version byte of a record header is not FCGI_VERSION_1 (§3.3). */
  'ERR_FASTCGI_BAD_VERSION',
  /** A discrete record with the wrong content length (BEGIN_REQUEST, END_REQUEST and
   *  UNKNOWN_TYPE bodies are 8 bytes, §8). */
  'ERR_FASTCGI_BAD_RECORD',
  /** A record this side never receives (appendix A: e.g. STDOUT sent to an application), or out
   *  of order within a request (STDIN before the PARAMS stream ended, §6.2). */
  'ERR_FASTCGI_UNEXPECTED_RECORD',
  /** Client side: a record for a request id that has no request in flight. */
  'ERR_FASTCGI_UNKNOWN_REQUEST',
  /** FCGI_BEGIN_REQUEST for a request id that is already active (§3.3 "Managing Request IDs"). */
  'ERR_FASTCGI_DUPLICATE_REQUEST',
  /** A PARAMS stream (or one name-value pair) larger than the configured maximum. */
  'ERR_FASTCGI_PARAMS_TOO_LARGE',
  /** A name-value stream that ends inside a pair: a length runs past the end (§3.4). */
  'ERR_FASTCGI_BAD_NAME_VALUE',
  /** The connection ended inside a record (or, client side, before FCGI_END_REQUEST). */
  'ERR_FASTCGI_TRUNCATED',
] as const;

export type FastcgiErrorCode = (typeof FASTCGI_ERROR_CODES)[number];

/** A FastCGI protocol error; the connection it happened on cannot be used any more. */
export class FastcgiError extends TsgiError {
  override readonly code: FastcgiErrorCode;
  constructor(code: FastcgiErrorCode, message: string) {
    super(code, message);
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------
// Record decoder

export interface FcgiRecordHandlers {
  /**
   * One record (§3.3), padding already skipped. `content` is a subarray of the input when the
   * record's content arrived in one input (no copy) and must not be kept past the call if the
   * caller reuses its input buffers. Empty content: a zero-length record (the end of a stream).
   * With `splitStreams`, an application record of a stream type may come in several calls, each
   * with a non-empty part; a zero-length record still comes as exactly one call with empty content.
   */
  onRecord(type: number, requestId: number, content: Buffer): void;
}

export interface FcgiRecordDecoderOptions {
  /** Hand the content of application stream records (PARAMS, STDIN, DATA, STDOUT, STDERR with a
   *  non-null request id) out as it arrives instead of collecting whole records. Default false. */
  splitStreams?: boolean;
}

const enum RecordState {
  Header,
  Content,
  Padding,
  Failed,
}

/** Incremental FCGI_Record decoder (§3.3): version check, content, padding skipped. */
export class FcgiRecordDecoder {
  private readonly handlers: FcgiRecordHandlers;
  private readonly splitStreams: boolean;
  private state: RecordState = RecordState.Header;
  private failure: FastcgiError | null = null;

  /** Header bytes of a header split across inputs. */
  private readonly head: Buffer = Buffer.alloc(FCGI_HEADER_LEN);
  private headLength = 0;

  // The record being read.
  private type = 0;
  private requestId = 0;
  private contentRemaining = 0;
  private paddingRemaining = 0;
  /** Content is handed out in parts (splitStreams and a stream type). */
  private streamed = false;
  /** Content of a discrete (or not split) record that spans inputs, collected here. */
  private content: Buffer | null = null;
  private contentFilled = 0;

  constructor(handlers: FcgiRecordHandlers, options?: FcgiRecordDecoderOptions) {
    this.handlers = handlers;
    this.splitStreams = options?.splitStreams === true;
  }

  /** The error that stopped the decoder, or null. */
  get error(): FastcgiError | null {
    return this.failure;
  }

  /** True between records: the connection may end here without losing anything. */
  get idle(): boolean {
    return this.state === RecordState.Header && this.headLength === 0;
  }

  /** Stops the decoder with `error` (a handler calls this to refuse a record it was given);
   *  `execute` then returns -1. The first error wins. */
  fail(error: FastcgiError): void {
    if (this.failure !== null) return;
    this.failure = error;
    this.state = RecordState.Failed;
    this.content = null;
  }

  /** Feeds `data` from `offset`. Returns the bytes consumed (all of them), or -1 on error. */
  execute(data: Buffer, offset = 0): number {
    if (this.failure !== null) return -1;
    const end = data.length;
    let p = offset;
    while (p < end) {
      const state = this.state;
      if (state === RecordState.Header) {
        if (this.headLength === 0 && end - p >= FCGI_HEADER_LEN) {
          this.startRecord(data, p);
          p += FCGI_HEADER_LEN;
        } else {
          const n = Math.min(FCGI_HEADER_LEN - this.headLength, end - p);
          data.copy(this.head, this.headLength, p, p + n);
          this.headLength += n;
          p += n;
          if (this.headLength < FCGI_HEADER_LEN) break;
          this.headLength = 0;
          this.startRecord(this.head, 0);
        }
        if (this.failure !== null) return -1;
      } else if (state === RecordState.Content) {
        const available = end - p;
        const remaining = this.contentRemaining;
        if (this.content === null && (this.streamed || available >= remaining)) {
          // The whole content, or (streamed) the part of it that is here: no copy.
          const n = available < remaining ? available : remaining;
          const part = p === 0 && n === end ? data : data.subarray(p, p + n);
          p += n;
          this.contentRemaining = remaining - n;
          if (this.contentRemaining === 0) this.state = this.paddingRemaining > 0 ? RecordState.Padding : RecordState.Header;
          this.handlers.onRecord(this.type, this.requestId, part);
          if (this.failure !== null) return -1;
        } else {
          // A discrete record split across inputs: collect it (bounded by 65535 bytes).
          let content = this.content;
          if (content === null) {
            content = Buffer.allocUnsafe(remaining);
            this.content = content;
            this.contentFilled = 0;
          }
          const n = available < remaining ? available : remaining;
          data.copy(content, this.contentFilled, p, p + n);
          this.contentFilled += n;
          p += n;
          this.contentRemaining = remaining - n;
          if (this.contentRemaining === 0) {
            this.content = null;
            this.state = this.paddingRemaining > 0 ? RecordState.Padding : RecordState.Header;
            this.handlers.onRecord(this.type, this.requestId, content);
            if (this.failure !== null) return -1;
          }
        }
      } else if (state === RecordState.Padding) {
        // §3.3 "Padding": receivers interpret paddingLength and skip paddingData.
        const n = Math.min(this.paddingRemaining, end - p);
        p += n;
        this.paddingRemaining -= n;
        if (this.paddingRemaining === 0) this.state = RecordState.Header;
      } else {
        return -1;
      }
    }
    return end - offset;
  }

  /** The connection hit EOF: an error if it ended inside a record, else null. */
  finish(): FastcgiError | null {
    if (this.failure !== null) return this.failure;
    if (this.idle) return null;
    const where =
      this.state === RecordState.Header
        ? `after ${this.headLength} of ${FCGI_HEADER_LEN} header bytes`
        : this.state === RecordState.Content
          ? `with ${this.contentRemaining} content bytes of ${recordTypeName(this.type)} missing`
          : `with ${this.paddingRemaining} padding bytes missing`;
    this.fail(new FastcgiError('ERR_FASTCGI_TRUNCATED', `connection closed inside a FastCGI record, ${where}`));
    return this.failure;
  }

  /** Reads the header at `at`; emits a zero-length record at once. */
  private startRecord(header: Buffer, at: number): void {
    const version = header[at + H_VERSION];
    if (version !== FCGI_VERSION_1) {
      this.fail(new FastcgiError('ERR_FASTCGI_BAD_VERSION', `unsupported FastCGI protocol version: ${version}`));
      return;
    }
    const type = header[at + H_TYPE];
    const requestId = (header[at + H_REQUEST_ID_B1] << BYTE_BITS) | header[at + H_REQUEST_ID_B0];
    const contentLength = (header[at + H_CONTENT_LENGTH_B1] << BYTE_BITS) | header[at + H_CONTENT_LENGTH_B0];
    const paddingLength = header[at + H_PADDING_LENGTH];
    this.type = type;
    this.requestId = requestId;
    this.contentRemaining = contentLength;
    this.paddingRemaining = paddingLength;
    // Management records are discrete in this version of the protocol (§3.3), so a record with
    // the null id is always delivered whole, whatever its type: one record, one answer.
    this.streamed = this.splitStreams && requestId !== FCGI_NULL_REQUEST_ID && isStreamRecordType(type);
    if (contentLength > 0) {
      this.state = RecordState.Content;
      return;
    }
    this.state = paddingLength > 0 ? RecordState.Padding : RecordState.Header;
    this.handlers.onRecord(type, requestId, EMPTY);
  }
}

// ---------------------------------------------------------------------------------------------
// Name-value pairs (§3.4)

const enum PairState {
  NameLength,
  ValueLength,
  Data,
}

/**
 * Incremental decoder of a name-value pair stream (§3.4): PARAMS content may be cut anywhere,
 * even inside a four-byte length. Names and values come out as latin1 strings (one char per
 * byte, so binary values survive) in one flat array: [name, value, name, value, ...].
 *
 * Pairs that lie whole inside one `write` are cut out of a single latin1 decode of the input
 * (one native call per input instead of two per pair); a pair that spans inputs is collected
 * into a buffer of its exact size, which the lengths give before the data (§3.4: "enables the
 * receiver to allocate the correct amount of storage immediately").
 */
export class FcgiNameValueDecoder {
  /** Decoded pairs so far, flat. */
  readonly vars: string[] = [];
  private readonly maxBytes: number;
  private received = 0;
  private failure: FastcgiError | null = null;

  // A pair that spans inputs.
  private partial = false;
  private pairState: PairState = PairState.NameLength;
  private lengthSize = 0;
  private lengthSeen = 0;
  private lengthValue = 0;
  private nameLength = 0;
  /** The pair being collected (name then value bytes); EMPTY when none. */
  private pair: Buffer = EMPTY;
  private pairFilled = 0;

  /** `maxBytes`: the most stream bytes (lengths included) accepted; more is ERR_FASTCGI_PARAMS_TOO_LARGE. */
  constructor(maxBytes: number = DEFAULT_FCGI_MAX_PARAMS_BYTES) {
    this.maxBytes = maxBytes;
  }

  get error(): FastcgiError | null {
    return this.failure;
  }

  /** Stream bytes seen so far. */
  get bytes(): number {
    return this.received;
  }

  /** Feeds the next part of the stream. Returns the error that stopped the decoder, or null. */
  write(chunk: Buffer): FastcgiError | null {
    if (this.failure !== null) return this.failure;
    const end = chunk.length;
    this.received += end;
    if (this.received > this.maxBytes) {
      return this.fail('ERR_FASTCGI_PARAMS_TOO_LARGE', `FastCGI params larger than ${this.maxBytes} bytes`);
    }
    let p = 0;
    if (this.partial) {
      p = this.feedPartial(chunk, 0, end);
      if (p < 0) return this.failure;
    }
    let text: string | null = null;
    while (p < end) {
      const start = p;
      let nameLength = chunk[p];
      if (nameLength & NV_LONG_LENGTH_FLAG) {
        if (end - p < NV_LONG_LENGTH_SIZE) return this.startPartial(chunk, start, end);
        nameLength = readLongLength(chunk, p);
        p += NV_LONG_LENGTH_SIZE;
      } else {
        p += 1;
      }
      if (p === end) return this.startPartial(chunk, start, end);
      let valueLength = chunk[p];
      if (valueLength & NV_LONG_LENGTH_FLAG) {
        if (end - p < NV_LONG_LENGTH_SIZE) return this.startPartial(chunk, start, end);
        valueLength = readLongLength(chunk, p);
        p += NV_LONG_LENGTH_SIZE;
      } else {
        p += 1;
      }
      const size = nameLength + valueLength;
      if (size > end - p) return this.startPartial(chunk, start, end);
      if (text === null) text = chunk.toString('latin1');
      this.vars.push(text.slice(p, p + nameLength), text.slice(p + nameLength, p + size));
      p += size;
    }
    return null;
  }

  /** The stream ended (its empty record arrived). An error if it ended inside a pair. */
  end(): FastcgiError | null {
    if (this.failure !== null) return this.failure;
    if (!this.partial) return null;
    const what = this.pairState === PairState.Data ? 'name or value data' : 'a length';
    return this.fail('ERR_FASTCGI_BAD_NAME_VALUE', `FastCGI name-value stream ended inside ${what} (§3.4)`);
  }

  private fail(code: FastcgiErrorCode, message: string): FastcgiError {
    this.failure = new FastcgiError(code, message);
    this.pair = EMPTY;
    return this.failure;
  }

  private startPartial(chunk: Buffer, start: number, end: number): FastcgiError | null {
    this.partial = true;
    this.pairState = PairState.NameLength;
    this.lengthSeen = 0;
    this.feedPartial(chunk, start, end);
    return this.failure;
  }

  /** Continues a pair that spans inputs, byte by byte through the lengths, then by copies.
   *  Returns where it stopped (the pair is complete, or the input is used up), -1 on error. */
  private feedPartial(chunk: Buffer, p: number, end: number): number {
    while (p < end) {
      if (this.pairState === PairState.Data) {
        const pair = this.pair;
        const n = Math.min(pair.length - this.pairFilled, end - p);
        chunk.copy(pair, this.pairFilled, p, p + n);
        this.pairFilled += n;
        p += n;
        if (this.pairFilled === pair.length) this.completePartial(pair);
        if (!this.partial) return p;
        continue;
      }
      const b = chunk[p++];
      if (this.lengthSeen === 0) {
        const long = (b & NV_LONG_LENGTH_FLAG) !== 0;
        this.lengthSize = long ? NV_LONG_LENGTH_SIZE : 1;
        this.lengthValue = long ? b & NV_LONG_LENGTH_MASK : b;
      } else {
        this.lengthValue = this.lengthValue * (BYTE + 1) + b;
      }
      if (++this.lengthSeen < this.lengthSize) continue;
      this.lengthSeen = 0;
      if (this.pairState === PairState.NameLength) {
        this.nameLength = this.lengthValue;
        this.pairState = PairState.ValueLength;
        continue;
      }
      const size = this.nameLength + this.lengthValue;
      if (size > this.maxBytes) {
        this.fail('ERR_FASTCGI_PARAMS_TOO_LARGE', `FastCGI name-value pair of ${size} bytes, over ${this.maxBytes}`);
        return -1;
      }
      this.pair = Buffer.allocUnsafe(size);
      this.pairFilled = 0;
      this.pairState = PairState.Data;
      if (size === 0) {
        this.completePartial(this.pair);
        return p;
      }
    }
    return p;
  }

  private completePartial(pair: Buffer): void {
    const text = pair.toString('latin1');
    this.vars.push(text.slice(0, this.nameLength), text.slice(this.nameLength));
    this.pair = EMPTY;
    this.partial = false;
    this.pairState = PairState.NameLength;
  }
}

function readLongLength(data: Buffer, p: number): number {
  // ((B3 & 0x7f) << 24) + (B2 << 16) + (B1 << 8) + B0 (§3.4); at most 2^31-1, so no sign issue.
  return (
    ((data[p] & NV_LONG_LENGTH_MASK) << (3 * BYTE_BITS)) |
    (data[p + 1] << (2 * BYTE_BITS)) |
    (data[p + 2] << BYTE_BITS) |
    data[p + 3]
  );
}

/** Decodes a whole name-value block (a GET_VALUES or GET_VALUES_RESULT body). */
export function decodeNameValuePairs(content: Buffer, maxBytes: number = DEFAULT_FCGI_MAX_PARAMS_BYTES): string[] | FastcgiError {
  const decoder = new FcgiNameValueDecoder(maxBytes);
  const error = decoder.write(content) ?? decoder.end();
  return error ?? decoder.vars;
}

/** Bytes one name or value length takes (§3.4). */
function lengthSize(length: number): number {
  return length > NV_SHORT_LENGTH_MAX ? NV_LONG_LENGTH_SIZE : 1;
}

/** Name-value pairs as a flat [name, value, ...] array of latin1 strings, or as [name, value]
 *  pairs (a Map works too), like the uwsgi and SCGI encoders take them. */
export type FcgiVars = readonly string[] | Iterable<readonly [string, string]>;

function flatVars(vars: FcgiVars): readonly string[] {
  if (Array.isArray(vars) && (vars.length === 0 || typeof vars[0] === 'string')) return vars as readonly string[];
  const flat: string[] = [];
  for (const [name, value] of vars as Iterable<readonly [string, string]>) flat.push(name, value);
  return flat;
}

function checkPairs(pairs: readonly string[]): void {
  if (pairs.length % 2 !== 0) throw new RangeError('name-value pairs must be a flat [name, value, ...] array');
}

/** Encoded size of one pair. */
function pairLength(name: string, value: string): number {
  if (name.length > NV_MAX_LENGTH || value.length > NV_MAX_LENGTH) throw new RangeError('FastCGI name or value over 2^31-1 bytes');
  return lengthSize(name.length) + lengthSize(value.length) + name.length + value.length;
}

/** Encoded size of a flat [name, value, ...] list. */
export function nameValuePairsLength(pairs: readonly string[]): number {
  checkPairs(pairs);
  let total = 0;
  for (let i = 0; i < pairs.length; i += 2) total += pairLength(pairs[i], pairs[i + 1]);
  return total;
}

function writeLength(target: Buffer, at: number, length: number): number {
  if (length <= NV_SHORT_LENGTH_MAX) {
    target[at] = length;
    return at + 1;
  }
  target[at] = ((length >>> (3 * BYTE_BITS)) & NV_LONG_LENGTH_MASK) | NV_LONG_LENGTH_FLAG;
  target[at + 1] = (length >>> (2 * BYTE_BITS)) & BYTE;
  target[at + 2] = (length >>> BYTE_BITS) & BYTE;
  target[at + 3] = length & BYTE;
  return at + NV_LONG_LENGTH_SIZE;
}

/** Writes pairs at `at`; returns the end. `ends`, if given, receives the end of every pair. */
function writePairs(target: Buffer, at: number, pairs: readonly string[], ends?: number[]): number {
  let p = at;
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i];
    const value = pairs[i + 1];
    p = writeLength(target, p, name.length);
    p = writeLength(target, p, value.length);
    p += target.write(name, p, 'latin1');
    p += target.write(value, p, 'latin1');
    ends?.push(p);
  }
  return p;
}

/** Encodes name-value pairs (§3.4): lengths up to 127 in one byte, longer ones in four with the
 *  high bit set. Strings are written as latin1 (one byte per char). */
export function encodeNameValuePairs(vars: FcgiVars): Buffer {
  const pairs = flatVars(vars);
  const out = Buffer.allocUnsafe(nameValuePairsLength(pairs));
  writePairs(out, 0, pairs);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Discrete record bodies (callers check the content length first: 8 bytes each, §8)

/** FCGI_BeginRequestBody (§5.1). */
export function readBeginRequestBody(content: Buffer): { role: number; keepConn: boolean } {
  return {
    role: (content[BEGIN_ROLE_B1] << BYTE_BITS) | content[BEGIN_ROLE_B0],
    keepConn: (content[BEGIN_FLAGS] & FCGI_KEEP_CONN) !== 0,
  };
}

/** FCGI_EndRequestBody (§5.5). */
export function readEndRequestBody(content: Buffer): { appStatus: number; protocolStatus: number } {
  return { appStatus: content.readUInt32BE(END_APP_STATUS), protocolStatus: content[END_PROTOCOL_STATUS] };
}

/** FCGI_UnknownTypeBody (§4.2): the type that was not understood. */
export function readUnknownTypeBody(content: Buffer): number {
  return content[UNKNOWN_TYPE_TYPE];
}

// ---------------------------------------------------------------------------------------------
// Record encoders

function checkRequestId(requestId: number): void {
  if (!Number.isInteger(requestId) || requestId < 0 || requestId > FCGI_MAX_REQUEST_ID) {
    throw new RangeError(`FastCGI request id must be 0..${FCGI_MAX_REQUEST_ID}, got ${requestId}`);
  }
}

function checkType(type: number): void {
  if (!Number.isInteger(type) || type < 0 || type > BYTE) throw new RangeError(`FastCGI record type must be 0..255, got ${type}`);
}

/** Padding that brings `contentLength` to a multiple of 8 (§3.3 "Padding"); 0..7. */
export function paddingFor(contentLength: number): number {
  return -contentLength & LOW_BITS_ALIGNMENT;
}

function writeHeader(target: Buffer, at: number, type: number, requestId: number, contentLength: number, paddingLength: number): void {
  target[at + H_VERSION] = FCGI_VERSION_1;
  target[at + H_TYPE] = type;
  target[at + H_REQUEST_ID_B1] = requestId >>> BYTE_BITS;
  target[at + H_REQUEST_ID_B0] = requestId & BYTE;
  target[at + H_CONTENT_LENGTH_B1] = contentLength >>> BYTE_BITS;
  target[at + H_CONTENT_LENGTH_B0] = contentLength & BYTE;
  target[at + H_PADDING_LENGTH] = paddingLength;
  target[at + H_RESERVED] = 0;
}

/** An 8-byte record header alone, for callers that write [header, content, padding] with
 *  writev instead of copying the content. Padding defaults to `paddingFor(contentLength)`. */
export function encodeRecordHeader(type: number, requestId: number, contentLength: number, paddingLength = paddingFor(contentLength)): Buffer {
  checkType(type);
  checkRequestId(requestId);
  if (!Number.isInteger(contentLength) || contentLength < 0 || contentLength > FCGI_MAX_CONTENT_LENGTH) {
    throw new RangeError(`FastCGI content length must be 0..${FCGI_MAX_CONTENT_LENGTH}, got ${contentLength}`);
  }
  if (!Number.isInteger(paddingLength) || paddingLength < 0 || paddingLength > BYTE) {
    throw new RangeError(`FastCGI padding length must be 0..255, got ${paddingLength}`);
  }
  const out = Buffer.allocUnsafe(FCGI_HEADER_LEN);
  writeHeader(out, 0, type, requestId, contentLength, paddingLength);
  return out;
}

/** One record, padded to a multiple of 8. Content over 65535 bytes is a RangeError: use
 *  `encodeStream` for stream data. */
export function encodeRecord(type: number, requestId: number, content: Uint8Array = EMPTY): Buffer {
  checkType(type);
  checkRequestId(requestId);
  const length = content.length;
  if (length > FCGI_MAX_CONTENT_LENGTH) {
    throw new RangeError(`FastCGI record content of ${length} bytes is over ${FCGI_MAX_CONTENT_LENGTH}; use encodeStream`);
  }
  const padding = paddingFor(length);
  const out = Buffer.allocUnsafe(FCGI_HEADER_LEN + length + padding);
  writeHeader(out, 0, type, requestId, length, padding);
  out.set(content, FCGI_HEADER_LEN);
  out.fill(0, FCGI_HEADER_LEN + length);
  return out;
}

/**
 * Stream data (§3.3) as records of at most FCGI_MAX_ALIGNED_CONTENT bytes (so only the last one
 * is padded), in one buffer. Empty data gives an empty buffer, NOT the zero-length record that
 * ends the stream: that one is `encodeStreamEnd`, so an empty chunk can never end a stream by
 * accident.
 */
export function encodeStream(type: number, requestId: number, data: Uint8Array): Buffer {
  checkType(type);
  checkRequestId(requestId);
  const length = data.length;
  if (length === 0) return EMPTY;
  const full = Math.floor(length / FCGI_MAX_ALIGNED_CONTENT);
  const rest = length - full * FCGI_MAX_ALIGNED_CONTENT;
  const restPadding = paddingFor(rest);
  const size = full * (FCGI_HEADER_LEN + FCGI_MAX_ALIGNED_CONTENT) + (rest > 0 ? FCGI_HEADER_LEN + rest + restPadding : 0);
  const out = Buffer.allocUnsafe(size);
  let p = 0;
  let from = 0;
  for (let i = 0; i < full; i++) {
    writeHeader(out, p, type, requestId, FCGI_MAX_ALIGNED_CONTENT, 0);
    out.set(data.subarray(from, from + FCGI_MAX_ALIGNED_CONTENT), p + FCGI_HEADER_LEN);
    p += FCGI_HEADER_LEN + FCGI_MAX_ALIGNED_CONTENT;
    from += FCGI_MAX_ALIGNED_CONTENT;
  }
  if (rest > 0) {
    writeHeader(out, p, type, requestId, rest, restPadding);
    out.set(data.subarray(from), p + FCGI_HEADER_LEN);
    out.fill(0, p + FCGI_HEADER_LEN + rest);
  }
  return out;
}

/** The zero-length record that ends a stream (§3.3: "followed by an empty record"). */
export function encodeStreamEnd(type: number, requestId: number): Buffer {
  return encodeRecord(type, requestId, EMPTY);
}

/** {FCGI_BEGIN_REQUEST, id, {role, flags}} (§5.1). */
export function encodeBeginRequest(requestId: number, role: number = FCGI_RESPONDER, keepConn = false): Buffer {
  const out = Buffer.allocUnsafe(FCGI_HEADER_LEN + FCGI_BEGIN_REQUEST_BODY_LEN);
  writeBeginRequest(out, 0, requestId, role, keepConn);
  return out;
}

function writeBeginRequest(target: Buffer, at: number, requestId: number, role: number, keepConn: boolean): void {
  checkRequestId(requestId);
  if (!Number.isInteger(role) || role < 0 || role > FCGI_MAX_REQUEST_ID) throw new RangeError(`FastCGI role must be 0..65535, got ${role}`);
  writeHeader(target, at, FCGI_BEGIN_REQUEST, requestId, FCGI_BEGIN_REQUEST_BODY_LEN, 0);
  const body = at + FCGI_HEADER_LEN;
  target[body + BEGIN_ROLE_B1] = role >>> BYTE_BITS;
  target[body + BEGIN_ROLE_B0] = role & BYTE;
  target[body + BEGIN_FLAGS] = keepConn ? FCGI_KEEP_CONN : 0;
  for (let i = BEGIN_FLAGS + 1; i < FCGI_BEGIN_REQUEST_BODY_LEN; i++) target[body + i] = 0;
}

/** {FCGI_ABORT_REQUEST, id} (§5.4): the application answers it with END_REQUEST. */
export function encodeAbortRequest(requestId: number): Buffer {
  return encodeRecord(FCGI_ABORT_REQUEST, requestId, EMPTY);
}

/** {FCGI_END_REQUEST, id, {appStatus, protocolStatus}} (§5.5). appStatus is written as an
 *  unsigned 32-bit number (a negative exit status wraps, as a C cast would). */
export function encodeEndRequest(requestId: number, appStatus = 0, protocolStatus: number = FCGI_REQUEST_COMPLETE): Buffer {
  const out = Buffer.allocUnsafe(FCGI_HEADER_LEN + FCGI_END_REQUEST_BODY_LEN);
  writeEndRequest(out, 0, requestId, appStatus, protocolStatus);
  return out;
}

function writeEndRequest(target: Buffer, at: number, requestId: number, appStatus: number, protocolStatus: number): void {
  checkRequestId(requestId);
  if (!Number.isInteger(protocolStatus) || protocolStatus < 0 || protocolStatus > BYTE) {
    throw new RangeError(`FastCGI protocolStatus must be 0..255, got ${protocolStatus}`);
  }
  writeHeader(target, at, FCGI_END_REQUEST, requestId, FCGI_END_REQUEST_BODY_LEN, 0);
  const body = at + FCGI_HEADER_LEN;
  // Byte stores rather than writeUInt32BE / fill: this runs once per response.
  const status = appStatus >>> 0;
  target[body + END_APP_STATUS] = status >>> (3 * BYTE_BITS);
  target[body + END_APP_STATUS + 1] = (status >>> (2 * BYTE_BITS)) & BYTE;
  target[body + END_APP_STATUS + 2] = (status >>> BYTE_BITS) & BYTE;
  target[body + END_APP_STATUS + 3] = status & BYTE;
  target[body + END_PROTOCOL_STATUS] = protocolStatus;
  for (let i = END_PROTOCOL_STATUS + 1; i < FCGI_END_REQUEST_BODY_LEN; i++) target[body + i] = 0;
}

/** Request body data for a request (STDIN stream, §5.3). Empty chunk: empty buffer. */
export function encodeStdin(requestId: number, chunk: Uint8Array): Buffer {
  return encodeStream(FCGI_STDIN, requestId, chunk);
}

/** The empty STDIN record that ends the request body (nginx sends it even with no body). */
export function encodeStdinEnd(requestId: number): Buffer {
  return encodeStreamEnd(FCGI_STDIN, requestId);
}

/** Response data (STDOUT stream, §5.3). Empty chunk: empty buffer. */
export function encodeStdout(requestId: number, chunk: Uint8Array): Buffer {
  return encodeStream(FCGI_STDOUT, requestId, chunk);
}

/** Error text for the web server's log (STDERR stream, §5.3, §6.1). Empty chunk: empty buffer. */
export function encodeStderr(requestId: number, chunk: Uint8Array): Buffer {
  return encodeStream(FCGI_STDERR, requestId, chunk);
}

/** The end of a response in one buffer: the empty STDOUT record that closes the stream, then
 *  {FCGI_END_REQUEST, id, {appStatus, protocolStatus}} (§6.2, appendix B example 1). */
export function encodeResponseEnd(requestId: number, appStatus = 0, protocolStatus: number = FCGI_REQUEST_COMPLETE): Buffer {
  const out = Buffer.allocUnsafe(2 * FCGI_HEADER_LEN + FCGI_END_REQUEST_BODY_LEN);
  checkRequestId(requestId);
  writeHeader(out, 0, FCGI_STDOUT, requestId, 0, 0);
  writeEndRequest(out, FCGI_HEADER_LEN, requestId, appStatus, protocolStatus);
  return out;
}

/** {FCGI_GET_VALUES, 0, names with empty values} (§4.1). */
export function encodeGetValues(names: readonly string[]): Buffer {
  const pairs: string[] = [];
  for (const name of names) pairs.push(name, '');
  return encodeRecord(FCGI_GET_VALUES, FCGI_NULL_REQUEST_ID, encodeNameValuePairs(pairs));
}

/** {FCGI_GET_VALUES_RESULT, 0, pairs} (§4.1). */
export function encodeGetValuesResult(pairs: FcgiVars): Buffer {
  return encodeRecord(FCGI_GET_VALUES_RESULT, FCGI_NULL_REQUEST_ID, encodeNameValuePairs(pairs));
}

/** {FCGI_UNKNOWN_TYPE, 0, {type}} (§4.2): the answer to a management record not understood. */
export function encodeUnknownType(type: number): Buffer {
  checkType(type);
  const out = Buffer.alloc(FCGI_HEADER_LEN + FCGI_UNKNOWN_TYPE_BODY_LEN);
  writeHeader(out, 0, FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID, FCGI_UNKNOWN_TYPE_BODY_LEN, 0);
  out[FCGI_HEADER_LEN + UNKNOWN_TYPE_TYPE] = type;
  return out;
}

export interface FcgiRequestOptions {
  /** Sets FCGI_KEEP_CONN (§5.1): the application leaves the connection open after responding,
   *  so it can be pooled. Default false, like nginx without `fastcgi_keep_conn on`. */
  keepConn?: boolean;
  /** Default FCGI_RESPONDER. */
  role?: number;
  /** A whole request body: when given (even empty), its STDIN records and the empty STDIN record
   *  follow in the same buffer, as nginx sends a buffered request. Leave it out to stream the
   *  body with `encodeStdin` / `encodeStdinEnd`. */
  stdin?: Uint8Array;
}

/**
 * The start of a request as a client sends it (appendix B): BEGIN_REQUEST, the PARAMS stream and
 * its empty record, and with `options.stdin` the whole STDIN stream too.
 *
 * PARAMS records carry at most FCGI_MAX_ALIGNED_CONTENT bytes and are cut between pairs: php-fpm
 * parses every record on its own and refuses a pair split across two. Only a pair larger than a
 * record is split (the spec allows it; php-fpm cannot take such a pair at all).
 */
export function encodeFcgiRequest(requestId: number, fcgiVars: FcgiVars, options?: FcgiRequestOptions): Buffer {
  checkRequestId(requestId);
  const vars = flatVars(fcgiVars);
  const role = options?.role ?? FCGI_RESPONDER;
  const keepConn = options?.keepConn === true;
  const stdin = options?.stdin;
  const paramsLength = nameValuePairsLength(vars);
  const stdinRecords = stdin === undefined ? EMPTY : encodeStdin(requestId, stdin);
  const stdinSize = stdin === undefined ? 0 : stdinRecords.length + FCGI_HEADER_LEN;
  const head = FCGI_HEADER_LEN + FCGI_BEGIN_REQUEST_BODY_LEN;

  let out: Buffer;
  let p: number;
  if (paramsLength <= FCGI_MAX_ALIGNED_CONTENT) {
    // One PARAMS record (what nginx sends): the pairs are written in place, no second copy.
    const paramsRecord = paramsLength > 0 ? FCGI_HEADER_LEN + paramsLength + paddingFor(paramsLength) : 0;
    out = Buffer.allocUnsafe(head + paramsRecord + FCGI_HEADER_LEN + stdinSize);
    writeBeginRequest(out, 0, requestId, role, keepConn);
    p = head;
    if (paramsLength > 0) {
      const padding = paddingFor(paramsLength);
      writeHeader(out, p, FCGI_PARAMS, requestId, paramsLength, padding);
      p = writePairs(out, p + FCGI_HEADER_LEN, vars);
      out.fill(0, p, p + padding);
      p += padding;
    }
  } else {
    const block = Buffer.allocUnsafe(paramsLength);
    const ends: number[] = [];
    writePairs(block, 0, vars, ends);
    const cuts = cutBetweenPairs(ends, paramsLength);
    let recordsSize = 0;
    let from = 0;
    for (const cut of cuts) {
      recordsSize += FCGI_HEADER_LEN + (cut - from) + paddingFor(cut - from);
      from = cut;
    }
    out = Buffer.allocUnsafe(head + recordsSize + FCGI_HEADER_LEN + stdinSize);
    writeBeginRequest(out, 0, requestId, role, keepConn);
    p = head;
    from = 0;
    for (const cut of cuts) {
      const length = cut - from;
      const padding = paddingFor(length);
      writeHeader(out, p, FCGI_PARAMS, requestId, length, padding);
      block.copy(out, p + FCGI_HEADER_LEN, from, cut);
      p += FCGI_HEADER_LEN + length;
      out.fill(0, p, p + padding);
      p += padding;
      from = cut;
    }
  }
  writeHeader(out, p, FCGI_PARAMS, requestId, 0, 0);
  p += FCGI_HEADER_LEN;
  if (stdin !== undefined) {
    stdinRecords.copy(out, p);
    p += stdinRecords.length;
    writeHeader(out, p, FCGI_STDIN, requestId, 0, 0);
  }
  return out;
}

/** Record boundaries for a params block: as many whole pairs per record as fit in
 *  FCGI_MAX_ALIGNED_CONTENT; a pair larger than that is cut at record size. */
function cutBetweenPairs(ends: readonly number[], total: number): number[] {
  const cuts: number[] = [];
  let start = 0;
  let i = 0;
  while (start < total) {
    const limit = start + FCGI_MAX_ALIGNED_CONTENT;
    let cut = start;
    while (i < ends.length && ends[i] <= limit) cut = ends[i++];
    if (cut === start) cut = Math.min(limit, total);
    cuts.push(cut);
    start = cut;
  }
  return cuts;
}

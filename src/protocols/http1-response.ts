/**
 * HTTP/1.x response decoder (RFC 9112) for `proxy_pass`: bytes from an upstream in, a response
 * head and body chunks out. Pure (no sockets, no timers) and resumable: any split of the input
 * decodes the same. One decoder serves every response of a keep-alive connection (`reset`).
 *
 * nginx's rules (src/http/ngx_http_parse.c ngx_http_parse_status_line / _header_line,
 * src/http/modules/ngx_http_proxy_module.c process_status_line / process_header /
 * input_filter_init, src/http/ngx_http_upstream.c header handlers), and so this decoder's:
 *
 *  - Status line: "HTTP/" major "." minor, SP+, three digits, then SP and any reason, or the
 *    line end. Bare LF ends lines anywhere in the head. A response that does not start like
 *    that is HTTP/0.9 to nginx ("upstream sent no valid HTTP/1.0 header"): status 200, no
 *    headers, every byte is body, until the peer closes. tsgi does the same (`http09`).
 *  - Header lines: a name byte <= SP or DEL, a line starting with ':' or whitespace (obs-fold),
 *    NUL in a value, or CR not followed by LF is "upstream sent invalid header". Other odd name
 *    bytes pass, as in nginx. A line without a colon is a field with an empty value (nginx).
 *    Values are trimmed of SP/HTAB. A repeated status line ("HTTP/1.1 ..." as a header, which
 *    IIS sends) is skipped.
 *  - The head (status line to the empty line) must fit `maxHeadSize` (proxy_buffer_size):
 *    "upstream sent too big header".
 *  - Body: none for HEAD, 204 and 304 whatever the head says; chunked with Transfer-Encoding
 *    "chunked" (any other coding, or a second Transfer-Encoding, is refused: "upstream sent
 *    unknown "Transfer-Encoding""); Content-Length (digits only, one line: nginx's words in
 *    response-length.ts); both at once is refused as nginx >= 1.21.1 does; else until close.
 *  - 101 Switching Protocols: the head is handed back and decoding stops; the bytes after it
 *    belong to the new protocol (`execute` returns where the head ended).
 *  - Other 1xx (100, 102, 103) are interim answers and are skipped. nginx 1.22 never sends
 *    `Expect` upstream and would take them as final; skipping them is RFC 9110 §15.2 and loses
 *    nothing.
 *  - Reuse (`keepAlive`, nginx's u->keepalive): the response was HTTP/1.1 without `close` in
 *    Connection (nginx looks for the substring), its body ended by its framing (not by close),
 *    and no byte came after it.
 */
import { TsgiError } from '../errors.js';
import { announcedBodyLength } from '../upstream/response-length.js';
import { ChunkedDecoder, INVALID_CHUNKED, type ChunkSink } from './http1-chunked.js';

export type Http1ResponseErrorCode =
  | 'ERR_HTTP_RESPONSE_HEAD_TOO_BIG'
  | 'ERR_HTTP_RESPONSE_INVALID_HEADER'
  | 'ERR_HTTP_RESPONSE_INVALID_FRAMING'
  | 'ERR_HTTP_RESPONSE_TRUNCATED';

/** A response the decoder refuses; the message is nginx's log text (without "while ..."). */
export class Http1ResponseError extends TsgiError {
  override readonly code: Http1ResponseErrorCode;
  constructor(code: Http1ResponseErrorCode, message: string) {
    super(code, message);
    this.code = code;
  }
}

export type BodyFraming = 'none' | 'length' | 'chunked' | 'close' | 'upgrade';

export interface ResponseHead {
  status: number;
  /** As sent ('' when the line has none). */
  reason: string;
  /** major * 1000 + minor, as nginx keeps it: 1000, 1001; 9 for HTTP/0.9. */
  httpVersion: number;
  /** Flat [name, value, ...]: names as sent, values trimmed, latin1. */
  headers: string[];
  framing: BodyFraming;
  /** The Content-Length for 'length', else -1. */
  contentLength: number;
  /** nginx's connection_close: HTTP/1.0 (or 0.9), or `close` in Connection. */
  connectionClose: boolean;
}

export interface Http1ResponseHandlers {
  onHead(head: ResponseHead): void;
  /** A subarray of the input (no copy); never empty. */
  onBody(chunk: Buffer): void;
  /** The response ended by its framing (or at once: no body, 101). Not called for 'close'
   *  framing until `end()`. */
  onComplete(): void;
}

/** nginx's proxy_buffer_size default: one memory page. */
export const DEFAULT_RESPONSE_MAX_HEAD_SIZE = 4096;

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const DEL = 0x7f;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const HTTP_SLASH = Buffer.from('HTTP/', 'latin1');
const EMPTY = Buffer.alloc(0);
const SWITCHING_PROTOCOLS = 101;
const FIRST_FINAL = 200;
const NO_CONTENT = 204;
const NOT_MODIFIED = 304;
const HTTP_11 = 1001;
const HTTP_09 = 9;
const TRANSFER_ENCODING = 'transfer-encoding';
const CONNECTION = 'connection';

const enum Phase {
  Head,
  Length,
  Chunked,
  Close,
  Done,
  Failed,
}

export class Http1ResponseDecoder implements ChunkSink {
  private readonly handlers: Http1ResponseHandlers;
  private readonly maxHeadSize: number;
  private phase: Phase = Phase.Head;
  private headOnly = false;
  /** Head bytes of the current response received so far (a split head is gathered here). */
  private pending: Buffer = EMPTY;
  /** Where to resume looking for the head's end in `pending`. */
  private scanFrom = 0;
  private remaining = 0;
  private readonly chunked = new ChunkedDecoder();
  private reusable = false;
  private errorValue: Http1ResponseError | null = null;
  private headValue: ResponseHead | null = null;

  constructor(handlers: Http1ResponseHandlers, options: { maxHeadSize?: number } = {}) {
    this.handlers = handlers;
    this.maxHeadSize = options.maxHeadSize ?? DEFAULT_RESPONSE_MAX_HEAD_SIZE;
  }

  /** Starts a new response: to a HEAD request (`headOnly`) it has no body. */
  reset(headOnly: boolean): void {
    this.phase = Phase.Head;
    this.headOnly = headOnly;
    this.pending = EMPTY;
    this.scanFrom = 0;
    this.remaining = 0;
    this.reusable = false;
    this.errorValue = null;
    this.headValue = null;
    this.chunked.reset();
  }

  get error(): Http1ResponseError | null {
    return this.errorValue;
  }

  get head(): ResponseHead | null {
    return this.headValue;
  }

  /** True once the response ended by its framing. */
  get complete(): boolean {
    return this.phase === Phase.Done;
  }

  /** Whether the connection may carry another request (meaningful once complete). */
  get keepAlive(): boolean {
    return this.reusable;
  }

  /** True while the body runs until the peer closes. */
  get closeDelimited(): boolean {
    return this.phase === Phase.Close;
  }

  /**
   * Decodes `data`. Returns the bytes consumed: all of them, or fewer once the response is
   * complete (the rest is not this response's: bytes after a 101, or extra bytes the caller
   * must treat as a broken peer), or -1 on an error (`error`).
   */
  execute(data: Buffer): number {
    let p = 0;
    const end = data.length;
    while (p < end) {
      switch (this.phase) {
        case Phase.Head: {
          const used = this.readHead(data, p);
          if (used < 0) return -1;
          p = used;
          break;
        }
        case Phase.Length: {
          const n = Math.min(this.remaining, end - p);
          this.handlers.onBody(p === 0 && n === end ? data : data.subarray(p, p + n));
          this.remaining -= n;
          p += n;
          if (this.remaining === 0) this.finish();
          break;
        }
        case Phase.Chunked: {
          const at = this.chunked.execute(data, p, end, this);
          if (at < 0) return this.fail('ERR_HTTP_RESPONSE_INVALID_FRAMING', INVALID_CHUNKED);
          p = at;
          if (this.chunked.done) this.finish();
          break;
        }
        case Phase.Close:
          this.handlers.onBody(p === 0 ? data : data.subarray(p));
          return end;
        case Phase.Done:
          // Bytes past the response: the connection cannot be trusted with another one.
          this.reusable = false;
          return p;
        case Phase.Failed:
          return -1;
      }
    }
    return p;
  }

  /**
   * The peer closed. Returns null when that ends the response cleanly (close-delimited body, or
   * complete already), else the error (also kept in `error`).
   */
  end(): Http1ResponseError | null {
    switch (this.phase) {
      case Phase.Close:
        this.reusable = false;
        this.phase = Phase.Done;
        this.handlers.onComplete();
        return null;
      case Phase.Done:
        return null;
      case Phase.Failed:
        return this.errorValue;
      case Phase.Head:
        this.fail('ERR_HTTP_RESPONSE_TRUNCATED', 'upstream prematurely closed connection');
        return this.errorValue;
      case Phase.Length:
      case Phase.Chunked:
        this.fail('ERR_HTTP_RESPONSE_TRUNCATED', 'upstream prematurely closed connection');
        return this.errorValue;
    }
  }

  /** ChunkSink: data of the chunked body. */
  onData(chunk: Buffer): void {
    this.handlers.onBody(chunk);
  }

  // ---- head -------------------------------------------------------------------------------

  /** Gathers the head from `data[from..]`; returns the position after it (or `data.length`
   *  when more is needed), or -1. */
  private readHead(data: Buffer, from: number): number {
    let buffer: Buffer;
    let base: number;
    if (this.pending.length === 0) {
      buffer = data;
      base = from;
    } else {
      buffer = Buffer.concat([this.pending, data.subarray(from)]);
      base = 0;
    }
    const start = base;
    // HTTP/0.9: decided on the first bytes, as nginx's status line parser does.
    const prefix = Math.min(HTTP_SLASH.length, buffer.length - start);
    if (buffer.compare(HTTP_SLASH, 0, prefix, start, start + prefix) !== 0) return this.http09(buffer, start, data);
    let headEnd = -1;
    let at = start + this.scanFrom;
    for (;;) {
      const lf = buffer.indexOf(LF, at);
      if (lf < 0) break;
      // The head ends at an empty line: LF LF or LF CR LF.
      const next = lf + 1;
      if (next < buffer.length && buffer[next] === LF) {
        headEnd = next + 1;
        break;
      }
      if (next + 1 < buffer.length && buffer[next] === CR && buffer[next + 1] === LF) {
        headEnd = next + 2;
        break;
      }
      if (next >= buffer.length || (next + 1 >= buffer.length && buffer[next] === CR)) break;
      at = next;
    }
    const size = (headEnd < 0 ? buffer.length : headEnd) - start;
    if (size > this.maxHeadSize) return this.fail('ERR_HTTP_RESPONSE_HEAD_TOO_BIG', 'upstream sent too big header');
    if (headEnd < 0) {
      this.pending = this.pending.length === 0 ? Buffer.from(buffer.subarray(start)) : buffer;
      // Resume from the last line start seen (a line end may straddle the inputs).
      this.scanFrom = Math.max(0, at - start);
      return data.length;
    }
    const consumedOfData = this.pending.length === 0 ? headEnd : headEnd - this.pending.length + from;
    this.pending = EMPTY;
    this.scanFrom = 0;
    if (!this.parseHead(buffer.toString('latin1', start, headEnd))) return -1;
    return consumedOfData;
  }

  /** Not a status line: an HTTP/0.9 answer, all body until the peer closes. */
  private http09(buffer: Buffer, start: number, data: Buffer): number {
    const head: ResponseHead = { status: 200, reason: '', httpVersion: HTTP_09, headers: [], framing: 'close', contentLength: -1, connectionClose: true };
    this.headValue = head;
    this.pending = EMPTY;
    this.phase = Phase.Close;
    this.handlers.onHead(head);
    if (buffer.length > start) this.handlers.onBody(buffer.subarray(start));
    return data.length;
  }

  /** Parses a whole head (status line to the empty line, as latin1 text). */
  private parseHead(text: string): boolean {
    let lineEnd = text.indexOf('\n');
    const statusLine = stripCR(text, 0, lineEnd);
    const parsed = parseStatusLine(statusLine);
    if (parsed === null) {
      // Starts with "HTTP/" but is no status line: nginx's HTTP/0.9 fallback, with the head as body.
      this.http09(Buffer.from(text, 'latin1'), 0, EMPTY);
      return true;
    }
    const headers: string[] = [];
    let pos = lineEnd + 1;
    for (;;) {
      lineEnd = text.indexOf('\n', pos);
      const line = stripCR(text, pos, lineEnd);
      pos = lineEnd + 1;
      if (line.length === 0) break;
      if (!this.parseField(line, headers)) return false;
    }
    const status = parsed.status;
    if (status < FIRST_FINAL && status !== SWITCHING_PROTOCOLS) {
      // Interim: the final response follows on the same connection.
      this.phase = Phase.Head;
      return true;
    }
    return this.startBody(parsed, headers);
  }

  private parseField(line: string, headers: string[]): boolean {
    const first = line.charCodeAt(0);
    if (first <= SP || first === DEL || first === COLON) return this.invalidHeader(line, 0);
    let colon = -1;
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i);
      if (c === COLON) {
        colon = i;
        break;
      }
      if (c <= SP || c === DEL) {
        // IIS may repeat the status line as a header line: nginx skips it.
        if (c === SP && i === 8 && line.startsWith('HTTP/')) return true;
        return this.invalidHeader(line, i);
      }
    }
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = '';
    if (colon >= 0) {
      let vs = colon + 1;
      let ve = line.length;
      while (vs < ve && isOws(line.charCodeAt(vs))) vs++;
      while (ve > vs && isOws(line.charCodeAt(ve - 1))) ve--;
      for (let i = vs; i < ve; i++) {
        const c = line.charCodeAt(i);
        if (c === 0 || c === CR) return this.invalidHeader(line, i);
      }
      value = line.slice(vs, ve);
    }
    headers.push(name, value);
    return true;
  }

  private invalidHeader(line: string, at: number): boolean {
    const hex = line.charCodeAt(at).toString(16).padStart(2, '0');
    this.fail('ERR_HTTP_RESPONSE_INVALID_HEADER', `upstream sent invalid header: "${line.slice(0, at)}\\x${hex}..."`);
    return false;
  }

  private startBody(line: StatusLine, headers: string[]): boolean {
    let chunked = false;
    let connectionClose = line.httpVersion < HTTP_11;
    let transferEncoding: string | null = null;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      if (name.length === TRANSFER_ENCODING.length && name.toLowerCase() === TRANSFER_ENCODING) {
        const value = headers[i + 1]!;
        if (transferEncoding !== null) {
          return this.failed('ERR_HTTP_RESPONSE_INVALID_HEADER', `upstream sent duplicate header line: "${name}: ${value}", previous value: "${name}: ${transferEncoding}"`);
        }
        transferEncoding = value;
        if (value.length !== 7 || value.toLowerCase() !== 'chunked') {
          return this.failed('ERR_HTTP_RESPONSE_INVALID_HEADER', `upstream sent unknown "Transfer-Encoding": "${value}"`);
        }
        chunked = true;
      } else if (name.length === CONNECTION.length && name.toLowerCase() === CONNECTION) {
        if (headers[i + 1]!.toLowerCase().includes('close')) connectionClose = true;
      }
    }
    const announced = announcedBodyLength(headers);
    if (announced !== null && typeof announced === 'object') return this.failed('ERR_HTTP_RESPONSE_INVALID_HEADER', announced.invalid);
    if (chunked && announced !== null) {
      return this.failed('ERR_HTTP_RESPONSE_INVALID_HEADER', 'upstream sent "Content-Length" and "Transfer-Encoding" headers at the same time');
    }
    const status = line.status;
    let framing: BodyFraming;
    if (status === SWITCHING_PROTOCOLS) framing = 'upgrade';
    else if (this.headOnly || status === NO_CONTENT || status === NOT_MODIFIED) framing = 'none';
    else if (chunked) framing = 'chunked';
    else if (announced === 0) framing = 'none';
    else if (announced !== null) framing = 'length';
    else framing = 'close';
    const head: ResponseHead = {
      status,
      reason: line.reason,
      httpVersion: line.httpVersion,
      headers,
      framing,
      contentLength: framing === 'length' ? announced! : -1,
      connectionClose,
    };
    this.headValue = head;
    this.handlers.onHead(head);
    if (this.phase === Phase.Failed) return false;
    switch (framing) {
      case 'upgrade':
        this.phase = Phase.Done;
        this.reusable = false;
        this.handlers.onComplete();
        break;
      case 'none':
        this.finish();
        break;
      case 'length':
        this.remaining = head.contentLength;
        this.phase = Phase.Length;
        break;
      case 'chunked':
        this.phase = Phase.Chunked;
        break;
      case 'close':
        this.phase = Phase.Close;
        break;
    }
    return true;
  }

  private finish(): void {
    this.phase = Phase.Done;
    this.reusable = this.headValue !== null && !this.headValue.connectionClose;
    this.handlers.onComplete();
  }

  private failed(code: Http1ResponseErrorCode, message: string): boolean {
    this.fail(code, message);
    return false;
  }

  private fail(code: Http1ResponseErrorCode, message: string): -1 {
    this.phase = Phase.Failed;
    this.reusable = false;
    this.pending = EMPTY;
    this.errorValue = new Http1ResponseError(code, message);
    return -1;
  }
}

interface StatusLine {
  status: number;
  reason: string;
  httpVersion: number;
}

/** ngx_http_parse_status_line over one line (line end removed); null if it is not one. */
export function parseStatusLine(line: string): StatusLine | null {
  // "HTTP/" is known to be there.
  let i = 5;
  let major = 0;
  const majorStart = i;
  while (i < line.length && isDigit(line.charCodeAt(i))) major = major * 10 + line.charCodeAt(i++) - DIGIT_0;
  if (i === majorStart || i - majorStart > 3 || line.charCodeAt(i) !== 0x2e) return null;
  i++;
  let minor = 0;
  const minorStart = i;
  while (i < line.length && isDigit(line.charCodeAt(i))) minor = minor * 10 + line.charCodeAt(i++) - DIGIT_0;
  if (i === minorStart || i - minorStart > 3 || line.charCodeAt(i) !== SP) return null;
  while (line.charCodeAt(i) === SP) i++;
  if (i + 3 > line.length) return null;
  let status = 0;
  for (let k = 0; k < 3; k++) {
    const c = line.charCodeAt(i + k);
    if (!isDigit(c)) return null;
    status = status * 10 + c - DIGIT_0;
  }
  i += 3;
  if (status < 100) return null;
  let reason = '';
  if (i < line.length) {
    // nginx: SP then the text; '.' too (IIS's "403.1").
    const c = line.charCodeAt(i);
    if (c !== SP && c !== 0x2e) return null;
    reason = line.slice(i + 1);
  }
  return { status, reason, httpVersion: major * 1000 + minor };
}

function stripCR(text: string, start: number, lfAt: number): string {
  const end = lfAt > start && text.charCodeAt(lfAt - 1) === CR ? lfAt - 1 : lfAt;
  return text.slice(start, end);
}

function isDigit(c: number): boolean {
  return c >= DIGIT_0 && c <= DIGIT_9;
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

/**
 * What the HTTP router makes of a worker's response head: the head it sends the client, and how
 * the body is framed on the client connection.
 *
 * A worker on a uwsgi socket answers with a raw HTTP response and closes the connection after it,
 * so its body may have no length at all. To keep the client connection open across requests the
 * router needs a framing the client can read: uWSGI's router gets one only with
 * --http-keepalive --http-auto-chunked (plugins/http/keepalive.c, http_response_parse); tsgi does
 * the same by default:
 *
 *   HEAD request, 1xx, 204, 304  no body                                    keep-alive
 *   Content-Length               relayed, ends after that many bytes        keep-alive
 *   Transfer-Encoding: chunked   relayed as it is, ends at the last chunk   keep-alive
 *   neither, HTTP/1.1 client     re-framed as chunked, ends at the worker's close   keep-alive
 *   neither, HTTP/1.0 client     relayed until the worker closes            connection closed
 *
 * The worker's `Connection` and `Keep-Alive` fields describe the worker's connection, not the
 * client's (RFC 9110 §7.6.1), so they are not relayed; a `Connection: close` from the worker still
 * closes the client connection after the response, as in uWSGI. The status line is the router's
 * own, HTTP/1.1, whatever version the worker wrote (it echoes the request's). A response without a
 * Date gets one (RFC 9110 §6.6.1: a recipient with a clock that forwards a response without Date
 * adds it; the workers' uwsgi responses have none, as uWSGI's do not).
 */
import { Http1RequestParser, type Http1RequestHandlers, type RequestHead } from '../../protocols/http1.js';
import type { CgiResponseHead } from '../../protocols/cgi-response.js';
import { KEEP_FIELD, RETRY_FIELD } from './worker-pool.js';

/** How the response body travels to the client. */
export const enum BodyFraming {
  /** No body (HEAD, 1xx, 204, 304): the response ends with its head. */
  None,
  /** Content-Length bytes. */
  Length,
  /** The worker's own chunked encoding, relayed byte for byte. */
  Chunked,
  /** No length from the worker: the router writes each piece as a chunk and ends with the last chunk. */
  Rechunk,
  /** No length and an HTTP/1.0 client: the body ends when the connection closes. */
  Close,
}

export interface FramedHead {
  /** The head to send the client (latin1). */
  head: string;
  framing: BodyFraming;
  /** The body length for `BodyFraming.Length`. */
  length: number;
  /** The client connection stays open after this response. */
  keepAlive: boolean;
  /** The worker keeps its connection after this response (`Tsgi-Keep`, when `pooled`). */
  workerKeeps: boolean;
  /** Not a response: a stopping worker did not read the request (`Tsgi-Retry`, when `pooled`). */
  workerGone: boolean;
}

/** Plain decimal digits, else -1 (a response the router cannot frame by length). */
function parseLength(value: string): number {
  if (value.length === 0 || value.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const digit = value.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

/** True when a comma-separated field value lists `token` (ASCII case-insensitive). */
function hasToken(value: string, token: string): boolean {
  const lower = value.toLowerCase();
  let at = lower.indexOf(token);
  while (at >= 0) {
    const before = at === 0 ? 0x2c : lower.charCodeAt(at - 1);
    const after = at + token.length === lower.length ? 0x2c : lower.charCodeAt(at + token.length);
    if ((before === 0x2c || before === 0x20 || before === 0x09) && (after === 0x2c || after === 0x20 || after === 0x09)) return true;
    at = lower.indexOf(token, at + 1);
  }
  return false;
}

/** True when the last transfer coding listed is chunked (RFC 9112 §6.3: then the body is chunked). */
function endsWithChunked(value: string): boolean {
  return /(?:^|[\s,])chunked[\s]*$/i.test(value);
}

/**
 * The client's head for a worker's `response` to `request`. `closing` says the router will close
 * the client connection after this response anyway (draining, an unread request body); `date` is
 * the current Date value.
 */
export function frameResponse(response: CgiResponseHead, request: RequestHead, closing: boolean, date: string, pooled = false): FramedHead {
  const status = response.status;
  const bodyless = request.method === 'HEAD' || status < 200 || status === 204 || status === 304;
  let keepAlive = request.keepAlive && !request.upgrade && !closing;
  let length = -1;
  let chunked = false;
  let hasDate = false;
  let workerKeeps = false;
  let workerGone = false;
  let head = `HTTP/1.1 ${status} ${response.reason}\r\n`;
  const fields = response.headers;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    switch (name.length) {
      case 4: // Date
        if (name.toLowerCase() === 'date') hasDate = true;
        break;
      case 9: // Tsgi-Keep: between tsgi's router and its Python workers only (./worker-pool.ts)
        if (pooled && name.toLowerCase() === KEEP_FIELD) {
          workerKeeps = true;
          continue;
        }
        break;
      case 10: // Connection, Keep-Alive
        if (name.toLowerCase() === 'connection') {
          if (hasToken(value, 'close')) keepAlive = false;
          continue;
        }
        if (name.toLowerCase() === 'keep-alive') continue;
        if (pooled && name.toLowerCase() === RETRY_FIELD) workerGone = true;
        break;
      case 14: // Content-Length
        if (name.toLowerCase() === 'content-length') length = parseLength(value);
        break;
      case 17: // Transfer-Encoding
        if (name.toLowerCase() === 'transfer-encoding' && endsWithChunked(value)) chunked = true;
        break;
    }
    head += `${name}: ${value}\r\n`;
  }
  if (!hasDate) head += `Date: ${date}\r\n`;
  let framing: BodyFraming;
  if (bodyless) {
    framing = BodyFraming.None;
  } else if (chunked) {
    framing = BodyFraming.Chunked;
  } else if (length >= 0) {
    framing = BodyFraming.Length;
  } else if (keepAlive && request.versionMinor === 1) {
    framing = BodyFraming.Rechunk;
    head += 'Transfer-Encoding: chunked\r\n';
  } else {
    framing = BodyFraming.Close;
    keepAlive = false;
  }
  if (!keepAlive) head += 'Connection: close\r\n';
  else if (request.versionMinor === 0) head += 'Connection: keep-alive\r\n';
  return { head: head + '\r\n', framing, length, keepAlive, workerKeeps, workerGone };
}

/** A request head whose chunked body the HTTP codec then reads: see ChunkedBodyEnd. */
const CHUNKED_PRIMER = Buffer.from('POST / HTTP/1.1\r\nHost: router\r\nTransfer-Encoding: chunked\r\n\r\n', 'latin1');

/**
 * Finds where a worker's chunked body ends, so the client connection can stay open after it.
 * The chunked grammar is the same in both directions, so this reuses the HTTP codec's chunked
 * parser (fuzzed with the request side) by priming it with a request head; it only watches the
 * framing, the bytes are relayed unchanged.
 */
export class ChunkedBodyEnd implements Http1RequestHandlers {
  private readonly parser = new Http1RequestParser(this);
  private ended = false;

  constructor() {
    this.parser.execute(CHUNKED_PRIMER);
  }

  /** True once the last chunk and the trailer section went past. */
  get done(): boolean {
    return this.ended;
  }

  /** How many bytes of `data` belong to the body (fewer once it ends), or -1 on broken framing. */
  feed(data: Buffer): number {
    return this.parser.execute(data);
  }

  onHead(): void {
    // The primer's head: nothing to do.
  }

  onBody(): void {
    // Relayed by the caller as they came.
  }

  onComplete(): void {
    this.ended = true;
  }
}

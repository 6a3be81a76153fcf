/**
 * One connection to an HTTP upstream (`proxy_pass`), carrying one request at a time: it writes
 * the request head and body, feeds the response bytes to the HTTP/1.x decoder
 * (protocols/http1-response.ts) and hands the caller the head and a ResponseBody. The socket,
 * its three timeouts and the nginx-worded socket errors are UpstreamConnection's
 * (connection.ts); this file is the HTTP exchange on top of it.
 *
 * States:
 *
 *   connecting --connected--> active --response ended, reusable--> idle --next request--> active
 *        \                      \--101 Switching Protocols--> detached (the caller owns the socket)
 *         \_____________________ \--anything else--------------------------------> closed
 *
 * Reusable (nginx's u->keepalive plus ngx_http_upstream_keepalive_module): the request asked to
 * keep the connection (HTTP/1.1 to a group with `keepalive`), the whole request was written, the
 * response was HTTP/1.1 without `Connection: close` and ended by its framing with no byte after
 * it, and the connection is under keepalive_requests and keepalive_time.
 *
 * The per-request state lives in fields reset by `start`, and the connection itself is the
 * decoder's handler, the body's source and the socket's owner: no closures per request beyond
 * the one promise for the head.
 */
import { createReadStream } from 'node:fs';
import type { Socket } from 'node:net';
import { Http1ResponseDecoder, type Http1ResponseHandlers, type ResponseHead } from '../protocols/http1-response.js';
import { UpstreamConnection, type ConnectionOwner } from './connection.js';
import { UpstreamError, phaseAction, type UpstreamErrorCode, type UpstreamPhase } from './errors.js';
import type { Peer } from './peer.js';
import type { Poolable } from './pool.js';
import { RAW_BODY, sendRequest, type BodyFraming } from './request-body.js';
import { ResponseBody, type BodySource } from './response-body.js';
import type { UpstreamTimeouts } from './timeouts.js';
import type { CancelSignal, UpstreamLog } from './types.js';

/** The request as the proxy module prepared it. */
export interface HttpRequest {
  readonly method: string;
  /** The request-target sent: `/path?query`. */
  readonly target: string;
  /** Flat [name, value, ...], complete (Host, Connection, Content-Length... included), latin1. */
  readonly headers: readonly string[];
  readonly httpVersion: '1.0' | '1.1';
  /** Keep the connection after the response if it allows it. */
  readonly keepAlive: boolean;
}

/** The request body (the same shape as the web server's PassBody). */
export type HttpBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'buffer'; readonly data: Buffer }
  /** Read from the file for each attempt. */
  | { readonly kind: 'file'; readonly path: string; readonly size: number }
  /** Not replayable. `length` -1: sent chunked (HTTP/1.1 only). */
  | { readonly kind: 'stream'; readonly chunks: AsyncIterable<Buffer>; readonly length: number };

export interface HttpResponse {
  readonly status: number;
  readonly reason: string;
  readonly httpVersion: number;
  readonly headers: readonly string[];
  readonly body: ResponseBody;
  /** After a 101: the socket (paused; the caller listens and resumes) and the bytes after the head. */
  readonly upgrade?: { readonly socket: Socket; readonly head: Buffer };
}

export interface HttpConnectionHooks {
  readonly log: UpstreamLog;
  /** The response ended and the connection can carry another request: pool it. */
  onReusable(connection: HttpConnection): void;
  /** An idle connection closed (the peer hung up). */
  onIdleClose(connection: HttpConnection): void;
}

export interface HttpConnectionLimits {
  readonly maxHeadSize: number;
  readonly highWaterMark: number;
  /** keepalive_requests: requests one connection carries at most. */
  readonly maxRequests: number;
  /** keepalive_time in ms: how long a connection may be reused since it was opened. */
  readonly maxAgeMs: number;
}

export type HttpConnectionState = 'connecting' | 'active' | 'idle' | 'detached' | 'closed';

const CRLF = '\r\n';
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
const CHUNK_END = Buffer.from(CRLF, 'latin1');
const PIECE = 64 * 1024;
/** HTTP/1.1 chunked framing for a request body of unknown length. */
const CHUNKED_BODY: BodyFraming = {
  frame: (chunk) => Buffer.concat([Buffer.from(chunk.length.toString(16) + CRLF, 'latin1'), chunk, CHUNK_END]),
  end: LAST_CHUNK,
  pieceSize: PIECE,
};
const PREMATURE = 'upstream prematurely closed connection';

export class HttpConnection implements ConnectionOwner, BodySource, Http1ResponseHandlers, Poolable {
  private readonly connection: UpstreamConnection;
  private readonly decoder: Http1ResponseDecoder;
  private readonly hooks: HttpConnectionHooks;
  private readonly limits: HttpConnectionLimits;
  private readonly peerName: string;
  private readonly openedAt = Date.now();
  private stateValue: HttpConnectionState = 'connecting';
  private requests = 0;

  // ---- the request in progress (reset by start) ----
  private keepAlive = false;
  /** The request-target, for error messages. */
  private target = '';
  private sent = false;
  /** The response ended before the request was seen all sent: pool the connection then. */
  private reuseWhenSent = false;
  private settled = true;
  private headSeen = false;
  private received = 0;
  private body: ResponseBody | null = null;
  private signal: CancelSignal | null = null;
  private resolveHead: ((response: HttpResponse) => void) | null = null;
  private rejectHead: ((error: UpstreamError) => void) | null = null;
  private readonly onAbort = (): void => this.abort();

  constructor(peer: Peer, timeouts: UpstreamTimeouts, limits: HttpConnectionLimits, hooks: HttpConnectionHooks) {
    this.peerName = peer.name;
    this.hooks = hooks;
    this.limits = limits;
    this.connection = new UpstreamConnection(peer, timeouts);
    this.connection.onIdleClose = () => {
      if (this.stateValue !== 'idle') return;
      this.stateValue = 'closed';
      hooks.onIdleClose(this);
    };
    this.decoder = new Http1ResponseDecoder(this, { maxHeadSize: limits.maxHeadSize });
  }

  get state(): HttpConnectionState {
    return this.stateValue;
  }

  /** Requests started on this connection. */
  get requestCount(): number {
    return this.requests;
  }

  /** Response bytes seen for the current request: a reused connection that fails before any
   *  may be retried on a new one. */
  get bytesReceived(): number {
    return this.received;
  }

  get readPhase(): UpstreamPhase {
    return this.headSeen ? 'reading response body' : 'reading response header';
  }

  /** Sends a request; resolves at the response head, rejects with an UpstreamError. */
  start(request: HttpRequest, body: HttpBody, signal: CancelSignal | null): Promise<HttpResponse> {
    this.requests++;
    this.keepAlive = request.keepAlive;
    this.target = request.target;
    this.sent = false;
    this.reuseWhenSent = false;
    this.settled = false;
    this.headSeen = false;
    this.received = 0;
    this.body = null;
    this.decoder.reset(request.method === 'HEAD');
    if (this.stateValue === 'idle') this.stateValue = 'active';
    const response = new Promise<HttpResponse>((resolve, reject) => {
      this.resolveHead = resolve;
      this.rejectHead = reject;
    });
    this.signal = signal;
    if (signal !== null) {
      if (signal.aborted) {
        queueMicrotask(this.onAbort);
      } else {
        signal.addEventListener('abort', this.onAbort, { once: true });
      }
    }
    this.connection.setOwner(this);
    const head = encodeHead(request);
    if (this.stateValue === 'connecting') {
      this.connection.connected.then(
        () => {
          if (this.stateValue === 'connecting') this.stateValue = 'active';
          this.send(head, body, request.httpVersion);
        },
        // The connection told its owner (this) already.
        () => {},
      );
    } else {
      this.send(head, body, request.httpVersion);
    }
    return response;
  }

  close(): void {
    if (this.stateValue === 'closed' || this.stateValue === 'detached') return;
    const wasIdle = this.stateValue === 'idle';
    this.stateValue = 'closed';
    this.connection.destroy();
    if (wasIdle) this.hooks.onIdleClose(this);
  }

  // ---- sending ------------------------------------------------------------------------------

  private send(head: Buffer, body: HttpBody, httpVersion: '1.0' | '1.1'): void {
    if (this.settled) return;
    let source: Buffer | AsyncIterable<Uint8Array> | undefined;
    let length: number | null = null;
    let framing = RAW_BODY;
    switch (body.kind) {
      case 'none':
        break;
      case 'buffer':
        source = body.data;
        break;
      case 'file':
        source = body.size === 0 ? undefined : createReadStream(body.path, { highWaterMark: PIECE });
        length = body.size;
        break;
      case 'stream':
        source = body.chunks;
        if (body.length >= 0) length = body.length;
        else if (httpVersion === '1.1') framing = CHUNKED_BODY;
        break;
    }
    sendRequest(this.connection, { head, body: source, contentLength: length, framing }, this.peerName).then(
      () => this.onSent(),
      (error: unknown) => this.onSendFailed(error),
    );
  }

  private onSent(): void {
    this.sent = true;
    if (this.reuseWhenSent) {
      this.reuseWhenSent = false;
      this.makeIdle();
      return;
    }
    // nginx arms the read timeout once the request is sent (ngx_http_upstream_send_request).
    if (!this.settled) this.connection.expectResponse();
  }

  private onSendFailed(error: unknown): void {
    if (this.reuseWhenSent) {
      this.reuseWhenSent = false;
      this.close();
      return;
    }
    if (this.settled) return;
    const failure = error instanceof UpstreamError ? error : this.error('ERR_UPSTREAM_SEND', String(error), 'sending request');
    this.fail(failure);
  }

  // ---- ConnectionOwner ----------------------------------------------------------------------

  onData(chunk: Buffer): void {
    if (this.settled) return;
    this.received += chunk.length;
    const used = this.decoder.execute(chunk);
    if (used < 0) {
      const why = this.decoder.error?.message ?? 'upstream sent invalid response';
      this.fail(this.error('ERR_UPSTREAM_INVALID_RESPONSE', why, this.readPhase));
      return;
    }
    if (!this.decoder.complete) return;
    const head = this.decoder.head!;
    if (head.framing === 'upgrade') {
      this.upgrade(head, used < chunk.length ? chunk.subarray(used) : EMPTY);
      return;
    }
    if (used < chunk.length) {
      // nginx's warnings for bytes past the body; the connection is not reused.
      const what = head.framing === 'chunked' ? 'upstream sent data after final chunk' : 'upstream sent more data than specified in "Content-Length" header';
      this.hooks.log('warn', `${what} while reading upstream, upstream: "${this.peerName}"`);
    }
    this.complete(this.decoder.keepAlive && used === chunk.length);
  }

  onEnd(): void {
    if (this.settled) return;
    const failure = this.decoder.end();
    if (failure === null) {
      // A body that runs until close ended with it.
      this.complete(false);
      return;
    }
    this.fail(this.error('ERR_UPSTREAM_PREMATURE_CLOSE', PREMATURE, this.readPhase));
  }

  onError(error: UpstreamError): void {
    if (this.settled) return;
    this.fail(error);
  }

  // ---- Http1ResponseHandlers ----------------------------------------------------------------

  onHead(head: ResponseHead): void {
    this.headSeen = true;
    if (head.framing === 'upgrade') return;
    const body = new ResponseBody(this, this.limits.highWaterMark);
    this.body = body;
    const resolve = this.resolveHead!;
    this.resolveHead = null;
    this.rejectHead = null;
    resolve({ status: head.status, reason: head.reason, httpVersion: head.httpVersion, headers: head.headers, body });
  }

  onBody(chunk: Buffer): void {
    this.body?.push(chunk);
  }

  /** The decoder's end of a response: acted on in onData / onEnd, where the rest of the input
   *  (bytes past the body, after a 101) is known. */
  onComplete(): void {}

  // ---- BodySource ---------------------------------------------------------------------------

  pause(): void {
    if (!this.settled) this.connection.pause();
  }

  resume(): void {
    if (!this.settled) this.connection.resume();
  }

  cancel(): void {
    this.abort();
  }

  // ---- endings ------------------------------------------------------------------------------

  private abort(): void {
    if (this.settled) return;
    let phase: UpstreamPhase = this.readPhase;
    if (this.stateValue === 'connecting') phase = 'connecting';
    else if (!this.sent && !this.headSeen) phase = 'sending request';
    this.fail(this.error('ERR_UPSTREAM_ABORTED', 'request aborted by the caller', phase));
  }

  private upgrade(head: ResponseHead, rest: Buffer): void {
    this.settle();
    const socket = this.connection.detach();
    const resolve = this.resolveHead;
    this.resolveHead = null;
    this.rejectHead = null;
    if (socket === null || resolve === null) {
      this.stateValue = 'closed';
      return;
    }
    this.stateValue = 'detached';
    const body = new ResponseBody(this, this.limits.highWaterMark);
    body.end();
    resolve({ status: head.status, reason: head.reason, httpVersion: head.httpVersion, headers: head.headers, body, upgrade: { socket, head: rest } });
  }

  private complete(reusable: boolean): void {
    this.settle();
    const body = this.body;
    this.body = null;
    const keep =
      reusable &&
      this.keepAlive &&
      this.stateValue === 'active' &&
      this.connection.state === 'open' &&
      this.requests < this.limits.maxRequests &&
      Date.now() - this.openedAt < this.limits.maxAgeMs;
    // The peer may answer before this side has seen its last write complete (a file body's
    // EOF read is still pending): the connection is reused once the request is all sent, as
    // nginx's keepalive module requires (u->request_body_sent).
    if (keep && !this.sent) this.reuseWhenSent = true;
    else if (keep) this.makeIdle();
    else this.close();
    body?.end();
  }

  private makeIdle(): void {
    if (this.stateValue !== 'active' || this.connection.state !== 'open') {
      this.close();
      return;
    }
    this.stateValue = 'idle';
    this.connection.setOwner(null);
    this.hooks.onReusable(this);
  }

  private fail(failure: UpstreamError): void {
    const error = this.withUri(failure);
    this.settle();
    this.close();
    const body = this.body;
    this.body = null;
    const reject = this.rejectHead;
    this.resolveHead = null;
    this.rejectHead = null;
    if (reject !== null) reject(error);
    else body?.fail(error);
  }

  /**
   * nginx names a proxied upstream with the URI it was sent ("http://127.0.0.1:8080/app/x",
   * "http://unix:/run/a.sock:/x": ngx_http_log_error_handler prints schema, peer and u->uri);
   * the socket's errors only know the peer.
   */
  private withUri(error: UpstreamError): UpstreamError {
    if (error.peer !== this.peerName || this.target === '') return error;
    const suffix = ` while ${phaseAction(error.phase)}, upstream: "${error.peer}"`;
    if (!error.message.endsWith(suffix)) return error;
    const what = error.message.slice(0, -suffix.length);
    const separator = this.peerName.startsWith('http://unix:') ? ':' : '';
    return new UpstreamError(error.code, what, error.phase, `${this.peerName}${separator}${this.target}`, { cause: error.cause });
  }

  private settle(): void {
    this.settled = true;
    if (this.signal !== null) {
      this.signal.removeEventListener('abort', this.onAbort);
      this.signal = null;
    }
  }

  private error(code: UpstreamErrorCode, what: string, phase: UpstreamPhase): UpstreamError {
    return new UpstreamError(code, what, phase, this.peerName);
  }
}

const EMPTY = Buffer.alloc(0);

/** The request line and header block, in one latin1 buffer. */
function encodeHead(request: HttpRequest): Buffer {
  let text = `${request.method} ${request.target} HTTP/${request.httpVersion}${CRLF}`;
  const headers = request.headers;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}${CRLF}`;
  return Buffer.from(text + CRLF, 'latin1');
}

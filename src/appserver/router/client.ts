/**
 * One client connection of the HTTP router, and the worker connection of the request it is on.
 *
 * The hot path, per request: the HTTP codec hands over the head, the router encodes the uwsgi
 * packet, opens a connection to the workers' private socket (uWSGI's router and nginx both open
 * one per uwsgi request: the protocol has no keep-alive) or, for tsgi's Python workers, takes a
 * kept one from the pool (./worker-pool.ts), writes the packet and the body, and
 * relays what the worker answers, re-framed for the client's keep-alive (./response.ts). One
 * request at a time per client connection: pipelined requests wait in `stash`, as they do in the
 * workers' own HTTP server. Both directions stream with backpressure: a slow worker pauses the
 * client's reads, a slow client pauses the worker's.
 *
 * Written for a proxy's per-request budget (a few tens of microseconds): no general-purpose
 * client, no promise or closure per request. The connection is its own state machine, the worker
 * socket is a `Socket` subclass whose listeners are shared functions, and timeouts are counted by
 * the server's once-a-second sweep (`tick()`) instead of a timer per request.
 */
import type { Socket } from 'node:net';
import type { CgiResponseHead } from '../../protocols/cgi-response.js';
import {
  Http1RequestParser,
  type Http1RequestHandlers,
  type HttpParseError,
  type RequestHead,
} from '../../protocols/http1.js';
import { TIMED_OUT, errnoText, phaseAction, systemErrorCode } from '../../upstream/errors.js';
import { encodeRequestPacket, varsBlockSize, type ConnectionVars } from './vars.js';
import { frameResponse } from './response.js';
import { BodyRelay, RelayStep } from './body-relay.js';
import { errorLogLine, errorResponse } from './error-response.js';
import type { RouterContext } from './context.js';
import { KEEP_CONNECTION, type PoolClient } from './worker-pool.js';
import { WorkerSocket, onWorkerDrain } from './worker-socket.js';

/** Request body bytes held while the worker connection opens before the client is paused. */
const PENDING_HIGH_WATER = 64 * 1024;
/** Request body bytes kept, once sent to a kept connection, to send them again after a goodbye. */
const RETRY_HIGH_WATER = 64 * 1024;
/** Pipelined bytes held while a response is in progress before the client is paused. */
const PIPELINE_HIGH_WATER = 64 * 1024;
const CONTINUE_LINE = 'HTTP/1.1 100 Continue\r\n\r\n';
/** First wait before connecting again when the workers' listen queue is full (EAGAIN). */
const RETRY_FIRST_MS = 5;
const RETRY_MAX_MS = 100;

export class ClientConnection implements Http1RequestHandlers, PoolClient {
  private readonly parser: Http1RequestParser;
  private readonly vars: ConnectionVars;
  private readonly client: string;
  /** Bytes of the next requests, held while the current one is answered. */
  private stash: Buffer | null = null;
  private feeding = false;
  /** Close after the response in progress (draining, the client half-closed). */
  private closing = false;
  /** The connection was ended: bytes still arriving are ignored. */
  private finished = false;
  /** Set on every read from the client; the sweep clears it and counts idle seconds. */
  private clientActive = true;
  private clientIdle = 0;

  // The request in progress: `head` is null between requests.
  private head: RequestHead | null = null;
  private requestComplete = false;
  private responseComplete = false;
  /** The head went to the client: an error can no longer become a status. */
  private responseStarted = false;
  /** Body bytes not yet written to the worker: while its connection opens, or the whole chunked body. */
  private pending: Buffer[] | null = null;
  private pendingBytes = 0;
  private packet: Buffer | null = null;
  private worker: WorkerSocket | null = null;
  private workerConnected = false;
  private workerActive = false;
  private workerIdle = 0;
  private retryDelay = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  /** A 1xx went to the client: the worker's next bytes start another head. */
  private interim = false;
  /** The worker is paused until the client's socket drains. */
  private workerPaused = false;
  /** The response body in progress. */
  private readonly body = new BodyRelay();
  /** Waiting in the pool for a kept worker connection. */
  private queued = false;
  /** The request went to a fresh connection after a worker's goodbye: once per request. */
  private retried = false;
  /**
   * What went to a kept connection for this request (the packet, then body chunks), kept to send
   * it again after a worker's goodbye; null when there is none or it outgrew RETRY_HIGH_WATER.
   */
  private sent: Buffer[] | null = null;
  private sentBytes = 0;

  constructor(
    readonly socket: Socket,
    private readonly context: RouterContext,
    serverPort: string,
  ) {
    this.parser = new Http1RequestParser(this, context.limits);
    const remoteAddr = socket.remoteAddress ?? '';
    const remotePort = String(socket.remotePort ?? '');
    this.vars = { remoteAddr, remotePort, serverName: context.serverName, serverPort };
    this.client = remoteAddr === '' ? 'unix' : remoteAddr;
    socket.setNoDelay(true);
    // A client that half-closes after its request still gets the response (onEnd decides when
    // to end this side); Node would otherwise end it at once.
    socket.allowHalfOpen = true;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('drain', () => this.onClientDrain());
    socket.on('error', () => {
      // ECONNRESET and friends: 'close' follows and cleans up.
    });
    socket.on('close', () => this.onClose());
  }

  /** Nothing in progress and nothing buffered: may be closed at once. */
  get idle(): boolean {
    return this.head === null && this.stash === null && this.parser.idle;
  }

  /** Graceful shutdown: close now if idle, else after the response in progress. */
  shutdown(): void {
    this.closing = true;
    if (this.idle) this.finish();
  }

  /** Once a second, from the server's sweep: keep-alive, header, and worker timeouts. */
  tick(): void {
    const context = this.context;
    if (this.clientActive) this.clientIdle = 0;
    else this.clientIdle++;
    this.clientActive = false;
    if (this.head === null) {
      // Between requests the keep-alive limit applies; inside a head (or, without keep-alive,
      // before the only request) the timeout does.
      const limit = this.parser.idle && context.keepAliveSeconds > 0 ? context.keepAliveSeconds : context.timeoutSeconds;
      if (this.clientIdle >= limit) this.socket.destroy();
      return;
    }
    if (this.workerPaused) {
      // The worker waits for this client to read what was already sent (nginx's send_timeout).
      if (this.clientIdle >= context.timeoutSeconds) this.fail('client timed out while sending the response to the client', 0);
      return;
    }
    const waitingForWorker = this.worker !== null || this.retryTimer !== null || this.queued;
    if (waitingForWorker && !this.responseComplete) {
      if (this.workerActive) this.workerIdle = 0;
      else this.workerIdle++;
      this.workerActive = false;
      if (this.workerIdle >= context.timeoutSeconds) {
        const action = !this.workerConnected ? 'connecting' : this.responseStarted ? 'reading response body' : 'reading response header';
        this.fail(`${TIMED_OUT} while ${phaseAction(action)}`, 504);
      }
    } else if (!this.requestComplete && this.clientIdle >= context.timeoutSeconds) {
      // A client that stopped sending its body (nginx's client_body_timeout).
      this.socket.destroy();
    }
  }

  resumeClient(): void {
    const socket = this.socket;
    if (!socket.isPaused() || this.finished) return;
    if (this.stash !== null && this.stash.length >= PIPELINE_HIGH_WATER) return;
    if (this.pending !== null && this.pendingBytes >= PENDING_HIGH_WATER && !this.head?.chunked) return;
    if (this.worker !== null && this.workerConnected && this.worker.writableNeedDrain) return;
    socket.resume();
  }

  // ---- client side ------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    this.clientActive = true;
    if (this.finished) return;
    if (this.stash !== null) {
      this.stash = Buffer.concat([this.stash, chunk]);
      if (this.stash.length >= PIPELINE_HIGH_WATER) this.socket.pause();
      return;
    }
    this.feed(chunk);
  }

  private feed(data: Buffer): void {
    this.feeding = true;
    let offset = 0;
    while (offset < data.length && !this.finished) {
      if (this.head !== null && this.requestComplete) {
        // Pipelined: the next request waits until this response is out.
        this.stash = offset === 0 ? data : data.subarray(offset);
        if (this.stash.length >= PIPELINE_HIGH_WATER) this.socket.pause();
        break;
      }
      const consumed = this.parser.execute(data, offset);
      if (consumed < 0) {
        this.onParseError(this.parser.error!);
        break;
      }
      if (consumed === 0) break;
      offset += consumed;
    }
    this.feeding = false;
    if (this.head !== null && this.requestComplete && this.responseComplete) this.nextRequest();
  }

  onHead(head: RequestHead): void {
    this.head = head;
    this.requestComplete = false;
    this.responseComplete = false;
    this.responseStarted = false;
    this.workerIdle = 0;
    this.retried = false;
    if (head.expectContinue && (head.chunked || head.contentLength > 0)) {
      // The router reads the body itself (to forward or to de-chunk it), so it asks for it at
      // once, as uWSGI's --http-manage-expect does.
      this.socket.write(CONTINUE_LINE, 'latin1');
    }
    if (head.chunked) {
      // uwsgi frames a body by CONTENT_LENGTH only: the chunked body is read whole, then sent.
      this.pending = [];
      this.pendingBytes = 0;
      return;
    }
    this.connectWorker(-1);
  }

  onBody(chunk: Buffer): void {
    if (this.responseComplete || this.finished) return;
    const pending = this.pending;
    if (pending !== null) {
      pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.head!.chunked) {
        if (this.pendingBytes > this.context.chunkedBodyLimit) {
          this.fail(`client intended to send too large chunked body: more than ${this.context.chunkedBodyLimit} bytes`, 413);
        }
      } else if (this.pendingBytes >= PENDING_HIGH_WATER) {
        this.socket.pause();
      }
      return;
    }
    const worker = this.worker;
    const sent = this.sent;
    if (sent !== null) {
      this.sentBytes += chunk.length;
      if (this.sentBytes > RETRY_HIGH_WATER) this.sent = null;
      else sent.push(chunk);
    }
    if (worker !== null && !worker.write(chunk)) {
      this.socket.pause();
      worker.once('drain', onWorkerDrain);
    }
  }

  onComplete(): void {
    this.requestComplete = true;
    if (this.head!.chunked && !this.responseComplete && this.worker === null) this.connectWorker(this.pendingBytes);
    if (this.responseComplete && !this.feeding) this.nextRequest();
  }

  private onParseError(error: HttpParseError): void {
    if (this.head !== null) {
      // Broken framing inside a body: the worker has part of a request it cannot finish.
      this.context.log.line(errorLogLine(`client sent a bad request body (${error.message})`, this.client, this.head, this.context.upstreamName, 0));
      this.abortWorker();
      this.finished = true;
      this.socket.destroy();
      return;
    }
    this.context.log.line(`tsgi http router: bad request from ${this.client}: ${error.message} (${error.status})`);
    this.finished = true;
    this.stash = null;
    this.socket.end(errorResponse(error.status, this.context.clock.header, false), 'latin1');
  }

  private onEnd(): void {
    const error = this.parser.finish();
    if (this.head === null) {
      this.finish();
      return;
    }
    if (!this.requestComplete || error !== null) {
      // The client left in the middle of its request: the worker gets a connection reset.
      this.abortWorker();
      this.socket.destroy();
      return;
    }
    // Half-close after a complete request: the response still goes out, then the connection closes.
    this.closing = true;
  }

  private onClientDrain(): void {
    this.clientActive = true;
    if (this.workerPaused) {
      this.workerPaused = false;
      this.worker?.resume();
    }
  }

  private onClose(): void {
    this.finished = true;
    this.abortWorker();
    this.context.forget(this);
  }

  /** No more requests on this connection: flush what was written and close. */
  private finish(): void {
    this.finished = true;
    this.closing = true;
    this.stash = null;
    this.socket.end();
  }

  private nextRequest(): void {
    this.head = null;
    this.pending = null;
    this.sent = null;
    this.interim = false;
    if (this.stash !== null && !this.feeding) {
      const next = this.stash;
      this.stash = null;
      this.feed(next);
      if (!this.finished) this.resumeClient();
    } else if (this.closing && this.idle) {
      this.finish();
    }
  }

  /** The response is complete on the client socket; `keepAlive` says whether another request may follow. */
  private responseDone(keepAlive: boolean): void {
    this.responseComplete = true;
    if (this.body.workerKeeps && this.requestComplete && this.pending === null && this.worker !== null) this.releaseWorker();
    else this.abortWorker();
    if (!keepAlive || this.closing || !this.requestComplete) {
      // An unread request body would have to be read and thrown away first: closing is simpler.
      this.finish();
      return;
    }
    if (!this.feeding) this.nextRequest();
  }

  /**
   * The request cannot be answered by a worker: `status` goes to the client (nginx's 502/504/413)
   * if no response has started, else the connection is cut. Either way the log names the request.
   */
  private fail(what: string, status: number): void {
    const head = this.head;
    const started = this.responseStarted;
    this.context.log.line(errorLogLine(what, this.client, head, this.context.upstreamName, started ? 0 : status));
    this.abortWorker();
    if (started) {
      this.finished = true;
      this.socket.destroy();
      return;
    }
    this.responseStarted = true;
    const keepAlive = head !== null && head.keepAlive && !this.closing && this.requestComplete && this.context.keepAliveSeconds > 0;
    this.socket.write(errorResponse(status, this.context.clock.header, keepAlive), 'latin1');
    this.responseDone(keepAlive);
  }

  // ---- worker side ------------------------------------------------------------------------------

  /** Opens the connection to the workers for the current request; `contentLength` >= 0 for a de-chunked body. */
  private connectWorker(contentLength: number): void {
    let packet: Buffer;
    try {
      packet = encodeRequestPacket(this.head!, this.vars, contentLength, this.context.pool === null ? 0 : KEEP_CONNECTION);
    } catch (error) {
      this.fail(`cannot forward the request: ${error instanceof Error ? error.message : String(error)}`, 502);
      return;
    }
    const limit = this.context.bufferSize;
    if (varsBlockSize(packet) > limit) {
      // The worker would refuse it ("invalid request block size"): say why here instead.
      this.fail(`uwsgi request is too big: ${varsBlockSize(packet)} bytes of vars, the workers' --buffer-size is ${limit}`, 502);
      return;
    }
    this.packet = packet;
    if (this.pending === null) {
      this.pending = [];
      this.pendingBytes = 0;
    }
    this.openWorkerSocket();
  }

  private openWorkerSocket(): void {
    this.retryTimer = null;
    this.workerConnected = false;
    this.workerActive = true;
    this.body.workerKeeps = false;
    const pool = this.context.pool;
    if (pool === null) {
      const worker = new WorkerSocket(this, null);
      this.worker = worker;
      const upstream = this.context.upstream;
      if ('path' in upstream) worker.connect(upstream.path);
      else worker.connect(upstream.port, upstream.host);
      return;
    }
    const worker = pool.acquire(this, this.retried);
    if (worker === null) this.queued = true;
    else this.onPooledWorker(worker);
  }

  /** A kept connection (idle, or new and connecting) for the current request. */
  onPooledWorker(worker: WorkerSocket): void {
    this.queued = false;
    this.worker = worker;
    if (worker.reused) this.onWorkerConnect();
  }

  onWorkerConnect(): void {
    const worker = this.worker!;
    this.workerConnected = true;
    this.workerActive = true;
    const pending = this.pending!;
    worker.cork();
    worker.write(this.packet!);
    for (let i = 0; i < pending.length; i++) worker.write(pending[i]!);
    worker.uncork();
    if (worker.home !== null) {
      this.sent = [this.packet!, ...pending];
      this.sentBytes = this.pendingBytes;
      if (this.sentBytes > RETRY_HIGH_WATER) this.sent = null;
    }
    this.packet = null;
    this.pending = null;
    this.pendingBytes = 0;
    this.retryDelay = 0;
    if (worker.writableNeedDrain) worker.once('drain', onWorkerDrain);
    else this.resumeClient();
  }

  onWorkerData(worker: WorkerSocket, chunk: Buffer): void {
    this.workerActive = true;
    const socket = this.socket;
    socket.cork();
    if (worker.response.execute(chunk) < 0) {
      socket.uncork();
      const error = worker.response.error!;
      this.fail(`${error.message} while ${phaseAction('reading response header')}`, 502);
      return;
    }
    socket.uncork();
    // The response may have completed (and the next pipelined request started) inside execute().
    if (this.worker === worker && socket.writableNeedDrain && !this.workerPaused) {
      this.workerPaused = true;
      worker.pause();
    }
  }

  onResponseHead(worker: WorkerSocket, response: CgiResponseHead): void {
    const head = this.head!;
    const status = response.status;
    if (status < 200 && status !== 101) {
      // An interim response (100, 103): relayed, and the final head follows on the same connection.
      let interim = `HTTP/1.1 ${status} ${response.reason}\r\n`;
      for (let i = 0; i < response.headers.length; i += 2) interim += `${response.headers[i]}: ${response.headers[i + 1]}\r\n`;
      this.socket.write(`${interim}\r\n`, 'latin1');
      worker.resetResponse();
      this.interim = true;
      return;
    }
    this.interim = false;
    const framed = frameResponse(response, head, this.closing || this.context.keepAliveSeconds === 0, this.context.clock.header, worker.home !== null);
    if (framed.workerGone) {
      if (!this.retryFresh()) this.fail('worker stopped before reading the request while reading response header', 502);
      return;
    }
    this.responseStarted = true;
    this.socket.write(framed.head, 'latin1');
    if (this.body.start(framed) === RelayStep.Done) this.responseDone(framed.keepAlive);
  }

  onResponseBody(chunk: Buffer): void {
    if (this.interim) {
      // The rest of the read after an interim head: the start of the next head.
      const worker = this.worker!;
      if (worker.response.execute(chunk) < 0) this.fail(`${worker.response.error!.message} while ${phaseAction('reading response header')}`, 502);
      return;
    }
    if (this.responseComplete) return;
    const step = this.body.relay(chunk, this.socket);
    if (step === RelayStep.Done) this.responseDone(this.body.keepAlive);
    else if (step === RelayStep.Broken) this.fail('upstream sent invalid chunked response while reading upstream', 502);
  }

  onWorkerEnd(): void {
    if (this.responseComplete) return;
    const worker = this.worker!;
    if (!this.responseStarted || this.interim) {
      // Typically a worker killed by harakiri (or crashed) before it answered.
      const error = worker.response.end();
      this.fail(`${error?.message ?? 'upstream prematurely closed connection'} while ${phaseAction('reading response header')}`, 502);
      return;
    }
    // A cut-short body cuts the client connection (status 0: the head is out).
    if (this.body.end(this.socket) === RelayStep.Done) this.responseDone(this.body.keepAlive);
    else this.fail(`upstream prematurely closed connection while ${phaseAction('reading response body')}`, 0);
  }

  onWorkerError(error: Error): void {
    if (this.responseComplete) return;
    const code = systemErrorCode(error);
    if (!this.workerConnected) {
      if (code === 'EAGAIN' && this.workerIdle < this.context.timeoutSeconds) {
        // The workers' listen queue is full (a UNIX socket refuses at once where TCP would wait
        // for the kernel to retry the SYN): try again shortly, within the connect timeout.
        this.worker!.owner = null;
        this.worker = null;
        this.retryDelay = Math.min(RETRY_MAX_MS, this.retryDelay === 0 ? RETRY_FIRST_MS : this.retryDelay * 2);
        this.retryTimer = setTimeout(() => this.openWorkerSocket(), this.retryDelay);
        return;
      }
      this.fail(`connect() failed ${errnoText(error)} while ${phaseAction('connecting')}`, 502);
      return;
    }
    const action = this.responseStarted ? 'reading response body' : 'reading response header';
    const what = code === 'EPIPE' || code === 'ECONNRESET' ? `${code === 'EPIPE' ? 'writev()' : 'recv()'} failed ${errnoText(error)}` : `${error.message}`;
    this.fail(`${what} while ${phaseAction(action)}`, 502);
  }

  /**
   * A stopping worker answered the request on a kept connection with its goodbye (`Tsgi-Retry`):
   * it never read the request, so the request goes again, once, on a fresh connection, which a
   * worker that still accepts will take; its body too, when it was small enough to keep. A worker
   * that dies says nothing and its request gets a 502, never a second run.
   */
  private retryFresh(): boolean {
    const sent = this.sent;
    if (sent === null || this.retried) return false;
    this.abortWorker();
    this.retried = true;
    this.packet = sent[0]!;
    this.pending = sent.slice(1);
    this.pendingBytes = this.sentBytes;
    this.sent = null;
    this.openWorkerSocket();
    return true;
  }

  /** The response ended cleanly on a kept connection: it goes back to the pool for the next request. */
  private releaseWorker(): void {
    const worker = this.worker!;
    this.worker = null;
    this.workerPaused = false;
    worker.owner = null;
    worker.released = true;
  }

  /** Drops the worker connection of the request (done, failed, or the client went away). */
  private abortWorker(): void {
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (this.queued) {
      this.queued = false;
      this.context.pool!.cancel(this);
    }
    const worker = this.worker;
    if (worker === null) return;
    this.worker = null;
    this.workerPaused = false;
    worker.owner = null;
    worker.destroy();
  }
}

/**
 * One HTTP/1.1 client connection of `--http-socket`: feeds the codec, runs one exchange at a time
 * (pipelined requests wait their turn, responses go out in order), streams the request body into
 * `tsgi.input` with backpressure, answers `Expect: 100-continue` when the application first reads,
 * and turns protocol errors into the status nginx would send.
 */
import { SocketDrain } from '../socket-drain.js';
import type { Socket } from 'node:net';
import { BodyInput, type InputDemand } from '../../gateway/input.js';
import { runApp } from '../../gateway/handler.js';
import { Http1RequestParser, reasonPhrase, type HttpParseError, type RequestHead } from '../../protocols/http1.js';
import { HttpResponseSink, type ResponseOwner } from './response.js';
import { buildHttpEnviron } from './environ.js';
import type { ServedConnection, ServerContext } from '../context.js';

/** A body buffered past this makes the connection stop reading until the application catches up. */
const INPUT_HIGH_WATER = 64 * 1024;
/** Pipelined bytes held while a response is in progress before the socket is paused. */
const PIPELINE_HIGH_WATER = 64 * 1024;
const CONTINUE_LINE = 'HTTP/1.1 100 Continue\r\n\r\n';

class Exchange implements InputDemand {
  readonly input: BodyInput;
  readonly sink: HttpResponseSink;
  requestComplete = false;
  responseComplete = false;
  private continueSent = false;

  constructor(
    readonly connection: HttpConnection,
    readonly head: RequestHead,
    hasBody: boolean,
  ) {
    this.input = hasBody ? new BodyInput(this) : BodyInput.empty();
    this.sink = new HttpResponseSink(connection.socket, head, connection, connection.context.clock);
  }

  wanted(): void {
    if (this.head.expectContinue && !this.continueSent && !this.responseComplete) {
      this.continueSent = true;
      this.connection.socket.write(CONTINUE_LINE, 'latin1');
    }
    this.connection.resumeInput();
  }

  /** A client that asked for 100-continue and never got it may or may not send the body. */
  get bodyStateUnknown(): boolean {
    return this.head.expectContinue && !this.continueSent && !this.requestComplete;
  }
}

export class HttpConnection implements ResponseOwner, ServedConnection {
  private readonly parser: Http1RequestParser;
  private exchange: Exchange | null = null;
  private stash: Buffer | null = null;
  private feeding = false;
  private readonly drainer: SocketDrain;
  private closing = false;
  /** The connection was ended: bytes still arriving are ignored. */
  private finished = false;
  active = true;
  idleTicks = 0;

  constructor(
    readonly socket: Socket,
    readonly context: ServerContext,
  ) {
    this.drainer = new SocketDrain(socket);
    this.parser = new Http1RequestParser(
      {
        onHead: (head) => this.onHead(head),
        onBody: (chunk) => this.onBody(chunk),
        onComplete: () => this.onComplete(),
      },
      context.limits,
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', () => {
      // ECONNRESET and friends: the 'close' handler below does the cleanup.
    });
    socket.on('close', () => this.onClose());
  }

  /** No exchange in progress and no partial request buffered: safe to close. */
  get idle(): boolean {
    return this.exchange === null && this.stash === null && this.parser.idle;
  }

  /** Part of a request head is buffered and no exchange runs: the header timeout applies. */
  get waitingForHead(): boolean {
    return this.exchange === null && (this.stash !== null || !this.parser.idle);
  }

  /** Graceful shutdown: close now if idle, else after the current response. */
  shutdown(): void {
    this.closing = true;
    if (this.idle) this.socket.end();
  }

  resumeInput(): void {
    if (this.socket.isPaused() && (this.stash === null || this.stash.length < PIPELINE_HIGH_WATER)) this.socket.resume();
  }

  drain(): Promise<void> {
    return this.drainer.wait();
  }

  responseDone(keepAlive: boolean): void {
    const exchange = this.exchange!;
    exchange.responseComplete = true;
    if (!keepAlive || this.closing || exchange.bodyStateUnknown) {
      // The exchange stays current until the parser finishes the request (onComplete may follow).
      this.finish();
      return;
    }
    if (exchange.requestComplete && !this.feeding) this.nextExchange();
    // Otherwise the rest of the request body is read and dropped, then the next request starts.
  }

  /** No more requests on this connection: flush what was written and close. */
  private finish(): void {
    this.finished = true;
    this.closing = true;
    this.stash = null;
    this.socket.end();
  }

  private nextExchange(): void {
    this.exchange = null;
    if (this.stash !== null && !this.feeding) {
      const pending = this.stash;
      this.stash = null;
      this.feed(pending);
      this.resumeInput();
    } else if (this.closing && this.idle) {
      this.finish();
    }
  }

  private onData(chunk: Buffer): void {
    this.active = true;
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
      const exchange = this.exchange;
      if (exchange !== null && exchange.requestComplete) {
        if (exchange.responseComplete) {
          // Answered synchronously: go straight on to the next pipelined request (no recursion).
          this.exchange = null;
          continue;
        }
        // Pipelined: hold the next request until this response is out.
        this.stash = offset === 0 ? data : data.subarray(offset);
        break;
      }
      const consumed = this.parser.execute(data, offset);
      if (consumed < 0) {
        this.onParseError(this.parser.error!);
        break;
      }
      offset += consumed;
      if (consumed === 0) break;
    }
    this.feeding = false;
    const exchange = this.exchange;
    if (exchange !== null && exchange.requestComplete && exchange.responseComplete) this.nextExchange();
  }

  private onHead(head: RequestHead): void {
    const hasBody = head.chunked || head.contentLength > 0;
    const exchange = new Exchange(this, head, hasBody);
    this.exchange = exchange;
    const environ = buildHttpEnviron(this.context, this.socket, head, exchange.input);
    const pending = runApp(this.context.app, environ, exchange.sink, this.context.log);
    if (pending !== undefined) {
      this.context.track(pending);
    }
  }

  private onBody(chunk: Buffer): void {
    const exchange = this.exchange;
    if (exchange === null || exchange.responseComplete) return; // the application did not want it
    exchange.input.push(chunk);
    if (exchange.input.buffered >= INPUT_HIGH_WATER) this.socket.pause();
  }

  private onComplete(): void {
    const exchange = this.exchange;
    if (exchange === null) return;
    exchange.requestComplete = true;
    exchange.input.end();
    if (exchange.responseComplete && !this.feeding) this.nextExchange();
  }

  private onParseError(error: HttpParseError): void {
    const exchange = this.exchange;
    const peer = `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
    this.context.log.error(`bad request from ${peer}: ${error.message} (${error.status})`);
    if (exchange !== null) {
      // Broken framing inside a body: the application sees a failed read; the connection cannot continue.
      exchange.input.fail(error);
      this.closing = true;
      if (exchange.responseComplete) this.socket.destroy();
      return;
    }
    const body = `<html><head><title>${error.status} ${reasonPhrase(error.status)}</title></head>\r\n<body>\r\n<center><h1>${error.status} ${reasonPhrase(error.status)}</h1></center>\r\n</body></html>\r\n`;
    this.socket.end(
      `HTTP/1.1 ${error.status} ${reasonPhrase(error.status)}\r\nDate: ${this.context.clock.header}\r\n` +
        `Content-Type: text/html\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      'latin1',
    );
  }

  private onEnd(): void {
    const error = this.parser.finish();
    if (this.exchange !== null) {
      if (!this.exchange.requestComplete) this.exchange.input.fail(error ?? new Error('client closed the connection'));
      // Half-close: let the response finish, then close (responseDone sees `closing`).
      this.closing = true;
      return;
    }
    this.socket.end();
  }

  private onClose(): void {
    const exchange = this.exchange;
    if (exchange !== null && !exchange.requestComplete) exchange.input.fail(new Error('client closed the connection'));
    this.context.forget(this);
  }
}

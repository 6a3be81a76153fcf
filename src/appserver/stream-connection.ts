/**
 * A connection of a one-request-per-connection protocol: uwsgi (`--socket`) and SCGI
 * (`--scgi-socket`). The front server (nginx) opens a connection, sends one request (vars block,
 * then the body) and reads the response until the connection closes, so the response needs no
 * framing: a head (an HTTP status line for uwsgi, as uWSGI sends; CGI `Status:` for SCGI), then
 * the body, then close.
 *
 * Except for tsgi's own extension (stream-keep.ts): a uwsgi request with modifier2 'K' (tsgi web
 * with `keepalive` in its upstream block) gets a self-delimited response with `Tsgi-Keep: 1`, and
 * the connection then reads the next request. Any other request is answered exactly as before.
 */
import { SocketDrain } from './socket-drain.js';
import type { Socket } from 'node:net';
import { BodyInput, type InputDemand } from '../gateway/input.js';
import { runApp, type ResponseSink } from '../gateway/handler.js';
import type { HeaderList } from '../gateway/types.js';
import type { TsgiError } from '../errors.js';
import { buildCgiEnviron } from './cgi-environ.js';
import { KeptFraming, decideKeptHead } from './stream-keep.js';
import { CHUNK_TRAILER, LAST_CHUNK, chunkHeader } from '../protocols/http1.js';
import type { ServedConnection, ServerContext } from './context.js';

const INPUT_HIGH_WATER = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/** The part of a request decoder this connection needs (UwsgiRequestDecoder, ScgiRequestDecoder). */
export interface RequestDecoder {
  execute(data: Buffer, offset?: number): number;
  finish(): TsgiError | null;
  readonly error: TsgiError | null;
}

export interface DecodedRequest {
  vars: string[];
  contentLength: number;
  /** uwsgi modifier1 30: strip SCRIPT_NAME from PATH_INFO. */
  stripScriptName: boolean;
  /** uwsgi modifier2 'K': the client asks to keep the connection (stream-keep.ts). */
  keep?: boolean;
}

export interface DecoderEvents {
  onRequest(request: DecodedRequest): void;
  onBody(chunk: Buffer): void;
  onComplete(): void;
}

export interface StreamProtocol {
  name: string;
  createDecoder(events: DecoderEvents): RequestDecoder;
  /** The response head in this protocol's form; throws on a header that would corrupt it. */
  formatHead(status: number, reason: string, headers: HeaderList, requestProtocol: string): string;
  /** Log line for a malformed request (protocol-specific wording, e.g. uWSGI's). */
  describeError(error: TsgiError, peer: string): string;
}

class StreamSink implements ResponseSink {
  private pendingHead: string | null = null;
  private readonly bodyless: boolean;
  /** KeptFraming.Close unless the request asked to keep the connection and the head allows it. */
  private framing = KeptFraming.Close;
  /** Body bytes still owed to the Content-Length of a kept response (negative: too many). */
  private remaining = 0;

  constructor(
    private readonly connection: StreamConnection,
    private readonly protocol: StreamProtocol,
    private readonly requestProtocol: string,
    private readonly method: string,
    private readonly askedKeep: boolean,
  ) {
    this.bodyless = method === 'HEAD';
  }

  get aborted(): boolean {
    return this.connection.socket.destroyed;
  }

  sendHead(status: number, reason: string, headers: HeaderList): void {
    if (this.askedKeep && !this.connection.closing) {
      const decision = decideKeptHead(status, headers, this.method, this.requestProtocol);
      this.framing = decision.framing;
      this.remaining = decision.length;
      headers = decision.headers;
    }
    this.pendingHead = this.protocol.formatHead(status, reason, headers, this.requestProtocol);
  }

  write(chunk: Uint8Array): boolean {
    const socket = this.connection.socket;
    if (socket.destroyed) return true;
    const head = this.pendingHead;
    this.pendingHead = null;
    if (this.bodyless || this.framing === KeptFraming.NoBody) return head === null ? true : socket.write(head, 'latin1');
    if (this.framing === KeptFraming.Chunked) {
      socket.cork();
      if (head !== null) socket.write(head, 'latin1');
      socket.write(chunkHeader(chunk.length));
      socket.write(chunk);
      const ok = socket.write(CHUNK_TRAILER);
      socket.uncork();
      return ok;
    }
    if (this.framing === KeptFraming.Length) this.remaining -= chunk.length;
    if (head === null) return socket.write(chunk);
    socket.cork();
    socket.write(head, 'latin1');
    const ok = socket.write(chunk);
    socket.uncork();
    return ok;
  }

  drain(): Promise<void> {
    return this.connection.drain();
  }

  end(): void {
    const connection = this.connection;
    const socket = connection.socket;
    const framing = this.framing;
    // A kept response is whole only with exactly its Content-Length: otherwise the client cannot
    // tell where it ends, and the close must end it (a short one then reads as truncated).
    const whole = framing !== KeptFraming.Close && (framing !== KeptFraming.Length || this.remaining === 0);
    if (whole && !socket.destroyed && connection.requestFullyRead && !connection.closing) {
      const head = this.pendingHead;
      this.pendingHead = null;
      if (framing === KeptFraming.Chunked) {
        socket.cork();
        if (head !== null) socket.write(head, 'latin1');
        socket.write(LAST_CHUNK);
        socket.uncork();
      } else if (head !== null) {
        socket.write(head, 'latin1');
      }
      connection.nextRequest();
      return;
    }
    if (this.pendingHead !== null) socket.write(this.pendingHead, 'latin1');
    this.pendingHead = null;
    connection.responded = true;
    if (connection.requestFullyRead) {
      // The whole request was read, so closing cannot reset the connection: once the last bytes
      // are with the kernel, close at once (the kernel still sends them, then FIN) instead of
      // end(), which half-closes and then waits for the front server's FIN. Profiled: ~8 µs less
      // CPU per request on the connection-per-request path.
      // (Writes complete in order, so an empty write's callback means everything before it is out.)
      if (socket.writableLength === 0) socket.destroy();
      else socket.write(EMPTY, () => socket.destroy());
    } else {
      // Unread request bytes would make close() send RST and could cut the response short.
      socket.end();
    }
  }

  abort(): void {
    this.connection.socket.destroy();
  }
}

export class StreamConnection implements ServedConnection, InputDemand {
  active = true;
  idleTicks = 0;
  responded = false;
  /** Told to close (graceful stop): no response keeps the connection any more. */
  closing = false;
  private readonly decoder: RequestDecoder;
  private input: BodyInput | null = null;
  private started = false;
  private requestComplete = false;

  get requestFullyRead(): boolean {
    return this.requestComplete;
  }
  private readonly drainer: SocketDrain;

  constructor(
    readonly socket: Socket,
    private readonly context: ServerContext,
    private readonly protocol: StreamProtocol,
  ) {
    this.drainer = new SocketDrain(socket);
    this.decoder = protocol.createDecoder({
      onRequest: (request) => this.onRequest(request),
      onBody: (chunk) => {
        this.input?.push(chunk);
        if (this.input !== null && this.input.buffered >= INPUT_HIGH_WATER) this.socket.pause();
      },
      onComplete: () => {
        // A request without a body was marked complete in onRequest already, and a synchronous
        // app may have answered it on a kept connection since: then this belongs to no request.
        if (!this.started) return;
        this.requestComplete = true;
        this.input?.end();
      },
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', () => {
      // ECONNRESET: 'close' follows and cleans up.
    });
    socket.on('close', () => {
      if (!this.requestComplete) this.input?.fail(new Error('the front server closed the connection'));
      context.forget(this);
    });
  }

  get idle(): boolean {
    return !this.started;
  }

  get waitingForHead(): boolean {
    return !this.started;
  }

  shutdown(): void {
    this.closing = true;
    if (!this.started) this.socket.end();
  }

  /** A kept response ended: the connection waits for the client's next request. */
  nextRequest(): void {
    this.started = false;
    this.requestComplete = false;
    this.input = null;
    this.active = true;
    if (this.socket.isPaused()) this.socket.resume();
  }

  wanted(): void {
    if (this.socket.isPaused()) this.socket.resume();
  }

  drain(): Promise<void> {
    return this.drainer.wait();
  }

  private peer(): string {
    return this.socket.remoteAddress ? `${this.socket.remoteAddress}:${this.socket.remotePort}` : 'unix socket peer';
  }

  private onData(chunk: Buffer): void {
    this.active = true;
    // One request at a time: anything after it is ignored (a plain connection ends after its
    // response; a kept one reads the next request only after it: the client does not pipeline).
    if (this.requestComplete) return;
    // A closing connection takes no new request (the client retries an unanswered one elsewhere).
    if (this.closing && !this.started) return;
    const consumed = this.decoder.execute(chunk, 0);
    if (consumed < 0) {
      const error = this.decoder.error!;
      this.context.log.error(this.protocol.describeError(error, this.peer()));
      if (this.started) this.input?.fail(error);
      else this.socket.destroy();
    }
  }

  private onEnd(): void {
    if (this.requestComplete || this.responded) return;
    const error = this.decoder.finish();
    if (error && this.started) this.input?.fail(error);
    else if (error) this.context.log.error(this.protocol.describeError(error, this.peer()));
    if (!this.started) this.socket.destroy();
  }

  private onRequest(request: DecodedRequest): void {
    this.started = true;
    // The decoder reports the end of a bodiless request only after onRequest returns, and a
    // synchronous app has answered by then: the response must already know that nothing of the
    // request is left unread (to close at once, or to keep the connection).
    if (request.contentLength === 0) this.requestComplete = true;
    const input = request.contentLength > 0 ? new BodyInput(this) : BodyInput.empty();
    this.input = input;
    const environ = buildCgiEnviron(request.vars, input, this.context, { stripScriptName: request.stripScriptName });
    const sink = new StreamSink(this, this.protocol, environ.SERVER_PROTOCOL, environ.REQUEST_METHOD, request.keep === true);
    const pending = runApp(this.context.app, environ, sink, this.context.log);
    if (pending !== undefined) this.context.track(pending);
  }
}

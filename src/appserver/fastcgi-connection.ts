/**
 * A FastCGI connection of `--fastcgi-socket`: the responder role, requests multiplexed by id,
 * FCGI_KEEP_CONN honoured (nginx's `fastcgi_keep_conn on` reuses the connection; without it the
 * connection closes after the response, FastCGI spec §5.1). Each request runs as soon as its
 * PARAMS stream ends; STDIN streams into `tsgi.input`. The response is a CGI head (`Status:`) and
 * body in STDOUT records, then END_REQUEST.
 */
import { SocketDrain } from './socket-drain.js';
import type { Socket } from 'node:net';
import { BodyInput, type InputDemand } from '../gateway/input.js';
import { runApp, type ResponseSink } from '../gateway/handler.js';
import type { HeaderList } from '../gateway/types.js';
import { FcgiServerSession } from '../protocols/fastcgi-session.js';
import { encodeStdout } from '../protocols/fastcgi.js';
import { formatCgiHead } from '../protocols/cgi-response.js';
import { buildCgiEnviron } from './cgi-environ.js';
import type { ServedConnection, ServerContext } from './context.js';

const INPUT_HIGH_WATER = 64 * 1024;
/** Below this the CGI head and the first chunk share one STDOUT record. */
const COALESCE_LIMIT = 16 * 1024;

class FastcgiRequest implements ResponseSink, InputDemand {
  input: BodyInput | null = null;
  finished = false;
  abortedByPeer = false;
  private pendingHead: string | null = null;
  private bodyless = false;

  constructor(
    private readonly connection: FastcgiConnection,
    readonly id: number,
    readonly keepConn: boolean,
  ) {}

  start(vars: string[]): void {
    this.input = new BodyInput(this);
    const environ = buildCgiEnviron(vars, this.input, this.connection.context);
    this.bodyless = environ.REQUEST_METHOD === 'HEAD';
    const pending = runApp(this.connection.context.app, environ, this, this.connection.context.log);
    if (pending !== undefined) this.connection.context.track(pending);
  }

  wanted(): void {
    this.connection.resume();
  }

  get aborted(): boolean {
    return this.abortedByPeer || this.connection.socket.destroyed;
  }

  sendHead(status: number, reason: string, headers: HeaderList): void {
    this.pendingHead = formatCgiHead(status, reason, headers);
  }

  write(chunk: Uint8Array): boolean {
    const socket = this.connection.socket;
    if (this.aborted) return true;
    this.connection.corkForTick();
    const head = this.pendingHead;
    this.pendingHead = null;
    if (this.bodyless) return head === null ? true : socket.write(encodeStdout(this.id, Buffer.from(head, 'latin1')));
    if (head === null) return socket.write(encodeStdout(this.id, chunk));
    if (chunk.length <= COALESCE_LIMIT) {
      const both = Buffer.allocUnsafe(head.length + chunk.length);
      both.write(head, 0, 'latin1');
      both.set(chunk, head.length);
      return socket.write(encodeStdout(this.id, both));
    }
    socket.write(encodeStdout(this.id, Buffer.from(head, 'latin1')));
    return socket.write(encodeStdout(this.id, chunk));
  }

  drain(): Promise<void> {
    return this.connection.drain();
  }

  end(): void {
    this.connection.corkForTick();
    if (this.pendingHead !== null) {
      this.connection.socket.write(encodeStdout(this.id, Buffer.from(this.pendingHead, 'latin1')));
      this.pendingHead = null;
    }
    this.connection.endRequest(this);
  }

  abort(): void {
    // A response that cannot be completed: ending the request would make the front server take
    // the partial body as whole, so the connection (and every request on it) is cut.
    this.connection.socket.destroy();
  }
}

export class FastcgiConnection implements ServedConnection {
  active = true;
  idleTicks = 0;
  private readonly session: FcgiServerSession;
  private readonly requests = new Map<number, FastcgiRequest>();
  private closing = false;
  private readonly drainer: SocketDrain;
  private corked = false;

  constructor(
    readonly socket: Socket,
    readonly context: ServerContext,
  ) {
    this.drainer = new SocketDrain(socket);
    this.session = new FcgiServerSession(
      {
        onBeginRequest: (id, _role, keepConn) => {
          this.requests.set(id, new FastcgiRequest(this, id, keepConn));
        },
        onParams: (id, vars) => this.requests.get(id)?.start(vars),
        onStdin: (id, chunk) => {
          const input = this.requests.get(id)?.input;
          if (!input) return;
          input.push(chunk);
          if (input.buffered >= INPUT_HIGH_WATER) this.socket.pause();
        },
        onStdinEnd: (id) => this.requests.get(id)?.input?.end(),
        onAbort: (id) => {
          const request = this.requests.get(id);
          if (!request) return;
          request.abortedByPeer = true;
          request.input?.fail(new Error('the front server aborted the request'));
        },
        onOutput: (bytes) => this.socket.write(bytes),
      },
      { mpxsConns: true },
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', () => {
      // ECONNRESET: 'close' follows.
    });
    socket.on('close', () => {
      this.session.finish();
      context.forget(this);
    });
  }

  get idle(): boolean {
    return this.requests.size === 0;
  }

  /** A request began but its PARAMS stream has not ended: the header timeout applies. */
  get waitingForHead(): boolean {
    for (const request of this.requests.values()) if (request.input === null) return true;
    return false;
  }

  shutdown(): void {
    this.closing = true;
    if (this.idle) this.socket.end();
  }

  resume(): void {
    if (this.socket.isPaused()) this.socket.resume();
  }

  drain(): Promise<void> {
    return this.drainer.wait();
  }

  /**
   * Holds this tick's writes and sends them in one writev: a response written in one go (STDOUT
   * records, then END_REQUEST) reaches nginx as one packet and wakes it once. Profiled: two
   * writes per response were half the busy time. A streamed body still goes out every tick.
   */
  corkForTick(): void {
    if (this.corked || this.socket.destroyed) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(() => {
      this.corked = false;
      this.socket.uncork();
    });
  }

  endRequest(request: FastcgiRequest): void {
    if (request.finished) return;
    request.finished = true;
    this.requests.delete(request.id);
    if (this.socket.destroyed) return;
    this.socket.write(this.session.endRequest(request.id));
    if ((!request.keepConn || this.closing) && this.requests.size === 0) this.socket.end();
  }

  private onData(chunk: Buffer): void {
    this.active = true;
    if (this.session.execute(chunk, 0) < 0) {
      const peer = this.socket.remoteAddress ? `${this.socket.remoteAddress}:${this.socket.remotePort}` : 'unix socket peer';
      const error = this.session.error!;
      this.context.log.error(`${error.message} (FastCGI connection from ${peer}, code ${error.code})`);
      for (const request of this.requests.values()) request.input?.fail(error);
      this.socket.destroy();
    }
  }

  private onEnd(): void {
    this.closing = true;
    if (this.requests.size === 0) this.socket.end();
  }
}

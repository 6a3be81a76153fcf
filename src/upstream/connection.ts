/**
 * One socket to an upstream peer, shared by the uwsgi, SCGI and FastCGI clients: connecting with
 * a timeout, writing with backpressure and the send timeout, the read timeout, and turning socket
 * failures into `UpstreamError`s worded like nginx's log. It knows nothing of the protocol: bytes
 * go to its owner (the request being served on it), and it never throws out of a socket event.
 *
 * States (undici's explicit connection state machine):
 *
 *   connecting --connect--> open --destroy() / error / timeout--> closed
 *        \____________________ error / timeout / destroy() ______/
 *
 * While open, the connection has an owner or is idle (a pooled FastCGI connection between
 * requests). An idle connection that hears anything from the peer (data, EOF, an error) closes
 * itself and calls `onIdleClose`: a peer only talks on an idle keep-alive connection to close it.
 */
import { connect, type Socket } from 'node:net';
import { TIMED_OUT, UpstreamError, errnoText, type UpstreamPhase } from './errors.js';
import { connectOptions, type Peer } from './peer.js';
import { OperationTimer, type UpstreamTimeouts } from './timeouts.js';

export type ConnectionState = 'connecting' | 'open' | 'closed';

/** The request currently using the connection. */
export interface ConnectionOwner {
  /** 'reading response header' or 'reading response body': names read failures. */
  readonly readPhase: UpstreamPhase;
  onData(chunk: Buffer): void;
  /** The peer closed its side (EOF). */
  onEnd(): void;
  /** A socket error or a timeout. The connection is closed already. */
  onError(error: UpstreamError): void;
}

/** What a request needs from its connection (the part of it `Exchange` uses). */
export interface Transport {
  /** Resolves when more may be written; rejects with the connection's error if it closes first. */
  write(data: Buffer): Promise<void>;
  /** The request is sent: the read timeout runs from now on while no bytes arrive. */
  expectResponse(): void;
  /** Backpressure from the response body's reader. */
  pause(): void;
  resume(): void;
}

const WRITE_SYSCALL_PREFIX = 'write';
/** The socket events this connection listens to: removed when it hands the socket over. */
const DETACHED_EVENTS = ['data', 'end', 'error', 'close', 'drain'] as const;

export class UpstreamConnection implements Transport {
  readonly peer: Peer;
  private readonly socket: Socket;
  private stateValue: ConnectionState = 'connecting';
  private owner: ConnectionOwner | null = null;
  /** Why the connection closed, if it was not a plain destroy(). */
  private failure: UpstreamError | null = null;
  private readonly connectTimer: OperationTimer;
  private readonly sendTimer: OperationTimer;
  private readonly readTimer: OperationTimer;
  /** Writes handed to the socket whose callback has not run: the peer has not taken them yet. */
  private pendingWrites = 0;
  private drainWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private expecting = false;
  private paused = false;
  /** The peer's EOF was passed to the owner already. */
  private ended = false;
  private readonly connectedPromise: Promise<void>;
  private rejectConnect: (error: Error) => void = () => {};
  /** Called once when an idle connection closes (the pool forgets it). */
  onIdleClose: (() => void) | null = null;

  constructor(peer: Peer, timeouts: UpstreamTimeouts) {
    this.peer = peer;
    this.connectTimer = new OperationTimer(timeouts.connectTimeout, () =>
      this.close(new UpstreamError('ERR_UPSTREAM_CONNECT_TIMEOUT', TIMED_OUT, 'connecting', peer.name)),
    );
    this.sendTimer = new OperationTimer(timeouts.sendTimeout, () =>
      this.close(new UpstreamError('ERR_UPSTREAM_SEND_TIMEOUT', TIMED_OUT, 'sending request', peer.name)),
    );
    this.readTimer = new OperationTimer(timeouts.readTimeout, () =>
      this.close(new UpstreamError('ERR_UPSTREAM_READ_TIMEOUT', TIMED_OUT, this.owner?.readPhase ?? 'reading response header', peer.name)),
    );
    this.connectTimer.arm();
    const socket = connect(connectOptions(peer));
    this.socket = socket;
    this.connectedPromise = new Promise<void>((resolve, reject) => {
      socket.once('connect', () => {
        if (this.stateValue !== 'connecting') return;
        this.connectTimer.disarm();
        this.stateValue = 'open';
        if (peer.address.kind === 'tcp') socket.setNoDelay(true);
        resolve();
      });
      this.rejectConnect = reject;
    });
    // The error reaches the caller through `connected` or the owner; never unhandled.
    this.connectedPromise.catch(() => {});
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (error: Error) => this.onSocketError(error));
    socket.on('close', () => this.close(null));
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Resolves once connected; rejects with ERR_UPSTREAM_CONNECT(_TIMEOUT) or the destroy reason. */
  get connected(): Promise<void> {
    return this.connectedPromise;
  }

  /** Gives the connection to a request (or back to nobody: idle). Resets the per-request state. */
  setOwner(owner: ConnectionOwner | null): void {
    this.owner = owner;
    this.expecting = false;
    this.readTimer.disarm();
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    // An idle pooled socket must not keep the process alive (undici unrefs idle sockets too).
    if (owner === null) this.socket.unref();
    else this.socket.ref();
  }

  write(data: Buffer): Promise<void> {
    if (this.stateValue !== 'open') return Promise.reject(this.closedError('sending request'));
    this.pendingWrites++;
    this.sendTimer.arm();
    const more = this.socket.write(data, (error) => {
      if (error) return; // reported once, by the 'error' event
      this.pendingWrites--;
      // Progress: the peer took bytes, so the send timeout starts over (or stops when all is sent).
      if (this.pendingWrites > 0) this.sendTimer.arm();
      else this.sendTimer.disarm();
    });
    if (more) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.drainWaiters.push({ resolve, reject });
      if (this.drainWaiters.length === 1) this.socket.once('drain', () => this.settleDrainWaiters(null));
    });
  }

  expectResponse(): void {
    this.expecting = true;
    this.updateReadTimer();
  }

  pause(): void {
    if (this.paused || this.stateValue === 'closed') return;
    this.paused = true;
    this.socket.pause();
    this.updateReadTimer();
  }

  resume(): void {
    if (!this.paused || this.stateValue === 'closed') return;
    this.paused = false;
    this.socket.resume();
    this.updateReadTimer();
  }

  /**
   * Hands the open socket over to a new owner without closing it (proxy_pass after a 101
   * Switching Protocols: the socket now carries another protocol). Timers stop, this
   * connection's listeners come off, and the socket is left paused so no byte is lost before
   * the new owner listens: it must add an 'error' listener and call `resume()`. Null when the
   * connection is not open.
   */
  detach(): Socket | null {
    if (this.stateValue !== 'open') return null;
    const socket = this.socket;
    socket.pause();
    for (const event of DETACHED_EVENTS) socket.removeAllListeners(event);
    this.stateValue = 'closed';
    this.owner = null;
    this.connectTimer.disarm();
    this.sendTimer.disarm();
    this.readTimer.disarm();
    this.settleDrainWaiters(this.closedError('sending request'));
    socket.ref();
    return socket;
  }

  /** Closes the connection now; the owner is not told (it is the one asking). */
  destroy(): void {
    this.owner = null;
    this.close(null);
  }

  private updateReadTimer(): void {
    if (this.expecting && !this.paused && this.stateValue === 'open') this.readTimer.arm();
    else this.readTimer.disarm();
  }

  private onData(chunk: Buffer): void {
    const owner = this.owner;
    if (owner === null) {
      // Bytes on an idle keep-alive connection: the peer is out of step; nginx closes it too
      // (ngx_http_upstream_keepalive_close_handler).
      this.close(null);
      return;
    }
    if (this.readTimer.armed) this.readTimer.arm();
    owner.onData(chunk);
  }

  private onEnd(): void {
    const owner = this.owner;
    this.ended = true;
    this.readTimer.disarm();
    if (owner === null) this.close(null);
    else owner.onEnd();
  }

  private onSocketError(error: Error): void {
    if (this.stateValue === 'closed') return;
    const peer = this.peer.name;
    let failure: UpstreamError;
    if (this.stateValue === 'connecting') {
      // nginx: "connect() failed (111: ...)" for TCP (ngx_http_upstream_test_connect), and
      // "connect() to unix:/path failed (2: ...)" when a UNIX connect fails at once (ngx_event_connect_peer).
      const what = this.peer.address.kind === 'unix' ? `connect() to unix:${this.peer.address.path} failed` : 'connect() failed';
      failure = new UpstreamError('ERR_UPSTREAM_CONNECT', `${what} ${errnoText(error)}`, 'connecting', peer, { cause: error });
    } else if (isWriteError(error)) {
      failure = new UpstreamError('ERR_UPSTREAM_SEND', `writev() failed ${errnoText(error)}`, 'sending request', peer, { cause: error });
    } else {
      const phase = this.owner?.readPhase ?? 'reading response header';
      failure = new UpstreamError('ERR_UPSTREAM_READ', `recv() failed ${errnoText(error)}`, phase, peer, { cause: error });
    }
    this.close(failure);
  }

  /** The one way to 'closed': stops the timers, settles waiters, tells the owner about a failure. */
  private close(failure: UpstreamError | null): void {
    if (this.stateValue === 'closed') return;
    const wasConnecting = this.stateValue === 'connecting';
    const wasIdle = this.stateValue === 'open' && this.owner === null;
    this.stateValue = 'closed';
    this.failure = failure;
    this.connectTimer.disarm();
    this.sendTimer.disarm();
    this.readTimer.disarm();
    this.socket.destroy();
    // Made only for someone waiting: a connection-per-request protocol closes every connection,
    // and an error (with its stack) for each cost ~1% of a uwsgi_pass request.
    if (wasConnecting || this.drainWaiters.length > 0) {
      const error = this.closedError(wasConnecting ? 'connecting' : 'sending request');
      if (wasConnecting) this.rejectConnect(error);
      this.settleDrainWaiters(error);
    }
    const owner = this.owner;
    this.owner = null;
    if (owner !== null && failure !== null) owner.onError(failure);
    else if (owner !== null && !this.ended) owner.onEnd();
    if (wasIdle) this.onIdleClose?.();
  }

  /** The reason it closed, for writes and connects still waiting on it. */
  private closedError(phase: UpstreamPhase): UpstreamError {
    return this.failure ?? new UpstreamError('ERR_UPSTREAM_PREMATURE_CLOSE', 'upstream connection closed', phase, this.peer.name);
  }

  private settleDrainWaiters(error: Error | null): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) {
      if (error === null) waiter.resolve();
      else waiter.reject(error);
    }
  }
}

function isWriteError(error: Error): boolean {
  const syscall = 'syscall' in error ? error.syscall : undefined;
  return typeof syscall === 'string' && syscall.startsWith(WRITE_SYSCALL_PREFIX);
}

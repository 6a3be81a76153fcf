/**
 * One connection to a FastCGI application (php-fpm, `tsgi serve --fastcgi-socket`), serving one
 * request at a time as nginx does (request id 1, no multiplexing: php-fpm does not multiplex).
 * The record decoding is `FcgiClientSession` (protocols/fastcgi-session.ts); this file routes its
 * events: STDOUT to the request's `Exchange`, STDERR to the log, END_REQUEST to the end of the
 * response and, with FCGI_KEEP_CONN, back to the pool.
 *
 * States:
 *
 *   connecting --connected--> active --END_REQUEST, reusable--> idle --next request--> active
 *        \                       \--anything else------------------> closed
 *         \--error / abort-----------------------------------------> closed
 *
 * Reusable means (nginx ngx_http_fastcgi_input_filter + keepalive module): FCGI_KEEP_CONN was
 * sent, END_REQUEST said FCGI_REQUEST_COMPLETE, the whole request was written, the peer has not
 * closed, and no protocol error happened. An idle connection that hears from the peer closes.
 */
import {
  FCGI_CANT_MPX_CONN,
  FCGI_MAX_ALIGNED_CONTENT,
  FCGI_OVERLOADED,
  FCGI_REQUEST_COMPLETE,
  FCGI_UNKNOWN_ROLE,
  encodeStdin,
  encodeStdinEnd,
} from '../protocols/fastcgi.js';
import { FcgiClientSession } from '../protocols/fastcgi-session.js';
import { UpstreamConnection, type ConnectionOwner } from './connection.js';
import { UpstreamError, phaseAction, type UpstreamPhase } from './errors.js';
import type { Exchange, ExchangeOutcome } from './exchange.js';
import type { Peer } from './peer.js';
import type { Poolable } from './pool.js';
import type { BodyFraming } from './request-body.js';
import type { PreparedRequest } from './request-vars.js';
import type { UpstreamTimeouts } from './timeouts.js';
import type { UpstreamLog, UpstreamRequest } from './types.js';

/** nginx sends every request as id 1 on its own connection. */
const REQUEST_ID = 1;

/** The STDIN stream: body pieces as records of at most FCGI_MAX_ALIGNED_CONTENT (no padding
 *  but the last), then the empty record that ends it. */
const STDIN_FRAMING: BodyFraming = {
  frame: (chunk) => encodeStdin(REQUEST_ID, chunk),
  end: encodeStdinEnd(REQUEST_ID),
  pieceSize: FCGI_MAX_ALIGNED_CONTENT,
};

const PROTOCOL_STATUS_NAMES: Readonly<Record<number, string>> = {
  [FCGI_CANT_MPX_CONN]: 'FCGI_CANT_MPX_CONN',
  [FCGI_OVERLOADED]: 'FCGI_OVERLOADED',
  [FCGI_UNKNOWN_ROLE]: 'FCGI_UNKNOWN_ROLE',
};

/** Trailing bytes nginx cuts from a STDERR message before logging it (CR, LF, space, '.'):
 *  ngx_http_fastcgi_process_header. */
const STDERR_TRAILER = /[\r\n .]+$/;

export type FastcgiConnectionState = 'connecting' | 'active' | 'idle' | 'closed';

export interface FastcgiConnectionHooks {
  log: UpstreamLog;
  /** The request ended and the connection can serve another: pool it. */
  onReusable(connection: FastcgiConnection): void;
  /** An idle connection closed (the peer hung up, or sent bytes it should not have). */
  onIdleClose(connection: FastcgiConnection): void;
}

export class FastcgiConnection implements ConnectionOwner, Poolable {
  private readonly connection: UpstreamConnection;
  private readonly session: FcgiClientSession;
  private readonly hooks: FastcgiConnectionHooks;
  private readonly peerName: string;
  private stateValue: FastcgiConnectionState = 'connecting';
  private exchange: Exchange | null = null;
  private keepConn = false;
  /** END_REQUEST for the current request arrived with FCGI_REQUEST_COMPLETE. */
  private ended = false;

  constructor(peer: Peer, timeouts: UpstreamTimeouts, hooks: FastcgiConnectionHooks) {
    this.peerName = peer.name;
    this.hooks = hooks;
    this.connection = new UpstreamConnection(peer, timeouts);
    this.connection.onIdleClose = () => {
      if (this.stateValue === 'closed') return;
      this.stateValue = 'closed';
      hooks.onIdleClose(this);
    };
    this.session = new FcgiClientSession({
      onStdout: (_id, chunk) => this.exchange?.onData(chunk),
      onStderr: (_id, chunk) => this.onStderr(chunk),
      onEndRequest: (_id, _appStatus, protocolStatus) => this.onEndRequest(protocolStatus),
    });
  }

  get state(): FastcgiConnectionState {
    return this.stateValue;
  }

  get readPhase(): UpstreamPhase {
    return this.exchange?.readPhase ?? 'reading response header';
  }

  /**
   * Sends `request` on this connection (new, or idle from the pool). Throws
   * ERR_UPSTREAM_INVALID_REQUEST, with nothing sent, if the vars cannot be encoded.
   */
  start(exchange: Exchange, prepared: PreparedRequest, request: UpstreamRequest, keepConn: boolean): void {
    let head: Buffer;
    try {
      head = this.session.beginRequest(REQUEST_ID, prepared.vars, { keepConn });
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new UpstreamError('ERR_UPSTREAM_INVALID_REQUEST', why, 'sending request', this.peerName, { cause: error });
    }
    this.exchange = exchange;
    this.keepConn = keepConn;
    this.ended = false;
    if (this.stateValue === 'idle') this.stateValue = 'active';
    this.connection.setOwner(this);
    const outgoing = { head, body: request.body, contentLength: prepared.contentLength, framing: STDIN_FRAMING };
    this.connection.connected.then(
      () => {
        if (this.stateValue === 'connecting') this.stateValue = 'active';
        request.onConnected?.();
        exchange.send(this.connection, outgoing);
      },
      // The connection already told its owner (this) why, and this told the exchange.
      () => {},
    );
  }

  /** The exchange settled: pool the connection if it is clean, else close it. */
  settle(outcome: ExchangeOutcome): void {
    const exchange = this.exchange;
    this.exchange = null;
    const reusable =
      outcome === 'complete' &&
      this.ended &&
      this.keepConn &&
      exchange !== null &&
      exchange.requestSent &&
      this.session.error === null &&
      this.session.activeRequests === 0 &&
      this.connection.state === 'open';
    if (!reusable) {
      this.close();
      return;
    }
    this.stateValue = 'idle';
    this.connection.setOwner(null);
    this.hooks.onReusable(this);
  }

  close(): void {
    if (this.stateValue === 'closed') return;
    // Closing while idle (bytes after END_REQUEST, a pool eviction): the pool must forget it.
    const wasIdle = this.stateValue === 'idle';
    this.stateValue = 'closed';
    this.exchange = null;
    this.connection.destroy();
    if (wasIdle) this.hooks.onIdleClose(this);
  }

  onData(chunk: Buffer): void {
    if (this.session.execute(chunk) >= 0) return;
    const failure = this.session.error;
    const phase = this.readPhase;
    const exchange = this.exchange;
    this.close();
    // nginx's words for broken records: "upstream sent invalid FastCGI record type: 9" and the like.
    exchange?.onError(new UpstreamError('ERR_UPSTREAM_INVALID_RESPONSE', `upstream sent invalid FastCGI data: ${failure?.message ?? 'unknown error'}`, phase, this.peerName, { cause: failure }));
  }

  /** The peer closed the connection: before END_REQUEST that is a truncated response. */
  onEnd(): void {
    const exchange = this.exchange;
    const phase = this.readPhase;
    this.close();
    exchange?.onError(new UpstreamError('ERR_UPSTREAM_PREMATURE_CLOSE', 'upstream prematurely closed connection', phase, this.peerName, { cause: this.session.finish() }));
  }

  onError(error: UpstreamError): void {
    const exchange = this.exchange;
    this.close();
    exchange?.onError(error);
  }

  private onEndRequest(protocolStatus: number): void {
    const exchange = this.exchange;
    if (exchange === null) return;
    if (protocolStatus !== FCGI_REQUEST_COMPLETE) {
      const name = PROTOCOL_STATUS_NAMES[protocolStatus] ?? `protocol status ${protocolStatus}`;
      exchange.onError(new UpstreamError('ERR_UPSTREAM_REJECTED', `upstream rejected the request (${name})`, exchange.readPhase, this.peerName));
      return;
    }
    this.ended = true;
    // The exchange checks the head and the Content-Length; its onSettled comes back to settle().
    exchange.onEnd();
  }

  private onStderr(chunk: Buffer): void {
    const text = chunk.toString('utf8').replace(STDERR_TRAILER, '');
    if (text === '') return;
    this.hooks.log('error', `FastCGI sent in stderr: "${text}" while ${phaseAction(this.readPhase)}, upstream: "${this.peerName}"`);
  }
}

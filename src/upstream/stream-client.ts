/**
 * The client for the protocols whose response runs until the peer closes: uwsgi and SCGI. One
 * connection per request, as nginx does for both (they have no way to mark the end of a response,
 * so a connection cannot be reused). The two differ only in how the request head is encoded and
 * whether `Status` is a header to hide: `StreamProtocol` is that difference, and uwsgi-client.ts
 * and scgi-client.ts each supply one.
 *
 * The one exception is tsgi's own extension for uwsgi (kept-response.ts): with `keep`, the
 * packet asks the peer to keep the connection, and a response that the peer delimited itself
 * leaves its connection in a pool (pool.ts) for the next request. A peer that does not agree
 * answers as plain uwsgi and closes, so the client falls back without being told. A pooled
 * connection the peer closed meanwhile (its idle timeout, a reload) fails before any response
 * byte: such a request is sent again once on a new connection when its body can be sent again,
 * as the FastCGI client and nginx do with a cached connection. So is one that met a stopping
 * Python worker's goodbye (`Tsgi-Retry`, kept-response.ts), which answers instead of closing.
 */
import { UpstreamConnection } from './connection.js';
import { UpstreamError, type UpstreamErrorCode } from './errors.js';
import { Exchange } from './exchange.js';
import { IdlePool, type PoolOptions } from './pool.js';
import type { UpstreamScheme } from './peer.js';
import { RAW_BODY } from './request-body.js';
import { prepareRequest, type PreparedRequest } from './request-vars.js';
import { resolveClientSettings, type ClientSettings } from './settings.js';
import type { UpstreamClient, UpstreamClientOptions, UpstreamRequest, UpstreamResponse } from './types.js';

export interface StreamProtocol {
  scheme: UpstreamScheme;
  /** nginx hides `Status` from SCGI responses (scgi_hide_header list), not from uwsgi ones. */
  hideStatus: boolean;
  /** The bytes before the body. May throw the codec's error (a var it cannot encode). `keep`:
   *  ask the peer to keep the connection (only a protocol with `canKeep` is asked to). */
  encodeHead(request: PreparedRequest, modifier1: number | undefined, keep: boolean): Buffer;
  /** The protocol has a way to ask for a kept connection (uwsgi's modifier2 'K'). */
  canKeep: boolean;
}

export interface StreamClientOptions extends UpstreamClientOptions {
  /** Ask the peer to keep connections, and pool those it keeps (nginx: `keepalive N` in the
   *  upstream block). Ignored by a protocol that cannot ask. */
  keep?: boolean;
  /** The pool of idle connections (used with `keep`). */
  pool?: Partial<PoolOptions>;
}

/** An idle connection as the pool holds it. */
class KeptConnection {
  constructor(readonly connection: UpstreamConnection) {}
  close(): void {
    this.connection.destroy();
  }
}

/** Failures of a stale pooled connection: the peer closed or reset it. Timeouts are not stale. */
const STALE_CONNECTION_CODES: ReadonlySet<UpstreamErrorCode> = new Set<UpstreamErrorCode>([
  'ERR_UPSTREAM_PREMATURE_CLOSE',
  'ERR_UPSTREAM_SEND',
  'ERR_UPSTREAM_READ',
]);

const PREMATURE_CLOSE = 'upstream prematurely closed connection';

export class StreamClient implements UpstreamClient {
  readonly peer: string;
  private readonly protocol: StreamProtocol;
  private readonly settings: ClientSettings;
  private readonly pool: IdlePool<KeptConnection> | null;
  private closed = false;

  constructor(protocol: StreamProtocol, options: StreamClientOptions) {
    this.protocol = protocol;
    this.settings = resolveClientSettings(protocol.scheme, options);
    this.peer = this.settings.peer.name;
    this.pool = protocol.canKeep && options.keep === true ? new IdlePool<KeptConnection>(options.pool) : null;
  }

  /** Idle kept connections waiting in the pool. */
  get idleConnections(): number {
    return this.pool?.size ?? 0;
  }

  request(request: UpstreamRequest): Promise<UpstreamResponse> {
    try {
      return this.start(request);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Requests in flight finish, new ones are refused, idle kept connections close. */
  close(): Promise<void> {
    this.closed = true;
    this.pool?.closeAll();
    return Promise.resolve();
  }

  private start(request: UpstreamRequest): Promise<UpstreamResponse> {
    const { peer } = this.settings;
    if (this.closed) throw new UpstreamError('ERR_UPSTREAM_CLIENT_CLOSED', 'the upstream client is closed', 'connecting', peer.name);
    const prepared = prepareRequest(request, peer.name, true);
    const keep = this.pool !== null;
    let head: Buffer;
    try {
      head = this.protocol.encodeHead(prepared, request.modifier1, keep);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new UpstreamError('ERR_UPSTREAM_INVALID_REQUEST', why, 'sending request', peer.name, { cause: error });
    }
    if (this.pool === null) return this.attempt(prepared, head, request, null);
    const pooled = this.pool.take() ?? null;
    return this.attempt(prepared, head, request, pooled).catch((error: unknown) => {
      const replayable = request.body === undefined || Buffer.isBuffer(request.body);
      if (!(error instanceof StaleConnection) || !replayable || this.closed) throw unwrap(error);
      // Once only: a second goodbye or failure is the answer.
      return this.attempt(prepared, head, request, null).catch((again: unknown) => {
        throw unwrap(again);
      });
    });
  }

  /** One try, on `pooled` or a new connection; a pooled one's stale failure rejects with StaleConnection. */
  private attempt(prepared: PreparedRequest, head: Buffer, request: UpstreamRequest, pooled: KeptConnection | null): Promise<UpstreamResponse> {
    const { peer, timeouts } = this.settings;
    const connection = pooled?.connection ?? new UpstreamConnection(peer, timeouts);
    const exchange: Exchange = new Exchange(
      {
        peer: peer.name,
        method: prepared.method,
        maxHeadSize: this.settings.maxHeadSize,
        hideStatus: this.protocol.hideStatus,
        prematureEnd: PREMATURE_CLOSE,
        highWaterMark: this.settings.highWaterMark,
        log: this.settings.log,
        signal: request.signal,
        askedKeep: this.pool !== null,
      },
      // Without the extension the connection is done either way: the protocol closes after one
      // response. A kept one goes back to the pool only when the request went out whole too.
      (outcome, reusable) => {
        if (outcome === 'complete' && reusable && exchange.requestSent) this.release(connection, pooled);
        else connection.destroy();
      },
    );
    connection.setOwner(exchange);
    const outgoing = { head, body: request.body, contentLength: prepared.contentLength, framing: RAW_BODY };
    const response = this.pool === null ? exchange.response : exchange.response.catch((error: unknown) => {
      if (exchange.goodbye || (pooled !== null && exchange.bytesReceived === 0 && error instanceof UpstreamError && STALE_CONNECTION_CODES.has(error.code))) {
        throw new StaleConnection(error as UpstreamError);
      }
      throw error;
    });
    if (pooled !== null) {
      request.onConnected?.();
      exchange.send(connection, outgoing);
      return response;
    }
    connection.connected.then(
      () => {
        request.onConnected?.();
        exchange.send(connection, outgoing);
      },
      // The connection already told its owner (the exchange) why.
      () => {},
    );
    return response;
  }

  /** A kept connection whose response ended cleanly waits for the next request. */
  private release(connection: UpstreamConnection, pooled: KeptConnection | null): void {
    const pool = this.pool;
    if (pool === null || this.closed || connection.state !== 'open') {
      connection.destroy();
      return;
    }
    const kept = pooled ?? new KeptConnection(connection);
    connection.setOwner(null);
    connection.onIdleClose = () => pool.remove(kept);
    pool.put(kept);
  }
}

/** Internal: the try failed on a stale pooled connection and may be repeated. */
class StaleConnection extends Error {
  constructor(readonly error: UpstreamError) {
    super(error.message);
  }
}

function unwrap(error: unknown): unknown {
  return error instanceof StaleConnection ? error.error : error;
}

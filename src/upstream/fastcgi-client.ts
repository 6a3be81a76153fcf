/**
 * `fastcgi_pass`: requests to a FastCGI application (php-fpm, `tsgi serve --fastcgi-socket`).
 * The answer is a CGI response on the STDOUT stream (`Status:` hidden from the headers, as
 * nginx's fastcgi_hide_header list does), STDERR lines go to the log ("FastCGI sent in stderr"),
 * and FCGI_END_REQUEST ends it.
 *
 * With `keepConn` (nginx `fastcgi_keep_conn on` + upstream `keepalive`), FCGI_KEEP_CONN asks the
 * application to keep the connection open, and a connection whose request ended cleanly waits in
 * the pool for the next request (see fastcgi-connection.ts for "cleanly", pool.ts for the pool).
 * Without it, every request has its own connection, which the application closes.
 *
 * A pooled connection may have been closed by the peer just before it was taken (php-fpm's
 * process recycling, its own idle timeout). When such a reused connection fails before any
 * response byte arrived, the request is sent again once on a new connection, if its body can be
 * sent again (none, or a Buffer): nginx retries a cached connection's failure the same way
 * without counting it as a failed try (ngx_http_upstream_next, `u->peer.cached`).
 */
import { FastcgiConnection } from './fastcgi-connection.js';
import { UpstreamError, type UpstreamErrorCode } from './errors.js';
import { Exchange } from './exchange.js';
import { IdlePool, type PoolOptions } from './pool.js';
import { prepareRequest, type PreparedRequest } from './request-vars.js';
import { resolveClientSettings, type ClientSettings } from './settings.js';
import type { UpstreamClient, UpstreamClientOptions, UpstreamRequest, UpstreamResponse } from './types.js';

export interface FastcgiClientOptions extends UpstreamClientOptions {
  /** Send FCGI_KEEP_CONN and pool connections. Default false, like nginx's fastcgi_keep_conn. */
  keepConn?: boolean;
  /** The pool of idle connections (used with keepConn). */
  pool?: Partial<PoolOptions>;
}

/** Failures of a stale pooled connection: the peer closed or reset it. Timeouts are not stale. */
const STALE_CONNECTION_CODES: ReadonlySet<UpstreamErrorCode> = new Set<UpstreamErrorCode>([
  'ERR_UPSTREAM_PREMATURE_CLOSE',
  'ERR_UPSTREAM_SEND',
  'ERR_UPSTREAM_READ',
]);

const STDOUT_ENDED = 'upstream prematurely closed FastCGI stdout';

export class FastcgiClient implements UpstreamClient {
  readonly peer: string;
  private readonly settings: ClientSettings;
  private readonly keepConn: boolean;
  private readonly pool: IdlePool<FastcgiConnection>;
  private closed = false;

  constructor(options: FastcgiClientOptions) {
    this.settings = resolveClientSettings('fastcgi', options);
    this.peer = this.settings.peer.name;
    this.keepConn = options.keepConn === true;
    this.pool = new IdlePool<FastcgiConnection>(options.pool);
  }

  /** Idle connections waiting in the pool. */
  get idleConnections(): number {
    return this.pool.size;
  }

  async request(request: UpstreamRequest): Promise<UpstreamResponse> {
    if (this.closed) throw new UpstreamError('ERR_UPSTREAM_CLIENT_CLOSED', 'the upstream client is closed', 'connecting', this.peer);
    const prepared = prepareRequest(request, this.peer, false);
    const pooled = this.keepConn ? this.pool.take() : undefined;
    if (pooled === undefined) return this.send(this.connect(), prepared, request);
    try {
      return await this.send(pooled, prepared, request);
    } catch (error) {
      if (!(error instanceof StaleConnection) || this.closed) throw unwrap(error);
      return this.send(this.connect(), prepared, request);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pool.closeAll();
  }

  private connect(): FastcgiConnection {
    const { peer, timeouts, log } = this.settings;
    return new FastcgiConnection(peer, timeouts, {
      log,
      onReusable: (connection) => {
        if (this.closed) connection.close();
        else this.pool.put(connection);
      },
      onIdleClose: (connection) => this.pool.remove(connection),
    });
  }

  /** One try on `connection`; a reused one's stale failure rejects with StaleConnection. */
  private async send(connection: FastcgiConnection, prepared: PreparedRequest, request: UpstreamRequest): Promise<UpstreamResponse> {
    const reused = connection.state === 'idle';
    const exchange = new Exchange(
      {
        peer: this.peer,
        method: prepared.method,
        maxHeadSize: this.settings.maxHeadSize,
        hideStatus: true,
        prematureEnd: STDOUT_ENDED,
        highWaterMark: this.settings.highWaterMark,
        log: this.settings.log,
        signal: request.signal,
      },
      (outcome) => connection.settle(outcome),
    );
    try {
      connection.start(exchange, prepared, request, this.keepConn);
    } catch (error) {
      // Nothing was sent: a pooled connection is still good.
      if (reused) this.pool.put(connection);
      else connection.close();
      throw error;
    }
    try {
      return await exchange.response;
    } catch (error) {
      const replayable = request.body === undefined || Buffer.isBuffer(request.body);
      if (reused && replayable && exchange.bytesReceived === 0 && error instanceof UpstreamError && STALE_CONNECTION_CODES.has(error.code)) {
        throw new StaleConnection(error);
      }
      throw error;
    }
  }
}

/** Internal: the first try failed on a stale pooled connection and may be repeated. */
class StaleConnection extends Error {
  constructor(readonly error: UpstreamError) {
    super(error.message);
  }
}

function unwrap(error: unknown): unknown {
  return error instanceof StaleConnection ? error.error : error;
}

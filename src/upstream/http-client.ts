/**
 * `proxy_pass`: the HTTP/1.x client of ONE upstream peer, on `net` sockets (the general-purpose
 * clients, http.request and undici, cost too much per request for a proxy's hot path: see the
 * brief's measurements). A connection per request by default; with `pool` (nginx's `keepalive N`
 * in the upstream block) connections whose response allowed it wait in an IdlePool for the next
 * request, subject to keepalive_timeout, keepalive_requests and keepalive_time.
 *
 *   const client = new HttpClient({ address: '127.0.0.1:8080', pool: { maxIdle: 16 } });
 *   const res = await client.request(
 *     { method: 'GET', target: '/x', headers: ['Host', 'b'], httpVersion: '1.1', keepAlive: true },
 *     { kind: 'none' },
 *   );
 *   for await (const chunk of res.body) ...
 *
 * A pooled connection may have been closed by the peer just before it was taken (its own idle
 * timeout). When such a reused connection fails before any response byte arrived, the request is
 * sent again on a new connection if its body can be sent again (none, a Buffer, a file): nginx
 * does the same without counting a failed try (ngx_http_upstream_next with `u->peer.cached`).
 */
import { AddressError, formatAddress, parseAddress, type ListenAddress } from '../appserver/address.js';
import { DEFAULT_RESPONSE_MAX_HEAD_SIZE } from '../protocols/http1-response.js';
import { UpstreamError, type UpstreamErrorCode } from './errors.js';
import { HttpConnection, type HttpBody, type HttpConnectionLimits, type HttpRequest, type HttpResponse } from './http-connection.js';
import type { Peer } from './peer.js';
import { IdlePool, type PoolOptions } from './pool.js';
import { DEFAULT_BODY_HIGH_WATER_MARK } from './response-body.js';
import { resolveTimeouts, type UpstreamTimeouts } from './timeouts.js';
import { stderrLog, type CancelSignal, type UpstreamLog } from './types.js';

export type { HttpBody, HttpRequest, HttpResponse } from './http-connection.js';

export interface HttpClientOptions {
  /** `host:port` or `unix:/path` (nginx's `$upstream_addr` forms), or a parsed address. */
  address: string | ListenAddress;
  connectTimeout?: number;
  sendTimeout?: number;
  readTimeout?: number;
  /** proxy_buffer_size: the largest response head. Default 4096. */
  maxHeadSize?: number;
  highWaterMark?: number;
  /** Keep idle connections (nginx `keepalive N` + keepalive_timeout). Absent: none kept. */
  pool?: Partial<PoolOptions>;
  /** keepalive_requests (1000). */
  maxRequestsPerConnection?: number;
  /** keepalive_time in ms (1 h). */
  maxConnectionAgeMs?: number;
  log?: UpstreamLog;
}

/** Failures of a stale pooled connection: the peer closed or reset it. Timeouts are not stale. */
const STALE_CONNECTION_CODES: ReadonlySet<UpstreamErrorCode> = new Set<UpstreamErrorCode>([
  'ERR_UPSTREAM_PREMATURE_CLOSE',
  'ERR_UPSTREAM_SEND',
  'ERR_UPSTREAM_READ',
]);

/** nginx's keepalive_requests and keepalive_time defaults. */
const DEFAULT_MAX_REQUESTS = 1000;
const DEFAULT_MAX_AGE_MS = 3_600_000;

export class HttpClient {
  readonly peer: string;
  private readonly peerValue: Peer;
  private readonly timeouts: UpstreamTimeouts;
  private readonly limits: HttpConnectionLimits;
  private readonly pool: IdlePool<HttpConnection> | null;
  private readonly log: UpstreamLog;
  private closed = false;
  private readonly hooks = {
    log: (level: 'error' | 'warn', message: string) => this.log(level, message),
    onReusable: (connection: HttpConnection) => {
      if (this.closed || this.pool === null) connection.close();
      else this.pool.put(connection);
    },
    onIdleClose: (connection: HttpConnection) => {
      this.pool?.remove(connection);
    },
  };

  constructor(options: HttpClientOptions) {
    this.peerValue = httpPeer(options.address);
    this.peer = this.peerValue.name;
    this.timeouts = resolveTimeouts(options);
    this.limits = {
      maxHeadSize: positive('maxHeadSize', options.maxHeadSize ?? DEFAULT_RESPONSE_MAX_HEAD_SIZE),
      highWaterMark: positive('highWaterMark', options.highWaterMark ?? DEFAULT_BODY_HIGH_WATER_MARK),
      maxRequests: positive('maxRequestsPerConnection', options.maxRequestsPerConnection ?? DEFAULT_MAX_REQUESTS),
      maxAgeMs: positive('maxConnectionAgeMs', options.maxConnectionAgeMs ?? DEFAULT_MAX_AGE_MS),
    };
    this.pool = options.pool === undefined ? null : new IdlePool<HttpConnection>(options.pool);
    this.log = options.log ?? stderrLog;
  }

  /** Idle connections waiting in the pool. */
  get idleConnections(): number {
    return this.pool?.size ?? 0;
  }

  /** Resolves at the response head; rejects with an UpstreamError. */
  async request(request: HttpRequest, body: HttpBody, signal: CancelSignal | null = null): Promise<HttpResponse> {
    if (this.closed) throw new UpstreamError('ERR_UPSTREAM_CLIENT_CLOSED', 'the upstream client is closed', 'connecting', this.peer);
    if (body.kind === 'stream' && body.length < 0 && request.httpVersion !== '1.1') {
      throw new UpstreamError('ERR_UPSTREAM_INVALID_REQUEST', 'a request body of unknown length needs HTTP/1.1 (chunked)', 'sending request', this.peer);
    }
    const pooled = request.keepAlive ? this.pool?.take() : undefined;
    if (pooled === undefined) return this.connect().start(request, body, signal);
    try {
      return await pooled.start(request, body, signal);
    } catch (error) {
      const replayable = body.kind !== 'stream';
      const stale = error instanceof UpstreamError && STALE_CONNECTION_CODES.has(error.code) && pooled.bytesReceived === 0;
      if (!replayable || !stale || this.closed || signal?.aborted === true) throw error;
      return this.connect().start(request, body, signal);
    }
  }

  /** No new requests; idle connections close. Requests in flight finish. */
  close(): Promise<void> {
    this.closed = true;
    this.pool?.closeAll();
    return Promise.resolve();
  }

  private connect(): HttpConnection {
    return new HttpConnection(this.peerValue, this.timeouts, this.limits, this.hooks);
  }
}

/** The peer named as nginx logs a proxied upstream: `http://127.0.0.1:8080`, `http://unix:/s`. */
function httpPeer(address: string | ListenAddress): Peer {
  let parsed: ListenAddress;
  if (typeof address !== 'string') parsed = address;
  else if (address.startsWith('unix:')) parsed = { kind: 'unix', path: address.slice('unix:'.length) };
  else parsed = parseAddress(address);
  if (parsed.kind === 'tcp' && parsed.port === 0) throw new AddressError(String(address), 'port 0 cannot be connected to');
  if (parsed.kind === 'unix' && parsed.path === '') throw new AddressError(String(address), 'the UNIX socket path is empty');
  const where = parsed.kind === 'unix' ? `unix:${parsed.path}` : formatAddress(parsed);
  return { address: parsed, name: `http://${where}` };
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be a positive number, got ${String(value)}`);
  return value;
}

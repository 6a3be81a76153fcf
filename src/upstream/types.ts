/**
 * The one client interface the three upstream protocols share (uwsgi, SCGI, FastCGI): the web
 * server's `uwsgi_pass` / `scgi_pass` / `fastcgi_pass` and the app server's router call
 * `request()` and never look at the wire format.
 *
 *   const client = new UwsgiClient({ address: '127.0.0.1:9000', readTimeout: 30_000 });
 *   const res = await client.request({
 *     vars: [['REQUEST_METHOD', 'POST'], ['PATH_INFO', '/upload'], ['CONTENT_TYPE', 'text/plain']],
 *     body: Buffer.from('hello'),                  // CONTENT_LENGTH is added: 5
 *   });
 *   res.status   // 200
 *   res.reason   // 'OK'
 *   res.headers  // ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']
 *   for await (const chunk of res.body) ...      // throws UpstreamError if the body is cut short
 */
import type { ResponseBody } from './response-body.js';

export interface UpstreamRequest {
  /** CGI variables in order, as [name, value] pairs or flat [name, value, ...]. Latin1 text (one
   *  char per byte). Repeated names are sent repeated (uwsgi, FastCGI); SCGI refuses them. */
  vars: ReadonlyArray<readonly [string, string]> | readonly string[];
  /** The request body: a whole Buffer, or chunks read as the peer takes them (backpressure). */
  body?: Buffer | AsyncIterable<Uint8Array>;
  /** Body length when `body` is an iterable. uwsgi and SCGI need it (their framing is the length);
   *  FastCGI can stream a body of unknown length. Set as CONTENT_LENGTH when the vars lack it. */
  contentLength?: number;
  /** uwsgi only: the packet's modifier1 (0 = WSGI, the default; 30 = strip SCRIPT_NAME). */
  modifier1?: number;
  /** Gives up the request: before the head it rejects with ERR_UPSTREAM_ABORTED, after it the
   *  body does (as `body.cancel()`). */
  signal?: CancelSignal;
  /** Called once the connection is established, before the request is written (at once for a
   *  pooled one): nginx's `$upstream_connect_time` is measured to here. */
  onConnected?: () => void;
}

export interface UpstreamResponse {
  status: number;
  /** As sent, or the standard phrase when the peer sent none. */
  reason: string;
  /** Flat [name, value, ...] as sent. FastCGI and SCGI: without `Status` (nginx hides it). */
  headers: string[];
  /** Chunks as they arrive. Iterate it to the end, or `cancel()` it: an unread body holds the
   *  connection (its socket is paused) until then. */
  body: ResponseBody;
}

export interface UpstreamClient {
  /** The peer as messages name it: `uwsgi://127.0.0.1:9000`. */
  readonly peer: string;
  /** Resolves once the response head is parsed; rejects with an UpstreamError. */
  request(request: UpstreamRequest): Promise<UpstreamResponse>;
  /** No new requests; idle pooled connections close. Requests in flight finish. */
  close(): Promise<void>;
}

/** Where the client logs what nginx would log without failing the request: FastCGI stderr
 *  ("FastCGI sent in stderr: ..."), a body longer than its Content-Length. */
export type UpstreamLog = (level: 'error' | 'warn', message: string) => void;

export interface UpstreamClientOptions {
  /** `host:port`, `[v6]:port`, `:port` (this host), a UNIX socket path, or `unix:/path`. */
  address: string;
  /** Milliseconds; nginx's defaults (60 s each) when left out. See timeouts.ts. */
  connectTimeout?: number;
  sendTimeout?: number;
  readTimeout?: number;
  /** Largest response head accepted (nginx's `*_buffer_size`). Default 4096. */
  maxHeadSize?: number;
  /** Body bytes queued for the reader before the socket is paused. Default 64 KiB. */
  highWaterMark?: number;
  /** Default: a line on stderr. */
  log?: UpstreamLog;
}

/** The default `log`: one line on stderr, nginx's "[level] message" shape. */
export const stderrLog: UpstreamLog = (level, message) => {
  process.stderr.write(`tsgi: [${level}] ${message}\n`);
};

/**
 * What the clients use of an AbortSignal: a real one fits, and so does a cheaper flag (the web
 * server's ClientGone, read by every proxied request and fired for almost none).
 */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * The seam between the generic upstream handler (pass.ts: balancing, retries, timeouts, the
 * response) and the four protocol modules, nginx's ngx_http_upstream_t create_request /
 * process_header split:
 *
 *   proxy-module.ts    proxy_pass    HTTP/1.x (src/upstream/http-client.ts)
 *   uwsgi-module.ts    uwsgi_pass    uwsgi   (src/upstream/uwsgi-client.ts)
 *   fastcgi-module.ts  fastcgi_pass  FastCGI (src/upstream/fastcgi-client.ts)
 *   scgi-module.ts     scgi_pass     SCGI    (src/upstream/scgi-client.ts)
 *
 * A module turns the request into what it sends (`prepare`, once per request, before the first
 * peer is tried) and makes one client per peer (`createClient`, cached by pass.ts for the
 * configuration generation). Everything else (which peer, when to retry, 502/504, hiding
 * headers, streaming the answer) is pass.ts's.
 */
import type { PassSettings, PerLocation, UpstreamConf } from '../config/index.js';
import type { RequestContext } from '../request-context.js';
import type { ResponseBody as UpstreamResponseBody, UpstreamLog } from '../../upstream/index.js';
import type { CancelSignal } from '../../upstream/types.js';
import type { UpstreamPeer } from './types.js';
import type { Socket } from 'node:net';

/** The request body as the handler hands it to a module (read once, replayable for retries). */
export type PassBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'buffer'; readonly data: Buffer }
  /** Spilled to client_body_temp_path: re-read from the file for each attempt. */
  | { readonly kind: 'file'; readonly path: string; readonly size: number }
  /** `*_request_buffering off`: chunks as the client sends them; not replayable, so an attempt
   *  that has started sending it is never retried. `length` is -1 for a chunked request. */
  | { readonly kind: 'stream'; readonly chunks: AsyncIterable<Buffer>; readonly length: number };

/** The upstream's answer, the same shape for every protocol. */
export interface PassResponse {
  readonly status: number;
  readonly reason: string;
  /** Flat [name, value, ...] as the peer sent them (hop-by-hop ones included: pass.ts filters). */
  readonly headers: readonly string[];
  /** Read to the end or cancel: an unread body holds the connection. */
  readonly body: UpstreamResponseBody;
  /** proxy_pass only, after a 101 to an Upgrade request: the upstream socket and the bytes read
   *  past the response head. The handler then joins it to the client socket. */
  readonly upgrade?: { readonly socket: Socket; readonly head: Buffer };
}

/** One peer, spoken to in one protocol. */
export interface PassClient {
  /** Resolves at the response head; rejects with an UpstreamError (its phase and code decide
   *  502 or 504 and whether `*_next_upstream` retries). `onConnected`, when the client can tell,
   *  marks the connection's establishment ($upstream_connect_time; "-" without it). */
  request(prepared: PreparedRequest, body: PassBody, signal: CancelSignal, onConnected?: () => void): Promise<PassResponse>;
  close(): Promise<void>;
}

/** What a module sends, made once per request: CGI variables, or an HTTP request head. */
export type PreparedRequest =
  | { readonly kind: 'cgi'; readonly vars: readonly string[]; readonly modifier1?: number; readonly modifier2?: number }
  | {
      readonly kind: 'http';
      readonly method: string;
      readonly target: string;
      /** Flat [name, value, ...], in the order sent. */
      readonly headers: readonly string[];
      readonly httpVersion: '1.0' | '1.1';
      /** Keep the connection for the next request (HTTP/1.1 and the group has `keepalive`). */
      readonly keepAlive: boolean;
    };

export interface PassModule<S extends PassSettings = PassSettings> {
  readonly name: 'proxy' | 'uwsgi' | 'fastcgi' | 'scgi';
  /** This module's settings in force. */
  settings(loc: PerLocation): S;
  /** Throws nothing: a value that cannot be sent (a vars block over 64 KiB) is an UpstreamError
   *  with code ERR_UPSTREAM_INVALID_REQUEST, which pass.ts answers with 500 as nginx does. */
  prepare(ctx: RequestContext, settings: S, body: PassBody): PreparedRequest;
  /** `log`: where the client reports what fails no request (FastCGI stderr, extra bytes). */
  createClient(peer: UpstreamPeer, settings: S, group: UpstreamConf, log?: UpstreamLog): PassClient;
  /** Settings that change how `createClient` builds a client (timeouts, keep-conn), as a string:
   *  pass.ts caches one client per peer and variant. Absent: the timeouts and buffer size. */
  clientVariant?(settings: S, group: UpstreamConf): string;
  /** The protocol frames the request body by its length (uwsgi, SCGI): a chunked body is then
   *  read whole even with `*_request_buffering off`, as nginx does. */
  readonly needsBodyLength?: boolean;
  /** Response headers the module hides unless `*_pass_header` names them (proxy: Date, Server,
   *  X-Pad, X-Accel-*; the others: Status, X-Accel-*), lower-case. */
  readonly hiddenHeaders: readonly string[];
}

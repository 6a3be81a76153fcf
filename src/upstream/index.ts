/**
 * The upstream client: tsgi as the client of an application server over uwsgi, SCGI or
 * FastCGI, shared by the web server's `uwsgi_pass` / `scgi_pass` / `fastcgi_pass` and the app
 * server's HTTP router. Start at types.ts (the one interface), then a protocol's client file.
 *
 *   uwsgi-client.ts, scgi-client.ts   one connection per request (stream-client.ts); uwsgi can
 *                                     ask tsgi serve to keep it (kept-response.ts, pool.ts)
 *   fastcgi-client.ts                 FCGI_KEEP_CONN and the idle pool (fastcgi-connection.ts, pool.ts)
 *   exchange.ts                       one request/response: states, head, body, Content-Length
 *   connection.ts, timeouts.ts        the socket, its three timeouts, nginx-worded errors (errors.ts)
 */
export { UwsgiClient } from './uwsgi-client.js';
export { ScgiClient } from './scgi-client.js';
export type { StreamClientOptions } from './stream-client.js';
export { KEEP_MODIFIER2 } from './kept-response.js';
export { FastcgiClient, type FastcgiClientOptions } from './fastcgi-client.js';
export { UpstreamError, type UpstreamErrorCode, type UpstreamPhase } from './errors.js';
export { ResponseBody } from './response-body.js';
export { DEFAULT_POOL_OPTIONS, type PoolOptions } from './pool.js';
export { DEFAULT_UPSTREAM_TIMEOUTS, type UpstreamTimeouts } from './timeouts.js';
export { parsePeer, type Peer, type UpstreamScheme } from './peer.js';
export type { UpstreamClient, UpstreamClientOptions, UpstreamLog, UpstreamRequest, UpstreamResponse } from './types.js';

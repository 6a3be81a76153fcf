/** What every client connection of the HTTP router shares. */
import type { Http1Limits } from '../../protocols/http1.js';
import type { DateClock } from '../http/response.js';
import type { Logger } from '../log.js';
import type { ClientConnection } from './client.js';
import type { WorkerPool } from './worker-pool.js';

/** Where the workers accept uwsgi: the private socket the master bound for them. */
export type WorkerAddress = { path: string } | { host: string; port: number };

export interface RouterContext {
  upstream: WorkerAddress;
  /** The workers' socket as nginx names a peer in its log: `uwsgi://unix:/tmp/.../workers.sock`. */
  upstreamName: string;
  log: Logger;
  clock: DateClock;
  limits: Partial<Http1Limits>;
  /** SERVER_NAME of every request (uWSGI's router sends the machine's hostname). */
  serverName: string;
  /** The workers' --buffer-size: a bigger vars block is answered 502 by the router. */
  bufferSize: number;
  /** --http-timeout: seconds of silence from a worker (or a client mid-request) before giving up. */
  timeoutSeconds: number;
  /** --http-keepalive: seconds an idle client connection stays open; 0: no keep-alive at all. */
  keepAliveSeconds: number;
  /** Largest chunked request body the router buffers to send it with a CONTENT_LENGTH. */
  chunkedBodyLimit: number;
  /** Kept connections to the workers (tsgi's Python workers), or null: a connection per request. */
  pool: WorkerPool | null;
  forget(connection: ClientConnection): void;
}

/** `uwsgi://unix:/path` or `uwsgi://127.0.0.1:PORT`, as nginx writes an upstream in its log. */
export function describeWorkerAddress(address: WorkerAddress): string {
  return 'path' in address ? `uwsgi://unix:${address.path}` : `uwsgi://${address.host}:${address.port}`;
}

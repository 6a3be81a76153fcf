/**
 * The messages between the master and its HTTP router process, over the router's IPC channel.
 * Closed unions with a `type` tag, checked on arrival like the workers' (../worker-protocol.ts).
 */
import type { WorkerAddress } from './context.js';
import { SOCKET_PROTOCOLS, type SocketProtocol } from '../sockets.js';

/** Everything the router needs, sent once right after it is forked. */
export interface RouterInit {
  /** The workers' private uwsgi socket. */
  upstream: WorkerAddress;
  /** SERVER_PORT for the requests of each --http socket, by socket index ('' for a UNIX socket). */
  serverPorts: string[];
  /**
   * The protocol of each socket, by socket index; absent: all HTTP. A uwsgi, SCGI or FastCGI
   * socket is one the Python workers cannot accept on themselves (./relay-app.ts).
   */
  protocols?: SocketProtocol[];
  /** Listen queue length of the --http sockets (--listen). */
  backlog: number;
  /** The workers' --buffer-size. */
  bufferSize: number;
  /** --http-timeout, seconds. */
  timeoutSeconds: number;
  /** --http-keepalive, seconds. */
  keepAliveSeconds: number;
  /** Largest chunked request body buffered, bytes. */
  chunkedBodyLimit: number;
  /** How long a router that leaves on its own (master gone, SIGTERM) lets responses finish. */
  mercyMs: number;
  /** Kept connections to the workers, at most; 0 for workers that close after each response (JS). */
  keptConnections: number;
}

export type MasterToRouter =
  | { type: 'init'; init: RouterInit }
  /** Carries an --http socket handle (the IPC message's second argument). */
  | { type: 'socket'; index: number }
  /** The workers' number changed: the new limit of kept connections (RouterInit.keptConnections). */
  | { type: 'kept'; keptConnections: number }
  /** Stop accepting and leave: after the responses in flight (up to `graceMs`), or at once (0). */
  | { type: 'stop'; graceMs: number };

export type RouterToMaster =
  /** The router accepts on every --http socket. */
  { type: 'ready' };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isWorkerAddress(value: unknown): value is WorkerAddress {
  return isObject(value) && (typeof value.path === 'string' || (typeof value.host === 'string' && typeof value.port === 'number'));
}

function isRouterInit(value: unknown): value is RouterInit {
  return (
    isObject(value) &&
    isWorkerAddress(value.upstream) &&
    Array.isArray(value.serverPorts) &&
    value.serverPorts.every((port) => typeof port === 'string') &&
    (value.protocols === undefined ||
      (Array.isArray(value.protocols) && value.protocols.every((protocol) => (SOCKET_PROTOCOLS as readonly unknown[]).includes(protocol)))) &&
    typeof value.backlog === 'number' &&
    typeof value.bufferSize === 'number' &&
    typeof value.timeoutSeconds === 'number' &&
    typeof value.keepAliveSeconds === 'number' &&
    typeof value.chunkedBodyLimit === 'number' &&
    typeof value.mercyMs === 'number' &&
    typeof value.keptConnections === 'number'
  );
}

export function parseMasterToRouter(value: unknown): MasterToRouter | null {
  if (!isObject(value)) return null;
  switch (value.type) {
    case 'init':
      return isRouterInit(value.init) ? { type: 'init', init: value.init } : null;
    case 'socket':
      return typeof value.index === 'number' ? { type: 'socket', index: value.index } : null;
    case 'stop':
      return typeof value.graceMs === 'number' ? { type: 'stop', graceMs: value.graceMs } : null;
    case 'kept':
      return typeof value.keptConnections === 'number' ? { type: 'kept', keptConnections: value.keptConnections } : null;
    default:
      return null;
  }
}

export function parseRouterToMaster(value: unknown): RouterToMaster | null {
  return isObject(value) && value.type === 'ready' ? { type: 'ready' } : null;
}

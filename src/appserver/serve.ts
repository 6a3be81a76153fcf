/**
 * Serving an application on sockets. `serve(app, { http })` is the programmatic server (the role of
 * `wsgiref.simple_server.make_server`); `attachApp` is the part a worker runs on sockets the master
 * bound: it accepts connections, hands each to its protocol, sweeps timeouts, and closes gracefully.
 */
import type { Server, Socket } from 'node:net';
import type { App } from '../gateway/types.js';
import { TsgiError } from '../errors.js';
import { LogErrorStream } from '../gateway/environ.js';
import type { Http1Limits } from '../protocols/http1.js';
import { HttpConnection } from './http/connection.js';
import { FastcgiConnection } from './fastcgi-connection.js';
import { scgiProtocol, streamConnectionFactory, uwsgiProtocol } from './stream-protocols.js';
import { DateClock } from './http/response.js';
import type { ServedConnection, ServerContext } from './context.js';
import { Logger, silentLogger } from './log.js';
import { bindSockets, closeSockets, type BoundAddress, type BoundSocket, type SocketProtocol, type SocketSpec } from './sockets.js';

export type { BoundAddress, SocketSpec } from './sockets.js';

export interface AppServerOptions {
  /** Server log; `false` for none. Default: stderr. */
  log?: Logger | false;
  /** Request head limits of the HTTP codec. */
  limits?: Partial<Http1Limits>;
  /** Seconds an idle keep-alive connection stays open (nginx's keepalive_timeout; default 75). */
  keepAliveTimeout?: number;
  /** Seconds a client has to send a complete request head (nginx's client_header_timeout; default 60). */
  headerTimeout?: number;
  /** Value of `tsgi.multiprocess` (true when several workers run the app). */
  multiprocess?: boolean;
  /** uWSGI's --buffer-size: the largest uwsgi vars block / SCGI header block accepted (default 4096). */
  bufferSize?: number;
}

export interface ServeOptions extends AppServerOptions {
  /** Where to accept HTTP: `host:port`, `:port` or a UNIX socket path (one or several). */
  http?: string | string[];
  /** Sockets of any protocol (uwsgi, FastCGI, SCGI, HTTP). */
  sockets?: SocketSpec[];
  /** Listen queue length (uWSGI's --listen; default 100 as uWSGI). */
  backlog?: number;
  /** File mode of UNIX sockets (uWSGI's --chmod-socket). */
  chmodSocket?: number;
}

export interface ServerHandle {
  /** The first bound address as a URL (`http://127.0.0.1:8000/`; `http+unix://...` for a socket path). */
  readonly url: string;
  /** The first bound address. */
  readonly address: BoundAddress;
  readonly addresses: BoundAddress[];
  /** Stops accepting, lets in-flight responses finish (up to `graceMs`), then closes everything. */
  close(graceMs?: number): Promise<void>;
}

/** An application attached to listening sockets; closing it does not close the sockets. */
/** How `AttachedApp.drain` treats idle connections. */
export interface DrainOptions {
  /**
   * Milliseconds an idle connection stays open after the drain starts, so that a request its
   * client is sending at that moment (the first one of a connection just accepted, the next one
   * on a keep-alive connection) is answered instead of cut. Worth it when another process takes
   * over the socket (graceful reload, recycling); 0 (the default) closes idle connections at once.
   */
  idleGraceMs?: number;
}

export interface AttachedApp {
  /** Stops accepting, lets in-flight responses finish (up to `graceMs`), then cuts what is left. */
  drain(graceMs?: number, options?: DrainOptions): Promise<void>;
  /** Connections open now. */
  readonly connectionCount: number;
  /** Bytes written to clients so far, on closed and open connections (uWSGI's per-worker `tx`). */
  readonly bytesWritten: number;
}

export interface AttachTarget {
  protocol: SocketProtocol;
  server: Server;
  bound: BoundAddress;
}

type ConnectionFactory = (socket: Socket, context: ServerContext) => ServedConnection;

function connectionFactory(protocol: SocketProtocol, options: AppServerOptions): ConnectionFactory {
  switch (protocol) {
    case 'http':
      return (socket, context) => new HttpConnection(socket, context);
    case 'uwsgi':
      return streamConnectionFactory(uwsgiProtocol({ bufferSize: options.bufferSize }));
    case 'scgi':
      return streamConnectionFactory(scgiProtocol({ bufferSize: options.bufferSize }));
    case 'fastcgi':
      return (socket, context) => new FastcgiConnection(socket, context);
  }
}

export class UnsupportedProtocolError extends TsgiError {
  constructor(protocol: SocketProtocol) {
    super('ERR_UNSUPPORTED_PROTOCOL', `the ${protocol} protocol is not supported yet`);
  }
}

const SWEEP_INTERVAL_MS = 1000;
const CONNECTION_CLOSE: [string, string] = ['Connection', 'close'];

export function attachApp(app: App, targets: readonly AttachTarget[], options: AppServerOptions = {}): AttachedApp {
  const log = options.log === false ? silentLogger : (options.log ?? new Logger());
  const connections = new Set<ServedConnection>();
  const running = new Set<Promise<void>>();
  /** Bytes written on connections already closed (open ones are summed when asked). */
  let closedBytes = 0;
  let drainStarted = false;
  const listeners: Array<{ server: Server; listener: (socket: Socket) => void }> = [];

  for (const target of targets) {
    const factory = connectionFactory(target.protocol, options);
    const context: ServerContext = {
      app,
      log,
      clock: new DateClock(),
      limits: options.limits ?? {},
      errors: new LogErrorStream((line) => log.line(line)),
      serverName: 'host' in target.bound ? target.bound.host : 'localhost',
      serverPort: 'port' in target.bound ? String(target.bound.port) : '',
      multiprocess: options.multiprocess ?? false,
      track(pending) {
        running.add(pending);
        void pending.finally(() => running.delete(pending));
      },
      forget(connection) {
        if (connections.delete(connection)) closedBytes += connection.socket.bytesWritten;
      },
    };
    const listener = (socket: Socket): void => {
      // A request that starts on this connection while the app drains makes the connection close
      // after its response, and over HTTP a response that starts while the app drains says
      // `Connection: close` (the server owns that header; the sink turns it into the end of
      // keep-alive). The client learns it from the response instead of finding the connection
      // closed under its next request.
      const connectionContext: ServerContext = {
        ...context,
        app:
          target.protocol === 'http'
            ? (environ, startResponse) => {
                if (drainStarted) connection.shutdown();
                return context.app(environ, (status, headers, excInfo) =>
                  startResponse(status, drainStarted ? [...headers, CONNECTION_CLOSE] : headers, excInfo),
                );
              }
            : (environ, startResponse) => {
                if (drainStarted) connection.shutdown();
                return context.app(environ, startResponse);
              },
      };
      const connection = factory(socket, connectionContext);
      connections.add(connection);
    };
    target.server.on('connection', listener);
    listeners.push({ server: target.server, listener });
  }

  const keepAliveTicks = Math.ceil(((options.keepAliveTimeout ?? 75) * 1000) / SWEEP_INTERVAL_MS);
  const headerTicks = Math.ceil(((options.headerTimeout ?? 60) * 1000) / SWEEP_INTERVAL_MS);
  const sweep = setInterval(() => {
    for (const connection of connections) {
      if (connection.active) {
        connection.active = false;
        connection.idleTicks = 0;
        continue;
      }
      connection.idleTicks++;
      // A connection waiting on the application is never timed out here (harakiri is the app's limit).
      const expired = connection.idle
        ? connection.idleTicks >= keepAliveTicks
        : connection.waitingForHead && connection.idleTicks >= headerTicks;
      if (expired) connection.socket.destroy();
    }
  }, SWEEP_INTERVAL_MS);
  sweep.unref();

  let draining: Promise<void> | null = null;
  return {
    get connectionCount() {
      return connections.size;
    },
    get bytesWritten() {
      let total = closedBytes;
      for (const connection of connections) total += connection.socket.bytesWritten;
      return total;
    },
    drain(graceMs = 10_000, drainOptions: DrainOptions = {}) {
      draining ??= (async () => {
        drainStarted = true;
        clearInterval(sweep);
        for (const { server, listener } of listeners) server.off('connection', listener);
        const started = Date.now();
        const idleGraceMs = Math.min(graceMs, drainOptions.idleGraceMs ?? 0);
        const told = new Set<ServedConnection>();
        for (;;) {
          const elapsed = Date.now() - started;
          for (const connection of connections) {
            // Busy: it closes after its response. Idle: within the idle grace its client may be
            // sending a request (a new connection's first one is often still in flight); that
            // request is answered and closes the connection. After the idle grace: closed now.
            if (told.has(connection) || (connection.idle && elapsed < idleGraceMs)) continue;
            told.add(connection);
            connection.shutdown();
          }
          if ((connections.size === 0 && running.size === 0) || elapsed >= graceMs) break;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        for (const connection of connections) connection.socket.destroy();
      })();
      return draining;
    },
  };
}

export async function serve(app: App, options: ServeOptions): Promise<ServerHandle> {
  const http = options.http === undefined ? [] : Array.isArray(options.http) ? options.http : [options.http];
  const specs: SocketSpec[] = [...http.map((address) => ({ protocol: 'http' as const, address })), ...(options.sockets ?? [])];
  if (specs.length === 0) throw new TypeError('serve(): give at least one address in options.http or options.sockets');
  const sockets: BoundSocket[] = await bindSockets(specs, { backlog: options.backlog, chmod: options.chmodSocket });
  let attached: AttachedApp;
  try {
    attached = attachApp(
      app,
      sockets.map((socket) => ({ protocol: socket.spec.protocol, server: socket.server, bound: socket.bound })),
      options,
    );
  } catch (error) {
    await closeSockets(sockets, { removeUnixFiles: true });
    throw error;
  }
  const log = options.log === false ? silentLogger : (options.log ?? null);
  for (const socket of sockets) {
    socket.server.on('error', (error) => (log ?? new Logger()).error('listening socket error', error));
  }
  const first = sockets[0]!.bound;
  const url =
    'path' in first
      ? `http+unix://${encodeURIComponent(first.path)}/`
      : `http://${first.host.includes(':') ? `[${first.host}]` : first.host}:${first.port}/`;

  let closing: Promise<void> | null = null;
  return {
    url,
    address: first,
    addresses: sockets.map((socket) => socket.bound),
    close(graceMs = 10_000) {
      closing ??= (async () => {
        const stopped = closeSockets(sockets, { removeUnixFiles: true });
        await attached.drain(graceMs);
        await stopped;
      })();
      return closing;
    },
  };
}

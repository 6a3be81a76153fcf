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
export interface AttachedApp {
  /** Stops accepting, lets in-flight responses finish (up to `graceMs`), then cuts what is left. */
  drain(graceMs?: number): Promise<void>;
  /** Connections open now. */
  readonly connectionCount: number;
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

export function attachApp(app: App, targets: readonly AttachTarget[], options: AppServerOptions = {}): AttachedApp {
  const log = options.log === false ? silentLogger : (options.log ?? new Logger());
  const connections = new Set<ServedConnection>();
  const running = new Set<Promise<void>>();
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
        connections.delete(connection);
      },
    };
    const listener = (socket: Socket): void => {
      connections.add(factory(socket, context));
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
    drain(graceMs = 10_000) {
      draining ??= (async () => {
        clearInterval(sweep);
        for (const { server, listener } of listeners) server.off('connection', listener);
        for (const connection of connections) connection.shutdown();
        const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
        const drained = (async () => {
          await Promise.allSettled([...running]);
          while (connections.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
        })();
        await Promise.race([drained, deadline]);
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

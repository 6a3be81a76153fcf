/**
 * `serve(app, { http })`: the programmatic server (the role of `wsgiref.simple_server.make_server`),
 * also what `tsgi serve --http-socket` runs in each worker.
 */
import { createServer, type Server } from 'node:net';
import { rmSync } from 'node:fs';
import type { App } from '../gateway/types.js';
import { LogErrorStream } from '../gateway/environ.js';
import type { Http1Limits } from '../protocols/http1.js';
import { parseAddress, type ListenAddress } from './address.js';
import { HttpConnection } from './http/connection.js';
import { DateClock } from './http/response.js';
import type { HttpServerContext } from './http/environ.js';
import { Logger, silentLogger } from './log.js';

export interface ServeOptions {
  /** Where to accept HTTP: `host:port`, `:port` or a UNIX socket path (one or several). */
  http: string | string[];
  /** Server log; `false` for none. Default: stderr. */
  log?: Logger | false;
  /** Request head limits of the HTTP codec. */
  limits?: Partial<Http1Limits>;
  /** Seconds an idle keep-alive connection stays open (nginx's keepalive_timeout; default 75). */
  keepAliveTimeout?: number;
  /** Seconds a client has to send a complete request head (nginx's client_header_timeout; default 60). */
  headerTimeout?: number;
  /** Listen queue length (uWSGI's --listen; default 100 as uWSGI). */
  backlog?: number;
  /** Value of `tsgi.multiprocess` (true when several workers run the app). */
  multiprocess?: boolean;
}

export type BoundAddress = { host: string; port: number } | { path: string };

export interface ServerHandle {
  /** The first bound address as a URL (`http://127.0.0.1:8000/`; `http+unix://...` for a socket path). */
  readonly url: string;
  /** The first bound address. */
  readonly address: BoundAddress;
  readonly addresses: BoundAddress[];
  /** Stops accepting, lets in-flight responses finish (up to `graceMs`), then closes everything. */
  close(graceMs?: number): Promise<void>;
}

const SWEEP_INTERVAL_MS = 1000;

export async function serve(app: App, options: ServeOptions): Promise<ServerHandle> {
  const log = options.log === false ? silentLogger : (options.log ?? new Logger());
  const specs = Array.isArray(options.http) ? options.http : [options.http];
  if (specs.length === 0) throw new TypeError('serve(): at least one address is required in options.http');
  const addresses = specs.map(parseAddress);
  const connections = new Set<HttpConnection>();
  const running = new Set<Promise<void>>();
  const servers: Server[] = [];
  const bound: BoundAddress[] = [];

  const contextFor = (address: ListenAddress): HttpServerContext => ({
    app,
    log,
    clock: new DateClock(),
    limits: options.limits ?? {},
    errors: new LogErrorStream((line) => log.line(line)),
    serverName: address.kind === 'tcp' ? address.host : 'localhost',
    serverPort: address.kind === 'tcp' ? String(address.port) : '',
    multiprocess: options.multiprocess ?? false,
    track(pending) {
      running.add(pending);
      void pending.finally(() => running.delete(pending));
    },
    forget(connection) {
      connections.delete(connection as HttpConnection);
    },
  });

  try {
    for (const address of addresses) {
      const context = contextFor(address);
      const server = createServer({ noDelay: true }, (socket) => {
        connections.add(new HttpConnection(socket, context));
      });
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const backlog = options.backlog ?? 100;
        if (address.kind === 'unix') server.listen({ path: address.path, backlog }, resolve);
        else server.listen({ host: address.host, port: address.port, backlog }, resolve);
      });
      const info = server.address();
      if (typeof info === 'string' || info === null) {
        bound.push({ path: address.kind === 'unix' ? address.path : String(info) });
      } else {
        bound.push({ host: info.address, port: info.port });
        context.serverPort = String(info.port);
      }
      server.on('error', (error) => log.error('listening socket error', error));
    }
  } catch (error) {
    for (const server of servers) server.close();
    throw error;
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
      if (connection.idle ? connection.idleTicks >= keepAliveTicks : connection.idleTicks >= headerTicks && connection.waitingForHead) {
        connection.socket.destroy();
      }
    }
  }, SWEEP_INTERVAL_MS);
  sweep.unref();

  const first = bound[0]!;
  const url = 'path' in first ? `http+unix://${encodeURIComponent(first.path)}/` : `http://${first.host.includes(':') ? `[${first.host}]` : first.host}:${first.port}/`;

  let closing: Promise<void> | null = null;
  return {
    url,
    address: first,
    addresses: bound,
    close(graceMs = 10_000) {
      closing ??= (async () => {
        clearInterval(sweep);
        const stopped = Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
        for (const connection of connections) connection.shutdown();
        const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
        const drained = (async () => {
          await Promise.allSettled([...running]);
          while (connections.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
        })();
        await Promise.race([drained, deadline]);
        for (const connection of connections) connection.socket.destroy();
        await stopped;
        for (const address of addresses) {
          if (address.kind === 'unix') rmSync(address.path, { force: true });
        }
      })();
      return closing;
    },
  };
}

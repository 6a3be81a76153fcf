/**
 * The HTTP router's server: the client connections of every `--http` socket it accepts on, the
 * once-a-second sweep that enforces their timeouts, and a graceful close.
 */
import { hostname } from 'node:os';
import type { Server, Socket } from 'node:net';
import type { Http1Limits } from '../../protocols/http1.js';
import { DateClock } from '../http/response.js';
import type { Logger } from '../log.js';
import { ClientConnection } from './client.js';
import { describeWorkerAddress, type RouterContext, type WorkerAddress } from './context.js';
import { WorkerPool } from './worker-pool.js';

export interface RouterServerOptions {
  upstream: WorkerAddress;
  log: Logger;
  /** SERVER_NAME; default: the machine's hostname, as uWSGI's router sends. */
  serverName?: string;
  bufferSize: number;
  timeoutSeconds: number;
  keepAliveSeconds: number;
  chunkedBodyLimit: number;
  /** Kept connections to the workers, at most (0: a connection per request): ./worker-pool.ts. */
  keptConnections?: number;
  limits?: Partial<Http1Limits>;
}

const SWEEP_MS = 1000;

export class RouterServer {
  readonly context: RouterContext;
  private readonly connections = new Set<ClientConnection>();
  private readonly servers: Server[] = [];
  private readonly sweep: NodeJS.Timeout;
  private emptied: (() => void) | null = null;

  constructor(options: RouterServerOptions) {
    this.context = {
      upstream: options.upstream,
      upstreamName: describeWorkerAddress(options.upstream),
      log: options.log,
      clock: new DateClock(),
      limits: options.limits ?? {},
      serverName: options.serverName ?? hostname(),
      bufferSize: options.bufferSize,
      timeoutSeconds: options.timeoutSeconds,
      keepAliveSeconds: options.keepAliveSeconds,
      chunkedBodyLimit: options.chunkedBodyLimit,
      pool: options.keptConnections ? new WorkerPool(options.upstream, options.keptConnections) : null,
      forget: (connection) => {
        this.connections.delete(connection);
        if (this.connections.size === 0) this.emptied?.();
      },
    };
    this.sweep = setInterval(() => {
      for (const connection of this.connections) connection.tick();
    }, SWEEP_MS);
    this.sweep.unref();
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Accepts HTTP on `server`; `serverPort` is SERVER_PORT for its requests. */
  attach(server: Server, serverPort: string): void {
    this.servers.push(server);
    server.on('connection', (socket: Socket) => {
      this.connections.add(new ClientConnection(socket, this.context, serverPort));
    });
  }

  /**
   * Stops accepting. Graceful: idle connections close now, the others after their response (each
   * ends with `Connection: close`), and whatever is left after `graceMs` is cut. Immediate
   * (graceMs 0): everything is cut at once.
   */
  async close(graceMs: number): Promise<void> {
    for (const server of this.servers) server.close();
    if (graceMs > 0) {
      for (const connection of this.connections) connection.shutdown();
      if (this.connections.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          this.emptied = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
    for (const connection of this.connections) connection.socket.destroy();
    this.context.pool?.closeIdle();
    clearInterval(this.sweep);
  }
}

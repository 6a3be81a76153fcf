/**
 * What one worker process runs (or the single process of `master_process off`): the connections
 * accepted on the configuration's sockets, served with one configuration generation.
 *
 * Stopping, as an nginx worker does:
 *   graceful (QUIT; reload retires old workers this way): stop accepting, close idle keep-alive
 *     connections, let requests in progress finish (keep-alive off for them), then resolve;
 *     `worker_shutdown_timeout` bounds the wait;
 *   fast (TERM, INT): close every connection now.
 */
import { Server, type AddressInfo, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { DateClock } from '../../appserver/http/response.js';
import type { NginxConfig } from '../config/index.js';
import type { ServerCounters, WebModules, WorkerInfo } from '../request-context.js';
import { StaticContext } from '../static/index.js';
import { WebConnection, type WorkerServices } from './connection.js';
import { Site, type BindTarget } from './site.js';

export interface WorkerServerOptions {
  readonly config: NginxConfig;
  readonly site?: Site;
  readonly modules: (worker: WorkerInfo) => WebModules;
  readonly serverVersion: string;
  readonly slot: number;
  /** Sums the counters of every worker (through the master); default: this worker's only. */
  readonly collectCounters?: (own: ServerCounters) => Promise<ServerCounters>;
}

export function emptyCounters(): ServerCounters {
  return { active: 0, accepts: 0, handled: 0, requests: 0, reading: 0, writing: 0, waiting: 0 };
}

export class WorkerServer {
  readonly site: Site;
  readonly counters = emptyCounters();
  readonly modules: WebModules;
  private readonly connections = new Set<WebConnection>();
  private readonly servers: Server[] = [];
  private readonly services: WorkerServices;
  private stopping = false;
  /** UNIX socket files bound by listen(), removed when the server stops. */
  private readonly unixPaths: string[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: WorkerServerOptions) {
    this.site = options.site ?? new Site(options.config);
    const counters = this.counters;
    const collect = options.collectCounters;
    const worker: WorkerInfo = {
      pid: process.pid,
      slot: options.slot,
      counters,
      collectCounters: () => (collect ? collect(counters) : Promise.resolve({ ...counters })),
    };
    this.modules = options.modules(worker);
    let serial = 0;
    this.services = {
      config: options.config,
      site: this.site,
      modules: this.modules,
      files: new StaticContext(),
      clock: new DateClock(),
      serverVersion: options.serverVersion,
      worker,
      counters,
      shuttingDown: () => this.stopping,
      nextSerial: () => ++serial,
    };
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Serves connections accepted by `server` as those of bind target `index` of the site. */
  attach(server: Server, index: number): void {
    const target = this.site.targets[index];
    if (target === undefined) throw new RangeError(`no bind target ${index}`);
    this.servers.push(server);
    // A client may half-close after its request (printf | nc): it still gets its answer.
    Reflect.set(server, 'allowHalfOpen', true);
    server.on('connection', (socket: Socket) => this.accept(socket, target));
  }

  private accept(socket: Socket, target: BindTarget): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const group = this.site.groupFor(target, socket.localAddress);
    const connection = new WebConnection(socket, group, this.services, (closed) => {
      this.connections.delete(closed);
      if (this.connections.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    });
    this.connections.add(connection);
  }

  /**
   * Binds every address of the configuration in this process and serves it: the single process
   * of `master_process off`, and tests. A UNIX socket file left by a dead server is replaced.
   */
  async listen(): Promise<void> {
    for (const [index, target] of this.site.targets.entries()) {
      const server = new Server({ allowHalfOpen: true, noDelay: true });
      const unix = target.group.listen.address.kind === 'unix' ? target.group.listen.address.path : null;
      if (unix !== null) rmSync(unix, { force: true });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const done = (): void => {
          server.off('error', reject);
          resolve();
        };
        const address = target.group.listen.address;
        if (address.kind === 'unix') server.listen({ path: address.path, backlog: target.backlog }, done);
        else server.listen({ host: address.host, port: address.port, backlog: target.backlog }, done);
      });
      this.attach(server, index);
      if (unix !== null) this.unixPaths.push(unix);
    }
  }

  /** The addresses bound by `listen()` (ports chosen by the system for `listen 127.0.0.1:0`). */
  addresses(): (AddressInfo | string | null)[] {
    return this.servers.map((server) => server.address());
  }

  /** Stops accepting and waits for the requests in progress (at most `timeoutMs`, then closes them). */
  async gracefulStop(timeoutMs: number | null = this.options.config.main.workerShutdownTimeoutMs): Promise<void> {
    this.stopping = true;
    for (const server of this.servers) server.close();
    for (const connection of this.connections) connection.shutdown();
    if (this.connections.size > 0) {
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        if (timeoutMs !== null) setTimeout(resolve, timeoutMs).unref();
      });
    }
    this.fastStop();
  }

  /** Flushes and closes the logs (after the last line about stopping). */
  async close(): Promise<void> {
    await this.modules.close();
  }

  /** Closes everything now. */
  fastStop(): void {
    this.stopping = true;
    for (const server of this.servers) server.close();
    for (const connection of [...this.connections]) connection.socket.destroy();
    for (const path of this.unixPaths.splice(0)) rmSync(path, { force: true });
  }

  reopenLogs(): void {
    this.modules.errorLog.reopen();
    this.modules.accessLog.reopen();
  }
}

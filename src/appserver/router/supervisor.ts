/**
 * The master's side of the HTTP router (`--http ADDR`): binding its sockets, the private socket
 * the workers accept its requests on, and the router process itself, which is supervised like a
 * worker (respawned with the same crash-loop backoff when it dies) but lives outside the worker
 * generations: a graceful reload (HUP) replaces the workers and keeps the router and its client
 * connections.
 *
 * uWSGI does the same with a "gateway" (`uWSGI http 1`): the master binds --http, creates a uwsgi
 * socket for the workers when none was given (`127.0.0.1:0`, plugins/http/http.c http_init), and
 * respawns the gateway when it dies. tsgi's private socket is a UNIX socket in a directory the
 * master creates and removes (see docs/router.md for the measurement behind that choice); TCP on
 * loopback remains available (`workerSocket: 'tcp'`).
 *
 * Log lines are uWSGI's:
 *   spawned tsgi http 1 (pid: 4120)
 *   DAMN ! tsgi http 1 (pid: 4120) died, killed by signal 9 :( trying respawn ...
 *   respawned tsgi http 1 (pid: 4188)
 *   gateway "tsgi http 1" has been buried (pid: 4188)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';
import type { BoundAddress, SocketProtocol, SocketSpec } from '../sockets.js';
import { bindSharedSockets, type SharedSocket } from '../../process/listen-handle.js';
import { forkChild, forwardLines, siblingModule } from '../../process/spawn.js';
import { describeExit, exitStatus, type ExitStatus } from '../../process/exit-codes.js';
import { RespawnPolicy, respawnTooFastMessage } from '../../process/respawn-policy.js';
import type { WorkerAddress } from './context.js';
import { parseRouterToMaster, type RouterInit } from './protocol.js';

const ROUTER_ENTRY = siblingModule(import.meta.url, 'main');
const NAME = 'tsgi http 1';

/** uWSGI's --http-timeout default. */
export const DEFAULT_HTTP_TIMEOUT = 60;
/** Seconds an idle client connection stays open (nginx's keepalive_timeout default). */
const DEFAULT_KEEPALIVE = 75;
/** Largest chunked request body the router buffers (it has to send a CONTENT_LENGTH). */
export const DEFAULT_CHUNKED_BODY_LIMIT = 64 * 1024 * 1024;
/** A router that does not stop within its grace is killed this much later. */
const STOP_BACKSTOP_MS = 1000;

/** `--http` and its options, as `MasterConfig.router` takes them. Times in seconds. */
export interface RouterConfig {
  /** Addresses the router accepts HTTP on (`host:port`, `:port`, a UNIX socket path). */
  addresses: string[];
  /**
   * uwsgi, SCGI and FastCGI sockets the router serves for Python workers, which accept on one
   * uwsgi socket only: each request is relayed to them (./relay-app.ts, docs/python.md).
   */
  sockets?: SocketSpec[];
  /** --http-timeout: silence from a worker (connect, head, body) before a 504 or a cut. Default 60. */
  timeout?: number;
  /**
   * --http-keepalive: seconds an idle client connection stays open. Default 75. As in uWSGI, 1
   * means "on, with --http-timeout as the idle limit", and 0 turns keep-alive off (every response
   * closes its connection, which is uWSGI's default).
   */
  keepAlive?: number;
  /** Largest chunked request body buffered, in bytes (413 past it). Default 64 MiB. */
  chunkedBodyLimit?: number;
  /** How the router reaches the workers: a private UNIX socket (default) or loopback TCP. */
  workerSocket?: 'unix' | 'tcp';
}

/** What the router takes from the master's settings when it is spawned. */
export interface RouterSpawnSettings {
  env: NodeJS.ProcessEnv;
  backlog: number;
  bufferSize: number;
  mercyMs: number;
  /** Kept connections to the workers, at most (0: a connection per request). */
  keptConnections: number;
}

/** --http-keepalive as uWSGI reads it (plugins/http/http.c: a value above 1 is the idle timeout). */
function keepAliveSeconds(config: RouterConfig): number {
  const value = config.keepAlive ?? DEFAULT_KEEPALIVE;
  return value === 1 ? (config.timeout ?? DEFAULT_HTTP_TIMEOUT) : value;
}

export class HttpRouter {
  /** Where the router accepts: `config.addresses`, then `config.sockets`. */
  readonly addresses: BoundAddress[];
  /** The protocol of each of `addresses`. */
  readonly protocols: SocketProtocol[];
  private child: ChildProcess | null = null;
  private spawnedAt = 0;
  private spawns = 0;
  private ready = false;
  private stopping = false;
  private respawnTimer: NodeJS.Timeout | null = null;
  private readonly policy = new RespawnPolicy();
  private readyWaiters: Array<() => void> = [];
  private exitWaiters: Array<() => void> = [];
  private upstream: WorkerAddress | null = null;
  private settings: RouterSpawnSettings | null = null;

  private constructor(
    private readonly config: RouterConfig,
    private readonly sockets: SharedSocket[],
    /** The socket the workers accept the router's requests on (the master binds it with the others). */
    readonly workerSocket: SocketSpec,
    private readonly tempDir: string | null,
    private readonly log: Logger,
  ) {
    this.addresses = sockets.map((socket) => socket.bound);
    this.protocols = sockets.map((socket) => socket.spec.protocol);
  }

  /**
   * Binds the router's sockets (a busy port fails here, before anything starts) and names the
   * workers' socket: `options.workerSocket` when given (a socket the master binds for the workers
   * anyway, such as a Python app's --socket), else a private one.
   */
  static async bind(config: RouterConfig, log: Logger, options: { chmod?: number; workerSocket?: SocketSpec } = {}): Promise<HttpRouter> {
    const specs: SocketSpec[] = [...config.addresses.map((address) => ({ protocol: 'http' as const, address })), ...(config.sockets ?? [])];
    if (specs.length === 0) throw new TypeError('router.addresses and router.sockets are empty');
    const sockets = await bindSharedSockets(specs, options);
    if (options.workerSocket !== undefined) return new HttpRouter(config, sockets, options.workerSocket, null, log);
    let tempDir: string | null = null;
    let address = '127.0.0.1:0';
    if ((config.workerSocket ?? 'unix') === 'unix') {
      tempDir = mkdtempSync(join(tmpdir(), 'tsgi-router-'));
      address = join(tempDir, 'workers.sock');
    }
    return new HttpRouter(config, sockets, { protocol: 'uwsgi', address }, tempDir, log);
  }

  /** The pid of the router process now, or null between a death and its respawn. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** The router process has exited after `stop()` (or was never started). */
  get stopped(): boolean {
    return this.stopping && this.child === null;
  }

  /**
   * Starts the router once the workers accept on `workerBound` (where the master bound
   * `workerSocket`); resolves when it accepts on every --http socket.
   */
  start(workerBound: BoundAddress, settings: RouterSpawnSettings): Promise<void> {
    this.upstream = 'path' in workerBound ? { path: workerBound.path } : { host: workerBound.host, port: workerBound.port };
    this.settings = settings;
    const ready = new Promise<void>((resolve) => this.readyWaiters.push(resolve));
    this.spawn();
    return ready;
  }

  /** The workers' number changed (TTIN/TTOU): the router's limit of kept connections follows. */
  setKeptConnections(count: number): void {
    if (this.settings === null || this.settings.keptConnections === count) return;
    this.settings.keptConnections = count;
    const child = this.child;
    if (child !== null && child.connected) child.send({ type: 'kept', keptConnections: count });
  }

  /** Graceful (graceMs > 0: responses in flight finish) or immediate; resolves once the process is gone. */
  stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.respawnTimer !== null) {
      clearTimeout(this.respawnTimer);
      this.respawnTimer = null;
    }
    for (const waiter of this.readyWaiters.splice(0)) waiter();
    const child = this.child;
    if (child === null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    if (graceMs > 0 && child.connected) {
      child.send({ type: 'stop', graceMs });
      setTimeout(() => child.kill('SIGKILL'), graceMs + STOP_BACKSTOP_MS).unref();
    } else {
      child.kill('SIGKILL');
    }
    return exited;
  }

  /** Closes the master's copies of the --http sockets and removes the private socket's directory. */
  close(options: { removeUnixFile: boolean }): void {
    for (const socket of this.sockets) socket.close(options);
    if (this.tempDir !== null) rmSync(this.tempDir, { recursive: true, force: true });
  }

  private spawn(): void {
    this.respawnTimer = null;
    const settings = this.settings!;
    const child = forkChild({ entry: ROUTER_ENTRY, env: settings.env });
    if (child.pid === undefined) {
      child.once('error', (error) => this.log.line(`fork() of the ${NAME} failed: ${error.message}`));
      this.scheduleRespawn(0);
      return;
    }
    this.child = child;
    this.spawnedAt = Date.now();
    this.ready = false;
    if (child.stdout) forwardLines(child.stdout, (line) => this.log.line(line));
    if (child.stderr) forwardLines(child.stderr, (line) => this.log.line(line));
    child.on('message', (message: unknown) => {
      if (parseRouterToMaster(message)?.type !== 'ready' || this.ready) return;
      this.ready = true;
      for (const waiter of this.readyWaiters.splice(0)) waiter();
    });
    child.once('exit', (code, signal) => this.onExit(child, exitStatus(code, signal)));
    child.on('error', () => {
      // A send to a dying child fails; its 'exit' event does the bookkeeping.
    });
    const init: RouterInit = {
      upstream: this.upstream!,
      serverPorts: this.addresses.map((bound) => ('port' in bound ? String(bound.port) : '')),
      protocols: this.protocols,
      backlog: settings.backlog,
      bufferSize: settings.bufferSize,
      timeoutSeconds: this.config.timeout ?? DEFAULT_HTTP_TIMEOUT,
      keepAliveSeconds: keepAliveSeconds(this.config),
      chunkedBodyLimit: this.config.chunkedBodyLimit ?? DEFAULT_CHUNKED_BODY_LIMIT,
      mercyMs: settings.mercyMs,
      keptConnections: settings.keptConnections,
    };
    child.send({ type: 'init', init });
    this.sockets.forEach((socket, index) => void socket.sendTo(child, { type: 'socket', index }));
    this.log.line(`${this.spawns === 0 ? 'spawned' : 'respawned'} ${NAME} (pid: ${child.pid})`);
    this.spawns++;
  }

  private onExit(child: ChildProcess, status: ExitStatus): void {
    if (this.child !== child) return;
    this.child = null;
    if (this.stopping) {
      this.log.line(`gateway "${NAME}" has been buried (pid: ${child.pid})`);
      for (const waiter of this.exitWaiters.splice(0)) waiter();
      return;
    }
    this.log.line(`DAMN ! ${NAME} (pid: ${child.pid}) died, ${describeExit(status)} :( trying respawn ...`);
    this.scheduleRespawn(Date.now() - this.spawnedAt);
  }

  private scheduleRespawn(uptimeMs: number): void {
    const decision = this.policy.decide(1, uptimeMs, Date.now());
    if (decision.delayMs >= 1000) this.log.line(respawnTooFastMessage(decision.delayMs));
    this.respawnTimer = setTimeout(() => this.spawn(), decision.delayMs);
  }
}

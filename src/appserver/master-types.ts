/** The public face of the master: its configuration, what it reports, its events and errors. */
import { type AppComposition } from './app-composition.js';
import { EventEmitter } from 'node:events';
import { TsgiError } from '../errors.js';
import { Logger } from './log.js';
import type { AppKind } from './options.js';
import type { BoundAddress, SocketSpec } from './sockets.js';
import { EXIT_FAILURE, type ExitStatus } from '../process/exit-codes.js';
import { type RespawnPolicyOptions } from '../process/respawn-policy.js';
import { type CheaperConfig } from './cheaper.js';
import { type RouterConfig } from './router/supervisor.js';
import type { RequestLogSettings } from './worker-protocol.js';
import type { SocketProtocol } from './sockets.js';
import { type PythonWorkerConfig } from './python-worker.js';

/** Everything `startMaster` needs. Times are in seconds and sizes in megabytes, as uWSGI's options. */
export interface MasterConfig {
  /** The application, `FILE[:EXPORT]`; every worker loads it (uWSGI's --wsgi-file / module). */
  app: string;
  /** The kind of application, instead of detecting it (`tsgi`, `fetch`, `node`). */
  appKind?: AppKind;
  /** --mount, --manage-script-name and --static-map; `app` may be '' when mounts are given. */
  composition?: AppComposition;
  /** Sockets the master binds and every worker accepts on (--http-socket, --socket...). */
  sockets: SocketSpec[];
  /**
   * --http: an HTTP router process accepts on these addresses and forwards each request to the
   * workers over uwsgi on a private socket the master adds to `sockets` (src/appserver/router/).
   */
  router?: RouterConfig;
  /** Number of workers (--processes / --workers). Default 1. */
  processes?: number;
  /**
   * Requests one worker runs at once (--threads). Beyond that, new connections wait in the listen
   * queue (the worker stops accepting while full) and requests on connections it already holds
   * wait in the worker. Default: no limit (a Node worker runs as many as arrive).
   */
  threads?: number;
  /**
   * --lazy-apps. Workers always load the application themselves (a Node master cannot fork a
   * loaded app), so this only decides when a broken app is fatal: false (default) loads it in the
   * first worker before the others start, and `startMaster` rejects if it fails, as uWSGI fails
   * before forking; true starts all workers at once and treats a failed load as a worker crash.
   */
  lazyApps?: boolean;
  /** Seconds a request may run before its worker is killed and respawned (--harakiri). */
  harakiri?: number;
  /** Requests after which a worker is recycled (--max-requests). */
  maxRequests?: number;
  /** Seconds after which a worker is recycled (--max-worker-lifetime). */
  maxWorkerLifetime?: number;
  /** Megabytes of RSS above which a worker is recycled (--reload-on-rss). */
  reloadOnRss?: number;
  /**
   * Seconds a worker that is reloaded, recycled or stopped gracefully gets to finish its requests
   * before it is killed (--worker-reload-mercy; uWSGI's default is 60).
   */
  reloadMercy?: number;
  /** TERM shuts down and QUIT reloads brutally (true, the default), or the reverse as in uWSGI (false). */
  dieOnTerm?: boolean;
  /** Write the master's pid here (--pidfile). */
  pidfile?: string;
  /** Extra environment of the workers (--env K=V). */
  env?: Record<string, string>;
  /** Working directory of the workers; the app path is resolved from it (--chdir). */
  chdir?: string;
  /** Listen queue length (--listen). Default 100, as uWSGI. */
  listen?: number;
  /** File mode of UNIX sockets (--chmod-socket), e.g. 0o666. */
  chmodSocket?: number;
  /** Remove the pidfile and UNIX socket files on exit (--vacuum). Default true for the programmatic API. */
  vacuum?: boolean;
  /** The server log; workers' output is forwarded into it line by line. Default: stderr. */
  log?: Logger;
  /** Called on SIGUSR1: reopen log files (--logto rotates with it). */
  onReopenLogs?: () => void;
  /** Install process signal handlers (HUP, TERM, INT, QUIT, TTIN, TTOU, USR1). Default true; false for a master embedded in a program that owns its signals. */
  handleSignals?: boolean;
  /** Seconds an idle keep-alive connection stays open in a worker. */
  keepAliveTimeout?: number;
  /** Seconds a client has to send a complete request head. */
  headerTimeout?: number;
  /** Largest uwsgi vars block / SCGI header block a worker accepts (--buffer-size). */
  bufferSize?: number;
  /** Crash-loop protection settings (defaults in process/respawn-policy.ts). */
  respawn?: Partial<RespawnPolicyOptions>;
  /** How the workers log requests (--log-format, --disable-logging, --memory-report...); absent: no request log. */
  requestLog?: RequestLogSettings;
  /** An adaptive number of workers (--cheaper and friends); `processes` is then the maximum. */
  cheaper?: CheaperConfig;
  /**
   * --need-app: an application that cannot be loaded at start is fatal, with uWSGI's
   * "no app loaded. GAME OVER" and exit status 22, also with lazyApps (where a failed load is
   * otherwise a worker crash and respawned).
   */
  needApp?: boolean;
  /**
   * Python WSGI workers (--wsgi-file, --module): each worker runs `interpreter
   * python/tsgi_worker.py --fd 3 ...args` on the one uwsgi socket (a --socket, or the router's
   * private socket) instead of loading `app` in Node. See python-worker.ts and docs/python.md.
   */
  python?: PythonWorkerConfig;
}

/** What a worker process is doing, as the master sees it. */
export type WorkerPhase =
  /** Forked, loading the application; not accepting yet. */
  | { name: 'starting' }
  /** Accepting and serving. */
  | { name: 'serving'; since: number }
  /** Still serving while its replacement starts (recycling). */
  | { name: 'replacing'; since: number; reason: RetireReason }
  /** Told to stop accepting and finish its requests; killed at `deadline`. */
  | { name: 'draining'; since: number; reason: RetireReason; deadline: number }
  /** Sent a signal to end at once; SIGKILL follows at `escalateAt` unless that was SIGKILL already. */
  | { name: 'killed'; since: number; reason: KillReason; escalateAt: number | null };

/** Why a worker is asked to leave gracefully. */
export type RetireReason = 'reload' | 'reload-aborted' | 'max-requests' | 'max-lifetime' | 'reload-on-rss' | 'scale-down' | 'shutdown';
/** Why a worker is ended without waiting for its requests. */
export type KillReason = 'harakiri' | 'mercy-expired' | 'boot-timeout' | 'immediate-stop' | 'brutal-reload' | 'not-needed';

/** `status` of a worker in `workers()`: uWSGI's idle/busy, plus the lifecycle states. */
export type WorkerStatus = 'starting' | 'idle' | 'busy' | 'replacing' | 'draining' | 'killed';

/** One worker process in `MasterHandle.workers()`. */
export interface WorkerInfo {
  /** 1..processes; a respawned or replacement worker keeps the id (uWSGI's worker id). */
  id: number;
  pid: number;
  generation: number;
  status: WorkerStatus;
  /** Requests finished by this process (reset by a respawn, as in uWSGI). */
  requests: number;
  exceptions: number;
  /** Requests running now / waiting for a --threads slot. */
  inFlight: number;
  queued: number;
  /** Harakiri kills of this worker id since the master started. */
  harakiriCount: number;
  /** Times this worker id was spawned again (crash, recycling, reload). */
  respawnCount: number;
  /** When this process was spawned (ms since the epoch). */
  startedAt: number;
  /** Mean response time over the last report interval, microseconds. */
  avgRt: number;
  /** Bytes sent to clients by this process. */
  tx: number;
  rss: number;
  accepting: boolean;
  /** Address space size in bytes (0 where /proc is missing). */
  vsz: number;
  /** Microseconds spent in requests by this process, summed over requests (uWSGI's running_time). */
  runningTime: number;
  /** Microseconds of wall time this process had a request running (what --cheaper measures). */
  busyTime: number;
  /** uWSGI's cores: one per --threads slot, or one for the whole worker. */
  cores: Array<{ requests: number; inRequest: boolean }>;
  /** Seconds the application took to load in this process. */
  startupTime: number;
}

/** Counters uWSGI keeps per worker id across respawns. */
export interface SlotCounters {
  requests: number;
  exceptions: number;
  tx: number;
  runningTime: number;
}

/** A worker id as the stats server shows it: one per id up to --processes, running or cheap. */
export interface SlotInfo {
  id: number;
  /** No process runs for this id because the master needs fewer workers now (--cheaper, TTOU). */
  cheap: boolean;
  /** Processes spawned for this id (uWSGI's respawn_count counts the first one too). */
  spawns: number;
  harakiriCount: number;
  /** When a process of this id was last spawned, ms since the epoch (0: never). */
  lastSpawn: number;
  /** Counters of every process of this id since the master started, the running one included. */
  totals: SlotCounters;
  /** The last non-zero average response time reported, microseconds. */
  avgRt: number;
  /** The process serving this id now (the newest one during a reload), or null. */
  worker: WorkerInfo | null;
}

/** What the stats server needs from the master, taken at one moment. */
export interface MasterSnapshot {
  pid: number;
  /** Most workers (--processes, raised by TTIN). */
  maxWorkers: number;
  /** Workers wanted now (cheaper and TTIN/TTOU move it). */
  targetWorkers: number;
  sockets: Array<{ name: string; protocol: SocketProtocol; port: number | null; backlog: number }>;
  slots: SlotInfo[];
}

export interface WorkerExitEvent {
  id: number;
  pid: number;
  status: ExitStatus;
  /** True when the master asked for this exit (reload, recycling, scale-down, shutdown). */
  expected: boolean;
  /** The request a harakiri killed, when the worker died of it. */
  harakiri: string | null;
}

/** Events for tests and embedding programs. */
export interface MasterEvents {
  spawn: [worker: WorkerInfo];
  ready: [worker: WorkerInfo];
  exit: [event: WorkerExitEvent];
  reloaded: [generation: number];
  stopped: [exitCode: number];
}

export interface MasterHandle {
  /** The master's pid: the current process (startMaster runs the master in the caller's process). */
  readonly pid: number;
  /** Where the sockets are bound, in `config.sockets` order (a port 0 shows the port chosen). */
  readonly addresses: BoundAddress[];
  /** Where the HTTP router accepts, in `config.router.addresses` order ([] without a router). */
  readonly routerAddresses: BoundAddress[];
  /** The protocol of each of `routerAddresses` (http, or a socket the router relays to Python workers). */
  readonly routerProtocols: SocketProtocol[];
  /** Every worker process alive now, by id. */
  workers(): WorkerInfo[];
  /** Graceful reload (SIGHUP); resolves when the new workers serve and the old ones were told to leave. */
  reload(): Promise<void>;
  /** Stops the master: graceful (TERM's shutdown) or immediate (INT). Resolves once everything is closed. */
  stop(graceful?: boolean): Promise<void>;
  /** Adds (TTIN) or removes (TTOU) workers. */
  scale(delta: number): void;
  /** Every worker id with its counters, for the stats server (--stats). */
  snapshot(): MasterSnapshot;
  readonly events: EventEmitter<MasterEvents>;
  /** Resolves with the master's exit code once it has stopped (after a signal or `stop()`). */
  readonly closed: Promise<number>;
}

/** `startMaster` failed: the first worker could not load the application, or the config is invalid. */
export class MasterStartError extends TsgiError {
  constructor(
    message: string,
    options?: { cause?: unknown },
    /** The exit status the command should end with: 22 (uWSGI's failed-app code) under --need-app. */
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super('ERR_MASTER_START', message, options);
  }
}

/** A reload was abandoned because the new workers could not load the application. */
export class ReloadAbortedError extends TsgiError {
  constructor(message: string) {
    super('ERR_RELOAD_ABORTED', message);
  }
}

/** The master stopped before the operation completed. */
export class MasterStoppedError extends TsgiError {
  constructor() {
    super('ERR_MASTER_STOPPED', 'the master stopped');
  }
}

/**
 * The master of `tsgi serve` (uWSGI's master process, gunicorn's arbiter): it binds the sockets,
 * forks the workers, and keeps the right number of them alive until it is told to stop.
 *
 * Read it top to bottom like gunicorn's `arbiter.py`:
 *   startMaster()            bind every socket, write the pidfile, install the signal handlers,
 *                            start the loop, resolve once the first workers are up
 *   Master.run()             the loop: take one queued signal and dispatch it to handleHup()...,
 *                            or else murderWorkers() (deadlines) and manageWorkers() (the worker
 *                            count), then sleep until a signal, a worker event or the next deadline
 *   handle*()                one per signal, each saying what the signal means
 *   spawn() / drain() / kill()        what happens to one worker
 *   onWorkerMessage() / onWorkerExit() what the workers tell the master (state changes only)
 *
 * Signals (the full table, with the reasons, is in docs/processes.md):
 *
 *   signal  dieOnTerm: true (tsgi's default)       dieOnTerm: false (uWSGI's default)
 *   HUP     graceful reload                         graceful reload
 *   TERM    graceful shutdown                       brutal reload
 *   INT     immediate shutdown                      immediate shutdown
 *   QUIT    brutal reload                           immediate shutdown
 *   TTIN    one more worker                         one more worker
 *   TTOU    one worker fewer (never below one)      one worker fewer
 *   USR1    reopen the logs                         reopen the logs
 *
 * uWSGI's TERM reloads: `kill`, systemd, Docker and Kubernetes all stop a service with TERM, and a
 * uWSGI that reloads instead keeps running until the SIGKILL that follows. uWSGI's --die-on-term
 * fixes that by swapping TERM and QUIT (TERM shuts down, QUIT brutally reloads); tsgi keeps that
 * meaning of the option and makes it the default, so `dieOnTerm: false` is exactly uWSGI without
 * the option. TERM's shutdown is graceful (requests in flight finish, within the mercy), because
 * the service managers that send TERM follow it with a SIGKILL of their own when they lose patience.
 *
 * Graceful reload (HUP) starts a new generation of workers, which load the application again, and
 * only when every one of them accepts do the old ones stop accepting and finish their requests:
 * the sockets never close and no request is refused. If a new worker cannot load the application,
 * the reload is abandoned and the old workers keep serving.
 */
import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { Logger, describeError } from './log.js';
import { DRAIN_IDLE_GRACE_MS, parseWorkerMessage, type MasterMessage, type WorkerInit, type WorkerMessage, type WorkerReport } from './worker-protocol.js';
import { bindSharedSockets, type SharedSocket } from '../process/listen-handle.js';
import { describeExit, EXIT_FAILED_APP, EXIT_FAILURE, EXIT_OK, EXIT_RELOAD, exitStatus, type ExitStatus } from '../process/exit-codes.js';
import type { Duplex } from 'node:stream';
import { forkChild, forwardLines, notesStream, siblingModule } from '../process/spawn.js';
import { RespawnPolicy, respawnTooFastMessage } from '../process/respawn-policy.js';
import { MASTER_SIGNALS, SignalQueue, type MasterSignal } from '../process/signals.js';
import { removePidfile, signalPidfile, writePidfile } from '../process/pidfile.js';
import { BusynessCheaper } from './cheaper.js';
import { readListenQueues } from './stats/listen-queue.js';
import { forwardLineBlocks } from './log-forward.js';
import { logsAnything } from './request-log.js';
import { formatAddress } from './address.js';
import { HttpRouter } from './router/supervisor.js';
import { DEFAULT_UWSGI_BUFFER_SIZE } from '../protocols/uwsgi.js';
import { isPythonNote, PYTHON_READY, pythonChannel, pythonKeptConnections, pythonLoadFailure, spawnPythonWorker, tellPython, type PythonWorkerConfig } from './python-worker.js';
import { MasterStartError, ReloadAbortedError, MasterStoppedError, type MasterConfig, type MasterHandle, type MasterEvents, type MasterSnapshot, type WorkerInfo, type SlotInfo, type SlotCounters, type WorkerStatus, type WorkerPhase, type RetireReason, type KillReason } from './master-types.js';
import { BOOT_TIMEOUT_MS, HARAKIRI_BACKSTOP_MARGIN_MS, IMMEDIATE_MERCY_MS, NOTES_WAIT_MS, REPORT_INTERVAL_MS, settingsOf, TICK_MS, type Settings } from './master-settings.js';

// The public types (config, handle, events, errors) live in master-types.ts and the checked
// settings with every default in master-settings.ts; this file is the lifecycle.
export * from './master-types.js';

/** The worker entry module: `worker.ts` under tsx (tests), `worker.js` in dist. */
const WORKER_ENTRY = siblingModule(import.meta.url, 'worker');


/** One worker process. `generation` changes only when an abandoned reload adopts the old workers back. */
interface WorkerProcess {
  readonly id: number;
  generation: number;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly spawnedAt: number;
  phase: WorkerPhase;
  report: WorkerReport;
  /** Last message from the worker: its reports are its heartbeat. */
  lastHeardAt: number;
  /** The request a harakiri killed, from the worker's notes pipe. */
  harakiri: string | null;
  /** The worker's reason when it could not load the application. */
  bootError: string | null;
  /** Resolves when the notes pipe has ended (or the child is gone). */
  readonly notesDone: Promise<void>;
  exited: boolean;
  /** A Python worker's channel (python-worker.ts), where a JS worker has its IPC channel. */
  channel: Duplex | null;
}

/** What the master remembers about a worker id across its processes (uWSGI's `struct uwsgi_worker`). */
interface Slot {
  readonly id: number;
  spawns: number;
  harakiriCount: number;
  /** A respawn is held back until then (crash-loop backoff, fork-bomb guard). */
  respawnAt: number | null;
  /** The id has been ready or has died at least once since the master started (startup waits for it). */
  settled: boolean;
  /** When a process of this id was last spawned (ms since the epoch; 0: never). */
  lastSpawn: number;
  /** Counters of the processes of this id that have exited: uWSGI keeps a worker's counters across respawns. */
  finished: SlotCounters;
  /** The last non-zero average response time reported (uWSGI keeps it while the worker is idle). */
  avgRt: number;
}

type MasterState = 'starting' | 'running' | 'stopping' | 'stopped';

const EMPTY_REPORT: WorkerReport = {
  requests: 0,
  exceptions: 0,
  inFlight: 0,
  queued: 0,
  avgRt: 0,
  tx: 0,
  rss: 0,
  accepting: false,
  vsz: 0,
  runningTime: 0,
  busyTime: 0,
  cores: [],
  startupTime: 0,
};

function emptyCounters(): SlotCounters {
  return { requests: 0, exceptions: 0, tx: 0, runningTime: 0 };
}

function addCounters(into: SlotCounters, report: WorkerReport): void {
  into.requests += report.requests;
  into.exceptions += report.exceptions;
  into.tx += report.tx;
  into.runningTime += report.runningTime;
}

function isActive(worker: WorkerProcess): boolean {
  return worker.phase.name === 'starting' || worker.phase.name === 'serving' || worker.phase.name === 'replacing';
}

class Master {
  readonly events = new EventEmitter<MasterEvents>();
  private readonly processes = new Map<number, WorkerProcess>();
  private readonly slots = new Map<number, Slot>();
  private readonly signals: SignalQueue<MasterSignal>;
  private readonly policy: RespawnPolicy;
  private state: MasterState = 'starting';
  /** Workers wanted now: `processes`, changed by TTIN/TTOU; 1 while a non-lazy start checks the app. */
  private target: number;
  /** Workers of older generations are replaced by a reload. */
  private generation = 1;
  /** A graceful reload in progress (HUP). */
  private reloading = false;
  private reloadWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private stopMode: 'graceful' | 'immediate' | null = null;
  private stopWaiters: Array<() => void> = [];
  /** The busyness algorithm of --cheaper, or null for a fixed number of workers. */
  private readonly cheaper: BusynessCheaper | null;
  private lastCheaperCheck = 0;
  private startupError: MasterStartError | null = null;
  /** Every worker of the first start has loaded the app (or tried): `startMaster` has resolved. */
  private startupDone = false;
  private wake: (() => void) | null = null;
  private exitCode = EXIT_OK;
  private resolveStarted!: () => void;
  private resolveClosed!: (code: number) => void;
  readonly started: Promise<void>;
  readonly closed: Promise<number>;
  /** The HTTP router (--http), supervised beside the workers and kept across reloads. */
  router: HttpRouter | null = null;

  constructor(
    private readonly settings: Settings,
    readonly sockets: SharedSocket[],
    private readonly log: Logger,
    private readonly config: MasterConfig,
  ) {
    this.signals = new SignalQueue<MasterSignal>(() => this.wakeUp());
    this.policy = new RespawnPolicy({ burst: settings.processes, ...config.respawn });
    this.target = settings.lazyApps ? settings.initialWorkers : 1;
    this.cheaper = settings.cheaper === null ? null : new BusynessCheaper(settings.cheaper, settings.processes, (line) => this.say(line));
    this.started = new Promise((resolve) => (this.resolveStarted = resolve));
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  // ---- the loop -------------------------------------------------------------------------------

  start(installSignals: boolean): void {
    if (installSignals) this.signals.install(MASTER_SIGNALS);
    this.state = 'running';
    void this.run();
  }

  private async run(): Promise<void> {
    while (this.state !== 'stopped') {
      try {
        const signal = this.signals.take();
        if (signal !== undefined) {
          this.dispatch(signal);
          continue;
        }
        this.murderWorkers();
        this.checkCheaper();
        this.manageWorkers();
        this.checkStartup();
        if (this.state === 'stopping' && this.processes.size === 0 && (this.router === null || this.router.stopped)) {
          this.finish();
          break;
        }
      } catch (error) {
        // A bug in the master must not leave the workers unsupervised: log it and go on.
        this.say(`tsgi master: internal error: ${describeError(error)}`);
      }
      await this.sleep(this.nextDeadline());
    }
  }

  private dispatch(signal: MasterSignal): void {
    switch (signal) {
      case 'SIGHUP':
        return this.handleHup();
      case 'SIGTERM':
        return this.handleTerm();
      case 'SIGINT':
        return this.handleInt();
      case 'SIGQUIT':
        return this.handleQuit();
      case 'SIGTTIN':
        return this.handleTtin();
      case 'SIGTTOU':
        return this.handleTtou();
      case 'SIGUSR1':
        return this.handleUsr1();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.max(0, ms));
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).then(() => {
      this.wake = null;
    });
  }

  private wakeUp(): void {
    this.wake?.();
  }

  /** Milliseconds until the next thing the loop must do by itself (a held-back respawn, the tick). */
  private nextDeadline(): number {
    const now = Date.now();
    let next = TICK_MS;
    for (const slot of this.slots.values()) {
      if (slot.respawnAt !== null) next = Math.min(next, slot.respawnAt - now);
    }
    return next;
  }

  // ---- signals ----------------------------------------------------------------------------------

  /** HUP: graceful reload. A new generation starts; when all of it accepts, the old one drains. */
  private handleHup(): void {
    if (this.state !== 'running') return;
    // As uWSGI's grace_them_all(): a reload under way absorbs the next request for one, so that
    // --py-autoreload, where every worker signals the same edit, reloads once.
    if (this.reloading) {
      this.say(`...a graceful reload (generation ${this.generation}) is already in progress: SIGHUP ignored...`);
      return;
    }
    this.generation++;
    this.reloading = true;
    this.say(`...gracefully reloading workers (generation ${this.generation})...`);
  }

  /** TERM: graceful shutdown with dieOnTerm (the default); uWSGI's brutal reload without. */
  private handleTerm(): void {
    if (this.settings.dieOnTerm) this.beginStop('graceful', 'SIGTERM');
    else this.brutalReload('SIGTERM');
  }

  /** INT: immediate shutdown, whatever dieOnTerm says (uWSGI: "immediately kill the entire uWSGI stack"). */
  private handleInt(): void {
    this.beginStop('immediate', 'SIGINT');
  }

  /** QUIT: the other half of uWSGI's --die-on-term swap: brutal reload with dieOnTerm, immediate shutdown without. */
  private handleQuit(): void {
    if (this.settings.dieOnTerm) this.brutalReload('SIGQUIT');
    else this.beginStop('immediate', 'SIGQUIT');
  }

  /** TTIN: one more worker (gunicorn's meaning). */
  private handleTtin(): void {
    if (this.state !== 'running') return;
    this.target++;
    this.settings.processes = Math.max(this.settings.processes, this.target);
    this.say(`SIGTTIN received: going up to ${this.target} workers`);
    this.resizeRouterPool();
  }

  /** TTOU: one worker fewer, never below one; the highest id finishes its requests and leaves. */
  private handleTtou(): void {
    if (this.state !== 'running' || this.target <= 1) return;
    this.target--;
    this.settings.processes = this.target;
    this.say(`SIGTTOU received: going down to ${this.target} workers`);
    this.resizeRouterPool();
  }

  /** The router keeps connections to Python workers in proportion to their number (router/worker-pool.ts). */
  private resizeRouterPool(): void {
    const settings = this.settings;
    if (settings.python !== null) this.router?.setKeptConnections(pythonKeptConnections(settings.processes, settings.threads));
  }

  /** USR1: reopen the log files (nginx's and gunicorn's meaning; uWSGI prints statistics on USR1). */
  private handleUsr1(): void {
    this.say('SIGUSR1 received: reopening logs');
    try {
      this.config.onReopenLogs?.();
    } catch (error) {
      this.say(`reopening logs failed: ${describeError(error)}`);
    }
    // Workers that append request lines to the log file themselves reopen it too.
    if (this.settings.requestLog?.file !== undefined) {
      for (const worker of this.processes.values()) if (!worker.exited) this.tell(worker, { type: 'reopen-logs' });
    }
  }

  // ---- what the loop does between signals -------------------------------------------------------

  /** Deadlines: drains that overran the mercy, kills that need SIGKILL, lifetimes, silent workers. */
  private murderWorkers(): void {
    const now = Date.now();
    for (const worker of this.processes.values()) {
      if (worker.exited) continue;
      const phase = worker.phase;
      switch (phase.name) {
        case 'draining':
          if (now >= phase.deadline) {
            this.say(`worker ${worker.id} (pid: ${worker.pid}) still has requests after ${Math.round(this.settings.mercyMs / 1000)} seconds of mercy: killing it`);
            this.kill(worker, 'mercy-expired', 'SIGKILL');
          }
          break;
        case 'killed':
          if (phase.escalateAt !== null && now >= phase.escalateAt) {
            phase.escalateAt = null;
            worker.child.kill('SIGKILL');
          }
          break;
        case 'starting':
          if (now - worker.spawnedAt > BOOT_TIMEOUT_MS) {
            this.say(`worker ${worker.id} (pid: ${worker.pid}) did not load the application in ${BOOT_TIMEOUT_MS / 1000} seconds: killing it`);
            this.kill(worker, 'boot-timeout', 'SIGKILL');
          }
          break;
        case 'serving':
        case 'replacing': {
          const lifetime = this.settings.maxLifetimeMs;
          if (phase.name === 'serving' && lifetime !== null && now - worker.spawnedAt > lifetime) {
            this.say(`worker ${worker.id} lifetime reached, it was running for ${Math.round((now - worker.spawnedAt) / 1000)} second(s)`);
            this.replace(worker, 'max-lifetime');
          }
          const harakiri = this.settings.harakiriMs;
          // The backstop: the worker's own watchdog should have acted; its reports stopped, so its
          // event loop is stuck and the watchdog did not fire.
          if (harakiri !== null && now - worker.lastHeardAt > harakiri + HARAKIRI_BACKSTOP_MARGIN_MS) {
            this.say(`*** HARAKIRI ON WORKER ${worker.id} (pid: ${worker.pid}, try: 1) *** (no report for ${Math.round((now - worker.lastHeardAt) / 1000)} seconds)`);
            worker.harakiri = 'unknown request (the worker stopped reporting)';
            this.kill(worker, 'harakiri', 'SIGKILL');
          }
          break;
        }
      }
    }
  }

  /**
   * The worker count: for each id 1..target, one worker of the current generation is starting or
   * serving (respawned when a held-back respawn is due); a worker being replaced is drained once
   * its replacement serves; ids above the target leave; a reload completes when every id serves.
   */
  private manageWorkers(): void {
    if (this.state !== 'running') return;
    const now = Date.now();
    for (let id = 1; id <= this.target; id++) {
      const workers = this.workersOf(id);
      const current = workers.filter((w) => w.generation === this.generation && (w.phase.name === 'starting' || w.phase.name === 'serving'));
      if (current.length === 0) {
        const slot = this.slot(id);
        if (slot.respawnAt === null || slot.respawnAt <= now) {
          slot.respawnAt = null;
          this.spawn(id);
        }
        continue;
      }
      if (current.some((w) => w.phase.name === 'serving')) {
        for (const worker of workers) if (worker.phase.name === 'replacing') this.drain(worker, worker.phase.reason);
      }
    }
    for (const worker of this.processes.values()) {
      if (worker.id > this.target && isActive(worker)) this.retire(worker, 'scale-down');
    }
    for (const slot of this.slots.values()) {
      if (slot.id > this.target) slot.respawnAt = null;
    }
    if (this.reloading && this.everyIdServes()) {
      this.reloading = false;
      for (const worker of this.processes.values()) {
        if (worker.generation < this.generation && isActive(worker)) this.retire(worker, 'reload');
      }
      this.say(`reload complete: ${this.target} worker(s) of generation ${this.generation} serving`);
      this.events.emit('reloaded', this.generation);
      for (const waiter of this.reloadWaiters.splice(0)) waiter.resolve();
    }
  }

  private everyIdServes(): boolean {
    for (let id = 1; id <= this.target; id++) {
      if (!this.workersOf(id).some((w) => w.generation === this.generation && w.phase.name === 'serving')) return false;
    }
    return true;
  }

  /** Startup: a non-lazy master first waits for worker 1 to load the app, then for every id. */
  private checkStartup(): void {
    if (this.state !== 'running' || this.startupDone) return;
    if (!this.settings.lazyApps && this.target === 1 && this.settings.initialWorkers > 1) {
      if (this.slot(1).settled && this.workersOf(1).some((w) => w.phase.name === 'serving')) this.target = this.settings.initialWorkers;
      return;
    }
    for (let id = 1; id <= this.target; id++) if (!this.slot(id).settled) return;
    this.startupDone = true;
    const router = this.router;
    const workerSocket = router === null ? undefined : this.sockets.find((socket) => socket.spec === router.workerSocket);
    if (router === null || workerSocket === undefined) {
      this.resolveStarted();
      return;
    }
    // The router starts once the workers accept on its socket, so its first request finds one.
    const settings = this.settings;
    const routerSettings = {
      env: settings.env,
      backlog: settings.backlog,
      bufferSize: settings.bufferSize ?? DEFAULT_UWSGI_BUFFER_SIZE,
      mercyMs: settings.mercyMs,
      // Only tsgi's Python workers keep connections (docs/protocols.md); JS workers close each.
      keptConnections: settings.python === null ? 0 : pythonKeptConnections(settings.processes, settings.threads),
    };
    void router.start(workerSocket.bound, routerSettings).then(() => this.resolveStarted());
  }

  // ---- one worker -------------------------------------------------------------------------------

  private spawn(id: number): void {
    if (this.settings.python !== null) return this.spawnPython(id, this.settings.python);
    const settings = this.settings;
    const child = forkChild({ entry: WORKER_ENTRY, env: settings.env, cwd: settings.cwd });
    // fork() failed (EAGAIN, ENOMEM): the 'error' event tells why.
    if (child.pid === undefined) return this.retryLater(id, child, (error) => `fork() of worker ${id} failed: ${error.message}`);
    const notes = notesStream(child);
    const { worker, notesEnded } = this.track(id, child, child.pid, null);
    // A block of lines per write: workers under load log many requests per chunk (log-forward.ts).
    if (child.stdout) forwardLineBlocks(child.stdout, (block) => this.log.line(block));
    if (child.stderr) forwardLineBlocks(child.stderr, (block) => this.log.line(block));
    if (notes) {
      forwardLines(notes, (line) => this.onWorkerNote(worker, line));
      notes.once('close', () => notesEnded());
    } else {
      notesEnded();
    }
    child.on('message', (message: unknown) => this.onWorkerMessage(worker, message));
    const init: WorkerInit = {
      id,
      generation: this.generation,
      app: settings.app,
      appKind: settings.appKind,
      composition: settings.composition,
      sockets: this.sockets.map((socket) => ({ protocol: socket.spec.protocol, bound: socket.bound })),
      backlog: settings.backlog,
      threads: settings.threads,
      harakiri: settings.harakiriMs === null ? null : settings.harakiriMs / 1000,
      maxRequests: settings.maxRequests,
      reloadOnRss: settings.reloadOnRssBytes,
      reportIntervalMs: REPORT_INTERVAL_MS,
      mercyMs: settings.mercyMs,
      multiprocess: settings.processes > 1,
      keepAliveTimeout: settings.keepAliveTimeout,
      headerTimeout: settings.headerTimeout,
      bufferSize: settings.bufferSize,
      requestLog: settings.requestLog,
    };
    child.send({ type: 'init', init });
    this.sendSockets(worker);

    this.spawned(worker, `cores: ${settings.threads ?? 'unlimited'}`);
  }

  /** fork() or spawn() gave no process: say why once its 'error' tells, retry with the crash backoff. */
  private retryLater(id: number, child: ChildProcess, describe: (error: Error) => string): void {
    child.once('error', (error) => this.say(describe(error)));
    const decision = this.policy.decide(id, 0, Date.now());
    this.slot(id).respawnAt = Date.now() + Math.max(decision.delayMs, 100);
  }

  /** A worker just started, JS or Python: its record, and what ends its notes/channel wait. */
  private track(id: number, child: ChildProcess, pid: number, channel: WorkerProcess['channel']): { worker: WorkerProcess; notesEnded: () => void } {
    let notesEnded: () => void = () => {};
    const worker: WorkerProcess = {
      id,
      generation: this.generation,
      child,
      pid,
      spawnedAt: Date.now(),
      phase: { name: 'starting' },
      report: EMPTY_REPORT,
      lastHeardAt: Date.now(),
      harakiri: null,
      bootError: null,
      notesDone: new Promise<void>((resolve) => (notesEnded = resolve)),
      exited: false,
      channel,
    };
    this.processes.set(pid, worker);
    child.once('exit', (code, signal) => void this.onWorkerExit(worker, exitStatus(code, signal)));
    child.on('error', () => {
      // A message or signal sent to a child that is gone; its 'exit' event does the bookkeeping.
    });
    return { worker, notesEnded };
  }

  /** The spawn line (uWSGI's wording) and the slot's counters. */
  private spawned(worker: WorkerProcess, detail: string): void {
    const slot = this.slot(worker.id);
    if (slot.spawns === 0) this.say(`spawned tsgi worker ${worker.id} (pid: ${worker.pid}, ${detail})`);
    else this.say(`Respawned tsgi worker ${worker.id} (new pid: ${worker.pid})`);
    slot.spawns++;
    slot.lastSpawn = worker.spawnedAt;
    this.events.emit('spawn', this.info(worker));
  }

  /**
   * A Python worker (python-worker.ts): the uwsgi socket is its fd 3; it serves once it prints its
   * ready line; its load failure is read from its stderr; its reports, `retire` and harakiri note
   * arrive as JSON lines on its channel (fd 4) and take the JS workers' paths from there.
   */
  private spawnPython(id: number, python: PythonWorkerConfig): void {
    const settings = this.settings;
    const fd = this.sockets.find((socket) => socket.spec.protocol === 'uwsgi')?.fd ?? null;
    if (fd === null) throw new Error('no uwsgi socket for the Python workers');
    const child = spawnPythonWorker(python, {
      fd,
      threads: settings.threads,
      processes: settings.processes,
      bufferSize: settings.bufferSize,
      backlog: settings.backlog,
      needApp: settings.needApp,
      mercyMs: settings.mercyMs,
      env: settings.env,
      cwd: settings.cwd,
      workerId: id,
      reportIntervalMs: REPORT_INTERVAL_MS,
      harakiri: settings.harakiriMs === null ? null : settings.harakiriMs / 1000,
      maxRequests: settings.maxRequests,
      reloadOnRss: settings.reloadOnRssBytes,
      requestLog: settings.requestLog,
    });
    // ENOENT (the interpreter went away since the start), EAGAIN...
    if (child.pid === undefined) return this.retryLater(id, child, (error) => `cannot start Python worker ${id} with ${python.interpreter}: ${error.message}`);
    const channel = pythonChannel(child);
    const { worker, notesEnded: channelEnded } = this.track(id, child, child.pid, channel);
    if (channel !== null) {
      forwardLines(channel, (line) => this.onPythonLine(worker, line));
      channel.once('close', () => channelEnded());
      channel.on('error', () => {
        // The worker died with the channel open; 'close' follows.
      });
    } else {
      channelEnded();
    }
    if (child.stdout) {
      forwardLines(child.stdout, (line) => {
        if (worker.phase.name === 'starting' && PYTHON_READY.test(line)) this.onPythonReady(worker);
        this.log.line(line);
      });
    }
    if (child.stderr) {
      forwardLines(child.stderr, (line) => {
        if (worker.phase.name === 'starting') worker.bootError = pythonLoadFailure(line) ?? worker.bootError;
        this.log.line(line);
      });
    }
    this.spawned(worker, `cores: ${settings.threads ?? 1}, python: ${python.interpreter}`);
  }

  /** The Python worker's ready line: it accepts now. */
  private onPythonReady(worker: WorkerProcess): void {
    worker.lastHeardAt = Date.now();
    worker.report = { ...EMPTY_REPORT, accepting: true };
    worker.phase = { name: 'serving', since: Date.now() };
    this.slot(worker.id).settled = true;
    this.events.emit('ready', this.info(worker));
    this.wakeUp();
  }

  private sendSockets(worker: WorkerProcess): void {
    this.sockets.forEach((socket, index) => void socket.sendTo(worker.child, { type: 'socket', index }));
  }

  /** A recycling limit was reached: start a replacement; the worker drains once it serves. */
  private replace(worker: WorkerProcess, reason: RetireReason): void {
    if (this.state !== 'running' || worker.phase.name !== 'serving') return;
    // An older generation is about to be drained by the reload in progress anyway.
    if (worker.generation < this.generation) return;
    worker.phase = { name: 'replacing', since: Date.now(), reason };
    this.wakeUp();
  }

  /** Leave gracefully: a worker still starting has no requests and is simply killed. */
  private retire(worker: WorkerProcess, reason: RetireReason): void {
    if (worker.phase.name === 'starting') this.kill(worker, 'not-needed', 'SIGKILL');
    else this.drain(worker, reason);
  }

  /** Stop accepting, finish the requests in flight within the mercy, exit. */
  private drain(worker: WorkerProcess, reason: RetireReason): void {
    if (worker.exited || worker.phase.name === 'draining' || worker.phase.name === 'killed') return;
    const now = Date.now();
    // The worker cuts what is left at graceMs; the master's SIGKILL is the backstop a second later.
    worker.phase = { name: 'draining', since: now, reason, deadline: now + this.settings.mercyMs + 1000 };
    // When another worker takes over the socket, idle connections get a moment for the request
    // their client may be sending; at shutdown nobody takes over, so they close at once.
    const idleGraceMs = reason === 'shutdown' ? 0 : DRAIN_IDLE_GRACE_MS;
    if (worker.child.connected) worker.child.send({ type: 'drain', graceMs: this.settings.mercyMs, idleGraceMs, reason });
    // A Python worker drains on SIGTERM (it closes its copy of the socket at once) and exits 0.
    else if (this.settings.python !== null) worker.child.kill('SIGTERM');
    else this.kill(worker, 'mercy-expired', 'SIGKILL');
  }

  /** End at once: SIGKILL, or SIGINT with SIGKILL after IMMEDIATE_MERCY_MS. */
  private kill(worker: WorkerProcess, reason: KillReason, signal: 'SIGKILL' | 'SIGINT'): void {
    if (worker.exited) return;
    const now = Date.now();
    worker.phase = { name: 'killed', since: now, reason, escalateAt: signal === 'SIGKILL' ? null : now + IMMEDIATE_MERCY_MS };
    try {
      worker.child.kill(signal);
    } catch {
      // Already gone: the 'exit' event follows.
    }
  }

  // ---- what the workers tell the master ------------------------------------------------------------

  private onWorkerMessage(worker: WorkerProcess, raw: unknown): void {
    const message: WorkerMessage | null = parseWorkerMessage(raw);
    if (message === null) {
      this.say(`worker ${worker.id} (pid: ${worker.pid}) sent a message the master does not understand: ${JSON.stringify(raw)}`);
      return;
    }
    worker.lastHeardAt = Date.now();
    switch (message.type) {
      case 'ready':
        worker.report = message.report;
        if (worker.phase.name === 'starting') {
          worker.phase = { name: 'serving', since: Date.now() };
          this.slot(worker.id).settled = true;
          this.events.emit('ready', this.info(worker));
        }
        break;
      case 'report':
        worker.report = message.report;
        if (message.report.avgRt > 0) this.slot(worker.id).avgRt = message.report.avgRt;
        // The request log's `req: N/M` needs everyone's total; the answer rides on the report's tick.
        if (this.settings.requestLog !== undefined && logsAnything(this.settings.requestLog)) {
          this.tell(worker, { type: 'totals', totals: { requests: this.totalRequests() } });
        }
        break;
      case 'boot-failed':
        worker.bootError = message.message;
        break;
      case 'retire':
        if (message.reason === 'reload-on-rss') this.say(`worker ${worker.id} (pid: ${worker.pid}): ${message.detail}: recycling`);
        this.replace(worker, message.reason);
        break;
      case 'want-sockets':
        if (isActive(worker)) this.sendSockets(worker);
        break;
    }
    this.wakeUp();
  }

  /** A message for the worker, over its IPC channel or a Python worker's channel. */
  private tell(worker: WorkerProcess, message: MasterMessage): void {
    if (worker.channel !== null) tellPython(worker.channel, message);
    else if (worker.child.connected) worker.child.send(message);
  }

  /** A line of a Python worker's channel: a harakiri note, or a message as a JS worker sends it. */
  private onPythonLine(worker: WorkerProcess, line: string): void {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      this.say(`worker ${worker.id} (pid: ${worker.pid}): unreadable line on its channel ${JSON.stringify(line)}`);
      return;
    }
    if (isPythonNote(value)) this.onWorkerNote(worker, line);
    else this.onWorkerMessage(worker, value);
  }

  private onWorkerNote(worker: WorkerProcess, line: string): void {
    try {
      const note: unknown = JSON.parse(line);
      if (typeof note === 'object' && note !== null && 'event' in note && note.event === 'harakiri' && 'request' in note) {
        worker.harakiri = String(note.request);
      }
    } catch {
      this.say(`worker ${worker.id} (pid: ${worker.pid}): unreadable note ${JSON.stringify(line)}`);
    }
  }

  private async onWorkerExit(worker: WorkerProcess, status: ExitStatus): Promise<void> {
    worker.exited = true;
    // A harakiri note is written just before the SIGKILL; give the pipe a moment to deliver it.
    await Promise.race([worker.notesDone, new Promise((resolve) => setTimeout(resolve, NOTES_WAIT_MS))]);
    this.processes.delete(worker.pid);
    const slot = this.slot(worker.id);
    const phase = worker.phase;
    const now = Date.now();
    if (worker.harakiri !== null) slot.harakiriCount++;
    addCounters(slot.finished, worker.report);
    const expected = phase.name === 'draining' || (phase.name === 'killed' && phase.reason !== 'harakiri' && phase.reason !== 'boot-timeout');
    this.events.emit('exit', { id: worker.id, pid: worker.pid, status, expected, harakiri: worker.harakiri });

    if (expected) {
      const reason = phase.name === 'draining' ? phase.reason : phase.name === 'killed' ? phase.reason : 'shutdown';
      if (reason === 'max-requests' || reason === 'max-lifetime' || reason === 'reload-on-rss') {
        this.say(`worker ${worker.id} killed successfully (pid: ${worker.pid})`);
      } else {
        this.say(`worker ${worker.id} buried after ${Math.round((now - phase.since) / 1000)} seconds`);
      }
      if (reason === 'scale-down' && worker.id > this.target) this.policy.forget(worker.id);
      this.wakeUp();
      return;
    }

    slot.settled = true;
    if (status.code === EXIT_RELOAD && phase.name === 'serving') {
      // Someone sent this worker a SIGHUP: it drained as uWSGI's gracefully_kill does. Not a crash.
      this.say(`worker ${worker.id} (pid: ${worker.pid}) drained after a SIGHUP of its own: respawning`);
      this.wakeUp();
      return;
    }
    if (status.code === EXIT_FAILED_APP) {
      this.say(`OOPS ! failed loading app in worker ${worker.id} (pid ${worker.pid}) :( trying again...`);
    } else {
      this.say(`DAMN ! worker ${worker.id} (pid: ${worker.pid}) died, ${describeExit(status)} :( trying respawn ...`);
    }

    const neverServed = phase.name === 'starting' || (phase.name === 'killed' && phase.reason === 'boot-timeout');
    const firstLoadFailed = !this.settings.lazyApps && worker.id === 1;
    // --need-app makes a failed load fatal with lazyApps too, where it is otherwise a crash to respawn.
    const neededAppFailed = this.settings.needApp && status.code === EXIT_FAILED_APP;
    if (this.state === 'running' && !this.startupDone && neverServed && (firstLoadFailed || neededAppFailed)) {
      const why = worker.bootError ?? describeExit(status);
      const exitCode = this.settings.needApp ? EXIT_FAILED_APP : EXIT_FAILURE;
      if (this.settings.needApp) this.say('*** no app loaded. GAME OVER ***');
      this.startupError = new MasterStartError(`the application could not be loaded: ${why}`, undefined, exitCode);
      this.exitCode = exitCode;
      this.beginStop('immediate', null);
      return;
    }
    if (this.state === 'running' && this.reloading && neverServed && status.code === EXIT_FAILED_APP && worker.generation === this.generation) {
      this.abortReload(worker.bootError ?? describeExit(status));
    }
    if (this.state !== 'running' || worker.id > this.target) {
      this.wakeUp();
      return;
    }
    const decision = this.policy.decide(worker.id, now - worker.spawnedAt, now);
    if (decision.delayMs > 0) {
      slot.respawnAt = now + decision.delayMs;
      if (decision.delayMs >= 1000) this.say(respawnTooFastMessage(decision.delayMs));
    }
    this.wakeUp();
  }

  /** A new worker could not load the app: the old generation is adopted back and keeps serving. */
  private abortReload(why: string): void {
    const failed = this.generation;
    const old = [...this.processes.values()].filter((w) => w.generation < failed && (w.phase.name === 'serving' || w.phase.name === 'replacing'));
    if (old.length === 0) return;
    this.say(`reload abandoned: the new workers cannot load the application (${why}); the workers already running keep serving`);
    for (const worker of this.processes.values()) {
      if (worker.generation === failed && isActive(worker)) this.retire(worker, 'reload-aborted');
    }
    for (const worker of old) worker.generation = failed;
    for (const slot of this.slots.values()) slot.respawnAt = null;
    this.reloading = false;
    for (const waiter of this.reloadWaiters.splice(0)) waiter.reject(new ReloadAbortedError(`reload abandoned: ${why}`));
  }

  // ---- reload and stop ----------------------------------------------------------------------------

  /** uWSGI's brutal reload: every worker is ended at once and a new generation started. */
  private brutalReload(signal: MasterSignal): void {
    if (this.state !== 'running') return;
    this.say(`${signal} received: ...brutally killing workers...`);
    this.generation++;
    for (const worker of this.processes.values()) if (!worker.exited && worker.phase.name !== 'killed') this.kill(worker, 'brutal-reload', 'SIGINT');
    for (const slot of this.slots.values()) slot.respawnAt = null;
  }

  beginStop(mode: 'graceful' | 'immediate', signal: MasterSignal | null): void {
    if (this.state === 'stopped') return;
    if (this.state === 'stopping' && !(mode === 'immediate' && this.stopMode === 'graceful')) return;
    this.state = 'stopping';
    this.stopMode = mode;
    const why = signal === null ? '' : `${signal} received: `;
    if (mode === 'graceful') {
      this.say(`${why}graceful shutdown: workers finish their requests (mercy ${Math.round(this.settings.mercyMs / 1000)} seconds)...`);
    } else {
      this.say(`${why}...killing workers...`);
    }
    for (const waiter of this.reloadWaiters.splice(0)) waiter.reject(new MasterStoppedError());
    this.reloading = false;
    for (const slot of this.slots.values()) slot.respawnAt = null;
    const router = this.router;
    if (router !== null && mode === 'graceful' && !router.stopped) {
      // The router leaves first: the requests it still forwards find workers that accept, and
      // only then do the workers stop accepting and finish theirs.
      void router.stop(this.settings.mercyMs).then(() => this.stopWorkers());
      return;
    }
    if (router !== null) void router.stop(0).then(() => this.wakeUp());
    this.stopWorkers();
  }

  /** The workers' part of a stop, in the mode `beginStop` chose. */
  private stopWorkers(): void {
    const mode = this.stopMode;
    for (const worker of this.processes.values()) {
      if (worker.exited) continue;
      if (mode === 'immediate') {
        if (worker.phase.name !== 'killed') this.kill(worker, 'immediate-stop', 'SIGINT');
      } else {
        this.retire(worker, 'shutdown');
      }
    }
    this.wakeUp();
  }

  stopped(): Promise<void> {
    if (this.state === 'stopped') return Promise.resolve();
    return new Promise((resolve) => this.stopWaiters.push(resolve));
  }

  private finish(): void {
    this.state = 'stopped';
    this.signals.uninstall();
    for (const socket of this.sockets) socket.close({ removeUnixFile: this.settings.vacuum });
    this.router?.close({ removeUnixFile: this.settings.vacuum });
    if (this.settings.pidfile !== null && this.settings.vacuum) removePidfile(this.settings.pidfile);
    this.say('goodbye to tsgi.');
    this.events.emit('stopped', this.exitCode);
    for (const waiter of this.stopWaiters.splice(0)) waiter();
    this.resolveClosed(this.exitCode);
  }

  // ---- the programmatic API -----------------------------------------------------------------------

  requestReload(): Promise<void> {
    if (this.state !== 'running') return Promise.reject(new MasterStoppedError());
    return new Promise((resolve, reject) => {
      this.reloadWaiters.push({ resolve, reject });
      this.signals.push('SIGHUP');
    });
  }

  scale(delta: number): void {
    for (let i = 0; i < Math.abs(Math.trunc(delta)); i++) this.signals.push(delta > 0 ? 'SIGTTIN' : 'SIGTTOU');
  }

  get failure(): MasterStartError | null {
    return this.startupError;
  }

  /** Requests finished by every worker since the master started. */
  totalRequests(): number {
    let total = 0;
    for (const slot of this.slots.values()) total += slot.finished.requests;
    for (const worker of this.processes.values()) if (!worker.exited) total += worker.report.requests;
    return total;
  }

  snapshot(): MasterSnapshot {
    const slots: SlotInfo[] = [];
    const highest = Math.max(this.settings.processes, ...this.slots.keys());
    for (let id = 1; id <= highest; id++) {
      const slot = this.slot(id);
      const running = this.workersOf(id).sort((a, b) => b.generation - a.generation || b.spawnedAt - a.spawnedAt);
      const worker = running[0] ?? null;
      const totals = { ...slot.finished };
      for (const process of running) addCounters(totals, process.report);
      slots.push({
        id,
        cheap: worker === null && id > this.target,
        spawns: slot.spawns,
        harakiriCount: slot.harakiriCount,
        lastSpawn: slot.lastSpawn,
        totals,
        avgRt: slot.avgRt,
        worker: worker === null ? null : this.info(worker),
      });
    }
    return {
      pid: process.pid,
      maxWorkers: this.settings.processes,
      targetWorkers: this.target,
      sockets: this.sockets.map((socket) => ({
        // Where it is bound (a port 0 shows the port chosen), as uWSGI shows the name it bound.
        name: 'path' in socket.bound ? socket.bound.path : formatAddress({ kind: 'tcp', host: socket.bound.host, port: socket.bound.port }),
        protocol: socket.spec.protocol,
        port: 'port' in socket.bound ? socket.bound.port : null,
        backlog: this.settings.backlog,
      })),
      slots,
    };
  }

  /**
   * --cheaper, once a master cycle (a second, as uWSGI's): the busyness algorithm looks at the
   * workers of the current generation and says to spawn some or cheap one. Cheaping lowers the
   * target, and manageWorkers() drains the highest id (uWSGI cheaps the oldest idle worker; tsgi
   * keeps the ids 1..target contiguous, which reloads and TTOU rely on).
   */
  private checkCheaper(): void {
    const cheaper = this.cheaper;
    if (cheaper === null || this.state !== 'running' || this.reloading || !this.startupDone) return;
    const now = Date.now();
    if (now - this.lastCheaperCheck < TICK_MS) return;
    this.lastCheaperCheck = now;
    const running = [...this.processes.values()].filter(
      (worker) => !worker.exited && worker.id <= this.target && worker.generation === this.generation && worker.phase.name === 'serving',
    );
    const samples = running.map((worker) => ({ key: worker.pid, busyTime: worker.report.busyTime, busy: worker.report.inFlight > 0 }));
    const decision = cheaper.check(now, samples, this.listenBacklog(), this.settings.processes);
    if (decision === null) return;
    if ('spawn' in decision) {
      this.target = Math.min(this.settings.processes, this.target + decision.spawn);
    } else if (this.target > cheaper.min) {
      this.target--;
    }
  }

  /** Connections waiting in the listen queues of the TCP sockets (0 for UNIX sockets and off Linux). */
  private listenBacklog(): number {
    const ports = new Set<number>();
    for (const socket of this.sockets) if ('port' in socket.bound) ports.add(socket.bound.port);
    if (ports.size === 0) return 0;
    const queues = readListenQueues();
    let total = 0;
    for (const port of ports) total += queues.get(port)?.queue ?? 0;
    return total;
  }

  workers(): WorkerInfo[] {
    return [...this.processes.values()]
      .filter((worker) => !worker.exited)
      .sort((a, b) => a.id - b.id || a.spawnedAt - b.spawnedAt)
      .map((worker) => this.info(worker));
  }

  // ---- helpers ------------------------------------------------------------------------------------

  private info(worker: WorkerProcess): WorkerInfo {
    const slot = this.slot(worker.id);
    const report = worker.report;
    let status: WorkerStatus;
    switch (worker.phase.name) {
      case 'serving':
        status = report.inFlight > 0 ? 'busy' : 'idle';
        break;
      default:
        status = worker.phase.name;
    }
    return {
      id: worker.id,
      pid: worker.pid,
      generation: worker.generation,
      status,
      requests: report.requests,
      exceptions: report.exceptions,
      inFlight: report.inFlight,
      queued: report.queued,
      harakiriCount: slot.harakiriCount,
      respawnCount: Math.max(0, slot.spawns - 1),
      startedAt: worker.spawnedAt,
      avgRt: report.avgRt,
      tx: report.tx,
      rss: report.rss,
      accepting: report.accepting,
      vsz: report.vsz,
      runningTime: report.runningTime,
      busyTime: report.busyTime,
      cores: report.cores,
      startupTime: report.startupTime,
    };
  }

  private workersOf(id: number): WorkerProcess[] {
    return [...this.processes.values()].filter((worker) => worker.id === id && !worker.exited);
  }

  private slot(id: number): Slot {
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = { id, spawns: 0, harakiriCount: 0, respawnAt: null, settled: false, lastSpawn: 0, finished: emptyCounters(), avgRt: 0 };
      this.slots.set(id, slot);
    }
    return slot;
  }

  private say(line: string): void {
    this.log.line(line);
  }
}

/**
 * Starts a master in this process: binds every socket (a busy port fails here, before any worker
 * starts), writes the pidfile, installs the signal handlers, forks the workers, and resolves once
 * each worker has loaded the application (or, with lazyApps, has at least tried once).
 */
export async function startMaster(config: MasterConfig): Promise<MasterHandle> {
  const settings = settingsOf(config);
  const log = config.log ?? new Logger();
  // Python workers accept on one uwsgi socket: the user's, when given, is the router's way to them too.
  const workerSocket = config.python === undefined ? undefined : config.sockets.find((socket) => socket.protocol === 'uwsgi');
  const router = config.router === undefined ? null : await HttpRouter.bind(config.router, log, { chmod: config.chmodSocket, workerSocket });
  let sockets: SharedSocket[];
  try {
    const own = router === null || config.sockets.includes(router.workerSocket);
    sockets = await bindSharedSockets(own ? config.sockets : [...config.sockets, router.workerSocket], { chmod: config.chmodSocket });
  } catch (error) {
    router?.close({ removeUnixFile: true });
    throw error;
  }
  try {
    if (settings.pidfile !== null) writePidfile(settings.pidfile);
  } catch (error) {
    for (const socket of sockets) socket.close({ removeUnixFile: true });
    router?.close({ removeUnixFile: true });
    throw error;
  }
  log.line(`spawned tsgi master process (pid: ${process.pid})`);
  sockets.forEach((socket, index) => {
    const where = 'path' in socket.bound ? `UNIX address ${socket.bound.path}` : `TCP address ${socket.bound.host}:${socket.bound.port}`;
    log.line(`tsgi ${socket.spec.protocol} socket ${index} bound to ${where}`);
  });
  router?.addresses.forEach((bound, i) => {
    // uWSGI's gateway line for --http; a socket the router relays (Python apps) says its protocol.
    const protocol = router.protocols[i] === 'http' ? 'http' : `${router.protocols[i]} relay`;
    log.line(`tsgi ${protocol} bound on ${'path' in bound ? bound.path : `${bound.host}:${bound.port}`}`);
  });
  log.line(`your mercy for graceful operations on workers is ${Math.round(settings.mercyMs / 1000)} seconds`);

  const master = new Master(settings, sockets, log, config);
  master.router = router;
  master.start(config.handleSignals ?? true);
  const outcome = await Promise.race([master.started.then(() => 'started' as const), master.closed.then(() => 'closed' as const)]);
  if (outcome === 'closed') throw master.failure ?? new MasterStoppedError();

  return {
    pid: process.pid,
    addresses: sockets.slice(0, config.sockets.length).map((socket) => socket.bound),
    routerAddresses: router?.addresses ?? [],
    routerProtocols: router?.protocols ?? [],
    workers: () => master.workers(),
    reload: () => master.requestReload(),
    stop: (graceful = true) => {
      master.beginStop(graceful ? 'graceful' : 'immediate', null);
      return master.stopped();
    },
    scale: (delta) => master.scale(delta),
    snapshot: () => master.snapshot(),
    events: master.events,
    closed: master.closed,
  };
}

/** `tsgi serve --reload PIDFILE`: graceful reload (HUP) of the master the pidfile names. */
export function reloadFromPidfile(path: string): number {
  return signalPidfile(path, 'SIGHUP');
}

/**
 * `tsgi serve --stop PIDFILE`: INT by default, the immediate shutdown uWSGI's --stop sends, which
 * means the same whatever the running master's dieOnTerm. `graceful` sends TERM instead: a
 * graceful shutdown for a master with dieOnTerm (the default), a brutal reload for one without.
 */
export function stopFromPidfile(path: string, mode: 'immediate' | 'graceful' = 'immediate'): number {
  return signalPidfile(path, mode === 'graceful' ? 'SIGTERM' : 'SIGINT');
}

/**
 * A worker of `tsgi serve`: the process the master forks (this module is its entry). It loads the
 * application, accepts on the sockets the master shares with it, reports its counters, and leaves
 * when told to, in the order a reader of gunicorn's `workers/base.py` would expect:
 *
 *   init (from the master) -> load the app -> listen on every socket -> "ready" -> serve
 *   -> "drain" (from the master) or SIGTERM/SIGHUP -> stop accepting -> finish requests -> exit
 *
 * Signals a worker gets directly (systemd sends them to the whole cgroup, a terminal's Ctrl-C to
 * the whole process group):
 *   SIGTERM, SIGHUP  finish the requests in flight, then exit (HUP with EXIT_RELOAD: the master
 *                    respawns it, as uWSGI's gracefully_kill)
 *   SIGQUIT          exit at once with EXIT_END (uWSGI's end_me)
 *   SIGINT           not handled: the default disposition ends the process at once, even when the
 *                    event loop is stuck (Ctrl-C stops everything, as uWSGI's INT does)
 */
import { Server, type Socket } from 'node:net';
import { buildApp } from './compose-app.js';
import { attachApp, type AttachedApp } from './serve.js';
import { Logger, describeError } from './log.js';
import type { App, Environ } from '../gateway/types.js';
import { RequestTracker } from './worker-requests.js';
import { LineBatch, logsAnything, RequestLogger } from './request-log.js';
import { readVsz } from './stats/memory.js';
import { LogFile } from './log-file.js';
import { DEFAULT_HARAKIRI_SLOTS, HarakiriBoard, startWatchdog } from './watchdog.js';
import { DRAIN_IDLE_GRACE_MS, parseMasterMessage, type WorkerInit, type WorkerMessage, type WorkerReport } from './worker-protocol.js';
import { closeSharedHandle, listenOnSharedHandle } from '../process/listen-handle.js';
import { EXIT_END, EXIT_FAILED_APP, EXIT_FAILURE, EXIT_OK, EXIT_ORPHANED, EXIT_RELOAD } from '../process/exit-codes.js';

/** The server log, counting application errors for the master's `exceptions` counter. */
class CountingLogger extends Logger {
  exceptions = 0;

  override appError(environ: Environ, message: string, error: unknown): void {
    this.exceptions++;
    super.appError(environ, message, error);
  }
}

/** Mercy before init arrived (uWSGI's --worker-reload-mercy default). */
const DEFAULT_MERCY_MS = 60_000;

type WorkerState = 'waiting-for-init' | 'booting' | 'serving' | 'draining';

class AppWorker {
  private state: WorkerState = 'waiting-for-init';
  private init: WorkerInit | null = null;
  private readonly log = new CountingLogger();
  /** Handles received from the master and not listened on yet, by socket index. */
  private readonly handles = new Map<number, unknown>();
  /** This worker's listening copies of the shared sockets, by socket index. */
  private readonly listening = new Map<number, Server>();
  /** One never-listening server per socket: `attachApp` watches it, the listening copies feed it. */
  private fronts: Server[] = [];
  private attached: AttachedApp | null = null;
  private tracker: RequestTracker | null = null;
  private board: HarakiriBoard | null = null;
  private reportTimer: NodeJS.Timeout | null = null;
  private socketsArrived: (() => void) | null = null;
  private askedForSockets = false;
  private retireRequested = false;
  /** Request log lines waiting for the end of this event loop turn (null without a request log). */
  private logLines: LineBatch | null = null;
  private logFile: LogFile | null = null;
  /** Requests the other workers finished, from the master's last `totals`; and ours in the report it answered. */
  private otherRequests = 0;
  private reportedRequests = 0;
  /** Seconds the application took to load. */
  private startupTime = 0;

  start(): void {
    process.on('message', (message: unknown, handle: unknown) => this.onMessage(message, handle));
    process.on('disconnect', () => this.onOrphaned());
    process.on('SIGTERM', () => void this.drain(this.init?.mercyMs ?? DEFAULT_MERCY_MS));
    process.on('SIGHUP', () => void this.drain(this.init?.mercyMs ?? DEFAULT_MERCY_MS, DRAIN_IDLE_GRACE_MS, EXIT_RELOAD));
    process.on('SIGQUIT', () => process.exit(EXIT_END));
  }

  private send(message: WorkerMessage, then?: () => void): void {
    if (process.send === undefined || !process.connected) {
      then?.();
      return;
    }
    process.send(message, undefined, {}, () => then?.());
  }

  private onMessage(raw: unknown, handle: unknown): void {
    const message = parseMasterMessage(raw);
    if (message === null) {
      this.log.error(`worker ${process.pid}: ignoring a message it does not understand: ${JSON.stringify(raw)}`);
      closeSharedHandle(handle);
      return;
    }
    switch (message.type) {
      case 'init':
        if (this.state === 'waiting-for-init') void this.boot(message.init);
        return;
      case 'socket':
        this.receiveSocket(message.index, handle);
        return;
      case 'drain':
        void this.drain(message.graceMs, message.idleGraceMs);
        return;
      case 'reopen-logs':
        this.logLines?.flush();
        this.logFile?.reopen({ announce: false });
        return;
      case 'totals':
        this.otherRequests = Math.max(0, message.totals.requests - this.reportedRequests);
        return;
    }
  }

  private async boot(init: WorkerInit): Promise<void> {
    this.init = init;
    this.state = 'booting';
    process.title = `tsgi worker ${init.id}`;
    if (init.harakiri !== null) {
      this.board = new HarakiriBoard(init.threads ?? DEFAULT_HARAKIRI_SLOTS);
      startWatchdog({ board: this.board, limit: init.harakiri, workerId: init.id });
    }
    const tracker = new RequestTracker({
      threads: init.threads,
      board: this.board,
      onSaturation: (saturated) => this.onSaturation(saturated),
      onFinished: (requests) => this.onRequestFinished(requests),
    });
    this.tracker = tracker;
    try {
      const loadStarted = performance.now();
      const loaded = await buildApp(init.app || undefined, init.appKind, init.composition);
      this.startupTime = Math.round((performance.now() - loadStarted) / 1000);
      this.fronts = init.sockets.map(() => new Server());
      this.attached = attachApp(
        tracker.wrap(this.withRequestLog(init, tracker, loaded.app)),
        init.sockets.map((socket, index) => ({ protocol: socket.protocol, server: this.fronts[index]!, bound: socket.bound })),
        { log: this.log, multiprocess: init.multiprocess, keepAliveTimeout: init.keepAliveTimeout, headerTimeout: init.headerTimeout, bufferSize: init.bufferSize },
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.log.line(`tsgi worker ${init.id} (pid: ${process.pid}): ${describeError(error)}`);
      this.send({ type: 'boot-failed', message }, () => process.exit(EXIT_FAILED_APP));
      return;
    }
    // The master sends every socket right after init; some may still be on their way.
    if (this.handles.size < init.sockets.length) {
      await new Promise<void>((resolve) => (this.socketsArrived = resolve));
    }
    if (this.state !== 'booting') return;
    await this.listenOnHandles();
    if (this.state !== 'booting') return;
    this.state = 'serving';
    this.send({ type: 'ready', report: this.report() });
    this.reportTimer = setInterval(() => this.onReportTick(), init.reportIntervalMs);
    this.reportTimer.unref();
  }

  /** The app inside the request log, when the worker logs requests (always, unless --disable-logging). */
  private withRequestLog(init: WorkerInit, tracker: RequestTracker, app: App): App {
    const settings = init.requestLog;
    if (settings === undefined || !logsAnything(settings)) return app;
    // Into the log file directly when there is one (--logto); else through stderr, which the master
    // forwards into its log, as every other line of the worker.
    const file = settings.file === undefined ? null : new LogFile(settings.file);
    this.logFile = file;
    const lines = new LineBatch(file === null ? (text) => process.stderr.write(text) : (text) => file.write(text));
    this.logLines = lines;
    const logger = new RequestLogger({
      settings,
      workerId: init.id,
      otherRequests: () => this.otherRequests,
      currentCore: () => tracker.currentCore,
      write: (line) => lines.push(line),
    });
    return logger.wrap(app);
  }

  private receiveSocket(index: number, handle: unknown): void {
    const init = this.init;
    if (init === null || index < 0 || index >= init.sockets.length || this.state === 'draining') {
      closeSharedHandle(handle);
      return;
    }
    const previous = this.handles.get(index);
    if (previous !== undefined) closeSharedHandle(previous);
    this.handles.set(index, handle);
    if (this.state === 'booting') {
      if (this.handles.size === init.sockets.length) this.socketsArrived?.();
      return;
    }
    if (this.state === 'serving' && this.handles.size === init.sockets.length) {
      this.askedForSockets = false;
      if (!this.tracker!.saturated) void this.listenOnHandles();
    }
  }

  /** Starts accepting on every received handle; connections go to the front server `attachApp` watches. */
  private async listenOnHandles(): Promise<void> {
    const backlog = this.init!.backlog;
    const pending = [...this.handles];
    this.handles.clear();
    for (const [index, handle] of pending) {
      if (this.listening.has(index)) {
        closeSharedHandle(handle);
        continue;
      }
      let server: Server;
      try {
        server = await listenOnSharedHandle(handle, backlog);
      } catch (error) {
        this.log.error(`worker ${this.init!.id}: cannot listen on socket ${index}`, error);
        continue;
      }
      if (this.state === 'draining' || this.listening.has(index) || this.tracker!.saturated) {
        // A drain, another listen or the --threads limit came while this one was starting.
        server.close();
        continue;
      }
      const front = this.fronts[index]!;
      server.on('connection', (socket: Socket) => front.emit('connection', socket));
      server.on('error', (error) => this.log.error(`worker ${this.init!.id}: listening socket error`, error));
      this.listening.set(index, server);
    }
  }

  /** Closes this worker's copies of the sockets: the master's copy keeps the queue for the others. */
  private stopAccepting(): void {
    for (const server of this.listening.values()) server.close();
    this.listening.clear();
    for (const handle of this.handles.values()) closeSharedHandle(handle);
    this.handles.clear();
  }

  private onSaturation(saturated: boolean): void {
    if (this.state !== 'serving') return;
    if (saturated) {
      this.stopAccepting();
      return;
    }
    if (this.handles.size === this.init!.sockets.length) {
      void this.listenOnHandles();
    } else if (!this.askedForSockets) {
      this.askedForSockets = true;
      this.send({ type: 'want-sockets' });
    }
  }

  private onRequestFinished(requests: number): void {
    const limit = this.init?.maxRequests ?? null;
    if (limit !== null && requests >= limit) this.retire('max-requests', `${requests} requests served (max-requests ${limit})`);
  }

  private retire(reason: 'max-requests' | 'reload-on-rss', detail: string): void {
    if (this.retireRequested || this.state !== 'serving') return;
    this.retireRequested = true;
    // The worker keeps serving: the master drains it once its replacement accepts.
    this.send({ type: 'retire', reason, detail });
  }

  private report(): WorkerReport {
    const tracker = this.tracker!;
    return {
      requests: tracker.requests,
      exceptions: this.log.exceptions,
      inFlight: tracker.inFlight,
      queued: tracker.queued,
      avgRt: tracker.takeAverageMicros(),
      tx: this.attached?.bytesWritten ?? 0,
      rss: process.memoryUsage.rss(),
      accepting: this.listening.size > 0,
      vsz: readVsz(),
      runningTime: tracker.runningTime,
      busyTime: tracker.busyTime,
      cores: tracker.cores(),
      startupTime: this.startupTime,
    };
  }

  private onReportTick(): void {
    const report = this.report();
    this.reportedRequests = report.requests;
    this.send({ type: 'report', report });
    const limit = this.init!.reloadOnRss;
    if (limit !== null && report.rss > limit) {
      this.retire('reload-on-rss', `rss ${Math.round(report.rss / 1048576)} MB > reload-on-rss ${Math.round(limit / 1048576)} MB`);
    }
  }

  /** Stop accepting, let the requests in flight finish (up to `graceMs`), exit. */
  private async drain(graceMs: number, idleGraceMs = 0, exitCode: number = EXIT_OK): Promise<void> {
    if (this.state === 'draining') return;
    const wasServing = this.state === 'serving';
    this.state = 'draining';
    this.socketsArrived?.();
    this.stopAccepting();
    if (this.reportTimer !== null) clearInterval(this.reportTimer);
    if (wasServing && this.attached !== null) await this.attached.drain(graceMs, { idleGraceMs });
    this.board?.stop();
    this.logLines?.flush();
    this.log.line(`...The work of process ${process.pid} is done. Seeya!`);
    // The last counters, then exit once the master has them (or at once if it is gone).
    this.send({ type: 'report', report: this.tracker === null ? emptyReport() : this.report() }, () => process.exit(exitCode));
  }

  /** The IPC channel closed: the master is gone, and nobody will respawn or stop this worker. */
  private onOrphaned(): void {
    if (this.state === 'draining') return;
    this.log.line(`tsgi worker ${this.init?.id ?? '?'} (pid: ${process.pid}): the master is gone, finishing requests and exiting`);
    void this.drain(this.init?.mercyMs ?? DEFAULT_MERCY_MS, 0, EXIT_ORPHANED);
  }
}

function emptyReport(): WorkerReport {
  return {
    requests: 0,
    exceptions: 0,
    inFlight: 0,
    queued: 0,
    avgRt: 0,
    tx: 0,
    rss: process.memoryUsage.rss(),
    accepting: false,
    vsz: 0,
    runningTime: 0,
    busyTime: 0,
    cores: [],
    startupTime: 0,
  };
}

if (process.send === undefined) {
  process.stderr.write('tsgi: the worker module is started by the master of `tsgi serve`, not directly\n');
  process.exit(EXIT_FAILURE);
}
new AppWorker().start();

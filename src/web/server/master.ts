/**
 * The master process of `tsgi web` (nginx's ngx_master_process_cycle in
 * src/os/unix/ngx_process_cycle.c). Read it top to bottom:
 *
 *   startMaster()      bind every listen address, write the pid file, start the workers, install
 *                      the signal handlers, run the loop
 *   WebMaster.run()    take one queued signal at a time and dispatch it to handle*()
 *   handleHup()        reload: read the configuration again; if it is bad, log why and keep
 *                      serving with the old one; else bind what is new, start a new generation
 *                      of workers, and once they all accept, stop the old ones gracefully
 *   handleQuit()       graceful stop: workers finish their requests, then everything closes
 *   handleTerm()       fast stop (TERM and INT): workers close their connections now
 *   handleUsr1()       reopen the logs, in the master and every worker
 *   onWorkerExit()     a worker that died without being asked is logged and started again
 *
 * The log lines are nginx's ("signal 1 (SIGHUP) received, reconfiguring", "start worker process
 * 1234", "worker process 1234 exited on signal 9"). Node cannot see who sent a signal, so the
 * "from PID" part nginx adds is left out, as nginx itself does when it does not know.
 */
import { availableParallelism } from 'node:os';
import { serialize } from 'node:v8';
import type { ChildProcess } from 'node:child_process';
import { NginxConfigError, type NginxConfig } from '../config/index.js';
import { bindShared, type SharedSocket } from '../../process/listen-handle.js';
import { childExecArgv, forkChild, forwardLines, isRunning, siblingModule } from '../../process/spawn.js';
import { RespawnPolicy } from '../../process/respawn-policy.js';
import { SignalQueue } from '../../process/signals.js';
import { removePidfile, writePidfile } from '../../process/pidfile.js';
import { EXIT_OK, exitStatus, signalNumber } from '../../process/exit-codes.js';
import type { ErrorLog, ServerCounters } from '../request-context.js';
import { openErrorLog } from './modules.js';
import { errorLogEntries, loadWebConfig, SERVER_VERSION, type WebCommand } from './load.js';
import { Site } from './site.js';
import { parseWorkerMessage, sumCounters, type MasterMessage, type WorkerMessage } from './worker-protocol.js';

const WORKER_ENTRY = siblingModule(import.meta.url, 'worker-main');

/**
 * A worker's young generation (V8's semi-space, 16 MiB by default) capped at 2 MiB, unless the
 * user chose a size (NODE_OPTIONS, or the master's own options): a burst of connections grows a
 * default one to ~48 MiB that stays committed, which was the larger part of a worker's memory with
 * 10,000 idle connections (bench idle-conns: median 213-237 MiB for master and worker, 166-172 MiB
 * with the cap); the small-file CPU per request did not move. (--single-threaded-gc saved ~1 µs
 * of system CPU per small response but, without concurrent marking, let the idle memory climb
 * back to 172-222 MiB: not taken.)
 */
function workerExecArgv(): string[] {
  const chosen = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  const argv = childExecArgv(WORKER_ENTRY);
  if (!chosen.includes('semi-space-size')) argv.push('--max-semi-space-size=2');
  return argv;
}

/** The signals the master acts on. */
const WEB_SIGNALS = ['SIGHUP', 'SIGQUIT', 'SIGTERM', 'SIGINT', 'SIGUSR1'] as const;
type WebSignal = (typeof WEB_SIGNALS)[number];

/** How long new workers get to start accepting before a reload is given up. */
const WORKER_START_TIMEOUT_MS = 10_000;
/** How long workers told to stop fast get before SIGKILL. */
const FAST_STOP_GRACE_MS = 2000;
/** How long the master waits for the workers' counters for stub_status. */
const COUNTERS_TIMEOUT_MS = 500;

interface Worker {
  readonly child: ChildProcess;
  readonly slot: number;
  readonly generation: number;
  readonly startedAt: number;
  ready: boolean;
  /** The master asked it to stop: its exit is no crash. */
  retiring: boolean;
}

/** One configuration in force: its sockets (by bind target index) and its workers. */
interface Generation {
  readonly number: number;
  readonly config: NginxConfig;
  /** The configuration as sent to workers (v8.serialize, base64), made once per generation. */
  readonly serialized: string;
  readonly site: Site;
  readonly sockets: readonly SharedSocket[];
}

function serializeConfig(config: NginxConfig): string {
  return serialize(config).toString('base64');
}

/** Describes a bind error as nginx does: `bind() to 0.0.0.0:80 failed (98: Address already in use)`. */
function bindMessage(text: string, error: unknown): string {
  const errno = typeof error === 'object' && error !== null ? Reflect.get(error, 'errno') : undefined;
  const reason = error instanceof Error ? error.message.replace(/^.*failed: /, '') : String(error);
  return `bind() to ${text} failed (${typeof errno === 'number' ? `${-errno}: ` : ''}${reason})`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export interface MasterOptions {
  readonly command: WebCommand;
  readonly config: NginxConfig;
  /** Called once the first workers accept (the daemon's parent waits for it). */
  readonly onReady?: () => void;
}

export class WebMaster {
  private generation: Generation;
  private log: ErrorLog;
  private readonly workers = new Map<number, Worker>();
  /** Shared sockets by address text, reused across reloads so the listening sockets never close. */
  private readonly bound = new Map<string, SharedSocket>();
  private readonly signals: SignalQueue<WebSignal>;
  private wake: (() => void) | null = null;
  private stopping: 'graceful' | 'fast' | null = null;
  private readonly respawn = new RespawnPolicy();
  private collections = 0;

  private constructor(
    private readonly command: WebCommand,
    config: NginxConfig,
    site: Site,
  ) {
    this.log = openErrorLog(config, errorLogEntries(config, command));
    this.generation = { number: 1, config, serialized: serializeConfig(config), site, sockets: [] };
    this.signals = new SignalQueue<WebSignal>(() => this.wakeUp());
  }

  /** Binds, writes the pid file, starts the workers and returns once they accept. */
  static async start(options: MasterOptions): Promise<WebMaster> {
    const site = new Site(options.config);
    const master = new WebMaster(options.command, options.config, site);
    const sockets = await master.bindAll(site);
    master.generation = { ...master.generation, sockets };
    writePidfile(options.config.main.pid);
    master.signals.install(WEB_SIGNALS);
    master.log.log('notice', SERVER_VERSION);
    master.log.log('notice', 'start worker processes');
    try {
      await master.startWorkers(master.generation);
    } catch (error) {
      master.abandon();
      throw error;
    }
    options.onReady?.();
    return master;
  }

  get pid(): number {
    return process.pid;
  }

  /** The loop: one signal at a time, until stopped. Resolves with the exit code. */
  async run(): Promise<number> {
    for (;;) {
      const signal = this.signals.take();
      if (signal !== undefined) {
        await this.dispatch(signal);
        if (this.stopping !== null && this.liveWorkers().length === 0) break;
        continue;
      }
      if (this.stopping !== null && this.liveWorkers().length === 0) break;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    this.finish();
    return EXIT_OK;
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private async dispatch(signal: WebSignal): Promise<void> {
    const number = signalNumber(signal);
    switch (signal) {
      case 'SIGHUP':
        this.log.log('notice', `signal ${number} (${signal}) received, reconfiguring`);
        await this.handleHup();
        return;
      case 'SIGQUIT':
        this.log.log('notice', `signal ${number} (${signal}) received, shutting down`);
        this.handleQuit();
        return;
      case 'SIGTERM':
      case 'SIGINT':
        this.log.log('notice', `signal ${number} (${signal}) received, exiting`);
        this.handleTerm();
        return;
      case 'SIGUSR1':
        this.log.log('notice', `signal ${number} (${signal}) received, reopening logs`);
        this.handleUsr1();
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Signals

  /** Reload: a bad configuration keeps the old one serving (nginx logs the [emerg] and goes on). */
  private async handleHup(): Promise<void> {
    if (this.stopping !== null) return;
    this.log.log('notice', 'reconfiguring');
    let config: NginxConfig;
    let site: Site;
    try {
      config = loadWebConfig(this.command);
      site = new Site(config);
    } catch (error) {
      this.log.log('emerg', errorText(error));
      return;
    }
    let sockets: SharedSocket[];
    try {
      sockets = await this.bindAll(site);
    } catch (error) {
      this.log.log('emerg', errorText(error));
      return;
    }
    const next: Generation = { number: this.generation.number + 1, config, serialized: serializeConfig(config), site, sockets };
    const old = this.liveWorkers();
    try {
      await this.startWorkers(next);
    } catch (error) {
      this.log.log('alert', `new worker processes failed, keeping the old configuration: ${errorText(error)}`);
      for (const worker of this.liveWorkers()) if (worker.generation === next.number) this.retire(worker, 'fast');
      this.closeUnused(this.generation);
      return;
    }
    const previousLog = this.log;
    this.generation = next;
    try {
      this.log = openErrorLog(config, errorLogEntries(config, this.command));
      previousLog.close();
    } catch (error) {
      this.log.log('alert', `could not open error log: ${errorText(error)}`);
    }
    try {
      writePidfile(config.main.pid);
    } catch (error) {
      this.log.log('alert', errorText(error));
    }
    for (const worker of old) this.retire(worker, 'graceful');
    this.closeUnused(next);
  }

  private handleQuit(): void {
    if (this.stopping === 'fast') return;
    this.stopping = 'graceful';
    for (const worker of this.liveWorkers()) this.retire(worker, 'graceful');
  }

  private handleTerm(): void {
    this.stopping = 'fast';
    for (const worker of this.liveWorkers()) this.retire(worker, 'fast');
  }

  private handleUsr1(): void {
    this.log.log('notice', 'reopening logs');
    try {
      this.log.reopen();
    } catch (error) {
      this.log.log('alert', errorText(error));
    }
    for (const worker of this.liveWorkers()) this.sendTo(worker, { type: 'reopen' });
  }

  // ---------------------------------------------------------------------------------------------
  // Sockets

  /** The shared sockets of `site`'s bind targets, reusing those already bound. */
  private async bindAll(site: Site): Promise<SharedSocket[]> {
    const sockets: SharedSocket[] = [];
    const fresh: SharedSocket[] = [];
    try {
      for (const target of site.targets) {
        let socket = this.bound.get(target.address);
        if (socket === undefined) {
          try {
            socket = await bindShared({ protocol: 'http', address: target.address });
          } catch (error) {
            throw new Error(bindMessage(target.text, error), { cause: error });
          }
          fresh.push(socket);
        }
        sockets.push(socket);
      }
    } catch (error) {
      for (const socket of fresh) socket.close({ removeUnixFile: true });
      throw error;
    }
    for (const socket of fresh) this.bound.set(socket.spec.address, socket);
    return sockets;
  }

  /** Closes the master's copies of sockets `current` does not use (old workers keep theirs). */
  private closeUnused(current: Generation): void {
    const used = new Set(current.sockets);
    for (const [address, socket] of this.bound) {
      if (used.has(socket)) continue;
      socket.close({ removeUnixFile: false });
      this.bound.delete(address);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Workers

  private liveWorkers(): Worker[] {
    return [...this.workers.values()].filter((worker) => isRunning(worker.child));
  }

  private workerCount(config: NginxConfig): number {
    const setting = config.main.workerProcesses;
    return setting === 'auto' ? availableParallelism() : Math.max(1, setting);
  }

  /** Starts a generation's workers and resolves once every one accepts (rejects if one fails). */
  private async startWorkers(generation: Generation): Promise<void> {
    const count = this.workerCount(generation.config);
    const started = Array.from({ length: count }, (_, slot) => this.spawn(generation, slot));
    await Promise.all(started);
  }

  private spawn(generation: Generation, slot: number): Promise<void> {
    const child = forkChild({ entry: WORKER_ENTRY, execArgv: workerExecArgv() });
    const worker: Worker = { child, slot, generation: generation.number, startedAt: Date.now(), ready: false, retiring: false };
    this.workers.set(child.pid ?? -1, worker);
    this.log.log('notice', `start worker process ${child.pid}`);
    if (child.stdout) forwardLines(child.stdout, (line) => process.stdout.write(line + '\n'));
    if (child.stderr) forwardLines(child.stderr, (line) => process.stderr.write(line + '\n'));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker process ${child.pid} did not start in time`)), WORKER_START_TIMEOUT_MS);
      const settle = (error: Error | null): void => {
        clearTimeout(timer);
        child.off('exit', early);
        if (error) reject(error);
        else resolve();
      };
      const early = (code: number | null, signal: NodeJS.Signals | null): void => {
        const status = exitStatus(code, signal);
        settle(new Error(`worker process ${child.pid} exited before it was ready (${status.signal ?? `code ${status.code}`})`));
      };
      child.on('exit', early);
      child.on('message', (raw: unknown) => {
        const message = parseWorkerMessage(raw);
        if (message === null) return;
        if (message.type === 'ready' && !worker.ready) {
          worker.ready = true;
          settle(null);
        } else if (message.type === 'failed') {
          this.log.log('emerg', message.message);
          settle(new Error(message.message));
        } else {
          this.onWorkerMessage(worker, message);
        }
      });
    });
    child.on('exit', (code, signal) => this.onWorkerExit(worker, code, signal));
    this.sendTo(worker, {
      type: 'init',
      init: { config: generation.serialized, errorLog: errorLogEntries(generation.config, this.command), slot, generation: generation.number },
    });
    generation.sockets.forEach((socket, index) => void socket.sendTo(child, { type: 'listen', index } satisfies MasterMessage));
    this.sendTo(worker, { type: 'start' });
    return ready;
  }

  private sendTo(worker: Worker, message: MasterMessage): void {
    if (worker.child.connected) worker.child.send(message);
  }

  /** Stops a worker: graceful (IPC quit) or fast (SIGTERM, then SIGKILL after a grace). */
  private retire(worker: Worker, how: 'graceful' | 'fast'): void {
    worker.retiring = true;
    if (how === 'graceful') {
      this.sendTo(worker, { type: 'quit' });
      return;
    }
    worker.child.kill('SIGTERM');
    setTimeout(() => {
      if (isRunning(worker.child)) worker.child.kill('SIGKILL');
    }, FAST_STOP_GRACE_MS).unref();
  }

  private onWorkerMessage(worker: Worker, message: WorkerMessage): void {
    if (message.type === 'collect') void this.collectFor(worker, message.id);
  }

  /** stub_status in one worker wants every worker's counters. */
  private async collectFor(asker: Worker, id: number): Promise<void> {
    const workers = this.liveWorkers().filter((worker) => worker.ready);
    const replies = await Promise.all(workers.map((worker) => this.countersOf(worker)));
    this.sendTo(asker, { type: 'collected', id, counters: sumCounters(replies.filter((reply): reply is ServerCounters => reply !== null)) });
  }

  private countersOf(worker: Worker): Promise<ServerCounters | null> {
    const id = ++this.collections;
    return new Promise((resolve) => {
      const onMessage = (raw: unknown): void => {
        const message = parseWorkerMessage(raw);
        if (message?.type !== 'counters' || message.id !== id) return;
        done(message.counters);
      };
      const done = (counters: ServerCounters | null): void => {
        clearTimeout(timer);
        worker.child.off('message', onMessage);
        resolve(counters);
      };
      const timer = setTimeout(() => done(null), COUNTERS_TIMEOUT_MS);
      worker.child.on('message', onMessage);
      this.sendTo(worker, { type: 'counters', id });
    });
  }

  /** nginx's ngx_reap_children: log the exit; start a worker again unless it was asked to stop. */
  private onWorkerExit(worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    const pid = worker.child.pid ?? 0;
    this.workers.delete(pid);
    const status = exitStatus(code, signal);
    if (status.signal !== null) this.log.log('alert', `worker process ${pid} exited on signal ${signalNumber(status.signal)}`);
    else this.log.log('notice', `worker process ${pid} exited with code ${status.code}`);
    const crashed = !worker.retiring && this.stopping === null && worker.ready && worker.generation === this.generation.number;
    if (crashed) {
      const decision = this.respawn.decide(worker.slot, Date.now() - worker.startedAt, Date.now());
      const restart = (): void => {
        if (this.stopping !== null) return;
        this.spawn(this.generation, worker.slot).catch((error: unknown) => this.log.log('alert', errorText(error)));
      };
      if (decision.delayMs === 0) restart();
      else setTimeout(restart, decision.delayMs).unref();
    }
    this.wakeUp();
  }

  /** Startup failed: kill what was started and undo what was set up. */
  private abandon(): void {
    this.stopping = 'fast';
    for (const worker of this.workers.values()) {
      worker.retiring = true;
      worker.child.kill('SIGKILL');
    }
    this.finish();
  }

  /** After the last worker: close the sockets (removing UNIX socket files), the pid file, the log. */
  private finish(): void {
    for (const socket of this.bound.values()) socket.close({ removeUnixFile: true });
    this.bound.clear();
    removePidfile(this.generation.config.main.pid);
    this.signals.uninstall();
    this.log.log('notice', 'exit');
    this.log.close();
  }
}

/** Config errors as thrown by the loader, worded for the log. */
export function describeStartError(error: unknown): string {
  return error instanceof NginxConfigError ? error.message : errorText(error);
}

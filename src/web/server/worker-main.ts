/**
 * The worker process of `tsgi web` (forked by master.ts): it loads the configuration the master
 * names, accepts on the sockets the master bound and passes over, and serves until told to stop:
 *
 *   IPC `quit` or the master gone   graceful stop ("gracefully shutting down", "exiting", "exit")
 *   SIGTERM / SIGINT                fast stop ("exiting", "exit")
 *   IPC `reopen` / SIGUSR1          reopen the logs
 *   SIGHUP, SIGQUIT                 ignored: only the master reloads (nginx's workers do the same)
 */
import { deserialize } from 'node:v8';
import type { ErrorLogEntry, LogLevel, NginxConfig } from '../config/index.js';
import type { ServerCounters } from '../request-context.js';
import { closeSharedHandle, listenOnSharedHandle } from '../../process/listen-handle.js';
import { EXIT_FAILURE, EXIT_OK } from '../../process/exit-codes.js';
import { SERVER_VERSION } from './load.js';
import { createWebModules } from './modules.js';
import { emptyCounters, WorkerServer } from './worker-server.js';
import { parseMasterMessage, type MasterMessage, type WorkerInit, type WorkerMessage } from './worker-protocol.js';

function send(message: WorkerMessage): void {
  if (process.connected && process.send) process.send(message);
}

class WorkerProcess {
  private init: WorkerInit | null = null;
  private config: NginxConfig | null = null;
  private server: WorkerServer | null = null;
  private errorLog: readonly ErrorLogEntry[] = [];
  private readonly handles = new Map<number, unknown>();
  private collections = 0;
  private readonly pending = new Map<number, (counters: ServerCounters) => void>();
  private stopping = false;

  run(): void {
    process.on('message', (message: unknown, handle: unknown) => this.onMessage(parseMasterMessage(message), handle));
    process.on('disconnect', () => void this.gracefulExit());
    process.on('SIGTERM', () => this.fastExit());
    process.on('SIGINT', () => this.fastExit());
    process.on('SIGUSR1', () => this.server?.reopenLogs());
    process.on('SIGHUP', () => {});
    process.on('SIGQUIT', () => void this.gracefulExit());
  }

  private onMessage(message: MasterMessage | null, handle: unknown): void {
    if (message === null) return;
    switch (message.type) {
      case 'init':
        this.load(message.init);
        return;
      case 'listen':
        this.handles.set(message.index, handle);
        return;
      case 'start':
        void this.start();
        return;
      case 'quit':
        void this.gracefulExit();
        return;
      case 'reopen':
        this.log('notice', 'reopening logs');
        this.server?.reopenLogs();
        return;
      case 'counters':
        send({ type: 'counters', id: message.id, counters: { ...(this.server?.counters ?? emptyCounters()) } });
        return;
      case 'collected': {
        const resolve = this.pending.get(message.id);
        this.pending.delete(message.id);
        resolve?.(message.counters);
        return;
      }
    }
  }

  private load(init: WorkerInit): void {
    this.init = init;
    try {
      this.config = configFromMaster(init.config);
      this.errorLog = init.errorLog;
    } catch (error) {
      send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
      process.exit(EXIT_FAILURE);
    }
  }

  private async start(): Promise<void> {
    const config = this.config;
    if (config === null) return;
    try {
      const server = new WorkerServer({
        config,
        modules: (worker) => createWebModules(config, { worker, errorLogEntries: this.errorLog }),
        serverVersion: SERVER_VERSION,
        slot: this.init!.slot,
        collectCounters: (own) => this.collect(own),
      });
      this.server = server;
      for (const [index, handle] of this.handles) {
        const target = server.site.targets[index];
        if (target === undefined) {
          closeSharedHandle(handle);
          continue;
        }
        // attach() allows half-open connections before the first one can be accepted (next turn).
        server.attach(await listenOnSharedHandle(handle, target.backlog), index);
      }
      send({ type: 'ready' });
    } catch (error) {
      send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
      process.exit(EXIT_FAILURE);
    }
  }

  /** Every worker's counters, summed by the master; this worker's own if the master is gone. */
  private collect(own: ServerCounters): Promise<ServerCounters> {
    if (!process.connected) return Promise.resolve({ ...own });
    const id = ++this.collections;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      send({ type: 'collect', id });
      setTimeout(() => {
        if (this.pending.delete(id)) resolve({ ...own });
      }, 1000).unref();
    });
  }

  private log(level: LogLevel, message: string): void {
    this.server?.modules.errorLog.log(level, message);
  }

  private async gracefulExit(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log('notice', 'gracefully shutting down');
    this.log('notice', 'exiting');
    const server = this.server;
    if (server !== null) {
      await server.gracefulStop();
    }
    this.log('notice', 'exit');
    await this.server?.close();
    process.exit(EXIT_OK);
  }

  private fastExit(): void {
    this.log('notice', 'exiting');
    this.server?.fastStop();
    this.log('notice', 'exit');
    process.exit(EXIT_OK);
  }
}

/** The configuration the master sent (structured-cloned, so Maps survive). */
function configFromMaster(base64: string): NginxConfig {
  const value: unknown = deserialize(Buffer.from(base64, 'base64'));
  if (typeof value !== 'object' || value === null || !Array.isArray(Reflect.get(value, 'servers')) || typeof Reflect.get(value, 'main') !== 'object') {
    throw new TypeError('the master sent no configuration');
  }
  return Object.freeze(value) as NginxConfig;
}

new WorkerProcess().run();

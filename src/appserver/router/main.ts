/**
 * The HTTP router process (uWSGI's "uWSGI http 1"): the master forks it with this module as its
 * entry, sends it the --http sockets it bound, and it accepts HTTP on them and forwards each
 * request to the workers (./client.ts). For a Python app it also serves the uwsgi, SCGI and
 * FastCGI sockets the workers cannot accept on themselves (./relay-app.ts). It loads no application.
 *
 *   init (from the master) -> every socket handle -> listen -> "ready" -> serve
 *   -> "stop" (from the master), SIGTERM or the master gone -> stop accepting -> finish -> exit 0
 *
 * SIGQUIT ends it at once; SIGINT is not handled (its default ends the process), as in a worker.
 * SIGHUP is ignored: the router is not reloaded (it has no code to reload, and keeping it means
 * the client connections survive a reload of the workers).
 */
import type { Server } from 'node:net';
import { Logger, describeError } from '../log.js';
import { closeSharedHandle, listenOnSharedHandle } from '../../process/listen-handle.js';
import { EXIT_END, EXIT_FAILURE, EXIT_OK } from '../../process/exit-codes.js';
import { RouterServer } from './server.js';
import { attachApp, type AttachedApp } from '../serve.js';
import { relayApp } from './relay-app.js';
import { parseMasterToRouter, type RouterInit, type RouterToMaster } from './protocol.js';

class RouterProcess {
  private readonly log = new Logger();
  private init: RouterInit | null = null;
  private readonly handles = new Map<number, unknown>();
  private server: RouterServer | null = null;
  /** The uwsgi, SCGI and FastCGI sockets, served by the appserver's connection code (./relay-app.ts). */
  private relayed: AttachedApp | null = null;
  private stopping = false;

  start(): void {
    process.title = 'tsgi http 1';
    process.on('message', (message: unknown, handle: unknown) => this.onMessage(message, handle));
    process.on('disconnect', () => void this.stop(this.init?.mercyMs ?? 0));
    process.on('SIGTERM', () => void this.stop(this.init?.mercyMs ?? 0));
    process.on('SIGHUP', () => {
      // Not reloaded: see the module comment.
    });
    process.on('SIGQUIT', () => process.exit(EXIT_END));
  }

  private send(message: RouterToMaster): void {
    if (process.send !== undefined && process.connected) process.send(message);
  }

  private onMessage(raw: unknown, handle: unknown): void {
    const message = parseMasterToRouter(raw);
    if (message === null) {
      this.log.error(`http router ${process.pid}: ignoring a message it does not understand: ${JSON.stringify(raw)}`);
      closeSharedHandle(handle);
      return;
    }
    switch (message.type) {
      case 'init':
        if (this.init === null) this.init = message.init;
        break;
      case 'socket':
        if (this.stopping || this.server !== null) closeSharedHandle(handle);
        else this.handles.set(message.index, handle);
        break;
      case 'stop':
        void this.stop(message.graceMs);
        return;
      case 'kept':
        if (this.init !== null) this.init.keptConnections = message.keptConnections;
        this.server?.context.pool?.setLimit(message.keptConnections);
        return;
    }
    const init = this.init;
    if (init !== null && this.server === null && !this.stopping && this.handles.size === init.serverPorts.length) void this.listen(init);
  }

  private async listen(init: RouterInit): Promise<void> {
    const server = new RouterServer({
      upstream: init.upstream,
      log: this.log,
      bufferSize: init.bufferSize,
      timeoutSeconds: init.timeoutSeconds,
      keepAliveSeconds: init.keepAliveSeconds,
      chunkedBodyLimit: init.chunkedBodyLimit,
      keptConnections: init.keptConnections,
    });
    this.server = server;
    const handles = [...this.handles].sort((a, b) => a[0] - b[0]);
    this.handles.clear();
    const listening: Server[] = [];
    const relayTargets: Parameters<typeof attachApp>[1][number][] = [];
    try {
      for (const [index, handle] of handles) {
        const listener = await listenOnSharedHandle(handle, init.backlog);
        listener.on('error', (error) => this.log.error(`http router: listening socket error`, error));
        const protocol = init.protocols?.[index] ?? 'http';
        if (protocol === 'http') server.attach(listener, init.serverPorts[index] ?? '');
        else {
          // SERVER_NAME/SERVER_PORT come from the front server's variables; these are fallbacks.
          const port = Number(init.serverPorts[index]);
          relayTargets.push({ protocol, server: listener, bound: port > 0 ? { host: 'localhost', port } : { path: '' } });
        }
        listening.push(listener);
      }
      if (relayTargets.length > 0) {
        const app = relayApp({ upstream: init.upstream, timeoutSeconds: init.timeoutSeconds, log: this.log });
        this.relayed = attachApp(app, relayTargets, { log: this.log, bufferSize: init.bufferSize, multiprocess: true });
      }
    } catch (error) {
      this.log.line(`tsgi http router (pid: ${process.pid}): cannot listen: ${describeError(error)}`);
      process.exit(EXIT_FAILURE);
    }
    if (this.stopping) {
      for (const listener of listening) listener.close();
      return;
    }
    this.send({ type: 'ready' });
  }

  private async stop(graceMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const handle of this.handles.values()) closeSharedHandle(handle);
    this.handles.clear();
    await Promise.all([this.server?.close(graceMs), this.relayed?.drain(graceMs)]);
    process.exit(EXIT_OK);
  }
}

new RouterProcess().start();

/**
 * Listening sockets that a master binds and holds while its workers accept on them directly, as
 * uWSGI's master does (bind, then fork: every worker inherits the socket and calls accept()).
 *
 * Why not `net.Server.listen()` in the master and `child.send(msg, server)`: a Node process that
 * calls listen() also polls the socket, so the master itself would accept a share of the
 * connections, and a master has no application to answer them with (measured: with
 * `Connection: close` half the requests hung). Node's cluster module has the same problem and
 * solves it with `net._createServerHandle()`: the primary only binds, and each worker calls
 * listen() on its copy of the handle. tsgi does the same, through that one internal function, kept
 * in this file and checked at runtime (`sharedAcceptAvailable()`).
 *
 * Why not cluster itself: its shared handles live only while some worker uses them (a crash loop
 * of the only worker would close the port between respawns), binding happens lazily in the first
 * worker instead of before any worker starts, and its settings are process-global.
 *
 * Why not round-robin through the master (cluster's default, or the master accepting and passing
 * each connection): every connection then crosses the IPC channel. Measured on this machine with
 * wrk against 2 workers of a hello app (requests/s, median of 3 runs of 5 s; "close" sends
 * `Connection: close`, i.e. a connection per request as uwsgi behind nginx does):
 *
 *   design                                  keep-alive (-c32)   close (-c32)   split keep-alive
 *   shared accept, handle from the master        115k              12.9k          45/55 .. 40/60
 *   cluster SCHED_NONE                           105k              12.5k          43/57 .. 49/51
 *   cluster round-robin                          106k               9.7k          50/50 .. 46/54
 *   master accepts, passes each socket           107k               4.0k          50/50
 *
 * Keep-alive traffic does not care (a connection crosses once); connection-per-request traffic
 * pays 1.3x (cluster's round-robin) to 3x (socket objects over IPC). Shared accept splits
 * keep-alive connections a little unevenly (the kernel wakes every worker; whoever accepts first
 * wins), which the worker's concurrency limit (--threads) corrects by leaving the accept queue
 * while full. So every socket type, TCP and UNIX, uses shared accept.
 */
import * as net from 'node:net';
import { lookup } from 'node:dns/promises';
import { chmodSync, rmSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import type { ChildProcess, Serializable } from 'node:child_process';
import { TsgiError } from '../errors.js';
import { parseAddress, type ListenAddress } from '../appserver/address.js';
import { removeStaleSocket, type BoundAddress, type SocketSpec } from '../appserver/sockets.js';

/** The socket could not be bound (the message names the address and the system error). */
export class SocketBindError extends TsgiError {
  readonly errno: number;
  constructor(spec: SocketSpec, errno: number) {
    const name = getSystemErrorName(errno);
    super('ERR_SOCKET_BIND', `bind(${spec.address}) for the ${spec.protocol} socket failed: ${name}${name === 'EADDRINUSE' ? ' (Address already in use)' : ''}`);
    this.errno = errno;
  }
}

/** This Node has no `net._createServerHandle` (cluster's internal), so workers cannot share accept. */
export class SharedAcceptUnavailableError extends TsgiError {
  constructor() {
    super('ERR_SHARED_ACCEPT_UNAVAILABLE', 'this Node.js version has no net._createServerHandle(): the master cannot share listening sockets with its workers');
  }
}

/** Node's internal `createServerHandle(address, port, addressType, fd, flags)`: a bound TCP/Pipe handle or a negative errno. */
function internalCreateServerHandle(): ((...args: unknown[]) => unknown) | null {
  const candidate: unknown = Reflect.get(net, '_createServerHandle');
  return typeof candidate === 'function' ? (...args: unknown[]) => Reflect.apply(candidate, net, args) : null;
}

export function sharedAcceptAvailable(): boolean {
  return internalCreateServerHandle() !== null;
}

/** Calls a method of a libuv handle wrap by name (the wraps are not typed: they are Node internals). */
function callHandle(handle: object, method: string, args: unknown[]): unknown {
  const fn: unknown = Reflect.get(handle, method);
  if (typeof fn !== 'function') throw new TypeError(`socket handle has no ${method}()`);
  return Reflect.apply(fn, handle, args);
}

/** A bound socket held by the master. Its handle is never polled in the master: only workers accept. */
export class SharedSocket {
  private closed = false;

  constructor(
    readonly spec: SocketSpec,
    readonly address: ListenAddress,
    readonly bound: BoundAddress,
    private readonly handle: object,
  ) {}

  /**
   * Sends `message` to `child` with a copy of this socket attached (SCM_RIGHTS over the IPC
   * channel). The child receives the raw handle as the message's second argument and calls
   * `listenOnSharedHandle()`. Node's typings only list Socket and Server objects as sendable, but
   * child_process also sends raw handles ("net.Native"), which is what cluster does; `Reflect.apply`
   * passes it without pretending it is a Server.
   */
  sendTo(child: ChildProcess, message: Serializable): Promise<boolean> {
    if (this.closed || !child.connected) return Promise.resolve(false);
    return new Promise((resolve) => {
      try {
        Reflect.apply(child.send, child, [message, this.handle, undefined, (error: Error | null) => resolve(error === null)]);
      } catch {
        resolve(false);
      }
    });
  }

  /**
   * The file descriptor of the master's copy (to hand to a child that is not a Node process, such
   * as a Python worker, as one of its stdio slots), or null once closed or where libuv has none.
   */
  get fd(): number | null {
    if (this.closed) return null;
    const fd: unknown = Reflect.get(this.handle, 'fd');
    return typeof fd === 'number' && fd >= 0 ? fd : null;
  }

  /** Closes the master's copy. libuv unlinks a UNIX socket file when the process that bound it closes it. */
  close(options: { removeUnixFile: boolean }): void {
    if (this.closed) return;
    this.closed = true;
    callHandle(this.handle, 'close', []);
    if (options.removeUnixFile && this.address.kind === 'unix') rmSync(this.address.path, { force: true });
  }
}

/** Binds `spec` without listening. The first worker's listen() makes it a listening socket for all. */
export async function bindShared(spec: SocketSpec, options: { chmod?: number } = {}): Promise<SharedSocket> {
  const create = internalCreateServerHandle();
  if (create === null) throw new SharedAcceptUnavailableError();
  const address = parseAddress(spec.address);
  let result: unknown;
  if (address.kind === 'unix') {
    await removeStaleSocket(address.path);
    result = create(address.path, -1, -1);
  } else {
    const family = net.isIP(address.host);
    const ip = family !== 0 ? { address: address.host, family } : await lookup(address.host);
    result = create(ip.address, address.port, ip.family);
  }
  if (typeof result === 'number') throw new SocketBindError(spec, result);
  if (typeof result !== 'object' || result === null) throw new TypeError(`net._createServerHandle() returned ${typeof result}`);
  const handle = result;

  let bound: BoundAddress;
  if (address.kind === 'unix') {
    if (options.chmod !== undefined) chmodSync(address.path, options.chmod);
    bound = { path: address.path };
  } else {
    const out: { address?: unknown; port?: unknown } = {};
    const errno = callHandle(handle, 'getsockname', [out]);
    if (typeof errno === 'number' && errno < 0) {
      callHandle(handle, 'close', []);
      throw new SocketBindError(spec, errno);
    }
    bound = { host: String(out.address), port: Number(out.port) };
  }
  return new SharedSocket(spec, address, bound, handle);
}

/** Binds all sockets or none. */
export async function bindSharedSockets(specs: readonly SocketSpec[], options: { chmod?: number } = {}): Promise<SharedSocket[]> {
  const sockets: SharedSocket[] = [];
  try {
    for (const spec of specs) sockets.push(await bindShared(spec, options));
  } catch (error) {
    for (const socket of sockets) socket.close({ removeUnixFile: true });
    throw error;
  }
  return sockets;
}

/** In a worker: starts accepting on a handle received from the master. `backlog` is uWSGI's --listen. */
export function listenOnSharedHandle(handle: unknown, backlog: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = new net.Server({ noDelay: true });
    server.once('error', reject);
    server.listen(handle, backlog, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** In a worker: closes a received handle it will not listen on (it would otherwise keep a file descriptor open). */
export function closeSharedHandle(handle: unknown): void {
  if (typeof handle === 'object' && handle !== null) {
    try {
      callHandle(handle, 'close', []);
    } catch {
      // Not a handle wrap: nothing was held.
    }
  }
}

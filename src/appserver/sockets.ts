/**
 * The sockets of `tsgi serve`: which protocol each speaks, and binding them. The master binds every
 * socket (so a busy port fails before any worker starts) and workers accept on the shared handles.
 */
import { connect, createServer, type Server } from 'node:net';
import { chmodSync, existsSync, rmSync } from 'node:fs';
import { TsgiError } from '../errors.js';
import { parseAddress, type ListenAddress } from './address.js';

export const SOCKET_PROTOCOLS = ['http', 'uwsgi', 'fastcgi', 'scgi'] as const;
export type SocketProtocol = (typeof SOCKET_PROTOCOLS)[number];

export interface SocketSpec {
  protocol: SocketProtocol;
  /** `host:port`, `:port` or a UNIX socket path. */
  address: string;
}

export type BoundAddress = { host: string; port: number } | { path: string };

export interface BoundSocket {
  spec: SocketSpec;
  address: ListenAddress;
  server: Server;
  bound: BoundAddress;
}

export interface BindOptions {
  /** Listen queue length (uWSGI's --listen). */
  backlog?: number;
  /** File mode for UNIX sockets (uWSGI's --chmod-socket). */
  chmod?: number;
}

/** A UNIX socket path that a live server still answers on. */
export class SocketInUseError extends TsgiError {
  constructor(path: string) {
    super('ERR_SOCKET_IN_USE', `bind(): ${path} is in use by a running server (Address already in use)`);
  }
}

/**
 * A socket file left by a server that died cannot be bound again. uWSGI unlinks it before binding;
 * tsgi does the same, but only after checking that nothing answers on it, so a second instance
 * started by mistake fails instead of stealing the first one's socket.
 */
export async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect({ path }, () => {
      probe.destroy();
      resolve(true);
    });
    probe.on('error', () => resolve(false));
  });
  if (alive) throw new SocketInUseError(path);
  rmSync(path, { force: true });
}

export async function bindSocket(spec: SocketSpec, options: BindOptions = {}): Promise<BoundSocket> {
  const address = parseAddress(spec.address);
  if (address.kind === 'unix') await removeStaleSocket(address.path);
  const server = createServer({ noDelay: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const backlog = options.backlog ?? 100;
    if (address.kind === 'unix') server.listen({ path: address.path, backlog }, resolve);
    else server.listen({ host: address.host, port: address.port, backlog }, resolve);
  });
  if (address.kind === 'unix' && options.chmod !== undefined) chmodSync(address.path, options.chmod);
  const info = server.address();
  const bound: BoundAddress =
    typeof info === 'string' || info === null
      ? { path: address.kind === 'unix' ? address.path : String(info) }
      : { host: info.address, port: info.port };
  return { spec, address, server, bound };
}

/** Binds all sockets or none: on a failure the ones already bound are closed again. */
export async function bindSockets(specs: readonly SocketSpec[], options: BindOptions = {}): Promise<BoundSocket[]> {
  const bound: BoundSocket[] = [];
  try {
    for (const spec of specs) bound.push(await bindSocket(spec, options));
  } catch (error) {
    await closeSockets(bound, { removeUnixFiles: true });
    throw error;
  }
  return bound;
}

export async function closeSockets(sockets: readonly BoundSocket[], options: { removeUnixFiles: boolean }): Promise<void> {
  await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.server.close(() => resolve()))));
  if (options.removeUnixFiles) {
    for (const socket of sockets) if (socket.address.kind === 'unix') rmSync(socket.address.path, { force: true });
  }
}

export function formatBound(bound: BoundAddress, protocol: SocketProtocol): string {
  if ('path' in bound) return `${protocol === 'http' ? 'http+unix' : protocol}:${bound.path}`;
  const host = bound.host.includes(':') ? `[${bound.host}]` : bound.host;
  return protocol === 'http' ? `http://${host}:${bound.port}/` : `${protocol}://${host}:${bound.port}`;
}

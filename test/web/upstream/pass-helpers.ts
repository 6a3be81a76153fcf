/**
 * What the *_pass tests share: an app server in this process (src/appserver's serve(), the code
 * `tsgi serve --socket` runs) that answers with the environ it got, and a raw HTTP client.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { serve, type ServerHandle, type SocketSpec } from '../../../src/appserver/serve.js';
import type { App, Environ } from '../../../src/gateway/types.js';

/** Environ keys the echo app reports. */
const KEYS = [
  'REQUEST_METHOD', 'REQUEST_URI', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'CONTENT_TYPE', 'CONTENT_LENGTH',
  'SERVER_PROTOCOL', 'SERVER_NAME', 'SERVER_PORT', 'REMOTE_ADDR', 'HTTP_HOST', 'HTTP_X_OVER', 'HTTP_X_TWICE',
  'X_A', 'X_B', 'X_EMPTY', 'X_KEPT', 'DOCUMENT_ROOT', 'HTTP_USER_AGENT',
] as const;

export interface EchoApp {
  readonly app: App;
  /** Requests the app has been called for; POSTs called for, and POSTs whose body it has read. */
  readonly seen: { count: number; postsStarted: number; posts: number };
}

/** An app that answers JSON: the environ keys above, the body's length and sha256, its `name`.
 *  a path ending in `/status/NNN` answers that status; `/slow?ms=N` waits first. */
export function echoApp(name: string): EchoApp {
  const seen = { count: 0, postsStarted: 0, posts: 0 };
  const app: App = async (environ: Environ, startResponse) => {
    seen.count++;
    if (environ.REQUEST_METHOD === 'POST') seen.postsStarted++;
    const hash = createHash('sha256');
    let length = 0;
    for await (const part of environ['tsgi.input']) {
      hash.update(part);
      length += part.length;
    }
    if (environ.REQUEST_METHOD === 'POST') seen.posts++;
    const path = String(environ.PATH_INFO ?? '');
    const query = new URLSearchParams(String(environ.QUERY_STRING ?? ''));
    const wait = Number(query.get('ms') ?? 0);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const status = /\/status\/(\d{3})$/.exec(path)?.[1] ?? '200';
    const doc: Record<string, unknown> = { name, body_length: length, body_sha256: hash.digest('hex'), posts: seen.posts, posts_started: seen.postsStarted };
    for (const key of KEYS) if (key in environ) doc[key] = environ[key];
    const text = JSON.stringify(doc);
    startResponse(`${status} X`, [['Content-Type', 'application/json'], ['Content-Length', String(Buffer.byteLength(text))], ['X-App', name]]);
    return [text];
  };
  return { app, seen };
}

export async function startApp(app: App, sockets: SocketSpec[]): Promise<ServerHandle> {
  return serve(app, { sockets, log: false });
}

/** The port of a served TCP socket. */
export function portOf(handle: ServerHandle, index = 0): number {
  const address = handle.addresses[index]!;
  if (!('port' in address)) throw new Error('not a TCP socket');
  return address.port;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

/** One HTTP request to 127.0.0.1:port (a new connection each, so keep-alive plays no part). */
export function get(port: number, path: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(parts);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString()) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A TCP server that accepts and then does `behave` with each socket (hang, close...). */
export async function rawPeer(behave: (socket: Socket) => void): Promise<{ port: number; server: Server; connections: () => number; close(): Promise<void> }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    behave(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    server,
    connections: () => count,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** tsgi's shipped conf/ (uwsgi_params...), for configs that name it by absolute path. */
export const CONF_DIR = new URL('../../../conf/', import.meta.url).pathname;

/**
 * The stats server of `tsgi serve --stats ADDR` (uWSGI's `uwsgi_send_stats`): a socket in the
 * master, on TCP `host:port` or a UNIX path, that writes the stats document to every connection and
 * closes it. Nothing is read first, which is what uwsgitop, `nc` and `socat` expect. With
 * `--stats-http` the document follows uWSGI's HTTP header block, so curl, browsers and telegraf's
 * `http://` URLs read it too. The document is pretty-printed with tabs as uWSGI's is, or on one line
 * with `--stats-minified`.
 *
 * It runs in the master, not in a worker: the master sees every worker, and the document is built
 * from counters the workers already report every second, so a stats request costs no worker any
 * work.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TsgiError } from '../../errors.js';
import { formatAddress, parseAddress, type ListenAddress } from '../address.js';
import type { MasterHandle } from '../master.js';
import { buildStatsDocument, type StatsDocument } from './document.js';
import { readListenQueues } from './listen-queue.js';

/** uWSGI's --stats-http header block (uwsgi_send_http_stats), byte for byte. */
const HTTP_HEAD = 'HTTP/1.0 200 OK\r\nConnection: close\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: application/json\r\n\r\n';
/** A client that neither reads nor closes is cut after this long. */
const CLIENT_TIMEOUT_MS = 5000;

export class StatsServerError extends TsgiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STATS_SERVER', message, options);
  }
}

export interface StatsServerOptions {
  /** `host:port`, `:port` or a UNIX socket path (uWSGI's --stats). */
  address: string;
  /** Send the document as an HTTP response (--stats-http). */
  http?: boolean;
  /** One line instead of uWSGI's tab-indented layout (--stats-minified). */
  minified?: boolean;
  /** Produces the document at the moment of each connection. */
  document: () => StatsDocument;
}

export interface StatsServerHandle {
  /** Where it listens, in uWSGI's notation (a port 0 shows the port chosen). */
  readonly address: string;
  close(): Promise<void>;
}

/** tsgi's version, uWSGI-style (`0.1.0-tsgi`), from the package.json found above this file. */
export function statsVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      try {
        const manifest = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: unknown; version?: unknown };
        if (manifest.name === 'tsgi' && typeof manifest.version === 'string') return `${manifest.version}-tsgi`;
      } catch {
        // Not tsgi's manifest: keep looking above.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown-tsgi';
    dir = parent;
  }
}

/** The document of a running master, with what the master process knows about itself. */
export function masterStatsDocument(master: MasterHandle, options: { chdir?: string; version?: string } = {}): StatsDocument {
  return buildStatsDocument(master.snapshot(), {
    version: options.version ?? statsVersion(),
    cwd: process.cwd(),
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    queues: readListenQueues(),
    chdir: options.chdir,
  });
}

function serve(socket: Socket, options: StatsServerOptions): void {
  socket.on('error', () => {
    // A client that went away: nothing to tell anyone.
  });
  socket.setTimeout(CLIENT_TIMEOUT_MS, () => socket.destroy());
  let body: string;
  try {
    const document = options.document();
    body = options.minified ? JSON.stringify(document) : JSON.stringify(document, null, '\t');
  } catch {
    // As uWSGI: a document that cannot be produced closes the connection without a word.
    socket.destroy();
    return;
  }
  // What the client sends (an HTTP request head) is read and dropped: closing a socket with
  // unread data would make the kernel answer with a reset that can cut the response short.
  socket.resume();
  socket.end(options.http ? HTTP_HEAD + body : body);
}

/** Starts the stats server; rejects when the address cannot be bound. */
export async function startStatsServer(options: StatsServerOptions): Promise<StatsServerHandle> {
  const address: ListenAddress = parseAddress(options.address);
  const server: Server = createServer((socket) => serve(socket, options));
  if (address.kind === 'unix' && existsSync(address.path) && statSync(address.path).isSocket()) {
    // A stale socket file left by a killed master (uWSGI unlinks it too before binding).
    rmSync(address.path, { force: true });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new StatsServerError(`cannot start the stats server on ${options.address}: ${error.message}`, { cause: error })));
    if (address.kind === 'unix') server.listen(address.path, resolve);
    else server.listen(address.port, address.host, resolve);
  });
  server.on('error', () => {
    // Errors after listen (EMFILE on accept) leave the server listening; the next client retries.
  });
  const bound = server.address();
  const shown =
    address.kind === 'unix' || bound === null || typeof bound === 'string'
      ? options.address
      : formatAddress({ kind: 'tcp', host: address.host, port: bound.port });
  return {
    address: shown,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}

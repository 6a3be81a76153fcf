/**
 * Idle keep-alive connections, held from the harness: each one connects, asks for one small file,
 * reads the whole response and then stays open, as a browser's connection between two pages.
 * Ended with a reset (SO_LINGER 0) so that thousands of closes leave no TIME_WAIT entries that
 * would use up the loopback's ephemeral ports over several rounds.
 */
import { connect, type Socket } from 'node:net';
import { LOOPBACK } from './ports.js';

/** Connections being opened at once: below the listen backlog of both servers (511). */
const OPENING_AT_ONCE = 200;
/** A connection that takes longer than this to open and get its answer counts as failed. */
const CONNECTION_TIMEOUT_MS = 10_000;

export interface IdleHold {
  /** Connections that got their response and are held open. */
  readonly held: number;
  /** Why connections failed (deduplicated, with counts): an empty list when all were held. */
  readonly errors: string[];
  /** Resets every held connection. */
  close(): void;
}

export async function holdIdleConnections(port: number, path: string, count: number, signal: AbortSignal): Promise<IdleHold> {
  const sockets: Socket[] = [];
  const errors = new Map<string, number>();
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${LOOPBACK}\r\n\r\n`, 'latin1');
  let next = 0;
  const opener = async (): Promise<void> => {
    while (next < count && !signal.aborted) {
      next++;
      try {
        sockets.push(await openOne(port, request));
      } catch (error) {
        const text = error instanceof Error ? error.message : String(error);
        errors.set(text, (errors.get(text) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: OPENING_AT_ONCE }, opener));
  return {
    held: sockets.filter((s) => !s.destroyed).length,
    errors: [...errors].map(([text, n]) => `${n} × ${text}`),
    close() {
      for (const socket of sockets) socket.resetAndDestroy();
    },
  };
}

/** Resolves with the socket once a whole response (Content-Length framed) came back on it. */
function openOne(port: number, request: Buffer): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: LOOPBACK });
    let received = Buffer.alloc(0);
    const fail = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(CONNECTION_TIMEOUT_MS, () => fail(new Error('timed out')));
    socket.once('error', fail);
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = received.subarray(0, end).toString('latin1');
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!/^HTTP\/1\.1 200 /.test(head) || length === null) return fail(new Error(`unexpected response: ${head.split('\r\n')[0]}`));
      if (received.length < end + 4 + Number(length[1])) return;
      socket.setTimeout(0);
      socket.removeAllListeners('data');
      // From here on the server may only close it when the hold is over.
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.once('close', () => reject(new Error('closed by the server before its response')));
  });
}

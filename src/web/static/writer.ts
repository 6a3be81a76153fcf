/**
 * Writing a static body to a socket: buffers as they are, files in 1 MiB reads with the socket's
 * backpressure honoured (the next read starts while the kernel sends the last chunk; a full
 * socket buffer pauses the reads until 'drain').
 *
 * The response head, when given, goes out in the same write as the start of the body (corked),
 * so a small cached file is one write system call.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { read } from 'node:fs';
import type { Writable } from 'node:stream';
import { TsgiError } from '../../errors.js';
import { fsPath } from './file-cache.js';
import type { FileSlice, StaticBody } from './types.js';

/** Bytes read from a file per write: large enough that per-chunk costs vanish. */
export const FILE_CHUNK_SIZE = 1024 * 1024;

/** The file ended before the range did (it shrank after its size was sent), or the socket went away. */
export class StaticWriteError extends TsgiError {
  constructor(code: 'ERR_STATIC_FILE_SHRANK' | 'ERR_STATIC_SOCKET_CLOSED', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export interface WriteOptions {
  /** Bytes to send before the body (status line and headers). */
  readonly head?: Buffer;
  /** Read size for files (default FILE_CHUNK_SIZE). */
  readonly chunkSize?: number;
}

/**
 * Sends `body` (after `options.head`) on `socket`. Resolves when everything is handed to the
 * socket; rejects with StaticWriteError if the socket closes first or a file comes up short (the
 * socket is then destroyed: its Content-Length can no longer be honoured).
 */
export async function writeStaticBody(socket: Writable, body: StaticBody, options: WriteOptions = {}): Promise<void> {
  const head = options.head;
  switch (body.kind) {
    case 'none':
      if (head !== undefined) socket.write(head);
      return;
    case 'buffer':
      writeCorked(socket, head, body.data);
      return;
    case 'file':
      await writeFile(socket, body, head, options.chunkSize ?? FILE_CHUNK_SIZE);
      return;
    case 'multipart': {
      let pending = head;
      for (const part of body.parts) {
        if (Buffer.isBuffer(part)) {
          // Boundary lines and cached slices are small: gather them with the next file's first chunk.
          pending = pending === undefined ? part : Buffer.concat([pending, part]);
        } else {
          await writeFile(socket, part, pending, options.chunkSize ?? FILE_CHUNK_SIZE);
          pending = undefined;
        }
      }
      if (pending !== undefined) socket.write(pending);
      return;
    }
  }
}

function writeCorked(socket: Writable, head: Buffer | undefined, data: Buffer): void {
  if (head === undefined) {
    socket.write(data);
    return;
  }
  socket.cork();
  socket.write(head);
  socket.write(data);
  socket.uncork();
}

async function writeFile(socket: Writable, slice: FileSlice, head: Buffer | undefined, chunkSize: number): Promise<void> {
  let handle: FileHandle | null = null;
  let fd = slice.fd;
  if (fd === undefined) {
    handle = await open(fsPath(slice.path), 'r');
    fd = handle.fd;
  }
  try {
    let position = slice.start;
    let pendingHead = head;
    while (position < slice.end) {
      if (socket.destroyed || socket.writableEnded) {
        throw new StaticWriteError('ERR_STATIC_SOCKET_CLOSED', `the connection closed while "${slice.path}" was being sent`);
      }
      const size = Math.min(chunkSize, slice.end - position);
      // A fresh buffer per chunk: the socket keeps the previous one until the kernel took it.
      const chunk = Buffer.allocUnsafe(size);
      const bytesRead = await readAt(fd, chunk, position);
      if (bytesRead === 0) {
        socket.destroy();
        throw new StaticWriteError('ERR_STATIC_FILE_SHRANK', `"${slice.path}" ended at byte ${position}, before ${slice.end}`);
      }
      position += bytesRead;
      const data = bytesRead === size ? chunk : chunk.subarray(0, bytesRead);
      let flushed: boolean;
      if (pendingHead !== undefined) {
        socket.cork();
        socket.write(pendingHead);
        flushed = socket.write(data);
        socket.uncork();
        pendingHead = undefined;
      } else {
        flushed = socket.write(data);
      }
      if (!flushed && position < slice.end) await drained(socket);
    }
    if (pendingHead !== undefined) socket.write(pendingHead);
  } finally {
    await handle?.close();
  }
}

function readAt(fd: number, buffer: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buffer, 0, buffer.length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead)));
  });
}

function drained(socket: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    // A socket that is already gone will emit neither 'drain' nor 'close' again.
    if (socket.destroyed) {
      reject(new StaticWriteError('ERR_STATIC_SOCKET_CLOSED', 'the connection closed while a file was being sent'));
      return;
    }
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', closed);
      socket.off('error', closed);
      resolve();
    };
    const closed = (): void => {
      socket.off('drain', done);
      socket.off('close', closed);
      socket.off('error', closed);
      reject(new StaticWriteError('ERR_STATIC_SOCKET_CLOSED', 'the connection closed while a file was being sent'));
    };
    socket.on('drain', done);
    socket.on('close', closed);
    socket.on('error', closed);
  });
}

/**
 * `*_buffering on`: the upstream body is read as fast as the peer sends it, whatever the
 * client's pace, so the application server is free once it has answered (nginx's
 * ngx_event_pipe). What the client has not taken yet waits in memory up to `memoryLimit`, then in
 * a temp file under `*_temp_path` up to `*_max_temp_file_size` (nginx: 1 GiB; 0: no file); past
 * both, reading stops until the client catches up (backpressure holds the peer).
 *
 * The queue is a list of pieces in arrival order, each in memory or a range of the one temp
 * file; the file is removed when the body is done, failed or abandoned.
 */
import type { FileHandle } from 'node:fs/promises';
import { createTempFile, removeTempFile } from '../server/body-temp-file.js';

export interface BufferLimits {
  readonly memoryLimit: number;
  /** Bytes the temp file may hold; 0: no file. */
  readonly fileLimit: number;
  readonly tempPath: { readonly path: string; readonly levels: readonly number[] };
}

/** Where the body's end is reported: bytes received, or the error that cut it short. */
export type BodyEnd = (bytes: number, error: unknown) => void;

type Piece = { readonly data: Buffer } | { readonly offset: number; readonly length: number };

/** File reads hand the writer pieces of at most this size. */
const FILE_READ = 64 * 1024;

export function bufferedBody(body: AsyncIterable<Buffer> & { cancel(): void }, limits: BufferLimits, onEnd: BodyEnd, cut: () => void): AsyncIterable<Buffer> {
  const pieces: Piece[] = [];
  let inMemory = 0;
  let inFile = 0;
  let file: { path: string; handle: FileHandle; size: number } | null = null;
  let bytes = 0;
  let done = false;
  let failure: unknown = null;
  let wakeReader: (() => void) | null = null;
  let wakePump: (() => void) | null = null;

  const wake = (which: 'reader' | 'pump'): void => {
    const fn = which === 'reader' ? wakeReader : wakePump;
    if (which === 'reader') wakeReader = null;
    else wakePump = null;
    fn?.();
  };
  const full = (): boolean => inMemory >= limits.memoryLimit && (limits.fileLimit === 0 || inFile >= limits.fileLimit);
  const release = (): void => {
    if (file === null) return;
    const { handle, path } = file;
    file = null;
    void handle.close().catch(() => undefined).then(() => removeTempFile(path));
  };

  const keep = async (chunk: Buffer): Promise<void> => {
    if (inMemory < limits.memoryLimit || limits.fileLimit === 0) {
      pieces.push({ data: chunk });
      inMemory += chunk.length;
      return;
    }
    file ??= { ...(await createTempFile(limits.tempPath.path, limits.tempPath.levels)), size: 0 };
    const offset = file.size;
    await file.handle.write(chunk, 0, chunk.length, offset);
    file.size += chunk.length;
    inFile += chunk.length;
    pieces.push({ offset, length: chunk.length });
  };

  void (async () => {
    try {
      for await (const chunk of body) {
        bytes += chunk.length;
        await keep(chunk);
        wake('reader');
        while (full() && !done) await new Promise<void>((resolve) => (wakePump = resolve));
        if (done) break;
      }
      cut();
    } catch (error) {
      failure = error;
      // A temp file that cannot be written: the peer is not left holding an unread response.
      body.cancel();
    }
    if (!done) onEnd(bytes, failure);
    done = true;
    wake('reader');
  })();

  const take = async (): Promise<Buffer | null> => {
    const piece = pieces[0];
    if (piece === undefined) return null;
    if ('data' in piece) {
      pieces.shift();
      inMemory -= piece.data.length;
      return piece.data;
    }
    const length = Math.min(piece.length, FILE_READ);
    const out = Buffer.allocUnsafe(length);
    const { bytesRead } = await file!.handle.read(out, 0, length, piece.offset);
    if (bytesRead !== length) throw new Error(`short read from the response's temp file ${file!.path}`);
    if (length === piece.length) pieces.shift();
    else pieces[0] = { offset: piece.offset + length, length: piece.length - length };
    inFile -= length;
    return out;
  };

  return {
    [Symbol.asyncIterator]: () => ({
      async next(): Promise<IteratorResult<Buffer>> {
        for (;;) {
          const chunk = await take();
          if (chunk !== null) {
            if (!full()) wake('pump');
            return { done: false, value: chunk };
          }
          if (done) {
            release();
            if (failure !== null) throw failure;
            return { done: true, value: undefined };
          }
          await new Promise<void>((resolve) => (wakeReader = resolve));
        }
      },
      async return(): Promise<IteratorResult<Buffer>> {
        if (!done) {
          done = true;
          onEnd(bytes, new Error('the client went away'));
          body.cancel();
          wake('pump');
        }
        pieces.length = 0;
        release();
        return { done: true, value: undefined };
      },
    }),
  };
}

/**
 * The request body between the connection (which parses it) and a content handler (which reads
 * it), nginx's ngx_http_read_client_request_body / ngx_http_discard_request_body:
 *
 *   - nothing reads it (static files, return): it is discarded as it arrives, so the connection
 *     can carry the next request;
 *   - `read()`: the whole body, gathered in memory, or with `storage` in a temp file once it
 *     passes client_body_buffer_size (nginx's ngx_http_write_request_body): the handler gets it
 *     only when complete, so a slow client never holds an upstream;
 *   - `stream()`: chunk by chunk, with backpressure (the connection stops reading the socket
 *     while the handler lags).
 *
 * Limits are the connection's: client_max_body_size for a chunked body (413 as soon as it passes
 * the limit), client_body_timeout between two reads (408). A failure ends `read()` / `stream()`
 * with a RequestBodyError carrying the status.
 */
import { RequestBodyError, type BodyStorage, type ReadBody, type RequestBodyReader } from '../request-context.js';
import { createTempFile, removeTempFile } from './body-temp-file.js';

/** Buffered body bytes above which the connection stops reading the socket. */
export const BODY_HIGH_WATER = 64 * 1024;

export interface BodyFlow {
  /** The consumer fell behind: stop reading the socket. */
  pause(): void;
  /** The consumer caught up: read again. */
  resume(): void;
  /** Someone is reading the body: answer `Expect: 100-continue` now. */
  wanted(): void;
}

const enum Mode {
  /** No one asked yet: chunks wait (up to the high-water mark). */
  Waiting,
  Reading,
  Streaming,
  Discarding,
}

export class BodyChannel implements RequestBodyReader {
  readonly present: boolean;
  private mode = Mode.Waiting;
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private received = 0;
  private ended: boolean;
  private failure: RequestBodyError | null = null;
  private wake: (() => void) | null = null;
  private onComplete: (() => void) | null = null;

  constructor(
    readonly contentLength: number,
    readonly chunked: boolean,
    private readonly flow: BodyFlow,
  ) {
    this.present = chunked || contentLength > 0;
    this.ended = !this.present;
  }

  /** Body bytes received so far. */
  get bytesReceived(): number {
    return this.received;
  }

  get complete(): boolean {
    return this.ended;
  }

  /** From the parser. */
  push(chunk: Buffer): void {
    this.received += chunk.length;
    if (this.mode === Mode.Discarding) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered >= BODY_HIGH_WATER) this.flow.pause();
    this.notify();
  }

  /** From the parser: the body is complete. */
  end(): void {
    this.ended = true;
    this.notify();
    const done = this.onComplete;
    this.onComplete = null;
    done?.();
  }

  /** Calls `done` once the whole body has arrived (at once if it has). */
  whenComplete(done: () => void): void {
    if (this.ended) done();
    else this.onComplete = done;
  }

  /** From the connection: a limit or timeout ended the body. */
  fail(error: RequestBodyError): void {
    this.failure = error;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private take(): Buffer[] {
    const chunks = this.chunks.splice(0);
    this.buffered = 0;
    this.flow.resume();
    return chunks;
  }

  async read(storage?: BodyStorage): Promise<ReadBody> {
    if (!this.present) return { kind: 'none' };
    this.claim(Mode.Reading);
    const parts: Buffer[] = [];
    let size = 0;
    // nginx writes to the file from the start when the announced length already exceeds the buffer.
    const spill = (): boolean =>
      storage !== undefined && (storage.inFileOnly !== 'off' || size > storage.bufferSize || this.contentLength > storage.bufferSize);
    for (;;) {
      if (this.failure !== null) throw this.failure;
      for (const chunk of this.take()) {
        parts.push(chunk);
        size += chunk.length;
      }
      if (spill()) return this.readToFile(storage!, parts, size);
      if (this.ended) break;
      await this.arrival();
    }
    return { kind: 'buffer', data: parts.length === 1 ? parts[0]! : Buffer.concat(parts) };
  }

  /** The rest of `read()` once the body goes to a file: what was gathered, then each chunk. */
  private async readToFile(storage: BodyStorage, gathered: Buffer[], size: number): Promise<ReadBody> {
    const file = await createTempFile(storage.tempPath.path, storage.tempPath.levels).catch((error: unknown) => {
      throw new RequestBodyError(500, `cannot create a temp file for the request body under ${storage.tempPath.path}: ${String(error)}`);
    });
    // Registered at once: a client that goes away mid-body still leaves no file behind.
    if (storage.inFileOnly !== 'on') storage.onDone(() => removeTempFile(file.path));
    try {
      if (gathered.length > 0) await file.handle.writev(gathered);
      for (;;) {
        if (this.failure !== null) throw this.failure;
        const chunks = this.take();
        for (const chunk of chunks) size += chunk.length;
        if (chunks.length > 0) await file.handle.writev(chunks);
        if (this.ended && this.chunks.length === 0) break;
        if (chunks.length === 0) await this.arrival();
      }
    } finally {
      await file.handle.close();
    }
    return { kind: 'file', path: file.path, size };
  }

  private arrival(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  async *stream(): AsyncIterable<Buffer> {
    if (!this.present) return;
    this.claim(Mode.Streaming);
    for (;;) {
      if (this.failure !== null) throw this.failure;
      const chunks = this.take();
      for (const chunk of chunks) yield chunk;
      if (this.ended && this.chunks.length === 0) return;
      if (chunks.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async discard(): Promise<void> {
    this.startDiscarding();
  }

  /** Drops what is buffered and what follows (the request is over, or the handler said so). */
  startDiscarding(): void {
    if (this.mode === Mode.Discarding) return;
    this.mode = Mode.Discarding;
    this.take();
  }

  private claim(mode: Mode.Reading | Mode.Streaming): void {
    if (this.mode !== Mode.Waiting) throw new RequestBodyError(500, 'the request body was already read or discarded');
    this.mode = mode;
    this.flow.wanted();
  }
}

/**
 * The body of an upstream response as an async iterable, filled by the protocol client as bytes
 * arrive and drained by the caller. Backpressure: once `highWaterMark` bytes wait unread, the
 * source is paused (the socket stops being read, so the peer's writes block in its kernel
 * buffer); it is resumed when the reader has taken them. An error ends iteration by throwing,
 * after the chunks received before it: a truncated body never ends like a whole one.
 *
 * States: open --end()--> ended;  open --fail(e)--> failed;  open --cancel()--> cancelled.
 * `break` out of `for await` cancels (the iterator's `return()`), which closes the connection
 * unless the response had already ended.
 */
import type { UpstreamError } from './errors.js';

/** What the body asks of the client that fills it. */
export interface BodySource {
  pause(): void;
  resume(): void;
  /** The reader gave up: stop, close the connection, and `fail` the body with ERR_UPSTREAM_ABORTED. */
  cancel(): void;
}

type BodyState = 'open' | 'ended' | 'failed' | 'cancelled';

/** Default bytes queued before the source is paused: one socket read's worth. */
export const DEFAULT_BODY_HIGH_WATER_MARK = 64 * 1024;

interface Waiter {
  resolve: (result: IteratorResult<Buffer>) => void;
  reject: (error: Error) => void;
}

const DONE: IteratorResult<Buffer> = { done: true, value: undefined };

export class ResponseBody implements AsyncIterable<Buffer>, AsyncIterator<Buffer> {
  private readonly source: BodySource;
  private readonly highWaterMark: number;
  private state: BodyState = 'open';
  private error: UpstreamError | null = null;
  private readonly queue: Buffer[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private readonly waiters: Waiter[] = [];
  private paused = false;

  constructor(source: BodySource, highWaterMark = DEFAULT_BODY_HIGH_WATER_MARK) {
    this.source = source;
    this.highWaterMark = highWaterMark;
  }

  /** Client side: a chunk of the body (kept, not copied: the socket never reuses its buffers). */
  push(chunk: Buffer): void {
    if (this.state !== 'open' || chunk.length === 0) return;
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve({ done: false, value: chunk });
      return;
    }
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    if (!this.paused && this.queuedBytes >= this.highWaterMark) {
      this.paused = true;
      this.source.pause();
    }
  }

  /** Client side: the response is complete. */
  end(): void {
    if (this.state !== 'open') return;
    this.state = 'ended';
    this.flushWaiters();
  }

  /** Client side: the response broke; the reader gets the queued chunks, then `error`. */
  fail(error: UpstreamError): void {
    // After cancel() the source fails the body with the reason (ERR_UPSTREAM_ABORTED).
    if (this.error !== null || this.state === 'ended') return;
    if (this.state === 'open') this.state = 'failed';
    this.error = error;
    this.flushWaiters();
  }

  /** Reader side: stop the response; unread chunks are dropped. No-op once it ended. */
  cancel(): void {
    if (this.state !== 'open') return;
    this.state = 'cancelled';
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.source.cancel();
    this.flushWaiters();
  }

  /**
   * The whole body, when it has ended and nothing was read yet (a small answer that came in the
   * same read as its head), else null: the caller then writes it as one Buffer instead of
   * iterating, which spares a proxy a promise and an async generator step per chunk.
   */
  takeWhole(): Buffer | null {
    if (this.state !== 'ended' || this.queueHead !== 0 || this.queue.length === 0) return null;
    const whole = this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue);
    this.queue.length = 0;
    this.queuedBytes = 0;
    return whole;
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this;
  }

  next(): Promise<IteratorResult<Buffer>> {
    if (this.queueHead < this.queue.length) return Promise.resolve({ done: false, value: this.take() });
    switch (this.state) {
      case 'ended':
        return Promise.resolve(DONE);
      case 'failed':
      case 'cancelled':
        return this.error === null ? Promise.resolve(DONE) : Promise.reject(this.error);
      default:
        break;
    }
    if (this.paused) this.resumeSource();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** `break` in `for await`: the reader is done with the body. */
  return(): Promise<IteratorResult<Buffer>> {
    this.cancel();
    return Promise.resolve(DONE);
  }

  private take(): Buffer {
    const chunk = this.queue[this.queueHead];
    this.queue[this.queueHead++] = EMPTY;
    this.queuedBytes -= chunk.length;
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    }
    if (this.paused && this.queuedBytes < this.highWaterMark) this.resumeSource();
    return chunk;
  }

  private resumeSource(): void {
    this.paused = false;
    if (this.state === 'open') this.source.resume();
  }

  private flushWaiters(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters.splice(0);
    for (const waiter of waiters) {
      if (this.state === 'ended' || this.error === null) waiter.resolve(DONE);
      else waiter.reject(this.error);
    }
  }
}

const EMPTY = Buffer.alloc(0);

import type { InputStream } from './types.js';

const LF = 0x0a;
const EMPTY = new Uint8Array(0);

/** What a server does when the reader wants more body bytes than are buffered. */
export interface InputDemand {
  /** The reader is waiting (first call: send `100 Continue`, resume a paused socket). */
  wanted(): void;
}

/**
 * `tsgi.input` fed by a server: the transport pushes chunks, the application pulls them.
 * The server pauses its socket when `buffered` passes its high-water mark and resumes it on
 * `wanted()`, so a body is never held whole unless the application asks for all of it.
 */
export class BodyInput implements InputStream {
  private chunks: Uint8Array[] = [];
  private head = 0; // offset into chunks[0]
  private bufferedBytes = 0;
  private ended = false;
  private failure: Error | null = null;
  private waiter: (() => void) | null = null;
  /** True once the application asked for body bytes (the `100 Continue` trigger). */
  touched = false;

  constructor(private readonly demand: InputDemand | null = null) {}

  /** A body with no bytes (GET): reads resolve at once, no transport involved. */
  static empty(): BodyInput {
    const input = new BodyInput();
    input.ended = true;
    return input;
  }

  get buffered(): number {
    return this.bufferedBytes;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  push(chunk: Uint8Array): void {
    if (this.ended || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  /** The transport failed (client went away, body timeout): pending and later reads reject. */
  fail(error: Error): void {
    if (this.ended) return;
    this.failure = error;
    this.ended = true;
    this.wake();
  }

  async read(size?: number): Promise<Uint8Array> {
    if (size === undefined || size < 0) {
      while (!this.ended) await this.more();
      this.throwIfFailed();
      return this.take(this.bufferedBytes);
    }
    if (size === 0) return EMPTY;
    // Like a Python buffered file (and so what WSGI apps expect): short only at the end of the body.
    while (this.bufferedBytes < size && !this.ended) await this.more();
    this.throwIfFailed();
    return this.take(Math.min(size, this.bufferedBytes));
  }

  async readline(size?: number): Promise<Uint8Array> {
    const limit = size === undefined || size < 0 ? Infinity : size;
    if (limit === 0) return EMPTY;
    for (;;) {
      const lf = this.indexOfLf();
      if (lf >= 0) return this.take(Math.min(lf + 1, limit));
      if (this.bufferedBytes >= limit) return this.take(limit);
      if (this.ended) {
        this.throwIfFailed();
        return this.take(this.bufferedBytes);
      }
      await this.more();
    }
  }

  async readlines(hint?: number): Promise<Uint8Array[]> {
    const lines: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const line = await this.readline();
      if (line.length === 0) return lines;
      lines.push(line);
      total += line.length;
      if (hint !== undefined && hint > 0 && total >= hint) return lines;
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      while (this.bufferedBytes === 0 && !this.ended) await this.more();
      this.throwIfFailed();
      if (this.bufferedBytes === 0) return;
      yield this.take(this.bufferedBytes);
    }
  }

  private more(): Promise<void> {
    this.touched = true;
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.demand?.wanted();
    });
  }

  private wake(): void {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = null;
      waiter();
    }
  }

  private throwIfFailed(): void {
    if (this.failure && this.bufferedBytes === 0) throw this.failure;
  }

  private indexOfLf(): number {
    let seen = 0;
    for (let i = 0; i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!;
      const from = i === 0 ? this.head : 0;
      const at = chunk.indexOf(LF, from);
      if (at >= 0) return seen + at - from;
      seen += chunk.length - from;
    }
    return -1;
  }

  /** Removes `n` buffered bytes; copies only when they span several chunks. */
  private take(n: number): Uint8Array {
    this.touched = true;
    if (n === 0) return EMPTY;
    const first = this.chunks[0]!;
    const available = first.length - this.head;
    let out: Uint8Array;
    if (n <= available) {
      out = first.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
    } else {
      out = new Uint8Array(n);
      let filled = 0;
      while (filled < n) {
        const chunk = this.chunks[0]!;
        const part = Math.min(chunk.length - this.head, n - filled);
        out.set(chunk.subarray(this.head, this.head + part), filled);
        filled += part;
        this.head += part;
        if (this.head === chunk.length) {
          this.chunks.shift();
          this.head = 0;
        }
      }
    }
    this.bufferedBytes -= n;
    if (this.bufferedBytes === 0 && !this.ended) this.demand?.wanted();
    return out;
  }
}

/**
 * The server half of the TSGI contract, written once for every transport (the role of
 * `wsgiref.handlers.BaseHandler`): call the application, implement `startResponse` and `write`,
 * iterate the body, send no headers before the first non-empty chunk, call `close()` whatever
 * happens, and turn failures into a 500 (or an aborted connection once headers are out).
 *
 * Transports (HTTP, uwsgi, FastCGI, SCGI) implement `ResponseSink` and own the framing.
 * The common case (a sync app returning an array, a transport that never pushes back) runs to
 * the end without a single promise: that is where a hello-world's time goes.
 */
import type { App, Body, Chunk, Environ, HeaderList, StartResponse, Write } from './types.js';

export interface ResponseSink {
  /** Status line and headers; called exactly once, before the first `write` or `end`. */
  sendHead(status: number, reason: string, headers: HeaderList): void;
  /** A non-empty body chunk. Returns false when the transport is above its high-water mark. */
  write(chunk: Uint8Array): boolean;
  /** Resolves when the transport drained or went away. */
  drain(): Promise<void>;
  /** The response is complete. */
  end(): void;
  /** The response cannot be completed (error after headers were sent): cut the connection. */
  abort(): void;
  /** The client went away: stop producing. */
  readonly aborted: boolean;
}

/** Where the handler reports application failures. */
export interface HandlerLog {
  appError(environ: Environ, message: string, error: unknown): void;
}

const RESOLVED: Promise<void> = Promise.resolve();
const INTERNAL_ERROR_BODY = Buffer.from(
  '<html><head><title>500 Internal Server Error</title></head>\n' +
    '<body><h1>500 Internal Server Error</h1></body></html>\n',
);

export class StartResponseError extends Error {}

function toBytes(chunk: Chunk): Uint8Array {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return chunk;
  throw new TypeError(`body chunks must be Uint8Array or string, got ${describe(chunk)}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * One request's response. `run()` returns undefined when everything completed synchronously,
 * otherwise a promise that settles when the response is finished (it never rejects).
 */
class ResponseRun {
  private status = 0;
  private reason = '';
  private headers: HeaderList | null = null;
  private headersSent = false;
  private iterating = false;
  readonly startResponse: StartResponse;
  private readonly write: Write;

  constructor(
    private readonly environ: Environ,
    private readonly sink: ResponseSink,
    private readonly log: HandlerLog,
  ) {
    this.write = (chunk) => this.imperativeWrite(chunk);
    this.startResponse = (status, headers, excInfo) => this.start(status, headers, excInfo);
  }

  private start(status: string, headers: HeaderList, excInfo?: unknown): Write {
    if (excInfo !== undefined && excInfo !== null) {
      // PEP 3333: with exc_info after headers went out, re-raise so the server aborts.
      if (this.headersSent) throw excInfo;
    } else if (this.headers !== null) {
      throw new StartResponseError('startResponse() called again without excInfo');
    }
    if (typeof status !== 'string' || status.length < 3) {
      throw new StartResponseError(`invalid status ${JSON.stringify(status)}: expected "NNN Reason"`);
    }
    const code = Number.parseInt(status.slice(0, 3), 10);
    if (!(code >= 100 && code <= 999) || (status.length > 3 && status.charCodeAt(3) !== 0x20)) {
      throw new StartResponseError(`invalid status ${JSON.stringify(status)}: expected "NNN Reason"`);
    }
    if (!Array.isArray(headers)) throw new StartResponseError('headers must be an array of [name, value] pairs');
    this.status = code;
    this.reason = status.length > 4 ? status.slice(4) : '';
    this.headers = headers;
    return this.write;
  }

  private sendHead(): void {
    // Marked sent only once the sink accepted them: a sink that rejects a header (CR/LF in a
    // value) throws, and the failure path can still send a clean 500.
    this.sink.sendHead(this.status, this.reason, this.headers!);
    this.headersSent = true;
  }

  private imperativeWrite(chunk: Chunk): Promise<void> {
    if (this.headers === null) throw new StartResponseError('write() called before startResponse()');
    const bytes = toBytes(chunk);
    if (bytes.length === 0 || this.sink.aborted) return RESOLVED;
    if (!this.headersSent) this.sendHead();
    return this.sink.write(bytes) ? RESOLVED : this.sink.drain();
  }

  run(app: App): Promise<void> | undefined {
    let result: Body | Promise<Body>;
    try {
      result = app(this.environ, this.startResponse);
    } catch (error) {
      this.fail(error, null);
      return undefined;
    }
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        (body) => this.iterate(body),
        (error: unknown) => this.fail(error, null),
      );
    }
    return this.iterate(result);
  }

  private iterate(body: Body): Promise<void> | undefined {
    if (body === null || typeof body !== 'object' || typeof body === 'string') {
      this.fail(new TypeError(`application returned ${describe(body)}, expected an iterable body`), null);
      return undefined;
    }
    this.iterating = true;
    if (Array.isArray(body)) {
      const chunks = body as Chunk[];
      for (let i = 0; i < chunks.length; i++) {
        let pending: Promise<void> | undefined;
        try {
          pending = this.emit(chunks[i]!);
        } catch (error) {
          return this.fail(error, body);
        }
        if (pending) return this.continueArray(chunks, i + 1, pending, body);
        if (this.sink.aborted) break;
      }
      return this.finish(body);
    }
    if (Symbol.iterator in body) {
      let iterator: Iterator<Chunk>;
      try {
        iterator = (body as Iterable<Chunk>)[Symbol.iterator]();
      } catch (error) {
        return this.fail(error, body);
      }
      return this.continueSync(iterator, body);
    }
    if (Symbol.asyncIterator in body) return this.continueAsync(body as AsyncIterable<Chunk>, body);
    return this.fail(new TypeError(`application returned ${describe(body)}, expected an iterable body`), body);
  }

  private continueSync(iterator: Iterator<Chunk>, body: Body): Promise<void> | undefined {
    for (;;) {
      let pending: Promise<void> | undefined;
      let step: IteratorResult<Chunk>;
      try {
        step = iterator.next();
      } catch (error) {
        return this.fail(error, body);
      }
      if (step.done) break;
      try {
        pending = this.emit(step.value);
      } catch (error) {
        this.stopEarly(iterator);
        return this.fail(error, body);
      }
      if (pending) return pending.then(() => this.continueSync(iterator, body));
      if (this.sink.aborted) {
        this.stopEarly(iterator);
        break;
      }
    }
    return this.finish(body);
  }

  /** Leaving a sync iterator before its end: `return()` runs a generator's `finally` blocks, as `for...of` would. */
  private stopEarly(iterator: Iterator<Chunk>): void {
    try {
      iterator.return?.();
    } catch (error) {
      this.log.appError(this.environ, 'error while stopping the response body', error);
    }
  }

  private async continueArray(chunks: Chunk[], from: number, pending: Promise<void>, body: Body): Promise<void> {
    try {
      await pending;
      for (let i = from; i < chunks.length && !this.sink.aborted; i++) await this.emit(chunks[i]!);
    } catch (error) {
      return this.fail(error, body);
    }
    return this.finish(body);
  }

  private async continueAsync(iterable: AsyncIterable<Chunk>, body: Body): Promise<void> {
    try {
      for await (const chunk of iterable) {
        const pending = this.emit(chunk);
        if (pending) await pending;
        if (this.sink.aborted) break;
      }
    } catch (error) {
      return this.fail(error, body);
    }
    return this.finish(body);
  }

  /** Sends one chunk; returns a promise only when the transport asks to wait. */
  private emit(chunk: Chunk): Promise<void> | undefined {
    const bytes = toBytes(chunk);
    if (bytes.length === 0 || this.sink.aborted) return undefined;
    if (!this.headersSent) {
      if (this.headers === null) {
        throw new StartResponseError('the body yielded data before startResponse() was called');
      }
      this.sendHead();
    }
    return this.sink.write(bytes) ? undefined : this.sink.drain();
  }

  private finish(body: Body): Promise<void> | undefined {
    if (!this.headersSent) {
      if (this.headers === null) {
        return this.fail(new StartResponseError('the application never called startResponse()'), body);
      }
      this.sendHead();
    }
    this.sink.end();
    return this.close(body);
  }

  /** An application failure: a 500 if nothing was sent yet, otherwise the connection is cut. */
  private fail(error: unknown, body: Body | null): Promise<void> | undefined {
    const stage = this.iterating ? 'while iterating the response body' : 'while calling the application';
    this.log.appError(this.environ, `application error ${stage}`, error);
    if (this.headersSent || this.sink.aborted) {
      this.sink.abort();
    } else {
      this.headersSent = true;
      this.sink.sendHead(500, 'Internal Server Error', [
        ['Content-Type', 'text/html'],
        ['Content-Length', String(INTERNAL_ERROR_BODY.length)],
      ]);
      this.sink.write(INTERNAL_ERROR_BODY);
      this.sink.end();
    }
    return body ? this.close(body) : undefined;
  }

  private close(body: Body): Promise<void> | undefined {
    if (typeof body.close !== 'function') return undefined;
    try {
      const closing = body.close();
      if (isThenable(closing)) {
        return Promise.resolve(closing).then(undefined, (error: unknown) =>
          this.log.appError(this.environ, 'error in the response body close()', error),
        );
      }
    } catch (error) {
      this.log.appError(this.environ, 'error in the response body close()', error);
    }
    return undefined;
  }
}

/**
 * Runs one request through `app`, writing the response to `sink`. Returns undefined when the
 * response finished synchronously, else a promise that settles (never rejects) when it has.
 */
export function runApp(app: App, environ: Environ, sink: ResponseSink, log: HandlerLog): Promise<void> | undefined {
  return new ResponseRun(environ, sink, log).run(app);
}

/**
 * Node `(req, res)` handlers as TSGI applications: Express 5 (`app`), Koa 3 (`app.callback()`),
 * Connect, plain `http.createServer` listeners. They run unchanged.
 *
 * Design. The handler gets a real `http.IncomingMessage` and a real `http.ServerResponse`, not
 * look-alikes: frameworks reach into them (Express swaps their prototypes for its own objects
 * that inherit from `http.IncomingMessage.prototype` / `http.ServerResponse.prototype`, Node's
 * own getters read private symbol fields the constructors set up, libraries check
 * `instanceof`). Both are built over an unconnected `net.Socket` that carries the peer's
 * address as own properties and is never written to. Everything this adapter changes is an
 * own property of the instance, because Express's `Object.setPrototypeOf(res, app.response)`
 * throws away anything a subclass would have put on the prototype chain:
 *
 * - request body: `req._read` starts pulling chunks from `tsgi.input` and pushing them, until
 *   push() reports the stream full, so the body is read only as fast as the handler consumes
 *   it (Readable's own backpressure, the protocol Node's HTTP parser follows).
 * - response: `writeHead` / `write` / `end` (+ `writeHeader`, `flushHeaders`, the 1xx writers)
 *   are replaced. `writeHead` calls `startResponse`; the header list is read back from the real
 *   header store (`setHeader`/`getHeader` are Node's, validation included), Set-Cookie arrays
 *   become one pair per cookie, hop-by-hop headers are dropped (the server owns the
 *   connection). `write` queues bytes for the TSGI body and returns false above a high-water
 *   mark; 'drain' fires when the server has taken them. No HTTP framing is ever produced.
 * - `res._header` is set once the head is out, so Node's own `headersSent`, and `setHeader`'s
 *   ERR_HTTP_HEADERS_SENT, behave as on a real server.
 * - events as Node's server emits them: 'prefinish' and 'finish' once the server has taken the
 *   last byte, then 'close' on res; the unread rest of the request body is drained afterwards
 *   (req 'end', 'close'). If the response is abandoned (client gone, `res.destroy()`,
 *   `req.socket.destroy()`), the socket closes: req gets 'aborted' and 'close' (and an
 *   ECONNRESET 'error' if it listens for one), res gets 'close', the TSGI body fails.
 * - a handler that throws synchronously, or returns a promise that rejects, fails the response:
 *   `runApp` turns it into a 500 if nothing was sent yet.
 *
 * URLs. `req.url` is the path inside the mount (PATH_INFO + query), the way Express strips a
 * sub-app's prefix: an app written for `/` works under `mount({ '/shop': fromNode(app) })`.
 * When mounted, `req.originalUrl` is the full path and `req.baseUrl` the prefix (Express's
 * router reads both as a parent router would have left them, so `req.baseUrl + req.path` and
 * redirects built from `req.originalUrl` stay right).
 *
 * Not supported: upgrades (`'upgrade'` / WebSocket), trailers (`addTrailers` is dropped with the
 * framing), `res.writeContinue()` (the server sends `100 Continue` when the body is first
 * read), socket timeouts (the server's limits apply), writing to `req.socket` directly.
 */
import { IncomingMessage, ServerResponse, STATUS_CODES } from 'node:http';
import type { OutgoingHttpHeader, OutgoingHttpHeaders } from 'node:http';
import { Socket } from 'node:net';
import type { App, Environ, HeaderList, StartResponse } from '../types.js';
import { encodedTarget, headerNameFromKey } from './fetch.js';
import { isHopByHop } from '../environ.js';

/** A Node request listener. Its return value is ignored unless it is a promise that rejects. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Bytes the response queues before `res.write()` returns false. */
const RESPONSE_HIGH_WATER_MARK = 64 * 1024;
/** Characters Node accepts in a status message (its `checkInvalidHeaderChar`). */
const INVALID_STATUS_MESSAGE = /[^\t\x20-\x7e\x80-\xff]/;
const PROTOCOL_VERSION = /^HTTP\/(\d)\.(\d)$/;

export function fromNode(handler: NodeHandler): App {
  return (environ, startResponse) => {
    const exchange = new NodeExchange(environ, startResponse);
    let result: unknown;
    try {
      result = handler(exchange.req, exchange.res);
    } catch (error) {
      exchange.abandon();
      throw error;
    }
    if (isThenable(result)) result.then(undefined, (error: unknown) => exchange.fail(error));
    return exchange.body;
  };
}

type WriteCallback = (error?: Error | null) => void;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function isCallback(value: unknown): value is WriteCallback {
  return typeof value === 'function';
}

/** Errors with the codes Node's http module uses, so handlers that test `err.code` still match. */
function nodeError(code: string, message: string, kind: ErrorConstructor = Error): Error {
  return Object.assign(new kind(message), { code });
}

/** One request/response pair: the Node objects the handler sees, and the TSGI body it fills. */
class NodeExchange {
  readonly socket: Socket;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly body: ResponseQueue;
  private headSent = false;
  /** False for HEAD, 1xx, 204 and 304: writes are accepted and dropped, as Node does. */
  private hasBody = true;
  private ending = false;
  private finished = false;
  private closed = false;
  private needDrain = false;
  private readingInput = false;
  private inputChunks: AsyncIterator<Uint8Array> | null = null;

  constructor(
    private readonly environ: Environ,
    private readonly startResponse: StartResponse,
  ) {
    this.socket = peerSocket(environ);
    this.req = this.buildRequest();
    this.res = this.buildResponse();
    this.body = new ResponseQueue(
      () => this.consumed(),
      () => this.bodyClosed(),
    );
    this.socket.on('close', () => this.socketClosed());
  }

  // -- request -------------------------------------------------------------------------------

  private buildRequest(): IncomingMessage {
    const environ = this.environ;
    const req = new IncomingMessage(this.socket);
    req.method = environ.REQUEST_METHOD;
    const version = PROTOCOL_VERSION.exec(environ.SERVER_PROTOCOL);
    req.httpVersionMajor = version ? Number(version[1]) : 1;
    req.httpVersionMinor = version ? Number(version[2]) : 1;
    req.httpVersion = `${req.httpVersionMajor}.${req.httpVersionMinor}`;

    const { script, path } = encodedTarget(environ);
    const query = environ.QUERY_STRING ? `?${environ.QUERY_STRING}` : '';
    req.url = (path || '/') + query;
    if (script !== '') Object.assign(req, { originalUrl: script + path + query, baseUrl: script });

    const headers: Record<string, string> = {};
    const distinct: Record<string, string[]> = {};
    const raw: string[] = [];
    const add = (name: string, value: string): void => {
      headers[name] = value;
      distinct[name] = [value];
      raw.push(titleCase(name), value);
    };
    for (const key in environ) {
      if (!key.startsWith('HTTP_') || key === 'HTTP_CONTENT_TYPE' || key === 'HTTP_CONTENT_LENGTH') continue;
      const value = environ[key];
      if (typeof value === 'string') add(headerNameFromKey(key), value);
    }
    if (environ.CONTENT_TYPE) add('content-type', environ.CONTENT_TYPE);
    if (environ.CONTENT_LENGTH) add('content-length', environ.CONTENT_LENGTH);
    req.headers = headers;
    req.headersDistinct = distinct;
    req.rawHeaders = raw;

    const bodiless =
      environ.CONTENT_LENGTH === '0' ||
      (environ.CONTENT_LENGTH === undefined && environ.HTTP_TRANSFER_ENCODING === undefined);
    if (bodiless) {
      // What Node's parser does for a request without a body: complete before the handler runs.
      req.complete = true;
      req.push(null);
    }
    req._read = () => this.readInput();
    return req;
  }

  /**
   * Readable calls this when its buffer wants more. Chunks come from iterating `tsgi.input`
   * rather than from `read(size)`, which waits for `size` bytes (file semantics).
   */
  private readInput(): void {
    if (this.readingInput || this.req.complete) return;
    this.readingInput = true;
    this.inputChunks ??= this.environ['tsgi.input'][Symbol.asyncIterator]();
    this.inputChunks.next().then(
      (step) => {
        this.readingInput = false;
        if (this.req.destroyed) return;
        if (step.done) {
          this.req.complete = true;
          this.req.push(null);
          return;
        }
        // As Node's parser feeds an IncomingMessage: keep pushing while the stream has room and
        // wait for the next `_read` once push() says it is full. (Readable would not call
        // `_read` again by itself: IncomingMessage turns its read-ahead off for push mode.)
        if (this.req.push(step.value)) this.readInput();
      },
      (error: unknown) => {
        this.readingInput = false;
        this.req.destroy(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  // -- response ------------------------------------------------------------------------------

  private buildResponse(): ServerResponse {
    const res = new ServerResponse(this.req);
    const writeHead = (statusCode: number, reasonOrHeaders?: unknown, headers?: unknown): ServerResponse =>
      this.writeHead(statusCode, reasonOrHeaders, headers);
    res.writeHead = writeHead;
    // `socket` is read-only in @types/node but a plain field in Node (its server assigns it), and
    // `writeHeader` is Node's undeclared alias of writeHead, bound to the original at load time.
    // No `assignSocket()`: it would make Node's own `_writeRaw` write HTTP bytes to the socket.
    Object.assign(res, { socket: this.socket, writeHeader: writeHead });
    res.write = (chunk: unknown, encodingOrCallback?: unknown, callback?: unknown): boolean =>
      this.write(chunk, encodingOrCallback, callback);
    res.end = (chunk?: unknown, encodingOrCallback?: unknown, callback?: unknown): ServerResponse =>
      this.end(chunk, encodingOrCallback, callback);
    // Node's versions write the serialized head to the socket; here the head goes to startResponse.
    res.flushHeaders = () => {
      if (!this.headSent) res.writeHead(res.statusCode);
    };
    // 1xx responses have no TSGI equivalent; the server sends 100 Continue on the first body read.
    res.writeContinue = (callback?: () => void) => {
      if (callback) process.nextTick(callback);
    };
    res.writeProcessing = () => {};
    res.writeEarlyHints = (_hints: Record<string, string | string[]>, callback?: () => void) => {
      if (callback) process.nextTick(callback);
    };
    // Node computes these from its own output buffer and the socket, neither of which is used.
    Object.defineProperties(res, {
      writableLength: { configurable: true, get: () => this.body.bytes },
      writableHighWaterMark: { configurable: true, get: () => RESPONSE_HIGH_WATER_MARK },
      writableNeedDrain: { configurable: true, get: () => this.needDrain && !this.closed },
      writableFinished: { configurable: true, get: () => this.finished },
      closed: { configurable: true, get: () => this.closed },
    });
    return res;
  }

  private writeHead(statusCode: number, reasonOrHeaders: unknown, maybeHeaders: unknown): ServerResponse {
    const res = this.res;
    if (this.headSent) {
      throw nodeError('ERR_HTTP_HEADERS_SENT', 'Cannot write headers after they are sent to the client');
    }
    const code = Number(statusCode) | 0;
    if (code < 100 || code > 999) {
      throw nodeError('ERR_HTTP_INVALID_STATUS_CODE', `Invalid status code: ${String(statusCode)}`, RangeError);
    }
    let headers: unknown;
    if (typeof reasonOrHeaders === 'string') {
      res.statusMessage = reasonOrHeaders;
      headers = maybeHeaders;
    } else {
      res.statusMessage ||= STATUS_CODES[code] ?? 'unknown';
      headers = reasonOrHeaders ?? maybeHeaders;
    }
    if (INVALID_STATUS_MESSAGE.test(res.statusMessage)) {
      throw nodeError('ERR_INVALID_CHAR', 'Invalid character in statusMessage', TypeError);
    }
    res.statusCode = code;
    if (headers !== undefined && headers !== null) applyHeaders(res, headers);

    const list: HeaderList = [];
    for (const name of rawHeaderNames(res)) {
      if (isHopByHop(name)) continue;
      const value = res.getHeader(name);
      if (Array.isArray(value)) for (const item of value) list.push([name, String(item)]);
      else if (value !== undefined) list.push([name, String(value)]);
    }
    const status = `${code} ${res.statusMessage}`;
    this.startResponse(status, list);
    this.headSent = true;
    this.hasBody = this.req.method !== 'HEAD' && code !== 204 && code !== 304 && code >= 200;
    // Node's `headersSent` getter and its setHeader/removeHeader guards all test `_header`.
    Object.assign(res, { _header: `HTTP/${this.req.httpVersion} ${status}\r\n` });
    return res;
  }

  private write(chunk: unknown, encodingOrCallback: unknown, callback: unknown): boolean {
    const done = isCallback(encodingOrCallback) ? encodingOrCallback : isCallback(callback) ? callback : undefined;
    const encoding = typeof encodingOrCallback === 'string' ? encodingOrCallback : undefined;
    if (this.ending || this.closed) {
      const error = this.ending
        ? nodeError('ERR_STREAM_WRITE_AFTER_END', 'write after end')
        : nodeError('ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed');
      process.nextTick(() => {
        // Node emits this 'error' unconditionally, which crashes a process with no listener;
        // one late write must not take every other request of the worker down with it.
        if (this.res.listenerCount('error') > 0) this.res.emit('error', error);
        done?.(error);
      });
      return false;
    }
    const bytes = toBytes(chunk, encoding);
    if (!this.headSent) this.res.writeHead(this.res.statusCode);
    if (!this.hasBody || bytes.length === 0) {
      if (done) process.nextTick(done);
      return true;
    }
    this.body.push(bytes, done);
    if (this.body.bytes < RESPONSE_HIGH_WATER_MARK) return true;
    this.needDrain = true;
    return false;
  }

  private end(chunk: unknown, encodingOrCallback: unknown, callback: unknown): ServerResponse {
    const res = this.res;
    let done = isCallback(callback) ? callback : undefined;
    let encoding: string | undefined;
    if (isCallback(chunk)) {
      done = chunk;
      chunk = undefined;
    } else if (isCallback(encodingOrCallback)) {
      done = encodingOrCallback;
    } else if (typeof encodingOrCallback === 'string') {
      encoding = encodingOrCallback;
    }
    if (this.ending) {
      if (done) {
        if (!this.finished) res.once('finish', done);
        else done(nodeError('ERR_STREAM_ALREADY_FINISHED', 'Cannot call end after a stream was finished'));
      }
      return res;
    }
    const bytes = chunk === undefined || chunk === null || chunk === '' ? null : toBytes(chunk, encoding);
    if (!this.headSent) {
      // As Node does when the whole body is given to end(): the length is known, say it.
      const code = res.statusCode;
      const statusHasBody = code !== 204 && code !== 304 && code >= 200;
      if (
        statusHasBody &&
        this.req.method !== 'HEAD' &&
        !res.hasHeader('content-length') &&
        !res.hasHeader('transfer-encoding')
      ) {
        res.setHeader('Content-Length', bytes ? bytes.length : 0);
      }
      res.writeHead(code);
    }
    if (bytes !== null && !this.closed) {
      if (this.hasBody) this.body.push(bytes, undefined);
    }
    if (done) res.once('finish', done);
    this.ending = true;
    // `finished` is Node's deprecated flag behind `writableEnded`; on-finished still reads it.
    res.finished = true;
    res.emit('prefinish');
    this.body.end();
    if (this.body.bytes === 0) process.nextTick(() => this.finish());
    return res;
  }

  /** The server took queued bytes. */
  private consumed(): void {
    if (this.needDrain && this.body.bytes < RESPONSE_HIGH_WATER_MARK) {
      this.needDrain = false;
      this.res.emit('drain');
    }
    if (this.ending && this.body.bytes === 0) this.finish();
  }

  /** Every byte of the response went to the server: 'finish', then 'close' as Node emits them. */
  private finish(): void {
    if (this.finished || this.closed) return;
    this.finished = true;
    this.res.emit('finish');
    process.nextTick(() => this.closeResponse());
    // Node drains an unread request body once the response is out (`req._dump()`), which is
    // also what brings req 'end' and 'close'. A handler that paused the body keeps it paused.
    const req = this.req;
    if (!req.destroyed && req.readableFlowing === null) req.resume();
  }

  private closeResponse(): void {
    if (this.closed) return;
    this.closed = true;
    this.res.destroyed = true;
    this.res.emit('close');
  }

  // -- failure paths -------------------------------------------------------------------------

  /** The TSGI body was closed by the server (always happens, once, at the very end). */
  private bodyClosed(): void {
    if (this.ending && this.body.bytes === 0) {
      this.finish();
      return;
    }
    // The response did not complete: the client went away, or the app failed. On a real server
    // the connection would close under the handler; do the same.
    this.abandon();
  }

  /** Cuts the "connection": the socket's 'close' tells the handler, as on a real server. */
  abandon(): void {
    if (!this.socket.destroyed) this.socket.destroy();
  }

  /** A promise returned by the handler rejected. */
  fail(error: unknown): void {
    if (this.finished) {
      this.environ['tsgi.errors'].write(`request handler failed after its response ended: ${describeError(error)}\n`);
      return;
    }
    this.body.fail(error instanceof Error ? error : new Error(String(error)));
    this.abandon();
  }

  private socketClosed(): void {
    if (this.finished) return;
    this.body.fail(new Error('the response was destroyed before it ended'));
    const req = this.req;
    if (!req.destroyed) req.destroy(nodeError('ECONNRESET', 'aborted'));
    this.closeResponse();
  }
}

/**
 * The TSGI body of a Node response: chunks written by the handler, taken by the server. Each
 * `next()` hands over everything queued as one chunk (fewer, larger writes to the transport).
 */
class ResponseQueue implements AsyncIterable<Uint8Array>, AsyncIterator<Uint8Array> {
  bytes = 0;
  private chunks: Uint8Array[] = [];
  private callbacks: WriteCallback[] = [];
  private ended = false;
  private failure: Error | null = null;
  private waiter: { resolve: (result: IteratorResult<Uint8Array>) => void; reject: (error: Error) => void } | null =
    null;
  private closed = false;

  constructor(
    private readonly onConsumed: () => void,
    private readonly onClose: () => void,
  ) {}

  push(chunk: Uint8Array, callback: WriteCallback | undefined): void {
    if (this.ended || this.failure) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (callback) this.callbacks.push(callback);
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = null;
      waiter.resolve(this.take());
    }
  }

  end(): void {
    this.ended = true;
    const waiter = this.waiter;
    if (waiter && this.bytes === 0) {
      this.waiter = null;
      waiter.resolve({ done: true, value: undefined });
    }
  }

  fail(error: Error): void {
    if (this.ended || this.failure) return;
    this.failure = error;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = null;
      waiter.reject(error);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.bytes > 0) return Promise.resolve(this.take());
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** The server's loop stopped early: `close()` follows and decides what it means. */
  return(): Promise<IteratorResult<Uint8Array>> {
    return Promise.resolve({ done: true, value: undefined });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }

  private take(): IteratorResult<Uint8Array> {
    const value = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const callbacks = this.callbacks;
    this.chunks = [];
    this.callbacks = [];
    this.bytes = 0;
    // Never synchronously inside the write() that queued them, as with Node's own sockets.
    if (callbacks.length > 0) process.nextTick(() => callbacks.forEach((callback) => callback()));
    this.onConsumed();
    return { done: false, value };
  }
}

/**
 * An unconnected socket standing for the client connection: the address fields a handler reads
 * (`req.socket.remoteAddress`, `encrypted` for `req.protocol`), nothing else. Destroying it is
 * how either side cuts the exchange.
 */
function peerSocket(environ: Environ): Socket {
  const socket = new Socket();
  const remotePort = Number.parseInt(environ.REMOTE_PORT, 10);
  const localPort = Number.parseInt(environ.SERVER_PORT, 10);
  const serverAddress = environ.SERVER_ADDR;
  Object.defineProperties(socket, {
    remoteAddress: { value: environ.REMOTE_ADDR || undefined, enumerable: true },
    remoteFamily: { value: environ.REMOTE_ADDR ? (environ.REMOTE_ADDR.includes(':') ? 'IPv6' : 'IPv4') : undefined },
    remotePort: { value: Number.isNaN(remotePort) ? undefined : remotePort, enumerable: true },
    localAddress: { value: typeof serverAddress === 'string' ? serverAddress : undefined },
    localPort: { value: Number.isNaN(localPort) ? undefined : localPort },
  });
  // Express (`req.protocol`) and Koa (`ctx.protocol`) read `socket.encrypted`, as set on TLS sockets.
  if (environ['tsgi.url_scheme'] === 'https') Object.defineProperty(socket, 'encrypted', { value: true });
  // Node's server always listens for socket errors; without a listener, `res.destroy(error)`
  // (which destroys the socket with that error) would become an uncaught exception.
  socket.on('error', () => {});
  return socket;
}

/** Node's `writeHead(status, headers)` forms: an object, `[[name, value], ...]` or a flat raw array. */
function applyHeaders(res: ServerResponse, headers: unknown): void {
  if (Array.isArray(headers)) {
    const entries = headers as unknown[];
    if (entries.length > 0 && Array.isArray(entries[0])) {
      for (const entry of entries as Array<[string, OutgoingHttpHeader]>) {
        if (entry[0]) res.appendHeader(entry[0], headerValue(entry[1]));
      }
      return;
    }
    if (entries.length % 2 !== 0) {
      throw nodeError('ERR_INVALID_ARG_VALUE', 'writeHead(): a flat header array needs name/value pairs', TypeError);
    }
    // As Node: these replace headers set before, but may repeat among themselves.
    for (let i = 0; i < entries.length; i += 2) if (entries[i]) res.removeHeader(String(entries[i]));
    for (let i = 0; i < entries.length; i += 2) {
      if (entries[i]) res.appendHeader(String(entries[i]), headerValue(entries[i + 1] as OutgoingHttpHeader));
    }
    return;
  }
  if (typeof headers === 'object') {
    for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
      if (name && value !== undefined) res.setHeader(name, value);
    }
  }
}

function headerValue(value: OutgoingHttpHeader): string | string[] {
  return Array.isArray(value) ? value : String(value);
}

/** Header names as the handler spelled them (`getRawHeaderNames`), falling back to lower case. */
function rawHeaderNames(res: ServerResponse): string[] {
  // Node has had OutgoingMessage#getRawHeaderNames since 15.13; @types/node declares it only on
  // ClientRequest, hence the narrow structural check.
  const withRaw = res as ServerResponse & { getRawHeaderNames?: () => string[] };
  return typeof withRaw.getRawHeaderNames === 'function' ? withRaw.getRawHeaderNames() : res.getHeaderNames();
}

function toBytes(chunk: unknown, encoding: string | undefined): Uint8Array {
  if (typeof chunk === 'string') return Buffer.from(chunk, Buffer.isEncoding(encoding ?? '') ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk;
  if (chunk === null) throw nodeError('ERR_STREAM_NULL_VALUES', 'May not write null values to stream', TypeError);
  throw nodeError(
    'ERR_INVALID_ARG_TYPE',
    `The "chunk" argument must be of type string or an instance of Buffer or Uint8Array`,
    TypeError,
  );
}

/** `x-forwarded-for` -> `X-Forwarded-For`, the usual spelling in `rawHeaders`. */
function titleCase(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_match, dash: string, letter: string) => dash + letter.toUpperCase());
}

function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/**
 * Fetch-style handlers (`(Request) => Response`: Hono, itty-router, srvx...) and TSGI, both ways.
 *
 * - `fromFetch(handler)` runs a fetch handler as a TSGI app: the environ becomes a `Request`
 *   whose body streams from `tsgi.input`, the `Response` becomes `startResponse` + an async body.
 * - `toFetch(app)` runs a TSGI app as a fetch handler: the `Request` becomes an environ, the app
 *   runs through `runApp` (the one place the server-side rules live) into a sink whose output is
 *   a `Response` streaming a `ReadableStream` with backpressure. It doubles as the cheap
 *   in-process server the tests use.
 *
 * The URL and header helpers at the bottom are shared with the Node adapter.
 */
import { STATUS_CODES } from 'node:http';
import { runApp } from '../handler.js';
import type { HandlerLog, ResponseSink } from '../handler.js';
import { decodePath, headerToEnvironKey, isHopByHop } from '../environ.js';
import { BodyInput } from '../input.js';
import { TSGI_VERSION } from '../types.js';
import type { App, Chunk, Environ, ErrorStream, HeaderList, InputStream } from '../types.js';

/** A fetch handler, or an object with a `fetch` method (a Hono app, a srvx/Bun-style server object). */
export type FetchHandler =
  | ((request: Request) => Response | Promise<Response>)
  | { fetch(request: Request, ...rest: never[]): Response | Promise<Response> };

/** Bytes a `toFetch` response stream queues before `write` reports backpressure. */
const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
/** Statuses whose responses never carry a body (the Fetch spec's "null body status"). */
const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

// ---------------------------------------------------------------------------------------------
// fromFetch: a fetch handler as a TSGI application
// ---------------------------------------------------------------------------------------------

export interface FromFetchOptions {
  /**
   * Leave SCRIPT_NAME out of `request.url`, so a handler written for `/` works under a mount
   * without knowing its prefix (the way Express strips a sub-app's). Links it builds from
   * `request.url` then lack the prefix. Default false: the full URL.
   */
  stripScriptName?: boolean;
}

/**
 * Runs a fetch handler as a TSGI application. A Hono app can be passed as it is (`fromFetch(app)`).
 *
 * The handler sees the full public URL, mount prefix included: `mount({ '/api': fromFetch(h) })`
 * hands it `https://host/api/users`, not `/users`. A `Request` has no SCRIPT_NAME: the Fetch
 * API only knows whole URLs, and a handler that builds links from `request.url` needs the real
 * one. A router that should ignore the prefix declares it itself (Hono: `app.basePath('/api')`),
 * or the adapter leaves it out (`{ stripScriptName: true }`).
 *
 * `request.signal` aborts when the response is abandoned before its end (client gone, app error).
 */
export function fromFetch(handler: FetchHandler, options: FromFetchOptions = {}): App {
  const call: (request: Request) => Response | Promise<Response> =
    typeof handler === 'function' ? handler : (request) => handler.fetch(request);
  const stripScriptName = options.stripScriptName ?? false;
  return async (environ, startResponse) => {
    const abort = new AbortController();
    const request = requestFromEnviron(environ, abort.signal, stripScriptName);
    const response: unknown = await call(request);
    if (!isResponse(response)) {
      throw new TypeError(`the fetch handler returned ${String(response)}, expected a Response`);
    }
    if (response.type === 'error') throw new Error('the fetch handler returned Response.error()');
    const reason = response.statusText || STATUS_CODES[response.status] || 'Unknown';
    startResponse(`${response.status} ${reason}`, headerListFrom(response.headers));
    const body = response.body;
    if (body === null) return [];
    if (environ.REQUEST_METHOD === 'HEAD') {
      // The server would discard the bytes anyway: do not make the handler produce them.
      body.cancel().catch(ignore);
      return [];
    }
    return new StreamBody(body, () => abort.abort());
  };
}

function isResponse(value: unknown): value is Response {
  // Duck-typed rather than `instanceof`: a handler bundled with its own fetch polyfill returns
  // Responses from another realm or class.
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Response).status === 'number' &&
    typeof (value as Response).headers === 'object'
  );
}

/** The `Request` a fetch handler sees for this environ. */
function requestFromEnviron(environ: Environ, signal: AbortSignal, stripScriptName: boolean): Request {
  const method = environ.REQUEST_METHOD;
  const headers = new Headers();
  for (const key in environ) {
    if (!key.startsWith('HTTP_')) continue;
    const value = environ[key];
    // CGI moves these two out of HTTP_*; some servers leave a copy behind: the CGI keys win.
    if (typeof value !== 'string' || key === 'HTTP_CONTENT_TYPE' || key === 'HTTP_CONTENT_LENGTH') continue;
    headers.append(headerNameFromKey(key), value);
  }
  if (environ.CONTENT_TYPE) headers.set('content-type', environ.CONTENT_TYPE);
  if (environ.CONTENT_LENGTH) headers.set('content-length', environ.CONTENT_LENGTH);

  const init: RequestInit = { method, headers, signal };
  // The Fetch API forbids a body on GET and HEAD. A declared length of 0 has no body either;
  // anything else streams, and an absent body just ends at once.
  if (method !== 'GET' && method !== 'HEAD' && environ.CONTENT_LENGTH !== '0') {
    init.body = inputStream(environ['tsgi.input']);
    // Required by undici for a streamed body: the request is sent before the response starts.
    init.duplex = 'half';
  }
  return new Request(requestUrl(environ, stripScriptName), init);
}

/**
 * `tsgi.input` as a ReadableStream that reads only when its consumer pulls (no read-ahead).
 * It iterates rather than calling `read(size)`, which waits for `size` bytes (file semantics):
 * a stream hands on whatever has arrived.
 */
function inputStream(input: InputStream): ReadableStream<Uint8Array> {
  let chunks: AsyncIterator<Uint8Array> | null = null;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        chunks ??= input[Symbol.asyncIterator]();
        const step = await chunks.next();
        if (step.done) controller.close();
        else controller.enqueue(step.value);
      },
      cancel() {
        chunks?.return?.().catch(ignore);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * The public URL of the request: scheme, Host (or SERVER_NAME:SERVER_PORT when Host is missing
 * or not a valid authority), SCRIPT_NAME + PATH_INFO re-encoded, QUERY_STRING as it came.
 */
export function requestUrl(environ: Environ, stripScriptName = false): string {
  const scheme = environ['tsgi.url_scheme'] === 'https' ? 'https' : 'http';
  const { script, path } = encodedTarget(environ);
  const query = environ.QUERY_STRING ? `?${environ.QUERY_STRING.replace(/#/g, '%23')}` : '';
  const target = stripScriptName ? path || '/' : script + path || '/';
  return `${scheme}://${authority(environ, scheme)}${target}${query}`;
}

/**
 * A Host header value that is safe to put in a URL: a reg-name, IPv4 or bracketed IPv6 address,
 * optional port. Anything else (`@`, `/`, spaces) could move the path or add credentials.
 */
const VALID_HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::\d{0,5})?$/;

function authority(environ: Environ, scheme: string): string {
  const host = environ.HTTP_HOST;
  if (host !== undefined && VALID_HOST.test(host)) return host;
  let name = environ.SERVER_NAME || 'localhost';
  if (name.includes(':') && !name.startsWith('[')) name = `[${name}]`;
  const port = environ.SERVER_PORT;
  const defaultPort = scheme === 'https' ? '443' : '80';
  return port && port !== defaultPort ? `${name}:${port}` : name;
}

// ---------------------------------------------------------------------------------------------
// The response body of fromFetch
// ---------------------------------------------------------------------------------------------

/** `response.body` as a TSGI body: `close()` cancels the stream when it was not read to its end. */
class StreamBody implements AsyncIterable<Chunk> {
  private reader: ReadableStreamDefaultReader<Chunk> | null = null;
  private done = false;

  constructor(
    private readonly stream: ReadableStream<Chunk>,
    private readonly onAbandon: () => void,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Chunk> {
    const reader = this.stream.getReader();
    this.reader = reader;
    return {
      next: async (): Promise<IteratorResult<Chunk>> => {
        const step = await reader.read();
        if (step.done) this.done = true;
        return step.done ? { done: true, value: undefined } : { done: false, value: step.value };
      },
      // An early `break` in the server's loop: stop the producer now rather than at close().
      return: async (): Promise<IteratorResult<Chunk>> => {
        this.close();
        return { done: true, value: undefined };
      },
    };
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    const cancelling = this.reader ? this.reader.cancel() : this.stream.cancel();
    cancelling.catch(ignore);
    this.onAbandon();
  }
}

// ---------------------------------------------------------------------------------------------
// toFetch: a TSGI application as a fetch handler
// ---------------------------------------------------------------------------------------------

export interface ToFetchOptions {
  /** SERVER_NAME. Default: the request URL's host name. */
  serverName?: string;
  /** SERVER_PORT. Default: the request URL's port, or the scheme's default port. */
  serverPort?: string;
  /** REMOTE_ADDR. A `Request` does not know its peer: `''` unless given. */
  remoteAddress?: string;
  /** REMOTE_PORT, `''` unless given. */
  remotePort?: string;
  /** `tsgi.errors`. Default: process.stderr. */
  errors?: ErrorStream;
  /** Where application failures are reported. Default: a line on `tsgi.errors`. */
  log?: HandlerLog;
  /** Bytes the response stream queues before `write` pushes back. Default 64 KiB. */
  highWaterMark?: number;
}

/**
 * Runs a TSGI application as a fetch handler: `Bun.serve({ fetch: toFetch(app) })`,
 * `Deno.serve(toFetch(app))`, or in-process in tests. The promise resolves once the app's
 * headers are known; the body streams afterwards.
 */
export function toFetch(app: App, options: ToFetchOptions = {}): (request: Request) => Promise<Response> {
  const errors = options.errors ?? STDERR;
  const log = options.log ?? defaultLog;
  const highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  return (request) =>
    new Promise<Response>((resolve, reject) => {
      const feed = new RequestBodyFeed(request.body);
      const environ = environFromRequest(request, feed.input, errors, options);
      const sink = new StreamSink(request.method === 'HEAD', highWaterMark, environ, log, resolve);
      const onAbort = (): void => {
        sink.cancel();
        feed.input.fail(new Error('the request was aborted'));
      };
      request.signal.addEventListener('abort', onAbort, { once: true });
      const settle = (): void => {
        request.signal.removeEventListener('abort', onAbort);
        feed.release();
        if (!sink.responded) reject(new Error('the application finished without a response'));
      };
      const running = runApp(app, environ, sink, log);
      if (running) running.then(settle);
      else settle();
    });
}

function environFromRequest(
  request: Request,
  input: BodyInput,
  errors: ErrorStream,
  options: ToFetchOptions,
): Environ {
  const url = new URL(request.url);
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  const environ: Environ = {
    REQUEST_METHOD: request.method,
    SCRIPT_NAME: '',
    PATH_INFO: decodePath(url.pathname),
    QUERY_STRING: url.search.slice(1),
    REQUEST_URI: url.pathname + url.search,
    SERVER_NAME: options.serverName ?? url.hostname.replace(/^\[(.*)\]$/, '$1'),
    SERVER_PORT: options.serverPort ?? (url.port || (scheme === 'https' ? '443' : '80')),
    SERVER_PROTOCOL: 'HTTP/1.1',
    REMOTE_ADDR: options.remoteAddress ?? '',
    REMOTE_PORT: options.remotePort ?? '',
    'tsgi.version': TSGI_VERSION,
    'tsgi.url_scheme': scheme,
    'tsgi.input': input,
    'tsgi.errors': errors,
    'tsgi.multithread': true,
    'tsgi.multiprocess': false,
    'tsgi.run_once': false,
  };
  // Headers joins repeated fields with ", " (Cookie included; the environ convention is "; ").
  for (const [name, value] of request.headers) environ[headerToEnvironKey(name)] = value;
  // A Request built in-process (`new Request(url, { body })`) has neither Host nor a body length;
  // give the environ what the same request would carry on the wire (HTTP/1.1: chunked when the
  // length is unknown), so apps that test for a body (`type-is`, body parsers) find it.
  if (environ.HTTP_HOST === undefined) environ.HTTP_HOST = url.host;
  if (request.body !== null && environ.CONTENT_LENGTH === undefined && environ.HTTP_TRANSFER_ENCODING === undefined) {
    environ.HTTP_TRANSFER_ENCODING = 'chunked';
  }
  return environ;
}

/**
 * Feeds `request.body` into a `BodyInput`, one chunk each time the application wants more, so
 * the request body is never read ahead of the app by more than one chunk.
 */
class RequestBodyFeed {
  readonly input: BodyInput;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array | string> | null;
  private reading = false;

  constructor(body: ReadableStream<Uint8Array | string> | null) {
    if (body === null) {
      this.reader = null;
      this.input = BodyInput.empty();
      return;
    }
    this.reader = body.getReader();
    this.input = new BodyInput({ wanted: () => this.readOne() });
  }

  private readOne(): void {
    const reader = this.reader;
    if (reader === null || this.reading || this.input.isEnded) return;
    this.reading = true;
    reader.read().then(
      (step) => {
        this.reading = false;
        if (step.done) return this.input.end();
        const chunk = typeof step.value === 'string' ? Buffer.from(step.value, 'utf8') : step.value;
        // An empty chunk wakes nobody: the reader is still waiting, so ask again.
        if (chunk.length === 0) return this.readOne();
        this.input.push(chunk);
      },
      (error: unknown) => {
        this.reading = false;
        this.input.fail(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  /** The response is complete: stop the client's upload if the app left part of it unread. */
  release(): void {
    if (this.reader !== null && !this.input.isEnded) this.reader.cancel().catch(ignore);
  }
}

/**
 * A `ResponseSink` that builds a `Response`. The body is a ReadableStream whose queue is the
 * transport buffer: `write` reports backpressure when `desiredSize` drops to 0, and `drain()`
 * resolves when the consumer pulls again.
 */
class StreamSink implements ResponseSink {
  responded = false;
  private readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private cancelled = false;
  /** HEAD, a null-body status, or a head that could not be sent: body bytes go nowhere. */
  private discard = false;
  private closed = false;
  private drainWaiter: (() => void) | null = null;

  constructor(
    private readonly head: boolean,
    highWaterMark: number,
    private readonly environ: Environ,
    private readonly log: HandlerLog,
    private readonly respond: (response: Response) => void,
  ) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => this.wake(),
        cancel: () => this.cancel(),
      },
      { highWaterMark, size: (chunk) => chunk.byteLength },
    );
  }

  /** The stream's reader went away (cancelled the body, aborted the request). */
  cancel(): void {
    this.cancelled = true;
    this.closed = true;
    this.wake();
  }

  get aborted(): boolean {
    // A discarded body is not worth producing either: the app stops at its next chunk.
    return this.cancelled || this.discard;
  }

  sendHead(status: number, reason: string, headers: HeaderList): void {
    const noBody = this.head || NULL_BODY_STATUSES.has(status);
    let response: Response;
    try {
      const fields = new Headers();
      for (const [name, value] of headers) fields.append(name, value);
      response = new Response(noBody ? null : this.stream, { status, statusText: reason, headers: fields });
    } catch (error) {
      // Out of the Fetch API's 200-599 range, or a header it rejects: nothing of the app's
      // response can be represented, so the client gets a plain 500 and the app is stopped.
      this.log.appError(this.environ, `cannot represent the response "${status} ${reason}" as a Response`, error);
      response = new Response('Internal Server Error\n', {
        status: 500,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
      });
      this.discard = true;
    }
    if (noBody) this.discard = true;
    this.responded = true;
    this.respond(response);
  }

  write(chunk: Uint8Array): boolean {
    if (this.discard || this.closed) return true;
    this.controller.enqueue(chunk);
    return (this.controller.desiredSize ?? 0) > 0;
  }

  drain(): Promise<void> {
    if (this.aborted || this.closed || (this.controller.desiredSize ?? 0) > 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainWaiter = resolve;
    });
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.controller.close();
  }

  abort(): void {
    if (this.closed) return;
    this.closed = true;
    // The consumer's next read rejects: the equivalent of a connection cut mid-body.
    this.controller.error(new Error('the application failed after the response started'));
    this.wake();
  }

  private wake(): void {
    const waiter = this.drainWaiter;
    if (waiter) {
      this.drainWaiter = null;
      waiter();
    }
  }
}

const STDERR: ErrorStream = {
  write: (text) => void process.stderr.write(text),
  writelines: (lines) => {
    for (const line of lines) process.stderr.write(line);
  },
  flush: () => {},
};

const defaultLog: HandlerLog = {
  appError(environ, message, error) {
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    environ['tsgi.errors'].write(`${message} (${environ.REQUEST_METHOD} ${environ.PATH_INFO}): ${detail}\n`);
  },
};

function ignore(): void {}

// ---------------------------------------------------------------------------------------------
// Shared helpers: header names, hop-by-hop headers, path encoding
// ---------------------------------------------------------------------------------------------

/** `HTTP_X_FORWARDED_FOR` -> `x-forwarded-for`. */
export function headerNameFromKey(key: string): string {
  return key.slice(5).toLowerCase().replace(/_/g, '-');
}


/** A fetch `Headers` as a TSGI header list: Set-Cookie stays one pair per cookie. */
function headerListFrom(headers: Headers): HeaderList {
  const list: HeaderList = [];
  for (const [name, value] of headers) {
    if (name === 'set-cookie' || isHopByHop(name)) continue;
    list.push([name, value]);
  }
  for (const cookie of headers.getSetCookie()) list.push(['set-cookie', cookie]);
  return list;
}

/** Characters a path keeps as they are: RFC 3986 `pchar` plus `/`. */
const PATH_SAFE = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Percent-encodes a decoded path (UTF-8): `/a b/%` -> `/a%20b/%25`. */
export function encodePath(path: string): string {
  if (PATH_SAFE.test(path)) return path;
  // encodeURI leaves `?` and `#`, which would end the path, and throws on lone surrogates.
  return encodeURI(path.replace(LONE_SURROGATE, '\uFFFD')).replace(/[?#]/g, (c) =>
    c === '?' ? '%3F' : '%23',
  );
}

/**
 * SCRIPT_NAME and PATH_INFO percent-encoded for a URL. When the server passed the raw
 * `REQUEST_URI` and it decodes (with ../environ.ts's `decodePath`) to exactly these two, its
 * spelling is kept: decoding is lossy (`%2F` and `/` both decode to `/`), and an API that
 * routes on `%2F` must see it again.
 */
export function encodedTarget(environ: Environ): { script: string; path: string } {
  const script = environ.SCRIPT_NAME;
  const path = environ.PATH_INFO;
  const uri = environ.REQUEST_URI;
  if (typeof uri === 'string' && uri.includes('%')) {
    const question = uri.indexOf('?');
    const raw = question < 0 ? uri : uri.slice(0, question);
    const split = splitRaw(raw, script);
    if (split !== null && decodePath(split.path) === path) return split;
  }
  return { script: encodePath(script), path: encodePath(path) };
}

/** The raw path cut where its decoded prefix equals `script`, at a `/` or at its end. */
function splitRaw(raw: string, script: string): { script: string; path: string } | null {
  if (script === '') return { script: '', path: raw };
  // Every raw `/` decodes to a `/`, so the cut comes at the latest after as many raw slashes as
  // the script name has: that bounds the work on a path made of thousands of slashes.
  let candidates = script.split('/').length;
  for (let at = raw.indexOf('/', 1); candidates > 0; at = raw.indexOf('/', at + 1), candidates--) {
    const end = at < 0 ? raw.length : at;
    if (decodePath(raw.slice(0, end)) === script) return { script: raw.slice(0, end), path: raw.slice(end) };
    if (at < 0) break;
  }
  return null;
}

/**
 * TSGI: the contract between servers and TypeScript/JavaScript applications.
 *
 * Modelled on PEP 3333 (WSGI). docs/tsgi.md is the normative text; these types
 * are its machine-checkable half. Where TSGI departs from PEP 3333 the comment
 * says so and docs/tsgi.md says why.
 *
 *   const app: App = (environ, startResponse) => {
 *     startResponse('200 OK', [['Content-Type', 'text/plain']]);
 *     return ['Hello ', environ.PATH_INFO];
 *   };
 */

/** A piece of response body. Strings are sent as UTF-8 (PEP 3333 allows bytes only). */
export type Chunk = Uint8Array | string;

/** Response headers in order, as `[name, value]` pairs. Repeated names (Set-Cookie) are separate pairs. */
export type HeaderList = Array<[name: string, value: string]>;

/**
 * The response body an application returns: any iterable or async iterable of chunks.
 * If it has `close()`, the server calls it exactly once, whatever happens. A server that stops
 * iterating early calls the iterator's `return()` (as `for...of` does), so generators clean up.
 */
export type Body = (Iterable<Chunk> | AsyncIterable<Chunk>) & { close?(): void | Promise<void> };

/**
 * The imperative `write` returned by `startResponse` (PEP 3333's legacy write()).
 * The promise resolves once the chunk is handed to the transport and the transport is below its
 * high-water mark; awaiting it gives backpressure. It never rejects: if the client is gone the
 * chunk is discarded (see docs/tsgi.md, "The write() callable").
 */
export type Write = (chunk: Chunk) => Promise<void>;

/**
 * `startResponse(status, headers, excInfo?)`.
 * - `status`: `"200 OK"`: a three-digit code, a space, a reason phrase.
 * - `excInfo`: the caught error, passed only by an error handler (given = neither undefined nor null).
 *   If headers were already sent the server rethrows it; otherwise it replaces the status and headers.
 */
export type StartResponse = (status: string, headers: HeaderList, excInfo?: unknown) => Write;

/** A TSGI application. It may return its body directly or as a promise (PEP 3333: synchronous only). */
export type App = (environ: Environ, startResponse: StartResponse) => Body | Promise<Body>;

/** Middleware: takes an application and returns one. */
export type Middleware = (app: App) => App;

/**
 * `tsgi.input`: the request body, streamed. Nothing is buffered beyond what the reader asks for
 * (plus one transport chunk). Every method resolves to an empty array at end of body. Async
 * iteration yields chunks as they arrive (not lines). Calls must not overlap: await each one.
 */
export interface InputStream extends AsyncIterable<Uint8Array> {
  /** `size` bytes (fewer only at the end of the body); with no size (or a negative one) the rest of the body. */
  read(size?: number): Promise<Uint8Array>;
  /** Up to and including the next LF, or `size` bytes, whichever comes first. */
  readline(size?: number): Promise<Uint8Array>;
  /** The remaining lines; stops once about `hint` bytes were read when a hint is given. */
  readlines(hint?: number): Promise<Uint8Array[]>;
}

/** `tsgi.errors`: a text stream into the server's error log. */
export interface ErrorStream {
  write(text: string): void;
  writelines(lines: Iterable<string>): void;
  flush(): void;
}

/** The version this package implements, as `environ['tsgi.version']`. */
export const TSGI_VERSION: readonly [1, 0] = Object.freeze([1, 0] as const);

/**
 * The request environment. CGI keys are strings; `CONTENT_TYPE` and `CONTENT_LENGTH` are absent
 * when the request has none, never `''` (PEP 3333 allows either; TSGI servers pick one). Request headers appear as `HTTP_*`
 * (upper case, `-` as `_`; repeated headers joined with `, `, Cookie with `; `).
 * Servers may add keys of their own (`REQUEST_URI`, `uwsgi.*`...): unknown keys are allowed.
 */
export interface Environ {
  REQUEST_METHOD: string;
  /** The mount point, `''` for the root. Never ends with `/`. Percent-decoded. */
  SCRIPT_NAME: string;
  /** The rest of the path, percent-decoded; `''` or starts with `/`. */
  PATH_INFO: string;
  /** The part after `?`, raw (not decoded), `''` when none. */
  QUERY_STRING: string;
  CONTENT_TYPE?: string;
  CONTENT_LENGTH?: string;
  SERVER_NAME: string;
  SERVER_PORT: string;
  /** `HTTP/1.1`, `HTTP/1.0`. */
  SERVER_PROTOCOL: string;
  REMOTE_ADDR: string;
  REMOTE_PORT: string;

  'tsgi.version': readonly [number, number];
  /** `http` or `https`. */
  'tsgi.url_scheme': string;
  'tsgi.input': InputStream;
  'tsgi.errors': ErrorStream;
  /** True when other requests may run in this process at the same time (always true in Node). */
  'tsgi.multithread': boolean;
  /** True when other processes may run the same application. */
  'tsgi.multiprocess': boolean;
  /** True when the server expects to call the application once only (CGI-like). */
  'tsgi.run_once': boolean;

  [key: `HTTP_${string}`]: string | undefined;
  [key: string]: unknown;
}

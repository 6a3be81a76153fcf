/**
 * The per-request object of `tsgi web`: what every phase of the request pipeline reads and
 * changes (nginx's `ngx_http_request_t`), and the seams where the modules of the web server plug
 * in (variables, logs, gzip, limits, stub_status, the `*_pass` handlers).
 *
 * One request goes through nginx's fixed phases (see src/web/phases/README.md):
 *
 *   read head ─▶ find server ─▶ SERVER_REWRITE ─▶ FIND_CONFIG ─▶ REWRITE ─▶ POST_REWRITE
 *     ─▶ PREACCESS (limit_req, limit_conn) ─▶ ACCESS (allow/deny) ─▶ TRY_FILES ─▶ CONTENT
 *     ─▶ header filters (add_header, expires, gzip...) ─▶ body ─▶ LOG (access_log)
 *
 * Who writes what, so a module knows what it may rely on:
 *
 *   field                       set by                    changes during the request
 *   connection, startMs, head   the connection            never
 *   server, serverName          server selection          never (chosen once, by Host)
 *   uri, args, exten            the request line          rewrite, internal redirects, try_files, index
 *   location, loc               FIND_CONFIG               each time the location is found again
 *   captures                    regex location / server   each regex match (location, rewrite, if)
 *   status                      whoever finalizes         content, error_page (`=code`)
 *   response counters           the response writer       while the body is sent
 *
 * Strings that come from the wire (uri, args, requestUri, header values) are byte strings: one
 * char per byte (src/web/match/bytes.ts), as nginx keeps `u_char *`.
 *
 * The interfaces below the context (VariableEngine, ErrorLog, AccessLog, PhaseHandler,
 * ResponseFilter, ContentHandler) are implemented by the modules in src/web/variables.ts,
 * src/web/log/, src/web/gzip.ts, src/web/limits/, src/web/stub-status.ts and the upstream
 * handlers; the server assembles them into one `WebModules` per configuration generation.
 */
import type { Socket } from 'node:net';
import { TsgiError } from '../errors.js';
import type { CancelSignal } from '../upstream/types.js';
import type { Captures } from './match/index.js';
import type { ListenConf, LocationConf, LogLevel, NginxConfig, PerLocation, ServerConf } from './config/index.js';

// ---------------------------------------------------------------------------------------------
// Small shapes
// ---------------------------------------------------------------------------------------------

/** One header: name as sent (or as the server writes it), value as a byte string. */
export type HeaderPair = readonly [name: string, value: string];

/** The request headers (nginx's `headers_in`), in the order received. */
export interface RequestHeaders {
  /** Every field line, as received, duplicates included. */
  readonly list: readonly HeaderPair[];
  /** The first value of a header, by case-insensitive name (`get('user-agent')`); undefined if absent. */
  get(name: string): string | undefined;
  /** Every value of a header, by case-insensitive name, in order (empty when absent). */
  getAll(name: string): readonly string[];
}

/**
 * One client connection (nginx's `ngx_connection_t` as the HTTP module sees it). Shared by every
 * request made on it (keep-alive, pipelining).
 */
export interface ConnectionInfo {
  /** `$connection`: the connection's serial number in this worker (nginx: per worker too). */
  readonly serial: number;
  /** `$connection_requests`: requests made on this connection so far, this one included. */
  readonly requests: number;
  /** `$remote_addr` ('127.0.0.1', '::1'; 'unix:' for a UNIX socket, as nginx). */
  readonly remoteAddr: string;
  /** `$remote_port` ('' on a UNIX socket). */
  readonly remotePort: string;
  /** `$server_addr` (the local address of the connection; the socket path's `unix:` form for UNIX). */
  readonly serverAddr: string;
  /** `$server_port` ('' on a UNIX socket). */
  readonly serverPort: string;
  /** The `listen` the connection was accepted on. */
  readonly listen: ListenConf;
  /** When the connection was accepted (ms since the epoch): `$connection_time`. */
  readonly acceptedMs: number;
}

/**
 * The connection counters nginx's stub_status shows, for this worker (`ngx_stat_*`). A worker
 * only sees its own; `WorkerInfo.collectCounters()` sums them over all workers.
 */
export interface ServerCounters {
  /** Connections open now (reading + writing + waiting, as nginx counts them). */
  active: number;
  /** Connections accepted since the worker started. */
  accepts: number;
  /** Connections handled (nginx: accepts minus those dropped at worker_connections). */
  handled: number;
  /** Requests started since the worker started. */
  requests: number;
  /** Connections reading a request head. */
  reading: number;
  /** Connections with a request in progress (after the head, until the response is sent). */
  writing: number;
  /** Idle keep-alive connections. */
  waiting: number;
}

/** The worker process serving the request: `$pid`, and what only the master can answer. */
export interface WorkerInfo {
  /** `$pid`. */
  readonly pid: number;
  /** The worker's slot number (0..worker_processes-1). */
  readonly slot: number;
  /** This worker's counters (live object: read it, do not keep a copy). */
  readonly counters: Readonly<ServerCounters>;
  /** The counters summed over every worker of the master (asks the master; a lone worker answers alone). */
  collectCounters(): Promise<ServerCounters>;
}

// ---------------------------------------------------------------------------------------------
// Request body (read by content handlers that need it: *_pass)
// ---------------------------------------------------------------------------------------------

/** The whole request body, as `RequestBodyReader.read()` leaves it. */
export type ReadBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'buffer'; readonly data: Buffer }
  /** Spilled to a file under client_body_temp_path (the file is removed when the request ends). */
  | { readonly kind: 'file'; readonly path: string; readonly size: number };

/** Where `read()` keeps a body: the location's client_body_* settings and the request's end. */
export interface BodyStorage {
  /** client_body_buffer_size: a longer body is written to a file. */
  readonly bufferSize: number;
  /** client_body_temp_path. */
  readonly tempPath: { readonly path: string; readonly levels: readonly number[] };
  /** client_body_in_file_only: `on` keeps the file after the request, `clean` removes it. */
  readonly inFileOnly: 'off' | 'on' | 'clean';
  /** Registers the file's removal (RequestContext.onDone). */
  onDone(cleanup: () => void): void;
}

/**
 * The request body. A handler uses either `read()` (nginx's request buffering: the whole body
 * first, so a slow client never holds an upstream) or `stream()` (`*_request_buffering off`),
 * never both. Limits (client_max_body_size → 413, client_body_timeout → 408) are enforced by
 * the connection whichever is used; a violation rejects the promise / ends the iteration with a
 * `RequestBodyError` carrying the status.
 */
export interface RequestBodyReader {
  /** Content-Length, or -1 for a chunked body (0 when there is no body). */
  readonly contentLength: number;
  readonly chunked: boolean;
  /** True when the request has a body at all. */
  readonly present: boolean;
  /** Without `storage` the whole body is kept in memory; with it, a body past
   *  `storage.bufferSize` goes to a temp file (nginx's client_body_buffer_size / temp_path). */
  read(storage?: BodyStorage): Promise<ReadBody>;
  stream(): AsyncIterable<Buffer>;
  /** Reads and drops the body (nginx's discard_request_body), so the connection can be reused. */
  discard(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/** A slice of a file: bytes [start, end) of `path` (a byte string), optionally already open. */
export interface FileBodySlice {
  readonly kind: 'file';
  readonly path: string;
  readonly fd?: number;
  readonly start: number;
  readonly end: number;
}

/**
 * A response body. `none` for HEAD/304/204 and for bodiless statuses; `stream` for bodies made
 * while they are sent (upstream responses, gzip output); a stream without Content-Length is sent
 * chunked to HTTP/1.1 clients and close-delimited to HTTP/1.0 ones, as nginx does.
 */
export type ResponseBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'buffer'; readonly data: Buffer }
  | FileBodySlice
  | { readonly kind: 'multipart'; readonly parts: readonly (Buffer | FileBodySlice)[] }
  | { readonly kind: 'stream'; readonly chunks: AsyncIterable<Buffer> };

/**
 * A response about to be sent. Headers are the entity and module headers in the order nginx
 * sends them (Content-Type, Content-Length, Last-Modified, Location, ETag...); Server, Date and
 * Connection are added by the writer, and Transfer-Encoding by the framing. Filters may replace
 * headers, status and body.
 */
export interface OutgoingResponse {
  status: number;
  headers: HeaderPair[];
  body: ResponseBody;
  /**
   * False for responses nginx makes itself (its error pages, `return` with text): add_header
   * without `always` still applies to them when the status allows it; kept for filters that
   * must tell generated pages from files (gzip_static).
   */
  readonly fromFile?: boolean;
}

// ---------------------------------------------------------------------------------------------
// The request
// ---------------------------------------------------------------------------------------------

/** What the request line said (never changes). */
export interface RequestHeadFacts {
  /** The method as sent (see `RequestContext.method` for the one in force). */
  readonly method: string;
  /** `$request`: the request line without its line end ('GET /a?b HTTP/1.1'). */
  readonly requestLine: string;
  /** `$request_uri`: the target as sent, from the path on. */
  readonly requestUri: string;
  /** `$server_protocol`: 'HTTP/1.0' or 'HTTP/1.1'. */
  readonly protocol: 'HTTP/1.0' | 'HTTP/1.1';
  /** nginx's r->http_version: 1000 or 1001. */
  readonly httpVersion: 1000 | 1001;
  /** Bytes of the head (request line + headers + blank line): the start of `$request_length`. */
  readonly headLength: number;
}

/**
 * The request as every phase sees it. Mutable fields are mutated only by the pipeline (see the
 * table at the top of this file); modules read them, and write only their own state through
 * `variables` / `onDone`.
 */
export interface RequestContext {
  readonly connection: ConnectionInfo;
  readonly worker: WorkerInfo;
  /** When the request's first byte arrived (ms since the epoch, with a fraction): `$request_time`. */
  readonly startMs: number;
  readonly head: RequestHeadFacts;
  readonly headers: RequestHeaders;
  /** `$scheme` (tsgi web serves plain HTTP). */
  readonly scheme: 'http';

  /** `$host`: the host of an absolute-form target, else the Host header, lower-cased, without port; else the server's name. */
  readonly host: string;
  /** The `server {}` that took the request. */
  readonly server: ServerConf;
  /** `$server_name`: the server's first name. */
  readonly serverName: string;

  /** `$request_method` as it is now: an error_page redirect turns anything but HEAD into GET. */
  method: string;
  /** `$uri` / `$document_uri`: normalised, changed by rewrites and internal redirects. */
  uri: string;
  /** `$args` / `$query_string`. */
  args: string;
  /** The extension of `uri`'s last segment ('' if none): nginx's r->exten, used for MIME types. */
  exten: string;
  /** True after an internal redirect (rewrite last, try_files, index, error_page): `internal` locations accept it. */
  internal: boolean;
  /** Internal redirects made so far (nginx gives 500 "rewrite or internal redirection cycle" past 10). */
  redirects: number;
  /**
   * nginx's r->valid_unparsed_uri: false once a rewrite, an internal redirect or `set $args`
   * changed the URI, so proxy_pass without a URI part sends `$uri?$args` instead of the target
   * as the client sent it. Undefined reads as true.
   */
  validUnparsedUri?: boolean;
  /**
   * nginx's r->valid_location: false after `rewrite ... break` changed the URI, so proxy_pass
   * ignores its URI part and sends the rewritten URI whole. Undefined reads as true.
   */
  validLocation?: boolean;

  /** The location found by FIND_CONFIG; null when none matched (the server's own settings apply). */
  location: LocationConf | null;
  /**
   * The settings in force: the location's, or those of the `if` block that matched last, or the
   * `limit_except` block's, or the server's when no location matched.
   */
  loc: PerLocation;
  /** $1..$9 and named captures of the last regex that matched (location, server_name, rewrite, if). */
  captures: Captures;
  /** Variables made by `set` and named captures, by lower-case name. */
  readonly variables: Map<string, string>;

  /** The status of the response (0 until one is decided): `$status`. */
  status: number;
  /** Response headers as finally sent (after filters), for `$sent_http_NAME`; empty until then. */
  sentHeaders: readonly HeaderPair[];
  /** `$body_bytes_sent`: body bytes written so far. */
  bodyBytesSent: number;
  /** `$bytes_sent`: head + body bytes written so far. */
  bytesSent: number;
  /** `$request_length`: head + body bytes read. */
  requestLength: number;
  /** `$request_completion`: the response was sent completely. */
  completed: boolean;

  readonly body: RequestBodyReader;
  /** The modules of this configuration generation (variables, logs, filters, handlers). */
  readonly modules: WebModules;
  /** The whole configuration of this generation. */
  readonly config: NginxConfig;

  /**
   * Aborted when the client closes its side while the request is in progress (nginx's
   * ngx_http_upstream_check_broken_connection: a read of 0 bytes means the client is gone), or
   * when the connection drops. The *_pass handler stops its upstream request on it.
   */
  readonly clientGone?: CancelSignal;
  /** Runs `cleanup` once the request is over (sent, failed or aborted): limit_conn releases here. */
  onDone(cleanup: () => void): void;
  /** Logs to the error log of the location in force, with nginx's request trailer. */
  log(level: LogLevel, message: string): void;
}

// ---------------------------------------------------------------------------------------------
// Module seams
// ---------------------------------------------------------------------------------------------

/**
 * Variables (src/web/variables.ts). Values are byte strings. `get` answers null for "not found"
 * (nginx's not_found: an empty string in templates, false in `if ($x)`).
 */
export interface VariableEngine {
  get(ctx: RequestContext, name: string): string | null;
  /** A configuration value with `$name`, `${name}` and `$1`..`$9`, expanded for this request. */
  expand(ctx: RequestContext, template: string): string;
}

/** The error log (src/web/log/): nginx's line layout, levels from `error_log`. */
export interface ErrorLog {
  /**
   * Logs `message` at `level` when the log's level lets it through. With a request, nginx's
   * trailer follows (`, client: ..., server: ..., request: "...", host: "..."`) and the
   * connection number (`*N`) precedes the message.
   */
  log(level: LogLevel, message: string, ctx?: RequestContext): void;
  /** USR1: reopen the files. */
  reopen(): void;
  close(): void;
}

/** The access log (src/web/log/): writes one line per request, for the location's `access_log`s. */
export interface AccessLog {
  write(ctx: RequestContext): void;
  reopen(): void;
  /** Flushes buffered lines (`buffer=`) and closes the files. */
  close(): Promise<void>;
}

/** What a phase handler decides. */
export type PhaseResult =
  /** Go on with the next handler / phase. */
  | { readonly kind: 'next' }
  /** Finalize the request with this status (error_page applies): 403, 429, 503... */
  | { readonly kind: 'status'; readonly status: number };

/** A handler of the PREACCESS or ACCESS phase (limit_req, limit_conn, access modules). */
export interface PhaseHandler {
  readonly name: string;
  run(ctx: RequestContext): PhaseResult | Promise<PhaseResult>;
  /**
   * True when run() passes every request under these settings on untouched (no variable set,
   * no cleanup): the server's fast path for static files may then skip the phase. Absent: never.
   */
  idleFor?(loc: PerLocation): boolean;
}

/**
 * A header/body filter (nginx's output filter chain), run in order after the content phase and
 * after add_header/expires: gzip is one. Returns the response to send (the same object changed,
 * or a new one).
 */
export interface ResponseFilter {
  readonly name: string;
  apply(ctx: RequestContext, response: OutgoingResponse): OutgoingResponse | Promise<OutgoingResponse>;
  /** True when apply() returns every response under these settings as it is (see PhaseHandler.idleFor). */
  idleFor?(loc: PerLocation): boolean;
}

/** What a content handler produced. */
export type ContentResult =
  /** Send this response. */
  | { readonly kind: 'response'; readonly response: OutgoingResponse }
  /** Finalize with a status: error_page applies, else nginx's default page. */
  | { readonly kind: 'status'; readonly status: number; readonly headers?: readonly HeaderPair[] }
  /** Find the location again for this URI (index, try_files fallback, X-Accel-Redirect). */
  | { readonly kind: 'internalRedirect'; readonly uri: string; readonly args: string }
  /** Run a named location (try_files @name). */
  | { readonly kind: 'namedLocation'; readonly name: string }
  /**
   * The handler takes the socket over (WebSocket after an upstream's 101): the connection stops
   * parsing and hands over the socket and any bytes already read after the request.
   */
  | { readonly kind: 'takeover'; run(socket: Socket, pending: Buffer): void };

/**
 * A content handler that a location selects (nginx's clcf->handler): `proxy_pass`, `uwsgi_pass`,
 * `fastcgi_pass`, `scgi_pass`, `stub_status`. A location whose settings no handler claims is
 * served by the static module.
 */
export interface ContentHandler {
  readonly name: string;
  /** True when this handler serves requests for these settings (e.g. `loc.uwsgi.pass !== null`). */
  claims(location: LocationConf | null, loc: PerLocation): boolean;
  handle(ctx: RequestContext): Promise<ContentResult>;
}

/**
 * Everything pluggable, for one configuration generation. Built by the worker when it loads a
 * configuration (again on reload) with `createWebModules` (src/web/server/modules.ts), which
 * falls back to no-op logs and built-in minimal variables until the real modules exist.
 */
export interface WebModules {
  readonly variables: VariableEngine;
  readonly errorLog: ErrorLog;
  readonly accessLog: AccessLog;
  /** PREACCESS phase (limit_req, limit_conn), in order. */
  readonly preaccess: readonly PhaseHandler[];
  /** Filters after add_header/expires (gzip), in order. */
  readonly filters: readonly ResponseFilter[];
  /** Content handlers, asked in order; the first that claims a location serves it. */
  readonly content: readonly ContentHandler[];
  /** Releases what the modules hold (files, timers, upstream pools) when a generation retires. */
  close(): Promise<void>;
}

/**
 * How the modules are made: each module file exports a factory of this shape (e.g.
 * `createAccessLog: ModuleFactory<AccessLog>`), called once per configuration generation in every
 * worker. Factories must not start timers or open files at import time, only when called.
 */
export type ModuleFactory<T> = (config: NginxConfig, env: ModuleEnv) => T;

/** What a module factory gets besides the configuration. */
export interface ModuleEnv {
  /** The variables, for modules that expand templates (access_log formats, limit zone keys). */
  readonly variables: VariableEngine;
  /** The error log, for modules that report (limit_req's "limiting requests"). */
  readonly errorLog: ErrorLog;
  readonly worker: WorkerInfo;
}

/** A request body limit or timeout: the status to finalize with (413, 408, 400). */
export class RequestBodyError extends TsgiError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super('ERR_REQUEST_BODY', message);
  }
}

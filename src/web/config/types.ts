/**
 * The typed configuration `tsgi web` runs from, built from nginx.conf by `load.ts`.
 *
 * The shape follows nginx's own split of a configuration into levels:
 *
 *     MainConf            main context + events {}            (ngx_core_module, ngx_events_module)
 *     HttpConf            http {} settings that exist once     (NGX_HTTP_MAIN_CONF: log_format, zones, upstreams)
 *     ServerConf          one server {}                        (NGX_HTTP_SRV_CONF: listen, server_name, header buffers)
 *       .loc              the location-level settings written in the server (or inherited from http),
 *                         used when no location matches; the server-level rewrite script lives here
 *       .locations[]      LocationConf, in the order written, nested ones inside their parent
 *     LocationConf        one location {} (NGX_HTTP_LOC_CONF), with settings per module:
 *       .settings         LocationSettings (core, static files, rewrite, access, logs, gzip, headers, limits)
 *       .proxy .uwsgi .fastcgi .scgi    ProxySettings / UwsgiSettings / ... (the *_pass modules)
 *
 * Every settings object is fully merged: a value not written at a level is inherited from the
 * enclosing level, or takes nginx's default, exactly as nginx's merge functions do. Lists such as
 * `add_header`, `error_page`, `*_param`, `proxy_set_header`, `allow`/`deny` are inherited only when
 * the inner level writes none of them. A few settings are never inherited (nginx attaches them to
 * one location): `try_files`, `*_pass`, `stub_status`, the rewrite script (`return`, `rewrite`,
 * `set`, `break`, `if`).
 *
 * Units: sizes in bytes, `...Ms` fields in milliseconds, `...Sec` fields in seconds. Paths are
 * absolute (nginx's rule: a relative path is taken from the prefix, `-p`). Values that contain
 * variables (`$host`) are kept as the template text, to be evaluated per request.
 */
import type { ConfigWarning } from './errors.js';

/** Where a directive or block was written: nginx's reporting line (its `;` or `{`). */
export interface SourcePosition {
  readonly file: string | null;
  readonly line: number;
}

// ---------------------------------------------------------------------------------------------
// main and events
// ---------------------------------------------------------------------------------------------

/** nginx's log levels, lowest to highest. */
export const LOG_LEVELS = ['debug', 'info', 'notice', 'warn', 'error', 'crit', 'alert', 'emerg'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One `error_log` destination. */
export interface ErrorLogEntry {
  /** An absolute file path, `stderr`, `syslog:...` or `memory:SIZE`, as nginx accepts them. */
  readonly target: string;
  /** Messages at this level and above are written. */
  readonly level: LogLevel;
}

/** `user USER [GROUP]`. */
export interface UserSetting {
  readonly user: string;
  readonly group: string;
}

/** The `events {}` block. */
export interface EventsSettings {
  /** `worker_connections`: connections per worker (512). */
  readonly workerConnections: number;
  /** `use`: the event method asked for (epoll...), or null to let the runtime pick. */
  readonly use: string | null;
  /** `multi_accept` (off). */
  readonly multiAccept: boolean;
  /** `accept_mutex` (off). */
  readonly acceptMutex: boolean;
  /** `accept_mutex_delay` in ms (500). */
  readonly acceptMutexDelayMs: number;
  /** `debug_connection` addresses. */
  readonly debugConnection: readonly string[];
  /** `worker_aio_requests` (32). */
  readonly workerAioRequests: number;
}

/** The main context. */
export interface MainSettings {
  /** `daemon` (on). */
  readonly daemon: boolean;
  /** `master_process` (on). */
  readonly masterProcess: boolean;
  /** `worker_processes`: a count, or `auto` for one per CPU (1). */
  readonly workerProcesses: number | 'auto';
  /** `pid`: the pid file (PREFIX/logs/nginx.pid). */
  readonly pid: string;
  /** `lock_file` (PREFIX/logs/nginx.lock). */
  readonly lockFile: string;
  /** `user` (null: the user tsgi runs as). */
  readonly user: UserSetting | null;
  /** `error_log` entries of the main context (PREFIX/logs/error.log at `error`). */
  readonly errorLog: readonly ErrorLogEntry[];
  /** `worker_rlimit_nofile` (null: unchanged). */
  readonly workerRlimitNofile: number | null;
  /** `worker_rlimit_core` in bytes (null: unchanged). */
  readonly workerRlimitCore: number | null;
  /** `worker_shutdown_timeout` in ms (null: wait for requests to finish). */
  readonly workerShutdownTimeoutMs: number | null;
  /** `worker_priority` (0). */
  readonly workerPriority: number;
  /** `worker_cpu_affinity` words as written (empty: none). */
  readonly workerCpuAffinity: readonly string[];
  /** `working_directory` (null: unchanged). */
  readonly workingDirectory: string | null;
  /** `env NAME[=VALUE]` entries, in order. */
  readonly env: readonly string[];
  /** `timer_resolution` in ms (0: none). */
  readonly timerResolutionMs: number;
  /** `pcre_jit` (off). */
  readonly pcreJit: boolean;
  /** `debug_points` (null). */
  readonly debugPoints: 'stop' | 'abort' | null;
  /** `thread_pool NAME threads=N [max_queue=N]` entries. */
  readonly threadPools: readonly { readonly name: string; readonly threads: number; readonly maxQueue: number }[];
  /** `load_module` paths, accepted and ignored: tsgi has no dynamic modules. */
  readonly loadModules: readonly string[];
}

/** Everything outside `http {}`. */
export interface MainConf extends MainSettings {
  readonly events: EventsSettings;
}

// ---------------------------------------------------------------------------------------------
// http {} once: log formats, zones, maps, upstreams
// ---------------------------------------------------------------------------------------------

/** `log_format NAME [escape=default|json|none] STRING...`. */
export interface LogFormat {
  readonly name: string;
  readonly escape: 'default' | 'json' | 'none';
  /** The format strings joined, as nginx joins them (no separator). */
  readonly format: string;
  readonly position: SourcePosition | null;
}

/** `limit_req_zone KEY zone=NAME:SIZE rate=R[r/s|r/m] [sync]`. */
export interface LimitReqZone {
  readonly name: string;
  readonly key: string;
  /** Shared memory size in bytes (tsgi keeps the state in the master; the size bounds it). */
  readonly size: number;
  /** Requests per second, as a float (`1r/m` is 1/60). */
  readonly ratePerSecond: number;
  readonly position: SourcePosition;
}

/** `limit_conn_zone KEY zone=NAME:SIZE`. */
export interface LimitConnZone {
  readonly name: string;
  readonly key: string;
  readonly size: number;
  readonly position: SourcePosition;
}

/** `map SOURCE $VARIABLE { ... }`. */
export interface MapConf {
  readonly source: string;
  /** The variable defined, without `$`. */
  readonly variable: string;
  readonly default: string;
  readonly hostnames: boolean;
  readonly volatile: boolean;
  /** Entries in the order written; regexes start with `~` (or `~*`), as in nginx. */
  readonly entries: readonly { readonly key: string; readonly value: string }[];
  readonly position: SourcePosition;
}

/** `*_cache_path` declarations, stored for the cache layer (not built yet). */
export interface CachePathConf {
  readonly module: 'proxy' | 'uwsgi' | 'fastcgi' | 'scgi';
  readonly path: string;
  /** The parameters as written (`levels=1:2`, `keys_zone=NAME:SIZE`...). */
  readonly params: readonly string[];
}

/** Settings of `http {}` that exist once (NGX_HTTP_MAIN_CONF). */
export interface HttpSettings {
  /** `server_names_hash_max_size` (512). */
  readonly serverNamesHashMaxSize: number;
  /** `server_names_hash_bucket_size` (64 on x86-64). */
  readonly serverNamesHashBucketSize: number;
  /** `variables_hash_max_size` (1024). */
  readonly variablesHashMaxSize: number;
  /** `variables_hash_bucket_size` (64). */
  readonly variablesHashBucketSize: number;
  /** `log_format`s by name; `combined` is always there. */
  readonly logFormats: ReadonlyMap<string, LogFormat>;
  /** `limit_req_zone`s by zone name. */
  readonly limitReqZones: ReadonlyMap<string, LimitReqZone>;
  /** `limit_conn_zone`s by zone name. */
  readonly limitConnZones: ReadonlyMap<string, LimitConnZone>;
  /** `map` blocks, in order. */
  readonly maps: readonly MapConf[];
  /** `proxy_cache_path` and friends. */
  readonly cachePaths: readonly CachePathConf[];
}

// ---------------------------------------------------------------------------------------------
// upstream {}
// ---------------------------------------------------------------------------------------------

/** An address a server may be reached at. `host` is kept when it is a name resolved later. */
export type PeerAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly ipVersion: 0 | 4 | 6; readonly text: string }
  | { readonly kind: 'unix'; readonly path: string; readonly text: string };

/** One `server ADDRESS [weight=N] [max_conns=N] [max_fails=N] [fail_timeout=T] [backup] [down]`. */
export interface UpstreamServer {
  /** The address as written. */
  readonly name: string;
  readonly address: PeerAddress;
  /** `weight` (1). */
  readonly weight: number;
  /** `max_conns` (0: unlimited). */
  readonly maxConns: number;
  /** `max_fails` (1; 0 disables the accounting). */
  readonly maxFails: number;
  /** `fail_timeout` in seconds (10). */
  readonly failTimeoutSec: number;
  readonly backup: boolean;
  readonly down: boolean;
  readonly position: SourcePosition;
}

/** How a group picks a server. */
export type BalancerConf =
  | { readonly method: 'round-robin' }
  | { readonly method: 'least_conn' }
  | { readonly method: 'ip_hash' }
  | { readonly method: 'hash'; readonly key: string; readonly consistent: boolean }
  | { readonly method: 'random'; readonly two: boolean; readonly twoMethod: 'least_conn' | null };

/** Settings written inside `upstream {}`. */
export interface UpstreamSettings {
  readonly servers: readonly UpstreamServer[];
  readonly balancer: BalancerConf;
  /** `keepalive N`: idle connections kept per worker (null: no pool). */
  readonly keepalive: number | null;
  /** `keepalive_requests` (1000). */
  readonly keepaliveRequests: number;
  /** `keepalive_time` in ms (1h). */
  readonly keepaliveTimeMs: number;
  /** `keepalive_timeout` in ms (60s). */
  readonly keepaliveTimeoutMs: number;
  /** `zone NAME [SIZE]` (null: none). */
  readonly zone: { readonly name: string; readonly size: number | null } | null;
}

/** An upstream group: an `upstream NAME {}` block, or one nginx makes for a `*_pass ADDRESS`. */
export interface UpstreamConf extends UpstreamSettings {
  readonly name: string;
  /** True for the groups made from a `*_pass` address rather than an `upstream` block. */
  readonly implicit: boolean;
  readonly position: SourcePosition;
}

// ---------------------------------------------------------------------------------------------
// server {}
// ---------------------------------------------------------------------------------------------

/** One `listen` (or the implicit `*:80`/`*:8000` of a server without one). */
export interface ListenConf {
  /** What to bind: a TCP address (`host` is `0.0.0.0`/`::` for a wildcard) or a UNIX socket. */
  readonly address: PeerAddress;
  /** nginx's text for it, used in its messages: `0.0.0.0:80`, `[::]:80`, `unix:/run/x.sock`. */
  readonly text: string;
  readonly wildcard: boolean;
  readonly defaultServer: boolean;
  /** `backlog=N` (511, nginx's NGX_LISTEN_BACKLOG on Linux). */
  readonly backlog: number;
  readonly rcvbuf: number | null;
  readonly sndbuf: number | null;
  readonly bind: boolean;
  readonly reuseport: boolean;
  readonly deferred: boolean;
  readonly ipv6only: boolean;
  readonly ssl: boolean;
  readonly http2: boolean;
  readonly proxyProtocol: boolean;
  readonly soKeepalive: string | null;
  /** True for the `listen` nginx adds to a server that has none. */
  readonly implicit: boolean;
  readonly position: SourcePosition | null;
}

/** One `server_name`: an exact name, a wildcard (`*.example.com`, `www.example.*`, `.example.com`) or a regex. */
export interface ServerNameConf {
  /** The name as nginx keeps it: lower-cased unless it is a regex; a regex without its `~`. */
  readonly name: string;
  readonly kind: 'exact' | 'wildcard-start' | 'wildcard-end' | 'dot' | 'regex';
}

/** SSL settings (NGX_HTTP_SRV_CONF of ngx_http_ssl_module), stored; TLS is not served yet. */
export interface SslSettings {
  readonly ssl: boolean;
  readonly certificates: readonly string[];
  readonly certificateKeys: readonly string[];
  readonly protocols: readonly string[];
  readonly ciphers: string;
  readonly preferServerCiphers: boolean;
  readonly sessionCache: readonly string[];
  readonly sessionTimeoutSec: number;
  readonly sessionTickets: boolean;
  readonly dhparam: string | null;
  readonly trustedCertificate: string | null;
  readonly clientCertificate: string | null;
  readonly verifyClient: 'on' | 'off' | 'optional' | 'optional_no_ca';
  readonly stapling: boolean;
  readonly staplingVerify: boolean;
  readonly ecdhCurve: string;
  readonly passwordFile: string | null;
  readonly bufferSize: number;
  readonly earlyData: boolean;
}

/** Settings of one server (NGX_HTTP_SRV_CONF), merged from `http {}`. */
export interface ServerSettings extends SslSettings {
  /** `client_header_timeout` in ms (60s). */
  readonly clientHeaderTimeoutMs: number;
  /** `client_header_buffer_size` (1k). */
  readonly clientHeaderBufferSize: number;
  /** `large_client_header_buffers NUMBER SIZE` (4 8k). */
  readonly largeClientHeaderBuffers: { readonly number: number; readonly size: number };
  /** `connection_pool_size` (512 on 64-bit). */
  readonly connectionPoolSize: number;
  /** `request_pool_size` (4k). */
  readonly requestPoolSize: number;
  /** `ignore_invalid_headers` (on). */
  readonly ignoreInvalidHeaders: boolean;
  /** `merge_slashes` (on). */
  readonly mergeSlashes: boolean;
  /** `underscores_in_headers` (off). */
  readonly underscoresInHeaders: boolean;
  /** `http2_max_concurrent_streams` (128). */
  readonly http2MaxConcurrentStreams: number;
}

// ---------------------------------------------------------------------------------------------
// location-level settings
// ---------------------------------------------------------------------------------------------

/** `root PATH` or `alias PATH` (one slot in nginx: writing both is an error). */
export interface RootSetting {
  readonly kind: 'root' | 'alias';
  /** Absolute unless it starts with a variable; a root loses its trailing `/`, an alias keeps it. */
  readonly path: string;
  readonly hasVariables: boolean;
}

/** One `error_page CODE... [=[RESPONSE]] URI`. */
export interface ErrorPageEntry {
  readonly status: number;
  /** null: keep the status; 0: take the status of the page (`=` alone); N: answer N. */
  readonly overwrite: number | null;
  /** The target: a URI, `@named` location, or an absolute URL (a redirect). */
  readonly uri: string;
  /** The query part of a static URI, split off as nginx does. */
  readonly args: string | null;
}

/** `allow` / `deny` rule, in order. */
export interface AccessRule {
  readonly action: 'allow' | 'deny';
  /** `all`, an address, a CIDR, or `unix:`. */
  readonly address: string;
  /** Parsed form: null for `all` and `unix:`. */
  readonly cidr: { readonly ipVersion: 4 | 6; readonly address: string; readonly prefixLength: number } | null;
}

/** One `access_log PATH [FORMAT [buffer=SIZE] [gzip[=LEVEL]] [flush=TIME] [if=CONDITION]]`. */
export interface AccessLogEntry {
  /** An absolute path (may contain variables), or `syslog:...`. */
  readonly path: string;
  readonly format: string;
  readonly buffer: number | null;
  readonly gzip: number | null;
  readonly flushMs: number | null;
  readonly condition: string | null;
}

/** `expires`. `modified` counts from the file's mtime, `daily` is a time of day. */
export type ExpiresSetting =
  | { readonly mode: 'off' }
  | { readonly mode: 'epoch' }
  | { readonly mode: 'max' }
  | { readonly mode: 'access' | 'modified'; readonly seconds: number }
  | { readonly mode: 'daily'; readonly secondsOfDay: number }
  | { readonly mode: 'variable'; readonly template: string };

/** `add_header NAME VALUE [always]` (and `add_trailer`). */
export interface HeaderEntry {
  readonly name: string;
  readonly value: string;
  readonly always: boolean;
}

/** `limit_req zone=NAME [burst=N] [nodelay | delay=N]`. */
export interface LimitReqEntry {
  readonly zone: string;
  readonly burst: number;
  /** Requests served without delay within the burst: 0 by default, all with `nodelay`. */
  readonly delay: number | 'nodelay';
}

/** `limit_conn ZONE NUMBER`. */
export interface LimitConnEntry {
  readonly zone: string;
  readonly number: number;
}

/** `open_file_cache max=N [inactive=TIME]`, or off (null). */
export interface OpenFileCacheSetting {
  readonly max: number;
  readonly inactiveSec: number;
}

/** `if (...)` condition, parsed as nginx parses it. */
export type IfCondition =
  | { readonly kind: 'variable'; readonly variable: string }
  | { readonly kind: 'compare'; readonly variable: string; readonly negate: boolean; readonly value: string }
  | { readonly kind: 'regex'; readonly variable: string; readonly negate: boolean; readonly caseless: boolean; readonly pattern: string }
  | { readonly kind: 'file'; readonly test: 'f' | 'd' | 'e' | 'x'; readonly negate: boolean; readonly path: string };

/** One statement of the rewrite module's script, in order (nginx compiles them into one code array). */
export type RewriteStep =
  | { readonly op: 'return'; readonly status: number; readonly text: string | null; readonly position: SourcePosition }
  | {
      readonly op: 'rewrite';
      readonly pattern: string;
      readonly replacement: string;
      readonly flag: 'last' | 'break' | 'redirect' | 'permanent' | null;
      readonly position: SourcePosition;
    }
  | { readonly op: 'set'; readonly variable: string; readonly value: string; readonly position: SourcePosition }
  | { readonly op: 'break'; readonly position: SourcePosition }
  | { readonly op: 'if'; readonly condition: IfCondition; readonly block: IfConf; readonly position: SourcePosition };

/** The body of an `if`: its own statements, and (inside a location) the settings it changes. */
export interface IfConf {
  readonly steps: readonly RewriteStep[];
  /** For `if` in a location: the location's settings overridden by what the block sets; null in a server. */
  readonly loc: PerLocation | null;
}

/** Per-location settings of the core, static, rewrite, access, log, gzip, headers and limit modules. */
export interface LocationSettings {
  // paths and files
  readonly root: RootSetting;
  /** `index` (index.html). */
  readonly index: readonly string[];
  /** `try_files` (not inherited). */
  readonly tryFiles: readonly string[] | null;
  readonly autoindex: boolean;
  readonly autoindexExactSize: boolean;
  readonly autoindexFormat: 'html' | 'xml' | 'json' | 'jsonp';
  readonly autoindexLocaltime: boolean;
  /** `types {}`: extension (lower case) to MIME type. Default: html, gif, jpg. */
  readonly types: ReadonlyMap<string, string>;
  /** `default_type` (text/plain). */
  readonly defaultType: string;
  readonly typesHashMaxSize: number;
  readonly typesHashBucketSize: number;
  readonly internal: boolean;
  readonly disableSymlinks: { readonly mode: 'off' | 'on' | 'if_not_owner'; readonly from: string | null };
  readonly openFileCache: OpenFileCacheSetting | null;
  readonly openFileCacheValidSec: number;
  readonly openFileCacheMinUses: number;
  readonly openFileCacheErrors: boolean;
  readonly openFileCacheEvents: boolean;
  // request body
  readonly clientMaxBodySize: number;
  readonly clientBodyBufferSize: number;
  readonly clientBodyTimeoutMs: number;
  readonly clientBodyTempPath: { readonly path: string; readonly levels: readonly number[] };
  readonly clientBodyInFileOnly: 'off' | 'on' | 'clean';
  readonly clientBodyInSingleBuffer: boolean;
  // sending
  readonly sendfile: boolean;
  readonly sendfileMaxChunk: number;
  readonly subrequestOutputBufferSize: number;
  readonly aio: string;
  readonly aioWrite: boolean;
  readonly readAhead: number;
  /** `directio` size in bytes, null for off. */
  readonly directio: number | null;
  readonly directioAlignment: number;
  readonly tcpNopush: boolean;
  readonly tcpNodelay: boolean;
  readonly sendTimeoutMs: number;
  readonly sendLowat: number;
  readonly postponeOutput: number;
  /** `limit_rate`: bytes per second, or a template with variables; 0 is unlimited. */
  readonly limitRate: number | string;
  readonly limitRateAfter: number | string;
  readonly maxRanges: number | null;
  readonly chunkedTransferEncoding: boolean;
  // connections
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  /** The second `keepalive_timeout` value: the `Keep-Alive: timeout=N` header, or null for none. */
  readonly keepaliveHeaderSec: number | null;
  readonly keepaliveRequests: number;
  readonly keepaliveDisable: readonly string[];
  readonly lingeringClose: 'off' | 'on' | 'always';
  readonly lingeringTimeMs: number;
  readonly lingeringTimeoutMs: number;
  readonly resetTimedoutConnection: boolean;
  // responses
  readonly absoluteRedirect: boolean;
  readonly serverNameInRedirect: boolean;
  readonly portInRedirect: boolean;
  readonly msiePadding: boolean;
  readonly msieRefresh: boolean;
  readonly serverTokens: 'on' | 'off' | 'build';
  readonly ifModifiedSince: 'off' | 'exact' | 'before';
  readonly etag: boolean;
  readonly errorPages: readonly ErrorPageEntry[];
  readonly recursiveErrorPages: boolean;
  readonly postAction: string | null;
  readonly expires: ExpiresSetting;
  readonly addHeaders: readonly HeaderEntry[];
  readonly addTrailers: readonly HeaderEntry[];
  readonly charset: string | null;
  readonly sourceCharset: string | null;
  readonly overrideCharset: boolean;
  readonly charsetTypes: readonly string[];
  // compression
  readonly gzip: boolean;
  readonly gzipTypes: readonly string[];
  readonly gzipCompLevel: number;
  readonly gzipMinLength: number;
  readonly gzipBuffers: { readonly number: number; readonly size: number };
  readonly gzipWindow: number;
  readonly gzipHash: number;
  readonly gzipNoBuffer: boolean;
  readonly gzipVary: boolean;
  readonly gzipHttpVersion: '1.0' | '1.1';
  readonly gzipProxied: readonly string[];
  readonly gzipDisable: readonly string[];
  readonly gzipStatic: 'off' | 'on' | 'always';
  // rewrite module
  /** `return`, `rewrite`, `set`, `break`, `if` of this level, in order (not inherited). */
  readonly rewrite: readonly RewriteStep[];
  readonly rewriteLog: boolean;
  readonly uninitializedVariableWarn: boolean;
  // access, auth, limits
  readonly access: readonly AccessRule[];
  readonly satisfy: 'all' | 'any';
  readonly authDelayMs: number;
  readonly authBasic: string | null;
  readonly authBasicUserFile: string | null;
  readonly limitReq: readonly LimitReqEntry[];
  readonly limitReqStatus: number;
  readonly limitReqLogLevel: 'info' | 'notice' | 'warn' | 'error';
  readonly limitReqDryRun: boolean;
  readonly limitConn: readonly LimitConnEntry[];
  readonly limitConnStatus: number;
  readonly limitConnLogLevel: 'info' | 'notice' | 'warn' | 'error';
  readonly limitConnDryRun: boolean;
  readonly realIpFrom: readonly string[];
  readonly realIpHeader: string;
  readonly realIpRecursive: boolean;
  // logs and status
  /** `access_log`: the logs written, or `off`. Default: PREFIX/logs/access.log combined. */
  readonly accessLog: readonly AccessLogEntry[] | 'off';
  readonly openLogFileCache: readonly string[] | null;
  /** `error_log` of this level; null: the main context's. */
  readonly errorLog: readonly ErrorLogEntry[] | null;
  readonly logNotFound: boolean;
  readonly logSubrequest: boolean;
  /** `stub_status` here (not inherited). */
  readonly stubStatus: boolean;
  readonly resolver: readonly string[] | null;
  readonly resolverTimeoutMs: number;
  readonly http2PushPreload: boolean;
}

/** Where a `*_pass` sends requests. */
export interface PassTarget {
  /** The argument as written. */
  readonly url: string;
  /** The scheme of `proxy_pass` (`http`/`https`), or the module for the others. */
  readonly scheme: 'http' | 'https' | 'uwsgi' | 'suwsgi' | 'fastcgi' | 'scgi';
  /** An `upstream` block name, or the group nginx makes for an address; null when the target has variables. */
  readonly upstream: string | null;
  /** The address, when the target is one (not a group name, not a template). */
  readonly address: PeerAddress | null;
  /** `proxy_pass` only: the URI part (`http://b/app/` has `/app/`), null when there is none. */
  readonly uri: string | null;
  /** The target contains variables and is resolved per request. */
  readonly hasVariables: boolean;
}

/** One `uwsgi_param` / `fastcgi_param` / `scgi_param` / `proxy_set_header` (value may hold variables). */
export interface PassParam {
  readonly key: string;
  readonly value: string;
  /** `if_not_empty`: skipped when the value comes out empty. */
  readonly ifNotEmpty: boolean;
}

/** `NUMBER SIZE` buffer settings. */
export interface BufferCount {
  readonly number: number;
  readonly size: number;
}

/** Settings every upstream-passing module has (ngx_http_upstream_conf_t), per location. */
export interface PassSettings {
  /** `*_pass` (not inherited). */
  readonly pass: PassTarget | null;
  readonly bind: { readonly address: string; readonly transparent: boolean } | null;
  readonly socketKeepalive: boolean;
  readonly connectTimeoutMs: number;
  readonly sendTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly buffering: boolean;
  readonly requestBuffering: boolean;
  readonly bufferSize: number;
  readonly buffers: BufferCount;
  readonly busyBuffersSize: number | null;
  readonly tempPath: { readonly path: string; readonly levels: readonly number[] };
  readonly maxTempFileSize: number | null;
  readonly tempFileWriteSize: number | null;
  /** `*_next_upstream` conditions (error timeout). */
  readonly nextUpstream: readonly string[];
  /** 0: no limit. */
  readonly nextUpstreamTries: number;
  /** 0: no limit. */
  readonly nextUpstreamTimeoutMs: number;
  readonly passHeaders: readonly string[];
  readonly hideHeaders: readonly string[];
  readonly ignoreHeaders: readonly string[];
  readonly interceptErrors: boolean;
  readonly passRequestHeaders: boolean;
  readonly passRequestBody: boolean;
  readonly ignoreClientAbort: boolean;
  readonly limitRate: number;
  readonly forceRanges: boolean;
  readonly store: string | null;
  readonly storeAccess: readonly string[];
  /** `*_cache` zone (null: off). */
  readonly cache: string | null;
  readonly cacheKey: string | null;
  readonly cacheValid: readonly (readonly string[])[];
}

/** ngx_http_proxy_module. */
export interface ProxySettings extends PassSettings {
  /** `proxy_set_header`s; nginx adds `Host $proxy_host` and `Connection close` unless overridden. */
  readonly setHeaders: readonly PassParam[];
  readonly httpVersion: '1.0' | '1.1';
  /** `proxy_redirect`: `default`, `off`, or REPLACED REPLACEMENT pairs. */
  readonly redirect: readonly (readonly string[])[];
  readonly setBody: string | null;
  readonly method: string | null;
  readonly cookieDomain: readonly (readonly string[])[];
  readonly cookiePath: readonly (readonly string[])[];
  readonly headersHashMaxSize: number;
  readonly headersHashBucketSize: number;
  readonly sendLowat: number;
}

/** ngx_http_uwsgi_module. */
export interface UwsgiSettings extends PassSettings {
  readonly params: readonly PassParam[];
  readonly modifier1: number;
  readonly modifier2: number;
  readonly string: string | null;
}

/** ngx_http_fastcgi_module. */
export interface FastcgiSettings extends PassSettings {
  readonly params: readonly PassParam[];
  readonly index: string | null;
  readonly splitPathInfo: string | null;
  readonly keepConn: boolean;
  readonly catchStderr: readonly string[];
  readonly sendLowat: number;
}

/** ngx_http_scgi_module. */
export interface ScgiSettings extends PassSettings {
  readonly params: readonly PassParam[];
}

/** All the per-location module settings of one level. */
export interface PerLocation {
  readonly settings: LocationSettings;
  readonly proxy: ProxySettings;
  readonly uwsgi: UwsgiSettings;
  readonly fastcgi: FastcgiSettings;
  readonly scgi: ScgiSettings;
}

/** `limit_except METHOD... { ... }`. */
export interface LimitExceptConf {
  /** The methods allowed without the block's restrictions (HEAD comes with GET). */
  readonly methods: readonly string[];
  /** The settings that apply to the other methods. */
  readonly loc: PerLocation;
}

/** The location modifiers; `@` marks a named location. */
export type LocationModifier = '=' | '^~' | '~' | '~*' | '' | '@';

/** One `location`. */
export interface LocationConf extends PerLocation {
  readonly modifier: LocationModifier;
  /** The name as nginx prints it: the URI, the regex source, or `@name`. */
  readonly name: string;
  /** Regex locations: case-insensitive (`~*`). */
  readonly caseless: boolean;
  readonly locations: readonly LocationConf[];
  readonly limitExcept: LimitExceptConf | null;
  /**
   * nginx's auto_redirect: the name ends in `/` and the location passes requests upstream, so a
   * request for the name without its slash (`/app` for `location /app/`) gets a 301 to it.
   */
  readonly autoRedirect: boolean;
  readonly position: SourcePosition;
}

/** One `server {}`. */
export interface ServerConf {
  readonly listen: readonly ListenConf[];
  /** `server_name`s in order (the first is the primary, `$server_name`); empty string when none. */
  readonly serverNames: readonly ServerNameConf[];
  readonly settings: ServerSettings;
  /** The location-level settings of the server itself (used when no location matches). */
  readonly loc: PerLocation;
  readonly locations: readonly LocationConf[];
  readonly position: SourcePosition;
}

/** `http {}`. */
export interface HttpConf extends HttpSettings {
  /** The server-level settings written in `http {}`, merged with the defaults. */
  readonly server: ServerSettings;
  /** The location-level settings written in `http {}`, merged with the defaults. */
  readonly loc: PerLocation;
  readonly servers: readonly ServerConf[];
  readonly upstreams: ReadonlyMap<string, UpstreamConf>;
  readonly position: SourcePosition;
}

/** What `loadNginxConfig` returns. */
export interface NginxConfig {
  readonly main: MainConf;
  /** null when the configuration has no `http {}`. */
  readonly http: HttpConf | null;
  /** `http.servers`, for convenience (empty without `http {}`). */
  readonly servers: readonly ServerConf[];
  /** `http.upstreams`, for convenience. */
  readonly upstreams: ReadonlyMap<string, UpstreamConf>;
  /** `[warn]`s: nginx's own and tsgi's additions. */
  readonly warnings: readonly ConfigWarning[];
  /** Every configuration file read, the main file first. */
  readonly files: readonly string[];
  /** The main file, and the prefix and conf prefix used to resolve relative paths. */
  readonly file: string;
  readonly prefix: string;
  readonly confPrefix: string;
}

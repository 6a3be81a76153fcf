/**
 * The shapes that go in and out of the static file handler.
 *
 *   request (StaticRequest)  +  location config (StaticConf, from createStaticConf)
 *        │
 *        ▼  serveStatic(context, request, conf)
 *   StaticResult, one of:
 *     response          { status: 200 | 206 | 304, headers, body }       write it
 *     error             { status: 403 | 404 | 405 | 412 | 416 | =code, headers }
 *                       apply error_page, else errorResponse(...)        (nginx's finalize step)
 *     redirect          { status: 301, location: '/dir/?a=1', headers }  make Location absolute,
 *                       then redirectResponse(...)
 *     internalRedirect  { uri: '/dir/index.html', args }                 match locations again
 *     namedLocation     { name: '@fallback' }                            run that location
 *
 * Strings that come from the request ($uri, $args, paths built from them) are byte strings: one
 * char per byte, as src/web/match produces them (see src/web/match/bytes.ts).
 */

/** One response header, in the order nginx sends it. */
export type Header = readonly [name: string, value: string];

/** Request headers the static handler reads, picked out by the HTTP parser (nginx's headers_in). */
export interface StaticRequestHeaders {
  readonly ifModifiedSince?: string;
  readonly ifUnmodifiedSince?: string;
  readonly ifMatch?: string;
  readonly ifNoneMatch?: string;
  readonly range?: string;
  readonly ifRange?: string;
}

export interface StaticRequest {
  /** The method as sent: 'GET', 'HEAD', 'POST'... */
  readonly method: string;
  /** `$uri`: decoded and normalised (src/web/match parseRequestTarget), or set by a redirect. */
  readonly uri: string;
  /** `$args`, as sent. */
  readonly args: string;
  readonly headers: StaticRequestHeaders;
  /**
   * $document_root for this request when the location's root or alias has variables
   * (`root /srv/$host`, `alias /data/$1` in a regex location): the expanded value, a byte string.
   * Absent: the configured one.
   */
  readonly documentRoot?: string;
  /** nginx's r->http_version: major * 1000 + minor (1001 for HTTP/1.1, 9 for HTTP/0.9). */
  readonly httpVersion?: number;
  /**
   * Expands the variables of a try_files or index argument ('$uri/', '/index.php?$args'), with
   * `uri` the current $uri (try_files may have changed it before index runs). The default knows
   * $uri, $document_uri, $args, $query_string and $is_args; pass the web server's variable
   * engine for anything else.
   */
  readonly expand?: (template: string, uri: string) => string;
}

/** A slice of a file on disk: bytes [start, end) of `path`. */
export interface FileSlice {
  readonly kind: 'file';
  /** Absolute path as a byte string. */
  readonly path: string;
  /** An fd already open on the file; the writer reads from it and leaves it open. */
  readonly fd?: number;
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export interface BufferBody {
  readonly kind: 'buffer';
  readonly data: Buffer;
}

export type StaticBody =
  | { readonly kind: 'none' }
  | BufferBody
  | FileSlice
  /** multipart/byteranges: boundary lines as buffers, range data as buffers or file slices. */
  | { readonly kind: 'multipart'; readonly parts: readonly (Buffer | FileSlice)[] };

export interface StaticResponse {
  readonly status: number;
  /**
   * Content-Type, Content-Length, Last-Modified, Location, ETag, Expires, Cache-Control,
   * Accept-Ranges / Content-Range, in nginx's order. Server, Date and Connection are the web
   * server's. A response without Content-Length (autoindex) is sent chunked, as nginx does.
   */
  readonly headers: readonly Header[];
  /**
   * The same headers serialised ("Name: value\r\n" each), when they were prepared in advance for
   * a cached file: the writer can send them without looking at `headers`.
   */
  readonly rawHeaders?: Buffer;
  /** 'none' for HEAD and for 304: the headers still describe the body a GET would get. */
  readonly body: StaticBody;
}

export type StaticResult =
  | ({ readonly kind: 'response' } & StaticResponse)
  /** nginx finalizes the request with this status: error_page applies, else the default page. */
  | { readonly kind: 'error'; readonly status: number; readonly headers: readonly Header[] }
  /** A directory asked for without its slash: 301 to `location` (a path, '?args' included). */
  | { readonly kind: 'redirect'; readonly status: 301; readonly location: string; readonly headers: readonly Header[] }
  /** index or try_files named another URI: run location matching again, method unchanged. */
  | { readonly kind: 'internalRedirect'; readonly uri: string; readonly args: string }
  /** try_files ended in @name. */
  | { readonly kind: 'namedLocation'; readonly name: string };

/** `server_tokens`: what the error pages' tail names. */
export type ServerTokens = 'on' | 'off' | 'build';

/** `if_modified_since`. */
export type IfModifiedSinceMode = 'off' | 'exact' | 'before';

/** `autoindex_format`. */
export type AutoindexFormat = 'html' | 'json' | 'jsonp' | 'xml';

/** Where files come from (ngx_http_map_uri_to_path). */
export type FileMapping =
  /** `root /srv/www`: the path is root + $uri. */
  | { readonly kind: 'root'; readonly root: string }
  /**
   * `location /i/ { alias /data/images/; }`: the path is alias + ($uri without the location's
   * name). `location` is the name of the `=` or prefix location holding the alias.
   */
  | { readonly kind: 'alias'; readonly alias: string; readonly location: string }
  /**
   * alias in a regex location (`location ~ ^/d/(.*)$ { alias /data/$1; }`): the alias, expanded
   * for this request by the caller, is the whole path.
   */
  | { readonly kind: 'regexAlias'; readonly alias: string };

/** `expires`, parsed (see expires.ts). Seconds may be negative. */
export type Expires =
  | { readonly kind: 'off' }
  | { readonly kind: 'epoch' }
  | { readonly kind: 'max' }
  /** `expires 1h`, `expires -1`, `expires 0`: relative to the time of the request. */
  | { readonly kind: 'access'; readonly seconds: number }
  /** `expires modified +1h`: relative to the file's mtime. */
  | { readonly kind: 'modified'; readonly seconds: number }
  /** `expires @15h30m`: the next such time of day (local time). */
  | { readonly kind: 'daily'; readonly seconds: number };

/**
 * nginx's default error and redirect pages (src/http/ngx_http_special_response.c, nginx 1.22),
 * byte for byte:
 *
 *   <html>\r\n
 *   <head><title>404 Not Found</title></head>\r\n
 *   <body>\r\n
 *   <center><h1>404 Not Found</h1></center>\r\n
 *   <hr><center>nginx/1.22.1</center>\r\n        server_tokens on: the version (`serverVersion`)
 *   </body>\r\n                                  off: "nginx"; build: the version and build name
 *   </html>\r\n
 *   <!-- a padding to disable MSIE and Chrome friendly error page -->\r\n   x6, for 4xx/5xx
 *                                                when msie_padding is on (the default) and the
 *                                                User-Agent is MSIE or Chrome, over HTTP/1.0+
 *
 * Statuses without a page (304, 417..420, 422..428, 499, 505's neighbours...) get an empty body.
 * Content-Type is text/html, plus "; charset=X" when `charset` is set, except for 301 and 302
 * (nginx's charset filter leaves redirects alone). Last-Modified, ETag and Accept-Ranges are
 * dropped; any other header the caller passes (Location, Content-Range, Expires) is kept.
 */
import type { Header, ServerTokens, StaticResponse } from './types.js';

const CRLF = '\r\n';

/** Reason phrases of the pages, in nginx's words ("Request Time-out", "Not Allowed"). */
const PAGE_TITLES: ReadonlyMap<number, string> = new Map([
  [301, '301 Moved Permanently'],
  [302, '302 Found'],
  [303, '303 See Other'],
  [307, '307 Temporary Redirect'],
  [308, '308 Permanent Redirect'],
  [400, '400 Bad Request'],
  [401, '401 Authorization Required'],
  [402, '402 Payment Required'],
  [403, '403 Forbidden'],
  [404, '404 Not Found'],
  [405, '405 Not Allowed'],
  [406, '406 Not Acceptable'],
  [408, '408 Request Time-out'],
  [409, '409 Conflict'],
  [410, '410 Gone'],
  [411, '411 Length Required'],
  [412, '412 Precondition Failed'],
  [413, '413 Request Entity Too Large'],
  [414, '414 Request-URI Too Large'],
  [415, '415 Unsupported Media Type'],
  [416, '416 Requested Range Not Satisfiable'],
  [421, '421 Misdirected Request'],
  [429, '429 Too Many Requests'],
  [500, '500 Internal Server Error'],
  [501, '501 Not Implemented'],
  [502, '502 Bad Gateway'],
  [503, '503 Service Temporarily Unavailable'],
  [504, '504 Gateway Time-out'],
  [505, '505 HTTP Version Not Supported'],
  [507, '507 Insufficient Storage'],
]);

/** nginx's own codes: sent as 400 with a page naming the real problem (498 is a 404 page). */
const NGINX_CODE_PAGES: ReadonlyMap<number, { readonly title: string; readonly detail: string | null }> = new Map([
  [494, { title: '400 Request Header Or Cookie Too Large', detail: 'Request Header Or Cookie Too Large' }],
  [495, { title: '400 The SSL certificate error', detail: 'The SSL certificate error' }],
  [496, { title: '400 No required SSL certificate was sent', detail: 'No required SSL certificate was sent' }],
  [497, { title: '400 The plain HTTP request was sent to HTTPS port', detail: 'The plain HTTP request was sent to HTTPS port' }],
]);

const MSIE_PADDING = '<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n'.repeat(6);

/** The status line a page is sent with: nginx answers its 494-497 codes as 400, 498 as 404. */
export function errorPageStatus(status: number): number {
  if (NGINX_CODE_PAGES.has(status)) return 400;
  return status;
}

/** The page up to (not including) the `<hr><center>` tail, or null when nginx sends no body. */
export function errorPageHead(status: number): string | null {
  const special = NGINX_CODE_PAGES.get(status);
  if (special !== undefined) {
    return (
      `<html>${CRLF}<head><title>${special.title}</title></head>${CRLF}<body>${CRLF}` +
      `<center><h1>400 Bad Request</h1></center>${CRLF}<center>${special.detail}</center>${CRLF}`
    );
  }
  const title = status === 498 ? PAGE_TITLES.get(404) : PAGE_TITLES.get(status);
  if (title === undefined) return null;
  return `<html>${CRLF}<head><title>${title}</title></head>${CRLF}<body>${CRLF}<center><h1>${title}</h1></center>${CRLF}`;
}

export interface ErrorPageOptions {
  /** `server_tokens` (default on). */
  readonly serverTokens?: ServerTokens;
  /** What `server_tokens on` names, nginx's NGINX_VER: "nginx/1.22.1", "tsgi/0.1.0". */
  readonly serverVersion?: string;
  /** What `server_tokens build` names (NGINX_VER_BUILD); defaults to serverVersion. */
  readonly serverBuild?: string;
  /** `msie_padding` (default on). */
  readonly msiePadding?: boolean;
  /** The request's User-Agent, for the MSIE / Chrome padding. */
  readonly userAgent?: string;
  /** major * 1000 + minor (default 1001). */
  readonly httpVersion?: number;
  /** `charset` (null or absent for off). */
  readonly charset?: string | null;
  /** HEAD gets the headers only. */
  readonly method?: string;
  /** Headers that survive into the page response (Location, Content-Range, Expires...). */
  readonly headers?: readonly Header[];
}

export const DEFAULT_SERVER_VERSION = 'nginx/1.22.1';

/** The bytes of the page nginx sends for `status`, or an empty buffer. */
export function errorPageBody(status: number, options: ErrorPageOptions = {}): Buffer {
  const head = errorPageHead(status);
  if (head === null) return Buffer.alloc(0);
  const padding = wantsMsiePadding(status, options) ? MSIE_PADDING : '';
  return Buffer.from(head + errorPageTail(options) + padding, 'latin1');
}

function errorPageTail(options: ErrorPageOptions): string {
  const tokens = options.serverTokens ?? 'on';
  const version = options.serverVersion ?? DEFAULT_SERVER_VERSION;
  const name = tokens === 'off' ? 'nginx' : tokens === 'build' ? (options.serverBuild ?? version) : version;
  return `<hr><center>${name}</center>${CRLF}</body>${CRLF}</html>${CRLF}`;
}

function wantsMsiePadding(status: number, options: ErrorPageOptions): boolean {
  if (!(options.msiePadding ?? true) || (options.httpVersion ?? 1001) < 1000) return false;
  // The padding is for pages from 400 on (nginx compares the page's index with the 4xx offset).
  if (status < 400) return false;
  const agent = userAgentKind(options.userAgent);
  return agent === 'msie' || agent === 'chrome';
}

/**
 * The browser nginx recognises in a User-Agent (ngx_http_process_user_agent), as far as error
 * pages care: "MSIE " with at least 3 more bytes, unless "Opera" appears; else "Gecko/", then
 * "Chrome/". Chrome's own agent says "like Gecko)", so it is not taken for Gecko.
 */
export function userAgentKind(userAgent: string | undefined): 'msie' | 'chrome' | 'gecko' | 'opera' | 'other' {
  if (userAgent === undefined) return 'other';
  const msie = userAgent.indexOf('MSIE ');
  const isMsie = msie >= 0 && msie + 7 < userAgent.length;
  if (userAgent.includes('Opera')) return 'opera';
  if (isMsie) return 'msie';
  if (userAgent.includes('Gecko/')) return 'gecko';
  if (userAgent.includes('Chrome/')) return 'chrome';
  return 'other';
}

/** nginx's charset filter: redirects are left alone. */
function pageContentType(status: number, charset: string | null | undefined): string {
  if (charset && status !== 301 && status !== 302) return `text/html; charset=${charset}`;
  return 'text/html';
}

/** Headers that never survive into a special response. */
const DROPPED = new Set(['last-modified', 'etag', 'accept-ranges', 'content-type', 'content-length']);

/**
 * The complete response nginx sends when it finalizes a request with `status` and no error_page
 * applies: the default page and the surviving headers.
 */
export function errorResponse(status: number, options: ErrorPageOptions = {}): StaticResponse {
  const body = errorPageBody(status, options);
  const headers: Header[] = [];
  if (body.length > 0) headers.push(['Content-Type', pageContentType(status, options.charset)]);
  headers.push(['Content-Length', String(body.length)]);
  for (const header of options.headers ?? []) {
    if (!DROPPED.has(header[0].toLowerCase())) headers.push(header);
  }
  return {
    status: errorPageStatus(status),
    headers,
    body: options.method === 'HEAD' || body.length === 0 ? { kind: 'none' } : { kind: 'buffer', data: body },
  };
}

/** A 301/302/303/307/308 with its page; `location` is sent as given (make it absolute first). */
export function redirectResponse(status: number, location: string, options: ErrorPageOptions = {}): StaticResponse {
  const others = (options.headers ?? []).filter(([name]) => name.toLowerCase() !== 'location');
  return errorResponse(status, { ...options, headers: [['Location', location], ...others] });
}

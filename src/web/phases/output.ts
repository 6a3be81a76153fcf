/**
 * The header filters a response passes before it is written, in nginx's order:
 *
 *   1. err_status: after an error_page redirect the page is answered with the error's status
 *      (or the `=code` given), whatever the page's own was (ngx_http_send_header);
 *   2. ngx_http_headers_filter: `expires` (for responses the static module did not already
 *      date) and `add_header`, for 200, 201, 204, 206, 301, 302, 303, 304, 307, 308, or any status
 *      with `always`; a header whose value comes out empty is not added;
 *   3. the modules' filters (gzip...), in order;
 *   4. ngx_http_header_filter: a relative Location becomes absolute (absolute_redirect on):
 *      "http://" + the Host (or server_name with server_name_in_redirect, or the local address)
 *      + ":port" unless 80 (port_in_redirect) + the path.
 */
import type { HeaderPair, OutgoingResponse, RequestContext } from '../request-context.js';
import { expiresHeaders, EXPIRES_STATUSES, parseHttpDate, INVALID_DATE } from '../static/index.js';
import { expiresOf } from './static-content.js';
import type { RequestState } from '../server/request.js';

/** ngx_http_headers_filter's statuses for headers without `always` (the same list as expires). */
const HEADER_STATUSES = EXPIRES_STATUSES;
const HTTP_PORT = 80;

function headerValue(headers: readonly HeaderPair[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find(([key]) => key.toLowerCase() === lower)?.[1];
}

/** ngx_http_headers_filter: expires and add_header. */
function headersFilter(r: RequestContext, response: OutgoingResponse): void {
  const allowed = HEADER_STATUSES.has(response.status);
  // The static module dated its own responses already (from the file's mtime).
  const expires = response.fromFile ? null : expiresOf(r, r.loc);
  if (expires !== null && expires.kind !== 'off' && allowed) {
    const lastModified = headerValue(response.headers, 'last-modified');
    const mtime = lastModified === undefined ? null : parseHttpDate(lastModified);
    response.headers.push(...expiresHeaders(expires, Math.floor(Date.now() / 1000), mtime === INVALID_DATE ? null : mtime));
  }
  for (const header of r.loc.settings.addHeaders) {
    if (!allowed && !header.always) continue;
    const value = r.modules.variables.expand(r, header.value);
    if (value !== '') response.headers.push([header.name, value]);
  }
}

/** The host a relative Location is completed with (ngx_http_header_filter). */
function redirectHost(r: RequestState): string {
  if (r.loc.settings.serverNameInRedirect) return r.serverName;
  if (r.requestHost !== '') return r.requestHost;
  const local = r.connection.serverAddr;
  return local.includes(':') && !local.startsWith('unix:') ? `[${local}]` : local;
}

function absoluteLocation(r: RequestState, response: OutgoingResponse): void {
  const s = r.loc.settings;
  if (!s.absoluteRedirect) return;
  const index = response.headers.findIndex(([name]) => name.toLowerCase() === 'location');
  if (index < 0) return;
  const location = response.headers[index]![1];
  if (!location.startsWith('/')) return;
  const port = Number(r.connection.serverPort);
  const withPort = s.portInRedirect && Number.isInteger(port) && port !== HTTP_PORT && r.connection.serverPort !== '';
  response.headers[index] = ['Location', `http://${redirectHost(r)}${withPort ? `:${port}` : ''}${location}`];
  r.locationInSlot = true;
}

/** Headers nginx's range filter adds, below add_header and gzip in its filter chain. */
const RANGE_HEADERS: ReadonlySet<string> = new Set(['accept-ranges', 'content-range']);

/** Both names have 13 letters: the length spares a lower-cased copy for every other header. */
const isRangeHeader = (name: string): boolean => name.length === 13 && RANGE_HEADERS.has(name.toLowerCase());

/** Runs the header filters; the result is what the connection writes. */
export async function filterResponse(r: RequestState, response: OutgoingResponse): Promise<OutgoingResponse> {
  if (r.errStatus !== 0) response.status = r.errStatus;
  const rangeHeaders = response.headers.filter(([name]) => isRangeHeader(name));
  if (rangeHeaders.length > 0) response.headers = response.headers.filter(([name]) => !isRangeHeader(name));
  // ngx_http_header_filter: Last-Modified only goes with 200, 206 and 304.
  if (response.status !== 200 && response.status !== 206 && response.status !== 304) {
    response.headers = response.headers.filter(([name]) => name.toLowerCase() !== 'last-modified');
  }
  headersFilter(r, response);
  const body = response.body;
  let current = response;
  for (const filter of r.modules.filters) current = await filter.apply(r, current);
  // ngx_http_range_header_filter: ranges are offered for 200 only (an error page served with
  // the error's status has none), and not for a body a filter rewrote (gzip clears allow_ranges).
  if ((current.status === 200 || current.status === 206) && current.body === body) current.headers.push(...rangeHeaders);
  absoluteLocation(r, current);
  return current;
}

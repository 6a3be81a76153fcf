/**
 * The uwsgi packet the HTTP router sends a worker for one HTTP request: the vars uWSGI's router
 * builds (plugins/http/http.c, http_headers_parse), in its order:
 *
 *   REQUEST_METHOD, REQUEST_URI, PATH_INFO (percent-decoded bytes), QUERY_STRING,
 *   SERVER_PROTOCOL, SCRIPT_NAME (''), SERVER_NAME (the machine's hostname, as uWSGI: not the
 *   Host header, which arrives as HTTP_HOST), SERVER_PORT (the router's port), UWSGI_ROUTER
 *   ('http'), REMOTE_ADDR, REMOTE_PORT, then one var per request header: CONTENT_TYPE and
 *   CONTENT_LENGTH bare, every other one as HTTP_*, a repeated header joined into one var.
 *
 * Headers pass unchanged, X-Forwarded-For included (uWSGI neither adds to it nor trusts it:
 * REMOTE_ADDR is the router's peer). One difference: a chunked request body reaches the worker
 * de-chunked with a CONTENT_LENGTH (the uwsgi protocol frames a body by CONTENT_LENGTH only), so
 * its Transfer-Encoding header is not forwarded. uWSGI's router drops such a body unless
 * --http-chunked-input hands the raw chunks to an app written for uWSGI's chunked API.
 *
 * Every string here is latin1 (one char per byte, as the HTTP codec delivers them), so the packet
 * is the request's bytes; `encodeUwsgiRequest` writes it with one native call.
 */
import { UWSGI_MODIFIER_WSGI, encodeUwsgiRequest } from '../../protocols/uwsgi.js';
import { headerToEnvironKey, joinRepeatedHeader, splitTarget } from '../../gateway/environ.js';
import type { RequestHead } from '../../protocols/http1.js';

/** What a request's vars take from its connection rather than from the request. */
export interface ConnectionVars {
  remoteAddr: string;
  remotePort: string;
  serverName: string;
  serverPort: string;
}

/** The vars block, as a flat [key, value, ...] list. `contentLength` replaces the request's own
 *  CONTENT_LENGTH (and drops Transfer-Encoding) when the router de-chunked the body; -1 keeps it. */
export function requestVars(head: RequestHead, connection: ConnectionVars, contentLength: number): string[] {
  const target = head.target;
  const { path, query } = splitTarget(target);
  const vars = [
    'REQUEST_METHOD',
    head.method,
    'REQUEST_URI',
    target,
    'PATH_INFO',
    percentDecodeBytes(path),
    'QUERY_STRING',
    query,
    'SERVER_PROTOCOL',
    head.versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
    'SCRIPT_NAME',
    '',
    'SERVER_NAME',
    connection.serverName,
    'SERVER_PORT',
    connection.serverPort,
    'UWSGI_ROUTER',
    'http',
    'REMOTE_ADDR',
    connection.remoteAddr,
    'REMOTE_PORT',
    connection.remotePort,
  ];
  const firstHeader = vars.length;
  const headers = head.headers;
  for (let i = 0; i < headers.length; i += 2) {
    const key = headerToEnvironKey(headers[i]!);
    if (contentLength >= 0 && (key === 'CONTENT_LENGTH' || key === 'HTTP_TRANSFER_ENCODING')) continue;
    const value = headers[i + 1]!;
    // Keys come from a cache, so equal keys are usually the same string and compare at once; a
    // request has a handful of headers, so a scan beats building a map for every request.
    let j = firstHeader;
    while (j < vars.length && vars[j] !== key) j += 2;
    if (j < vars.length) vars[j + 1] = joinRepeatedHeader(key, vars[j + 1]!, value);
    else vars.push(key, value);
  }
  if (contentLength >= 0) vars.push('CONTENT_LENGTH', String(contentLength));
  return vars;
}

/** The uwsgi packet (header + vars block) for a request; throws `UwsgiError` past 65535 bytes. */
export function encodeRequestPacket(head: RequestHead, connection: ConnectionVars, contentLength: number, modifier2 = 0): Buffer {
  return encodeUwsgiRequest(requestVars(head, connection, contentLength), UWSGI_MODIFIER_WSGI, modifier2);
}

/** The size of a packet's vars block (what a worker's --buffer-size limits). */
export function varsBlockSize(packet: Buffer): number {
  return packet.readUInt16LE(1);
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * Percent-decodes a path byte by byte, as uWSGI's http_url_decode does: the result holds one char
 * per byte (latin1), which is what a uwsgi var carries and what PEP 3333 wants in PATH_INFO. A '%'
 * not followed by two hex digits stays as it is.
 */
export function percentDecodeBytes(raw: string): string {
  let percent = raw.indexOf('%');
  if (percent < 0) return raw;
  let out = raw.slice(0, percent);
  let from = percent;
  while (percent >= 0) {
    const high = percent + 2 < raw.length ? hexValue(raw.charCodeAt(percent + 1)) : -1;
    const low = high >= 0 ? hexValue(raw.charCodeAt(percent + 2)) : -1;
    if (low >= 0) {
      out += raw.slice(from, percent) + String.fromCharCode(high * 16 + low);
      from = percent + 3;
    }
    percent = raw.indexOf('%', low >= 0 ? percent + 3 : percent + 1);
  }
  return out + raw.slice(from);
}

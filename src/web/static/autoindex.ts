/**
 * Directory listings exactly as ngx_http_autoindex_module.c (nginx 1.22) writes them.
 *
 * Entries whose name starts with '.' are left out; directories come first, then byte order
 * (strcmp). Types and sizes come from stat(), which follows symlinks; a dangling symlink is
 * listed from lstat(). The html format, one line per entry:
 *
 *   <a href="sp%20ace.txt">sp ace.txt</a>                                        22-Nov-2026 00:55                   1
 *   │ href: every byte but A-Z a-z 0-9 - . _ ~ as %XX │ name, HTML-escaped, cut to 47 bytes + "..&gt;"
 *     when longer than 50, padded with spaces to 50 │ mtime (UTC, or local with autoindex_localtime)
 *     │ size: exact in 19 columns, or 1023 / 10K / 2M / 1G in 7 columns (autoindex_exact_size off)
 *
 * With `charset utf-8`, names are measured and cut in UTF-8 characters instead of bytes. json,
 * jsonp (the `callback` argument) and xml list name, type (directory/file/other), mtime and the
 * size of files.
 */
import type { AutoindexFormat } from './types.js';
import { httpDate } from './http-date.js';

export interface AutoindexEntry {
  /** The file name as a byte string. */
  readonly name: string;
  readonly isDirectory: boolean;
  /** A regular file (json and xml say "other" for neither file nor directory). */
  readonly isFile: boolean;
  /** Seconds since the epoch. */
  readonly mtime: number;
  readonly size: number;
}

export interface AutoindexOptions {
  readonly format: AutoindexFormat;
  /** autoindex_exact_size (default on). */
  readonly exactSize: boolean;
  /** autoindex_localtime: minutes east of UTC to apply, or 0 for UTC. */
  readonly gmtOffsetMinutes: number;
  /** The response charset: "utf-8" makes the html listing count characters. */
  readonly charset: string | null;
  /** The jsonp callback (already validated), or null for plain json. */
  readonly callback: string | null;
}

/** Display width of a name in the html listing (NGX_HTTP_AUTOINDEX_NAME_LEN). */
const NAME_LEN = 50;
const CRLF = '\r\n';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const HEX = '0123456789ABCDEF';
const MAX_CALLBACK_LENGTH = 128;

/** The listing's Content-Type (before any charset): nginx's choice per format. */
export function autoindexContentType(format: AutoindexFormat): string {
  switch (format) {
    case 'json':
      return 'application/json';
    case 'jsonp':
      return 'application/javascript';
    case 'xml':
      return 'text/xml; charset=utf-8';
    case 'html':
      return 'text/html';
  }
}

/** nginx's order: directories first, then names by bytes. */
export function sortEntries(entries: AutoindexEntry[]): AutoindexEntry[] {
  return entries.sort((a, b) => {
    if (a.isDirectory !== b.isDirectory) return a.isDirectory ? -1 : 1;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}

/** The listing body (a byte string) for $uri (byte string) and its sorted entries. */
export function renderAutoindex(uri: string, entries: readonly AutoindexEntry[], options: AutoindexOptions): string {
  switch (options.format) {
    case 'json':
      return renderJson(entries, null);
    case 'jsonp':
      return renderJson(entries, options.callback);
    case 'xml':
      return renderXml(entries);
    case 'html':
      return renderHtml(uri, entries, options);
  }
}

/**
 * The jsonp callback from $args ("callback=name"), as ngx_http_autoindex_jsonp_callback: null
 * when absent or empty (plain json is sent), 'invalid' (nginx answers 400) when longer than 128
 * bytes or holding other than letters, digits, '_' and '.'.
 */
export function jsonpCallback(args: string): string | null | 'invalid' {
  const value = argValue(args, 'callback');
  if (value === null || value === '') return null;
  if (value.length > MAX_CALLBACK_LENGTH) return 'invalid';
  return /^[A-Za-z0-9_.]+$/.test(value) ? value : 'invalid';
}

/** ngx_http_arg: the first `name=value` of $args, names compared case-insensitively. */
function argValue(args: string, name: string): string | null {
  for (const pair of args.split('&')) {
    const eq = pair.indexOf('=');
    if (eq === name.length && pair.slice(0, eq).toLowerCase() === name) return pair.slice(eq + 1);
  }
  return null;
}

function renderHtml(uri: string, entries: readonly AutoindexEntry[], options: AutoindexOptions): string {
  const utf8 = options.charset !== null && options.charset.toLowerCase() === 'utf-8';
  const escapedUri = escapeHtml(uri);
  const parts: string[] = [
    `<html>${CRLF}<head><title>Index of ${escapedUri}</title></head>${CRLF}<body>${CRLF}<h1>Index of ${escapedUri}</h1>`,
    `<hr><pre><a href="../">../</a>${CRLF}`,
  ];
  for (const entry of entries) {
    let line = `<a href="${escapeUriComponent(entry.name)}${entry.isDirectory ? '/' : ''}">`;
    const length = utf8 ? utf8Length(entry.name) : entry.name.length;
    let shown: string;
    if (utf8 && length !== entry.name.length) {
      shown = escapeHtml(utf8Prefix(entry.name, length > NAME_LEN ? NAME_LEN - 3 : NAME_LEN));
    } else {
      shown = escapeHtml(entry.name.slice(0, length > NAME_LEN ? NAME_LEN - 3 : NAME_LEN));
    }
    if (length > NAME_LEN) {
      line += `${shown}..&gt;</a>`;
    } else {
      let width = length;
      if (entry.isDirectory && width < NAME_LEN) {
        shown += '/';
        width++;
      }
      line += `${shown}</a>${' '.repeat(NAME_LEN - width)}`;
    }
    line += ' ' + listingDate(entry.mtime + options.gmtOffsetMinutes * 60) + ' ';
    line += options.exactSize ? exactSize(entry) : roundedSize(entry);
    parts.push(line + CRLF);
  }
  parts.push(`</pre><hr></body>${CRLF}</html>${CRLF}`);
  return parts.join('');
}

/** "22-Nov-2026 00:55" */
function listingDate(seconds: number): string {
  const d = new Date(seconds * 1000);
  return `${pad2(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
}

function exactSize(entry: AutoindexEntry): string {
  return entry.isDirectory ? '                  -' : String(entry.size).padStart(19, ' ');
}

const KIB = 1024;
const MIB = 1024 * 1024;
const GIB = 1024 * 1024 * 1024;

/** autoindex_exact_size off: rounded half up to K, M or G, 7 columns. */
function roundedSize(entry: AutoindexEntry): string {
  if (entry.isDirectory) return '      -';
  const length = entry.size;
  let size: number;
  let scale: string;
  if (length > GIB - 1) {
    size = Math.floor(length / GIB) + (length % GIB > GIB / 2 - 1 ? 1 : 0);
    scale = 'G';
  } else if (length > MIB - 1) {
    size = Math.floor(length / MIB) + (length % MIB > MIB / 2 - 1 ? 1 : 0);
    scale = 'M';
  } else if (length > 9999) {
    size = Math.floor(length / KIB) + (length % KIB > 511 ? 1 : 0);
    scale = 'K';
  } else {
    return ' ' + String(length).padStart(6, ' ');
  }
  return String(size).padStart(6, ' ') + scale;
}

function renderJson(entries: readonly AutoindexEntry[], callback: string | null): string {
  const items = entries.map((entry) => {
    const type = entry.isDirectory ? 'directory' : entry.isFile ? 'file' : 'other';
    const size = entry.isFile ? `", "size":${entry.size}` : '"';
    return `${CRLF}{ "name":"${escapeJson(entry.name)}", "type":"${type}", "mtime":"${httpDate(entry.mtime)}${size} }`;
  });
  const list = `[${items.join(',')}${CRLF}]`;
  return callback === null ? list : `/* callback */${CRLF}${callback}(${list});`;
}

function renderXml(entries: readonly AutoindexEntry[]): string {
  const parts = [`<?xml version="1.0"?>${CRLF}<list>${CRLF}`];
  for (const entry of entries) {
    const type = entry.isDirectory ? 'directory' : entry.isFile ? 'file' : 'other';
    const d = new Date(entry.mtime * 1000);
    const day = `${String(d.getUTCFullYear()).padStart(4, '0')}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
    const mtime = `${day}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}Z`;
    const size = entry.isFile ? `" size="${entry.size}` : '';
    parts.push(`<${type} mtime="${mtime}${size}">${escapeHtml(entry.name)}</${type}>${CRLF}`);
  }
  parts.push(`</list>${CRLF}`);
  return parts.join('');
}

const pad2 = (n: number): string => (n < 10 ? '0' + n : String(n));

/** ngx_escape_html: < > & and " only. */
export function escapeHtml(text: string): string {
  if (!/[<>&"]/.test(text)) return text;
  return text.replace(/[<>&"]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : '&quot;'));
}

/** ngx_escape_uri with NGX_ESCAPE_URI_COMPONENT: all but unreserved bytes as %XX (upper case). */
export function escapeUriComponent(bytes: string): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes.charCodeAt(i);
    out += UNRESERVED[c] === 1 ? bytes[i] : '%' + HEX[c >> 4] + HEX[c & 0xf];
  }
  return out;
}

/** RFC 3986 unreserved bytes, the only ones NGX_ESCAPE_URI_COMPONENT leaves as they are. */
const UNRESERVED = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED[c.charCodeAt(0)] = 1;

/** ngx_escape_json: '"' and '\\' get a backslash; \n \r \t \b \f their short escapes; other bytes below 0x20 \u00XX. */
export function escapeJson(bytes: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/["\\\x00-\x1f]/.test(bytes)) return bytes;
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes.charCodeAt(i);
    if (c > LAST_CONTROL) out += c === QUOTE || c === BACKSLASH ? '\\' + bytes[i] : bytes[i];
    else out += '\\' + (JSON_SHORT_ESCAPES.get(c) ?? 'u00' + HEX[c >> 4] + HEX[c & 0xf]);
  }
  return out;
}

const LAST_CONTROL = 0x1f;
const QUOTE = 0x22; // '"'
const BACKSLASH = 0x5c; // '\\'
const JSON_SHORT_ESCAPES: ReadonlyMap<number, string> = new Map([
  [0x0a, 'n'],
  [0x0d, 'r'],
  [0x09, 't'],
  [0x08, 'b'],
  [0x0c, 'f'],
]);

/** Returned by utf8Decode for an invalid or cut sequence (nginx returns values above 0x10FFFF). */
const INVALID = -1;
const MAX_CODE_POINT = 0x10ffff;

/**
 * ngx_utf8_decode on a byte string: the code point at `pos` and the position after it. nginx only
 * checks that continuation bytes are >= 0x80 and that the value is not overlong.
 */
function utf8Decode(bytes: string, pos: number): { value: number; next: number } {
  let u = bytes.charCodeAt(pos);
  let len: number;
  let valid: number;
  if (u >= 0xf0) {
    u &= 0x07;
    valid = 0xffff;
    len = 3;
  } else if (u >= 0xe0) {
    u &= 0x0f;
    valid = 0x7ff;
    len = 2;
  } else if (u >= 0xc2) {
    u &= 0x1f;
    valid = 0x7f;
    len = 1;
  } else {
    return { value: INVALID, next: pos + 1 };
  }
  if (bytes.length - pos - 1 < len) return { value: INVALID, next: pos };
  let p = pos + 1;
  while (len > 0) {
    const c = bytes.charCodeAt(p++);
    if (c < 0x80) return { value: INVALID, next: p };
    u = (u << 6) | (c & 0x3f);
    len--;
  }
  // Callers take anything above U+10FFFF as invalid, as nginx's do.
  return { value: u > valid && u <= MAX_CODE_POINT ? u : INVALID, next: p };
}

/** ngx_utf8_length: characters, or the byte length when the name is not valid UTF-8. */
function utf8Length(bytes: string): number {
  let count = 0;
  let p = 0;
  while (p < bytes.length) {
    if (bytes.charCodeAt(p) < 0x80) {
      p++;
    } else {
      const { value, next } = utf8Decode(bytes, p);
      if (value === INVALID) return bytes.length;
      p = next;
    }
    count++;
  }
  return count;
}

/** ngx_utf8_cpystrn: the first `chars` characters, stopping early at an invalid sequence. */
function utf8Prefix(bytes: string, chars: number): string {
  let p = 0;
  for (let n = 0; n < chars && p < bytes.length; n++) {
    if (bytes.charCodeAt(p) < 0x80) {
      p++;
      continue;
    }
    const { value, next } = utf8Decode(bytes, p);
    if (value === INVALID) break;
    p = next;
  }
  return bytes.slice(0, p);
}

/**
 * Helpers every transport uses to build an environ: header names to `HTTP_*` keys, and the
 * request-target split into PATH_INFO / QUERY_STRING with PATH_INFO percent-decoded.
 */
import type { ErrorStream } from './types.js';

const headerKeys = new Map<string, string>();
const HEADER_KEY_CACHE_LIMIT = 512;

/**
 * `Content-Type` -> `CONTENT_TYPE`, `Content-Length` -> `CONTENT_LENGTH`, `X-Foo` -> `HTTP_X_FOO`.
 * PEP 3333 (and CGI) keep the two body headers out of the `HTTP_` namespace.
 * Cached: header names repeat on every request.
 */
export function headerToEnvironKey(name: string): string {
  let key = headerKeys.get(name);
  if (key !== undefined) return key;
  const upper = name.toUpperCase().replace(/-/g, '_');
  key = upper === 'CONTENT_TYPE' || upper === 'CONTENT_LENGTH' ? upper : `HTTP_${upper}`;
  if (headerKeys.size < HEADER_KEY_CACHE_LIMIT) headerKeys.set(name, key);
  return key;
}

/** How a repeated request header joins (RFC 9110 §5.3; Cookie uses `; ` per RFC 6265 §5.4). */
export function joinRepeatedHeader(key: string, previous: string, value: string): string {
  return previous + (key === 'HTTP_COOKIE' ? '; ' : ', ') + value;
}

const NEEDS_DECODING = /[%\x80-\xff]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Percent-decodes a path the way nginx and uWSGI do (bytes), then reads the bytes as UTF-8;
 * a path that is not valid UTF-8 is read as latin-1 so no byte is lost (REQUEST_URI keeps the raw form).
 * `raw` holds one byte per char (latin-1), as the HTTP codec delivers it.
 */
export function decodePath(raw: string): string {
  if (!NEEDS_DECODING.test(raw)) return raw;
  const bytes = Buffer.allocUnsafe(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code === 0x25 /* % */ && i + 2 < raw.length && isHex(raw.charCodeAt(i + 1)) && isHex(raw.charCodeAt(i + 2))) {
      bytes[n++] = Number.parseInt(raw.slice(i + 1, i + 3), 16);
      i += 2;
    } else {
      bytes[n++] = code & 0xff;
    }
  }
  const decoded = bytes.subarray(0, n);
  try {
    return utf8.decode(decoded);
  } catch {
    return decoded.toString('latin1');
  }
}

function isHex(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);
}

/** Splits a request-target into its path and query; absolute-form targets lose scheme and authority. */
export function splitTarget(target: string): { path: string; query: string } {
  let start = 0;
  if (target.charCodeAt(0) !== 0x2f /* / */) {
    const scheme = target.indexOf('://');
    if (scheme > 0) {
      const slash = target.indexOf('/', scheme + 3);
      const question = target.indexOf('?', scheme + 3);
      if (slash < 0 || (question >= 0 && question < slash)) {
        return { path: '/', query: question < 0 ? '' : target.slice(question + 1) };
      }
      start = slash;
    }
  }
  const question = target.indexOf('?', start);
  if (question < 0) return { path: target.slice(start), query: '' };
  return { path: target.slice(start, question), query: target.slice(question + 1) };
}

/** `tsgi.errors` writing into a log function, one line per newline-terminated text. */
export class LogErrorStream implements ErrorStream {
  private pending = '';
  constructor(private readonly sink: (line: string) => void) {}
  write(text: string): void {
    this.pending += text;
    let newline = this.pending.indexOf('\n');
    while (newline >= 0) {
      this.sink(this.pending.slice(0, newline));
      this.pending = this.pending.slice(newline + 1);
      newline = this.pending.indexOf('\n');
    }
  }
  writelines(lines: Iterable<string>): void {
    for (const line of lines) this.write(line);
  }
  flush(): void {
    if (this.pending) {
      this.sink(this.pending);
      this.pending = '';
    }
  }
}

/**
 * Hop-by-hop headers (RFC 9110 section 7.6.1, the list `wsgiref` enforces): they describe one
 * connection, which the server owns, so an application must not send them (PEP 3333).
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
]);

export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name.toLowerCase());
}

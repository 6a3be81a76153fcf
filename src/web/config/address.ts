/**
 * Addresses as nginx reads them in `listen`, `server` (upstream), `*_pass`, `allow`/`deny`:
 * ports of src/core/ngx_inet.c (`ngx_inet_addr`, `ngx_inet6_addr`, `ngx_inet6_ntop`,
 * `ngx_parse_url`, `ngx_ptocidr`) with their quirks and their error words ("invalid port",
 * "no host", "invalid IPv6 address"...), which the directives wrap into nginx's messages.
 *
 * Host names are not resolved here (nginx resolves them while reading the configuration); they
 * are kept by name and resolved when sockets are opened.
 */
import type { PeerAddress } from './types.js';

/** `ngx_inet_addr`: a dotted quad, four octets 0-255 (nginx lets an octet be empty). Null if not one. */
export function parseIPv4(text: string): [number, number, number, number] | null {
  const octets: number[] = [];
  let octet = 0;
  for (const ch of text) {
    if (ch >= '0' && ch <= '9') {
      octet = octet * 10 + (ch.charCodeAt(0) - ZERO);
      if (octet > 255) return null;
      continue;
    }
    if (ch === '.') {
      octets.push(octet);
      octet = 0;
      continue;
    }
    return null;
  }
  if (octets.length !== 3) return null;
  octets.push(octet);
  // INADDR_NONE doubles as the error value in nginx, so 255.255.255.255 is "not an address".
  if (octets.every((o) => o === 255)) return null;
  return [octets[0]!, octets[1]!, octets[2]!, octets[3]!];
}

const ZERO = '0'.charCodeAt(0);

/** `ngx_inet6_addr`: the 16 bytes of an IPv6 address (no brackets), or null. */
export function parseIPv6(text: string): Uint8Array | null {
  if (text.length === 0) return null;
  const out = new Uint8Array(16);
  let at = 0;
  let zero = -1;
  let digitIndex = -1;
  let nibbles = 0;
  let word = 0;
  let n = 8;
  let i = text[0] === ':' ? 1 : 0;
  for (; i < text.length; i += 1) {
    const c = text[i]!;
    if (c === ':') {
      if (nibbles) {
        digitIndex = i + 1;
        out[at++] = word >> 8;
        out[at++] = word & 0xff;
        if (--n) {
          nibbles = 0;
          word = 0;
          continue;
        }
      } else if (zero === -1) {
        digitIndex = i + 1;
        zero = at;
        continue;
      }
      return null;
    }
    if (c === '.' && nibbles) {
      if (n < 2 || digitIndex === -1) return null;
      const v4 = parseIPv4(text.slice(digitIndex));
      if (!v4) return null;
      out[at++] = v4[0];
      out[at++] = v4[1];
      word = (v4[2] << 8) | v4[3];
      n -= 1;
      nibbles = 1;
      i = text.length;
      break;
    }
    if (++nibbles > 4) return null;
    const value = parseInt(c, 16);
    if (Number.isNaN(value)) return null;
    word = word * 16 + value;
  }
  if (nibbles === 0 && zero === -1) return null;
  out[at++] = word >> 8;
  out[at++] = word & 0xff;
  if (--n) {
    if (zero === -1) return null;
    // Move what follows the `::` to the end and fill the gap with zeros.
    const tail = out.slice(zero, at);
    out.fill(0, zero);
    out.set(tail, 16 - tail.length);
    return out;
  }
  return zero === -1 ? out : null;
}

/** `ngx_inet6_ntop`: nginx's text form of an IPv6 address (used in messages like `[::]:80`). */
export function formatIPv6(bytes: Uint8Array): string {
  let zero = -1;
  let last = -1;
  let max = 1;
  let n = 0;
  for (let i = 0; i < 16; i += 2) {
    if (bytes[i] || bytes[i + 1]) {
      if (max < n) {
        zero = last;
        max = n;
      }
      n = 0;
      continue;
    }
    if (n++ === 0) last = i;
  }
  if (max < n) {
    zero = last;
    max = n;
  }
  let text = '';
  let end = 16;
  if (zero === 0) {
    if ((max === 5 && bytes[10] === 0xff && bytes[11] === 0xff) || max === 6 || (max === 7 && bytes[14] !== 0 && bytes[15] !== 1)) {
      end = 12;
    }
    text += ':';
  }
  for (let i = 0; i < end; i += 2) {
    if (i === zero) {
      text += ':';
      i += (max - 1) * 2;
      continue;
    }
    text += (bytes[i]! * 256 + bytes[i + 1]!).toString(16);
    if (i < 14) text += ':';
  }
  if (end === 12) text += `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  return text;
}

/** `ngx_atoi` on a port: 1-65535, else null. */
function parsePort(text: string): number | null {
  if (!/^[0-9]+$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : null;
}

/** What `ngx_parse_url` makes of an address. */
export interface ParsedUrl {
  readonly address: PeerAddress;
  /** The host as written (with brackets for IPv6), for implicit upstream names. */
  readonly host: string;
  readonly port: number;
  /** No port was written (the default was used). */
  readonly noPort: boolean;
  /** The URI part (`/path` or `?args`), when `uriPart` was asked for. */
  readonly uri: string | null;
  /** The host is a name, not an address literal. */
  readonly needsResolve: boolean;
  readonly wildcard: boolean;
}

export interface ParseUrlOptions {
  /** `listen`: a bare number is a port, `*` is any address, no URI allowed. */
  readonly listen?: boolean;
  /** `*_pass`: a URI part may follow the address. */
  readonly uriPart?: boolean;
  readonly defaultPort: number;
}

/** `sizeof(sun_path)` on Linux. */
const UNIX_PATH_MAX = 108;

/** `ngx_parse_url`: returns the address, or nginx's error words (`invalid port`, `no host`...). */
export function parseUrl(url: string, options: ParseUrlOptions): ParsedUrl | { err: string } {
  if (url.length >= 5 && url.slice(0, 5).toLowerCase() === 'unix:') return parseUnixUrl(url, options);
  if (url.startsWith('[')) return parseInet6Url(url, options);
  return parseInetUrl(url, options);
}

function parseUnixUrl(url: string, options: ParseUrlOptions): ParsedUrl | { err: string } {
  let path = url.slice(5);
  let uri: string | null = null;
  if (options.uriPart) {
    const colon = path.indexOf(':');
    if (colon !== -1) {
      uri = path.slice(colon + 1);
      path = path.slice(0, colon);
    }
  }
  if (path.length === 0) return { err: 'no path in the unix domain socket' };
  if (Buffer.byteLength(path) + 1 > UNIX_PATH_MAX) return { err: 'too long path in the unix domain socket' };
  return {
    address: { kind: 'unix', path, text: `unix:${path}` },
    host: path,
    port: 0,
    noPort: false,
    uri,
    needsResolve: false,
    wildcard: false,
  };
}

function parseInetUrl(url: string, options: ParseUrlOptions): ParsedUrl | { err: string } {
  let last = url.length;
  let port = url.indexOf(':');
  let uriAt = url.indexOf('/');
  const argsAt = url.indexOf('?');
  if (argsAt !== -1 && (uriAt === -1 || argsAt < uriAt)) uriAt = argsAt;
  let uri: string | null = null;
  if (uriAt !== -1) {
    if (options.listen || !options.uriPart) return { err: 'invalid host' };
    uri = url.slice(uriAt);
    last = uriAt;
    if (uriAt < port) port = -1;
  }
  let portNumber = options.defaultPort;
  let noPort = false;
  if (port !== -1) {
    const n = parsePort(url.slice(port + 1, last));
    if (n === null) return { err: 'invalid port' };
    portNumber = n;
    last = port;
  } else {
    if (uriAt === -1 && options.listen) {
      // A bare value may be a port only (`listen 8080`).
      if (/^[0-9]+$/.test(url)) {
        const n = parsePort(url);
        if (n === null) return { err: 'invalid port' };
        return tcp('0.0.0.0', '0.0.0.0', n, false, uri, 4, true);
      }
    }
    noPort = true;
  }
  const host = url.slice(0, last);
  if (host.length === 0) return { err: 'no host' };
  if (options.listen && host === '*') return tcp('*', '0.0.0.0', portNumber, noPort, uri, 4, true);
  const v4 = parseIPv4(host);
  if (v4) {
    const text = v4.join('.');
    return tcp(host, text, portNumber, noPort, uri, 4, text === '0.0.0.0');
  }
  return { ...tcp(host, host, portNumber, noPort, uri, 0, false), needsResolve: true };
}

function parseInet6Url(url: string, options: ParseUrlOptions): ParsedUrl | { err: string } {
  const close = url.indexOf(']');
  if (close === -1) return { err: 'invalid host' };
  let last = url.length;
  let uri: string | null = null;
  const uriAt = url.indexOf('/', close + 1);
  if (uriAt !== -1) {
    if (options.listen || !options.uriPart) return { err: 'invalid host' };
    uri = url.slice(uriAt);
    last = uriAt;
  }
  let portNumber = options.defaultPort;
  let noPort = true;
  if (close + 1 < last) {
    if (url[close + 1] !== ':') return { err: 'invalid host' };
    const n = parsePort(url.slice(close + 2, last));
    if (n === null) return { err: 'invalid port' };
    portNumber = n;
    noPort = false;
  }
  const inner = url.slice(1, close);
  if (inner.length === 0) return { err: 'no host' };
  const bytes = parseIPv6(inner);
  if (!bytes) return { err: 'invalid IPv6 address' };
  const text = formatIPv6(bytes);
  return tcp(`[${inner}]`, text, portNumber, noPort, uri, 6, bytes.every((b) => b === 0));
}

function tcp(host: string, address: string, port: number, noPort: boolean, uri: string | null, ipVersion: 0 | 4 | 6, wildcard: boolean): ParsedUrl {
  return {
    address: { kind: 'tcp', host: address, port, ipVersion, text: socketText(address, port, ipVersion) },
    host,
    port,
    noPort,
    uri,
    needsResolve: false,
    wildcard,
  };
}

/** `ngx_sock_ntop` with the port: `1.2.3.4:80`, `[::1]:80`. */
export function socketText(address: string, port: number, ipVersion: 0 | 4 | 6): string {
  return ipVersion === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A parsed `allow`/`deny`/`set_real_ip_from` address. */
export interface Cidr {
  readonly ipVersion: 4 | 6;
  /** The network address (host bits cleared), in nginx's text form. */
  readonly address: string;
  readonly prefixLength: number;
  /** The written address had host bits set (nginx warns "low address bits of X are meaningless"). */
  readonly hostBitsSet: boolean;
}

/** `ngx_ptocidr`: `ADDRESS[/BITS]`; null when invalid. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const v4 = parseIPv4(addressText);
  let bytes: Uint8Array;
  let ipVersion: 4 | 6;
  if (v4) {
    bytes = Uint8Array.from(v4);
    ipVersion = 4;
  } else {
    const v6 = parseIPv6(addressText);
    if (!v6) return null;
    bytes = v6;
    ipVersion = 6;
  }
  const bits = bytes.length * 8;
  let prefixLength = bits;
  if (slash !== -1) {
    const mask = text.slice(slash + 1);
    if (!/^[0-9]+$/.test(mask)) return null;
    prefixLength = Number(mask);
    if (prefixLength > bits) return null;
  }
  let hostBitsSet = false;
  for (let i = 0; i < bytes.length; i += 1) {
    const keep = Math.max(0, Math.min(8, prefixLength - i * 8));
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    if ((bytes[i]! & ~mask & 0xff) !== 0) hostBitsSet = true;
    bytes[i] = bytes[i]! & mask;
  }
  const address = ipVersion === 4 ? Array.from(bytes).join('.') : formatIPv6(bytes);
  return { ipVersion, address, prefixLength, hostBitsSet };
}

/**
 * tsgi's kept uwsgi connections, client side (docs/protocols.md, "Kept uwsgi connections"): a
 * request whose packet has modifier2 'K' asks the peer to keep the connection; a peer that agrees
 * says `Tsgi-Keep: 1` in its response head and delimits the response itself (Content-Length,
 * chunked, or no body at all), so the response ends before the close and the connection can carry
 * the next request. A peer that does not know the extension (real uWSGI) ignores modifier2 and
 * answers as usual: no header, response until the close.
 */

/** modifier2 of a request that asks to keep the connection ('K'). */
export const KEEP_MODIFIER2 = 0x4b;

const KEEP_HEADER = 'tsgi-keep';
const RETRY_HEADER = 'tsgi-retry';
const TRANSFER_ENCODING = 'transfer-encoding';
const CHUNKED = 'chunked';

/** A head whose peer agreed: its headers without `Tsgi-Keep` (and without the
 *  `Transfer-Encoding: chunked` the client decodes), and whether the body is chunked. */
export interface KeptHead {
  headers: string[];
  chunked: boolean;
}

/** The agreement in `headers`, or null when the peer did not agree (the response then runs until
 *  the close, as plain uwsgi). A `Transfer-Encoding` other than a lone `chunked` is no framing the
 *  client can read, so such a response is not taken as kept either. */
export function keptHead(headers: readonly string[]): KeptHead | null {
  let agreed = false;
  let encoding: string | null = null;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (name.length === KEEP_HEADER.length && name.toLowerCase() === KEEP_HEADER) agreed = headers[i + 1].trim() === '1';
    else if (name.length === TRANSFER_ENCODING.length && name.toLowerCase() === TRANSFER_ENCODING) {
      encoding = encoding === null ? headers[i + 1].trim().toLowerCase() : 'several';
    }
  }
  if (!agreed || (encoding !== null && encoding !== CHUNKED)) return null;
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const lower = headers[i].toLowerCase();
    if (lower !== KEEP_HEADER && lower !== TRANSFER_ENCODING) out.push(headers[i], headers[i + 1]);
  }
  return { headers: out, chunked: encoding === CHUNKED };
}

/** A stopping Python worker's goodbye on a kept connection (python/tsgi/server.py): `503` with
 *  `Tsgi-Retry: 1` in place of a response, for a request it never read. Not a response: the
 *  request may be sent again on a new connection. */
export function isGoodbye(status: number, headers: readonly string[]): boolean {
  if (status !== 503) return false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (name.length === RETRY_HEADER.length && name.toLowerCase() === RETRY_HEADER && headers[i + 1].trim() === '1') return true;
  }
  return false;
}

/**
 * tsgi's kept uwsgi connections, app server side (docs/protocols.md, "Kept uwsgi connections"):
 * a request whose packet has modifier2 'K' asks to keep the connection. The worker agrees by
 * adding `Tsgi-Keep: 1` to the head, and then must delimit the response itself, since the close
 * no longer ends it: the app's Content-Length, or chunks it writes itself, or the head alone for
 * HEAD, 1xx, 204 and 304. When it cannot (an HTTP/1.0 request without a length: that client
 * could not read chunks; the app's own Transfer-Encoding), it leaves the header out and closes
 * after the response as plain uwsgi. The same rules as the Python worker (python/tsgi/response.py).
 */
import type { HeaderList } from '../gateway/types.js';

/** modifier2 of a request that asks to keep the connection ('K'). */
export const KEEP_MODIFIER2 = 0x4b;

export const enum KeptFraming {
  /** Not kept: the response ends with the close, as plain uwsgi. */
  Close,
  /** Kept, the head alone: body bytes the app gives are dropped. */
  NoBody,
  /** Kept, the app's Content-Length. */
  Length,
  /** Kept, chunks the worker writes. */
  Chunked,
}

export interface KeptHeadDecision {
  framing: KeptFraming;
  /** The Content-Length with KeptFraming.Length. */
  length: number;
  /** The headers to send (with `Tsgi-Keep`, and `Transfer-Encoding` when chunked). */
  headers: HeaderList;
}

const KEEP_HEADER: [string, string] = ['Tsgi-Keep', '1'];
const CHUNKED_HEADER: [string, string] = ['Transfer-Encoding', 'chunked'];
const DIGITS = /^\d+$/;

/** How a response to a request that asked to keep the connection is framed. */
export function decideKeptHead(status: number, headers: HeaderList, method: string, requestProtocol: string): KeptHeadDecision {
  let length = -1;
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === 'transfer-encoding') return { framing: KeptFraming.Close, length: 0, headers };
    if (lower === 'content-length') {
      // Two lengths, or one that is no number: the response cannot be delimited by it.
      if (length >= 0 || !DIGITS.test(value.trim())) return { framing: KeptFraming.Close, length: 0, headers };
      length = Number(value.trim());
    }
  }
  const kept = [...headers, KEEP_HEADER];
  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) return { framing: KeptFraming.NoBody, length: 0, headers: kept };
  if (length >= 0) return { framing: KeptFraming.Length, length, headers: kept };
  if (requestProtocol !== 'HTTP/1.1') return { framing: KeptFraming.Close, length: 0, headers };
  kept.push(CHUNKED_HEADER);
  return { framing: KeptFraming.Chunked, length: 0, headers: kept };
}

/**
 * How long the response body must be, from its head, and whether it was. On uwsgi and SCGI the
 * end of a response is the peer's close, and on FastCGI FCGI_END_REQUEST: neither says the
 * body is whole. A Content-Length does, so a response that ends short of it is a truncated one
 * (ERR_UPSTREAM_PREMATURE_CLOSE) and never passes as complete.
 *
 * nginx's rules (ngx_http_upstream.c, ngx_http_upstream_process_content_length and the
 * `*_input_filter`s):
 *  - Content-Length must be decimal digits: "upstream sent invalid "Content-Length" header".
 *  - Two Content-Length lines are refused: "upstream sent duplicate header line".
 *  - Bytes past the length are dropped with a warning: "upstream sent more data than specified
 *    in "Content-Length" header".
 *  - A response to HEAD, a 204 or a 304 has no body whatever the head says (RFC 9110 §6.4.1).
 *    (A 1xx is no final answer at all: the exchange refuses it.)
 */

const CONTENT_LENGTH = 'content-length';
const DIGITS = /^\d+$/;
const NO_CONTENT = 204;
const NOT_MODIFIED = 304;
const FIRST_FINAL_STATUS = 200;

/** False for a final response that has no body whatever its head says (HEAD, 204, 304). */
export function hasBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status !== NO_CONTENT && status !== NOT_MODIFIED;
}

/** 1xx: an interim answer (RFC 9110 §15.2). These protocols carry one final response and no
 *  upgrade, so a 1xx head is never the response: taking it as one would drop the real one. */
export function isInterim(status: number): boolean {
  return status < FIRST_FINAL_STATUS;
}

/** The body length the head announces: a number, null (none: until the end of the response), or
 *  an error text in nginx's words. */
export function announcedBodyLength(headers: readonly string[]): number | null | { invalid: string } {
  let length: number | null = null;
  let seen: string | null = null;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (name.length !== CONTENT_LENGTH.length || name.toLowerCase() !== CONTENT_LENGTH) continue;
    const value = headers[i + 1];
    if (seen !== null) {
      return { invalid: `upstream sent duplicate header line: "${name}: ${value}", previous value: "${name}: ${seen}"` };
    }
    if (!DIGITS.test(value) || !Number.isSafeInteger(Number(value))) {
      return { invalid: `upstream sent invalid "Content-Length" header: "${name}: ${value}"` };
    }
    seen = value;
    length = Number(value);
  }
  return length;
}

/** Counts body bytes against the expected length. */
export class BodyLength {
  private readonly expected: number | null;
  private received = 0;
  private overflowed = false;

  constructor(expected: number | null) {
    this.expected = expected;
  }

  /** The part of `chunk` within the length (a subarray, or `chunk` itself); empty past it. */
  take(chunk: Buffer): Buffer {
    const expected = this.expected;
    const before = this.received;
    this.received += chunk.length;
    if (expected === null || this.received <= expected) return chunk;
    this.overflowed = true;
    return chunk.subarray(0, Math.max(0, expected - before));
  }

  /** True once bytes past the length arrived (they were dropped): log it once. */
  get overflow(): boolean {
    return this.overflowed;
  }

  /** Null if the body is whole, else what is missing, for the error message. */
  shortfall(): string | null {
    if (this.expected === null || this.received >= this.expected) return null;
    return `${this.received} of ${this.expected} body bytes`;
  }
}

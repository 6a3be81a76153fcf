/**
 * Named errors of the upstream client (undici's `lib/core/errors.js` pattern): callers match on
 * `code` and `phase`, never on the message. The message is nginx's error log line for the same
 * failure, so an operator can search for either:
 *
 *   connect() failed (111: Connection refused) while connecting to upstream, upstream: "uwsgi://127.0.0.1:9000"
 *   upstream timed out (110: Connection timed out) while reading response header from upstream, upstream: "..."
 *   upstream prematurely closed connection while reading upstream, upstream: "fastcgi://unix:/run/php.sock"
 *
 * nginx builds these as "<what happened> while <the connection's current action>" (the action is
 * `u->peer.log->action` / `r->connection->log->action` in ngx_http_upstream.c); `phase` is that
 * action as a stable value, and ACTIONS below holds nginx's words for each.
 *
 * Codes (each one failure, for one request; the connection it happened on is closed):
 *
 *   ERR_UPSTREAM_CONNECT           connect() failed: refused, no such socket file, unreachable.
 *   ERR_UPSTREAM_CONNECT_TIMEOUT   no connection within connectTimeout.
 *   ERR_UPSTREAM_SEND_TIMEOUT      the peer accepted no request bytes for sendTimeout.
 *   ERR_UPSTREAM_READ_TIMEOUT      the peer sent no response bytes for readTimeout.
 *   ERR_UPSTREAM_SEND              a write failed (EPIPE, ECONNRESET) while sending the request.
 *   ERR_UPSTREAM_READ              a read failed (ECONNRESET) while reading the response.
 *   ERR_UPSTREAM_PREMATURE_CLOSE   the peer closed before the response was complete: inside the
 *                                  head, before the Content-Length it announced, or (FastCGI)
 *                                  before FCGI_END_REQUEST.
 *   ERR_UPSTREAM_INVALID_RESPONSE  a head or framing the client refuses (bad status line, bad
 *                                  header, head over maxHeadSize, bad Content-Length, broken
 *                                  FastCGI records).
 *   ERR_UPSTREAM_REJECTED          FastCGI only: END_REQUEST with a protocol status other than
 *                                  FCGI_REQUEST_COMPLETE (overloaded, cannot multiplex, unknown role).
 *   ERR_UPSTREAM_INVALID_REQUEST   the request cannot be encoded (a uwsgi vars block over 64 KiB,
 *                                  a var that is not latin1, a body whose length is unknown where the
 *                                  protocol needs it); nothing was sent.
 *   ERR_UPSTREAM_REQUEST_BODY      the request body source failed or gave a different number of bytes
 *                                  than its declared length (the peer would misread the stream).
 *   ERR_UPSTREAM_ABORTED           the caller gave up: `body.cancel()` or the request's AbortSignal.
 *   ERR_UPSTREAM_CLIENT_CLOSED     `request()` after `close()`.
 */
import { constants } from 'node:os';
import { TsgiError } from '../errors.js';

export type UpstreamErrorCode =
  | 'ERR_UPSTREAM_CONNECT'
  | 'ERR_UPSTREAM_CONNECT_TIMEOUT'
  | 'ERR_UPSTREAM_SEND_TIMEOUT'
  | 'ERR_UPSTREAM_READ_TIMEOUT'
  | 'ERR_UPSTREAM_SEND'
  | 'ERR_UPSTREAM_READ'
  | 'ERR_UPSTREAM_PREMATURE_CLOSE'
  | 'ERR_UPSTREAM_INVALID_RESPONSE'
  | 'ERR_UPSTREAM_REJECTED'
  | 'ERR_UPSTREAM_INVALID_REQUEST'
  | 'ERR_UPSTREAM_REQUEST_BODY'
  | 'ERR_UPSTREAM_ABORTED'
  | 'ERR_UPSTREAM_CLIENT_CLOSED';

/** Where the exchange with the peer was when it failed. */
export type UpstreamPhase = 'connecting' | 'sending request' | 'reading response header' | 'reading response body';

/** nginx's log action for each phase: "... while <action>". nginx says "reading upstream" for the
 *  body (ngx_http_upstream_send_response sets that action once the header is processed). */
const ACTIONS: Readonly<Record<UpstreamPhase, string>> = {
  connecting: 'connecting to upstream',
  'sending request': 'sending request to upstream',
  'reading response header': 'reading response header from upstream',
  'reading response body': 'reading upstream',
};

/** One failed request to an upstream peer. */
export class UpstreamError extends TsgiError {
  override readonly code: UpstreamErrorCode;
  /** The peer as nginx names it in logs: `uwsgi://127.0.0.1:9000`, `fastcgi://unix:/run/php.sock`. */
  readonly peer: string;
  readonly phase: UpstreamPhase;

  /** `what` is the first part of nginx's line ("upstream prematurely closed connection"). */
  constructor(code: UpstreamErrorCode, what: string, phase: UpstreamPhase, peer: string, options?: { cause?: unknown }) {
    super(code, `${what} while ${phaseAction(phase)}, upstream: "${peer}"`, options);
    this.code = code;
    this.peer = peer;
    this.phase = phase;
  }
}

/** nginx's words for a phase, as they follow "while" in its log lines. */
export function phaseAction(phase: UpstreamPhase): string {
  return ACTIONS[phase];
}

/** The strerror(3) text for the errno values a socket to an upstream meets. Node has no
 *  strerror before v23 (util.getSystemErrorMessage), and nginx prints it. */
const STRERROR: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  ECONNABORTED: 'Software caused connection abort',
  EPIPE: 'Broken pipe',
  ETIMEDOUT: 'Connection timed out',
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  ENOTSOCK: 'Socket operation on non-socket',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EAGAIN: 'Resource temporarily unavailable',
  ENOTFOUND: 'Host not found',
};

/** "(111: Connection refused)" for a Node system error, as nginx's ngx_log_error prints errno. */
export function errnoText(error: unknown): string {
  const code = systemErrorCode(error);
  if (code === undefined) return `(${error instanceof Error ? error.message : String(error)})`;
  return errnoTextOf(code);
}

/** "(110: Connection timed out)" for an errno name; the number is this platform's. */
function errnoTextOf(code: string): string {
  const errno: number | undefined = (constants.errno as Record<string, number | undefined>)[code];
  const text = STRERROR[code] ?? code;
  return errno === undefined ? `(${code}: ${text})` : `(${errno}: ${text})`;
}

/** `error.code` of a Node system error ("ECONNREFUSED"), if it has one. */
export function systemErrorCode(error: unknown): string | undefined {
  if (!(error instanceof Error) || !('code' in error)) return undefined;
  const code = error.code;
  return typeof code === 'string' ? code : undefined;
}

/** What nginx says when one of its timers fires: it reports NGX_ETIMEDOUT as the errno. */
export const TIMED_OUT = `upstream timed out ${errnoTextOf('ETIMEDOUT')}`;

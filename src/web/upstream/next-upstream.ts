/**
 * `*_next_upstream`: whether a failed attempt moves on to the next server, and the status the
 * request ends with when it does not (ngx_http_upstream_next and ngx_http_upstream_test_next in
 * ngx_http_upstream.c, nginx 1.22):
 *
 *   failure                          condition        final status
 *   connect/send/read error, close   error            502
 *   connect/send/read timeout        timeout          504
 *   a head the client refuses        invalid_header   502
 *   a response 500/502/503/504/      http_NNN         the response itself is sent when the
 *   403/404/429                                       attempt is the last one
 *
 * A POST, LOCK or PATCH that has been sent (even partly) moves on only when `non_idempotent` is
 * also listed; a body sent unbuffered (`*_request_buffering off`) never moves on once sent.
 * `*_next_upstream_tries` (0: no limit) bounds the attempts and `*_next_upstream_timeout` the
 * time since the first one started.
 */
import type { UpstreamError } from '../../upstream/index.js';
import type { PeerOutcome } from './types.js';

/** One failed attempt, classified. */
export interface Failure {
  /** The `*_next_upstream` keyword it falls under. */
  readonly condition: 'error' | 'timeout' | 'invalid_header' | `http_${number}`;
  /** The status the request ends with if no other server is tried. */
  readonly status: number;
  /** What the balancer is told: 403/404 are no fault of the server (nginx's NGX_PEER_NEXT). */
  readonly outcome: PeerOutcome;
  /** The request had started to go out (nginx's u->request_sent). */
  readonly sent: boolean;
}

const TIMEOUT_CODES = new Set(['ERR_UPSTREAM_CONNECT_TIMEOUT', 'ERR_UPSTREAM_SEND_TIMEOUT', 'ERR_UPSTREAM_READ_TIMEOUT']);
const INVALID_CODES = new Set(['ERR_UPSTREAM_INVALID_RESPONSE', 'ERR_UPSTREAM_REJECTED']);
/** Statuses `*_next_upstream` can name, and what nginx answers when it gives up on one. */
const RETRIABLE_STATUSES: ReadonlyMap<number, number> = new Map([
  [500, 500],
  [502, 502],
  [503, 503],
  [504, 504],
  [403, 403],
  [404, 404],
  [429, 429],
]);
const NON_IDEMPOTENT_METHODS = new Set(['POST', 'LOCK', 'PATCH']);

export function classifyError(error: UpstreamError): Failure {
  const sent = error.phase !== 'connecting';
  if (TIMEOUT_CODES.has(error.code)) return { condition: 'timeout', status: 504, outcome: 'failed', sent };
  if (INVALID_CODES.has(error.code)) return { condition: 'invalid_header', status: 502, outcome: 'failed', sent };
  return { condition: 'error', status: 502, outcome: 'failed', sent };
}

/** The failure a response status stands for, or null when `*_next_upstream` cannot name it. */
export function classifyStatus(status: number): Failure | null {
  const final = RETRIABLE_STATUSES.get(status);
  if (final === undefined) return null;
  return { condition: `http_${status}`, status: final, outcome: status === 403 || status === 404 ? 'ok' : 'failed', sent: true };
}

export interface RetryPolicy {
  readonly conditions: readonly string[];
  /** Attempts allowed in all (nginx: min(tries, servers + backups)). */
  readonly tries: number;
  /** ms; 0: none. */
  readonly timeoutMs: number;
  readonly method: string;
  /** The body is being streamed (request buffering off) and cannot be sent again. */
  readonly streamedBody: boolean;
}

/** Whether `failure` on attempt number `attempt` (1-based), `elapsedMs` after the first, moves on. */
export function shouldRetry(policy: RetryPolicy, failure: Failure, attempt: number, elapsedMs: number): boolean {
  if (attempt >= policy.tries) return false;
  if (!policy.conditions.includes(failure.condition)) return false;
  if (failure.sent && NON_IDEMPOTENT_METHODS.has(policy.method) && !policy.conditions.includes('non_idempotent')) return false;
  if (failure.sent && policy.streamedBody) return false;
  if (policy.timeoutMs > 0 && elapsedMs >= policy.timeoutMs) return false;
  return true;
}

/** nginx's u->peer.tries: the group's servers, capped by `*_next_upstream_tries`. */
export function allowedTries(groupTries: number, nextUpstreamTries: number): number {
  return nextUpstreamTries > 0 ? Math.min(groupTries, nextUpstreamTries) : groupTries;
}

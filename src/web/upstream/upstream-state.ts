/**
 * The `$upstream_*` variables of one request (ngx_http_upstream_addr_variable and friends): one
 * entry per attempt, joined with ", " in nginx's formats. Times are seconds with milliseconds;
 * a time never reached (no connection, no header) is "-". The values live in ctx.variables, where
 * the variable engine reads the upstream names (src/web/variables.ts), written at the response
 * head (for add_header) and when an attempt ends (failed, or its body read: the access log).
 */
import type { RequestContext } from '../request-context.js';

interface Attempt {
  /** `$upstream_addr`: the peer, or the group's name when no server was left. */
  addr: string;
  startMs: number;
  /** `$upstream_status` (the response's, or 502/504 for a failure); null while waiting. */
  status: number | null;
  /** ms from the start; -1: not reached, or a client that does not report it. */
  connectMs: number;
  headerMs: number;
  responseMs: number;
  /** Response body bytes received (`$upstream_response_length`). */
  length: number;
}

function seconds(ms: number): string {
  if (ms < 0) return '-';
  const whole = Math.max(0, Math.round(ms));
  return `${Math.floor(whole / 1000)}.${String(whole % 1000).padStart(3, '0')}`;
}

export class UpstreamState {
  private readonly attempts: Attempt[] = [];

  constructor(private readonly ctx: RequestContext) {}

  /** A new attempt on `addr`; returns its index. */
  begin(addr: string): number {
    this.attempts.push({ addr, startMs: performance.now(), status: null, connectMs: -1, headerMs: -1, responseMs: -1, length: 0 });
    return this.attempts.length - 1;
  }

  /** The connection to the peer is established. */
  connected(index: number): void {
    const a = this.attempts[index]!;
    a.connectMs = performance.now() - a.startMs;
  }

  /** The response head arrived. */
  header(index: number, status: number): void {
    const a = this.attempts[index]!;
    a.headerMs = performance.now() - a.startMs;
    a.status = status;
    a.responseMs = a.headerMs;
    // The header filters (add_header $upstream_addr) run before the body is read.
    this.publish();
  }

  /** The attempt ended (failed, or its body was read to the end): its response time stops. */
  end(index: number, status: number | null, bodyBytes = 0): void {
    const a = this.attempts[index]!;
    a.responseMs = performance.now() - a.startMs;
    a.length = bodyBytes;
    if (status !== null) {
      a.status = status;
      this.publish();
      return;
    }
    // The end of a body whose head was published: only its time and length changed.
    const v = this.ctx.variables;
    const list = this.attempts;
    if (list.length === 1) {
      v.set('upstream_response_time', seconds(a.responseMs));
      v.set('upstream_response_length', String(a.length));
      return;
    }
    v.set('upstream_response_time', list.map((b) => seconds(b.responseMs)).join(', '));
    v.set('upstream_response_length', list.map((b) => String(b.length)).join(', '));
  }

  private publish(): void {
    const v = this.ctx.variables;
    const list = this.attempts;
    if (list.length === 1) {
      // Nearly every request makes one attempt: its values without the lists and joins.
      const a = list[0]!;
      v.set('upstream_addr', a.addr);
      v.set('upstream_status', a.status === null ? '-' : String(a.status));
      v.set('upstream_connect_time', seconds(a.connectMs));
      v.set('upstream_header_time', seconds(a.headerMs));
      v.set('upstream_response_time', seconds(a.responseMs));
      v.set('upstream_response_length', String(a.length));
      return;
    }
    v.set('upstream_addr', list.map((a) => a.addr).join(', '));
    v.set('upstream_status', list.map((a) => (a.status === null ? '-' : String(a.status))).join(', '));
    v.set('upstream_connect_time', list.map((a) => seconds(a.connectMs)).join(', '));
    v.set('upstream_header_time', list.map((a) => seconds(a.headerMs)).join(', '));
    v.set('upstream_response_time', list.map((a) => seconds(a.responseMs)).join(', '));
    v.set('upstream_response_length', list.map((a) => String(a.length)).join(', '));
  }
}

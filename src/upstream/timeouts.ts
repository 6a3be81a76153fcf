/**
 * The three upstream timeouts, with nginx's semantics (ngx_http_upstream_module: `*_connect_timeout`,
 * `*_send_timeout`, `*_read_timeout`, all 60s by default):
 *
 *   connectTimeout  from the start of connect() to the established connection.
 *   sendTimeout     between two successive writes the peer accepts: a slow peer that keeps taking
 *                   bytes never trips it, one that stops reading for this long does.
 *   readTimeout     between two successive reads, once the request is sent: the whole response may
 *                   take longer. While the caller is not reading the body (backpressure) the client
 *                   does not read either, and this timer is stopped: the wait is the caller's.
 */

/** Milliseconds; every value positive. */
export interface UpstreamTimeouts {
  connectTimeout: number;
  sendTimeout: number;
  readTimeout: number;
}

/** nginx's defaults for proxy_/uwsgi_/fastcgi_/scgi_ connect, send and read timeouts. */
export const DEFAULT_UPSTREAM_TIMEOUTS: Readonly<UpstreamTimeouts> = Object.freeze({
  connectTimeout: 60_000,
  sendTimeout: 60_000,
  readTimeout: 60_000,
});

/** The defaults with the caller's values on top; a RangeError for a value that is not > 0. */
export function resolveTimeouts(given: Partial<UpstreamTimeouts>): UpstreamTimeouts {
  const out = { ...DEFAULT_UPSTREAM_TIMEOUTS };
  for (const name of Object.keys(DEFAULT_UPSTREAM_TIMEOUTS) as (keyof UpstreamTimeouts)[]) {
    const value = given[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
      throw new RangeError(`${name} must be a positive number of milliseconds, got ${String(value)}`);
    }
    out[name] = value;
  }
  return out;
}

/**
 * A restartable one-shot timer, nginx's `ngx_add_timer` on an event: `arm()` (re)starts the full
 * period, which is how "between two successive operations" is measured, `disarm()` stops it.
 * One Node timer per instance, restarted with `refresh()`: this runs for every chunk read.
 */
export class OperationTimer {
  private readonly ms: number;
  private readonly onExpire: () => void;
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(ms: number, onExpire: () => void) {
    this.ms = ms;
    this.onExpire = onExpire;
  }

  get armed(): boolean {
    return this.running;
  }

  arm(): void {
    this.running = true;
    if (this.timer === null) {
      this.timer = setTimeout(() => this.expire(), this.ms);
    } else {
      this.timer.refresh();
    }
  }

  disarm(): void {
    if (!this.running) return;
    this.running = false;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private expire(): void {
    this.running = false;
    this.timer = null;
    this.onExpire();
  }
}

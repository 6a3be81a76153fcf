/**
 * The one timeout a connection runs at a time (nginx: the timer of its read or write event):
 * client_header_timeout, then send_timeout, then keepalive_timeout, for every request.
 *
 * Re-arming only moves a deadline: the Node timer underneath is replaced only when the new
 * deadline comes before the one it waits for. A timer that fires before the deadline (because
 * the deadline moved on) sets itself again for the time left. So a keep-alive connection costs
 * about one Node timer per timeout period instead of three setTimeout/clearTimeout pairs per
 * request, and the expiry still happens at the deadline, to the millisecond.
 */
export class Deadline {
  private timer: NodeJS.Timeout | null = null;
  /** When the pending Node timer fires (Date.now() time). */
  private due = 0;
  /** When the current timeout expires. */
  private at = 0;
  /** The current timeout's length, for restart(). */
  private ms = 0;
  private onExpire: (() => void) | null = null;

  /** Expires `ms` from now and calls `onExpire`, replacing any timeout set before. ms <= 0: none. */
  set(ms: number, onExpire: () => void): void {
    if (ms <= 0) {
      this.onExpire = null;
      return;
    }
    const now = Date.now();
    this.onExpire = onExpire;
    this.ms = ms;
    this.at = now + ms;
    if (this.timer !== null) {
      if (this.due <= this.at) return;
      clearTimeout(this.timer);
    }
    this.start(ms, this.at);
  }

  /** The current timeout starts over from now (send_timeout counts from the last write). */
  restart(): void {
    if (this.onExpire !== null) this.at = Date.now() + this.ms;
  }

  /** No timeout any more; the Node timer, if one is pending, will find nothing to do. */
  clear(): void {
    this.onExpire = null;
  }

  /** For good: also drops the Node timer, which would otherwise keep the connection reachable. */
  dispose(): void {
    this.onExpire = null;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private start(ms: number, due: number): void {
    this.due = due;
    this.timer = setTimeout(this.fire, ms);
    // A timeout never keeps the worker alive by itself.
    this.timer.unref();
  }

  private readonly fire = (): void => {
    this.timer = null;
    const onExpire = this.onExpire;
    if (onExpire === null) return;
    const left = this.at - Date.now();
    if (left > 0) {
      this.start(left, this.at);
      return;
    }
    this.onExpire = null;
    onExpire();
  };
}

/**
 * `RequestContext.clientGone`: the client closed its side (or the connection dropped) while a
 * `*_pass` handler waits on the upstream. It is read by every proxied request and fires for
 * almost none, so it is a flag and a short listener list rather than an AbortController, whose
 * construction and EventTarget listeners cost several µs per request on the proxy path.
 * It has the part of AbortSignal's shape the upstream clients use (CancelSignal).
 */
import type { CancelSignal } from '../../upstream/types.js';

type Listener = () => void;

export class ClientGone implements CancelSignal {
  aborted = false;
  private listeners: Listener[] | null = null;

  /** `once` is how every caller listens: the signal fires at most one time anyway. */
  addEventListener(_type: 'abort', listener: Listener, _options?: { once?: boolean }): void {
    if (this.aborted) return;
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: Listener): void {
    const list = this.listeners;
    if (list === null) return;
    const index = list.indexOf(listener);
    if (index >= 0) list.splice(index, 1);
  }

  /** Fires the listeners once, in the order added (as an AbortSignal's 'abort' event does). */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const list = this.listeners;
    this.listeners = null;
    if (list !== null) for (const listener of list) listener();
  }
}

/**
 * The contract between the `*_pass` content handlers (pass.ts) and the load balancers
 * (balancer/): how a request picks a server of an upstream group, and reports back, as nginx's
 * ngx_http_upstream_rr_peer_data_t get/free pair does.
 *
 *   const group = groups.get('backend');                 // one UpstreamGroup per group, per worker
 *   const pick = group.begin({ remoteAddr, hashKey });   // one PeerSelection per request
 *   for (;;) {
 *     const peer = pick.next();                          // null: "no live upstreams" → 502
 *     ...connect, send, read...
 *     pick.done(peer, 'failed');                         // counts toward max_fails, tries the next
 *   }
 *   pick.done(peer, 'ok');                               // success (releases max_conns / least_conn)
 *
 * balancer/index.ts implements UpstreamGroup (createUpstreamGroups). Refined there: 'released'
 * is documented as nginx treats it; `tries` is primaries + backups as in nginx >= 1.9.
 */
import type { PeerAddress, UpstreamConf, UpstreamServer } from '../config/index.js';

/** One server of a group as the balancer sees it (its name is `$upstream_addr`). */
export interface UpstreamPeer {
  /** `127.0.0.1:8081`, `unix:/tmp/app.sock`: nginx's `$upstream_addr` form. */
  readonly name: string;
  readonly address: PeerAddress;
  readonly server: UpstreamServer;
  readonly backup: boolean;
}

/** What a request tells the balancer about itself. */
export interface SelectionInput {
  /** `$remote_addr`, for ip_hash. */
  readonly remoteAddr: string;
  /** `hash KEY` expanded for this request ('' when the method is not `hash`). */
  readonly hashKey: string;
}

/** How one attempt on a peer ended. */
export type PeerOutcome =
  /** A response came (even 5xx that is not retried): the failure accounting restarts. */
  | 'ok'
  /** An error, a timeout, or a response `*_next_upstream` treats as a failure (http_502...):
   *  counts toward max_fails; the peer is not tried again by this request. */
  | 'failed'
  /** Not the peer's fault (the client went away, next_upstream off, a 404 passed on). nginx
   *  frees these with state 0 or NGX_PEER_NEXT, which its round-robin free treats like a
   *  success: no failure counted, and a peer probed after fail_timeout is marked live again. */
  | 'released';

/** The peers one request goes through (nginx's tried bitmap lives here). */
export interface PeerSelection {
  /** The next peer to try, or null when none is left (every server down, failed or tried). */
  next(): UpstreamPeer | null;
  /** Must be called once for each peer `next()` returned. */
  done(peer: UpstreamPeer, outcome: PeerOutcome): void;
  /** How many peers the group could try at most (nginx's `u->peer.tries`: servers + backups). */
  readonly tries: number;
}

/** An upstream group's state in one worker: weights, failures, connection counts. */
export interface UpstreamGroup {
  readonly conf: UpstreamConf;
  begin(input: SelectionInput): PeerSelection;
}

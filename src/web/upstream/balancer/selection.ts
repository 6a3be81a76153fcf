/**
 * One request's walk through a group (the PeerSelection of ../types.ts): the algorithm's get,
 * then round-robin's free for every peer handed out. Peers are released once: a second done()
 * for the same pick is ignored, so a caller's cleanup path cannot drive conns below zero.
 */
import type { PeerOutcome, PeerSelection, UpstreamPeer } from '../types.js';
import type { PeerState, PeerTier } from './peers.js';
import { freeRoundRobinPeer } from './round-robin.js';

export interface SelectionHooks {
  /** The clock in whole seconds (ngx_time()). */
  readonly now: () => number;
  readonly stateOf: (peer: UpstreamPeer) => PeerState | undefined;
  readonly onDisabled?: ((peer: UpstreamPeer) => void) | undefined;
}

export class Selection implements PeerSelection {
  readonly tries: number;
  private readonly outstanding = new Set<PeerState>();

  constructor(
    private readonly primary: PeerTier,
    private readonly get: (now: number) => PeerState | null,
    private readonly hooks: SelectionHooks,
  ) {
    // ngx_http_upstream_tries: primaries plus backups.
    this.tries = primary.peers.length + (primary.next ? primary.next.peers.length : 0);
  }

  next(): UpstreamPeer | null {
    const state = this.get(this.hooks.now());
    if (!state) return null;
    this.outstanding.add(state);
    return state.peer;
  }

  done(peer: UpstreamPeer, outcome: PeerOutcome): void {
    const state = this.hooks.stateOf(peer);
    if (!state || !this.outstanding.delete(state)) return;
    // nginx frees with NGX_PEER_FAILED or not at all: a client that went away (state 0) and a
    // 404 passed on (NGX_PEER_NEXT) take the same branch as a success.
    if (freeRoundRobinPeer(this.primary, state, outcome === 'failed', this.hooks.now())) this.hooks.onDisabled?.(peer);
  }
}

/**
 * The load balancers of `tsgi web`: one UpstreamGroup per upstream group and worker, keyed like
 * `config.http.upstreams` (implicit groups of `*_pass ADDRESS` included). Each method is its own
 * file, as nginx's modules are; they share round-robin's per-request data and free.
 */
import type { NginxConfig, UpstreamConf } from '../../config/index.js';
import type { PeerSelection, SelectionInput, UpstreamGroup, UpstreamPeer } from '../types.js';
import { buildRing, getConsistentHashPeer, startOnRing, type RingPoint } from './consistent-hash.js';
import { getHashPeer, HashData, keyBytes } from './hash.js';
import { getIpHashPeer, IpHashData, ipHashBytes } from './ip-hash.js';
import { getLeastConnPeer } from './least-conn.js';
import { buildTiers, type PeerState, type PeerTier } from './peers.js';
import { getRandom2Peer, getRandomPeer, RandomData } from './random.js';
import { getRoundRobinPeer, RoundRobinData } from './round-robin.js';
import { Selection, type SelectionHooks } from './selection.js';

export interface BalancerOptions {
  /** Milliseconds, Date.now by default; nginx counts fail_timeout in whole seconds of it. */
  readonly now?: () => number;
  /** [0, 1), Math.random by default: the `random` method's draws. */
  readonly random?: () => number;
  /** A failure took a peer out for fail_timeout (nginx: "upstream server temporarily disabled"). */
  readonly onDisabled?: (group: UpstreamConf, peer: UpstreamPeer) => void;
}

export function createUpstreamGroups(config: NginxConfig, options: BalancerOptions = {}): Map<string, UpstreamGroup> {
  const groups = new Map<string, UpstreamGroup>();
  for (const [key, conf] of config.http?.upstreams ?? config.upstreams) groups.set(key, createUpstreamGroup(conf, options));
  return groups;
}

export function createUpstreamGroup(conf: UpstreamConf, options: BalancerOptions = {}): UpstreamGroup {
  return new BalancedGroup(conf, options);
}

class BalancedGroup implements UpstreamGroup {
  private readonly primary: PeerTier;
  private readonly states = new Map<UpstreamPeer, PeerState>();
  private readonly ring: readonly RingPoint[] | null;
  private readonly hooks: SelectionHooks;
  private readonly random: () => number;

  constructor(
    readonly conf: UpstreamConf,
    options: BalancerOptions,
  ) {
    this.primary = buildTiers(conf);
    for (let tier: PeerTier | null = this.primary; tier; tier = tier.next) for (const state of tier.peers) this.states.set(state.peer, state);
    const balancer = conf.balancer;
    this.ring = balancer.method === 'hash' && balancer.consistent && this.primary.peers.length > 0 ? buildRing(this.primary) : null;
    const clock = options.now ?? Date.now;
    const onDisabled = options.onDisabled;
    this.hooks = {
      now: () => Math.floor(clock() / 1000),
      stateOf: (peer) => this.states.get(peer),
      onDisabled: onDisabled ? (peer) => onDisabled(conf, peer) : undefined,
    };
    this.random = options.random ?? Math.random;
  }

  begin(input: SelectionInput): PeerSelection {
    const rrp = new RoundRobinData(this.primary);
    const balancer = this.conf.balancer;
    let get: (now: number) => PeerState | null;
    if (this.primary.peers.length === 0) {
      // All servers are backups: nginx refuses such a group ("no servers in upstream").
      get = () => null;
    } else if (balancer.method === 'least_conn') {
      get = (now) => getLeastConnPeer(rrp, now);
    } else if (balancer.method === 'ip_hash') {
      const ip = new IpHashData(ipHashBytes(input.remoteAddr));
      get = (now) => getIpHashPeer(rrp, ip, now);
    } else if (balancer.method === 'hash') {
      const hp = new HashData(keyBytes(input.hashKey));
      const ring = this.ring;
      if (ring) {
        startOnRing(ring, hp);
        get = (now) => getConsistentHashPeer(rrp, hp, ring, now);
      } else {
        get = (now) => getHashPeer(rrp, hp, now);
      }
    } else if (balancer.method === 'random') {
      const rp = new RandomData(this.random);
      get = balancer.two ? (now) => getRandom2Peer(rrp, rp, now) : (now) => getRandomPeer(rrp, rp, now);
    } else {
      get = (now) => getRoundRobinPeer(rrp, now);
    }
    return new Selection(this.primary, get, this.hooks);
  }
}

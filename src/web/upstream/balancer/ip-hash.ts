/**
 * `ip_hash`: ngx_http_upstream_ip_hash_module.c. The client's address picks a server: the first
 * three octets of an IPv4 address, all sixteen bytes of an IPv6 one (an IPv4 client of a `[::]`
 * listener is `::ffff:a.b.c.d`, IPv6 to nginx too), three zero bytes for a UNIX-socket client.
 * An unusable pick rehashes from the last value; after 20 it is round-robin's turn.
 */
import { parseIPv4, parseIPv6 } from '../../config/address.js';
import { available, byWeightRange, take, type PeerState } from './peers.js';
import { getRoundRobinPeer, type RoundRobinData } from './round-robin.js';

const PSEUDO_ADDRESS = new Uint8Array(3);

/** The bytes nginx hashes for `$remote_addr`. */
export function ipHashBytes(remoteAddr: string): Uint8Array {
  const v4 = parseIPv4(remoteAddr);
  if (v4) return Uint8Array.from(v4.slice(0, 3));
  const v6 = remoteAddr.includes(':') ? parseIPv6(remoteAddr) : null;
  return v6 ?? PSEUDO_ADDRESS;
}

/** ngx_http_upstream_ip_hash_peer_data_t beyond the round-robin part. */
export class IpHashData {
  hash = 89;
  tries = 0;
  constructor(readonly address: Uint8Array) {}
}

export function getIpHashPeer(rrp: RoundRobinData, ip: IpHashData, now: number): PeerState | null {
  if (ip.tries > 20 || rrp.tier.single) return getRoundRobinPeer(rrp, now);
  const tier = rrp.tier;
  let hash = ip.hash;
  for (;;) {
    for (const byte of ip.address) hash = (hash * 113 + byte) % 6271;
    const p = byWeightRange(tier, hash);
    const peer = tier.peers[p]!;
    if (!rrp.isTried(p) && available(peer, now)) {
      rrp.markTried(p);
      ip.hash = hash;
      return take(peer, now);
    }
    ip.tries += 1;
    if (ip.tries > 20) return getRoundRobinPeer(rrp, now);
  }
}

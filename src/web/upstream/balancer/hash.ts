/**
 * `hash KEY`: ngx_http_upstream_hash_module.c, the plain half. The key's CRC-32 picks a server by
 * weight, compatible with Cache::Memcached: ((crc32([REHASH] KEY) >> 16) & 0x7fff) added to the
 * previous value, REHASH being the decimal try number from the second try on. 20 unusable picks
 * (or a single server, or an empty key) leave the choice to round-robin.
 */
import { CRC32_INIT, crc32Final, crc32Update } from './crc32.js';
import { available, byWeightRange, take, type PeerState } from './peers.js';
import { getRoundRobinPeer, type RoundRobinData } from './round-robin.js';

/** ngx_http_upstream_hash_peer_data_t beyond the round-robin part (the consistent half shares it). */
export class HashData {
  tries = 0;
  rehash = 0;
  /** The running sum here; the index of the ring point for the consistent method. */
  hash = 0;
  constructor(readonly key: Uint8Array) {}
}

/** Keys are byte strings to nginx; tsgi's variables hold one char per byte. */
export function keyBytes(key: string): Uint8Array {
  return Buffer.from(key, 'latin1');
}

export function getHashPeer(rrp: RoundRobinData, hp: HashData, now: number): PeerState | null {
  const tier = rrp.tier;
  if (hp.tries > 20 || tier.single || hp.key.length === 0) return getRoundRobinPeer(rrp, now);
  for (;;) {
    let crc = CRC32_INIT;
    if (hp.rehash > 0) crc = crc32Update(crc, Buffer.from(String(hp.rehash), 'latin1'));
    crc = crc32Final(crc32Update(crc, hp.key));
    // uint32_t arithmetic in nginx: the sum wraps.
    hp.hash = (hp.hash + ((crc >>> 16) & 0x7fff)) >>> 0;
    hp.rehash += 1;
    const p = byWeightRange(tier, hp.hash);
    const peer = tier.peers[p]!;
    if (!rrp.isTried(p) && available(peer, now)) {
      rrp.markTried(p);
      return take(peer, now);
    }
    hp.tries += 1;
    if (hp.tries > 20) return getRoundRobinPeer(rrp, now);
  }
}

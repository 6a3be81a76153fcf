/**
 * Client options resolved once, in one place, for the three protocol clients: the defaults
 * live here and nowhere else.
 */
import { DEFAULT_CGI_MAX_HEAD_SIZE } from '../protocols/cgi-response.js';
import { parsePeer, type Peer, type UpstreamScheme } from './peer.js';
import { DEFAULT_BODY_HIGH_WATER_MARK } from './response-body.js';
import { resolveTimeouts, type UpstreamTimeouts } from './timeouts.js';
import { stderrLog, type UpstreamClientOptions, type UpstreamLog } from './types.js';

export interface ClientSettings {
  peer: Peer;
  timeouts: UpstreamTimeouts;
  maxHeadSize: number;
  highWaterMark: number;
  log: UpstreamLog;
}

/** Throws AddressError for a bad address and RangeError for a bad number. */
export function resolveClientSettings(scheme: UpstreamScheme, options: UpstreamClientOptions): ClientSettings {
  const maxHeadSize = options.maxHeadSize ?? DEFAULT_CGI_MAX_HEAD_SIZE;
  const highWaterMark = options.highWaterMark ?? DEFAULT_BODY_HIGH_WATER_MARK;
  for (const [name, value] of [['maxHeadSize', maxHeadSize], ['highWaterMark', highWaterMark]] as const) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return {
    peer: parsePeer(scheme, options.address),
    timeouts: resolveTimeouts(options),
    maxHeadSize,
    highWaterMark,
    log: options.log ?? stderrLog,
  };
}

/**
 * Where an upstream client connects, and the name it goes by in error messages.
 *
 *   parsePeer('uwsgi', '127.0.0.1:9000')       -> tcp 127.0.0.1:9000, name 'uwsgi://127.0.0.1:9000'
 *   parsePeer('fastcgi', 'unix:/run/php.sock') -> unix /run/php.sock, name 'fastcgi://unix:/run/php.sock'
 *   parsePeer('scgi', '/run/app.sock')         -> the same, name 'scgi://unix:/run/app.sock'
 *
 * Addresses are uWSGI's notation (`host:port`, `[v6]:port`, `:port`, a path; see
 * appserver/address.ts) plus nginx's `unix:` prefix, so both config styles can be passed through.
 * Names are nginx's `$upstream_addr` with the scheme of the `*_pass` directive in front.
 */
import type { NetConnectOpts } from 'node:net';
import { AddressError, formatAddress, parseAddress, type ListenAddress } from '../appserver/address.js';

export type UpstreamScheme = 'uwsgi' | 'scgi' | 'fastcgi';

export interface Peer {
  address: ListenAddress;
  /** For messages: `uwsgi://127.0.0.1:9000`. */
  name: string;
}

const UNIX_PREFIX = 'unix:';
/** `:port` means every interface when listening; to connect, it is this host. */
const ANY_HOST = '0.0.0.0';
const LOOPBACK = '127.0.0.1';

/** Throws AddressError (ERR_BAD_ADDRESS) for an address that is neither TCP nor a path, or port 0. */
export function parsePeer(scheme: UpstreamScheme, spec: string): Peer {
  const unix = spec.startsWith(UNIX_PREFIX);
  const parsed = unix ? ({ kind: 'unix', path: spec.slice(UNIX_PREFIX.length) } as const) : parseAddress(spec);
  let address: ListenAddress = parsed;
  if (address.kind === 'unix') {
    if (address.path === '') throw new AddressError(spec, 'the UNIX socket path is empty');
  } else {
    if (address.port === 0) throw new AddressError(spec, 'port 0 cannot be connected to');
    if (address.host === ANY_HOST && spec.startsWith(':')) address = { ...address, host: LOOPBACK };
  }
  const where = address.kind === 'unix' ? `${UNIX_PREFIX}${address.path}` : formatAddress(address);
  return { address, name: `${scheme}://${where}` };
}

export function connectOptions(peer: Peer): NetConnectOpts {
  // allowHalfOpen: the peer's FIN ends the response, not our request; the client decides when the
  // socket closes (uwsgi and SCGI peers may answer before they read the whole body).
  return peer.address.kind === 'unix'
    ? { path: peer.address.path, allowHalfOpen: true }
    : { host: peer.address.host, port: peer.address.port, allowHalfOpen: true };
}

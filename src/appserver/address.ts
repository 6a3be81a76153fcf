import { TsgiError } from '../errors.js';

/** A socket address in uWSGI's notation: `host:port`, `:port` (all interfaces) or a UNIX path. */
export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export class AddressError extends TsgiError {
  constructor(spec: string, why: string) {
    super('ERR_BAD_ADDRESS', `invalid socket address "${spec}": ${why}`);
  }
}

/**
 * Parses `127.0.0.1:8000`, `:8000`, `[::1]:8000`, `localhost:0` or `/run/app.sock`.
 * uWSGI reads `:port` as every interface; Node's equivalent is host `0.0.0.0`.
 */
export function parseAddress(spec: string): ListenAddress {
  if (spec.includes('/') && !spec.startsWith('[')) return { kind: 'unix', path: spec };
  const colon = spec.lastIndexOf(':');
  if (colon < 0) throw new AddressError(spec, 'expected HOST:PORT, :PORT or a UNIX socket path');
  let host = spec.slice(0, colon);
  const portText = spec.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new AddressError(spec, `port "${portText}" is not a number from 0 to 65535`);
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { kind: 'tcp', host: host === '' ? '0.0.0.0' : host, port: Number(portText) };
}

export function formatAddress(address: ListenAddress): string {
  if (address.kind === 'unix') return address.path;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/**
 * The sockets `tsgi serve` binds, from --http-socket, --socket (--uwsgi-socket), --fastcgi-socket
 * and --scgi-socket: the same address given twice, and where each socket goes for a Python app.
 *
 * An address given twice (seed 001's ini binds one UNIX path with four options): uWSGI unlinks a
 * UNIX socket's path before binding it, so every binding succeeds and the path ends up reaching the
 * last one, the earlier ones listening on nothing anybody can connect to. tsgi binds only that last
 * one and says which options it dropped. A TCP address given twice fails in uWSGI (Address already
 * in use); tsgi refuses it before binding anything, naming both options.
 */
import type { Logger } from '../appserver/log.js';
import { formatAddress, parseAddress } from '../appserver/address.js';
import type { SocketProtocol, SocketSpec } from '../appserver/sockets.js';
import { UsageError, describeSource, type ParsedOptions, type ValueSource } from './options.js';

const SOCKET_OPTIONS: ReadonlyArray<readonly [string, SocketProtocol]> = [
  ['http-socket', 'http'],
  ['socket', 'uwsgi'],
  ['fastcgi-socket', 'fastcgi'],
  ['scgi-socket', 'scgi'],
];

interface GivenSocket {
  spec: SocketSpec;
  option: string;
  source: ValueSource;
}

function describe(given: GivenSocket): string {
  return `--${given.option} ${given.spec.address} (${describeSource(given.source)})`;
}

/** True when `a` was given after `b`: by line within one file, else in the order options are read. */
function later(a: GivenSocket, b: GivenSocket, order: readonly GivenSocket[]): boolean {
  if (a.source.kind === 'file' && b.source.kind === 'file' && a.source.file === b.source.file) return a.source.line > b.source.line;
  return order.indexOf(a) > order.indexOf(b);
}

/**
 * The socket options' sockets, each address once (see the module comment). A bad address throws
 * here, before anything is bound.
 */
export function socketList(options: ParsedOptions, log: Logger): SocketSpec[] {
  const given: GivenSocket[] = SOCKET_OPTIONS.flatMap(([option, protocol]) => {
    const sources = options.sources(option);
    return options.list(option).map((address, i) => ({ spec: { protocol, address }, option, source: sources[i]! }));
  });
  const byAddress = new Map<string, GivenSocket>();
  const dropped = new Set<GivenSocket>();
  for (const socket of given) {
    const address = parseAddress(socket.spec.address);
    // Port 0 is a fresh port at each bind: never the same address twice.
    if (address.kind === 'tcp' && address.port === 0) continue;
    const key = address.kind === 'unix' ? `unix:${address.path}` : `tcp:${formatAddress(address)}`;
    const previous = byAddress.get(key);
    if (previous === undefined) {
      byAddress.set(key, socket);
      continue;
    }
    if (address.kind === 'tcp') {
      throw new UsageError(`the TCP address ${formatAddress(address)} is given twice: ${describe(previous)} and ${describe(socket)}; each socket needs its own address`);
    }
    const [kept, lost] = later(socket, previous, given) ? [socket, previous] : [previous, socket];
    byAddress.set(key, kept);
    dropped.add(lost);
    log.info(
      `the UNIX socket ${address.path} is given more than once: ${describe(lost)} is not bound, ${describe(kept)} is ` +
        `(uWSGI would unlink the path and bind it again, leaving it to the last one)`,
    );
  }
  return given.filter((socket) => !dropped.has(socket)).map((socket) => socket.spec);
}

/** Where each socket of a Python app goes: the workers accept uwsgi on one socket only. */
export interface PythonSockets {
  /** The first uwsgi socket, if any: the workers accept on it (nginx's uwsgi_pass reaches them directly). */
  workers: SocketSpec[];
  /** HTTP addresses of the router (--http, --http-socket). */
  routerHttp: string[];
  /** Every other socket: the router speaks its protocol and relays each request to the workers. */
  routerOther: SocketSpec[];
}

export function pythonSockets(sockets: readonly SocketSpec[], http: readonly string[]): PythonSockets {
  const first = sockets.find((socket) => socket.protocol === 'uwsgi');
  const rest = sockets.filter((socket) => socket !== first);
  return {
    workers: first === undefined ? [] : [first],
    routerHttp: [...http, ...rest.filter((socket) => socket.protocol === 'http').map((socket) => socket.address)],
    routerOther: rest.filter((socket) => socket.protocol !== 'http'),
  };
}

/**
 * Upstream groups and request sequences whose order the real nginx and tsgi must agree on:
 * weights, down, backup, dead servers (a port nobody listens on: connection refused, so a
 * failure that counts toward max_fails), least_conn ties, ip_hash by client address, hash and
 * hash consistent by key. Backends are named by letters; `x` and `y` are the dead ones.
 *
 * Each request's answer is the list of backends it tried, read from `$upstream_addr`
 * ("127.0.0.1:P1, 127.0.0.1:P2"), so a retry's order is compared too.
 */
import { connect } from 'node:net';
import { readAll, splitResponses } from '../../helpers/net.js';
import { freePort } from '../../helpers/nginx.js';
import { groupsFrom, label, request } from './balancer-helpers.js';

export const LIVE = ['a', 'b', 'c', 'd', 'e'] as const;
export const DEAD = ['x', 'y'] as const;
export type BackendName = (typeof LIVE)[number] | (typeof DEAD)[number];

export interface ScenarioRequest {
  /** `?k=`: the hash key. */
  readonly key?: string;
  /** The client's address (127/8: all loopback on Linux). */
  readonly client?: string;
}

export interface Scenario {
  readonly name: string;
  /** The inside of `upstream NAME {}`; `{a}` stands for backend a's address. */
  readonly body: string;
  readonly requests: readonly ScenarioRequest[];
}

const plain = (n: number): ScenarioRequest[] => Array.from({ length: n }, () => ({}));
const keys = (n: number): ScenarioRequest[] =>
  Array.from({ length: n }, (_, i) => ({ key: i % 3 === 0 ? `user-${i * 7919}` : i % 3 === 1 ? `/img/${i}.png` : String(i * 104729) }));
const clients = (n: number): ScenarioRequest[] => Array.from({ length: n }, (_, i) => ({ client: `127.${(i * 53) % 256}.${(i * 37 + 11) % 256}.${1 + (i % 7)}` }));

export const SCENARIOS: readonly Scenario[] = [
  { name: 'rr', body: 'server {a} weight=5; server {b}; server {c};', requests: plain(14) },
  {
    name: 'rr_fail',
    body: 'server {a} weight=3; server {x} weight=4 max_fails=2; server {b} weight=2; server {c} down; server {d}; server {y} max_fails=0;',
    requests: plain(24),
  },
  { name: 'rr_backup', body: 'server {x}; server {c} down; server {a} backup weight=2; server {b} backup; server {y} backup max_fails=2;', requests: plain(12) },
  { name: 'least_conn', body: 'least_conn; server {a} weight=3; server {b}; server {c} weight=2; server {x} max_fails=2; server {d} backup;', requests: plain(16) },
  { name: 'ip_hash', body: 'ip_hash; server {a}; server {b} weight=2; server {c} down; server {d}; server {x};', requests: clients(24) },
  { name: 'hash', body: 'hash $arg_k; server {a}; server {b} weight=2; server {c} down; server {d} weight=3; server {x}; server {e};', requests: keys(40) },
  {
    name: 'chash',
    body: 'hash $arg_k consistent; server {a}; server {b} weight=2; server {c} down; server {d} weight=3; server {x}; server {e};',
    requests: keys(40),
  },
  // Backups written before `hash` are kept (nginx refuses them only after it): 20 misses on the
  // dead and down primaries, round-robin finds none either, and the backups answer.
  { name: 'hash_backup', body: 'server {a} backup; server {x}; server {d} down; server {b} backup weight=2; hash $arg_k;', requests: keys(8) },
];

/**
 * Ports refused for certain: privileged ones the suite never binds. A free ephemeral port
 * would do only until a test running in parallel takes it (and answers for the "dead" server).
 */
const DEAD_PORTS: readonly number[] = [1, 3];

/** Free ports for the live backends (each gets a server); the dead ones refuse connections. */
export async function backendPorts(): Promise<Record<BackendName, number>> {
  const ports = new Set<number>();
  while (ports.size < LIVE.length) ports.add(await freePort());
  const list = [...ports, ...DEAD_PORTS];
  return Object.fromEntries([...LIVE, ...DEAD].map((name, i) => [name, list[i]!])) as Record<BackendName, number>;
}

export function upstreamBlock(scenario: Scenario, ports: Record<BackendName, number>): string {
  return `upstream ${scenario.name} { ${scenario.body.replace(/\{([a-z])\}/g, (_, name: BackendName) => `127.0.0.1:${ports[name]}`)} }`;
}

/** The name of the backend at a port ('?' when none is). */
export function nameOf(ports: Record<BackendName, number>, port: number): string {
  return (Object.entries(ports).find(([, p]) => p === port)?.[0] ?? '?') as string;
}

/** What the balancer of tsgi makes of the scenario, backends named. */
export function simulate(scenario: Scenario, ports: Record<BackendName, number>): string[][] {
  const group = groupsFrom(upstreamBlock(scenario, ports)).get(scenario.name)!;
  const dead = new Set<string>(DEAD.map((name) => String(ports[name])));
  return scenario.requests.map((r) => {
    // `$arg_k` is the argument as sent, still percent-encoded.
    const hashKey = r.key === undefined ? '' : encodeURIComponent(r.key);
    const { tried } = request(group, (l) => dead.has(l), { remoteAddr: r.client ?? '127.0.0.1', hashKey });
    return tried.map((l) => nameOf(ports, Number(l)));
  });
}

/** Sends the scenario's requests to `/NAME` of a server that adds `X-Tried: $upstream_addr`. */
export async function replay(port: number, scenario: Scenario, ports: Record<BackendName, number>): Promise<string[][]> {
  const out: string[][] = [];
  for (const r of scenario.requests) {
    const target = `/${scenario.name}${r.key === undefined ? '' : `?k=${encodeURIComponent(r.key)}`}`;
    const text = await get(port, target, r.client ?? '127.0.0.1');
    const [response] = splitResponses(text);
    const tried = (response?.headers['x-tried'] ?? '').split(', ').filter(Boolean).map((addr) => nameOf(ports, Number(addr.slice(addr.lastIndexOf(':') + 1))));
    const last = tried[tried.length - 1];
    if (response?.status !== 200 || response.body !== last) throw new Error(`${scenario.name} ${target}: ${JSON.stringify(text)}`);
    out.push(tried);
  }
  return out;
}

function get(port: number, target: string, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress }, () => {
      socket.write(`GET ${target} HTTP/1.0\r\nHost: balancer.test\r\n\r\n`);
      readAll(socket).then((data) => resolve(data.toString('latin1')), reject);
    });
    socket.once('error', reject);
  });
}

/**
 * The nginx.conf `http {}` inside: the groups and the front server, plus backends answering
 * their name (`return 200`) unless `pass` is not proxy_pass (then the backends are app servers
 * started by the caller, and `passExtra` carries e.g. `include uwsgi_params`).
 */
export function httpBlock(
  front: number | string,
  ports: Record<BackendName, number>,
  options: { readonly pass?: 'proxy_pass http://' | 'uwsgi_pass ' | 'fastcgi_pass ' | 'scgi_pass '; readonly passExtra?: string } = {},
): string {
  const pass = options.pass ?? 'proxy_pass http://';
  const backends = pass === 'proxy_pass http://' ? LIVE.map((name) => `server { listen 127.0.0.1:${ports[name]}; return 200 "${name}"; }`).join('\n') : '';
  const groups = SCENARIOS.map((s) => upstreamBlock(s, ports)).join('\n');
  const locations = SCENARIOS.map((s) => `location /${s.name} { ${options.passExtra ?? ''} ${pass}${s.name}; add_header X-Tried $upstream_addr always; }`).join('\n');
  return `${backends}\n${groups}\nserver { listen 127.0.0.1:${front}; ${locations} }`;
}

export { label };

/**
 * The balancers against nginx's algorithms (ngx_http_upstream_round_robin.c and the
 * least_conn, ip_hash, hash and random modules), driven with an injected clock: failure
 * accounting, backup, down, max_conns, and each method's choices. balancer-nginx.test.ts checks
 * the orders against the real nginx.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from '../../../src/web/upstream/balancer/crc32.js';
import type { UpstreamGroup, UpstreamPeer } from '../../../src/web/upstream/types.js';
import { Clock, groupFrom, groupsFrom, label, request, sequence } from './balancer-helpers.js';

const S = (port: number, params = ''): string => `server 127.0.0.1:${port} ${params};`;
const input = (remoteAddr: string, hashKey = ''): { remoteAddr: string; hashKey: string } => ({ remoteAddr, hashKey });

/** Shares of `n` requests, by label. */
function shares(labels: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of labels) out[l] = (out[l] ?? 0) + 1;
  return out;
}

/** Takes a peer and keeps it (a request in flight). */
function hold(group: UpstreamGroup, remoteAddr = '127.0.0.1'): { peer: UpstreamPeer | null; release: () => void } {
  const pick = group.begin(input(remoteAddr));
  const peer = pick.next();
  return { peer, release: () => peer && pick.done(peer, 'ok') };
}

describe('round-robin', () => {
  it('weights 5,1,1 give nginx smooth order a a b a c a a', () => {
    const group = groupFrom(`upstream u { ${S(1, 'weight=5')} ${S(2)} ${S(3)} }`, 'u');
    assert.deepEqual(sequence(group, 14), ['1', '1', '2', '1', '3', '1', '1', '1', '1', '2', '1', '3', '1', '1']);
  });

  it('skips down servers; tries counts primaries and backups', () => {
    const group = groupFrom(`upstream u { ${S(1)} ${S(2, 'down')} ${S(3)} ${S(4, 'backup')} }`, 'u');
    assert.deepEqual(sequence(group, 4), ['1', '3', '1', '3']);
    assert.equal(group.begin(input('127.0.0.1')).tries, 4);
  });

  it('one request tries each server once, then next() is null ("no live upstreams")', () => {
    const group = groupFrom(`upstream u { ${S(1)} ${S(2)} ${S(3)} }`, 'u');
    const pick = group.begin(input('127.0.0.1'));
    const seen: string[] = [];
    for (let peer = pick.next(); peer; peer = pick.next()) {
      seen.push(label(peer));
      pick.done(peer, 'failed');
    }
    assert.deepEqual(seen.sort(), ['1', '2', '3']);
    // max_fails=1 each: every server is out for fail_timeout, for the next request too.
    assert.equal(group.begin(input('127.0.0.1')).next(), null);
  });

  it('max_fails within fail_timeout takes a server out; it is probed again after fail_timeout', () => {
    const clock = new Clock();
    const group = groupFrom(`upstream u { ${S(1, 'max_fails=2 fail_timeout=10s')} ${S(2)} }`, 'u', { now: clock.now });
    let broken = true;
    const fails = (l: string): boolean => broken && l === '1';
    // The first failure leaves it in the rotation (1 < max_fails)...
    assert.deepEqual(request(group, fails).tried, ['1', '2']);
    assert.deepEqual(request(group, fails).tried, ['2']);
    clock.advance(3);
    assert.deepEqual(request(group, fails).tried, ['1', '2']);
    // ...the second, 3 s later, takes it out.
    assert.deepEqual(sequence(group, 6), ['2', '2', '2', '2', '2', '2']);
    clock.advance(10);
    assert.deepEqual(sequence(group, 3), ['2', '2', '2'], 'still out exactly fail_timeout seconds later');
    clock.advance(1);
    // Back in the weighing; its smooth counter brings it up on the second request. Still
    // broken: out for another fail_timeout.
    assert.deepEqual([request(group, fails).tried, request(group, fails).tried], [['2'], ['1', '2']]);
    assert.deepEqual(sequence(group, 4), ['2', '2', '2', '2']);
    clock.advance(11);
    broken = false;
    assert.deepEqual(sequence(group, 2), ['2', '1']);
    // The probe succeeded: failures cleared, back in the rotation.
    assert.deepEqual(shares(sequence(group, 10)), { '1': 5, '2': 5 });
  });

  it('a success within fail_timeout of the last failure does not clear the count; one after it does', () => {
    const clock = new Clock();
    const group = groupFrom(`upstream u { ${S(1, 'max_fails=2 fail_timeout=10s')} ${S(2)} }`, 'u', { now: clock.now });
    const failOn1 = (l: string): boolean => l === '1';
    assert.deepEqual(request(group, failOn1).tried, ['1', '2']);
    clock.advance(5);
    assert.equal(request(group).answered, '2');
    assert.equal(request(group).answered, '1', 'a success 5 s after the failure');
    clock.advance(2);
    request(group);
    assert.deepEqual(request(group, failOn1).tried, ['1', '2'], 'second failure within the window');
    assert.deepEqual(sequence(group, 4), ['2', '2', '2', '2'], 'so it is out');

    const later = groupFrom(`upstream u { ${S(1, 'max_fails=2 fail_timeout=10s')} ${S(2)} }`, 'u', { now: clock.now });
    assert.deepEqual(request(later, failOn1).tried, ['1', '2']);
    clock.advance(11);
    assert.equal(request(later).answered, '2');
    assert.equal(request(later).answered, '1', 'a success 11 s after: the count is cleared');
    request(later);
    assert.deepEqual(request(later, failOn1).tried, ['1', '2']);
    assert.deepEqual(shares(sequence(later, 4)), { '1': 2, '2': 2 }, 'one failure since: still in');
  });

  it('max_fails=0 never takes a server out', () => {
    const group = groupFrom(`upstream u { ${S(1, 'max_fails=0')} ${S(2)} }`, 'u');
    for (let i = 0; i < 5; i += 1) assert.equal(request(group, (l) => l === '1').answered, '2');
    assert.ok(sequence(group, 4).includes('1'));
  });

  it('a failure lowers effective_weight by weight/max_fails, and it climbs back', () => {
    const group = groupFrom(`upstream u { ${S(1, 'weight=4 max_fails=4')} ${S(2, 'weight=4')} }`, 'u');
    assert.deepEqual(request(group, (l) => l === '1').tried, ['1', '2']);
    // Effective weight 3 for one round, then 4 again: 2 wins twice in a row once, then they alternate.
    assert.deepEqual(sequence(group, 8), ['2', '2', '1', '2', '1', '2', '1', '2']);
  });

  it('a single server ignores max_fails, as nginx', () => {
    const group = groupFrom(`upstream u { ${S(1, 'max_fails=1')} }`, 'u');
    for (let i = 0; i < 3; i += 1) assert.deepEqual(request(group, () => true).tried, ['1']);
    assert.equal(request(group).answered, '1');
  });

  it('backup servers serve only while no primary can', () => {
    const clock = new Clock();
    const group = groupFrom(`upstream u { ${S(1)} ${S(2)} ${S(3, 'backup weight=2')} ${S(4, 'backup')} }`, 'u', { now: clock.now });
    assert.deepEqual(shares(sequence(group, 6)), { '1': 3, '2': 3 });
    const failover = request(group, (l) => l === '1' || l === '2');
    assert.deepEqual([failover.tried.slice(0, 2).sort(), failover.answered], [['1', '2'], '3']);
    assert.deepEqual(sequence(group, 6), ['4', '3', '3', '4', '3', '3']);
    clock.advance(11);
    // Back, with the smooth counters where the failover left them (1 had won that round) and
    // effective weights climbing back from 0.
    assert.deepEqual(sequence(group, 6), ['2', '2', '1', '2', '1', '2']);
  });

  it('all primaries down: the backups take the load', () => {
    const group = groupFrom(`upstream u { ${S(1, 'down')} ${S(2, 'backup')} ${S(3, 'backup')} }`, 'u');
    assert.deepEqual(sequence(group, 4), ['2', '3', '2', '3']);
  });

  it('max_conns: a server at its limit is skipped until a request ends', () => {
    const group = groupFrom(`upstream u { ${S(1, 'max_conns=1')} ${S(2)} }`, 'u');
    const first = hold(group);
    assert.equal(label(first.peer!), '1');
    assert.deepEqual(sequence(group, 3), ['2', '2', '2']);
    first.release();
    assert.ok(sequence(group, 3).includes('1'));
  });

  it('max_conns on a single server: "no live upstreams" while it is full', () => {
    const group = groupFrom(`upstream u { ${S(1, 'max_conns=2')} }`, 'u');
    const a = hold(group);
    const b = hold(group);
    assert.equal(hold(group).peer, null);
    a.release();
    a.release(); // a second done() for one pick counts once
    assert.equal(label(hold(group).peer!), '1');
    assert.equal(hold(group).peer, null);
    b.release();
  });

  it("'released' and 'ok' both end a pick without a failure; onDisabled reports max_fails reached", () => {
    const disabled: string[] = [];
    const group = groupFrom(`upstream u { ${S(1, 'max_fails=2')} ${S(2)} }`, 'u', { onDisabled: (g, p) => disabled.push(`${g.name} ${p.name}`) });
    for (let i = 0; i < 4; i += 1) {
      const pick = group.begin(input('127.0.0.1'));
      pick.done(pick.next()!, i % 2 ? 'released' : 'ok');
    }
    assert.deepEqual(sequence(group, 4).sort(), ['1', '1', '2', '2'], 'nothing counted as a failure');
    let failures = 0;
    for (let i = 0; i < 6 && failures < 2; i += 1) {
      failures += request(group, (l) => l === '1').tried.filter((l) => l === '1').length;
      assert.equal(disabled.length, failures >= 2 ? 1 : 0);
    }
    assert.deepEqual(disabled, ['u 127.0.0.1:1']);
  });

  it('implicit groups of *_pass ADDRESS are keyed by the address', () => {
    const groups = groupsFrom(`upstream named { ${S(1)} } server { listen 127.0.0.1:8080; location / { proxy_pass http://127.0.0.1:9; } location /u { uwsgi_pass unix:/tmp/tsgi-x.sock; } }`);
    assert.deepEqual([...groups.keys()].sort(), ['127.0.0.1:9', 'named', 'unix:/tmp/tsgi-x.sock']);
    const peer = groups.get('unix:/tmp/tsgi-x.sock')!.begin(input('127.0.0.1')).next()!;
    assert.equal(peer.name, 'unix:/tmp/tsgi-x.sock');
  });
});

describe('least_conn', () => {
  it('picks the server with the fewest connections per weight', () => {
    const group = groupFrom(`upstream u { least_conn; ${S(1, 'weight=2')} ${S(2)} }`, 'u');
    const held = [hold(group), hold(group), hold(group)];
    // Ties first go by weighted round-robin (1), then 1/2 < 1/1 picks 1... the loads end 2:1.
    assert.deepEqual(shares(held.map((h) => label(h.peer!))), { '1': 2, '2': 1 });
    const one = held.find((h) => label(h.peer!) === '2')!;
    one.release();
    assert.equal(label(hold(group).peer!), '2', 'the server with a free slot');
    for (const h of held) h.release();
  });

  it('with equal loads, shares by weight', () => {
    const group = groupFrom(`upstream u { least_conn; ${S(1, 'weight=3')} ${S(2)} }`, 'u');
    assert.deepEqual(sequence(group, 4), ['1', '1', '2', '1']);
  });

  it('falls back to backup servers', () => {
    const group = groupFrom(`upstream u { least_conn; ${S(1, 'max_conns=1')} ${S(2, 'backup')} }`, 'u');
    const a = hold(group);
    assert.equal(label(hold(group).peer!), '2');
    a.release();
  });
});

describe('ip_hash', () => {
  const group = (): UpstreamGroup => groupFrom(`upstream u { ip_hash; ${S(1)} ${S(2)} ${S(3)} ${S(4)} }`, 'u');

  it('a client keeps its server; clients of one /24 share it', () => {
    const g = group();
    const first = request(g, undefined, input('10.1.2.3')).answered;
    for (const last of [3, 4, 200, 255]) assert.equal(request(g, undefined, input(`10.1.2.${last}`)).answered, first);
    const all = new Set(Array.from({ length: 64 }, (_, i) => request(g, undefined, input(`10.1.${i}.1`)).answered));
    assert.equal(all.size, 4, 'different /24s spread over the servers');
  });

  it('an IPv6 client hashes all 16 bytes; a UNIX-socket client hashes as 0.0.0', () => {
    const g = group();
    const v6 = new Set(Array.from({ length: 32 }, (_, i) => request(g, undefined, input(`2001:db8::${i.toString(16)}`)).answered));
    assert.ok(v6.size > 1, 'the last bytes of an IPv6 address matter');
    assert.equal(request(g, undefined, input('unix:')).answered, request(g, undefined, input('0.0.0.9')).answered);
  });

  it('a down server sends its clients elsewhere, the others stay', () => {
    const up = group();
    const down = groupFrom(`upstream u { ip_hash; ${S(1)} ${S(2, 'down')} ${S(3)} ${S(4)} }`, 'u');
    for (let i = 0; i < 64; i += 1) {
      const client = input(`10.${i}.${i * 3}.1`);
      const before = request(up, undefined, client).answered;
      const now = request(down, undefined, client).answered;
      if (before !== '2') assert.equal(now, before);
      else assert.notEqual(now, '2');
    }
  });
});

describe('hash', () => {
  it('a key keeps its server; an empty key goes round-robin', () => {
    const g = groupFrom(`upstream u { hash $arg_k; ${S(1)} ${S(2)} ${S(3)} }`, 'u');
    const of = (key: string): string => request(g, undefined, input('127.0.0.1', key)).answered;
    for (const key of ['a', 'b', 'user-42']) assert.equal(of(key), of(key));
    assert.equal(new Set(Array.from({ length: 30 }, (_, i) => of(`k${i}`))).size, 3);
    assert.deepEqual(['', '', ''].map(of), ['1', '2', '3']);
  });

  it('consistent: taking a server out moves only its keys', () => {
    const servers = (down: string): string => [1, 2, 3, 4].map((p) => S(p, `weight=${p === 4 ? 2 : 1}${String(p) === down ? ' down' : ''}`)).join(' ');
    const all = groupFrom(`upstream u { hash $arg_k consistent; ${servers('')} }`, 'u');
    const less = groupFrom(`upstream u { hash $arg_k consistent; ${servers('3')} }`, 'u');
    const counts: Record<string, number> = {};
    for (let i = 0; i < 400; i += 1) {
      const key = input('127.0.0.1', `/obj/${i}`);
      const before = request(all, undefined, key).answered;
      const after = request(less, undefined, key).answered;
      counts[before] = (counts[before] ?? 0) + 1;
      if (before !== '3') assert.equal(after, before, `key /obj/${i} moved`);
      else assert.notEqual(after, '3');
    }
    // 160 points per weight unit: server 4 (weight 2) holds about twice the keys of the others.
    assert.ok(counts['4']! > counts['1']! && counts['4']! > counts['2']!, JSON.stringify(counts));
  });
});

describe('random', () => {
  it('draws by weight', () => {
    const g = groupFrom(`upstream u { random; ${S(1, 'weight=3')} ${S(2)} }`, 'u');
    const got = shares(sequence(g, 4000));
    assert.ok(got['1']! > 2800 && got['1']! < 3200, JSON.stringify(got));
  });

  it('the injected draws pick the weight ranges nginx computes', () => {
    const draws = [0.0, 0.74, 0.76, 0.99];
    const g = groupFrom(`upstream u { random; ${S(1, 'weight=3')} ${S(2)} }`, 'u', { random: () => draws.shift()! });
    assert.deepEqual(sequence(g, 4), ['1', '1', '2', '2']);
  });

  it('two least_conn: of two draws, the one with fewer connections', () => {
    const draws = [0.1, 0.9, 0.1, 0.9];
    const g = groupFrom(`upstream u { random two least_conn; ${S(1)} ${S(2)} }`, 'u', { random: () => draws.shift() ?? 0.5 });
    const first = hold(g);
    assert.equal(label(first.peer!), '2', 'equal loads: the second draw');
    assert.equal(label(hold(g).peer!), '1', 'server 2 is busier');
    first.release();
  });
});

describe('crc32', () => {
  it('is the IEEE CRC-32 nginx uses', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(0)), 0);
  });
});

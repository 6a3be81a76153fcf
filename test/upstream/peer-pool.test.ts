/** Peer addresses and names, timeouts, and the idle pool's order and limits. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePeer } from '../../src/upstream/peer.js';
import { IdlePool } from '../../src/upstream/pool.js';
import { resolveTimeouts, DEFAULT_UPSTREAM_TIMEOUTS } from '../../src/upstream/timeouts.js';
import { UwsgiClient } from '../../src/upstream/uwsgi-client.js';

describe('parsePeer', () => {
  it('names peers as nginx logs them', () => {
    assert.equal(parsePeer('uwsgi', '127.0.0.1:9000').name, 'uwsgi://127.0.0.1:9000');
    assert.equal(parsePeer('fastcgi', 'unix:/run/php.sock').name, 'fastcgi://unix:/run/php.sock');
    assert.deepEqual(parsePeer('fastcgi', 'unix:/run/php.sock').address, { kind: 'unix', path: '/run/php.sock' });
    assert.equal(parsePeer('scgi', '/run/app.sock').name, 'scgi://unix:/run/app.sock');
    assert.equal(parsePeer('scgi', '[::1]:4000').name, 'scgi://[::1]:4000');
    assert.equal(parsePeer('uwsgi', ':3031').name, 'uwsgi://127.0.0.1:3031');
  });

  it('refuses what cannot be connected to', () => {
    for (const spec of ['nonsense', '127.0.0.1:0', '127.0.0.1:70000', 'unix:']) {
      assert.throws(() => parsePeer('uwsgi', spec), { code: 'ERR_BAD_ADDRESS' }, spec);
    }
    assert.throws(() => new UwsgiClient({ address: 'nonsense' }), { code: 'ERR_BAD_ADDRESS' });
  });
});

describe('timeouts', () => {
  it('nginx defaults, overridden one by one; non-positive values refused', () => {
    assert.deepEqual(resolveTimeouts({}), { connectTimeout: 60_000, sendTimeout: 60_000, readTimeout: 60_000 });
    assert.deepEqual(resolveTimeouts({ readTimeout: 5 }), { ...DEFAULT_UPSTREAM_TIMEOUTS, readTimeout: 5 });
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => resolveTimeouts({ sendTimeout: bad }), RangeError);
  });
});

describe('IdlePool', () => {
  const item = (name: string, closed: string[]): { name: string; close: () => void } => ({ name, close: () => closed.push(name) });

  it('takes the most recently used first and evicts the longest idle past maxIdle', () => {
    const closed: string[] = [];
    const pool = new IdlePool<{ name: string; close: () => void }>({ maxIdle: 2, idleTimeout: 60_000 });
    const [a, b, c] = ['a', 'b', 'c'].map((name) => item(name, closed));
    pool.put(a);
    pool.put(b);
    pool.put(c);
    assert.deepEqual(closed, ['a']);
    assert.equal(pool.take(), c);
    assert.equal(pool.remove(b), true);
    assert.equal(pool.remove(b), false);
    assert.equal(pool.take(), undefined);
    pool.put(a);
    pool.closeAll();
    assert.deepEqual(closed, ['a', 'a']);
    assert.equal(pool.size, 0);
  });

  it('refuses nonsense limits', () => {
    assert.throws(() => new IdlePool({ maxIdle: 0 }), RangeError);
    assert.throws(() => new IdlePool({ idleTimeout: -5 }), RangeError);
  });
});

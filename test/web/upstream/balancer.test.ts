/**
 * The balancers against nginx's algorithms (ngx_http_upstream_round_robin.c and the
 * least_conn, ip_hash, hash and random modules), driven with an injected clock.
 * balancer-nginx.test.ts checks the same orders against the real nginx.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Clock, groupFrom, label, request, sequence } from './balancer-helpers.js';

describe('round-robin', () => {
  it('weights 5,1,1 give nginx smooth order a a b a c a a', () => {
    const group = groupFrom('upstream u { server 127.0.0.1:1 weight=5; server 127.0.0.1:2; server 127.0.0.1:3; }', 'u');
    assert.deepEqual(sequence(group, 14), ['1', '1', '2', '1', '3', '1', '1', '1', '1', '2', '1', '3', '1', '1']);
  });
});

/**
 * limit_req: the leaky bucket on a fake clock (no timing on the real one), the handler's
 * statuses, messages and $limit_req_status, and the same sequence against nginx with a rate so
 * low that the real clock cannot move the outcome.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LimitReqZone } from '../../../src/web/config/index.js';
import { formatErrorLine, requestFields } from '../../../src/web/log/index.js';
import { LimitReqHandler, LimitReqZoneState, decideLimitReq, delayLogLevel, formatExcess, type LimitReqRule } from '../../../src/web/limits/index.js';
import type { ModuleEnv } from '../../../src/web/request-context.js';
import { Variables } from '../../../src/web/variables.js';
import { configFromText, fakeContext } from '../variables/fake-context.js';
import { nginx, startNginx, type NginxRun } from '../variables/nginx-runner.js';

const T0 = 1_000_000;

function zone(ratePerSecond: number, size = 1024 * 1024, name = 'one'): LimitReqZoneState {
  const conf: LimitReqZone = { name, key: '$binary_remote_addr', size, ratePerSecond, position: { file: null, line: 0 } };
  return new LimitReqZoneState(conf);
}

/** Decides for one key at time `t` and names the outcome compactly: pass, reject, delay:MS. */
function hit(rules: readonly LimitReqRule[], t: number, key = 'k'): string {
  const decision = decideLimitReq(rules, () => key, t);
  return decision.kind === 'delay' ? `delay:${decision.ms}` : decision.kind;
}

describe('the leaky bucket', () => {
  it('rate=1r/s without burst: one a second', () => {
    const rules = [{ zone: zone(1), burst: 0, delay: 0 }];
    assert.deepEqual([hit(rules, T0), hit(rules, T0 + 500), hit(rules, T0 + 999), hit(rules, T0 + 1000), hit(rules, T0 + 1001)], ['pass', 'reject', 'reject', 'pass', 'reject']);
  });

  it('a rejected request is not charged', () => {
    const rules = [{ zone: zone(1), burst: 0, delay: 0 }];
    hit(rules, T0);
    for (let t = T0 + 100; t < T0 + 1000; t += 100) assert.equal(hit(rules, t), 'reject');
    assert.equal(hit(rules, T0 + 1000), 'pass');
  });

  it('burst=3: queued requests are delayed by their place in the bucket', () => {
    const rules = [{ zone: zone(2), burst: 3, delay: 0 }];
    assert.deepEqual([hit(rules, T0), hit(rules, T0), hit(rules, T0), hit(rules, T0), hit(rules, T0)], ['pass', 'delay:500', 'delay:1000', 'delay:1500', 'reject']);
    // 500 ms later the bucket lost one request: room for one more, delayed 1500 ms.
    assert.deepEqual([hit(rules, T0 + 500), hit(rules, T0 + 500)], ['delay:1500', 'reject']);
  });

  it('nodelay: the burst passes at once, then the rate applies', () => {
    const rules = [{ zone: zone(1), burst: 2, delay: 'nodelay' as const }];
    assert.deepEqual([hit(rules, T0), hit(rules, T0), hit(rules, T0), hit(rules, T0)], ['pass', 'pass', 'pass', 'reject']);
    assert.deepEqual([hit(rules, T0 + 1000), hit(rules, T0 + 1000)], ['pass', 'reject']);
  });

  it('delay=2: two requests of the burst at once, the rest delayed', () => {
    const rules = [{ zone: zone(10), burst: 5, delay: 2 }];
    const outcomes = Array.from({ length: 7 }, () => hit(rules, T0));
    assert.deepEqual(outcomes, ['pass', 'pass', 'pass', 'delay:100', 'delay:200', 'delay:300', 'reject']);
  });

  it('r/m rates are rounded down to milli-requests per second as nginx does', () => {
    assert.equal(zone(1 / 60).rate, 16);
    assert.equal(zone(30 / 60).rate, 500);
    assert.equal(zone(7 / 60).rate, 116);
    const rules = [{ zone: zone(1 / 60), burst: 0, delay: 0 }];
    // 1000 / 16 per second: a full request drains after 62.5 s.
    assert.deepEqual([hit(rules, T0), hit(rules, T0 + 62_000), hit(rules, T0 + 62_500)], ['pass', 'reject', 'pass']);
  });

  it('keys are separate buckets; an empty key is not limited', () => {
    const rules = [{ zone: zone(1), burst: 0, delay: 0 }];
    assert.deepEqual([hit(rules, T0, 'a'), hit(rules, T0, 'b'), hit(rules, T0, 'a')], ['pass', 'pass', 'reject']);
    assert.equal(hit(rules, T0, ''), 'declined');
  });

  it('several zones: the first that rejects decides and the others are not charged; delays take the longest', () => {
    const strict = zone(1, undefined, 'strict');
    const loose = zone(10, undefined, 'loose');
    const rules = [{ zone: loose, burst: 10, delay: 0 }, { zone: strict, burst: 1, delay: 0 }];
    assert.equal(hit(rules, T0), 'pass');
    assert.deepEqual(decideLimitReq(rules, () => 'k', T0), { kind: 'delay', ms: 1000, excess: 1000, zone: 'strict' });
    assert.deepEqual(decideLimitReq(rules, () => 'k', T0), { kind: 'reject', excess: 2000, zone: 'strict' });
    // The loose zone was charged for the two accepted requests only.
    assert.equal(loose.nodes.get('k')!.excess, 1000);
    assert.equal(loose.nodes.get('k')!.count, 0);
  });

  it('a full zone drops drained states first, then the oldest by force', () => {
    const small = zone(1000, 64 * 2);
    const rules = [{ zone: small, burst: 5, delay: 'nodelay' as const }];
    assert.equal(hit(rules, T0, 'a'), 'pass');
    assert.equal(hit(rules, T0, 'b'), 'pass');
    assert.equal(hit(rules, T0, 'c'), 'pass');
    assert.deepEqual([...small.nodes.keys()], ['b', 'c']);
    assert.equal(hit(rules, T0 + 61_000, 'd'), 'pass');
    assert.deepEqual([...small.nodes.keys()], ['d']);
  });

  it('prints excess as nginx: 1.500, and delays log one level lower', () => {
    assert.equal(formatExcess(1500), '1.500');
    assert.equal(formatExcess(20), '0.020');
    assert.equal(delayLogLevel('error'), 'warn');
    assert.equal(delayLogLevel('warn'), 'notice');
    assert.equal(delayLogLevel('info'), 'info');
  });
});

const COUNTERS = { active: 0, accepts: 0, handled: 0, requests: 0, reading: 0, writing: 0, waiting: 0 };
const env: Omit<ModuleEnv, 'variables'> = {
  errorLog: { log: () => {}, reopen: () => {}, close: () => {} },
  worker: { pid: 1, slot: 0, counters: COUNTERS, collectCounters: async () => ({ ...COUNTERS }) },
};

describe('LimitReqHandler', () => {
  const config = configFromText(`
events {}
http {
  access_log off;
  limit_req_zone $binary_remote_addr zone=one:1m rate=2r/s;
  limit_req_zone $arg_k zone=bykey:1m rate=1r/s;
  server {
    listen 127.0.0.1:8080;
    location / { limit_req zone=one burst=1; }
    location /nodelay { limit_req zone=one burst=1 nodelay; limit_req_status 429; limit_req_log_level warn; }
    location /dry { limit_req zone=one; limit_req_dry_run on; }
    location /key { limit_req zone=bykey; }
  }
}`);
  const variables = new Variables(config);

  function setup() {
    let now = T0;
    const sleeps: number[] = [];
    const handler = new LimitReqHandler(config, { ...env, variables }, { now: () => now, sleep: async (ms) => void sleeps.push(ms) });
    const request = (location: string, target = location) => fakeContext({ config, raw: `GET ${target} HTTP/1.1\r\nHost: h\r\n\r\n`, location, variables });
    return { handler, request, sleeps, advance: (ms: number) => (now += ms) };
  }

  it('passes, delays (sleeping the delay) and rejects with 503, logging as nginx', async () => {
    const { handler, request, sleeps } = setup();
    const a = request('/');
    const b = request('/');
    const c = request('/');
    assert.deepEqual(await handler.run(a), { kind: 'next' });
    assert.deepEqual(await handler.run(b), { kind: 'next' });
    assert.deepEqual(await handler.run(c), { kind: 'status', status: 503 });
    assert.deepEqual(sleeps, [500]);
    assert.deepEqual([a, b, c].map((ctx) => ctx.variables.get('limit_req_status')), ['PASSED', 'DELAYED', 'REJECTED']);
    assert.deepEqual(b.logged, [{ level: 'warn', message: 'delaying request, excess: 1.000, by zone "one"' }]);
    assert.deepEqual(c.logged, [{ level: 'error', message: 'limiting requests, excess: 2.000 by zone "one"' }]);
  });

  it('limit_req_status and limit_req_log_level', async () => {
    const { handler, request } = setup();
    await handler.run(request('/nodelay'));
    await handler.run(request('/nodelay'));
    const third = request('/nodelay');
    assert.deepEqual(await handler.run(third), { kind: 'status', status: 429 });
    assert.deepEqual(third.logged, [{ level: 'warn', message: 'limiting requests, excess: 2.000 by zone "one"' }]);
  });

  it('dry run: counts and logs, never rejects nor delays', async () => {
    const { handler, request, sleeps } = setup();
    await handler.run(request('/dry'));
    const second = request('/dry');
    assert.deepEqual(await handler.run(second), { kind: 'next' });
    assert.equal(second.variables.get('limit_req_status'), 'REJECTED_DRY_RUN');
    assert.deepEqual(second.logged, [{ level: 'error', message: 'limiting requests, dry run, excess: 1.000 by zone "one"' }]);
    assert.deepEqual(sleeps, []);
  });

  it('decides once per request, and not at all for an empty key', async () => {
    const { handler, request } = setup();
    const ctx = request('/');
    await handler.run(ctx);
    await handler.run(ctx);
    await handler.run(ctx);
    assert.equal(ctx.variables.get('limit_req_status'), 'PASSED');
    const empty = request('/key', '/key');
    assert.deepEqual(await handler.run(empty), { kind: 'next' });
    assert.equal(empty.variables.has('limit_req_status'), false);
  });

  it('the bucket drains with the clock', async () => {
    const { handler, request, advance } = setup();
    await handler.run(request('/key', '/key?k=a'));
    assert.deepEqual(await handler.run(request('/key', '/key?k=a')), { kind: 'status', status: 503 });
    advance(1000);
    assert.deepEqual(await handler.run(request('/key', '/key?k=a')), { kind: 'next' });
  });
});

describe('limit_req against nginx', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  // 1 request a minute: the bucket drains 1/62.5 of a request per second, so the few ms the
  // requests take cannot change an outcome or the printed excess.
  const HTTP = `
    access_log off;
    limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;
    server {
      listen 127.0.0.1:PORT;
      root DIR/html;
      # Not "return": it runs in the rewrite phase, before limit_req could count the request.
      location /burst { limit_req zone=one burst=2 nodelay; }
    }`;
  let run: NginxRun;
  before(async () => {
    if (!('path' in nginx)) return;
    run = await startNginx(nginx.path, HTTP);
    writeFileSync(join(run.dir, 'html/burst'), 'ok');
  });
  after(async () => run?.stop());

  it('the same statuses and the same error log message', async () => {
    const config = configFromText(`events {} http { ${HTTP.replaceAll('PORT', String(run.port)).replaceAll('DIR', run.dir)} }`);
    const variables = new Variables(config);
    const handler = new LimitReqHandler(config, { ...env, variables }, { now: () => T0 });
    const theirs: number[] = [];
    const ours: number[] = [];
    const messages: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      theirs.push((await run.request('GET /burst HTTP/1.0\r\n\r\n')).status);
      const ctx = fakeContext({ config, raw: 'GET /burst HTTP/1.0\r\n\r\n', location: '/burst', variables });
      const result = await handler.run(ctx);
      ours.push(result.kind === 'status' ? result.status : 200);
      for (const { level, message } of ctx.logged) messages.push(formatErrorLine({ timeMs: T0, level, pid: 1, message, ...requestFields(ctx) }));
    }
    assert.deepEqual(ours, theirs);
    // Everything after the connection number: the message and nginx's request trailer.
    const tail = (line: string): string => line.replace(/^.*? \[(\w+)\] \d+#\d+: \*\d+ /, '[$1] ');
    const limiting = run.read('logs/error.log').split('\n').filter((line) => line.includes('limiting requests'));
    assert.equal(messages.length, 2);
    assert.deepEqual(messages.map(tail), limiting.map(tail));
  });
});

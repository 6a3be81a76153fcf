/**
 * limit_conn: counting per key while requests are in progress, release when they are over,
 * statuses, messages and $limit_conn_status; and nginx holding a request open upstream while a
 * second one is refused, compared with tsgi's decisions for the same sequence.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LimitConnZone } from '../../../src/web/config/index.js';
import { LimitConnHandler, LimitConnZoneState, acquireConn, releaseConn } from '../../../src/web/limits/index.js';
import { formatErrorLine, requestFields } from '../../../src/web/log/index.js';
import type { ModuleEnv } from '../../../src/web/request-context.js';
import { Variables } from '../../../src/web/variables.js';
import { openSocket, readAll } from '../../helpers/net.js';
import { configFromText, fakeContext } from '../variables/fake-context.js';
import { nginx, parseResponse, startNginx, type NginxRun } from '../variables/nginx-runner.js';

const COUNTERS = { active: 0, accepts: 0, handled: 0, requests: 0, reading: 0, writing: 0, waiting: 0 };
const ENV: Omit<ModuleEnv, 'variables'> = {
  errorLog: { log: () => {}, reopen: () => {}, close: () => {} },
  worker: { pid: 1, slot: 0, counters: COUNTERS, collectCounters: async () => ({ ...COUNTERS }) },
};

describe('acquireConn / releaseConn', () => {
  const conf: LimitConnZone = { name: 'z', key: '$remote_addr', size: 64 * 2, position: { file: null, line: 0 } };

  it('counts up to the limit, and a key leaves the zone at zero', () => {
    const zone = new LimitConnZoneState(conf);
    const a = acquireConn(zone, 'k', 2)!;
    const b = acquireConn(zone, 'k', 2)!;
    assert.equal(acquireConn(zone, 'k', 2), null);
    releaseConn(a);
    releaseConn(a);
    assert.equal(zone.counts.get('k'), 1);
    releaseConn(b);
    assert.equal(zone.counts.has('k'), false);
  });

  it('a full zone refuses new keys', () => {
    const zone = new LimitConnZoneState(conf);
    assert.ok(acquireConn(zone, 'a', 5));
    assert.ok(acquireConn(zone, 'b', 5));
    assert.equal(acquireConn(zone, 'c', 5), null);
    assert.ok(acquireConn(zone, 'a', 5));
  });
});

describe('LimitConnHandler', () => {
  const config = configFromText(`
events {}
http {
  access_log off;
  limit_conn_zone $binary_remote_addr zone=addr:1m;
  limit_conn_zone $server_name zone=perserver:1m;
  limit_conn_zone $arg_k zone=bykey:1m;
  server {
    listen 127.0.0.1:8080;
    server_name s;
    location / { limit_conn addr 1; }
    location /two { limit_conn perserver 5; limit_conn addr 1; limit_conn_status 429; limit_conn_log_level warn; }
    location /dry { limit_conn addr 1; limit_conn_dry_run on; }
    location /key { limit_conn bykey 1; }
  }
}`);
  const variables = new Variables(config);
  const request = (location: string, target = location, remoteAddr = '10.0.0.1') =>
    fakeContext({ config, raw: `GET ${target} HTTP/1.1\r\nHost: h\r\n\r\n`, location, variables, remoteAddr });

  it('one request in progress per address; the next is refused with 503 until the first is over', () => {
    const handler = new LimitConnHandler(config, { ...ENV, variables });
    const first = request('/');
    const second = request('/');
    const other = request('/', '/', '10.0.0.2');
    assert.deepEqual(handler.run(first), { kind: 'next' });
    assert.deepEqual(handler.run(second), { kind: 'status', status: 503 });
    assert.deepEqual(handler.run(other), { kind: 'next' });
    assert.deepEqual(second.logged, [{ level: 'error', message: 'limiting connections by zone "addr"' }]);
    assert.deepEqual([first, second].map((ctx) => ctx.variables.get('limit_conn_status')), ['PASSED', 'REJECTED']);
    first.finish();
    assert.deepEqual(handler.run(request('/')), { kind: 'next' });
  });

  it('gives back what earlier zones took when a later one refuses', () => {
    const handler = new LimitConnHandler(config, { ...ENV, variables });
    const first = request('/two');
    assert.deepEqual(handler.run(first), { kind: 'next' });
    const second = request('/two');
    assert.deepEqual(handler.run(second), { kind: 'status', status: 429 });
    assert.deepEqual(second.logged, [{ level: 'warn', message: 'limiting connections by zone "addr"' }]);
    // perserver holds the first request only: the refused one gave its count back.
    first.finish();
    for (let i = 0; i < 5; i += 1) assert.deepEqual(handler.run(request('/two', '/two', `10.0.1.${i}`)), { kind: 'next' });
    assert.deepEqual(handler.run(request('/two', '/two', '10.0.1.9')), { kind: 'status', status: 429 });
  });

  it('dry run: logged, never refused, not counted', () => {
    const handler = new LimitConnHandler(config, { ...ENV, variables });
    handler.run(request('/dry'));
    const second = request('/dry');
    assert.deepEqual(handler.run(second), { kind: 'next' });
    assert.equal(second.variables.get('limit_conn_status'), 'REJECTED_DRY_RUN');
    assert.deepEqual(second.logged, [{ level: 'error', message: 'limiting connections, dry run, by zone "addr"' }]);
  });

  it('once per request; empty keys are not limited; long keys are logged and skipped', () => {
    const handler = new LimitConnHandler(config, { ...ENV, variables });
    const ctx = request('/');
    handler.run(ctx);
    assert.deepEqual(handler.run(ctx), { kind: 'next' });
    assert.deepEqual(handler.run(request('/key')), { kind: 'next' });
    assert.deepEqual(handler.run(request('/key')), { kind: 'next' });
    const long = request('/key', `/key?k=${'x'.repeat(256)}`);
    assert.deepEqual(handler.run(long), { kind: 'next' });
    assert.deepEqual(long.logged, [{ level: 'error', message: `the value of the "$arg_k" key is more than 255 bytes: "${'x'.repeat(256)}"` }]);
  });
});

describe('limit_conn against nginx', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let run: NginxRun;
  let upstream: Server;
  const held: ServerResponse[] = [];
  let HTTP = '';

  before(async () => {
    if (!('path' in nginx)) return;
    upstream = createServer((_req, res) => held.push(res));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamPort = (upstream.address() as AddressInfo).port;
    HTTP = `
      access_log off;
      limit_conn_zone $binary_remote_addr zone=addr:1m;
      server {
        listen 127.0.0.1:PORT;
        location /held { limit_conn addr 1; proxy_pass http://127.0.0.1:${upstreamPort}; }
      }`;
    run = await startNginx(nginx.path, HTTP);
  });
  after(async () => {
    for (const res of held) res.end();
    await run?.stop();
    await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
  });

  it('a second request while the first is upstream: 503 and the same log line', async () => {
    const first = await openSocket(run.port);
    const firstResponse = readAll(first, 10_000);
    first.write('GET /held HTTP/1.0\r\n\r\n');
    for (let i = 0; i < 500 && held.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(held.length, 1, 'nginx passed the first request upstream');
    const second = await run.request('GET /held HTTP/1.0\r\n\r\n');
    held[0]!.end('done');
    assert.equal(parseResponse((await firstResponse).toString('latin1')).status, 200);

    const config = configFromText(`events {} http { ${HTTP.replaceAll('PORT', String(run.port))} }`);
    const variables = new Variables(config);
    const handler = new LimitConnHandler(config, { ...ENV, variables });
    const a = fakeContext({ config, raw: 'GET /held HTTP/1.0\r\n\r\n', location: '/held', variables });
    const b = fakeContext({ config, raw: 'GET /held HTTP/1.0\r\n\r\n', location: '/held', variables });
    assert.deepEqual(handler.run(a), { kind: 'next' });
    const refused = handler.run(b);
    assert.equal(refused.kind === 'status' ? refused.status : 200, second.status);
    const tail = (line: string): string => line.replace(/^.*? \[(\w+)\] \d+#\d+: \*\d+ /, '[$1] ');
    const theirs = run.read('logs/error.log').split('\n').filter((line) => line.includes('limiting connections'));
    const ours = b.logged.map(({ level, message }) => formatErrorLine({ timeMs: 0, level, pid: 1, message, ...requestFields(b) }));
    assert.deepEqual(ours.map(tail), theirs.map(tail));
  });
});

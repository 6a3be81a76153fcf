// The harness's pure parts, checked without a server: wrk's report parser, the median, the
// process-tree RSS reader. Run with: node --import tsx --test bench/test/harness.test.ts
// (npm test collects test/ only; these live beside the harness they check.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { parseWrkOutput } from '../../bench/lib/load/wrk.js';
import { treeRssKb } from '../../bench/lib/rss.js';
import { median } from '../../bench/lib/stats.js';

const WRK_CLEAN = `Running 2s test @ http://127.0.0.1:18080/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   561.07us    1.74ms  33.68ms   97.04%
    Req/Sec    98.60k    28.07k  113.32k    90.00%
  Latency Distribution
     50%  273.00us
     75%  330.00us
     90%  512.00us
     99%    6.08ms
  195997 requests in 2.01s, 30.13MB read
Requests/sec:  97629.12
Transfer/sec:     15.01MB
`;

const WRK_ERRORS = `Running 5s test @ http://127.0.0.1:9/
  1 threads and 32 connections
  Latency Distribution
     50%    1.20s
     75%    1.50s
     90%    1.90s
     99%    1.99s
  812 requests in 5.00s, 100.00KB read
  Socket errors: connect 0, read 12, write 1, timeout 30
  Non-2xx or 3xx responses: 40
Requests/sec:    162.40
Transfer/sec:     20.00KB
`;

test('parseWrkOutput reads req/s and the p50/p99 of --latency in milliseconds', () => {
  assert.deepEqual(parseWrkOutput(WRK_CLEAN), {
    requestsPerSec: 97629.12,
    p50Ms: 0.273,
    p99Ms: 6.08,
    badStatus: 0,
    socketErrors: 0,
  });
});

test('parseWrkOutput sums socket errors and counts bad statuses; seconds become ms', () => {
  const r = parseWrkOutput(WRK_ERRORS);
  assert.equal(r.requestsPerSec, 162.4);
  assert.equal(r.p50Ms, 1200);
  assert.equal(r.p99Ms, 1990);
  assert.equal(r.socketErrors, 43);
  assert.equal(r.badStatus, 40);
});

test('parseWrkOutput refuses a report without the latency distribution', () => {
  assert.throws(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n'), /cannot read wrk/);
});

test('median of odd and even counts, NaN for none', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test('treeRssKb counts the children of a process', async (t) => {
  if (process.platform !== 'linux') return t.skip('needs /proc');
  const alone = treeRssKb([process.pid]);
  assert.ok(alone > 0);
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => child.once('spawn', resolve));
    assert.ok(child.pid !== undefined);
    const childOnly = treeRssKb([child.pid]);
    assert.ok(childOnly > 0);
    // Memory moves between the two reads, so compare with slack rather than exactly.
    assert.ok(treeRssKb([process.pid]) > alone + childOnly / 2);
  } finally {
    child.kill();
  }
});

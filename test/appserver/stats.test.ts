/**
 * `tsgi serve --stats ADDR` (and --stats-http, --stats-minified): uWSGI's stats document, read from
 * real processes. The keys are checked against a document from the real uWSGI when it is installed
 * (Debian's uwsgi + python3 plugin), and a Python port of uwsgitop's key accesses reads ours.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchStats, parseStats } from '../../src/cli/top.js';
import type { StatsDocument } from '../../src/appserver/stats/document.js';
import { freePort } from '../helpers/nginx.js';
import { findPeer } from '../helpers/peers.js';
import { uwsgiPeer } from '../upstream/real-peers.js';
import { appDir, get, loggedPids, sleep, startServer, waitForText } from './stats-helpers.js';

const apps = appDir('tsgi-stats-');
after(() => apps.cleanup());

/** What the workers report reaches the master once a second. */
const REPORT_WAIT_MS = 1300;

async function statsOf(address: string): Promise<StatsDocument> {
  return parseStats(await fetchStats(address)) as unknown as StatsDocument;
}

/** Every key path of a document: `workers[].apps[].chdir`, with list items merged. */
function keyPaths(value: unknown, prefix = ''): Set<string> {
  const paths = new Set<string>();
  if (Array.isArray(value)) {
    for (const item of value) for (const path of keyPaths(item, `${prefix}[]`)) paths.add(path);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      paths.add(path);
      for (const nested of keyPaths(child, path)) paths.add(nested);
    }
  }
  return paths;
}

/** The keys of uWSGI 2.0's document (core/master_utils.c), minus the lock names and cache/spooler parts. */
const UWSGI_KEYS = [
  'version', 'listen_queue', 'listen_queue_errors', 'signal_queue', 'load', 'pid', 'uid', 'gid', 'cwd', 'locks', 'sockets',
  'sockets[].name', 'sockets[].proto', 'sockets[].queue', 'sockets[].max_queue', 'sockets[].shared', 'sockets[].can_offload',
  'workers', 'workers[].id', 'workers[].pid', 'workers[].accepting', 'workers[].requests', 'workers[].delta_requests',
  'workers[].exceptions', 'workers[].harakiri_count', 'workers[].signals', 'workers[].signal_queue', 'workers[].status',
  'workers[].rss', 'workers[].vsz', 'workers[].running_time', 'workers[].last_spawn', 'workers[].respawn_count', 'workers[].tx',
  'workers[].avg_rt', 'workers[].apps', 'workers[].apps[].id', 'workers[].apps[].modifier1', 'workers[].apps[].mountpoint',
  'workers[].apps[].startup_time', 'workers[].apps[].requests', 'workers[].apps[].exceptions', 'workers[].apps[].chdir',
  'workers[].cores', 'workers[].cores[].id', 'workers[].cores[].requests', 'workers[].cores[].static_requests',
  'workers[].cores[].routed_requests', 'workers[].cores[].offloaded_requests', 'workers[].cores[].write_errors',
  'workers[].cores[].read_errors', 'workers[].cores[].in_request', 'workers[].cores[].vars', 'workers[].cores[].req_info',
];

/**
 * uwsgitop's reading of a stats document (xrmx/uwsgitop, the `uwsgitop` script), ported to plain
 * Python without curses: the same key accesses and the same `%` formats, in its three display
 * modes. Unlike uwsgitop, which swallows errors in its row drawing, any error here fails the test.
 */
const UWSGITOP_PORT = String.raw`
import json, socket, sys, time, urllib.request
from collections import defaultdict

def human_size(n):
    if n >= 1024 ** 3: return "%.1fG" % (n / 1024 ** 3)
    if n >= 1024 ** 2: return "%.1fM" % (n / 1024 ** 2)
    if n >= 1024: return "%.1fK" % (n / 1024)
    return "%d" % n

def percent(total, part):
    return 0.0 if total == 0 else (100 * float(part)) / float(total)

def read(address):
    if address.startswith('http://'):
        return urllib.request.urlopen(address).read().decode('utf8', 'ignore')
    if ':' in address:
        host, port = address.rsplit(':', 1)
        family, target = socket.AF_INET, (host, int(port))
    else:
        family, target = socket.AF_UNIX, address
    s = socket.socket(family, socket.SOCK_STREAM)
    s.connect(target)
    text = ''
    while True:
        data = s.recv(4096)
        if len(data) < 1: break
        text += data.decode('utf8', 'ignore')
    s.close()
    return text

def frame(dd, mode, last):
    out = []
    version = '-' + dd['version'] if 'version' in dd else ''
    if 'listen_queue' not in dd: dd['listen_queue'] = 0
    node = ["node: host"]
    if 'cwd' in dd: node.append("- cwd: %s" % dd['cwd'])
    if 'uid' in dd: node.append("- uid: %d" % dd['uid'])
    if 'gid' in dd: node.append("- gid: %d" % dd['gid'])
    if 'pid' in dd: node.append("- masterpid: %d" % dd['pid'])
    out.append(' '.join(node))
    assert 'vassals' not in dd
    workers = dd['workers']
    total = sum([w['requests'] for w in workers])
    dt = time.time() - last['time']
    rps, core_rps, cores, total_rps = {}, {}, defaultdict(list), 0
    for w in workers:
        wid = w['id']
        rps[wid] = (w['requests'] - last['req'][wid]) / dt
        total_rps += rps[wid]
        last['req'][wid] = w['requests']
        if not mode: continue
        for core in w.get('cores', []):
            if not core['requests']: continue
            key = (wid, core['id'])
            core_rps[key] = (core['requests'] - last['core'][key]) / dt
            last['core'][key] = core['requests']
            cores[wid].append(core)
        cores[wid].sort(key=lambda c: c['requests'])
    last['time'] = time.time()
    if mode == 1:
        by_id = dict([(w['id'], w) for w in workers])
        merged = []
        for wid, wcores in cores.items():
            for core in wcores:
                data = dict(by_id.get(wid))
                data.update(core)
                if data['status'] == 'busy' and not core['in_request']: data['status'] = '-'
                new_id = "{0}:{1}".format(wid, core['id'])
                data['id'] = new_id
                rps[new_id] = core_rps[wid, core['id']]
                merged.append(data)
        workers[:] = merged
    tx = human_size(sum([w['tx'] for w in workers]))
    out.append("uwsgi%s - %s - req: %d - RPS: %d - lq: %d - tx: %s" % (version, time.ctime(), total, int(round(total_rps)), dd['listen_queue'], tx))
    workers.sort(key=lambda w: w['requests'], reverse=True)
    for w in workers:
        runt = w['running_time'] / 1000
        runt = "%sm" % str(runt / (1000 * 60)) if runt > 9999999 else str(runt)
        spawn = time.strftime("%H:%M:%S", time.localtime(w['last_spawn'])) if w['last_spawn'] else "--:--:--"
        sigs = w['signals'] if 'signals' in w else 0
        for status in ('busy', 'cheap', 'pause'): w['status'] == status
        w['status'].startswith('sig')
        out.append(" %s\t%.1f\t%d\t%d\t%d\t%d\t%d\t%s\t%dms\t%s\t%s\t%s\t%s\t%s\t%s\t%s" % (
            w['id'], percent(total, w['requests']), w['pid'], w['requests'], int(round(rps[w['id']])), w['exceptions'], sigs, w['status'],
            w['avg_rt'] / 1000, human_size(w['rss']), human_size(w['vsz']), human_size(w['tx']), w['respawn_count'], w['harakiri_count'], runt, spawn))
        if mode != 2: continue
        for core in cores[w['id']]:
            status = 'busy' if core['in_request'] else 'idle'
            out.append("  :%s\t%.1f\t-\t%d\t%d\t-\t-\t%s\t-\t-\t-\t-\t-" % (
                core['id'], percent(total, core['requests']), core['requests'], int(round(core_rps[w['id'], core['id']])), status))
    return out

last = {'time': time.time() - 1, 'req': defaultdict(int), 'core': defaultdict(int)}
for mode in (0, 1, 2):
    for line in frame(json.loads(read(sys.argv[1])), mode, last):
        print(line)
`;

describe('tsgi serve --stats', () => {
  it('serves a document with every key of uWSGI\'s, counting requests and naming the processes', async () => {
    const server = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--processes', '2', '--stats', '127.0.0.1:0']);
    try {
      for (let i = 0; i < 10; i++) assert.equal((await get(server.url)).status, 200);
      await sleep(REPORT_WAIT_MS);
      const stats = await statsOf(server.statsAddress!);
      const paths = keyPaths(stats);
      for (const key of UWSGI_KEYS) assert.ok(paths.has(key), `missing ${key}`);

      assert.equal(stats.pid, server.running.child.pid);
      assert.match(stats.version, /^\d+\.\d+\.\d+-tsgi$/);
      assert.equal(stats.cwd, process.cwd());
      assert.deepEqual(stats.sockets.map((socket) => [socket.name, socket.proto, socket.max_queue]), [[new URL(server.url).host, 'http', 100]]);
      assert.equal(stats.workers.length, 2);
      assert.deepEqual(stats.workers.map((worker) => worker.id), [1, 2]);
      assert.deepEqual(stats.workers.map((worker) => worker.pid).sort(), loggedPids(server.output()).sort());
      assert.equal(stats.workers.reduce((sum, worker) => sum + worker.requests, 0), 10);
      assert.equal(stats.workers.reduce((sum, worker) => sum + worker.delta_requests, 0), 10);
      const now = Date.now() / 1000;
      for (const worker of stats.workers) {
        assert.equal(worker.status, 'idle');
        assert.equal(worker.accepting, 1);
        assert.equal(worker.respawn_count, 1, 'uWSGI counts the first spawn');
        assert.ok(Math.abs(worker.last_spawn - now) < 60, `last_spawn ${worker.last_spawn} is seconds since the epoch`);
        assert.ok(worker.rss > 1024 * 1024, `rss ${worker.rss}`);
        assert.ok(worker.vsz >= worker.rss, `vsz ${worker.vsz}`);
        assert.equal(worker.apps.length, 1);
        assert.equal(worker.apps[0]!.requests, worker.requests);
        assert.equal(worker.cores.length, 1);
        assert.equal(worker.cores[0]!.requests, worker.requests);
        assert.equal(worker.cores[0]!.in_request, 0);
        if (worker.requests > 0) {
          // 12 body bytes + 45 header bytes... plus what the server adds (Date, Content-Length...).
          assert.ok(worker.tx >= worker.requests * 57, `tx ${worker.tx}`);
          assert.ok(worker.avg_rt > 0, `avg_rt ${worker.avg_rt}`);
          assert.ok(worker.running_time > 0, `running_time ${worker.running_time}`);
        }
      }
      assert.equal(stats.load, 0);
      assert.equal(stats.listen_queue, 0);
    } finally {
      await server.stop();
    }
  });

  it('shows requests in flight: status busy, load, a core in_request', async () => {
    const server = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('slow.mjs'), '--master', '--threads', '2', '--stats', '127.0.0.1:0']);
    try {
      const pending = [get(`${server.url}?ms=2500`), get(`${server.url}?ms=2500`)];
      await sleep(REPORT_WAIT_MS);
      const stats = await statsOf(server.statsAddress!);
      const worker = stats.workers[0]!;
      assert.equal(worker.status, 'busy');
      assert.equal(stats.load, 2);
      assert.deepEqual(worker.cores.map((core) => core.in_request), [1, 1], 'two --threads cores, both running a request');
      assert.equal(worker.accepting, 0, 'a worker at its --threads limit does not accept');
      await Promise.all(pending);
      await sleep(REPORT_WAIT_MS);
      const after = await statsOf(server.statsAddress!);
      assert.equal(after.workers[0]!.status, 'idle');
      assert.deepEqual(after.workers[0]!.cores.map((core) => core.requests), [1, 1]);
      assert.ok(after.workers[0]!.avg_rt >= 2_400_000, `avg_rt ${after.workers[0]!.avg_rt} µs`);
      assert.ok(after.workers[0]!.running_time >= 4_800_000, `running_time ${after.workers[0]!.running_time} µs`);
    } finally {
      await server.stop();
    }
  });

  it('keeps a worker id\'s counters across a respawn, as uWSGI does (delta_requests starts again)', async () => {
    const server = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('slow.mjs'), '--master', '--stats', '127.0.0.1:0']);
    try {
      for (let i = 0; i < 5; i++) await get(server.url);
      await sleep(REPORT_WAIT_MS);
      const before = await statsOf(server.statsAddress!);
      const oldPid = before.workers[0]!.pid;
      process.kill(oldPid, 'SIGKILL');
      await waitForText(server.output, /Respawned tsgi worker 1 \(new pid: \d+\)/);
      await waitForText(server.output, /new pid: \d+/);
      for (let i = 0; i < 2; i++) await get(server.url);
      await sleep(REPORT_WAIT_MS);
      const after = await statsOf(server.statsAddress!);
      const worker = after.workers[0]!;
      assert.notEqual(worker.pid, oldPid);
      assert.equal(worker.requests, 7);
      assert.equal(worker.delta_requests, 2);
      assert.equal(worker.respawn_count, 2);
    } finally {
      await server.stop();
    }
  });

  it('--stats-http answers with uWSGI\'s HTTP header block; --stats-minified puts the JSON on one line', async () => {
    const server = await startServer([
      '--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--master', '--stats', '127.0.0.1:0', '--stats-http', '--stats-minified',
    ]);
    try {
      const response = await get(`http://${server.statsAddress}/`);
      assert.equal(response.status, 200);
      assert.equal(response.headers['content-type'], 'application/json');
      assert.equal(response.headers['access-control-allow-origin'], '*');
      assert.ok(!response.body.includes('\n'), 'minified');
      assert.equal((JSON.parse(response.body) as StatsDocument).pid, server.running.child.pid);
      const raw = await fetchStats(server.statsAddress!);
      assert.ok(raw.startsWith('HTTP/1.0 200 OK\r\nConnection: close\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: application/json\r\n\r\n{'), raw.slice(0, 120));
    } finally {
      await server.stop();
    }
  });

  it('serves on a UNIX socket, indented with tabs as uWSGI\'s', async () => {
    const path = join(apps.dir, 'stats.sock');
    const server = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--master', '--stats', path]);
    try {
      const text = await fetchStats(path);
      assert.match(text, /^\{\n\t"version": /);
      assert.equal((JSON.parse(text) as StatsDocument).workers.length, 1);
    } finally {
      await server.stop();
    }
  });

  const python = findPeer('python3');
  it('is read by uwsgitop (a Python port of its key accesses), over TCP, HTTP and a UNIX socket', { skip: python === null ? 'python3 not installed' : false }, async () => {
    const path = join(apps.dir, 'top.sock');
    const script = join(apps.dir, 'uwsgitop_port.py');
    writeFileSync(script, UWSGITOP_PORT);
    const tcp = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--processes', '2', '--threads', '2', '--stats', '127.0.0.1:0']);
    const http = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--master', '--stats', '127.0.0.1:0', '--stats-http']);
    const unix = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--master', '--stats', path]);
    try {
      for (let i = 0; i < 6; i++) await get(tcp.url);
      await sleep(REPORT_WAIT_MS);
      for (const address of [tcp.statsAddress!, `http://${http.statsAddress}/`, path]) {
        const run = spawnSync(python!, [script, address], { encoding: 'utf8', timeout: 15_000 });
        assert.equal(run.status, 0, `uwsgitop port on ${address}:\n${run.stdout}\n${run.stderr}`);
        assert.match(run.stdout, /^uwsgi-\d+\.\d+\.\d+-tsgi - .* - req: \d+ - RPS: \d+ - lq: 0 - tx: /m);
      }
      const run = spawnSync(python!, [script, tcp.statsAddress!], { encoding: 'utf8' });
      // Which worker the kernel handed the requests to varies; any worker with a core line will do.
      assert.match(run.stdout, /^ \d+:0\t/m, 'mode 1 merges cores into workers');
      assert.match(run.stdout, /^ {2}:0\t/m, 'mode 2 lists cores');
    } finally {
      await Promise.all([tcp.stop(), http.stop(), unix.stop()]);
    }
  });

  const uwsgi = uwsgiPeer();
  it('has the key structure of the real uWSGI\'s document', { skip: 'skip' in uwsgi ? uwsgi.skip : false }, async () => {
    if (!('path' in uwsgi)) return;
    const [httpPort, statsPort] = [await freePort(), await freePort()];
    writeFileSync(join(apps.dir, 'app.py'), "def application(env, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'Hello World!']\n");
    const env = { ...process.env };
    delete env.PYTHONHOME;
    delete env.PYTHONPATH;
    const child = spawn(uwsgi.path, ['--plugin', 'python3', '--http-socket', `127.0.0.1:${httpPort}`, '--wsgi-file', 'app.py', '--master', '--processes', '1', '--stats', `127.0.0.1:${statsPort}`], {
      cwd: apps.dir,
      env,
      stdio: 'ignore',
    });
    const server = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--master', '--stats', '127.0.0.1:0']);
    try {
      let theirs: StatsDocument | null = null;
      for (let attempt = 0; attempt < 100 && theirs === null; attempt++) {
        theirs = await statsOf(`127.0.0.1:${statsPort}`).catch(() => null);
        if (theirs === null) await sleep(100);
      }
      assert.ok(theirs !== null, 'uWSGI stats server did not answer');
      const ours = keyPaths(await statsOf(server.statsAddress!));
      const missing = [...keyPaths(theirs)].filter((path) => !path.startsWith('locks[].') && !ours.has(path));
      assert.deepEqual(missing, []);
    } finally {
      child.kill('SIGINT');
      await server.stop();
    }
  });
});

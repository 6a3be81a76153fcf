/**
 * Bench sanity (not a test, for information): requests/s of a hello WSGI app
 * (test/fixtures/python/hello_app.py) through the Python worker and through real uWSGI
 * (`uwsgi --socket --plugin python3`, Debian's), both on a UNIX socket, both one process with
 * one thread, driven by the TS UwsgiClient from this process with C requests in flight.
 *
 *   node --import tsx test/python/bench-hello.ts [seconds=5] [concurrency=16] [threads=1]
 *   TSGI_WORKER_ARGS='--socket-timeout 0' node --import tsx test/python/bench-hello.ts   (extra worker options)
 *
 * Both servers run the same file with the same interpreter (Debian's python3.11, embedded in
 * uWSGI). The client is the same code for both, so its cost (one connection per request, as
 * nginx does for uwsgi) is in both rates; on a 2-core machine it is most of them. The server
 * CPU time per request (from /proc) is the figure that compares the servers themselves.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as net from 'node:net';
import { UwsgiClient } from '../../src/upstream/uwsgi-client.js';
import { FIXTURES, PYTHON, WORKER, cgiVars, pythonEnv, readBody } from './harness.js';

const seconds = Number(process.argv[2] ?? 5);
const concurrency = Number(process.argv[3] ?? 16);
const threads = Number(process.argv[4] ?? 1);
const dir = mkdtempSync(join(tmpdir(), 'tsgi-bench-python-'));

function waitForSocket(path: string, child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const attempt = (): void => {
      const socket = net.connect({ path }, () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', () => {
        if (child.exitCode !== null) reject(new Error(`exited with ${child.exitCode}`));
        else if (Date.now() - started > 15_000) reject(new Error(`${path} never accepted`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** user + system CPU seconds of a process so far (Linux /proc). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] and [12] are utime and stime (the 14th and 15th of the whole line), in ticks.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function measure(name: string, path: string, pid: number): Promise<number> {
  const client = new UwsgiClient({ address: `unix:${path}` });
  const vars = cgiVars({ path: '/' });
  let done = 0;
  let failed = 0;
  const one = async (): Promise<void> => {
    const response = await client.request({ vars });
    const body = await readBody(response);
    if (response.status !== 200 || body.length !== 13) throw new Error(`bad answer ${response.status}`);
  };
  // Warm-up.
  for (let i = 0; i < 200; i++) await one();
  const deadline = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  const cpuBefore = cpuSeconds(pid);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        try {
          await one();
          done += 1;
        } catch {
          failed += 1;
        }
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = cpuSeconds(pid) - cpuBefore;
  const rate = done / elapsed;
  console.log(
    `${name.padEnd(34)} ${rate.toFixed(0).padStart(7)} req/s  ${((cpu / done) * 1e6).toFixed(1).padStart(6)} µs server CPU/request  (${done} requests, ${failed} failed, ${elapsed.toFixed(1)} s)`,
  );
  return rate;
}

async function main(): Promise<void> {
  console.log(`hello WSGI app, ${seconds} s per server, ${concurrency} in flight, 1 process x ${threads} thread(s)`);
  const workerPath = join(dir, 'tsgi.sock');
  const worker = spawn(PYTHON, [WORKER, '--socket', workerPath, '--wsgi-file', 'hello_app.py', '--threads', String(threads), ...(process.env.TSGI_WORKER_ARGS ?? '').split(' ').filter(Boolean)], {
    cwd: FIXTURES,
    env: pythonEnv(),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const uwsgiPath = join(dir, 'uwsgi.sock');
  // No --master: one process, whose CPU time is the whole server's.
  const uwsgiArgs = ['--plugin', 'python3', '--socket', uwsgiPath, '--wsgi-file', 'hello_app.py', '--processes', '1', '--disable-logging', '--need-app'];
  if (threads > 1) uwsgiArgs.push('--threads', String(threads));
  const uwsgi = spawn('uwsgi', uwsgiArgs, { cwd: FIXTURES, env: pythonEnv(), stdio: ['ignore', 'ignore', 'ignore'] });
  try {
    await waitForSocket(workerPath, worker);
    await waitForSocket(uwsgiPath, uwsgi);
    const ours = await measure('tsgi python worker (--socket)', workerPath, worker.pid!);
    const theirs = await measure('uWSGI 2.0 --socket --plugin python3', uwsgiPath, uwsgi.pid!);
    console.log(`ratio tsgi / uWSGI: ${(ours / theirs).toFixed(2)}x`);
  } finally {
    worker.kill('SIGTERM');
    uwsgi.kill('SIGINT');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

/**
 * wrk as a child process, its text report parsed. One thread (`-t1`): on a 2-core machine the
 * other core belongs to the server, and the brief's reference figures were taken with -t1 -c32.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { RoundResult } from '../types.js';
import type { LoadGenerator, LoadRun } from './generator.js';

const THREADS = 1;

export function wrkGenerator(): LoadGenerator {
  return {
    name: wrkVersion(),
    settings: (connections) => `-t${THREADS} -c${connections}`,
    run: runWrk,
  };
}

async function runWrk({ url, durationSec, connections, signal }: LoadRun): Promise<RoundResult> {
  const args = [`-t${THREADS}`, `-c${connections}`, `-d${durationSec}s`, '--latency', url];
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', args, { signal, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (text += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (text += s));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(text);
      else reject(new Error(`wrk ${args.join(' ')} exited with code ${code}: ${text.trim()}`));
    });
  });
  return parseWrkOutput(output);
}

/**
 * The figures out of wrk's report:
 *
 *     Latency Distribution
 *        50%  273.00us
 *        99%    6.08ms
 *     195997 requests in 2.01s, 30.13MB read
 *     Socket errors: connect 0, read 3, write 0, timeout 12     (only when there were some)
 *     Non-2xx or 3xx responses: 1959                            (idem; wrk counts status >= 400)
 *   Requests/sec:  97629.12
 */
export function parseWrkOutput(text: string): RoundResult {
  const rps = text.match(/^Requests\/sec:\s+([\d.]+)/m);
  const p50 = text.match(/^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$/m);
  const p99 = text.match(/^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m);
  if (rps === null || p50 === null || p99 === null) {
    throw new Error(`cannot read wrk's report (Requests/sec or the --latency distribution missing):\n${text}`);
  }
  const socket = text.match(/^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/m);
  const bad = text.match(/^\s*Non-2xx or 3xx responses: (\d+)/m);
  return {
    requestsPerSec: Number(rps[1]),
    p50Ms: toMs(Number(p50[1]), p50[2]),
    p99Ms: toMs(Number(p99[1]), p99[2]),
    badStatus: bad === null ? 0 : Number(bad[1]),
    socketErrors: socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0),
  };
}

/** wrk prints times with the unit that keeps the number short. */
const MS_PER_UNIT: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function toMs(value: number, unit: string | undefined): number {
  const factor = unit === undefined ? undefined : MS_PER_UNIT[unit];
  if (factor === undefined) throw new Error(`unknown wrk time unit "${unit}"`);
  return value * factor;
}

/** `wrk -v` prints "wrk debian/4.1.0-3+b2 [epoll] Copyright ..." (and exits with 1). */
function wrkVersion(): string {
  const out = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  const match = `${out.stdout}${out.stderr}`.match(/^wrk (\S+)/m);
  return match ? `wrk ${match[1]}` : 'wrk';
}

/**
 * autocannon, the fallback when wrk is not installed. It runs inside the harness's own process and
 * event loop, so it is slower than wrk and its figures are not comparable with wrk's; ratios
 * between sides measured by the same generator still are.
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RoundResult } from '../types.js';
import type { LoadGenerator, LoadRun } from './generator.js';

export function autocannonGenerator(root: string): LoadGenerator {
  return {
    name: `autocannon ${autocannonVersion(root)}`.trim(),
    // Its latency histogram counts whole milliseconds: a fast server's p50 reads 0 ms.
    settings: (connections) => `connections=${connections}, in-process, latency resolution 1 ms`,
    run: runAutocannon,
  };
}

function runAutocannon({ url, durationSec, connections, signal }: LoadRun): Promise<RoundResult> {
  return new Promise((resolve, reject) => {
    // signal.reason is the AbortError that the harness recognises as "interrupted, say nothing".
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const instance = autocannon({ url, connections, duration: durationSec }, (err, result) => {
      signal.removeEventListener('abort', onAbort);
      if (err !== null) reject(err);
      else if (signal.aborted) reject(signal.reason);
      else
        resolve({
          // Completed requests over elapsed time: the same definition as wrk's Requests/sec
          // (`requests.average` would be the mean of one-second samples instead).
          requestsPerSec: result.requests.total / result.duration,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          badStatus: result.non2xx,
          socketErrors: result.errors,
        });
    });
    const onAbort = (): void => instance.stop();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function autocannonVersion(root: string): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(join(root, 'node_modules/autocannon/package.json'), 'utf8'));
    if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') {
      return pkg.version;
    }
  } catch {
    // The version is only shown in the report; its absence is no reason to fail.
  }
  return '';
}

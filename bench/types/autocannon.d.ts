// autocannon ships no types and @types/autocannon is not installed; this declares the part of
// its programmatic API that bench/lib/load/autocannon.ts uses (see its README, "API").
declare module 'autocannon' {
  namespace autocannon {
    /** hdr-histogram-percentiles-obj: one statistic's distribution. */
    interface Histogram {
      average: number;
      mean: number;
      stddev: number;
      min: number;
      max: number;
      /** The total count behind the histogram (completed requests for `requests`). */
      total: number;
      p50: number;
      p90: number;
      p99: number;
    }

    interface Options {
      url: string;
      connections?: number;
      /** Seconds. */
      duration?: number;
      pipelining?: number;
      /** Seconds before a request counts as timed out. */
      timeout?: number;
    }

    interface Result {
      /** Requests per one-second sample; `total` is all completed requests. */
      requests: Histogram;
      /** Milliseconds. */
      latency: Histogram;
      /** Seconds the run took. */
      duration: number;
      /** Connection errors, timeouts included. */
      errors: number;
      timeouts: number;
      non2xx: number;
    }

    interface Instance {
      /** Ends the run early; the callback still receives the results so far. */
      stop(): void;
    }
  }

  function autocannon(
    opts: autocannon.Options,
    done: (err: Error | null, result: autocannon.Result) => void,
  ): autocannon.Instance;

  export default autocannon;
}

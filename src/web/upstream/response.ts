/**
 * The upstream's answer as the client gets it (ngx_http_upstream_process_headers and
 * ngx_http_upstream_send_response):
 *
 *   - headers: hop-by-hop ones dropped (Connection, Keep-Alive, Transfer-Encoding: the writer
 *     frames the body itself), the module's hidden list and `*_hide_header` dropped unless
 *     `*_pass_header` names them; Content-Length kept; each kept one is also
 *     `$upstream_http_NAME`;
 *   - body: streamed. With `*_buffering on` the body is read ahead of the client into memory,
 *     up to a bound, so a slow client does not hold the application server for the whole
 *     response; nginx goes on into a temp file (`*_max_temp_file_size`, 1 GiB), tsgi stops at
 *     the bound and lets backpressure hold the peer from there (docs/upstream.md).
 */
import type { PassSettings } from '../config/index.js';
import type { HeaderPair, RequestContext } from '../request-context.js';
import type { PassResponse } from './module.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-connection']);
/** Read-ahead at least this much with `*_buffering on`, whatever `*_buffers` says: nginx adds a
 *  temp file of up to 1 GiB behind its buffers, tsgi keeps memory bounded instead. */
const MIN_READ_AHEAD = 1024 * 1024;

/** The response headers the client gets, in the upstream's order. */
export function passedHeaders(ctx: RequestContext, response: PassResponse, settings: PassSettings, hidden: readonly string[]): HeaderPair[] {
  const out: HeaderPair[] = [];
  const pass = settings.passHeaders.length === 0 ? null : new Set(settings.passHeaders.map((name) => name.toLowerCase()));
  const hide = settings.hideHeaders.length === 0 ? null : new Set(settings.hideHeaders.map((name) => name.toLowerCase()));
  const list = response.headers;
  for (let i = 0; i + 1 < list.length; i += 2) {
    const name = list[i]!;
    const value = list[i + 1]!;
    const lower = name.toLowerCase();
    ctx.variables.set(`upstream_http_${lower.replaceAll('-', '_')}`, value);
    if (HOP_BY_HOP.has(lower)) continue;
    if ((hidden.includes(lower) || hide?.has(lower) === true) && pass?.has(lower) !== true) continue;
    out.push([name, value]);
  }
  return out;
}

/** Where the body's end is reported: bytes received, or the error that cut it short. */
export type BodyEnd = (bytes: number, error: unknown) => void;

/** The body as the connection writes it, following it to its end. `signal` (the client went
 *  away) cancels the upstream body, and the writer sees an error, never a complete body. */
export function passedBody(body: AsyncIterable<Buffer> & { cancel(): void }, settings: PassSettings, onEnd: BodyEnd, signal: AbortSignal): AsyncIterable<Buffer> {
  const stop = (): void => body.cancel();
  if (signal.aborted) stop();
  else signal.addEventListener('abort', stop, { once: true });
  const cut = (): void => {
    if (signal.aborted) throw new Error('the client closed the connection');
  };
  if (!settings.buffering) return counted(body, onEnd, cut);
  const limit = Math.max(MIN_READ_AHEAD, settings.buffers.number * settings.buffers.size + settings.bufferSize);
  return readAhead(body, limit, onEnd, cut);
}

async function* counted(body: AsyncIterable<Buffer>, onEnd: BodyEnd, cut: () => void): AsyncIterable<Buffer> {
  let bytes = 0;
  let failure: unknown = null;
  try {
    for await (const chunk of body) {
      bytes += chunk.length;
      yield chunk;
    }
    cut();
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    onEnd(bytes, failure);
  }
}

/**
 * Pulls the upstream body as fast as it comes while under `limit` bytes queued, and hands the
 * queue to the writer at the client's pace. The writer's `return()` (the client went away)
 * cancels the upstream body.
 */
function readAhead(body: AsyncIterable<Buffer> & { cancel(): void }, limit: number, onEnd: BodyEnd, cut: () => void): AsyncIterable<Buffer> {
  const queue: Buffer[] = [];
  let queued = 0;
  let bytes = 0;
  let done = false;
  let failure: unknown = null;
  let wakeReader: (() => void) | null = null;
  let wakePump: (() => void) | null = null;
  const wake = (which: 'reader' | 'pump'): void => {
    const fn = which === 'reader' ? wakeReader : wakePump;
    if (which === 'reader') wakeReader = null;
    else wakePump = null;
    fn?.();
  };
  void (async () => {
    try {
      for await (const chunk of body) {
        queue.push(chunk);
        queued += chunk.length;
        bytes += chunk.length;
        wake('reader');
        while (queued >= limit && !done) await new Promise<void>((resolve) => (wakePump = resolve));
        if (done) break;
      }
      cut();
    } catch (error) {
      failure = error;
    }
    if (!done) onEnd(bytes, failure);
    done = true;
    wake('reader');
  })();
  return {
    [Symbol.asyncIterator]: () => ({
      async next(): Promise<IteratorResult<Buffer>> {
        for (;;) {
          const chunk = queue.shift();
          if (chunk !== undefined) {
            queued -= chunk.length;
            if (queued < limit) wake('pump');
            return { done: false, value: chunk };
          }
          if (done) {
            if (failure !== null) throw failure;
            return { done: true, value: undefined };
          }
          await new Promise<void>((resolve) => (wakeReader = resolve));
        }
      },
      async return(): Promise<IteratorResult<Buffer>> {
        if (!done) {
          done = true;
          onEnd(bytes, new Error('the client went away'));
          body.cancel();
          wake('pump');
        }
        queue.length = 0;
        return { done: true, value: undefined };
      },
    }),
  };
}

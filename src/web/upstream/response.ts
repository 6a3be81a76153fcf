/**
 * The upstream's answer as the client gets it (ngx_http_upstream_process_headers and
 * ngx_http_upstream_send_response):
 *
 *   - headers: hop-by-hop ones dropped (Connection, Keep-Alive, Transfer-Encoding: the writer
 *     frames the body itself), the module's hidden list and `*_hide_header` dropped unless
 *     `*_pass_header` names them; Content-Length kept; each kept one is also
 *     `$upstream_http_NAME`;
 *   - body: streamed. With `*_buffering on` it is read ahead of the client, into memory and
 *     then a temp file (response-buffer.ts), so a slow client does not hold the application
 *     server; with `*_buffering off` each chunk is passed on as it comes.
 */
import type { PassSettings } from '../config/index.js';
import type { HeaderPair, RequestContext } from '../request-context.js';
import type { PassResponse } from './module.js';
import type { CancelSignal } from '../../upstream/types.js';
import { bufferedBody, type BodyEnd } from './response-buffer.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-connection']);
/** Memory for a response the client has not taken yet, whatever `*_buffers` says (8 x 4k):
 *  a temp file only for what exceeds it, since a file costs more in Node than in nginx. */
const MIN_MEMORY = 1024 * 1024;
/** nginx's `*_max_temp_file_size` default. */
const DEFAULT_MAX_TEMP_FILE = 1024 * 1024 * 1024;

/** `upstream_http_NAME` per lower-case header name: the same few names come in every response. */
const variableNames = new Map<string, string>();
const MAX_VARIABLE_NAMES = 1000;

function variableName(lower: string): string {
  let name = variableNames.get(lower);
  if (name === undefined) {
    name = `upstream_http_${lower.replaceAll('-', '_')}`;
    // Bounded: a peer sending made-up header names must not grow it for ever.
    if (variableNames.size < MAX_VARIABLE_NAMES) variableNames.set(lower, name);
  }
  return name;
}

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
    ctx.variables.set(variableName(lower), value);
    if (HOP_BY_HOP.has(lower)) continue;
    if ((hidden.includes(lower) || hide?.has(lower) === true) && pass?.has(lower) !== true) continue;
    out.push([name, value]);
  }
  return out;
}


/** The body as the connection writes it, following it to its end. `signal` (the client went
 *  away) cancels the upstream body, and the writer sees an error, never a complete body. */
export function passedBody(body: AsyncIterable<Buffer> & { cancel(): void }, settings: PassSettings, onEnd: BodyEnd, signal: CancelSignal): AsyncIterable<Buffer> {
  const stop = (): void => body.cancel();
  if (signal.aborted) stop();
  else signal.addEventListener('abort', stop, { once: true });
  const cut = (): void => {
    if (signal.aborted) throw new Error('the client closed the connection');
  };
  if (!settings.buffering) return counted(body, onEnd, cut);
  return bufferedBody(body, {
    memoryLimit: Math.max(MIN_MEMORY, settings.buffers.number * settings.buffers.size + settings.bufferSize),
    fileLimit: settings.maxTempFileSize ?? DEFAULT_MAX_TEMP_FILE,
    tempPath: settings.tempPath,
  }, onEnd, cut);
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

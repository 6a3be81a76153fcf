/**
 * The `*_pass` content handler (ngx_http_upstream.c): the location's module turns the request
 * into what it sends, the balancer picks the servers, and this file runs the attempts and hands
 * the answer to the connection.
 *
 *   read the body (buffered: memory, then client_body_temp_path; or streamed)
 *   module.prepare()                               CGI vars / HTTP head, once
 *   group.begin() ──▶ next() ──▶ client.request() ──▶ response head
 *        ▲              │ null: "no live upstreams" → 502    │ error/timeout/http_5xx...
 *        └──────────────┴──── *_next_upstream allows ◀───────┘  else 502 / 504 / the response
 *   headers filtered, body streamed (read ahead with *_buffering on), $upstream_* set
 *
 * One handler per configuration generation, for the four modules; clients are cached per
 * module, group, peer and client settings, and closed when the generation retires.
 */
import type { LocationConf, LogLevel, NginxConfig, PassSettings, PerLocation } from '../config/index.js';
import { ErrorLogWriter } from '../log/index.js';
import { RequestBodyError, type ContentHandler, type ContentResult, type ErrorLog, type ModuleEnv, type OutgoingResponse, type RequestContext } from '../request-context.js';
import { UpstreamError } from '../../upstream/index.js';
import type { CancelSignal } from '../../upstream/types.js';
import { phaseAction } from '../../upstream/errors.js';
import type { PassBody, PassClient, PassModule, PassResponse } from './module.js';
import type { UpstreamGroup, UpstreamPeer } from './types.js';
import { allowedTries, classifyError, classifyStatus, shouldRetry, type Failure, type RetryPolicy } from './next-upstream.js';
import { UpstreamState } from './upstream-state.js';
import { passedBody, passedHeaders } from './response.js';
import { resolveTarget } from './target.js';
import { upgradeTakeover } from './upgrade.js';

/** Clients kept per generation before the oldest is closed (addresses from variables add up). */
const MAX_CLIENTS = 1024;
const BODYLESS = new Set([204, 304]);

export interface PassHandlerOptions {
  readonly modules: readonly PassModule[];
  /** The generation's upstream groups (src/web/upstream/balancer), by PassTarget.upstream. */
  readonly groups: ReadonlyMap<string, UpstreamGroup>;
}

export interface PassHandler extends ContentHandler {
  close(): Promise<void>;
}

export function createPassHandler(_config: NginxConfig, env: ModuleEnv, options: PassHandlerOptions): PassHandler {
  return new Pass(env, options);
}

class Pass implements PassHandler {
  readonly name = 'upstream';
  private readonly clients = new Map<string, PassClient>();
  /** The same clients by settings object and peer: spares building and hashing the string key
   *  on every request. Emptied when a client is evicted, so it never hands out a closed one. */
  private byPeer = new WeakMap<PassSettings, Map<UpstreamPeer, PassClient>>();
  /** The generation retired: its error log is closed, so clients closing late log nothing. */
  private closed = false;

  constructor(
    private readonly env: ModuleEnv,
    private readonly options: PassHandlerOptions,
  ) {}

  claims(_location: LocationConf | null, loc: PerLocation): boolean {
    return this.moduleFor(loc) !== null;
  }

  async close(): Promise<void> {
    this.closed = true;
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.allSettled(clients.map((client) => client.close()));
  }

  private moduleFor(loc: PerLocation): PassModule | null {
    for (const module of this.options.modules) if (module.settings(loc).pass !== null) return module;
    return null;
  }

  async handle(ctx: RequestContext): Promise<ContentResult> {
    const module = this.moduleFor(ctx.loc);
    if (module === null) return { kind: 'status', status: 500 };
    const settings = module.settings(ctx.loc);
    const target = settings.pass!;
    const resolved = resolveTarget(target, target.hasVariables ? ctx.modules.variables.expand(ctx, target.url) : target.url, this.options.groups);
    if ('error' in resolved) {
      ctx.log('error', resolved.error);
      return { kind: 'status', status: 500 };
    }
    const group = resolved.group;

    let body: PassBody;
    try {
      body = await this.readBody(ctx, module, settings);
    } catch (error) {
      if (error instanceof RequestBodyError) {
        if (error.status === 500) ctx.log('crit', error.message);
        return { kind: 'status', status: error.status };
      }
      ctx.log('crit', `reading the request body failed: ${describe(error)}`);
      return { kind: 'status', status: 500 };
    }

    let prepared;
    try {
      prepared = module.prepare(ctx, settings, body);
    } catch (error) {
      ctx.log('error', error instanceof UpstreamError ? error.message : `preparing the upstream request failed: ${describe(error)}`);
      return { kind: 'status', status: 500 };
    }
    return this.attempts(ctx, module, settings, group, target.scheme, prepared, body);
  }

  /** The body to send: read whole first (request buffering), or streamed as it arrives. */
  private async readBody(ctx: RequestContext, module: PassModule, settings: PassSettings): Promise<PassBody> {
    const reader = ctx.body;
    if (!reader.present || !settings.passRequestBody) return { kind: 'none' };
    const lengthNeeded = reader.chunked && (module.needsBodyLength === true || ('httpVersion' in settings && settings.httpVersion === '1.0'));
    if (!settings.requestBuffering && !lengthNeeded) {
      return { kind: 'stream', chunks: reader.stream(), length: reader.chunked ? -1 : reader.contentLength };
    }
    const s = ctx.loc.settings;
    return reader.read({
      bufferSize: s.clientBodyBufferSize,
      tempPath: s.clientBodyTempPath,
      inFileOnly: s.clientBodyInFileOnly,
      onDone: (cleanup) => ctx.onDone(cleanup),
    });
  }

  private async attempts(
    ctx: RequestContext,
    module: PassModule,
    settings: PassSettings,
    group: UpstreamGroup,
    scheme: string,
    prepared: ReturnType<PassModule['prepare']>,
    body: PassBody,
  ): Promise<ContentResult> {
    const balancer = group.conf.balancer;
    const selection = group.begin({
      remoteAddr: ctx.connection.remoteAddr,
      hashKey: balancer.method === 'hash' ? ctx.modules.variables.expand(ctx, balancer.key) : '',
    });
    const policy: RetryPolicy = {
      conditions: settings.nextUpstream,
      tries: allowedTries(selection.tries, settings.nextUpstreamTries),
      timeoutMs: settings.nextUpstreamTimeoutMs,
      method: ctx.method,
      streamedBody: body.kind === 'stream',
    };
    const state = new UpstreamState(ctx);
    // The client going away (nginx's check_broken_connection, or the connection dropping) stops
    // what is in flight; a request that ends normally has nothing in flight left.
    const signal = (settings.ignoreClientAbort ? undefined : ctx.clientGone) ?? doneSignal(ctx);
    const started = performance.now();

    for (let attempt = 1; ; attempt++) {
      const peer = selection.next();
      if (peer === null) {
        const index = state.begin(group.conf.name);
        state.end(index, 502);
        this.logUpstream(ctx, 'error', 'no live upstreams', 'connecting to upstream', `${scheme}://${group.conf.name}`);
        return { kind: 'status', status: 502 };
      }
      const index = state.begin(peer.name);
      let response: PassResponse;
      try {
        response = await this.client(module, settings, group, peer).request(prepared, body, signal, () => state.connected(index));
      } catch (error) {
        if (signal.aborted) {
          selection.done(peer, 'released');
          state.end(index, 499);
          const phase = error instanceof UpstreamError ? phaseAction(error.phase) : 'connecting to upstream';
          this.logUpstream(ctx, 'info', 'client prematurely closed connection, so upstream connection is closed too', phase, error instanceof UpstreamError ? error.peer : peer.name);
          return { kind: 'status', status: 499 };
        }
        const verdict = this.failed(ctx, error);
        selection.done(peer, verdict.failure?.outcome ?? 'released');
        state.end(index, verdict.status);
        if (verdict.failure !== null && shouldRetry(policy, verdict.failure, attempt, performance.now() - started)) continue;
        return { kind: 'status', status: verdict.status };
      }
      state.header(index, response.status);

      const failure = classifyStatus(response.status);
      if (failure !== null && shouldRetry(policy, failure, attempt, performance.now() - started)) {
        response.body.cancel();
        selection.done(peer, failure.outcome);
        state.end(index, response.status);
        continue;
      }
      // The peer stays counted (least_conn, max_conns) until its response is read, as nginx frees
      // it when the request is finalized.
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        selection.done(peer, 'ok');
      };
      // A body never read (the connection closed before the response was written) still ends.
      ctx.onDone(release);
      return this.respond(ctx, module, settings, response, state, index, signal, release);
    }
  }

  /** The final status of a failed attempt and, when `*_next_upstream` may apply, its failure. */
  private failed(ctx: RequestContext, error: unknown): { status: number; failure: Failure | null } {
    if (!(error instanceof UpstreamError)) {
      ctx.log('alert', `upstream request failed: ${describe(error)}`);
      return { status: 502, failure: null };
    }
    if (error.code === 'ERR_UPSTREAM_INVALID_REQUEST') {
      ctx.log('error', error.message);
      return { status: 500, failure: null };
    }
    if (error.code === 'ERR_UPSTREAM_REQUEST_BODY') {
      // The client's body stopped (request buffering off): the client's fault, not the peer's.
      const cause = error.cause;
      if (cause instanceof RequestBodyError) return { status: cause.status, failure: null };
      ctx.log('error', error.message);
      return { status: 502, failure: null };
    }
    this.logUpstreamError(ctx, error);
    return { status: classifyError(error).status, failure: classifyError(error) };
  }

  private respond(
    ctx: RequestContext,
    module: PassModule,
    settings: PassSettings,
    response: PassResponse,
    state: UpstreamState,
    index: number,
    signal: CancelSignal,
    release: () => void,
  ): ContentResult {
    const status = response.status;
    if (status === 101 && response.upgrade !== undefined) {
      release();
      state.end(index, status);
      return upgradeTakeover(ctx, response, passedHeaders(ctx, response, settings, module.hiddenHeaders));
    }
    const redirect = accelRedirect(response, settings);
    if (redirect !== null) {
      // ngx_http_upstream_process_headers: the peer's body is dropped and the request goes on
      // at the URI (or named location) it names, as a GET unless it is a HEAD.
      response.body.cancel();
      release();
      state.end(index, status);
      if (ctx.method !== 'HEAD') ctx.method = 'GET';
      if (redirect.startsWith('@')) return { kind: 'namedLocation', name: redirect };
      const question = redirect.indexOf('?');
      return question < 0
        ? { kind: 'internalRedirect', uri: redirect, args: '' }
        : { kind: 'internalRedirect', uri: redirect.slice(0, question), args: redirect.slice(question + 1) };
    }
    if (settings.interceptErrors && status >= 300 && ctx.loc.settings.errorPages.some((page) => page.status === status)) {
      response.body.cancel();
      release();
      state.end(index, status);
      return { kind: 'status', status };
    }
    const headers = passedHeaders(ctx, response, settings, module.hiddenHeaders);
    const upstreamBody = response.body;
    if (ctx.method !== 'HEAD' && status >= 200 && !BODYLESS.has(status) && !signal.aborted) {
      // The whole body came with the head (the usual small answer): written as one Buffer, with
      // no stream, read-ahead or per-chunk promise; the peer is done with now, as nginx frees it
      // once the response is read (*_buffering on or off: the bytes are all here either way).
      const whole = upstreamBody.takeWhole();
      if (whole !== null) {
        release();
        state.end(index, null, whole.length);
        return { kind: 'response', response: { status, headers, body: { kind: 'buffer', data: whole } } };
      }
    }
    ctx.onDone(() => upstreamBody.cancel());
    const onEnd = (bytes: number, error: unknown): void => {
      release();
      state.end(index, null, bytes);
      if (error instanceof UpstreamError && error.code !== 'ERR_UPSTREAM_ABORTED') this.logUpstreamError(ctx, error);
    };
    let outgoing: OutgoingResponse;
    if (ctx.method === 'HEAD' || BODYLESS.has(status) || status < 200) {
      // Nothing to send, but the peer's answer is read out (a FastCGI connection goes back to its pool).
      void drain(upstreamBody, onEnd);
      outgoing = { status, headers, body: { kind: 'none' } };
    } else {
      outgoing = { status, headers, body: { kind: 'stream', chunks: passedBody(upstreamBody, settings, onEnd, signal) } };
    }
    return { kind: 'response', response: outgoing };
  }

  private client(module: PassModule, settings: PassSettings, group: UpstreamGroup, peer: UpstreamPeer): PassClient {
    // A settings object belongs to one module, and a peer to one group: (settings, peer) names
    // the same client as the string key below. Only the generation's own groups: a `*_pass` with
    // variables may make a group (and peers) per request, which must not pile up here.
    if (this.options.groups.get(group.conf.name) !== group) return this.clientByKey(module, settings, group, peer);
    let peers = this.byPeer.get(settings);
    const known = peers?.get(peer);
    if (known !== undefined) return known;
    const client = this.clientByKey(module, settings, group, peer);
    if (peers === undefined) this.byPeer.set(settings, (peers = new Map()));
    peers.set(peer, client);
    return client;
  }

  private clientByKey(module: PassModule, settings: PassSettings, group: UpstreamGroup, peer: UpstreamPeer): PassClient {
    const variant =
      module.clientVariant?.(settings, group.conf) ?? `${settings.connectTimeoutMs}/${settings.sendTimeoutMs}/${settings.readTimeoutMs}/${settings.bufferSize}`;
    const key = `${module.name}\0${group.conf.name}\0${peer.name}\0${variant}`;
    let client = this.clients.get(key);
    if (client === undefined) {
      if (this.clients.size >= MAX_CLIENTS) {
        const [oldestKey, oldest] = this.clients.entries().next().value as [string, PassClient];
        this.clients.delete(oldestKey);
        this.byPeer = new WeakMap();
        void oldest.close();
      }
      const errorLog = this.env.errorLog;
      client = module.createClient(peer, settings, group.conf, (level, message) => {
        if (!this.closed) errorLog.log(level, message);
      });
      this.clients.set(key, client);
    }
    return client;
  }

  /** nginx's line for a failed attempt: what happened, the action, the request, the peer. */
  private logUpstreamError(ctx: RequestContext, error: UpstreamError): void {
    const action = phaseAction(error.phase);
    const suffix = ` while ${action}, upstream: "${error.peer}"`;
    const what = error.message.endsWith(suffix) ? error.message.slice(0, -suffix.length) : error.message;
    this.logUpstream(ctx, 'error', what, action, error.peer);
  }

  private logUpstream(ctx: RequestContext, level: LogLevel, message: string, action: string, upstream: string): void {
    const log: ErrorLog = ctx.modules.errorLog;
    if (log instanceof ErrorLogWriter) log.log(level, message, ctx, { action, upstream });
    else log.log(level, `${message} while ${action}, upstream: "${upstream}"`, ctx);
  }
}

/** For a context without `clientGone`: aborted when the request ends. */
function doneSignal(ctx: RequestContext): CancelSignal {
  const controller = new AbortController();
  ctx.onDone(() => controller.abort());
  return controller.signal;
}

/** X-Accel-Redirect's target, unless `*_ignore_headers X-Accel-Redirect`. */
function accelRedirect(response: PassResponse, settings: PassSettings): string | null {
  if (settings.ignoreHeaders.some((name) => name.toLowerCase() === 'x-accel-redirect')) return null;
  const list = response.headers;
  for (let i = 0; i + 1 < list.length; i += 2) {
    if (list[i]!.toLowerCase() !== 'x-accel-redirect') continue;
    const target = list[i + 1]!;
    return target.startsWith('/') || target.startsWith('@') ? target : null;
  }
  return null;
}

async function drain(body: AsyncIterable<Buffer>, onEnd: (bytes: number, error: unknown) => void): Promise<void> {
  let bytes = 0;
  try {
    for await (const chunk of body) bytes += chunk.length;
    onEnd(bytes, null);
  } catch (error) {
    onEnd(bytes, error);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * nginx's phase engine for one request (ngx_http_core_run_phases and the checkers in
 * src/http/ngx_http_core_module.c), in nginx's order:
 *
 *   SERVER_REWRITE   the server's rewrite script (return, rewrite, set, if)
 *   FIND_CONFIG      the location for $uri; `internal`; limit_except; client_max_body_size (413);
 *                    the automatic 301 to "name/"
 *   REWRITE          the location's rewrite script
 *   POST_REWRITE     $uri changed by rewrite: back to FIND_CONFIG (at most 10 times, then 500)
 *   PREACCESS        limit_req, limit_conn (modules)
 *   ACCESS           allow / deny
 *   PRECONTENT       try_files      ┐ for files, the static module does both
 *   CONTENT          the location's handler (*_pass, stub_status), else static files
 *
 * Any phase may finalize the request with a status: error_page then applies (an internal
 * redirect to a URI, which starts over at SERVER_REWRITE; a named location, which starts at
 * REWRITE; or a redirect), else nginx's default page. Internal redirects (error_page, index,
 * try_files fallbacks) and location re-lookups share nginx's budget of 10 URI changes.
 *
 * The pipeline produces the response; the connection applies the header filters and sends it.
 */
import type { LocationConf, PerLocation } from '../config/index.js';
import type { LocationMatcher } from '../match/index.js';
import type { ContentResult, HeaderPair, OutgoingResponse, RequestContext } from '../request-context.js';
import { contentTypeFor, errorResponse, extenOf, type StaticContext } from '../static/index.js';
import { MAX_URI_CHANGES, type RequestState } from '../server/request.js';
import { CLOSE_STATUS, runScript, useCaptures, type ScriptOutcome } from './rewrite.js';
import { accessPhase } from './access.js';
import { serveStaticContent, tryFilesBeforeHandler } from './static-content.js';

/** What the request ends in. */
export type Final =
  | { readonly kind: 'response'; readonly response: OutgoingResponse }
  /** Close the connection without an answer (444, 408, 499). */
  | { readonly kind: 'close' }
  | Extract<ContentResult, { kind: 'takeover' }>;

/** What the pipeline needs besides the request. */
export interface PipelineEnv {
  /** The location matcher of a server. */
  matcher(server: RequestState['server']): LocationMatcher<LocationConf>;
  /** The static module's per-worker state (file cache). */
  readonly files: StaticContext;
  /** What error pages and the Server header name: `tsgi/0.1.0`. */
  readonly serverVersion: string;
}

const enum Phase {
  ServerRewrite,
  FindConfig,
  Rewrite,
  Access,
  Content,
}

type Step = { readonly phase: Phase } | Final;

const isFinal = (step: Step): step is Final => 'kind' in step;

/** Statuses nginx finalizes by closing the connection without a response. */
const CLOSING_STATUSES: ReadonlySet<number> = new Set([CLOSE_STATUS, 408, 499]);
/** ngx_http_special_response_handler: these end keep-alive. */
const NO_KEEPALIVE_STATUSES: ReadonlySet<number> = new Set([400, 413, 414, 495, 496, 497, 500, 501]);
/** error_page targets answered as a redirect keep these codes; any other becomes 302. */
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Runs the phases for `r` and returns the response to send. */
export async function runPipeline(r: RequestState, env: PipelineEnv): Promise<Final> {
  let step: Step = { phase: Phase.ServerRewrite };
  while (!isFinal(step)) {
    try {
      // Most phases of most requests finish without waiting (no script, an answer from the file
      // cache): awaiting only real promises spares a promise and a microtask per phase.
      const next = runPhase(r, env, step.phase);
      step = next instanceof Promise ? await next : next;
    } catch (error) {
      r.log('alert', `request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      step = finalize(r, env, 500);
    }
  }
  return step;
}

const TO_FIND_CONFIG: Step = Object.freeze({ phase: Phase.FindConfig });
const TO_ACCESS: Step = Object.freeze({ phase: Phase.Access });

function runPhase(r: RequestState, env: PipelineEnv, phase: Phase): Step | Promise<Step> {
  switch (phase) {
    case Phase.ServerRewrite: {
      r.location = null;
      r.loc = r.server.loc;
      // An empty script has nothing to do: no need to run it.
      if (r.server.loc.settings.rewrite.length === 0) return TO_FIND_CONFIG;
      return serverRewrite(r, env);
    }
    case Phase.FindConfig:
      return findConfig(r, env);
    case Phase.Rewrite:
      // nginx skips the location rewrite phase when no location matched (the server's script ran already).
      if (r.location === null || r.loc.settings.rewrite.length === 0) return TO_ACCESS;
      return locationRewrite(r, env);
    case Phase.Access:
      return preaccess(r, env, 0);
    case Phase.Content:
      return content(r, env);
  }
}

async function serverRewrite(r: RequestState, env: PipelineEnv): Promise<Step> {
  const outcome = await runScript(r, r.server.loc.settings.rewrite, scriptHost(r));
  if (outcome.kind !== 'done') return scriptEnd(r, env, outcome);
  return TO_FIND_CONFIG;
}

async function locationRewrite(r: RequestState, env: PipelineEnv): Promise<Step> {
  // The script of the settings in force: a limit_except block has its own (usually none).
  const outcome = await runScript(r, r.loc.settings.rewrite, scriptHost(r));
  if (outcome.kind !== 'done') return scriptEnd(r, env, outcome);
  if (!outcome.uriChanged) return TO_ACCESS;
  // POST_REWRITE.
  if (++r.redirects > MAX_URI_CHANGES) {
    r.log('error', `rewrite or internal redirection cycle while processing "${r.uri}"`);
    return finalize(r, env, 500);
  }
  return TO_FIND_CONFIG;
}

/** PREACCESS from handler `from` on (waiting only for a handler that has to), then ACCESS. */
function preaccess(r: RequestState, env: PipelineEnv, from: number): Step | Promise<Step> {
  const handlers = r.modules.preaccess;
  for (let i = from; i < handlers.length; i++) {
    const result = handlers[i]!.run(r);
    if (result instanceof Promise) {
      return result.then((settled) => (settled.kind === 'status' ? finalize(r, env, settled.status) : preaccess(r, env, i + 1)));
    }
    if (result.kind === 'status') return finalize(r, env, result.status);
  }
  const access = accessPhase(r);
  if (access.kind === 'status') return finalize(r, env, access.status);
  return { phase: Phase.Content };
}

function scriptHost(r: RequestState): { useSettings(loc: PerLocation): void } {
  return {
    useSettings: (loc) => {
      r.loc = loc;
    },
  };
}

/** A rewrite script that stopped the request. */
function scriptEnd(r: RequestState, env: PipelineEnv, outcome: Exclude<ScriptOutcome, { kind: 'done' }>): Step {
  switch (outcome.kind) {
    case 'close':
      return { kind: 'close' };
    case 'status':
      return finalize(r, env, outcome.status);
    case 'redirect':
      return finalize(r, env, outcome.status, outcome.location === '' ? [] : [['Location', outcome.location]]);
    case 'text':
      return { kind: 'response', response: textResponse(r, outcome.status, outcome.text) };
  }
}

/** ngx_http_send_response: `return CODE TEXT` with the URI's content type. */
function textResponse(r: RequestContext, status: number, text: string): OutgoingResponse {
  // nginx answers 204 with the headers only, and sets no type for it.
  if (status === 204) return { status, headers: [], body: { kind: 'none' } };
  const s = r.loc.settings;
  const data = Buffer.from(text, 'latin1');
  return {
    status,
    headers: [
      ['Content-Type', contentTypeFor(r.exten, s.types, s.defaultType)],
      ['Content-Length', String(data.length)],
    ],
    body: r.method === 'HEAD' || data.length === 0 ? { kind: 'none' } : { kind: 'buffer', data },
  };
}

/** FIND_CONFIG: ngx_http_core_find_config_phase and ngx_http_update_location_config. */
function findConfig(r: RequestState, env: PipelineEnv): Step {
  const match = env.matcher(r.server).match(r.uri);
  r.location = match === null ? null : match.location.id;
  if (match !== null && match.captures.groups.length > 0) useCaptures(r, match.captures);
  useLocation(r, r.location ?? null, r.location ?? r.server.loc);
  if (!r.internal && r.loc.settings.internal) return finalize(r, env, 404);
  const max = r.loc.settings.clientMaxBodySize;
  const length = r.body.contentLength;
  if (length > 0 && max !== 0 && length > max) {
    r.log('error', `client intended to send too large body: ${length} bytes`);
    return finalize(r, env, 413);
  }
  if (match !== null && match.autoRedirect && r.location !== null) {
    const target = r.args === '' ? r.location.name : `${r.location.name}?${r.args}`;
    return finalize(r, env, 301, [['Location', target]]);
  }
  return { phase: Phase.Rewrite };
}

/** ngx_http_update_location_config: limit_except and the keep-alive limits of the location. */
function useLocation(r: RequestState, location: LocationConf | null, loc: PerLocation): void {
  let settings = loc;
  if (location !== null && location.limitExcept !== null) {
    const allowed = location.limitExcept.methods;
    const method = r.method === 'HEAD' && allowed.includes('GET') ? 'GET' : r.method;
    if (!allowed.includes(method)) settings = location.limitExcept.loc;
  }
  r.loc = settings;
  if (r.keepAlive) {
    const s = settings.settings;
    if (s.keepaliveTimeoutMs === 0) r.keepAlive = false;
    else if (r.connection.requests >= s.keepaliveRequests) r.keepAlive = false;
    else if (Date.now() - r.connection.acceptedMs > s.keepaliveTimeMs) r.keepAlive = false;
  }
}

/** CONTENT (with PRECONTENT): the location's handler, or the static module. */
async function content(r: RequestState, env: PipelineEnv): Promise<Step> {
  const handler = r.modules.content.find((candidate) => candidate.claims(r.location, r.loc));
  let result: ContentResult;
  if (handler === undefined) result = await serveStaticContent(r, env.files);
  else result = (await tryFilesBeforeHandler(r, env.files)) ?? (await handler.handle(r));
  switch (result.kind) {
    case 'response':
      return { kind: 'response', response: result.response };
    case 'status':
      return finalize(r, env, result.status, result.headers ?? []);
    case 'internalRedirect':
      return internalRedirect(r, env, result.uri, result.args);
    case 'namedLocation':
      return namedLocation(r, env, result.name);
    case 'takeover':
      return result;
  }
}

/** ngx_http_internal_redirect: a new $uri, from SERVER_REWRITE on. */
function internalRedirect(r: RequestState, env: PipelineEnv, uri: string, args: string): Step {
  if (++r.redirects > MAX_URI_CHANGES) {
    r.log('error', `rewrite or internal redirection cycle while internally redirecting to "${uri}"`);
    return finalize(r, env, 500);
  }
  r.uri = uri;
  r.args = args;
  r.exten = extenOf(uri);
  r.internal = true;
  // ngx_http_internal_redirect, then ngx_http_handler: the client's target no longer applies,
  // and the new location's proxy_pass URI part does again.
  r.validUnparsedUri = false;
  r.validLocation = true;
  return { phase: Phase.ServerRewrite };
}

/** ngx_http_named_location: the named location's settings, from REWRITE on, $uri unchanged. */
function namedLocation(r: RequestState, env: PipelineEnv, name: string): Step {
  if (++r.redirects > MAX_URI_CHANGES) {
    r.log('error', `rewrite or internal redirection cycle while redirect to named location "${name}"`);
    return finalize(r, env, 500);
  }
  const found = env.matcher(r.server).findNamed(name);
  if (found === null) {
    r.log('error', `could not find named location "${name}"`);
    return finalize(r, env, 500);
  }
  r.location = found.id;
  r.internal = true;
  useLocation(r, found.id, found.id);
  return { phase: Phase.Rewrite };
}

/**
 * ngx_http_finalize_request with a status: close for 444/408/499, else the special response
 * (error_page, or nginx's default page). `headers` survive into the page (Location...).
 */
export function finalize(r: RequestState, env: PipelineEnv, status: number, headers: readonly HeaderPair[] = []): Step {
  if (CLOSING_STATUSES.has(status)) return { kind: 'close' };
  if (NO_KEEPALIVE_STATUSES.has(status)) r.keepAlive = false;
  const settings = r.loc.settings;
  if (!r.errorPageUsed && settings.errorPages.length > 0 && r.redirects <= MAX_URI_CHANGES) {
    if (!settings.recursiveErrorPages) r.errorPageUsed = true;
    const page = settings.errorPages.find((entry) => entry.status === status);
    if (page !== undefined) {
      r.errStatus = page.overwrite ?? status;
      const target = r.modules.variables.expand(r, page.uri);
      if (target.startsWith('/')) {
        let uri = target;
        let args = page.args ?? '';
        if (page.uri.includes('$')) {
          const question = target.indexOf('?');
          uri = question < 0 ? target : target.slice(0, question);
          args = question < 0 ? '' : target.slice(question + 1);
        }
        if (r.method !== 'HEAD') r.method = 'GET';
        return internalRedirect(r, env, uri, args);
      }
      if (target.startsWith('@')) return namedLocation(r, env, target);
      const redirect = page.overwrite !== null && REDIRECT_STATUSES.has(page.overwrite) ? page.overwrite : 302;
      r.errStatus = 0;
      return { kind: 'response', response: defaultPage(r, env, redirect, [['Location', target]]) };
    }
  }
  // The page answers for itself: an earlier error_page's status no longer applies.
  r.errStatus = 0;
  return { kind: 'response', response: defaultPage(r, env, status, headers) };
}

/** nginx's page for `status` (ngx_http_send_special_response), sent with the status nginx uses. */
function defaultPage(r: RequestState, env: PipelineEnv, status: number, headers: readonly HeaderPair[]): OutgoingResponse {
  const s = r.loc.settings;
  const page = errorResponse(status, {
    serverTokens: s.serverTokens,
    serverVersion: env.serverVersion,
    msiePadding: s.msiePadding,
    userAgent: r.headers.get('user-agent'),
    httpVersion: r.head.httpVersion,
    charset: s.charset,
    method: r.method,
    headers,
  });
  return { status: page.status, headers: [...page.headers], body: page.body };
}

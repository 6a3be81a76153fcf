/**
 * The rewrite module's script (ngx_http_rewrite_module.c, ngx_http_script.c): `return`,
 * `rewrite`, `set`, `break` and `if`, run in the order written, in the SERVER_REWRITE phase (the
 * server's statements) and the REWRITE phase (the location's).
 *
 *   statement                          effect
 *   return 404;                        finalize with 404 (error_page applies)
 *   return 200 "text";                 answer the text (Content-Type from the URI's extension)
 *   return 301 /new;  return URL;      redirect (302 for a bare URL); the page is nginx's
 *   return 444;                        close the connection without an answer
 *   rewrite RE R;                      $uri = R when RE matches; the script goes on, and the
 *                                      location is looked up again at the end (in a location)
 *   rewrite RE R last;                 stop here; look the location up again
 *   rewrite RE R break;                stop here; stay in this location
 *   rewrite RE R redirect|permanent;   302 / 301 to R (also when R starts with http://,
 *                                      https:// or $scheme)
 *   R with '?'                         the query becomes what follows, plus '&' and the old
 *                                      $args unless R ends with '?'
 *   break;                             stop; the location is not looked up again
 *   if (...) { ... }                   run the block when the condition holds; in a location
 *                                      the block's settings replace the location's
 *   set $v value;                      assign a variable
 *
 * Captures of the last regex that matched (rewrite or if) become $1..$9 for what follows.
 */
import { stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { compileRegex, execRegex, type Captures, type CompiledRegex } from '../match/index.js';
import type { IfCondition, PerLocation, RewriteStep } from '../config/index.js';
import type { RequestContext } from '../request-context.js';
import { extenOf } from '../static/index.js';

/** How a script ended. */
export type ScriptOutcome =
  /** Ran to its end (or hit `break`): go on with the request. `uriChanged` asks for a new location lookup. */
  | { readonly kind: 'done'; readonly uriChanged: boolean }
  /** `return CODE` without text: finalize with the status (error_page applies). */
  | { readonly kind: 'status'; readonly status: number }
  /** `return CODE TEXT` (not a redirect code): answer the text with that status. */
  | { readonly kind: 'text'; readonly status: number; readonly text: string }
  /** A redirect: `return 30x URL`, `return URL`, rewrite to a URL or with redirect/permanent ('' : no Location). */
  | { readonly kind: 'redirect'; readonly status: number; readonly location: string }
  /** `return 444`: close the connection. */
  | { readonly kind: 'close' };

/** The codes `return CODE URL` treats as redirects (ngx_http_rewrite_return). */
const REDIRECT_CODES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** nginx's NGX_HTTP_CLOSE: finalize by closing the connection. */
export const CLOSE_STATUS = 444;

/** Regexes of the scripts, compiled once per pattern. */
const regexCache = new Map<string, CompiledRegex>();
const REGEX_CACHE_LIMIT = 4096;

function regexFor(pattern: string, caseless: boolean): CompiledRegex {
  const key = (caseless ? 'i:' : 's:') + pattern;
  let regex = regexCache.get(key);
  if (regex === undefined) {
    regex = compileRegex(pattern, { caseless });
    if (regexCache.size < REGEX_CACHE_LIMIT) regexCache.set(key, regex);
  }
  return regex;
}

function isAbsoluteTarget(text: string): boolean {
  return text.startsWith('http://') || text.startsWith('https://') || text.startsWith('$scheme');
}

/**
 * ngx_http_regex_exec: the captures of a regex that matched become $1..$9, and its named groups
 * become variables of the request ($name), as nginx sets them at match time.
 */
export function useCaptures(ctx: RequestContext, captures: Captures): void {
  ctx.captures = captures;
  for (const [name, value] of Object.entries(captures.named)) ctx.variables.set(name.toLowerCase(), value);
}

/** Test hooks for `if (-f ...)`: the file system, replaceable in tests. */
async function fileTest(test: 'f' | 'd' | 'e' | 'x', path: string): Promise<boolean> {
  try {
    const info = await stat(Buffer.from(path, 'latin1'));
    switch (test) {
      case 'f':
        return info.isFile();
      case 'd':
        return info.isDirectory();
      case 'e':
        return true;
      case 'x':
        return (info.mode & (constants.S_IXUSR | constants.S_IXGRP | constants.S_IXOTH)) !== 0;
    }
  } catch {
    return false;
  }
}

/** An `if` condition (ngx_http_script_if_code and the codes before it). */
async function holds(ctx: RequestContext, condition: IfCondition): Promise<boolean> {
  const variables = ctx.modules.variables;
  switch (condition.kind) {
    case 'variable': {
      const value = variables.get(ctx, condition.variable);
      return value !== null && value !== '' && value !== '0';
    }
    case 'compare': {
      const value = variables.get(ctx, condition.variable) ?? '';
      const equal = value === variables.expand(ctx, condition.value);
      return condition.negate ? !equal : equal;
    }
    case 'regex': {
      const value = variables.get(ctx, condition.variable) ?? '';
      const captures = execRegex(regexFor(condition.pattern, condition.caseless), value);
      if (captures !== null && !condition.negate) useCaptures(ctx, captures);
      return condition.negate ? captures === null : captures !== null;
    }
    case 'file': {
      const found = await fileTest(condition.test, variables.expand(ctx, condition.path));
      return condition.negate ? !found : found;
    }
  }
}

/** Splits a rewrite result at its first '?' into $uri and $args, as nginx's args code does. */
function applyRewriteTarget(ctx: RequestContext, target: string): void {
  // A replacement ending in '?' keeps none of the old $args; the '?' itself goes.
  const keepOld = !target.endsWith('?');
  const text = keepOld ? target : target.slice(0, -1);
  const question = text.indexOf('?');
  if (question < 0) {
    ctx.uri = text;
    if (!keepOld) ctx.args = '';
  } else {
    const own = text.slice(question + 1);
    ctx.uri = text.slice(0, question);
    ctx.args = keepOld && ctx.args !== '' ? `${own}&${ctx.args}` : own;
  }
  ctx.exten = extenOf(ctx.uri);
}

/** The Location of a rewrite redirect: the old $args follow unless the replacement has a '?'. */
function redirectTarget(ctx: RequestContext, target: string): string {
  if (target.endsWith('?')) return target.slice(0, -1);
  if (ctx.args === '') return target;
  return target + (target.includes('?') ? '&' : '?') + ctx.args;
}

export interface ScriptHost {
  /** Called when an `if` in a location matches: its settings take over (nginx's r->loc_conf). */
  useSettings(loc: PerLocation): void;
}

/**
 * Runs `steps` for the request. The script's effects on $uri/$args/captures/variables land on
 * `ctx`; the outcome says what the pipeline does next.
 */
export async function runScript(ctx: RequestContext, steps: readonly RewriteStep[], host: ScriptHost): Promise<ScriptOutcome> {
  const state = { uriChanged: false };
  const outcome = await runSteps(ctx, steps, host, state);
  return outcome ?? { kind: 'done', uriChanged: state.uriChanged };
}

/** null: the steps ran out (the caller goes on); an outcome: the script stops. */
async function runSteps(ctx: RequestContext, steps: readonly RewriteStep[], host: ScriptHost, state: { uriChanged: boolean }): Promise<ScriptOutcome | null> {
  const variables = ctx.modules.variables;
  for (const step of steps) {
    switch (step.op) {
      case 'return': {
        if (step.status === CLOSE_STATUS) return { kind: 'close' };
        if (REDIRECT_CODES.has(step.status)) {
          // Without a URL nginx still sends the redirect page, only without a Location.
          return { kind: 'redirect', status: step.status, location: step.text === null ? '' : variables.expand(ctx, step.text) };
        }
        // ngx_http_rewrite_return_code: a status below 400 or any text is answered as is.
        if (step.status < 400 || step.text !== null) {
          return { kind: 'text', status: step.status, text: step.text === null ? '' : variables.expand(ctx, step.text) };
        }
        return { kind: 'status', status: step.status };
      }
      case 'rewrite': {
        const captures = execRegex(regexFor(step.pattern, false), ctx.uri);
        if (captures === null) break;
        useCaptures(ctx, captures);
        const target = variables.expand(ctx, step.replacement);
        if (step.flag === 'redirect' || step.flag === 'permanent' || isAbsoluteTarget(step.replacement)) {
          return { kind: 'redirect', status: step.flag === 'permanent' ? 301 : 302, location: redirectTarget(ctx, target) };
        }
        applyRewriteTarget(ctx, target);
        ctx.internal = true;
        ctx.validUnparsedUri = false;
        if (step.flag === 'break') {
          ctx.validLocation = false;
          state.uriChanged = false;
          return { kind: 'done', uriChanged: false };
        }
        state.uriChanged = true;
        if (step.flag === 'last') return { kind: 'done', uriChanged: true };
        break;
      }
      case 'set': {
        const value = variables.expand(ctx, step.value);
        // $args is r->args itself in nginx: setting it changes the query the request goes on with.
        if (step.variable.toLowerCase() === 'args') {
          ctx.args = value;
          ctx.validUnparsedUri = false;
        }
        else ctx.variables.set(step.variable.toLowerCase(), value);
        break;
      }
      case 'break':
        return { kind: 'done', uriChanged: false };
      case 'if': {
        if (!(await holds(ctx, step.condition))) break;
        if (step.block.loc !== null) host.useSettings(step.block.loc);
        const inner = await runSteps(ctx, step.block.steps, host, state);
        if (inner !== null) return inner;
        break;
      }
    }
  }
  return null;
}

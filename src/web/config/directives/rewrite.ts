/**
 * ngx_http_rewrite_module: `return`, `rewrite`, `set`, `break`, `if`. nginx compiles them, in the
 * order written, into one script per server or location; tsgi keeps that order as a list of
 * `RewriteStep`s (an `if` carries its own list and, in a location, its own settings).
 */
import type { Directive } from '../parser.js';
import { NginxConfigErrorCode } from '../errors.js';
import { newLocLevels, type IfBuilder } from '../builders.js';
import type { IfCondition } from '../types.js';
import { isChangeable } from '../variables.js';
import { checkRegex } from './http-core.js';
import {
  Context,
  FLAG,
  HTTP_SRV_LOC,
  NOARGS,
  ONE_OR_MORE,
  TAKE12,
  TAKE2,
  TAKE23,
  custom,
  fieldOf,
  slot,
  type DirectiveContext,
  type DirectiveSpec,
} from './spec.js';
import { arg, atoi, setFlag } from './setters.js';

/** Where the rewrite directives may be written: server, location and `if` in either. */
const SCRIPT_CONTEXTS = Context.Server | Context.Location | Context.ServerIf | Context.LocationIf;
const REWRITE_SLOT = fieldOf('loc', 'rewrite', [], 'none');

const position = (d: Directive) => ({ file: d.file, line: d.line });

/** A redirect target nginx recognizes without a status (`return https://...`). */
function isRedirectTarget(value: string): boolean {
  return value.startsWith('http://') || value.startsWith('https://') || value.startsWith('$scheme');
}

function applyReturn(d: Directive, cx: DirectiveContext): void {
  const first = arg(d, 0);
  const status = atoi(first);
  let text: string | null;
  let code: number;
  if (status === null) {
    if (d.args.length !== 1 || !isRedirectTarget(first)) throw cx.error(d, `invalid return code "${first}"`);
    code = 302;
    text = first;
  } else {
    if (status > 999) throw cx.error(d, `invalid return code "${first}"`);
    code = status;
    text = d.args[1] ?? null;
  }
  if (text !== null) cx.useVariables(d, text);
  cx.rewriteSteps().push({ op: 'return', status: code, text, position: position(d) });
}

function applyRewrite(d: Directive, cx: DirectiveContext): void {
  const [pattern, replacement, flag] = [arg(d, 0), arg(d, 1), d.args[2]];
  if (replacement.length === 0) throw cx.error(d, 'empty replacement');
  checkRegex(d, cx, pattern, false);
  if (flag !== undefined && flag !== 'last' && flag !== 'break' && flag !== 'redirect' && flag !== 'permanent') {
    throw cx.error(d, `invalid parameter "${flag}"`);
  }
  cx.useVariables(d, replacement);
  cx.rewriteSteps().push({ op: 'rewrite', pattern, replacement, flag: flag ?? null, position: position(d) });
}

function applySet(d: Directive, cx: DirectiveContext): void {
  const [target, value] = [arg(d, 0), arg(d, 1)];
  if (!target.startsWith('$')) throw cx.error(d, `invalid variable name "${target}"`);
  const name = target.slice(1);
  if (!isChangeable(name)) throw cx.error(d, `the duplicate "${name}" variable`, NginxConfigErrorCode.Duplicate);
  cx.defineVariable(name);
  cx.useVariables(d, value);
  cx.rewriteSteps().push({ op: 'set', variable: name, value, position: position(d) });
}

/** `ngx_http_rewrite_if_condition`, message for message. */
function parseCondition(d: Directive, cx: DirectiveContext): IfCondition {
  const value = [...d.args];
  let last = value.length - 1;
  const invalid = (text: string) => cx.error(d, `invalid condition "${text}"`);
  if (value[0]!.length < 1 || !value[0]!.startsWith('(')) throw invalid(value[0]!);
  let cur = 0;
  if (value[0]!.length === 1) cur = 1;
  else value[0] = value[0]!.slice(1);
  if (value[last]!.length < 1 || !value[last]!.endsWith(')')) throw invalid(value[last]!);
  if (value[last]!.length === 1) last -= 1;
  else value[last] = value[last]!.slice(0, -1);
  const p = value[cur] ?? '';
  if (p.length > 1 && p.startsWith('$')) {
    if (cur !== last && cur + 2 !== last) throw invalid(p);
    // The operand is taken whole after `$` (no `${...}` here, unlike in templates).
    const variable = p.slice(1);
    cx.useVariable(d, variable);
    if (cur === last) return { kind: 'variable', variable };
    const op = value[cur + 1]!;
    const operand = value[last]!;
    if (op === '=' || op === '!=') {
      cx.useVariables(d, operand);
      return { kind: 'compare', variable, negate: op === '!=', value: operand };
    }
    if (op === '~' || op === '~*' || op === '!~' || op === '!~*') {
      const caseless = op.endsWith('*');
      checkRegex(d, cx, operand, caseless);
      return { kind: 'regex', variable, negate: op.startsWith('!'), caseless, pattern: operand };
    }
    throw cx.error(d, `unexpected "${op}" in condition`);
  }
  if ((p.length === 2 && p[0] === '-') || (p.length === 3 && p[0] === '!' && p[1] === '-')) {
    if (cur + 1 !== last) throw invalid(p);
    const path = value[last]!;
    cx.useVariables(d, path);
    const test = p[p.length - 1];
    if (test === 'f' || test === 'd' || test === 'e' || test === 'x') return { kind: 'file', test, negate: p.startsWith('!'), path };
    throw invalid(p);
  }
  throw invalid(p);
}

function applyIf(d: Directive, cx: DirectiveContext): void {
  const condition = parseCondition(d, cx);
  const inLocation = cx.context === Context.Location;
  const builder: IfBuilder = { directive: d, levels: newLocLevels(), conf: { steps: [], loc: null } };
  // A server-level `if` has settings of its own in nginx too, but nothing ever reads them.
  (inLocation ? cx.builders.location!.ifs : cx.builders.server!.ifs).push(inLocation ? builder : { ...builder, levels: null });
  cx.rewriteSteps().push({ op: 'if', condition, block: builder.conf, position: position(d) });
  cx.evaluateBlock(d, inLocation ? Context.LocationIf : Context.ServerIf, (frame) => {
    frame.setBuilders({ ifBlock: builder });
    frame.setLevels(builder.levels ?? newLocLevels());
    frame.setRewriteSteps(builder.conf.steps);
  });
}

export const REWRITE_DIRECTIVES: readonly DirectiveSpec[] = [
  custom('return', SCRIPT_CONTEXTS, TAKE12, applyReturn, { help: 'stop and answer with a status, text or redirect', slots: [REWRITE_SLOT] }),
  custom('rewrite', SCRIPT_CONTEXTS, TAKE23, applyRewrite, {
    help: 'change the URI when it matches a regex [last|break|redirect|permanent]',
    slots: [REWRITE_SLOT],
  }),
  custom('set', SCRIPT_CONTEXTS, TAKE2, applySet, { help: 'assign a variable', slots: [REWRITE_SLOT] }),
  custom('break', SCRIPT_CONTEXTS, NOARGS, (d, cx) => void cx.rewriteSteps().push({ op: 'break', position: position(d) }), {
    help: 'stop the rewrite directives of this level',
    slots: [REWRITE_SLOT],
  }),
  custom('if', Context.Server | Context.Location, ONE_OR_MORE, applyIf, {
    block: true,
    help: 'apply the block when the condition holds',
    slots: [REWRITE_SLOT],
  }),
  slot('rewrite_log', HTTP_SRV_LOC | Context.ServerIf | Context.LocationIf, FLAG, 'loc', 'rewriteLog', setFlag, {
    default: false,
    help: 'log rewrites at notice level',
  }),
  slot('uninitialized_variable_warn', HTTP_SRV_LOC | Context.ServerIf | Context.LocationIf, FLAG, 'loc', 'uninitializedVariableWarn', setFlag, {
    default: true,
    help: 'warn about uninitialized variables',
  }),
];

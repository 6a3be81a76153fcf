/**
 * The evaluator: walks the parsed tree in nginx's reading order and applies each directive through
 * the table, as `ngx_conf_handler` does:
 *
 *     unknown name                    -> unknown directive "x"
 *     known, not in this context      -> "x" directive is not allowed here
 *     `{` where `;` is due, or back   -> directive "x" is not terminated by ";" / has no opening "{"
 *     wrong argument count            -> invalid number of arguments in "x" directive
 *     otherwise                       -> the directive's handler (its own checks and messages)
 *
 * A syntax error the parser attached to the tree is thrown when the walk reaches it, so errors come
 * out in the order nginx reports them.
 */
import { NginxConfigError, NginxConfigErrorCode, makeWarning, type ConfigOrigin, type ConfigWarning } from './errors.js';
import type { ConfigFile, Directive } from './parser.js';
import { fullName } from './parser.js';
import {
  Context,
  DIRECTIVES_BY_NAME,
  argsAccepted,
  type BlockFrame,
  type DefaultsEnv,
  type DirectiveContext,
  type Level,
  type LevelSettings,
  type Raw,
} from './directives.js';
import type { Builders } from './builders.js';
import { finishHttp } from './finish.js';
import type { HttpConf, RewriteStep } from './types.js';
import { templateVariables } from './variables.js';

type Levels = { [L in Level]?: Raw<LevelSettings[L]> };

/** A position in the tree: the context and what its directives write into. */
interface Frame {
  readonly context: number;
  levels: Levels;
  builders: Builders;
  rewriteSteps: RewriteStep[] | null;
  statementHandler: ((d: Directive, cx: DirectiveContext) => void) | null;
}

/** Where an error about `d` is reported: its file and its `;`/`{` line, or the command line. */
export function originOf(d: Directive): ConfigOrigin {
  return d.file === null ? { kind: 'command-line' } : { kind: 'file', file: d.file, line: d.line };
}

/** The state of one evaluation: what has been built, and the warnings so far. */
export class Evaluation {
  readonly warnings: ConfigWarning[] = [];
  readonly builders: Builders = { main: {}, events: null, http: null, server: null, location: null, upstream: null, ifBlock: null };
  http: HttpConf | null = null;

  constructor(readonly env: DefaultsEnv) {}

  /** Applies `-g` text (if any) then the main file, in the main context. */
  run(root: ConfigFile, params: ConfigFile | null): void {
    const frame: Frame = {
      context: Context.Main,
      levels: { main: this.builders.main },
      builders: this.builders,
      rewriteSteps: null,
      statementHandler: null,
    };
    if (params) this.file(params, frame);
    this.file(root, frame);
  }

  private file(file: ConfigFile, frame: Frame): void {
    this.directives(file.directives, frame);
    if (file.error) throw file.error;
  }

  directives(directives: readonly Directive[], frame: Frame): void {
    for (const d of directives) this.apply(d, frame);
  }

  private apply(d: Directive, frame: Frame): void {
    const cx = new FrameContext(this, frame);
    if (frame.statementHandler) {
      if (d.block) throw new NginxConfigError(NginxConfigErrorCode.Syntax, 'unexpected "{"', originOf(d));
      frame.statementHandler(d, cx);
      return;
    }
    const specs = DIRECTIVES_BY_NAME.get(d.name);
    const at = originOf(d);
    if (!specs) throw new NginxConfigError(NginxConfigErrorCode.UnknownDirective, `unknown directive "${d.name}"`, at);
    const spec = specs.find((s) => s.contexts & frame.context);
    if (!spec) throw new NginxConfigError(NginxConfigErrorCode.NotAllowedHere, `"${d.name}" directive is not allowed here`, at);
    if (!spec.block && d.block) {
      throw new NginxConfigError(NginxConfigErrorCode.Arguments, `directive "${d.name}" is not terminated by ";"`, at);
    }
    if (spec.block && !d.block) throw new NginxConfigError(NginxConfigErrorCode.Arguments, `directive "${d.name}" has no opening "{"`, at);
    if (!argsAccepted(spec.args, d.args.length)) {
      throw new NginxConfigError(NginxConfigErrorCode.Arguments, `invalid number of arguments in "${d.name}" directive`, at);
    }
    spec.apply(d, cx);
  }

  /** A block's directives in a new position prepared by `enter`. */
  block(d: Directive, parent: Frame, context: number, enter: (frame: BlockFrame) => void): void {
    const frame: Frame = {
      context,
      levels: { ...parent.levels },
      builders: { ...parent.builders },
      rewriteSteps: parent.rewriteSteps,
      statementHandler: null,
    };
    enter({
      setBuilders: (builders) => Object.assign(frame.builders, builders),
      setLevels: (levels) => Object.assign(frame.levels, levels),
      setRewriteSteps: (steps) => {
        frame.rewriteSteps = steps;
      },
      setStatementHandler: (handler) => {
        frame.statementHandler = handler;
      },
    });
    this.directives(d.block ?? [], frame);
    if (d.blockError) throw d.blockError;
  }

  warn(text: string, origin: ConfigOrigin, nginx: boolean): void {
    this.warnings.push(makeWarning(text, origin, nginx));
  }
}

/** The `DirectiveContext` handlers see: the evaluation, at one frame. */
class FrameContext implements DirectiveContext {
  constructor(
    private readonly evaluation: Evaluation,
    private readonly frame: Frame,
  ) {}

  get env(): DefaultsEnv {
    return this.evaluation.env;
  }

  get context(): number {
    return this.frame.context;
  }

  get builders(): Builders {
    return this.frame.builders;
  }

  raw<L extends Level>(level: L): Raw<LevelSettings[L]> {
    const raw = this.frame.levels[level];
    // The table only lets a directive run where its level exists; reaching this is a table bug.
    if (!raw) throw new Error(`internal: no "${level}" settings in this context`);
    return raw;
  }

  rewriteSteps(): RewriteStep[] {
    if (!this.frame.rewriteSteps) throw new Error('internal: no rewrite script in this context');
    return this.frame.rewriteSteps;
  }

  fullPath(name: string): string {
    return fullName(this.evaluation.env.prefix, name);
  }

  error(d: Directive, text: string, code: NginxConfigErrorCode = NginxConfigErrorCode.InvalidValue): NginxConfigError {
    return new NginxConfigError(code, text, originOf(d));
  }

  directiveError(d: Directive, text: string, code?: NginxConfigErrorCode): NginxConfigError {
    const kind = code ?? (text === 'is duplicate' ? NginxConfigErrorCode.Duplicate : NginxConfigErrorCode.InvalidValue);
    return new NginxConfigError(kind, `"${d.name}" directive ${text}`, originOf(d));
  }

  warn(d: Directive, text: string, nginx = true): void {
    this.evaluation.warn(text, originOf(d), nginx);
  }

  evaluateBlock(d: Directive, context: number, enter: (frame: BlockFrame) => void): void {
    this.evaluation.block(d, this.frame, context, enter);
  }

  evaluateIncluded(d: Directive): void {
    if (d.includeError) throw d.includeError;
    for (const file of d.included ?? []) {
      this.evaluation.directives(file.directives, this.frame);
      if (file.error) throw file.error;
    }
  }

  finishHttp(d: Directive): void {
    const http = this.frame.builders.http;
    if (!http) throw new Error('internal: finishHttp outside http');
    this.evaluation.http = finishHttp(http, d, this.evaluation.env, this.evaluation.warnings);
  }

  useVariables(d: Directive, value: string): void {
    if (!value.includes('$')) return;
    const parsed = templateVariables(value);
    if ('error' in parsed) throw this.error(d, parsed.error);
    for (const name of parsed.names) this.useVariable(d, name);
  }

  useVariable(d: Directive, name: string): void {
    const used = this.frame.builders.http?.usedVariables;
    if (used && !used.has(name.toLowerCase())) used.set(name.toLowerCase(), d);
  }

  defineVariable(name: string): void {
    this.frame.builders.http?.definedVariables.add(name.toLowerCase());
  }
}

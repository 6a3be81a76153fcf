/**
 * The three expansion passes uWSGI runs once every config file is read ("How uWSGI parses config
 * files"; `uwsgi_apply_config_pass` in core/utils.c, called from core/uwsgi.c), over every value
 * in order, command line included:
 *   1. `$(NAME)`: the environment variable NAME; `$(NAME:-default)` when unset or empty,
 *      `$(NAME-default)` when unset;
 *   2. `@(path)`: the content of a file, without its final newline;
 *   3. `%(name)`: the FIRST value given for option or placeholder `name` anywhere in the assembled
 *      configuration (`uwsgi_get_exported_opt` in core/config.c returns the first match). With
 *      spaces it is uWSGI's pipeline math: `%(processes * 2)`, `%(port ++)` (core/config.c,
 *      `uwsgi_manage_placeholder`).
 * A `$(...)` or `%(...)` that resolves to nothing is left as written, as uWSGI leaves it: log
 * formats (`%(method)`) and shell commands (`$(date)`) rely on that. After each replacement the
 * value is scanned again from the start, so a placeholder's value may hold placeholders; a value
 * that keeps growing (`a = %(a)x`) is stopped with an error instead of looping forever as uWSGI does.
 */

/** Replacements allowed in one value before it counts as a loop. */
const MAX_EXPANSIONS = 64;

export interface Token {
  readonly start: number;
  readonly end: number;
  readonly inner: string;
}

/** The first `X(...)` at or after `from`, with nested parentheses balanced, or undefined. */
export function findToken(value: string, symbol: string, from: number): Token | undefined {
  for (let start = value.indexOf(`${symbol}(`, from); start >= 0; start = value.indexOf(`${symbol}(`, start + 1)) {
    let depth = 0;
    for (let i = start + 2; i < value.length; i++) {
      if (value[i] === '(') depth++;
      else if (value[i] === ')') {
        if (depth === 0) return { start, end: i + 1, inner: value.slice(start + 2, i) };
        depth--;
      }
    }
    return undefined;
  }
  return undefined;
}

/** Expands every `symbol(...)` in a value with `resolve`; undefined leaves the token as written. */
export function expandTokens(value: string, symbol: string, resolve: (inner: string) => string | undefined, onRunaway: (token: string) => Error): string {
  let out = value;
  let expansions = 0;
  let from = 0;
  for (let token = findToken(out, symbol, from); token; token = findToken(out, symbol, from)) {
    const replacement = resolve(token.inner);
    if (replacement === undefined) {
      from = token.end;
      continue;
    }
    if (++expansions > MAX_EXPANSIONS) throw onRunaway(out.slice(token.start, token.end));
    out = out.slice(0, token.start) + replacement + out.slice(token.end);
    from = 0;
  }
  return out;
}

/** `$(NAME)`, `$(NAME:-default)`, `$(NAME-default)`. */
export function environmentValue(expression: string, env: NodeJS.ProcessEnv): string | undefined {
  const fallback = /^([^:-]*)(:-|-)(.*)$/s.exec(expression);
  if (!fallback) return env[expression];
  const [, name, operator, otherwise] = fallback;
  const value = env[name!];
  if (operator === ':-') return value === undefined || value === '' ? otherwise : value;
  return value === undefined ? otherwise : value;
}

/** C's strtoll as uWSGI uses it: the leading integer, or 0. */
function leadingInteger(text: string): number {
  const match = /^\s*[+-]?\d+/.exec(text);
  return match ? Number(match[0]) : 0;
}

type MathState = 'concat' | '+' | '-' | '*' | '/';

/**
 * `%(name)`, or uWSGI's pipeline: tokens separated by spaces, applied left to right, with no
 * precedence: `%(foo + bar + 3 * 2)` is ((foo + bar) + 3) * 2; two items with no operator between
 * them are concatenated; `++` and `--` add or take one. An unknown name in a pipeline counts as
 * empty, as in uWSGI.
 */
export function evaluateReference(expression: string, lookup: (name: string) => string | undefined): string | undefined {
  if (!expression.includes(' ')) return lookup(expression);
  let current: string | undefined;
  let state: MathState = 'concat';
  for (const token of expression.split(' ').filter(Boolean)) {
    if (token === '+' || token === '-' || token === '*' || token === '/') {
      state = token;
      continue;
    }
    if (token === '++' || token === '--') {
      if (current !== undefined) current = String(leadingInteger(current) + (token === '++' ? 1 : -1));
      state = 'concat';
      continue;
    }
    const value = /^\d+$/.test(token) ? token : (lookup(token) ?? '');
    const left = leadingInteger(current ?? '');
    const right = leadingInteger(value);
    switch (state) {
      case 'concat':
        current = (current ?? '') + value;
        break;
      case '+':
        current = String(left + right);
        break;
      case '-':
        current = String(left - right);
        break;
      case '*':
        current = String(left * right);
        break;
      case '/':
        current = String(right === 0 ? 0 : Math.trunc(left / right));
        break;
    }
    state = 'concat';
  }
  return current;
}

/**
 * nginx's shared typed setters (`ngx_conf_set_*_slot` in src/core/ngx_conf_file.c) and the value
 * parsers under them (`ngx_atoi`, `ngx_parse_size`, `ngx_parse_offset`, `ngx_parse_time` in
 * src/core/ngx_parse.c and ngx_string.c), with nginx's exact acceptance rules and messages:
 *
 *     set_flag     on|off, any case           invalid value "x" in "gzip" directive, it must be "on" or "off"
 *     set_num      digits                     "keepalive_requests" directive invalid number
 *     set_size     N, Nk, Nm                  "client_body_buffer_size" directive invalid value
 *     set_off      N, Nk, Nm, Ng              "client_max_body_size" directive invalid value
 *     set_msec     1h30m, 500ms, 10 (= 10s)   "keepalive_timeout" directive invalid value
 *     set_sec      1y2M3w4d5h6m7s             "open_file_cache_valid" directive invalid value
 *     set_enum     one keyword, any case      invalid value "x"
 *     set_bitmask  keywords, accumulating     invalid value "x"   ([warn] duplicate value "x")
 *     set_bufs     NUMBER SIZE                "gzip_buffers" directive invalid value
 *     set_path     PATH [L1 [L2 [L3]]]        "client_body_temp_path" directive invalid value
 *
 * nginx does its arithmetic in 64-bit integers and rejects overflow; BigInt reproduces that.
 */
import type { Directive } from '../parser.js';
import type { DirectiveContext } from './spec.js';
import type { BufferCount } from '../types.js';

/** NGX_MAX_INT_T_VALUE (= NGX_MAX_SIZE_T_VALUE = NGX_MAX_OFF_T_VALUE) on 64-bit Linux. */
const MAX_INT = (1n << 63n) - 1n;
const DIGITS = /^[0-9]+$/;

/** `ngx_atoi`: decimal digits only, no sign, no overflow; null when invalid. */
export function atoi(text: string): number | null {
  const big = atoiBig(text);
  return big === null ? null : Number(big);
}

function atoiBig(text: string): bigint | null {
  if (!DIGITS.test(text)) return null;
  const value = BigInt(text);
  return value > MAX_INT ? null : value;
}

const KILO = 1024n;
const MEGA = 1024n * 1024n;
const GIGA = 1024n * 1024n * 1024n;

function scaled(text: string, units: Record<string, bigint>): number | null {
  if (text.length === 0) return null;
  const unit = units[text[text.length - 1]!];
  const scale = unit ?? 1n;
  const digits = unit ? text.slice(0, -1) : text;
  const value = atoiBig(digits);
  if (value === null || value > MAX_INT / scale) return null;
  return Number(value * scale);
}

/** `ngx_parse_size`: bytes with an optional k/K or m/M suffix. */
export function parseSize(text: string): number | null {
  return scaled(text, { k: KILO, K: KILO, m: MEGA, M: MEGA });
}

/** `ngx_parse_offset`: like sizes, plus g/G. */
export function parseOffset(text: string): number | null {
  return scaled(text, { k: KILO, K: KILO, m: MEGA, M: MEGA, g: GIGA, G: GIGA });
}

/** The steps of `ngx_parse_time`, largest first; each unit may appear once, in this order. */
const enum TimeStep {
  Start,
  Year,
  Month,
  Week,
  Day,
  Hour,
  Minute,
  Second,
  Millisecond,
  Last,
}

const SECONDS: Record<string, [TimeStep, bigint]> = {
  y: [TimeStep.Year, 60n * 60n * 24n * 365n],
  M: [TimeStep.Month, 60n * 60n * 24n * 30n],
  w: [TimeStep.Week, 60n * 60n * 24n * 7n],
  d: [TimeStep.Day, 60n * 60n * 24n],
  h: [TimeStep.Hour, 60n * 60n],
  m: [TimeStep.Minute, 60n],
  s: [TimeStep.Second, 1n],
};

/**
 * `ngx_parse_time`: `1y 2M 3w 4d 5h 6m 7s 8ms` in that order, any subset, blanks allowed
 * between parts; a bare trailing number counts in the base unit. Milliseconds (`ms`) and units
 * above days... are refused where nginx refuses them: years and months in millisecond values,
 * `ms` in second values. Returns milliseconds (`isSec` false) or seconds (`isSec` true).
 */
export function parseTime(text: string, isSec: boolean): number | null {
  let valid = false;
  let value = 0n;
  let total = 0n;
  let step = isSec ? TimeStep.Start : TimeStep.Month;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch >= '0' && ch <= '9') {
      value = value * 10n + BigInt(ch.charCodeAt(0) - ZERO_CODE);
      if (value > MAX_INT) return null;
      valid = true;
      i += 1;
      continue;
    }
    i += 1;
    let scale: bigint;
    let max: bigint;
    if (ch === 'm' && text[i] === 's') {
      if (isSec || step >= TimeStep.Millisecond) return null;
      i += 1;
      step = TimeStep.Millisecond;
      scale = 1n;
      max = MAX_INT;
    } else if (ch === ' ') {
      if (step >= TimeStep.Second) return null;
      step = TimeStep.Last;
      scale = 1n;
      max = MAX_INT;
    } else {
      const unit = SECONDS[ch];
      if (!unit) return null;
      const [unitStep, seconds] = unit;
      // `y` must come first; every other unit only after larger ones.
      if (unitStep === TimeStep.Year ? step > TimeStep.Start : step >= unitStep) return null;
      step = unitStep;
      scale = seconds;
      max = MAX_INT / seconds;
    }
    if (step !== TimeStep.Millisecond && !isSec) {
      scale *= 1000n;
      max /= 1000n;
    }
    if (value > max) return null;
    value *= scale;
    if (total > MAX_INT - value) return null;
    total += value;
    value = 0n;
    while (i < text.length && text[i] === ' ') i += 1;
  }
  if (!valid) return null;
  if (!isSec) {
    if (value > MAX_INT / 1000n) return null;
    value *= 1000n;
  }
  if (total > MAX_INT - value) return null;
  return Number(total + value);
}

const ZERO_CODE = '0'.charCodeAt(0);

/** The first argument (every slot setter takes its value from it). */
export function arg(d: Directive, index = 0): string {
  const value = d.args[index];
  if (value === undefined) throw new Error(`internal: "${d.name}" has no argument ${index + 1}`);
  return value;
}

// ---- the setters: (directive, context) => value, throwing nginx's message ----------------------

/** `ngx_conf_set_flag_slot`. */
export function flagValue(d: Directive, cx: DirectiveContext, value = arg(d)): boolean {
  const lower = value.toLowerCase();
  if (lower === 'on') return true;
  if (lower === 'off') return false;
  throw cx.error(d, `invalid value "${value}" in "${d.name}" directive, it must be "on" or "off"`);
}

export const setFlag = (d: Directive, cx: DirectiveContext): boolean => flagValue(d, cx);

/** `ngx_conf_set_num_slot`. */
export function setNum(d: Directive, cx: DirectiveContext): number {
  const value = atoi(arg(d));
  if (value === null) throw cx.directiveError(d, 'invalid number');
  return value;
}

/** `ngx_conf_set_num_slot` with `ngx_conf_check_num_bounds`. */
export function setNumBetween(low: number, high: number | null) {
  return (d: Directive, cx: DirectiveContext): number => {
    const value = setNum(d, cx);
    if (high === null) {
      if (value < low) throw cx.error(d, `value must be equal to or greater than ${low}`);
    } else if (value < low || value > high) {
      throw cx.error(d, `value must be between ${low} and ${high}`);
    }
    return value;
  };
}

/** `ngx_conf_set_size_slot`. */
export function setSize(d: Directive, cx: DirectiveContext): number {
  const value = parseSize(arg(d));
  if (value === null) throw cx.directiveError(d, 'invalid value');
  return value;
}

/** `ngx_conf_set_off_slot`. */
export function setOffset(d: Directive, cx: DirectiveContext): number {
  const value = parseOffset(arg(d));
  if (value === null) throw cx.directiveError(d, 'invalid value');
  return value;
}

/** `ngx_conf_set_msec_slot`: milliseconds. */
export function setMsec(d: Directive, cx: DirectiveContext): number {
  const value = parseTime(arg(d), false);
  if (value === null) throw cx.directiveError(d, 'invalid value');
  return value;
}

/** `ngx_conf_set_sec_slot`: seconds. */
export function setSec(d: Directive, cx: DirectiveContext): number {
  const value = parseTime(arg(d), true);
  if (value === null) throw cx.directiveError(d, 'invalid value');
  return value;
}

/** `ngx_conf_set_str_slot`. */
export function setStr(d: Directive): string {
  return arg(d);
}

/** `ngx_conf_set_str_slot` for fields that may be null. */
export function setNullableStr(d: Directive): string | null {
  return arg(d);
}

/** `ngx_conf_set_enum_slot`: one of `values`, matched case-insensitively; returns the table's spelling. */
export function setEnum<const V extends string>(values: readonly V[]) {
  return (d: Directive, cx: DirectiveContext): V => {
    const value = arg(d);
    const found = values.find((v) => v.toLowerCase() === value.toLowerCase());
    if (found === undefined) throw cx.error(d, `invalid value "${value}"`);
    return found;
  };
}

/**
 * `ngx_conf_set_bitmask_slot`: every argument one of `values`; repeated directives add to the set
 * (nginx has no duplicate check here), a repeated value is a `[warn]`.
 */
export function setBitmask<const V extends string>(values: readonly V[]) {
  return (d: Directive, cx: DirectiveContext, previous: readonly string[] | undefined): V[] => {
    const set: V[] = values.filter((v) => previous?.includes(v));
    for (const value of d.args) {
      const found = values.find((v) => v.toLowerCase() === value.toLowerCase());
      if (found === undefined) throw cx.error(d, `invalid value "${value}"`);
      if (set.includes(found)) cx.warn(d, `duplicate value "${value}"`);
      else set.push(found);
    }
    return set;
  };
}

/** `ngx_conf_set_bufs_slot`: `NUMBER SIZE`, both non-zero. */
export function setBufs(d: Directive, cx: DirectiveContext): BufferCount {
  const number = atoi(arg(d, 0));
  if (number === null || number === 0) throw cx.directiveError(d, 'invalid value');
  const size = parseSize(arg(d, 1));
  if (size === null || size === 0) throw cx.directiveError(d, 'invalid value');
  return { number, size };
}

/** `ngx_conf_set_str_array_slot`: each directive adds its argument. */
export function addStr(d: Directive, _cx: DirectiveContext, previous: readonly string[] | undefined): string[] {
  return [...(previous ?? []), arg(d)];
}

/** All the arguments, as a list (a directive whose arguments are one list, like `index`). */
export function allArgs(d: Directive): string[] {
  return [...d.args];
}

/** `ngx_conf_set_keyval_slot`-like: each directive adds its argument list. */
export function addArgs(d: Directive, _cx: DirectiveContext, previous: readonly (readonly string[])[] | undefined): string[][] {
  return [...(previous ?? []).map((a) => [...a]), [...d.args]];
}

/** `ngx_conf_set_path_slot`: a directory (made absolute, trailing `/` dropped) and up to 3 hash levels of 1-2 characters. */
export function setPath(d: Directive, cx: DirectiveContext): { path: string; levels: number[] } {
  let name = arg(d);
  if (name.endsWith('/')) name = name.slice(0, -1);
  const levels: number[] = [];
  let length = 0;
  for (const text of d.args.slice(1)) {
    const level = atoi(text);
    if (level === null || level === 0) throw cx.directiveError(d, 'invalid value');
    levels.push(level);
    length += level + 1;
  }
  // nginx keeps the whole hashed part within 10 characters plus the separators.
  if (length > 10 + levels.length) throw cx.directiveError(d, 'invalid value');
  return { path: cx.fullPath(name), levels };
}

/**
 * `ngx_http_types_slot` (gzip_types, charset_types): MIME types, lower-cased, `*` for any; the
 * module's default is always in the list, so naming it again is nginx's "duplicate MIME type".
 */
export function setTypes(defaultType: string | null) {
  return (d: Directive, cx: DirectiveContext, previous: readonly string[] | undefined): string[] => {
    if (previous !== undefined && previous.includes('*')) throw cx.directiveError(d, 'is duplicate');
    const types = previous ? [...previous] : defaultType ? [defaultType] : [];
    for (const value of d.args) {
      if (value === '*') return ['*'];
      const type = value.toLowerCase();
      if (types.includes(type)) cx.warn(d, `duplicate MIME type "${type}"`);
      else types.push(type);
    }
    return types;
  };
}

/** `ngx_http_set_complex_value_size_slot` (limit_rate): a size, or a template when it has variables. */
export function setSizeOrTemplate(d: Directive, cx: DirectiveContext): number | string {
  const value = arg(d);
  if (value.includes('$')) {
    cx.useVariables(d, value);
    return value;
  }
  const size = parseSize(value);
  if (size === null) throw cx.directiveError(d, 'invalid value');
  return size;
}

/**
 * `expires` (ngx_http_headers_filter_module.c, nginx 1.22): parsing the directive's arguments and
 * the Expires / Cache-Control pair it adds.
 *
 *   expires            Expires                          Cache-Control
 *   epoch              Thu, 01 Jan 1970 00:00:01 GMT    no-cache
 *   max                Thu, 31 Dec 2037 23:55:55 GMT    max-age=315360000
 *   1h                 now + 1h                         max-age=3600
 *   0                  now                              max-age=0
 *   -1                 now - 1s                         no-cache          (negative: no-cache)
 *   modified +1h       mtime + 1h                       max-age=mtime+1h-now, no-cache if < 0
 *   @15h30m            next 15:30 local time            max-age=seconds until then
 *
 * nginx adds them only to responses with status 200, 201, 204, 206, 301, 302, 303, 304, 307 and
 * 308 (see EXPIRES_STATUSES), after the not-modified filter has run and before the range filter:
 * so a 304 and a 206 carry them, and so does a 416, whose status is set after they were added.
 */
import { TsgiError } from '../../errors.js';
import type { Expires, Header } from './types.js';
import { httpDate } from './http-date.js';

export const EXPIRES_OFF: Expires = Object.freeze({ kind: 'off' });

/** Statuses the headers filter treats as "safe" for expires and add_header without `always`. */
export const EXPIRES_STATUSES: ReadonlySet<number> = new Set([200, 201, 204, 206, 301, 302, 303, 304, 307, 308]);

const EPOCH_EXPIRES = 'Thu, 01 Jan 1970 00:00:01 GMT';
const MAX_EXPIRES = 'Thu, 31 Dec 2037 23:55:55 GMT';
/** "10 years" in nginx's comment. */
const MAX_MAX_AGE = 'max-age=315360000';
const SECONDS_PER_DAY = 24 * 60 * 60;

/** An `expires` value nginx refuses, with nginx's message. */
export class ExpiresError extends TsgiError {
  constructor(message: string) {
    super('ERR_EXPIRES', message);
  }
}

/**
 * The arguments of an `expires` directive: `['1h']`, `['modified', '+1h']`, `['@15h']`, `['max']`.
 * Values with variables are the caller's to expand first (nginx then ignores an invalid result).
 */
export function parseExpires(args: readonly string[]): Expires {
  let modified = false;
  let text: string;
  if (args.length === 1) {
    text = args[0]!;
  } else if (args.length === 2) {
    if (args[0] !== 'modified') throw new ExpiresError('invalid value');
    modified = true;
    text = args[1]!;
  } else {
    throw new ExpiresError('invalid number of arguments in "expires" directive');
  }
  if (!modified) {
    if (text === 'epoch') return { kind: 'epoch' };
    if (text === 'max') return { kind: 'max' };
    if (text === 'off') return EXPIRES_OFF;
  }
  let daily = false;
  let minus = false;
  if (text.startsWith('@')) {
    if (modified) throw new ExpiresError('daily time cannot be used with "modified" parameter');
    daily = true;
    text = text.slice(1);
  } else if (text.startsWith('+')) {
    text = text.slice(1);
  } else if (text.startsWith('-')) {
    minus = true;
    text = text.slice(1);
  }
  let seconds = parseTime(text, true);
  if (seconds === null) throw new ExpiresError('invalid value');
  if (daily && seconds > SECONDS_PER_DAY) throw new ExpiresError('daily time value must be less than 24 hours');
  if (minus) seconds = -seconds;
  if (daily) return { kind: 'daily', seconds };
  return modified ? { kind: 'modified', seconds } : { kind: 'access', seconds };
}

/** ngx_parse_time's units, from the largest; each may appear once, in this order. */
const TIME_UNITS: ReadonlyArray<readonly [unit: string, seconds: number]> = [
  ['y', 365 * SECONDS_PER_DAY],
  ['M', 30 * SECONDS_PER_DAY],
  ['w', 7 * SECONDS_PER_DAY],
  ['d', SECONDS_PER_DAY],
  ['h', 60 * 60],
  ['m', 60],
  ['s', 1],
];
const MAX_INT = Number.MAX_SAFE_INTEGER;

/**
 * ngx_parse_time: "1h 30m", "90s", "1y2M"... in seconds (`inSeconds`) or milliseconds (a bare
 * number is then milliseconds too, and "ms" is allowed). null where nginx returns NGX_ERROR.
 */
export function parseTime(text: string, inSeconds: boolean): number | null {
  let step = inSeconds ? -1 : 1; // milliseconds values cannot use years (nginx starts at months)
  let value = 0;
  let total = 0;
  let valid = false;
  let i = 0;
  const n = text.length;
  const MS_STEP = TIME_UNITS.length;
  const LAST_STEP = MS_STEP + 1;
  while (i < n) {
    const c = text[i]!;
    if (c >= '0' && c <= '9') {
      value = value * 10 + Number(c);
      if (value > MAX_INT) return null;
      valid = true;
      i++;
      continue;
    }
    i++;
    let scale: number;
    let next: number;
    if (c === 'm' && text[i] === 's') {
      if (inSeconds || step >= MS_STEP) return null;
      i++;
      next = MS_STEP;
      scale = 1;
    } else if (c === ' ') {
      if (step >= TIME_UNITS.length - 1) return null;
      next = LAST_STEP;
      scale = 1;
    } else {
      next = TIME_UNITS.findIndex(([unit]) => unit === c);
      if (next < 0 || step >= next) return null;
      scale = TIME_UNITS[next]![1];
    }
    step = next;
    if (!inSeconds && next !== MS_STEP) scale *= 1000;
    value *= scale;
    if (value > MAX_INT || total > MAX_INT - value) return null;
    total += value;
    value = 0;
    while (i < n && text[i] === ' ') i++;
  }
  if (!valid) return null;
  if (!inSeconds) value *= 1000;
  if (total > MAX_INT - value) return null;
  return total + value;
}

/**
 * The Expires and Cache-Control headers for a response, or none for `expires off`.
 * `now` and `mtime` are in seconds; mtime is null when the response has no Last-Modified
 * (autoindex), in which case `modified` counts from now, as in nginx.
 */
export function expiresHeaders(expires: Expires, now: number, mtime: number | null): Header[] {
  switch (expires.kind) {
    case 'off':
      return [];
    case 'epoch':
      return [['Expires', EPOCH_EXPIRES], ['Cache-Control', 'no-cache']];
    case 'max':
      return [['Expires', MAX_EXPIRES], ['Cache-Control', MAX_MAX_AGE]];
    default:
      break;
  }
  const seconds = expires.seconds;
  if (seconds === 0 && expires.kind !== 'daily') return [['Expires', httpDate(now)], ['Cache-Control', 'max-age=0']];
  let at: number;
  let maxAge: number;
  if (expires.kind === 'daily') {
    at = nextTimeOfDay(seconds, now);
    maxAge = at - now;
  } else if (expires.kind === 'access' || mtime === null) {
    at = now + seconds;
    maxAge = seconds;
  } else {
    at = mtime + seconds;
    maxAge = at - now;
  }
  const cacheControl = seconds < 0 || maxAge < 0 ? 'no-cache' : `max-age=${maxAge}`;
  return [['Expires', httpDate(at)], ['Cache-Control', cacheControl]];
}

/** True when the headers change with the clock (everything but off, epoch and max). */
export function expiresDependsOnTime(expires: Expires): boolean {
  return expires.kind !== 'off' && expires.kind !== 'epoch' && expires.kind !== 'max';
}

/**
 * ngx_next_time: the next time today (or else tomorrow) that the local clock shows `secondsOfDay`
 * after midnight; mktime normalises the day overflow, Date#setDate does the same.
 */
export function nextTimeOfDay(secondsOfDay: number, now: number): number {
  const date = new Date(now * 1000);
  date.setHours(Math.floor(secondsOfDay / 3600), Math.floor((secondsOfDay % 3600) / 60), secondsOfDay % 60, 0);
  let next = Math.floor(date.getTime() / 1000);
  if (next - now > 0) return next;
  date.setDate(date.getDate() + 1);
  next = Math.floor(date.getTime() / 1000);
  return next;
}

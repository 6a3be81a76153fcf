/**
 * HTTP dates as nginx writes and reads them.
 *
 * Writing (ngx_http_time): "Sun, 06 Nov 1994 08:49:37 GMT", which is what Date#toUTCString gives
 * for years 1000-9999.
 *
 * Reading (ngx_parse_http_time, src/core/ngx_parse_time.c): the three formats of RFC 9110 5.6.7,
 * with nginx's leniency and strictness kept because If-Modified-Since and If-Range compare the
 * result for equality:
 *
 *   Sun, 06 Nov 1994 08:49:37 GMT     rfc822; anything after the seconds is ignored ("GMT" too)
 *   Sunday, 06-Nov-94 08:49:37 GMT    rfc850; two-digit years below 70 are 20xx
 *   Sun Nov  6 08:49:37 1994          asctime
 *   06 Nov 1994 08:49:37              no weekday: refused (-1)
 *   Sun, 31 Feb 2000 00:00:00 GMT     refused: day after the month's last; Feb 29 needs a leap year
 *   Sun, 00 Nov 1994 08:49:37 GMT     accepted as Oct 31 (nginx checks only the upper bound)
 */

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const COMMA = 0x2c;
const SPACE = 0x20;
const MINUS = 0x2d;
const COLON = 0x3a;

/** Days between March 1, 1 BC and March 1, 1970, as in nginx's use of Gauss' formula. */
const DAYS_TO_1970_MARCH = 719527;
/** January and February 1970, which the March-based count leaves out. */
const DAYS_JAN_FEB_1970 = 31 + 28;

/** Returned for a date nginx cannot parse (NGX_ERROR). */
export const INVALID_DATE = -1;

/** The HTTP date of a time in seconds since the epoch. */
export function httpDate(seconds: number): string {
  return new Date(seconds * 1000).toUTCString();
}

/**
 * An HTTP date formatter that remembers its last answer: for Expires, Date and Last-Modified the
 * same second is formatted over and over. Instances are per owner, never module-level.
 */
export class HttpDateCache {
  private second = Number.NaN;
  private text = '';

  format(seconds: number): string {
    if (seconds !== this.second) {
      this.second = seconds;
      this.text = httpDate(seconds);
    }
    return this.text;
  }
}

const isDigit = (c: number): boolean => c >= DIGIT_0 && c <= DIGIT_9;
const digit = (s: string, i: number): number => s.charCodeAt(i) - DIGIT_0;
const fourDigits = (s: string, i: number): boolean =>
  isDigit(s.charCodeAt(i)) && isDigit(s.charCodeAt(i + 1)) && isDigit(s.charCodeAt(i + 2)) && isDigit(s.charCodeAt(i + 3));

enum Format {
  None,
  Rfc822,
  Rfc850,
  Isoc,
}

/** Seconds since the epoch, or INVALID_DATE (-1), exactly as ngx_parse_http_time. */
export function parseHttpDate(value: string): number {
  const end = value.length;
  let fmt = Format.None;
  let p = 0;
  // Chars past the end read as NaN, which no comparison below accepts (C reads the NUL there).

  for (; p < end; p++) {
    const c = value.charCodeAt(p);
    if (c === COMMA) break;
    if (c === SPACE) {
      fmt = Format.Isoc;
      break;
    }
  }
  for (p++; p < end; p++) if (value.charCodeAt(p) !== SPACE) break;
  if (end - p < 18) return INVALID_DATE;

  let day = 0;
  let year = 0;
  if (fmt !== Format.Isoc) {
    if (!isDigit(value.charCodeAt(p)) || !isDigit(value.charCodeAt(p + 1))) return INVALID_DATE;
    day = digit(value, p) * 10 + digit(value, p + 1);
    p += 2;
    if (value.charCodeAt(p) === SPACE) {
      if (end - p < 18) return INVALID_DATE;
      fmt = Format.Rfc822;
    } else if (value.charCodeAt(p) === MINUS) {
      fmt = Format.Rfc850;
    } else {
      return INVALID_DATE;
    }
    p++;
  }

  let month: number;
  // nginx looks at as few letters as it needs: "Jxx" with 'a' second is January, and so on.
  switch (value[p]) {
    case 'J':
      month = value[p + 1] === 'a' ? 0 : value[p + 2] === 'n' ? 5 : 6;
      break;
    case 'F':
      month = 1;
      break;
    case 'M':
      month = value[p + 2] === 'r' ? 2 : 4;
      break;
    case 'A':
      month = value[p + 1] === 'p' ? 3 : 7;
      break;
    case 'S':
      month = 8;
      break;
    case 'O':
      month = 9;
      break;
    case 'N':
      month = 10;
      break;
    case 'D':
      month = 11;
      break;
    default:
      return INVALID_DATE;
  }
  p += 3;
  const separator = value.charCodeAt(p);
  if ((fmt === Format.Rfc822 && separator !== SPACE) || (fmt === Format.Rfc850 && separator !== MINUS)) return INVALID_DATE;
  p++;

  if (fmt === Format.Rfc822) {
    if (!fourDigits(value, p)) return INVALID_DATE;
    year = digit(value, p) * 1000 + digit(value, p + 1) * 100 + digit(value, p + 2) * 10 + digit(value, p + 3);
    p += 4;
  } else if (fmt === Format.Rfc850) {
    if (!isDigit(value.charCodeAt(p)) || !isDigit(value.charCodeAt(p + 1))) return INVALID_DATE;
    year = digit(value, p) * 10 + digit(value, p + 1);
    year += year < 70 ? 2000 : 1900;
    p += 2;
  }

  if (fmt === Format.Isoc) {
    if (value.charCodeAt(p) === SPACE) p++;
    if (!isDigit(value.charCodeAt(p))) return INVALID_DATE;
    day = digit(value, p++);
    if (value.charCodeAt(p) !== SPACE) {
      if (!isDigit(value.charCodeAt(p))) return INVALID_DATE;
      day = day * 10 + digit(value, p++);
    }
    if (end - p < 14) return INVALID_DATE;
  }

  if (value.charCodeAt(p++) !== SPACE) return INVALID_DATE;
  if (!isDigit(value.charCodeAt(p)) || !isDigit(value.charCodeAt(p + 1))) return INVALID_DATE;
  const hour = digit(value, p) * 10 + digit(value, p + 1);
  p += 2;
  if (value.charCodeAt(p++) !== COLON) return INVALID_DATE;
  if (!isDigit(value.charCodeAt(p)) || !isDigit(value.charCodeAt(p + 1))) return INVALID_DATE;
  const min = digit(value, p) * 10 + digit(value, p + 1);
  p += 2;
  if (value.charCodeAt(p++) !== COLON) return INVALID_DATE;
  if (!isDigit(value.charCodeAt(p)) || !isDigit(value.charCodeAt(p + 1))) return INVALID_DATE;
  const sec = digit(value, p) * 10 + digit(value, p + 1);

  if (fmt === Format.Isoc) {
    p += 2;
    if (value.charCodeAt(p++) !== SPACE) return INVALID_DATE;
    if (!fourDigits(value, p)) return INVALID_DATE;
    year = digit(value, p) * 1000 + digit(value, p + 1) * 100 + digit(value, p + 2) * 10 + digit(value, p + 3);
  }

  if (hour > 23 || min > 59 || sec > 59) return INVALID_DATE;
  if (day === 29 && month === 1) {
    if (year % 4 !== 0 || (year % 100 === 0 && year % 400 !== 0)) return INVALID_DATE;
  } else if (day > MONTH_DAYS[month]!) {
    return INVALID_DATE;
  }

  // Gauss' formula counts from March: shift the year's start and number months from 1.
  let m = month;
  let y = year;
  if (--m <= 0) {
    m += 12;
    y -= 1;
  }
  const daysInYears = 365 * y + Math.floor(y / 4) - Math.floor(y / 100) + Math.floor(y / 400);
  const daysBeforeMonth = Math.floor((367 * m) / 12) - 30;
  const days = daysInYears + daysBeforeMonth + day - 1 - DAYS_TO_1970_MARCH + DAYS_JAN_FEB_1970;
  return days * 86400 + hour * 3600 + min * 60 + sec;
}

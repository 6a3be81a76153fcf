/**
 * Byte ranges (ngx_http_range_filter_module.c, nginx 1.22). The filter looks at 200 responses of
 * known length that allow ranges (static files; not autoindex), over HTTP/1.0 or later, when
 * `max_ranges` is not 0 (0 also drops Accept-Ranges):
 *
 *   Range                      size 6        answer
 *   (none), "bytes=", "items=0-1"            200, Accept-Ranges: bytes
 *   bytes=0-1                                206, Content-Range: bytes 0-1/6
 *   bytes=-2   bytes=4-                      206 bytes 4-5/6
 *   bytes=2-100                              206 bytes 2-5/6 (end clamped)
 *   bytes=0-0,2-3                            206 multipart/byteranges; boundary=00000000000000000001
 *   bytes=0-4,2-5                            200: the ranges add up to more than the file
 *   bytes=6-  bytes=5-2  bytes=-0  bytes=x   416, Content-Range: bytes * /6 (without the space)
 *   more than max_ranges ranges              200
 *   bytes=0- of an empty file                200
 *
 * Ranges are kept in the order sent, overlaps included. If-Range: a value ending in '"' must equal
 * the ETag exactly, anything else must parse to the Last-Modified date; otherwise the whole file
 * is sent (200). Whitespace around numbers, '-' and ',' is allowed; anything else is a 416.
 */

/** One satisfiable range: bytes [start, end). */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

export type RangeOutcome =
  /** Send the whole representation (200). */
  | { readonly kind: 'full' }
  | { readonly kind: 'ranges'; readonly ranges: readonly ByteRange[] }
  | { readonly kind: 'unsatisfiable' };

const FULL: RangeOutcome = Object.freeze({ kind: 'full' });
const UNSATISFIABLE: RangeOutcome = Object.freeze({ kind: 'unsatisfiable' });

const SPACE = 0x20;
const MINUS = 0x2d;
const COMMA = 0x2c;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const QUOTE = 0x22;
/** nginx stops a number before it overflows off_t: more is a 416. */
const MAX_OFF_T = '9223372036854775807';

/**
 * The Range header against a representation of `size` bytes. `maxRanges` is `max_ranges` (null
 * for unlimited, nginx's default). The header must start with "bytes=" (any case) and be at
 * least 7 bytes long, or it is ignored.
 */
export function parseRange(value: string, size: number, maxRanges: number | null): RangeOutcome {
  if (value.length < 7 || value.slice(0, 6).toLowerCase() !== 'bytes=') return FULL;
  const ranges: ByteRange[] = [];
  let budget = maxRanges ?? Number.MAX_SAFE_INTEGER;
  let total = 0;
  let p = 6;
  for (;;) {
    let start = 0;
    let end = 0;
    let suffix = false;
    let openEnded = false;
    p = skipSpaces(value, p);
    if (byteAt(value, p) !== MINUS) {
      if (!isDigit(byteAt(value, p))) return UNSATISFIABLE;
      const digitsEnd = skipDigits(value, p);
      const n = offsetValue(value, p, digitsEnd);
      if (n === null) return UNSATISFIABLE;
      start = n;
      p = skipSpaces(value, digitsEnd);
      if (byteAt(value, p++) !== MINUS) return UNSATISFIABLE;
      p = skipSpaces(value, p);
      if (byteAt(value, p) === COMMA || byteAt(value, p) === END) {
        end = size;
        openEnded = true;
      }
    } else {
      suffix = true;
      p++;
    }
    if (!openEnded) {
      if (!isDigit(byteAt(value, p))) return UNSATISFIABLE;
      const digitsEnd = skipDigits(value, p);
      const n = offsetValue(value, p, digitsEnd);
      if (n === null) return UNSATISFIABLE;
      end = n;
      p = skipSpaces(value, digitsEnd);
      if (byteAt(value, p) !== COMMA && byteAt(value, p) !== END) return UNSATISFIABLE;
      if (suffix) {
        start = end < size ? size - end : 0;
        end = size - 1;
      }
      end = end >= size ? size : end + 1;
    }
    if (start < end) {
      ranges.push({ start, end });
      total += end - start;
      if (budget-- === 0) return FULL;
    } else if (start === 0) {
      return FULL;
    }
    if (byteAt(value, p++) !== COMMA) break;
  }
  if (ranges.length === 0) return UNSATISFIABLE;
  if (total > size) return FULL;
  return { kind: 'ranges', ranges };
}

/** Past the end reads as NUL, as in the C string nginx scans. */
const END = 0;
const byteAt = (s: string, i: number): number => (i < s.length ? s.charCodeAt(i) : END);
const isDigit = (c: number): boolean => c >= DIGIT_0 && c <= DIGIT_9;

function skipSpaces(s: string, p: number): number {
  while (byteAt(s, p) === SPACE) p++;
  return p;
}

function skipDigits(s: string, p: number): number {
  while (isDigit(byteAt(s, p))) p++;
  return p;
}

/** The number in s[from, to), or null where nginx would overflow off_t. */
function offsetValue(s: string, from: number, to: number): number | null {
  if (to - from < 16) return Number(s.slice(from, to));
  const digits = s.slice(from, to).replace(/^0+(?=\d)/, '');
  if (digits.length > MAX_OFF_T.length || (digits.length === MAX_OFF_T.length && digits > MAX_OFF_T)) return null;
  return Number(digits);
}

/**
 * If-Range: true when the ranges may be honoured. A value ending in '"' (2+ bytes) is an entity
 * tag compared byte for byte with the ETag; anything else is a date compared with Last-Modified.
 */
export function ifRangeAllows(
  ifRange: string,
  etag: string | null,
  lastModified: number | null,
  parseDate: (value: string) => number,
): boolean {
  if (ifRange.length >= 2 && ifRange.charCodeAt(ifRange.length - 1) === QUOTE) return etag !== null && ifRange === etag;
  if (lastModified === null) return false;
  return parseDate(ifRange) === lastModified;
}

/** "bytes 0-1/6" */
export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end - 1}/${size}`;
}

/** nginx's boundary: a counter printed as 20 digits with leading zeros ("%0muA"). */
export function formatBoundary(counter: bigint): string {
  return counter.toString().padStart(20, '0');
}

/**
 * The multipart/byteranges framing around each range: "\r\n--B\r\nContent-Type: T\r\n
 * Content-Range: bytes S-E/N\r\n\r\n" before each part and "\r\n--B--\r\n" at the end. The
 * part's Content-Type line is left out when the response has no type.
 */
export function multipartFraming(boundary: string, contentType: string | null, ranges: readonly ByteRange[], size: number): {
  readonly heads: Buffer[];
  readonly tail: Buffer;
  readonly length: number;
} {
  const typeLine = contentType === null || contentType === '' ? '' : `Content-Type: ${contentType}\r\n`;
  const prefix = `\r\n--${boundary}\r\n${typeLine}Content-Range: bytes `;
  const heads = ranges.map((range) => Buffer.from(`${prefix}${range.start}-${range.end - 1}/${size}\r\n\r\n`, 'latin1'));
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  let length = tail.length;
  for (let i = 0; i < ranges.length; i++) length += heads[i]!.length + ranges[i]!.end - ranges[i]!.start;
  return { heads, tail, length };
}

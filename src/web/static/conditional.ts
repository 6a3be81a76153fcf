/**
 * Validators and conditional requests (ngx_http_set_etag in ngx_http_core_module.c and
 * ngx_http_not_modified_filter_module.c, nginx 1.22).
 *
 * ETag is "hex(mtime)-hex(size)", lower-case, strong. The filter runs on every 200 response of a
 * main request, in this order:
 *
 *   1. If-Unmodified-Since: 412 unless the date parses and is >= Last-Modified. An unparsable date
 *      or a response without Last-Modified (autoindex) gives 412 too.
 *   2. If-Match: 412 unless it is exactly "*" or lists the ETag (strong comparison: W/"x" never
 *      matches). Without an ETag (`etag off`, autoindex) only "*" passes.
 *   3. If-Modified-Since and/or If-None-Match present: 304 unless
 *        - If-Modified-Since is present and "modified": `if_modified_since off`, no Last-Modified,
 *          or a date other than Last-Modified (exact, the default) / before it (before);
 *          an unparsable date is -1, so it is "modified" in both modes;
 *        - or If-None-Match is present and does not match (weak comparison: W/ is ignored on both
 *          sides; "*" matches even without an ETag).
 *
 * A 304 drops Content-Type, Content-Length and Accept-Ranges but keeps Last-Modified and ETag.
 */
import { parseHttpDate } from './http-date.js';
import type { IfModifiedSinceMode, StaticRequestHeaders } from './types.js';

const SPACE = 0x20;
const TAB = 0x09;
const COMMA = 0x2c;

/** The ETag nginx gives a file: `"%xT-%xO"` of mtime (seconds) and size. */
export function fileEtag(mtimeSeconds: number, size: number): string {
  return `"${mtimeSeconds.toString(16)}-${size.toString(16)}"`;
}

export type PreconditionOutcome = 200 | 304 | 412;

/**
 * What the not-modified filter makes of a 200 response. `etag` and `lastModified` (seconds) are
 * the response's validators, null when it has none.
 */
export function evaluatePreconditions(
  headers: StaticRequestHeaders,
  etag: string | null,
  lastModified: number | null,
  ifModifiedSince: IfModifiedSinceMode,
): PreconditionOutcome {
  const { ifUnmodifiedSince, ifMatch, ifModifiedSince: ims, ifNoneMatch } = headers;
  if (ifUnmodifiedSince !== undefined) {
    if (lastModified === null || !(parseHttpDate(ifUnmodifiedSince) >= lastModified)) return 412;
  }
  if (ifMatch !== undefined && !etagMatches(ifMatch, etag, false)) return 412;
  if (ims === undefined && ifNoneMatch === undefined) return 200;
  if (ims !== undefined && isModified(ims, lastModified, ifModifiedSince)) return 200;
  if (ifNoneMatch !== undefined && !etagMatches(ifNoneMatch, etag, true)) return 200;
  return 304;
}

/** ngx_http_test_if_modified: true means "send the full response". */
function isModified(value: string, lastModified: number | null, mode: IfModifiedSinceMode): boolean {
  if (lastModified === null || mode === 'off') return true;
  const ims = parseHttpDate(value);
  if (ims === lastModified) return false;
  return mode === 'exact' || ims < lastModified;
}

/**
 * ngx_http_test_if_match: does the header's list name `etag`? "*" alone always matches. Entries
 * are compared by prefix up to the next ',' (spaces and tabs after the tag are allowed); with
 * `weak`, a leading W/ is ignored on both sides.
 */
export function etagMatches(list: string, etag: string | null, weak: boolean): boolean {
  if (list === '*') return true;
  if (etag === null) return false;
  let tag = etag;
  if (weak && tag.length > 2 && tag.startsWith('W/')) tag = tag.slice(2);
  const end = list.length;
  let start = 0;
  while (start < end) {
    if (weak && end - start > 2 && list.startsWith('W/', start)) {
      start += 2;
    }
    if (tag.length > end - start) return false;
    if (list.startsWith(tag, start)) {
      let p = start + tag.length;
      while (p < end) {
        const c = list.charCodeAt(p);
        if (c !== SPACE && c !== TAB) break;
        p++;
      }
      if (p === end || list.charCodeAt(p) === COMMA) return true;
    }
    // skip to the next entry
    while (start < end && list.charCodeAt(start) !== COMMA) start++;
    while (start < end) {
      const c = list.charCodeAt(start);
      if (c !== SPACE && c !== TAB && c !== COMMA) break;
      start++;
    }
  }
  return false;
}

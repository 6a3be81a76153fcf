/**
 * Byte strings: the matchers work on strings whose every char is one byte (0x00-0xFF), the way
 * nginx works on `u_char *`. `$uri` after %-decoding may hold any byte, including halves of a
 * UTF-8 sequence, and regexes must see those bytes one at a time as PCRE does (nginx compiles
 * without PCRE2_UTF). Node's 'latin1' encoding maps bytes to such strings one to one.
 *
 * Config text (location patterns, server names) arrives as ordinary Unicode strings decoded from a
 * UTF-8 file, so it is turned back into the bytes nginx would have read with `textToBytes`.
 */

/** The UTF-8 bytes of `text` as a byte string. ASCII text comes back unchanged. */
export function textToBytes(text: string): string {
  return isAscii(text) ? text : Buffer.from(text, 'utf8').toString('latin1');
}

/** A byte string decoded as UTF-8, for messages meant for people. */
export function bytesToText(bytes: string): string {
  return isAscii(bytes) ? bytes : Buffer.from(bytes, 'latin1').toString('utf8');
}

/** True when every char fits in one byte, i.e. the string is a valid byte string. */
export function isByteString(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return !/[^\x00-\xff]/.test(s);
}

function isAscii(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return !/[^\x00-\x7f]/.test(s);
}

/**
 * The Host of a request as nginx uses it to pick a server (ngx_http_validate_host,
 * src/http/ngx_http_request.c, nginx 1.22; the rejected bytes were checked one by one against the
 * real nginx):
 *
 *   raw value               host used        raw value        host used
 *   Example.COM             example.com      a..b             400 (empty label)
 *   example.com.            example.com      a/b              400 (path separator)
 *   example.com:8080        example.com      a b, a\tb        400 (SP, CTL, DEL)
 *   example.com:abc         example.com      :80   .   ''     400 (nothing before the port)
 *   [::1]:80                [::1]            .example.com     .example.com (a leading dot is kept)
 *
 * Only A-Z are lower-cased and the port is never checked, exactly as in nginx. Bytes 0x80-0xFF are
 * accepted as they are.
 */

const DOT = 0x2e; // '.'
const COLON = 0x3a; // ':'
const SLASH = 0x2f; // '/', the path separator on Unix
const OPEN_BRACKET = 0x5b; // '['
const CLOSE_BRACKET = 0x5d; // ']'
const SPACE = 0x20;
const DEL = 0x7f;
const UPPER_A = 0x41;
const UPPER_Z = 0x5a;

enum State {
  Usual,
  Literal,
  Rest,
}

/**
 * Validates and normalises a Host value (header or absolute-form authority). Returns the host
 * nginx matches server names against, or null where nginx answers 400 ("client sent invalid host
 * header" / "... in request line").
 */
export function validateHost(raw: string): string | null {
  const n = raw.length;
  let dotAt = -2; // position of the last '.', never adjacent to position 0 at the start
  let hostLength = n;
  let state = State.Usual;
  let upper = false;
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c === DOT) {
      if (dotAt === i - 1) return null;
      dotAt = i;
    } else if (c === COLON) {
      if (state === State.Usual) {
        hostLength = i;
        state = State.Rest;
      }
    } else if (c === OPEN_BRACKET) {
      if (i === 0) state = State.Literal;
    } else if (c === CLOSE_BRACKET) {
      if (state === State.Literal) {
        hostLength = i + 1;
        state = State.Rest;
      }
    } else {
      // A '/' would let `root /sites/$host` walk out of its folder; SP and CTL were refused from
      // nginx 1.21.1 on. NUL is a CTL too.
      if (c === SLASH || c <= SPACE || c === DEL) return null;
      if (c >= UPPER_A && c <= UPPER_Z) upper = true;
    }
  }
  if (dotAt === hostLength - 1) hostLength--;
  if (hostLength <= 0) return null;
  const host = raw.slice(0, hostLength);
  return upper ? asciiLowerCase(host) : host;
}

/** nginx's ngx_strlow: A-Z only, so bytes above 0x7F are left alone. */
export function asciiLowerCase(s: string): string {
  return s.replace(/[A-Z]+/g, (run) => run.toLowerCase());
}

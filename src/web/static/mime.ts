/**
 * MIME types as nginx picks them (ngx_http_set_exten, ngx_http_set_content_type and the `types`
 * block of src/http/ngx_http_core_module.c, nginx 1.22):
 *
 *   $uri                exten      type (with Debian's mime.types)
 *   /a/b.HTML           HTML       text/html       the extension is lower-cased, A-Z only
 *   /a/b.tar.gz         gz         application/octet-stream
 *   /a/.htaccess        (none)     default_type    a dot right after '/' starts no extension
 *   /a.d/b              (none)     default_type    the extension is in the last segment only
 *   /a/b.               ''         default_type
 *
 * Without any `types` block nginx knows three types (ngx_http_core_default_types).
 */
import { asciiLowerCase } from '../match/host.js';
import { TsgiError } from '../../errors.js';

/** Lower-case extension → content type. */
export type MimeTypes = ReadonlyMap<string, string>;

/** nginx's built-in types, used when a configuration has no `types` block at all. */
export const NGINX_DEFAULT_TYPES: MimeTypes = new Map([
  ['html', 'text/html'],
  ['gif', 'image/gif'],
  ['jpg', 'image/jpeg'],
]);

const SLASH = 0x2f; // '/'
const DOT = 0x2e; // '.'
const UPPER_A = 0x41;
const UPPER_Z = 0x5a;

/**
 * nginx's r->exten for a URI set by an internal redirect or try_files (ngx_http_set_exten): what
 * follows the last '.' of the last segment, unless that '.' directly follows a '/'. The scan
 * stops at index 2, so "/.x" and "/x" have none.
 */
export function extenOf(uri: string): string {
  for (let i = uri.length - 1; i > 1; i--) {
    const c = uri.charCodeAt(i);
    if (c === DOT && uri.charCodeAt(i - 1) !== SLASH) return uri.slice(i + 1);
    if (c === SLASH) return '';
  }
  return '';
}

/** The content type for an extension: the types map, lower-casing A-Z only, else default_type. */
export function contentTypeFor(exten: string, types: MimeTypes, defaultType: string): string {
  if (exten.length === 0) return defaultType;
  let key = exten;
  for (let i = 0; i < exten.length; i++) {
    const c = exten.charCodeAt(i);
    if (c >= UPPER_A && c <= UPPER_Z) {
      key = asciiLowerCase(exten);
      break;
    }
  }
  return types.get(key) ?? defaultType;
}

/** A `types` block nginx would refuse. */
export class MimeTypesError extends TsgiError {
  constructor(message: string, readonly line: number) {
    super('ERR_MIME_TYPES', `${message} on line ${line}`);
  }
}

/**
 * Reads the text of a mime.types file (`types { text/html html htm; ... }`) or just the inside of
 * a `types` block. Extensions are lower-cased; an extension listed twice takes the later type, as
 * in nginx (which warns "duplicate extension"). Comments (#) and quotes are understood; `include`
 * and other directives are not: the configuration parser handles those and may pass its own
 * tokens to `typesFromEntries` instead.
 */
export function parseMimeTypes(text: string): Map<string, string> {
  const entries: Array<[type: string, extensions: string[], line: number]> = [];
  let words: string[] = [];
  let wordsLine = 1;
  let braceDepth = 0;
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === ';') {
      if (words.length === 1) throw new MimeTypesError(`invalid number of arguments in type "${words[0]}"`, wordsLine);
      if (words.length > 1) entries.push([words[0]!, words.slice(1), wordsLine]);
      words = [];
      i++;
    } else if (c === '{') {
      // Only "types {" opens a block here; the words before it are the block's name.
      if (words.length !== 1 || words[0] !== 'types') throw new MimeTypesError('unexpected "{"', line);
      words = [];
      braceDepth++;
      i++;
    } else if (c === '}') {
      if (braceDepth === 0 || words.length > 0) throw new MimeTypesError('unexpected "}"', line);
      braceDepth--;
      i++;
    } else {
      if (words.length === 0) wordsLine = line;
      let word = '';
      if (c === '"' || c === "'") {
        const end = text.indexOf(c, i + 1);
        if (end < 0) throw new MimeTypesError('unexpected end of file, expecting ";" or "}"', line);
        word = text.slice(i + 1, end);
        i = end + 1;
      } else {
        while (i < n && !/[\s;{}#]/.test(text[i]!)) word += text[i++];
      }
      words.push(word);
    }
  }
  if (words.length > 0 || braceDepth !== 0) throw new MimeTypesError('unexpected end of file, expecting ";" or "}"', line);
  return typesFromEntries(entries.map(([type, extensions]) => [type, extensions]));
}

/** Builds a types map from `type ext ext...` entries, with nginx's lower-casing and override. */
export function typesFromEntries(entries: Iterable<readonly [type: string, extensions: readonly string[]]>): Map<string, string> {
  const types = new Map<string, string>();
  for (const [type, extensions] of entries) {
    for (const extension of extensions) types.set(asciiLowerCase(extension), type);
  }
  return types;
}

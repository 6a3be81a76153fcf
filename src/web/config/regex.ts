/**
 * nginx compiles `location ~`, `rewrite`, `if (... ~ ...)`, `server_name ~` and `map` regexes
 * with PCRE2 while reading the configuration. tsgi runs JavaScript regexes, so a pattern is
 * translated here once: the PCRE spellings real configs use (`(?P<name>`, `(?i)` at the start,
 * `\A`, `\z`, `\Z`, `\Q...\E`) become their JS equivalents.
 *
 * `-t` reports the two PCRE errors people actually make with nginx's words (a missing `)` and a
 * missing `]`); a pattern JS cannot run for another reason (atomic groups, possessive quantifiers)
 * is a tsgi warning, so that a configuration nginx accepts still loads.
 */

/** The result of translating a PCRE pattern. */
export type CompiledRegex =
  | { readonly ok: true; readonly regexp: RegExp; readonly source: string; readonly flags: string }
  /** nginx would refuse it: `pcre2_compile() failed: ...`. */
  | { readonly ok: false; readonly nginxError: string }
  /** nginx accepts it but JavaScript cannot run it. */
  | { readonly ok: false; readonly unsupported: string };

function escapeLiteral(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Finds PCRE's structural errors nginx users hit: unbalanced `(` and unterminated `[`. */
function structuralError(pattern: string): string | null {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < pattern.length; i += 1) {
    const ch = pattern[i];
    if (ch === '\\') {
      if (pattern[i + 1] === 'Q') {
        const end = pattern.indexOf('\\E', i + 2);
        if (end === -1) break;
        i = end + 1;
        continue;
      }
      i += 1;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      // A `]` right after `[` or `[^` is a literal member, not the end.
      if (pattern[i + 1] === '^') i += 1;
      if (pattern[i + 1] === ']') i += 1;
      continue;
    }
    if (ch === '(') depth += 1;
    if (ch === ')') {
      if (depth === 0) return `unmatched closing parenthesis in "${pattern}" at "${pattern.slice(i)}"`;
      depth -= 1;
    }
  }
  if (inClass) return `missing terminating ] for character class in "${pattern}"`;
  if (depth > 0) return `missing closing parenthesis in "${pattern}"`;
  return null;
}

/** Translates a PCRE pattern to a JavaScript RegExp. */
export function compilePcre(pattern: string, caseless: boolean): CompiledRegex {
  const structural = structuralError(pattern);
  if (structural) return { ok: false, nginxError: `pcre2_compile() failed: ${structural}` };
  let source = pattern;
  let flags = caseless ? 'i' : '';
  const inline = /^\(\?([imsx]+)\)/.exec(source);
  if (inline) {
    if (inline[1]!.includes('i') && !flags.includes('i')) flags += 'i';
    if (inline[1]!.includes('s')) flags += 's';
    if (inline[1]!.includes('m')) flags += 'm';
    source = source.slice(inline[0].length);
  }
  source = source
    .replace(/\\Q([\s\S]*?)(\\E|$)/g, (_m, literal: string) => escapeLiteral(literal))
    .replace(/\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/g, '(?<$1>')
    .replace(/\(\?'([A-Za-z_][A-Za-z0-9_]*)'/g, '(?<$1>')
    .replace(/\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/g, '\\k<$1>')
    .replace(/(^|[^\\])\\A/g, '$1^')
    .replace(/(^|[^\\])\\[zZ]/g, '$1$');
  try {
    return { ok: true, regexp: new RegExp(source, flags), source, flags };
  } catch (error) {
    return { ok: false, unsupported: error instanceof Error ? error.message : String(error) };
  }
}

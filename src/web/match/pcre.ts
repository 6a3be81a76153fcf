/**
 * nginx regexes (PCRE2, compiled without PCRE2_UTF, default "C" character tables, newline = LF)
 * run as JavaScript RegExps on byte strings (bytes.ts), with the same matches.
 *
 * JavaScript and PCRE2 disagree on more than syntax, so the pattern is translated token by token
 * rather than handed to `new RegExp`:
 *
 *   PCRE2                       JS here                      why
 *   $                           (?=\n?$)                     PCRE's $ also matches before a final
 *                                                            "\n": `~ \.php$` matches "/x.php%0A"
 *   .                           [\x00-\x09\x0b-\xff]         JS's . also refuses \r
 *   \s \S                       [\t\n\v\f\r ] / complement   JS's \s includes \xa0 and more
 *   \v \h \R \N                 their PCRE classes           JS's \v is one char; the others are absent
 *   \a \e \x{hh} \o{..} \Q..\E  bytes / literals             absent or different in JS
 *   (?P<n>..) (?'n'..) (?P=n)   (?<n>..) / \k<n>             Python/Perl spellings
 *   [:alpha:] and friends       byte ranges                  POSIX classes are absent in JS
 *   []a] [^]a]                  a class holding ']'          JS reads [] as an empty class
 *   case-insensitive (~*)       explicit [aA] classes        PCRE folds ASCII only; JS's `i` would
 *                                                            also fold Latin-1 bytes (\xe9 ~ \xc9)
 *   (?i) (?m) (?s) (?x) (?i:..) applied while translating   no inline modifiers in Node 20
 *
 * What has no JavaScript equivalent is refused with a RegexError (ERR_REGEX_UNSUPPORTED) naming
 * the feature, never silently approximated: possessive quantifiers, atomic and branch-reset
 * groups, recursion and subroutine calls, conditionals, \K, \p{..}, backtracking verbs, callouts,
 * backreferences in a case-insensitive regex, and backreferences to a group that may not have
 * taken part (JavaScript matches "" there where PCRE2 fails; closed, non-optional top-level groups
 * of the current alternative are accepted, which covers `(["']).*\1`). Syntax PCRE2 itself
 * refuses gives ERR_REGEX_SYNTAX with a message worded like nginx's `pcre2_compile() failed: ...`.
 *
 * One difference stays: PCRE2 stops a runaway match after 10 million steps (nginx then answers
 * 500); V8 has no such limit.
 */
import { TsgiError } from '../../errors.js';
import { textToBytes, bytesToText } from './bytes.js';

/** A regex could not be compiled: the pattern is invalid, or uses PCRE that JS cannot express. */
export class RegexError extends TsgiError {
  constructor(
    code: 'ERR_REGEX_SYNTAX' | 'ERR_REGEX_UNSUPPORTED',
    message: string,
    readonly pattern: string,
  ) {
    super(code, message);
  }
}

export interface CompiledRegex {
  /** The pattern as written in the config. */
  readonly pattern: string;
  /** The translation, run on byte strings. */
  readonly regex: RegExp;
  /** Number of capturing groups, named ones included ($1..$N). */
  readonly captureCount: number;
  /** Names of the named groups, which nginx turns into variables ($name). */
  readonly names: readonly string[];
}

/** What a successful match leaves behind for $1..$9 and named-capture variables. */
export interface Captures {
  /** [0] is the whole match, [n] is $n; a group that did not take part is ''. */
  readonly groups: readonly string[];
  readonly named: Readonly<Record<string, string>>;
}

export const NO_CAPTURES: Captures = Object.freeze({ groups: Object.freeze([]), named: Object.freeze({}) });

export interface CompileOptions {
  /** PCRE2_CASELESS: `~*` locations, server names with an upper-case letter. */
  readonly caseless?: boolean;
}

/** Compiles an nginx (PCRE2) regex. Throws RegexError. */
export function compileRegex(pattern: string, options: CompileOptions = {}): CompiledRegex {
  const bytes = textToBytes(pattern);
  // The first pass learns how many groups there are and their names, which backreferences need.
  const first = new Translator(bytes, pattern, options.caseless ?? false, null).run();
  const second = new Translator(bytes, pattern, options.caseless ?? false, first).run();
  let regex: RegExp;
  try {
    regex = new RegExp(second.source);
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '') : String(error);
    throw new RegexError('ERR_REGEX_SYNTAX', `pcre2_compile() failed: ${reason.toLowerCase()} in "${pattern}"`, pattern);
  }
  return { pattern, regex, captureCount: second.groupCount, names: second.names };
}

/** Runs the regex on a byte string; null when it does not match. */
export function execRegex(compiled: CompiledRegex, subject: string): Captures | null {
  const m = compiled.regex.exec(subject);
  if (m === null) return null;
  const groups: string[] = [];
  for (let k = 0; k <= compiled.captureCount; k++) groups.push(m[k] ?? '');
  const named: Record<string, string> = {};
  for (const name of compiled.names) named[name] = m.groups?.[name] ?? '';
  return { groups, named };
}

// ---------------------------------------------------------------------------------------------
// Byte sets: every class is computed as the exact set of bytes it matches, then written out.

const BYTE_COUNT = 256;
const NEWLINE = 0x0a;
const TAB = 0x09;
const FORM_FEED = 0x0c;
const CARRIAGE_RETURN = 0x0d;
const SPACE = 0x20;
const NEL = 0x85; // PCRE's \v and \R include NEL in non-UTF mode
const NBSP = 0xa0; // PCRE's \h includes NBSP in non-UTF mode
const BELL = 0x07;
const ESCAPE = 0x1b;
const BACKSPACE = 0x08;
const DEL = 0x7f;
const MAX_QUANTIFIER = 65535; // PCRE2: "number too big in {} quantifier"
const MAX_NAME_LENGTH = 32; // PCRE2: "subpattern name is too long (maximum 32 code units)"
const CONTROL_TOGGLE = 0x40; // \cX is X ^ 0x40
const ASCII_CASE_BIT = 0x20;

class ByteSet {
  readonly has = new Uint8Array(BYTE_COUNT);

  add(c: number): this {
    this.has[c] = 1;
    return this;
  }

  addRange(from: number, to: number): this {
    for (let c = from; c <= to; c++) this.has[c] = 1;
    return this;
  }

  addSet(other: ByteSet): this {
    for (let c = 0; c < BYTE_COUNT; c++) if (other.has[c]) this.has[c] = 1;
    return this;
  }

  negated(): ByteSet {
    const out = new ByteSet();
    for (let c = 0; c < BYTE_COUNT; c++) out.has[c] = this.has[c] ? 0 : 1;
    return out;
  }

  /** PCRE2_CASELESS with the default tables: A-Z and a-z only. */
  caseFolded(): ByteSet {
    const out = new ByteSet().addSet(this);
    for (let c = 0; c < BYTE_COUNT; c++) {
      if (this.has[c] && isAsciiLetter(c)) out.has[c ^ ASCII_CASE_BIT] = 1;
    }
    return out;
  }

  toSource(): string {
    const ranges: Array<[number, number]> = [];
    for (let c = 0; c < BYTE_COUNT; c++) {
      if (!this.has[c]) continue;
      let last = c;
      while (last + 1 < BYTE_COUNT && this.has[last + 1]) last++;
      ranges.push([c, last]);
      c = last;
    }
    if (ranges.length === 0) return '(?!)';
    if (ranges.length === 1 && ranges[0]![0] === ranges[0]![1]) return literalSource(ranges[0]![0]);
    return '[' + ranges.map(([a, b]) => (a === b ? hex(a) : b === a + 1 ? hex(a) + hex(b) : `${hex(a)}-${hex(b)}`)).join('') + ']';
  }
}

function hex(c: number): string {
  return '\\x' + c.toString(16).padStart(2, '0');
}

/** One byte as a JS atom: letters and digits as themselves, anything else as \xHH. */
function literalSource(c: number): string {
  return isAsciiLetter(c) || isDigit(c) ? String.fromCharCode(c) : hex(c);
}

const CHAR = (s: string): number => s.charCodeAt(0);
const isDigit = (c: number): boolean => c >= CHAR('0') && c <= CHAR('9');
const isOctal = (c: number): boolean => c >= CHAR('0') && c <= CHAR('7');
const isHex = (c: number): boolean => isDigit(c) || ((c | ASCII_CASE_BIT) >= CHAR('a') && (c | ASCII_CASE_BIT) <= CHAR('f'));
const isAsciiLetter = (c: number): boolean => (c >= CHAR('A') && c <= CHAR('Z')) || (c >= CHAR('a') && c <= CHAR('z'));
const isWordChar = (c: number): boolean => isAsciiLetter(c) || isDigit(c) || c === CHAR('_');

const set = (pred: (c: number) => boolean): ByteSet => {
  const out = new ByteSet();
  for (let c = 0; c < BYTE_COUNT; c++) if (pred(c)) out.add(c);
  return out;
};

/** The escapes that stand for a class, in PCRE2's non-UTF, default-tables meaning. */
const CLASS_ESCAPES: Readonly<Record<string, ByteSet>> = (() => {
  const digit = set(isDigit);
  const word = set(isWordChar);
  const space = set((c) => (c >= TAB && c <= CARRIAGE_RETURN) || c === SPACE);
  const horizontal = set((c) => c === TAB || c === SPACE || c === NBSP);
  const vertical = set((c) => (c >= NEWLINE && c <= CARRIAGE_RETURN) || c === NEL);
  return {
    d: digit,
    D: digit.negated(),
    w: word,
    W: word.negated(),
    s: space,
    S: space.negated(),
    h: horizontal,
    H: horizontal.negated(),
    v: vertical,
    V: vertical.negated(),
  };
})();

/** POSIX classes inside [...], ASCII meanings (the "C" locale). */
const POSIX_CLASSES: Readonly<Record<string, ByteSet>> = {
  alpha: set(isAsciiLetter),
  digit: set(isDigit),
  alnum: set((c) => isAsciiLetter(c) || isDigit(c)),
  upper: set((c) => c >= CHAR('A') && c <= CHAR('Z')),
  lower: set((c) => c >= CHAR('a') && c <= CHAR('z')),
  space: set((c) => (c >= TAB && c <= CARRIAGE_RETURN) || c === SPACE),
  blank: set((c) => c === TAB || c === SPACE),
  cntrl: set((c) => c < SPACE || c === DEL),
  print: set((c) => c >= SPACE && c < DEL),
  graph: set((c) => c > SPACE && c < DEL),
  punct: set((c) => c > SPACE && c < DEL && !isAsciiLetter(c) && !isDigit(c)),
  xdigit: set(isHex),
  word: set(isWordChar),
  ascii: set((c) => c <= DEL),
};

/** Escapes PCRE2 knows outside a class but which mean nothing inside one. */
const NOT_IN_CLASS = new Set(['A', 'B', 'G', 'K', 'N', 'R', 'X', 'Z', 'z', 'g', 'k', 'p', 'P', 'C']);

// ---------------------------------------------------------------------------------------------
// The translator

interface Flags {
  caseless: boolean;
  multiline: boolean;
  dotall: boolean;
  extended: boolean;
}

interface FirstPass {
  readonly groupCount: number;
  readonly names: readonly string[];
}

interface Translation {
  readonly source: string;
  readonly groupCount: number;
  readonly names: string[];
}

class Translator {
  private i = 0;
  private out = '';
  private groupCount = 0;
  private readonly names: string[] = [];
  private readonly groupOfName = new Map<string, number>();
  private flags: Flags;
  /** Flags to restore and the capture number (or null) of each open group. */
  private readonly stack: Array<{ flags: Flags; group: number | null }> = [];
  /**
   * Groups that surely took part in the match by the time a backreference is read: closed, at the
   * top level, not optional, and in the current top-level alternative. A backreference to any
   * other group is refused, because an unset group matches "" in JavaScript but fails in PCRE2.
   */
  private readonly certainGroups = new Set<number>();

  constructor(
    private readonly p: string,
    private readonly pattern: string,
    caseless: boolean,
    private readonly first: FirstPass | null,
  ) {
    this.flags = { caseless, multiline: false, dotall: false, extended: false };
  }

  run(): Translation {
    const p = this.p;
    while (this.i < p.length) {
      const c = p.charCodeAt(this.i);
      if (this.flags.extended && this.skipExtendedWhitespace()) continue;
      this.i++;
      switch (c) {
        case CHAR('\\'):
          this.escape();
          break;
        case CHAR('['):
          this.emitSet(this.parseClass());
          break;
        case CHAR('.'):
          this.emitSet(this.flags.dotall ? new ByteSet().addRange(0, BYTE_COUNT - 1) : new ByteSet().add(NEWLINE).negated());
          break;
        case CHAR('^'):
          // Multiline ^ matches after an inner newline, but not after one that ends the subject.
          this.out += this.flags.multiline ? '(?:^|(?<=\\n)(?!$))' : '^';
          break;
        case CHAR('$'):
          this.out += this.flags.multiline ? '(?=\\n|$)' : '(?=\\n?$)';
          break;
        case CHAR('('):
          this.group();
          break;
        case CHAR(')'): {
          if (this.stack.length === 0) this.syntax('unmatched closing parenthesis', this.i - 1);
          const closed = this.stack.pop()!;
          this.flags = closed.flags;
          this.out += ')';
          if (closed.group !== null && this.stack.length === 0 && !/^(?:[?*]|\{0|\{,)/.test(p.slice(this.i))) {
            this.certainGroups.add(closed.group);
          }
          break;
        }
        case CHAR('|'):
          if (this.stack.length === 0) this.certainGroups.clear();
          this.out += '|';
          break;
        case CHAR('*'):
        case CHAR('+'):
        case CHAR('?'):
          this.out += String.fromCharCode(c);
          this.quantifierSuffix();
          break;
        case CHAR('{'): {
          const m = /^\{(\d+)(?:,(\d*))?\}/.exec(p.slice(this.i - 1));
          if (m === null) {
            this.emitLiteral(c); // not a quantifier: a literal '{', as in PCRE2
            break;
          }
          if (Number(m[1]) > MAX_QUANTIFIER || (m[2] !== undefined && m[2] !== '' && Number(m[2]) > MAX_QUANTIFIER)) {
            this.syntax('number too big in {} quantifier', this.i - 1);
          }
          this.out += m[0];
          this.i += m[0].length - 1;
          this.quantifierSuffix();
          break;
        }
        default:
          this.emitLiteral(c);
      }
    }
    if (this.stack.length > 0) this.syntax('missing closing parenthesis', p.length);
    return { source: this.out, groupCount: this.groupCount, names: this.names };
  }

  // -- errors

  private syntax(message: string, at: number): never {
    const rest = bytesToText(this.p.slice(at));
    throw new RegexError('ERR_REGEX_SYNTAX', `pcre2_compile() failed: ${message} in "${this.pattern}" at "${rest}"`, this.pattern);
  }

  private unsupported(feature: string): never {
    throw new RegexError(
      'ERR_REGEX_UNSUPPORTED',
      `regex "${this.pattern}" uses ${feature}, which tsgi cannot run (no JavaScript RegExp equivalent)`,
      this.pattern,
    );
  }

  // -- emitting

  private emitLiteral(c: number): void {
    if (this.flags.caseless && isAsciiLetter(c)) this.out += new ByteSet().add(c).caseFolded().toSource();
    else this.out += literalSource(c);
  }

  private emitSet(s: ByteSet): void {
    this.out += (this.flags.caseless ? s.caseFolded() : s).toSource();
  }

  private emitBackreference(group: number | string): void {
    // JS compares a backreference case-sensitively unless the whole regex has the `i` flag, which
    // would also fold Latin-1 bytes; PCRE2 folds ASCII. Neither is right, so refuse.
    if (this.flags.caseless) this.unsupported('a backreference in a case-insensitive regex');
    const number = typeof group === 'number' ? group : this.groupOfName.get(group);
    if (this.first !== null && (number === undefined || !this.certainGroups.has(number))) {
      this.unsupported('a backreference to a group that may not have taken part in the match (JavaScript matches "" there, PCRE2 fails)');
    }
    // The group keeps a following literal digit from joining the number.
    this.out += typeof group === 'number' ? `(?:\\${group})` : `(?:\\k<${group}>)`;
  }

  private quantifierSuffix(): void {
    const next = this.p.charCodeAt(this.i);
    if (next === CHAR('+')) this.unsupported('a possessive quantifier');
    if (next === CHAR('?')) {
      this.out += '?';
      this.i++;
    }
  }

  /** (?x): whitespace and #-comments outside classes are not part of the pattern. */
  private skipExtendedWhitespace(): boolean {
    const c = this.p.charCodeAt(this.i);
    if ((c >= TAB && c <= CARRIAGE_RETURN) || c === SPACE) {
      this.i++;
      return true;
    }
    if (c === CHAR('#')) {
      while (this.i < this.p.length && this.p.charCodeAt(this.i) !== NEWLINE) this.i++;
      return true;
    }
    return false;
  }

  // -- escapes outside a class

  private escape(): void {
    const p = this.p;
    if (this.i >= p.length) this.syntax('\\ at end of pattern', this.i - 1);
    const c = p.charCodeAt(this.i++);
    const letter = String.fromCharCode(c);
    const cls = CLASS_ESCAPES[letter];
    if (cls !== undefined) {
      this.emitSet(cls);
      return;
    }
    switch (letter) {
      case 'b':
        this.out += '\\b'; // ASCII word characters in both engines
        return;
      case 'B':
        this.out += '\\B';
        return;
      case 'A':
      case 'G': // the start of the subject: nginx always matches from offset 0
        this.out += '^';
        return;
      case 'z':
        this.out += '$';
        return;
      case 'Z':
        this.out += '(?=\\n?$)';
        return;
      case 'N':
        this.emitSet(new ByteSet().add(NEWLINE).negated());
        return;
      case 'R':
        // \R is atomic in PCRE2: "\r\n" is never split. The lookahead gives the same effect.
        this.out += '(?:\\x0d\\x0a|(?!\\x0d\\x0a)[\\x0a-\\x0d\\x85])';
        return;
      case 'Q':
        this.quoted((b) => this.emitLiteral(b));
        return;
      case 'E':
        return; // \E without \Q is ignored
      case 'K':
        return this.unsupported('\\K (reset match start)');
      case 'p':
      case 'P':
      case 'X':
        return this.unsupported(`\\${letter} (Unicode properties)`);
      case 'C':
        return this.unsupported('\\C (single code unit)');
      case 'g':
        this.gReference();
        return;
      case 'k':
        this.kReference();
        return;
    }
    if (isDigit(c)) {
      this.digitEscape(c);
      return;
    }
    const byte = this.byteEscape(c, false);
    this.emitLiteral(byte);
  }

  /** \Q...\E: everything up to \E (or the end) is literal. */
  private quoted(emit: (c: number) => void): void {
    const p = this.p;
    while (this.i < p.length) {
      if (p.charCodeAt(this.i) === CHAR('\\') && p.charCodeAt(this.i + 1) === CHAR('E')) {
        this.i += 2;
        return;
      }
      emit(p.charCodeAt(this.i++));
    }
  }

  /** \1..\9, \10.. and octal \0nn, with PCRE2's rule for telling them apart. */
  private digitEscape(c: number): void {
    const p = this.p;
    const start = this.i - 1;
    if (c === CHAR('0')) {
      let value = 0;
      let n = 0;
      while (n < 2 && isOctal(p.charCodeAt(this.i))) {
        value = value * 8 + (p.charCodeAt(this.i++) - CHAR('0'));
        n++;
      }
      this.emitLiteral(value);
      return;
    }
    let j = start;
    while (isDigit(p.charCodeAt(j))) j++;
    const number = Number(p.slice(start, j));
    // PCRE2: a backreference if below 10, if it starts with 8 or 9, or if that many groups have
    // been opened before it; otherwise up to three octal digits.
    if (number < 10 || c === CHAR('8') || c === CHAR('9') || number <= this.groupCount) {
      this.i = j;
      if (this.first !== null && number > this.first.groupCount) this.syntax('reference to non-existent subpattern', start - 1);
      this.emitBackreference(number);
      return;
    }
    this.i = start;
    let value = 0;
    let n = 0;
    while (n < 3 && isOctal(p.charCodeAt(this.i))) {
      value = value * 8 + (p.charCodeAt(this.i++) - CHAR('0'));
      n++;
    }
    if (value >= BYTE_COUNT) this.syntax('octal value is greater than \\377 in 8-bit non-UTF mode', start - 1);
    this.emitLiteral(value);
  }

  /** \g{N} \gN \g{-N} \g-N \g{name}; \g<..> is a subroutine call. */
  private gReference(): void {
    const rest = this.p.slice(this.i);
    const m = /^(?:\{(-?\d+)\}|(-?\d+)|\{([A-Za-z_]\w*)\})/.exec(rest);
    if (m === null) {
      if (rest.startsWith('<') || rest.startsWith("'")) this.unsupported('a subroutine call (\\g<...>)');
      this.syntax('a numbered reference must not be zero', this.i - 2);
    }
    this.i += m[0].length;
    if (m[3] !== undefined) {
      this.namedReference(m[3]);
      return;
    }
    let n = Number(m[1] ?? m[2]);
    if (n === 0) this.syntax('a numbered reference must not be zero', this.i - m[0].length - 2);
    if (n < 0) n = this.groupCount + n + 1; // relative to the groups opened so far
    if (n <= 0 || (this.first !== null && n > this.first.groupCount)) this.syntax('reference to non-existent subpattern', this.i);
    this.emitBackreference(n);
  }

  /** \k<name> \k'name' \k{name}. */
  private kReference(): void {
    const m = /^(?:<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)'|\{([A-Za-z_]\w*)\})/.exec(this.p.slice(this.i));
    if (m === null) this.syntax('\\k is not followed by a braced, angle-bracketed, or quoted name', this.i - 2);
    this.i += m[0].length;
    this.namedReference((m[1] ?? m[2] ?? m[3])!);
  }

  private namedReference(name: string): void {
    if (this.first !== null && !this.first.names.includes(name)) this.syntax('reference to non-existent subpattern', this.i);
    this.emitBackreference(name);
  }

  /**
   * An escape that stands for one byte: \a \e \f \n \r \t, \xhh, \x{hh}, \o{...}, \cX, octal
   * digits (in classes), or a non-alphanumeric byte quoted. `c` has been consumed.
   */
  private byteEscape(c: number, inClass: boolean): number {
    const p = this.p;
    const at = this.i - 2;
    switch (String.fromCharCode(c)) {
      case 'a':
        return BELL;
      case 'e':
        return ESCAPE;
      case 'f':
        return FORM_FEED;
      case 'n':
        return NEWLINE;
      case 'r':
        return CARRIAGE_RETURN;
      case 't':
        return TAB;
      case 'b':
        if (inClass) return BACKSPACE;
        break;
      case 'x': {
        if (p.charCodeAt(this.i) === CHAR('{')) {
          const m = /^\{([0-9A-Fa-f]+)\}/.exec(p.slice(this.i));
          if (m === null) this.syntax('\\x{ is not followed by hexadecimal digits and }', at);
          this.i += m[0].length;
          const value = parseInt(m[1]!, 16);
          if (value >= BYTE_COUNT) this.syntax('character code point value in \\x{} or \\o{} is too large', at);
          return value;
        }
        let value = 0;
        for (let n = 0; n < 2 && isHex(p.charCodeAt(this.i)); n++) value = value * 16 + parseInt(p[this.i++]!, 16);
        return value;
      }
      case 'o': {
        const m = /^\{([0-7]+)\}/.exec(p.slice(this.i));
        if (m === null) this.syntax('\\o is not followed by {', at);
        this.i += m[0].length;
        const value = parseInt(m[1]!, 8);
        if (value >= BYTE_COUNT) this.syntax('character code point value in \\x{} or \\o{} is too large', at);
        return value;
      }
      case 'c': {
        const x = p.charCodeAt(this.i);
        if (!(x >= SPACE && x < DEL)) this.syntax('\\c must be followed by a printable ASCII character', at);
        this.i++;
        const upper = x >= CHAR('a') && x <= CHAR('z') ? x ^ ASCII_CASE_BIT : x;
        return upper ^ CONTROL_TOGGLE;
      }
    }
    if (inClass && isDigit(c)) {
      if (!isOctal(c)) this.syntax('\\8 or \\9 is not allowed in a character class', at);
      let value = c - CHAR('0');
      for (let n = 1; n < 3 && isOctal(p.charCodeAt(this.i)); n++) value = value * 8 + (p.charCodeAt(this.i++) - CHAR('0'));
      if (value >= BYTE_COUNT) this.syntax('octal value is greater than \\377 in 8-bit non-UTF mode', at);
      return value;
    }
    if (isAsciiLetter(c) || isDigit(c)) {
      if (inClass && NOT_IN_CLASS.has(String.fromCharCode(c))) this.syntax('escape sequence is invalid in character class', at);
      this.syntax('unrecognized character follows \\', at);
    }
    return c; // \. \/ \- \\ and any other non-alphanumeric byte stand for themselves
  }

  // -- classes

  /** From after '[' to after the closing ']'. */
  private parseClass(): ByteSet {
    const p = this.p;
    const start = this.i - 1;
    let negate = false;
    if (p.charCodeAt(this.i) === CHAR('^')) {
      negate = true;
      this.i++;
    }
    const out = new ByteSet();
    let first = true;
    for (;;) {
      if (this.i >= p.length) this.syntax('missing terminating ] for character class', start);
      const c = p.charCodeAt(this.i);
      // PCRE2: a ']' right after '[' or '[^' is a literal, not the end.
      if (c === CHAR(']') && !first) {
        this.i++;
        break;
      }
      first = false;
      if (c === CHAR('[')) {
        const posix = /^\[:(\^?)([a-z]+):\]/.exec(p.slice(this.i));
        if (posix !== null) {
          const cls = POSIX_CLASSES[posix[2]!];
          if (cls === undefined) this.syntax('unknown POSIX class name', this.i);
          out.addSet(posix[1] === '^' ? cls.negated() : cls);
          this.i += posix[0].length;
          continue;
        }
        if (/^\[([.=]).*?\1\]/.test(p.slice(this.i))) this.syntax('POSIX collating elements are not supported', this.i);
      }
      if (c === CHAR('\\') && p.charCodeAt(this.i + 1) === CHAR('Q')) {
        this.i += 2;
        this.quoted((b) => out.add(b));
        continue;
      }
      if (c === CHAR('\\') && p.charCodeAt(this.i + 1) === CHAR('E')) {
        this.i += 2;
        continue;
      }
      const low = this.classAtom();
      const isRange = p.charCodeAt(this.i) === CHAR('-') && this.i + 1 < p.length && p.charCodeAt(this.i + 1) !== CHAR(']');
      if (!isRange) {
        if (typeof low === 'number') out.add(low);
        else out.addSet(low);
        continue;
      }
      if (typeof low !== 'number') this.syntax('invalid range in character class', this.i);
      this.i++; // the '-'
      const high = this.classAtom();
      if (typeof high !== 'number') this.syntax('invalid range in character class', this.i);
      if (high < low) this.syntax('range out of order in character class', this.i);
      out.addRange(low, high);
    }
    // Case folding comes before negation: caseless [^a] refuses both 'a' and 'A'.
    const folded = this.flags.caseless ? out.caseFolded() : out;
    return negate ? folded.negated() : folded;
  }

  /** One byte, or the set of an escape like \d, inside a class. */
  private classAtom(): number | ByteSet {
    const c = this.p.charCodeAt(this.i++);
    if (c !== CHAR('\\')) return c;
    if (this.i >= this.p.length) this.syntax('\\ at end of pattern', this.i - 1);
    const e = this.p.charCodeAt(this.i++);
    const cls = CLASS_ESCAPES[String.fromCharCode(e)];
    if (cls !== undefined) return cls;
    return this.byteEscape(e, true);
  }

  // -- groups

  /** After '('. */
  private group(): void {
    const p = this.p;
    const start = this.i - 1;
    if (p.charCodeAt(this.i) === CHAR('*')) this.unsupported('a backtracking control verb or start-of-pattern option ((*...))');
    if (p.charCodeAt(this.i) !== CHAR('?')) {
      this.groupCount++;
      this.open('(', this.groupCount);
      return;
    }
    const rest = p.slice(this.i + 1);
    const k = rest.charCodeAt(0);
    if (k === CHAR('#')) {
      const close = p.indexOf(')', this.i);
      if (close < 0) this.syntax('missing ) after (?# comment', start);
      this.i = close + 1;
      return;
    }
    if (k === CHAR(':') || k === CHAR('=') || k === CHAR('!')) {
      this.i += 2;
      this.open('(?' + String.fromCharCode(k));
      return;
    }
    if (rest.startsWith('<=') || rest.startsWith('<!')) {
      this.i += 3;
      this.open('(?' + rest.slice(0, 2));
      return;
    }
    const named = /^(?:<([^>]*)>|P<([^>]*)>|'([^']*)')/.exec(rest);
    if (named !== null) {
      const name = (named[1] ?? named[2] ?? named[3])!;
      if (!/^[A-Za-z_]\w*$/.test(name)) this.syntax('subpattern name expected', this.i + 1);
      if (name.length > MAX_NAME_LENGTH) this.syntax('subpattern name is too long (maximum 32 code units)', this.i + 1);
      if (this.names.includes(name)) this.syntax('two named subpatterns have the same name (PCRE2_DUPNAMES not set)', this.i + 1);
      this.names.push(name);
      this.groupCount++;
      this.groupOfName.set(name, this.groupCount);
      this.i += 1 + named[0].length;
      this.open(`(?<${name}>`, this.groupCount);
      return;
    }
    const backref = /^P=([A-Za-z_]\w*)\)/.exec(rest);
    if (backref !== null) {
      this.i += 1 + backref[0].length;
      this.namedReference(backref[1]!);
      return;
    }
    if (k === CHAR('>')) this.unsupported('an atomic group (?>...)');
    if (k === CHAR('|')) this.unsupported('a branch reset group (?|...)');
    if (k === CHAR('(')) this.unsupported('a conditional group (?(...)...)');
    if (k === CHAR('C')) this.unsupported('a callout (?C...)');
    if (/^(?:R|[+-]?\d+|&|P>)/.test(rest)) this.unsupported('recursion or a subroutine call');
    const options = /^([A-Za-z]*)(?:-([A-Za-z]*))?([:)])/.exec(rest);
    if (options !== null) {
      const flags = this.applyOptions(options[1]!, options[2] ?? '');
      this.i += 1 + options[0].length;
      if (options[3] === ')') {
        this.flags = flags; // to the end of the enclosing group, as in PCRE2
        return;
      }
      this.stack.push({ flags: this.flags, group: null });
      this.flags = flags;
      this.out += '(?:';
      return;
    }
    this.syntax('unrecognized character after (? or (?-', this.i + 1);
  }

  private open(source: string, group: number | null = null): void {
    this.stack.push({ flags: this.flags, group });
    this.flags = { ...this.flags };
    this.out += source;
  }

  private applyOptions(on: string, off: string): Flags {
    const flags = { ...this.flags };
    for (const [letters, value] of [
      [on, true],
      [off, false],
    ] as const) {
      for (const letter of letters) {
        if (letter === 'i') flags.caseless = value;
        else if (letter === 'm') flags.multiline = value;
        else if (letter === 's') flags.dotall = value;
        else if (letter === 'x') flags.extended = value;
        else this.unsupported(`the inline option (?${letter})`);
      }
    }
    return flags;
  }
}

/**
 * The nginx.conf tokenizer: bytes in, tokens out, exactly as nginx 1.22's `ngx_conf_read_token`
 * reads them, but written as an explicit state machine instead of its six booleans.
 *
 * What nginx does, and so what this does:
 * - Words are separated by blanks (space, tab, CR, LF). A bare word ends at a blank, `;` or `{`;
 *   `}` and `#` inside a bare word are ordinary bytes (`a}` is one word).
 * - `"..."` and `'...'` make one word; after the closing quote only a blank, `;`, `{` or `)` may
 *   follow (`"a"b` is `unexpected "b"`). A quote inside a bare word is an ordinary byte.
 * - A backslash takes the next byte as is, in bare and quoted words alike; when the word is built,
 *   `\"`, `\'` and `\\` lose their backslash, `\n`, `\t` and `\r` become LF, TAB and CR, and any
 *   other `\x` stays two bytes (so regexes keep `\.` and `\d`).
 * - `$` followed by `{` keeps the `{` inside the word (`${var}`), instead of opening a block.
 * - `#` starts a comment only where a word could start.
 * - A word (or comment) running 4096 bytes with more input after it is "too long", because nginx
 *   reads through a 4096-byte buffer; the check below reproduces its exact boundary.
 *
 * Lines are counted on LF, everywhere, as nginx does; each token carries the line nginx would
 * report for it. Errors are `NginxConfigError`s with nginx's messages.
 */
import { NginxConfigError, NginxConfigErrorCode, type ConfigOrigin } from './errors.js';

/** The byte values the grammar cares about, named (STYLE.md: no bare character codes). */
const enum Byte {
  Tab = 0x09,
  LineFeed = 0x0a,
  CarriageReturn = 0x0d,
  Space = 0x20,
  DoubleQuote = 0x22,
  Hash = 0x23,
  Dollar = 0x24,
  SingleQuote = 0x27,
  CloseParen = 0x29,
  Semicolon = 0x3b,
  Backslash = 0x5c,
  LowerN = 0x6e,
  LowerR = 0x72,
  LowerT = 0x74,
  OpenBrace = 0x7b,
  CloseBrace = 0x7d,
}

/** UTF-8: bytes below this are ASCII; continuation bytes are 10xxxxxx. */
const UTF8_FIRST_NON_ASCII = 0x80;
const UTF8_CONTINUATION_MASK = 0xc0;
const UTF8_CONTINUATION_BITS = 0x80;
const UTF8_MAX_BYTES = 4;

/** nginx reads configuration files through a buffer of this size (`NGX_CONF_BUFFER`). */
export const CONF_BUFFER_SIZE = 4096;

/** The states of the tokenizer; nginx's flags in brackets. */
export enum LexState {
  /** Between words, skipping blanks [last_space]. */
  Blank,
  /** In a `#` comment, up to the end of the line [sharp_comment]. */
  Comment,
  /** In a bare word. */
  Word,
  /** In a bare word right after `$`: a `{` here is part of `${name}` [variable]. */
  WordAfterDollar,
  /** In a `"..."` word [d_quoted]. */
  DoubleQuoted,
  /** In a `'...'` word [s_quoted]. */
  SingleQuoted,
  /** After a backslash: the next byte is taken as is [quoted]. */
  Escaped,
  /** After a closing quote: a blank, `;`, `{` or `)` must follow [need_space]. */
  AfterQuote,
}

export type TokenKind = 'word' | ';' | '{' | '}' | 'eof';

/** One token: a word, or `;` `{` `}` and the end of the input. */
export interface Token {
  readonly kind: TokenKind;
  /** The word's value after escapes; empty for the punctuation tokens. */
  readonly value: string;
  /** For a word, the line it starts on; for the others, the line nginx reports an error on. */
  readonly line: number;
  /** Whether the word was written in quotes. */
  readonly quoted: boolean;
}

/** Where the text comes from: a file (errors say ` in FILE:LINE`) or `-g` (` in command line`). */
export type SourceName = { kind: 'file'; file: string } | { kind: 'command-line' };

function isBlank(byte: number): boolean {
  return byte === Byte.Space || byte === Byte.Tab || byte === Byte.CarriageReturn || byte === Byte.LineFeed;
}

const utf8 = new TextDecoder('utf-8');
const encoder = new TextEncoder();

/** nginx's word building: drops the backslash of `\"`, `\'`, `\\`; turns `\n`, `\t`, `\r` into control bytes. */
export function unescapeWord(bytes: Uint8Array, start: number, end: number): string {
  if (bytes.subarray(start, end).indexOf(Byte.Backslash) === -1) return utf8.decode(bytes.subarray(start, end));
  const out: number[] = [];
  let i = start;
  while (i < end) {
    const byte = bytes[i]!;
    if (byte === Byte.Backslash && i + 1 < end) {
      const next = bytes[i + 1]!;
      if (next === Byte.DoubleQuote || next === Byte.SingleQuote || next === Byte.Backslash) {
        out.push(next);
        i += 2;
        continue;
      }
      if (next === Byte.LowerT || next === Byte.LowerR || next === Byte.LowerN) {
        out.push(next === Byte.LowerT ? Byte.Tab : next === Byte.LowerR ? Byte.CarriageReturn : Byte.LineFeed);
        i += 2;
        continue;
      }
    }
    out.push(byte);
    i += 1;
  }
  return utf8.decode(Uint8Array.from(out));
}

/**
 * Reads tokens one at a time. Punctuation is returned as its own token after the word it ends
 * (`server{` gives `server`, then `{`).
 */
export class Lexer {
  private readonly bytes: Uint8Array;
  private readonly source: SourceName;
  private pos = 0;
  private line = 1;
  private state = LexState.Blank;
  /** The state to go back to after an escaped byte. */
  private afterEscape = LexState.Word;
  /** nginx's `start`: where the current run began; the too-long check measures from here. */
  private runStart = 0;
  private runLine = 1;
  /** Where the current word's bytes begin (after an opening quote) and on which line. */
  private wordStart = 0;
  private wordLine = 1;
  private wordQuoted = false;
  /** A token already read but not yet returned (the `;` or `{` that ended a word). */
  private pending: Token | null = null;

  constructor(source: Uint8Array | string, name: SourceName) {
    this.bytes = typeof source === 'string' ? encoder.encode(source) : source;
    this.source = name;
    // The command line starts at line 0 in nginx and never counts lines that matter.
    this.line = name.kind === 'file' ? 1 : 0;
    this.runLine = this.line;
  }

  /** The current state, for tests and for the fuzz property. */
  get currentState(): LexState {
    return this.state;
  }

  /** The position suffix for an error found now (or on `line`). */
  origin(line = this.line): ConfigOrigin {
    return this.source.kind === 'file' ? { kind: 'file', file: this.source.file, line } : { kind: 'command-line' };
  }

  private fail(text: string, line = this.line): NginxConfigError {
    return new NginxConfigError(NginxConfigErrorCode.Syntax, text, this.origin(line));
  }

  private punctuation(kind: TokenKind): Token {
    return { kind, value: '', line: this.line, quoted: false };
  }

  private word(end: number): Token {
    return {
      kind: 'word',
      value: unescapeWord(this.bytes, this.wordStart, end),
      line: this.wordLine,
      quoted: this.wordQuoted,
    };
  }

  /** A punctuation token ends a statement; nginx starts the next one in the blank state, with a fresh run. */
  private endStatement(kind: TokenKind): Token {
    this.state = LexState.Blank;
    this.runStart = this.pos;
    this.runLine = this.line;
    return this.punctuation(kind);
  }

  /** The printable form of the byte nginx complains about (a whole UTF-8 character when it starts one). */
  private describeByteAt(index: number): string {
    const first = this.bytes[index]!;
    if (first < UTF8_FIRST_NON_ASCII) return String.fromCharCode(first);
    let end = index + 1;
    while (end < this.bytes.length && end - index < UTF8_MAX_BYTES && (this.bytes[end]! & UTF8_CONTINUATION_MASK) === UTF8_CONTINUATION_BITS) end += 1;
    return utf8.decode(this.bytes.subarray(index, end));
  }

  next(): Token {
    if (this.pending) {
      const token = this.pending;
      this.pending = null;
      return token;
    }
    const bytes = this.bytes;
    for (;;) {
      if (this.pos >= bytes.length) return this.endOfInput();
      // Only files go through nginx's fixed buffer; `-g` text is one buffer of its own size.
      if (this.pos - this.runStart === CONF_BUFFER_SIZE && this.source.kind === 'file') throw this.tooLong();

      const index = this.pos;
      const byte = bytes[index]!;
      this.pos += 1;
      if (byte === Byte.LineFeed) this.line += 1;

      switch (this.state) {
        case LexState.Comment:
          if (byte === Byte.LineFeed) {
            // nginx leaves the comment on the LF and then treats the LF as a blank.
            this.state = LexState.Blank;
            this.runStart = index;
            this.runLine = this.line;
          }
          continue;

        case LexState.Escaped:
          this.state = this.afterEscape;
          continue;

        case LexState.AfterQuote:
          if (isBlank(byte)) {
            this.state = LexState.Blank;
            continue;
          }
          if (byte === Byte.Semicolon) return this.endStatement(';');
          if (byte === Byte.OpenBrace) return this.endStatement('{');
          if (byte !== Byte.CloseParen) throw this.fail(`unexpected "${this.describeByteAt(index)}"`);
          // `if ($a = "b")`: the `)` is allowed and starts the next word, as in the blank state.
          this.state = LexState.Blank;
          return this.blank(index, byte) ?? this.next();

        case LexState.Blank: {
          const token = this.blank(index, byte);
          if (token) return token;
          continue;
        }

        case LexState.WordAfterDollar:
          if (byte === Byte.OpenBrace) continue; // `${name}`: the brace belongs to the word
          this.state = LexState.Word;
          {
            const token = this.wordByte(index, byte);
            if (token) return token;
          }
          continue;

        case LexState.Word: {
          const token = this.wordByte(index, byte);
          if (token) return token;
          continue;
        }

        case LexState.DoubleQuoted:
        case LexState.SingleQuoted: {
          if (byte === Byte.Backslash) {
            this.escape(this.state);
            continue;
          }
          const closing = this.state === LexState.DoubleQuoted ? Byte.DoubleQuote : Byte.SingleQuote;
          if (byte === closing) {
            this.state = LexState.AfterQuote;
            return this.word(index);
          }
          continue;
        }
      }
    }
  }

  /** A byte read in a bare word. Returns the word when the byte ends it. */
  private wordByte(index: number, byte: number): Token | null {
    if (byte === Byte.Backslash) {
      this.escape(LexState.Word);
      return null;
    }
    if (byte === Byte.Dollar) {
      this.state = LexState.WordAfterDollar;
      return null;
    }
    if (isBlank(byte)) {
      // The blank ends the word but, unlike in the blank state, does not move the run start.
      this.state = LexState.Blank;
      return this.word(index);
    }
    if (byte === Byte.Semicolon || byte === Byte.OpenBrace) {
      const token = this.word(index);
      this.pending = this.endStatement(byte === Byte.Semicolon ? ';' : '{');
      return token;
    }
    return null;
  }

  /** nginx's quoted flag: skip one byte, then go back to `state`. */
  private escape(state: LexState): void {
    this.afterEscape = state;
    this.state = LexState.Escaped;
  }

  /** A byte read between words. Returns a token when the byte is punctuation. */
  private blank(index: number, byte: number): Token | null {
    this.runStart = index;
    this.runLine = this.line;
    if (isBlank(byte)) return null;
    switch (byte) {
      case Byte.Semicolon:
        return this.endStatement(';');
      case Byte.OpenBrace:
        return this.endStatement('{');
      case Byte.CloseBrace:
        return this.endStatement('}');
      case Byte.Hash:
        this.state = LexState.Comment;
        return null;
      case Byte.DoubleQuote:
      case Byte.SingleQuote:
        this.runStart = index + 1;
        this.startWord(index + 1, true);
        this.state = byte === Byte.DoubleQuote ? LexState.DoubleQuoted : LexState.SingleQuoted;
        return null;
      case Byte.Backslash:
        this.startWord(index, false);
        this.escape(LexState.Word);
        return null;
      case Byte.Dollar:
        this.startWord(index, false);
        this.state = LexState.WordAfterDollar;
        return null;
      default:
        this.startWord(index, false);
        this.state = LexState.Word;
        return null;
    }
  }

  private startWord(start: number, quoted: boolean): void {
    this.wordStart = start;
    this.wordLine = this.line;
    this.wordQuoted = quoted;
  }

  private endOfInput(): Token {
    const inWord = this.state !== LexState.Blank && this.state !== LexState.Comment;
    if (inWord) throw this.unexpectedEnd();
    return { kind: 'eof', value: '', line: this.line, quoted: false };
  }

  /** The error for input that stops in the middle of a statement. */
  unexpectedEnd(): NginxConfigError {
    return this.source.kind === 'file'
      ? this.fail('unexpected end of file, expecting ";" or "}"')
      : this.fail('unexpected end of parameter, expecting ";"');
  }

  private tooLong(): NginxConfigError {
    if (this.state === LexState.DoubleQuoted || this.state === LexState.SingleQuoted) {
      const quote = this.state === LexState.DoubleQuoted ? '"' : "'";
      return this.fail(`too long parameter, probably missing terminating "${quote}" character`, this.runLine);
    }
    const head = utf8.decode(this.bytes.subarray(this.runStart, this.runStart + 10));
    return this.fail(`too long parameter "${head}..." started`, this.runLine);
  }
}

/** All the tokens of a text, `eof` last; throws the first syntax error. */
export function tokenize(source: Uint8Array | string, name: SourceName): Token[] {
  const lexer = new Lexer(source, name);
  const tokens: Token[] = [];
  for (;;) {
    const token = lexer.next();
    tokens.push(token);
    if (token.kind === 'eof') return tokens;
  }
}

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CONF_BUFFER_SIZE, LexState, Lexer, tokenize, unescapeWord, type Token } from '../../../src/web/config/lexer.js';
import { NginxConfigError, NginxConfigErrorCode } from '../../../src/web/config/errors.js';

const FILE = { kind: 'file', file: '/etc/x.conf' } as const;

/** The tokens as short strings: words as written values, punctuation as itself. */
function words(text: string): string[] {
  return tokenize(text, FILE).map((t: Token) => (t.kind === 'word' ? `<${t.value}>` : t.kind));
}

function syntaxError(text: string, source: { kind: 'file'; file: string } | { kind: 'command-line' } = FILE): NginxConfigError {
  try {
    tokenize(text, source);
  } catch (error) {
    assert.ok(error instanceof NginxConfigError);
    assert.equal(error.code, NginxConfigErrorCode.Syntax);
    return error;
  }
  assert.fail(`no error for ${JSON.stringify(text)}`);
}

describe('lexer: words and punctuation', () => {
  it('splits on blanks, ; and {, and keeps } and # inside words', () => {
    assert.deepEqual(words('server{listen 80;}'), ['<server>', '{', '<listen>', '<80>', ';', '}', 'eof']);
    assert.deepEqual(words('a}b c#d;'), ['<a}b>', '<c#d>', ';', 'eof']);
    assert.deepEqual(words(' \t\r\n a\t\tb \r\n;'), ['<a>', '<b>', ';', 'eof']);
  });

  it('reads comments only where a word could start', () => {
    assert.deepEqual(words('# all\na; # b ; {\n  c; #'), ['<a>', ';', '<c>', ';', 'eof']);
  });

  it('reads quoted words, empty ones included, and allows ) after a quote', () => {
    assert.deepEqual(words(`a "b c" 'd;e' "";`), ['<a>', '<b c>', '<d;e>', '<>', ';', 'eof']);
    assert.deepEqual(words('if ($a = "b") {'), ['<if>', '<($a>', '<=>', '<b>', '<)>', '{', 'eof']);
    assert.deepEqual(words('a "b"{'), ['<a>', '<b>', '{', 'eof']);
  });

  it('treats a quote inside a bare word as an ordinary byte', () => {
    assert.deepEqual(words(`a"b c";`), ['<a"b>', '<c">', ';', 'eof']);
  });

  it('keeps ${var} in one word, and $ before other bytes ordinary', () => {
    assert.deepEqual(words('return 200 ${uri}x$host;'), ['<return>', '<200>', '<${uri}x$host>', ';', 'eof']);
    assert.deepEqual(words('${a} b${{c};'), ['<${a}>', '<b${{c}>', ';', 'eof']);
    assert.deepEqual(words('a$ {'), ['<a$>', '{', 'eof']);
  });

  it('unescapes as nginx: \\" \\\' \\\\ lose the backslash, \\n \\t \\r become bytes, others stay', () => {
    assert.deepEqual(words('"a\\"b" \'c\\\'d\' e\\\\f;'), ['<a"b>', "<c'd>", '<e\\f>', ';', 'eof']);
    assert.deepEqual(words('"\\n\\t\\r" \\.\\d;'), ['<\n\t\r>', '<\\.\\d>', ';', 'eof']);
    assert.deepEqual(words('a\\ b\\;c;'), ['<a\\ b\\;c>', ';', 'eof']);
    assert.equal(unescapeWord(new TextEncoder().encode('x\\'), 0, 2), 'x\\');
  });

  it('keeps UTF-8 words whole', () => {
    assert.deepEqual(words('server_name "пример.рф" 例え.jp;'), ['<server_name>', '<пример.рф>', '<例え.jp>', ';', 'eof']);
  });

  it('gives each token its line: words where they start, punctuation where it is', () => {
    const tokens = tokenize('a\n"b\nc"\n\n;\n}', FILE);
    assert.deepEqual(
      tokens.map((t) => [t.kind, t.line]),
      [
        ['word', 1],
        ['word', 2],
        [';', 5],
        ['}', 6],
        ['eof', 6],
      ],
    );
    assert.equal(tokens[1]!.quoted, true);
  });

  it('walks an explicit state machine', () => {
    const lexer = new Lexer('a "b', FILE);
    assert.equal(lexer.currentState, LexState.Blank);
    lexer.next();
    assert.equal(lexer.currentState, LexState.Blank);
    assert.throws(() => lexer.next(), /unexpected end of file/);
    assert.equal(lexer.currentState, LexState.DoubleQuoted);
  });
});

describe('lexer: nginx errors', () => {
  it('refuses a byte glued to a closing quote', () => {
    assert.equal(syntaxError('pid "a"b;').message, 'unexpected "b" in /etc/x.conf:1');
    assert.equal(syntaxError("pid 'a'\n'b''c';").message, `unexpected "'" in /etc/x.conf:2`);
    assert.equal(syntaxError('pid "a"#c').message, 'unexpected "#" in /etc/x.conf:1');
  });

  it('reports input that stops inside a word, with the last line', () => {
    assert.equal(syntaxError('pid "a;\n\n').message, 'unexpected end of file, expecting ";" or "}" in /etc/x.conf:3');
    assert.equal(syntaxError('pid a\\').message, 'unexpected end of file, expecting ";" or "}" in /etc/x.conf:1');
    assert.equal(syntaxError('pid a', { kind: 'command-line' }).message, 'unexpected end of parameter, expecting ";" in command line');
  });

  it('finds too long words at nginx buffer boundary, and only with more input after them', () => {
    const long = 'x'.repeat(CONF_BUFFER_SIZE);
    assert.equal(syntaxError(`env ${long};`).message, 'too long parameter "xxxxxxxxxx..." started in /etc/x.conf:1');
    assert.equal(syntaxError(`env "${long}";`).message, 'too long parameter, probably missing terminating """ character in /etc/x.conf:1');
    assert.equal(syntaxError(`env '${long}';`).message, `too long parameter, probably missing terminating "'" character in /etc/x.conf:1`);
    assert.equal(syntaxError(`\n# ${long}\n`).message, 'too long parameter "# xxxxxxxx..." started in /etc/x.conf:2');
    // Exactly 4096 bytes to the end of the file is an end-of-file error instead.
    assert.match(syntaxError(`env ${'x'.repeat(CONF_BUFFER_SIZE - 4)}`).message, /unexpected end of file/);
    // Blanks move the start of the run, so long runs of them are fine; so is -g text.
    assert.doesNotThrow(() => tokenize(`env a${' '.repeat(3 * CONF_BUFFER_SIZE)}b;`, FILE));
    assert.doesNotThrow(() => tokenize(`env ${long};`, { kind: 'command-line' }));
  });

  it('counts a 4095-byte word and its blank as one run, as nginx does', () => {
    assert.match(syntaxError(`env ${'x'.repeat(CONF_BUFFER_SIZE - 1)} a;`).message, /too long parameter "x{10}\.\.\." started/);
  });
});

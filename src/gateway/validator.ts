/**
 * `validator(app)`: the role of Python's `wsgiref.validate` for TSGI.
 *
 * Put it between a server and an application and it checks both sides of the contract in
 * docs/tsgi.md: the environ and streams the server provides, the calls the application makes
 * (`startResponse`, `write`, `tsgi.input`, `tsgi.errors`), the body it returns, and what the server
 * does with that body (iterate once, stop with `return()`, call `close()` exactly once). It changes
 * nothing on the way through; the one exception is that a body whose iteration it stopped with a
 * violation is still released (`return()` on the inner iterator), so a test run does not leak.
 *
 *   const app = validator(myApp, { onViolation: (e) => log(e.rule, e.message) });
 *
 * A violation throws `ValidationError` (code `ERR_TSGI_VALIDATION`) on the call stack of whoever
 * broke the rule, where that stack exists. The one violation with no stack to throw on is a body
 * the server never closes: it is found by `assertAllClosed()` (deterministic, for tests) or, as
 * wsgiref's `__del__` does, when the body is garbage-collected (a FinalizationRegistry), and
 * reported through `onViolation` (default: `process.emitWarning`).
 */
import { inspect } from 'node:util';
import { TsgiError } from '../errors.js';
import { isHopByHop } from './environ.js';
import type { App, Body, Chunk, Environ, ErrorStream, HeaderList, InputStream, StartResponse, Write } from './types.js';

/** Who broke a rule: the server (or middleware acting as one) or the application. */
export type Party = 'server' | 'app';

/**
 * Every rule the validator checks, in the order docs/tsgi.md lists them. `id` is stable: match on
 * it, never on message text. `rule` is the one-line statement of the rule.
 */
export const VALIDATION_RULES = [
  // The environ (server side).
  { id: 'environ-type', party: 'server', rule: 'environ is a plain object' },
  { id: 'environ-required', party: 'server', rule: 'every required CGI and tsgi.* key is present' },
  { id: 'cgi-string', party: 'server', rule: 'every key without a dot (CGI and HTTP_* variables) has a string value' },
  { id: 'http-content-headers', party: 'server', rule: 'no HTTP_CONTENT_TYPE or HTTP_CONTENT_LENGTH key (use CONTENT_TYPE, CONTENT_LENGTH)' },
  { id: 'request-method', party: 'server', rule: 'REQUEST_METHOD is an HTTP token' },
  { id: 'script-name', party: 'server', rule: "SCRIPT_NAME is '' or starts with '/' and does not end with '/'" },
  { id: 'path-info', party: 'server', rule: "PATH_INFO is '' or starts with '/'" },
  { id: 'path-required', party: 'server', rule: 'SCRIPT_NAME and PATH_INFO are not both empty' },
  { id: 'request-content-length', party: 'server', rule: 'CONTENT_LENGTH, when present, is decimal digits' },
  { id: 'server-name', party: 'server', rule: 'SERVER_NAME is not empty' },
  { id: 'server-port', party: 'server', rule: 'SERVER_PORT is decimal digits' },
  { id: 'server-protocol', party: 'server', rule: 'SERVER_PROTOCOL looks like HTTP/1.1' },
  { id: 'tsgi-version', party: 'server', rule: 'tsgi.version is a [major, minor] pair of non-negative integers' },
  { id: 'url-scheme', party: 'server', rule: "tsgi.url_scheme is 'http' or 'https'" },
  { id: 'tsgi-flags', party: 'server', rule: 'tsgi.multithread, tsgi.multiprocess and tsgi.run_once are booleans' },
  { id: 'input-methods', party: 'server', rule: 'tsgi.input has read, readline, readlines and [Symbol.asyncIterator]' },
  { id: 'errors-methods', party: 'server', rule: 'tsgi.errors has write, writelines and flush' },
  // tsgi.input and tsgi.errors in use.
  { id: 'input-args', party: 'app', rule: 'read(size), readline(size), readlines(hint) get an integer or nothing' },
  { id: 'input-result', party: 'server', rule: 'tsgi.input resolves to Uint8Array (lines end only at LF), never more than asked or than CONTENT_LENGTH' },
  { id: 'errors-args', party: 'app', rule: 'tsgi.errors.write gets a string, writelines an iterable of strings' },
  { id: 'stream-close', party: 'app', rule: 'the application never closes tsgi.input or tsgi.errors' },
  // startResponse().
  { id: 'status-format', party: 'app', rule: 'status is "NNN Reason": three digits, one space, a reason phrase, no control characters' },
  { id: 'status-code', party: 'app', rule: 'the status code is a final response code, 200 to 599' },
  { id: 'headers-type', party: 'app', rule: 'headers is an array of [name, value] pairs of strings' },
  { id: 'header-name', party: 'app', rule: "a header name is an HTTP token (no ':', space, CR, LF, NUL...)" },
  { id: 'header-status', party: 'app', rule: 'no Status header (the status is the first argument)' },
  { id: 'hop-by-hop', party: 'app', rule: 'no hop-by-hop header (Connection, Keep-Alive, Transfer-Encoding, ...)' },
  { id: 'header-value', party: 'app', rule: 'a header value has no control character other than tab (no CR, LF, NUL, DEL)' },
  { id: 'header-latin1', party: 'app', rule: 'a header value holds only code points up to U+00FF' },
  { id: 'start-response-twice', party: 'app', rule: 'startResponse is called once, again only with excInfo' },
  { id: 'write-function', party: 'server', rule: 'startResponse returns the write function' },
  { id: 'exc-info-rethrow', party: 'server', rule: 'once body bytes were sent, startResponse with excInfo rethrows excInfo' },
  // The response as a whole.
  { id: 'content-type-forbidden', party: 'app', rule: 'a 204 or 304 response has no Content-Type' },
  { id: 'content-type-missing', party: 'app', rule: 'a response with body bytes has a Content-Type' },
  { id: 'response-content-length', party: 'app', rule: 'one Content-Length at most, decimal digits, equal to the bytes of the body' },
  { id: 'body-forbidden', party: 'app', rule: 'a 204 or 304 response has no body bytes' },
  // write().
  { id: 'write-chunk', party: 'app', rule: 'write() gets a Uint8Array or a string' },
  { id: 'write-in-body', party: 'app', rule: 'write() is not called once the server started iterating the body' },
  { id: 'write-promise', party: 'server', rule: 'write() returns a promise that never rejects' },
  // The body.
  { id: 'body-type', party: 'app', rule: 'the application returns an iterable or async iterable object, not a string or bytes' },
  { id: 'chunk-type', party: 'app', rule: 'the body yields Uint8Array or string chunks' },
  { id: 'start-before-body', party: 'app', rule: 'startResponse is called before the body yields its first chunk or ends' },
  { id: 'iterate-once', party: 'server', rule: 'the server asks the body for an iterator once' },
  { id: 'next-after-close', party: 'server', rule: 'the server does not pull chunks after close()' },
  { id: 'iterator-return', party: 'server', rule: 'a server that stops iterating early calls the iterator return() (for...of does)' },
  { id: 'body-close', party: 'server', rule: 'the server calls the body close() exactly once' },
] as const satisfies ReadonlyArray<{ id: string; party: Party; rule: string }>;

export type ValidationRuleId = (typeof VALIDATION_RULES)[number]['id'];

/** The stable identifiers of every rule, in table order. */
export const VALIDATION_RULE_IDS: readonly ValidationRuleId[] = VALIDATION_RULES.map((entry) => entry.id);

const PARTY_OF = new Map<ValidationRuleId, Party>(VALIDATION_RULES.map((entry) => [entry.id, entry.party]));

/** A server or an application broke a TSGI rule; `rule` says which one. */
export class ValidationError extends TsgiError {
  readonly rule: ValidationRuleId;
  readonly party: Party;
  constructor(rule: ValidationRuleId, detail: string, options?: { cause?: unknown }) {
    super('ERR_TSGI_VALIDATION', `TSGI rule "${rule}": ${detail}`, options);
    this.rule = rule;
    this.party = PARTY_OF.get(rule) ?? 'app';
  }
}

export interface ValidatorOptions {
  /**
   * Called with every violation. Those that can be thrown are thrown right after (a server that
   * swallows application errors still shows them here); a body garbage-collected without
   * `close()` has no caller to throw to and is only reported here. Default: thrown violations are
   * not reported twice, unclosed bodies go to `process.emitWarning`.
   */
  onViolation?: (error: ValidationError) => void;
}

/** The wrapped application, plus the check that only the end of a run can make. */
export interface ValidatedApp extends App {
  /** `METHOD path` of every body returned and not closed yet. */
  unclosedBodies(): string[];
  /** Throws `body-close` if a body is still unclosed. Call it when the server is idle (end of a test). */
  assertAllClosed(): void;
}

type Fail = (rule: ValidationRuleId, detail: string, cause?: unknown) => ValidationError;
type Method = (...args: unknown[]) => unknown;

// RFC 9110 §5.6.2: token = 1*tchar.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ); PEP 3333 also forbids
// surrounding whitespace, so the phrase starts and ends with a visible character.
const STATUS_LINE = /^\d{3} [\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?$/;
// Control characters a field value must not carry (RFC 9110 §5.5 allows HTAB only).
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const BEYOND_LATIN1 = /[^\x00-\xff]/;
const DIGITS = /^\d+$/;
const HTTP_VERSION = /^HTTP\/\d+(?:\.\d+)?$/;
const LF = 0x0a;
const FIRST_FINAL_STATUS = 200;
const LAST_STATUS = 599;
/** Responses that carry no body (RFC 9110 §6.4.1); wsgiref's NO_MESSAGE_BODY. */
const NO_BODY_STATUS: ReadonlySet<number> = new Set([204, 304]);
const REQUIRED_KEYS = [
  'REQUEST_METHOD',
  'SCRIPT_NAME',
  'PATH_INFO',
  'QUERY_STRING',
  'SERVER_NAME',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
  'REMOTE_ADDR',
  'REMOTE_PORT',
  'tsgi.version',
  'tsgi.url_scheme',
  'tsgi.input',
  'tsgi.errors',
  'tsgi.multithread',
  'tsgi.multiprocess',
  'tsgi.run_once',
] as const;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
  return inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 4, maxStringLength: 40 });
}

function isRecord(value: unknown): value is Record<PropertyKey, unknown> {
  return typeof value === 'object' && value !== null;
}

function isArray(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}

function isMethod(value: unknown): value is Method {
  return typeof value === 'function';
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return isRecord(value) && isMethod(value.then);
}

function isChunk(value: unknown): value is Chunk {
  return typeof value === 'string' || value instanceof Uint8Array;
}

function byteLength(chunk: Chunk): number {
  return typeof chunk === 'string' ? Buffer.byteLength(chunk, 'utf8') : chunk.byteLength;
}

/** `undefined`, or an integer: what read(size), readline(size) and readlines(hint) accept. */
function isSizeArgument(value: unknown): boolean {
  return value === undefined || Number.isInteger(value);
}

// ---------------------------------------------------------------------------------------------
// The environ

function checkEnviron(environ: unknown, fail: Fail): void {
  if (!isRecord(environ) || isArray(environ)) {
    throw fail('environ-type', `environ must be a plain object, got ${describe(environ)}`);
  }
  const proto: unknown = Object.getPrototypeOf(environ);
  if (proto !== Object.prototype && proto !== null) {
    // PEP 3333 asks for a builtin dict, not an emulation: applications copy and spread it.
    throw fail('environ-type', `environ must be a plain object, got ${describe(environ)}`);
  }
  for (const key of REQUIRED_KEYS) {
    if (environ[key] === undefined) throw fail('environ-required', `environ has no ${key}`);
  }
  for (const [key, value] of Object.entries(environ)) {
    // Keys with a dot are tsgi.* or server extensions, whose types the spec does not fix.
    if (!key.includes('.') && value !== undefined && typeof value !== 'string') {
      throw fail('cgi-string', `environ ${key} must be a string, got ${describe(value)}`);
    }
  }
  for (const key of ['HTTP_CONTENT_TYPE', 'HTTP_CONTENT_LENGTH']) {
    if (environ[key] !== undefined) {
      throw fail('http-content-headers', `environ has ${key}; the header belongs in ${key.slice('HTTP_'.length)}`);
    }
  }
  // The required CGI keys are strings from here on (cgi-string).
  const text = (key: string): string => String(environ[key]);
  const method = text('REQUEST_METHOD');
  if (!TOKEN.test(method)) throw fail('request-method', `REQUEST_METHOD must be a token, got ${describe(method)}`);
  const scriptName = text('SCRIPT_NAME');
  if (scriptName !== '' && (!scriptName.startsWith('/') || scriptName.endsWith('/'))) {
    throw fail(
      'script-name',
      `SCRIPT_NAME must be '' or start with '/' and not end with '/', got ${describe(scriptName)}` +
        (scriptName === '/' ? " (the root is SCRIPT_NAME '' with PATH_INFO '/')" : ''),
    );
  }
  const pathInfo = text('PATH_INFO');
  if (pathInfo !== '' && !pathInfo.startsWith('/')) {
    throw fail('path-info', `PATH_INFO must be '' or start with '/', got ${describe(pathInfo)}`);
  }
  if (scriptName === '' && pathInfo === '') {
    throw fail('path-required', "SCRIPT_NAME and PATH_INFO are both empty; a request for the root has PATH_INFO '/'");
  }
  const contentLength = environ.CONTENT_LENGTH;
  if (contentLength !== undefined && !DIGITS.test(String(contentLength))) {
    throw fail('request-content-length', `CONTENT_LENGTH must be digits or absent, got ${describe(contentLength)}`);
  }
  if (text('SERVER_NAME') === '') throw fail('server-name', 'SERVER_NAME is empty');
  const port = text('SERVER_PORT');
  if (!DIGITS.test(port)) throw fail('server-port', `SERVER_PORT must be digits, got ${describe(port)}`);
  const protocol = text('SERVER_PROTOCOL');
  if (!HTTP_VERSION.test(protocol)) {
    throw fail('server-protocol', `SERVER_PROTOCOL must look like "HTTP/1.1", got ${describe(protocol)}`);
  }
  const version = environ['tsgi.version'];
  if (!isArray(version) || version.length !== 2 || !version.every((n) => Number.isInteger(n) && Number(n) >= 0)) {
    throw fail('tsgi-version', `tsgi.version must be a [major, minor] pair of integers, got ${describe(version)}`);
  }
  const scheme = environ['tsgi.url_scheme'];
  if (scheme !== 'http' && scheme !== 'https') {
    throw fail('url-scheme', `tsgi.url_scheme must be 'http' or 'https', got ${describe(scheme)}`);
  }
  for (const key of ['tsgi.multithread', 'tsgi.multiprocess', 'tsgi.run_once']) {
    if (typeof environ[key] !== 'boolean') throw fail('tsgi-flags', `${key} must be a boolean, got ${describe(environ[key])}`);
  }
  const input = environ['tsgi.input'];
  for (const name of ['read', 'readline', 'readlines', Symbol.asyncIterator] as const) {
    if (!isRecord(input) || !isMethod(input[name])) {
      throw fail('input-methods', `tsgi.input has no ${String(name)}() method`);
    }
  }
  const errors = environ['tsgi.errors'];
  for (const name of ['write', 'writelines', 'flush'] as const) {
    if (!isRecord(errors) || !isMethod(errors[name])) {
      throw fail('errors-methods', `tsgi.errors has no ${name}() method`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// tsgi.input and tsgi.errors

/**
 * Checks what the application passes in and what the server hands back. Like wsgiref's
 * InputWrapper it offers only the methods of the spec, plus a `close()` that is a violation.
 */
class ValidatedInput implements InputStream {
  private delivered = 0;

  constructor(
    private readonly inner: InputStream,
    /** CONTENT_LENGTH, when the request has one: the server must simulate end of body there. */
    private readonly limit: number | undefined,
    private readonly fail: Fail,
  ) {}

  read(size?: number): Promise<Uint8Array> {
    this.checkArgument('read', 'size', size);
    const pending: unknown = this.inner.read(size);
    return this.settle('read', pending, size).then((bytes) => this.count(bytes));
  }

  readline(size?: number): Promise<Uint8Array> {
    this.checkArgument('readline', 'size', size);
    const pending: unknown = this.inner.readline(size);
    return this.settle('readline', pending, size).then((line) => {
      this.checkLine('readline', line, true);
      return this.count(line);
    });
  }

  readlines(hint?: number): Promise<Uint8Array[]> {
    this.checkArgument('readlines', 'hint', hint);
    const pending: unknown = this.inner.readlines(hint);
    if (!isThenable(pending)) throw this.fail('input-result', `readlines() returned ${describe(pending)}, not a promise`);
    return Promise.resolve(pending).then((lines) => {
      if (!isArray(lines)) throw this.fail('input-result', `readlines() resolved to ${describe(lines)}, not an array`);
      const out: Uint8Array[] = [];
      lines.forEach((line, i) => {
        if (!(line instanceof Uint8Array)) {
          throw this.fail('input-result', `readlines() gave ${describe(line)}, not a Uint8Array`);
        }
        this.checkLine('readlines', line, i === lines.length - 1);
        out.push(this.count(line));
      });
      return out;
    });
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    for await (const chunk of this.inner) {
      const value: unknown = chunk;
      if (!(value instanceof Uint8Array)) {
        throw this.fail('input-result', `iterating tsgi.input gave ${describe(value)}, not a Uint8Array`);
      }
      yield this.count(value);
    }
  }

  close(): never {
    throw this.fail('stream-close', 'the application must not close tsgi.input; the server owns it');
  }

  private checkArgument(method: string, name: string, value: unknown): void {
    if (!isSizeArgument(value)) {
      throw this.fail('input-args', `tsgi.input.${method}(${name}) takes an integer or nothing, got ${describe(value)}`);
    }
  }

  private async settle(method: string, pending: unknown, size: number | undefined): Promise<Uint8Array> {
    if (!isThenable(pending)) throw this.fail('input-result', `${method}() returned ${describe(pending)}, not a promise`);
    const value: unknown = await pending;
    if (!(value instanceof Uint8Array)) {
      throw this.fail('input-result', `${method}() resolved to ${describe(value)}, not a Uint8Array`);
    }
    if (size !== undefined && size >= 0 && value.length > size) {
      throw this.fail('input-result', `${method}(${size}) gave ${value.length} bytes`);
    }
    return value;
  }

  /** A line holds at most one LF, at its end; only the last line of the body may lack it. */
  private checkLine(method: string, line: Uint8Array, mayLackLf: boolean): void {
    const lf = line.indexOf(LF);
    const endsWithLf = lf === line.length - 1 && line.length > 0;
    if ((lf >= 0 && !endsWithLf) || (!mayLackLf && !endsWithLf)) {
      throw this.fail('input-result', `${method}() gave a line with a LF inside or missing: ${describe(Buffer.from(line).toString('latin1'))}`);
    }
  }

  private count(bytes: Uint8Array): Uint8Array {
    this.delivered += bytes.length;
    if (this.limit !== undefined && this.delivered > this.limit) {
      throw this.fail('input-result', `tsgi.input gave ${this.delivered} bytes, past CONTENT_LENGTH ${this.limit}`);
    }
    return bytes;
  }
}

class ValidatedErrors implements ErrorStream {
  constructor(
    private readonly inner: ErrorStream,
    private readonly fail: Fail,
  ) {}

  write(text: string): void {
    const value: unknown = text;
    if (typeof value !== 'string') throw this.fail('errors-args', `tsgi.errors.write() takes a string, got ${describe(value)}`);
    this.inner.write(value);
  }

  writelines(lines: Iterable<string>): void {
    const value: unknown = lines;
    // A bare string is iterable too, but would be logged one character per "line".
    if (typeof value === 'string' || !isRecord(value) || !isMethod(value[Symbol.iterator])) {
      throw this.fail('errors-args', `tsgi.errors.writelines() takes an iterable of strings, got ${describe(value)}`);
    }
    const collected: string[] = [];
    for (const line of lines) {
      const item: unknown = line;
      if (typeof item !== 'string') throw this.fail('errors-args', `tsgi.errors.writelines() got ${describe(item)}, not a string`);
      collected.push(item);
    }
    this.inner.writelines(collected);
  }

  flush(): void {
    this.inner.flush();
  }

  close(): never {
    throw this.fail('stream-close', 'the application must not close tsgi.errors; the server owns it');
  }
}

// ---------------------------------------------------------------------------------------------
// One request: startResponse, write, and the response bytes

function checkStatus(status: unknown, fail: Fail): number {
  if (typeof status !== 'string' || !STATUS_LINE.test(status)) {
    throw fail('status-format', `status must be "NNN Reason", got ${describe(status)}`);
  }
  const code = Number(status.slice(0, 3));
  if (code < FIRST_FINAL_STATUS || code > LAST_STATUS) {
    throw fail('status-code', `status code must be ${FIRST_FINAL_STATUS}-${LAST_STATUS}, got ${code}`);
  }
  return code;
}

function checkHeaders(headers: unknown, fail: Fail): asserts headers is HeaderList {
  if (!isArray(headers)) throw fail('headers-type', `headers must be an array of [name, value] pairs, got ${describe(headers)}`);
  for (const item of headers) {
    if (!isArray(item) || item.length !== 2 || typeof item[0] !== 'string' || typeof item[1] !== 'string') {
      throw fail('headers-type', `each header must be a [name, value] pair of strings, got ${describe(item)}`);
    }
    const name = item[0];
    const value = item[1];
    if (!TOKEN.test(name)) throw fail('header-name', `header name ${describe(name)} is not an HTTP token`);
    const lower = name.toLowerCase();
    if (lower === 'status') {
      throw fail('header-status', 'a Status header is CGI, not TSGI: pass the status as the first argument');
    }
    if (isHopByHop(lower)) {
      throw fail('hop-by-hop', `${name} is a hop-by-hop header; the server owns connection management and framing`);
    }
    if (CONTROL.test(value)) throw fail('header-value', `header ${name} has a control character: ${describe(value)}`);
    if (BEYOND_LATIN1.test(value)) {
      throw fail('header-latin1', `header ${name} has a character beyond U+00FF (encode it, e.g. RFC 8187): ${describe(value)}`);
    }
  }
}

/** What the validator remembers about one request, shared by startResponse, write and the body. */
class Exchange {
  readonly description: string;
  private readonly isHead: boolean;
  private startCalls = 0;
  private statusCode = 0;
  private hasContentType = false;
  private declaredLength: number | undefined;
  private bytes = 0;
  /** A non-empty chunk reached the server, so its headers are out (or committed). */
  private contentSent = false;
  /** The server asked the body for its iterator. */
  bodyStarted = false;

  constructor(
    environ: Environ,
    private readonly fail: Fail,
  ) {
    this.description = `${environ.REQUEST_METHOD} ${environ.SCRIPT_NAME}${environ.PATH_INFO}`;
    this.isHead = environ.REQUEST_METHOD === 'HEAD';
  }

  wrapStartResponse(server: StartResponse): StartResponse {
    const fail = this.fail;
    return (status: string, headers: HeaderList, excInfo?: unknown): Write => {
      // Python's `if exc_info:`: null stands for None.
      const given = excInfo !== undefined && excInfo !== null;
      if (this.startCalls > 0 && !given) {
        throw fail('start-response-twice', 'startResponse() was already called; call it again only with excInfo');
      }
      // Counted before the checks: PEP 3333 makes a second call without excInfo fatal even when
      // the first one raised.
      this.startCalls += 1;
      const code = checkStatus(status, fail);
      checkHeaders(headers, fail);
      let contentType = false;
      let declared: number | undefined;
      for (const [name, value] of headers) {
        const lower = name.toLowerCase();
        if (lower === 'content-type') contentType = true;
        if (lower === 'content-length') {
          if (declared !== undefined) throw fail('response-content-length', 'more than one Content-Length header');
          if (!DIGITS.test(value)) throw fail('response-content-length', `Content-Length must be digits, got ${describe(value)}`);
          declared = Number(value);
        }
      }
      if (contentType && NO_BODY_STATUS.has(code)) {
        throw fail('content-type-forbidden', `a ${code} response has no body, so no Content-Type`);
      }
      if (given && this.contentSent) {
        try {
          server(status, headers, excInfo);
        } catch (error) {
          if (error === excInfo) throw error;
          throw fail('exc-info-rethrow', `startResponse() threw ${describe(error)} instead of rethrowing excInfo`, error);
        }
        throw fail('exc-info-rethrow', 'body bytes were already sent, so startResponse() with excInfo must rethrow it; it returned');
      }
      const write: unknown = given ? server(status, headers, excInfo) : server(status, headers);
      if (!isMethod(write)) throw fail('write-function', `startResponse() returned ${describe(write)}, not a write function`);
      this.statusCode = code;
      this.hasContentType = contentType;
      this.declaredLength = declared;
      return (chunk: Chunk) => this.write(write, chunk);
    };
  }

  private write(serverWrite: Method, chunk: Chunk): Promise<void> {
    if (this.bodyStarted) {
      // PEP 3333: write() output must precede the iterable's, and the server may already be done.
      throw this.fail('write-in-body', 'write() was called after the server started iterating the body; yield the chunk instead');
    }
    this.deliver(chunk, 'write-chunk');
    let pending: unknown;
    try {
      pending = serverWrite(chunk);
    } catch (error) {
      throw this.fail('write-promise', `write() threw ${describe(error)}; it must return a promise`, error);
    }
    if (!isThenable(pending)) throw this.fail('write-promise', `write() returned ${describe(pending)}, not a promise`);
    return Promise.resolve(pending).then(
      () => undefined,
      (error: unknown) => {
        throw this.fail('write-promise', `write() rejected with ${describe(error)}; it must resolve even when the client is gone`, error);
      },
    );
  }

  /** A chunk on its way to the server, yielded or written. Returns it once it is known to be a Chunk. */
  deliver(chunk: unknown, typeRule: 'chunk-type' | 'write-chunk'): Chunk {
    if (!isChunk(chunk)) throw this.fail(typeRule, `a body chunk must be a Uint8Array or a string, got ${describe(chunk)}`);
    if (this.startCalls === 0) {
      throw this.fail('start-before-body', 'the body yielded a chunk before startResponse() was called');
    }
    const size = byteLength(chunk);
    if (size === 0) return chunk;
    if (NO_BODY_STATUS.has(this.statusCode)) {
      throw this.fail('body-forbidden', `a ${this.statusCode} response has no body, got ${size} bytes`);
    }
    if (!this.hasContentType) {
      // wsgiref asks for Content-Type on every response but 204/304; TSGI only where there are
      // bytes to type, so that redirects and empty responses need none.
      throw this.fail('content-type-missing', `the response has body bytes but no Content-Type header`);
    }
    this.bytes += size;
    if (this.declaredLength !== undefined && !this.isHead && this.bytes > this.declaredLength) {
      throw this.fail('response-content-length', `Content-Length is ${this.declaredLength} but the body has at least ${this.bytes} bytes`);
    }
    this.contentSent = true;
    return chunk;
  }

  /** The body reported its end to the server. */
  end(): void {
    if (this.startCalls === 0) throw this.fail('start-before-body', 'the body ended and startResponse() was never called');
    if (
      this.declaredLength !== undefined &&
      !this.isHead &&
      !NO_BODY_STATUS.has(this.statusCode) &&
      this.bytes !== this.declaredLength
    ) {
      throw this.fail('response-content-length', `Content-Length is ${this.declaredLength} but the body had ${this.bytes} bytes`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The body and its close()

interface BodyRecord {
  readonly description: string;
  closed: boolean;
}

/**
 * Which bodies are still open. A record holds no reference to its body, so a body the server
 * forgot can be collected, and the registry then reports it.
 */
class CloseTracker {
  private readonly open = new Set<BodyRecord>();
  private readonly registry: FinalizationRegistry<BodyRecord>;

  constructor(private readonly fail: Fail) {
    this.registry = new FinalizationRegistry((record) => {
      if (record.closed) return;
      this.open.delete(record);
      this.fail('body-close', `the body of ${record.description} was garbage-collected without close()`);
    });
  }

  opened(body: object, description: string): BodyRecord {
    const record: BodyRecord = { description, closed: false };
    this.open.add(record);
    this.registry.register(body, record, record);
    return record;
  }

  closed(record: BodyRecord): void {
    record.closed = true;
    this.open.delete(record);
    this.registry.unregister(record);
  }

  unclosed(): string[] {
    return [...this.open].map((record) => record.description);
  }
}

interface RawIterator {
  readonly target: object;
  readonly next: Method;
  readonly return: Method | undefined;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * The state behind one wrapped body. `innerDone` is the application iterator's view (finished,
 * threw, or returned); `serverDone` is the server's (it saw the end or an error, or called
 * return()). They differ when a violation thrown here stopped the server mid-body.
 */
class BodyGuard {
  private obtained = false;
  private closed = false;
  private innerDone = false;
  private serverDone = false;
  private inner: RawIterator | undefined;
  private record: BodyRecord | undefined;

  constructor(
    private readonly original: Record<PropertyKey, unknown>,
    private readonly exchange: Exchange,
    private readonly tracker: CloseTracker,
    private readonly fail: Fail,
  ) {}

  /** Starts watching `wrapper`, the object the server holds, for a missing close(). */
  track(wrapper: object): void {
    this.record = this.tracker.opened(wrapper, this.exchange.description);
  }

  private open(factory: Method): RawIterator {
    if (this.closed) throw this.fail('next-after-close', 'the server asked for the body iterator after close()');
    if (this.obtained) throw this.fail('iterate-once', 'the server asked the body for an iterator a second time');
    this.obtained = true;
    this.exchange.bodyStarted = true;
    const iterator: unknown = factory.call(this.original);
    if (!isRecord(iterator) || !isMethod(iterator.next)) {
      throw this.fail('body-type', `the body iterator factory returned ${describe(iterator)}, not an iterator`);
    }
    const ret = iterator.return;
    this.inner = { target: iterator, next: iterator.next, return: isMethod(ret) ? ret : undefined };
    return this.inner;
  }

  openSync(factory: Method): Iterator<Chunk> {
    const inner = this.open(factory);
    return {
      next: () => {
        this.checkPull();
        if (this.serverDone) return DONE;
        let result: unknown;
        try {
          result = inner.next.call(inner.target);
        } catch (error) {
          this.innerDone = this.serverDone = true;
          throw error;
        }
        return this.accept(result);
      },
      return: (value?: unknown) => {
        this.serverDone = true;
        if (!this.innerDone && inner.return) {
          this.innerDone = true;
          inner.return.call(inner.target, value);
        }
        return DONE;
      },
    };
  }

  openAsync(factory: Method): AsyncIterator<Chunk> {
    const inner = this.open(factory);
    return {
      next: async () => {
        this.checkPull();
        if (this.serverDone) return DONE;
        let result: unknown;
        try {
          result = await inner.next.call(inner.target);
        } catch (error) {
          this.innerDone = this.serverDone = true;
          throw error;
        }
        return this.accept(result);
      },
      return: async (value?: unknown) => {
        this.serverDone = true;
        if (!this.innerDone && inner.return) {
          this.innerDone = true;
          await inner.return.call(inner.target, value);
        }
        return DONE;
      },
    };
  }

  private checkPull(): void {
    if (this.closed) throw this.fail('next-after-close', 'the server pulled a chunk after close()');
  }

  private accept(result: unknown): IteratorResult<Chunk, undefined> {
    if (!isRecord(result)) {
      this.innerDone = this.serverDone = true;
      throw this.fail('body-type', `the body iterator next() gave ${describe(result)}, not {done, value}`);
    }
    if (result.done) {
      this.innerDone = this.serverDone = true;
      this.exchange.end();
      return DONE;
    }
    try {
      return { done: false, value: this.exchange.deliver(result.value, 'chunk-type') };
    } catch (error) {
      // The server sees next() throw, so it owes no return(); the application iterator is still
      // suspended and is released in close().
      this.serverDone = true;
      throw error;
    }
  }

  close(): void | Promise<void> {
    if (this.closed) throw this.fail('body-close', `close() was called twice on the body of ${this.exchange.description}`);
    this.closed = true;
    if (this.record) this.tracker.closed(this.record);
    const leftOpen = this.obtained && !this.serverDone;
    // Every step runs even if one before failed (the body must be released whatever happens);
    // the first failure is the one thrown.
    return runInOrder([
      () => {
        if (leftOpen) {
          throw this.fail('iterator-return', 'the server stopped iterating before the end without calling return()');
        }
      },
      () => this.releaseInner(),
      () => {
        const closeMethod = this.original.close;
        return isMethod(closeMethod) ? closeMethod.call(this.original) : undefined;
      },
    ]);
  }

  /** Finishes an application iterator left suspended (see accept), as return() would have. */
  private releaseInner(): unknown {
    const inner = this.inner;
    if (!inner || this.innerDone || !inner.return) return undefined;
    this.innerDone = true;
    return inner.return.call(inner.target);
  }
}

/**
 * Runs `steps` in order, each one even if an earlier one threw or rejected, then throws the first
 * failure. Stays synchronous until a step returns a promise.
 */
function runInOrder(steps: ReadonlyArray<() => unknown>, from = 0, failure?: { error: unknown }): void | Promise<void> {
  for (let i = from; i < steps.length; i++) {
    let result: unknown;
    try {
      result = steps[i]!();
    } catch (error) {
      failure ??= { error };
      continue;
    }
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        () => runInOrder(steps, i + 1, failure),
        (error: unknown) => runInOrder(steps, i + 1, failure ?? { error }),
      );
    }
  }
  if (failure) throw failure.error;
}

function wrapBody(value: unknown, exchange: Exchange, tracker: CloseTracker, fail: Fail): Body {
  if (typeof value === 'string' || ArrayBuffer.isView(value)) {
    // wsgiref's check_iterator: iterating a string or bytes sends one character or byte at a time.
    throw fail('body-type', `the application returned ${describe(value)}; return [chunk] instead`);
  }
  if (!isRecord(value)) throw fail('body-type', `the application returned ${describe(value)}, not an iterable body`);
  const syncFactory = value[Symbol.iterator];
  const asyncFactory = value[Symbol.asyncIterator];
  if (!isMethod(syncFactory) && !isMethod(asyncFactory)) {
    throw fail('body-type', `the application returned ${describe(value)}, which is neither iterable nor async iterable`);
  }
  // The wrapper always has close(), as wsgiref's IteratorWrapper does: the server must call it
  // whether or not the application body has one. It offers the same iteration protocols as the
  // original, so a server's sync fast path stays the path it takes.
  const guard = new BodyGuard(value, exchange, tracker, fail);
  const close = (): void | Promise<void> => guard.close();
  let wrapper: Body;
  if (isMethod(syncFactory) && isMethod(asyncFactory)) {
    wrapper = {
      close,
      [Symbol.iterator]: () => guard.openSync(syncFactory),
      [Symbol.asyncIterator]: () => guard.openAsync(asyncFactory),
    };
  } else if (isMethod(syncFactory)) {
    wrapper = { close, [Symbol.iterator]: () => guard.openSync(syncFactory) };
  } else if (isMethod(asyncFactory)) {
    wrapper = { close, [Symbol.asyncIterator]: () => guard.openAsync(asyncFactory) };
  } else {
    throw fail('body-type', 'unreachable: the body has no iterator');
  }
  guard.track(wrapper);
  return wrapper;
}

// ---------------------------------------------------------------------------------------------

/**
 * Wraps `app` so that every request checks the server and the application against docs/tsgi.md.
 * Meant for development and tests: it costs a few closures and checks per request and chunk.
 */
export function validator(app: App, options: ValidatorOptions = {}): ValidatedApp {
  const { onViolation } = options;
  const fail: Fail = (rule, detail, cause) => {
    const error = new ValidationError(rule, detail, cause === undefined ? undefined : { cause });
    onViolation?.(error);
    return error;
  };
  // A collected body has nobody to throw to: report it, by default as a process warning.
  const reportOnly: Fail = (rule, detail) => {
    const error = new ValidationError(rule, detail);
    if (onViolation) onViolation(error);
    else process.emitWarning(error);
    return error;
  };
  const tracker = new CloseTracker(reportOnly);

  const validated: App = (environ, startResponse) => {
    checkEnviron(environ, fail);
    const exchange = new Exchange(environ, fail);
    const length = environ.CONTENT_LENGTH === undefined ? undefined : Number(environ.CONTENT_LENGTH);
    environ['tsgi.input'] = new ValidatedInput(environ['tsgi.input'], length, fail);
    environ['tsgi.errors'] = new ValidatedErrors(environ['tsgi.errors'], fail);
    const result: unknown = app(environ, exchange.wrapStartResponse(startResponse));
    if (isThenable(result)) return Promise.resolve(result).then((body) => wrapBody(body, exchange, tracker, fail));
    return wrapBody(result, exchange, tracker, fail);
  };

  return Object.assign(validated, {
    unclosedBodies: () => tracker.unclosed(),
    assertAllClosed: () => {
      const open = tracker.unclosed();
      if (open.length > 0) throw fail('body-close', `the server did not call close() on the body of ${open.join(', ')}`);
    },
  });
}

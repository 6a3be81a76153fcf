/**
 * The test site: a temp directory of files, and one list of locations written as nginx
 * directives. `nginxConfig` prints the locations for the real nginx; `TsgiSite` reads the same
 * directives into StaticConf objects and answers requests the way the web server will (location
 * matching, internal redirects, default error pages), so both sides run the same configuration.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, readdirSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLocationMatcher, parseRequestTarget, type LocationDef, type LocationMatcher } from '../../../src/web/match/index.js';
import {
  createStaticConf,
  defaultPage,
  errorResponse,
  fileEtag,
  httpDate,
  parseExpires,
  parseMimeTypes,
  serveStatic,
  StaticContext,
  type FileMapping,
  type StaticBody,
  type StaticConf,
  type StaticConfInput,
  type StaticContextOptions,
  type StaticRequestHeaders,
} from '../../../src/web/static/index.js';

/** One directive: name and arguments, "{www}" and "{data}" standing for the site's folders. */
export type Directive = readonly [name: string, ...args: string[]];

export interface SiteLocation {
  readonly modifier: '' | '=' | '^~' | '@' | '~';
  readonly pattern: string;
  readonly directives: readonly Directive[];
}

/** A fixed mtime for every file, so ETags and dates are the same on every run. */
export const SITE_MTIME = Date.UTC(2024, 0, 15, 10, 30, 45) / 1000;

export interface SiteFiles {
  readonly dir: string;
  readonly www: string;
  readonly data: string;
  remove(): void;
}

const LONG_NAME = 'a-file-with-a-name-longer-than-fifty-bytes-for-the-listing.txt';

/** Builds the files both servers serve. */
export function buildSiteFiles(): SiteFiles {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-static-'));
  const www = join(dir, 'www');
  const data = join(dir, 'data');
  const file = (rel: string, content: string | Buffer): void => {
    const path = join(dir, rel);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
  };
  file('www/a.txt', 'hello\n');
  file('www/index.html', '<h1>root index</h1>\n');
  file('www/page.HTML', '<p>upper-case extension</p>\n');
  file('www/noext', 'no extension\n');
  file('www/.hidden', 'dot file\n');
  file('www/empty.txt', '');
  file('www/app.js', 'console.log(1);\n');
  file('www/style.css', 'body{}\n');
  file('www/pic.png', Buffer.from('89504e470d0a1a0a', 'hex'));
  file('www/archive.tar.gz', 'not really gzip\n');
  // Larger than the cache's 1 MiB: served from disk in slices.
  const big = Buffer.allocUnsafe(1200 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 8)) & 0xff;
  file('www/big.bin', big);
  file('www/dir/sub/inner.txt', 'inner\n');
  file('www/dir/plain.txt', 'plain\n');
  file('www/dir/.secret', 'hidden from listings\n');
  file("www/dir/sp ace!$&'()*+,;=:@[]~<>\"#%.txt", 'odd name\n');
  file(`www/dir/${LONG_NAME}`, 'long\n');
  file('www/dir/h\u00e9llo-\u00fcml\u00e4ut.txt', 'utf-8 name\n');
  file(`www/dir/\u00e9${'\u00e9'.repeat(55)}.txt`, 'long utf-8 name\n');
  file('www/dir/tab\there.txt', 'tab\n');
  file('www/dir/emoji-\u{1f600}-\u{1f600}-\u{1f600}-\u{1f600}-\u{1f600}-\u{1f600}-\u{1f600}-\u{1f600}-\u{1f600}-\u{1f600}.txt', 'emoji\n');
  // Names that are not UTF-8: listed by bytes even with charset utf-8.
  writeFileSync(Buffer.from(join(www, 'dir', 'latin1-\xe9t\xe9.txt'), 'latin1'), 'latin-1 name\n');
  writeFileSync(Buffer.from(join(www, 'dir', `bad-${'\xff'.repeat(50)}.txt`), 'latin1'), 'bad name\n');
  file('www/dir/kib.bin', Buffer.alloc(12_345, 1));
  file('www/dir/<b>/x.txt', 'x\n');
  file('www/dir/mib.bin', Buffer.alloc(1_572_864, 2));
  file('www/withindex/index.html', '<h1>withindex</h1>\n');
  file('www/idx2/index.htm', 'index.htm\n');
  file('www/tf/real.txt', 'try_files hit\n');
  file('www/tf/sub/index.html', 'tf sub index\n');
  file('www/tfdir/sub/x.txt', 'x\n');
  file('data/images/p.txt', 'image\n');
  file('data/secret.txt', 'TOPSECRET\n');
  file('data/imagesx/q.txt', 'sibling\n');
  symlinkSync('a.txt', join(www, 'link-to-a.txt'));
  symlinkSync('dir', join(www, 'link-dir'));
  symlinkSync('loop', join(www, 'loop'));
  symlinkSync('../plain.txt', join(www, 'dir/sub/up-link.txt'));
  symlinkSync('sub', join(www, 'dir/link-to-sub'));
  symlinkSync('nowhere', join(www, 'dir/dangling'));
  execFileSync('mkfifo', [join(www, 'fifo')]);
  // Pin every mtime (directories last: creating files changed theirs). Names may not be UTF-8.
  const walk = (path: Buffer): void => {
    const stats = lstatSync(path);
    if (stats.isDirectory()) {
      for (const name of readdirSync(path, { encoding: 'buffer' })) walk(Buffer.concat([path, Buffer.from('/'), name]));
    }
    if (stats.isFile() || stats.isDirectory()) utimesSync(path, SITE_MTIME, SITE_MTIME);
  };
  walk(Buffer.from(dir));
  return { dir, www, data, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The facts of a file the cases refer to: its ETag and Last-Modified. */
export function fileFacts(files: SiteFiles, rel: string): { etag: string; mtime: number; lastModified: string } {
  const stats = statSync(join(files.www, rel));
  const mtime = Math.floor(stats.mtimeMs / 1000);
  return { etag: fileEtag(mtime, stats.size), mtime, lastModified: httpDate(mtime) };
}

/** The location blocks (and the server-level directives) for nginx.conf. */
export function nginxConfig(files: SiteFiles, server: readonly Directive[], locations: readonly SiteLocation[]): string {
  const directive = ([name, ...args]: Directive): string => `${name} ${args.map((arg) => quote(place(files, arg))).join(' ')};`;
  const blocks = locations.map((location) => {
    const head = location.modifier === '@' ? `@${location.pattern}` : `${location.modifier} ${location.pattern}`.trim();
    return `location ${head} { ${location.directives.map(directive).join(' ')} }`;
  });
  return [...server.map(directive), ...blocks].join('\n    ');
}

/** nginx.conf quoting: arguments with spaces, quotes or special characters go in double quotes. */
function quote(arg: string): string {
  return /[\s;{}"'#\\]/.test(arg) ? `"${arg.replace(/["\\]/g, (c) => '\\' + c)}"` : arg;
}

const place = (files: SiteFiles, arg: string): string => arg.replaceAll('{www}', files.www).replaceAll('{data}', files.data);

/** What a server answered, in the form the parity test compares. */
export interface Answer {
  readonly status: number;
  /** Headers as [name, value], Server / Date / Connection / Transfer-Encoding left out. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
}

export interface SiteRequest {
  readonly method: string;
  /** The request-target as sent (a byte string). */
  readonly target: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly httpVersion: number;
}

type Handler =
  /** `documentRoot`: an alias with captures ($1), expanded per request. */
  | { readonly kind: 'static'; readonly conf: StaticConf; readonly documentRoot?: string }
  /** `return CODE "text"` with $uri and $args. */
  | { readonly kind: 'return'; readonly status: number; readonly text: string };

/**
 * tsgi's answers for the site: the location matcher of src/web/match, serveStatic for static
 * locations, internal redirects followed, default pages for errors.
 */
export class TsgiSite {
  private readonly matcher: LocationMatcher<Handler>;
  private readonly serverHandler: Handler;
  readonly ctx: StaticContext;

  constructor(
    files: SiteFiles,
    server: readonly Directive[],
    locations: readonly SiteLocation[],
    private readonly serverVersion: string,
    contextOptions: StaticContextOptions = {},
  ) {
    const types = parseMimeTypes(readFileSync('/etc/nginx/mime.types', 'utf8'));
    const serverConf = interpret(files, server, [], types, null);
    this.serverHandler = { kind: 'static', conf: createStaticConf(serverConf.input) };
    const defs: LocationDef<Handler>[] = locations.map((location) => {
      const { input, returns } = interpret(files, location.directives, server, types, location);
      const alias = input.files.kind === 'regexAlias' && input.files.alias.includes('$') ? input.files.alias : undefined;
      const handler: Handler = returns ?? { kind: 'static', conf: createStaticConf(input), documentRoot: alias };
      return { modifier: location.modifier, pattern: location.pattern, id: handler };
    });
    this.matcher = buildLocationMatcher(defs);
    this.ctx = new StaticContext(contextOptions);
  }

  async answer(request: SiteRequest): Promise<Answer> {
    const parsed = parseRequestTarget(request.target);
    if (!parsed.ok) {
      // The request line is refused before any location runs (the web server's job; here for completeness).
      const page = errorResponse(parsed.status, { serverVersion: this.serverVersion, method: request.method });
      return { status: page.status, headers: page.headers.map(([n, v]) => [n, v] as const), body: await bodyBytes(page.body) };
    }
    let uri = parsed.target.uri;
    let args = parsed.target.args;
    let handler: Handler | null = null;
    let captures: readonly string[] = [];
    const headers = pickHeaders(request.headers);
    for (let redirects = 0; redirects < 10; redirects++) {
      if (handler === null) {
        const match = this.matcher.match(uri);
        handler = match?.location.id ?? this.serverHandler;
        captures = match?.captures.groups ?? [];
      }
      if (handler.kind === 'return') {
        const body = Buffer.from(handler.text.replaceAll('$uri', uri).replaceAll('$args', args), 'latin1');
        const headers: Answer['headers'] = [['Content-Type', 'text/plain'], ['Content-Length', String(body.length)]];
        return { status: handler.status, headers, body: request.method === 'HEAD' ? Buffer.alloc(0) : body };
      }
      const documentRoot = handler.documentRoot?.replace(/\$(\d)/g, (_, n: string) => captures[Number(n)] ?? '');
      const staticRequest = { method: request.method, uri, args, headers, httpVersion: request.httpVersion, documentRoot };
      const conf = handler.conf;
      const pending = serveStatic(this.ctx, staticRequest, conf);
      const result = pending instanceof Promise ? await pending : pending;
      switch (result.kind) {
        case 'response':
          return { status: result.status, headers: result.headers.map(([n, v]) => [n, v] as const), body: await bodyBytes(result.body) };
        case 'error':
        case 'redirect': {
          const page = defaultPage(result, staticRequest, conf, { serverVersion: this.serverVersion, userAgent: request.headers['User-Agent'] });
          return { status: page.status, headers: page.headers.map(([n, v]) => [n, v] as const), body: await bodyBytes(page.body) };
        }
        case 'internalRedirect':
          uri = result.uri;
          args = result.args;
          handler = null;
          break;
        case 'namedLocation':
          handler = this.matcher.findNamed(result.name)?.id ?? null;
          if (handler === null) throw new Error(`no location ${result.name}`);
          break;
      }
    }
    throw new Error('redirect loop');
  }
}

function pickHeaders(headers: Readonly<Record<string, string>>): StaticRequestHeaders {
  const get = (name: string): string | undefined => {
    for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
    return undefined;
  };
  return {
    ifModifiedSince: get('if-modified-since'),
    ifUnmodifiedSince: get('if-unmodified-since'),
    ifMatch: get('if-match'),
    ifNoneMatch: get('if-none-match'),
    range: get('range'),
    ifRange: get('if-range'),
  };
}

export async function bodyBytes(body: StaticBody): Promise<Buffer> {
  const { open } = await import('node:fs/promises');
  const fileBytes = async (path: string, start: number, end: number): Promise<Buffer> => {
    const handle = await open(Buffer.from(path, 'latin1'), 'r');
    try {
      const out = Buffer.alloc(end - start);
      await handle.read(out, 0, out.length, start);
      return out;
    } finally {
      await handle.close();
    }
  };
  switch (body.kind) {
    case 'none':
      return Buffer.alloc(0);
    case 'buffer':
      return body.data;
    case 'file':
      return fileBytes(body.path, body.start, body.end);
    case 'multipart': {
      const parts: Buffer[] = [];
      for (const part of body.parts) parts.push(Buffer.isBuffer(part) ? part : await fileBytes(part.path, part.start, part.end));
      return Buffer.concat(parts);
    }
  }
}

/**
 * The directives of a location (over the server's, which it inherits) as StaticConfInput: the
 * static-file subset of what the configuration parser will hand over.
 */
function interpret(
  files: SiteFiles,
  directives: readonly Directive[],
  inherited: readonly Directive[],
  types: Map<string, string>,
  location: SiteLocation | null,
): { input: StaticConfInput; returns: Handler | null } {
  const values = new Map<string, string[]>();
  for (const [name, ...args] of [...inherited, ...directives]) {
    // alias and root replace each other; everything else: the innermost wins.
    if (name === 'alias') values.delete('root');
    if (name === 'root') values.delete('alias');
    values.set(name, args.map((arg) => place(files, arg)));
  }
  const one = (name: string): string | undefined => values.get(name)?.[0];
  const flag = (name: string): boolean | undefined => (values.has(name) ? one(name) === 'on' : undefined);
  const returned = values.get('return');
  if (returned !== undefined && location !== null && directives.some(([name]) => name === 'return')) {
    return { input: { files: { kind: 'root', root: '/' } }, returns: { kind: 'return', status: Number(returned[0]), text: returned[1] ?? '' } };
  }
  let mapping: FileMapping;
  const alias = one('alias');
  if (alias !== undefined && location?.modifier === '~') mapping = { kind: 'regexAlias', alias };
  else if (alias !== undefined && location !== null) mapping = { kind: 'alias', alias, location: location.pattern };
  else mapping = { kind: 'root', root: one('root') ?? '/usr/share/nginx/html' };
  const input: StaticConfInput = {
    files: mapping,
    index: values.get('index'),
    autoindex: flag('autoindex'),
    autoindexFormat: one('autoindex_format') as StaticConfInput['autoindexFormat'],
    autoindexExactSize: flag('autoindex_exact_size'),
    autoindexLocaltime: flag('autoindex_localtime'),
    tryFiles: values.get('try_files'),
    etag: flag('etag'),
    ifModifiedSince: one('if_modified_since') as StaticConfInput['ifModifiedSince'],
    defaultType: one('default_type'),
    types,
    expires: values.has('expires') ? parseExpires(values.get('expires')!) : undefined,
    maxRanges: values.has('max_ranges') ? Number(one('max_ranges')) : undefined,
    charset: values.has('charset') ? (one('charset') === 'off' ? null : one('charset')) : undefined,
    serverTokens: one('server_tokens') as StaticConfInput['serverTokens'],
    msiePadding: flag('msie_padding'),
  };
  return { input, returns: null };
}

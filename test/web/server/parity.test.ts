/**
 * One configuration, served by the real nginx 1.22 and by `tsgi web`, and a list of tricky
 * requests sent byte for byte to both: status, body and the headers that matter must agree.
 *
 * Compared headers: everything but Server and Date (and ETag/Last-Modified come from the same
 * files, so they agree too). Ports are replaced by "PORT" before comparing. `server_tokens off`
 * makes both error pages say "nginx", so their bodies and lengths agree as well.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nginx, startOracle, type NginxOracle } from '../match/nginx-oracle.js';
import { exchangeRaw, type Exchange, type RawResponse } from './raw-http.js';
import { startWeb, type RunningWeb } from './tsgi-web.js';

const docroot = mkdtempSync(join(tmpdir(), 'tsgi-parity-root-'));
const FILES: Record<string, string> = {
  'index.html': '<h1>home</h1>\n',
  'static/a.txt': 'static a\n',
  'static/x.php': 'not php\n',
  'errors/404.html': '<p>custom 404</p>\n',
  'errors/403.html': '<p>custom 403</p>\n',
  'dir/index.html': 'dir index\n',
  'try/index.html': 'try index\n',
  'tryfile/real.txt': 'real\n',
  'img/a.jpg': 'jpeg bytes\n',
  'brk/a.txt': 'brk a (not served: break rewrites to /static/)\n',
};
const MTIME = new Date('2024-01-02T03:04:05Z');
for (const [path, text] of Object.entries(FILES)) {
  const full = join(docroot, path);
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, text);
  utimesSync(full, MTIME, MTIME);
}

const SERVERS = `
  server {
    listen 127.0.0.1:PORT default_server;
    server_name parity.test;
    server_tokens off;
    root ${docroot};
    client_max_body_size 1k;
    error_page 404 /errors/404.html;

    location = /exact { return 200 "exact\\n"; }
    location ^~ /static/ { }
    location ~ \\.php$ { return 200 "php $uri\\n"; }
    location ~* \\.(PNG|JPG)$ { add_header X-Image yes; }
    location /prefix { return 200 "prefix $uri $args\\n"; }
    location /nested/ {
      location ~ /nested/deep/ { return 200 "deep $uri\\n"; }
      return 200 "nested $uri\\n";
    }
    location @fallback { return 200 "fallback $uri $args\\n"; }
    location /try/ { try_files $uri $uri/ @fallback; }
    location /tryfile/ { try_files $uri /index.html; }
    location /try404/ { try_files $uri =404; }
    location /old/ { rewrite ^/old/(.*)$ /new/$1 last; }
    location /new/ { return 200 "new $uri $args\\n"; }
    location /redir/ { rewrite ^/redir/(.*)$ /target/$1 redirect; }
    location /perm { rewrite ^ /permanent-target permanent; }
    location /qmark/ { rewrite ^/qmark/(.*)$ /new/$1?only=1? last; }
    location /addargs/ { rewrite ^/addargs/(.*)$ /new/$1?extra=1 last; }
    location /brk/ { rewrite ^/brk/(.*)$ /static/$1 break; }
    location /if/ {
      if ($arg_x = 1) { return 200 "if one\\n"; }
      if ($http_x_test ~* ^yes$) { return 201 "header\\n"; }
      if ($uri ~ ^/if/(?<word>[a-z]+)$) { return 200 "word $word $1\\n"; }
      return 200 "if default\\n";
    }
    location /set/ { set $foo "bar-$arg_a"; return 200 "$foo\\n"; }
    location /loop { rewrite ^ /loop2 last; }
    location /loop2 { rewrite ^ /loop last; }
    location /deny { deny all; }
    location /allowlocal { allow 127.0.0.1; deny all; return 200 "allowed\\n"; }
    location /denylocal { deny 127.0.0.0/8; allow all; return 200 "nope\\n"; }
    location /ep/ { error_page 403 =200 /errors/403.html; deny all; }
    location /ep-named/ { error_page 404 = @fallback; }
    location /ep-redirect/ { error_page 404 http://example.com/missing; }
    location /ep-code/ { error_page 404 =410 /errors/404.html; }
    location /app/ { proxy_pass http://127.0.0.1:9; }
    location /ret444 { return 444; }
    location /text-html { default_type text/html; return 200 "<p>x</p>"; }
    location = /ret302 { return 302 /somewhere; }
    location = /retfull { return https://example.com/path; }
    location = /ret204 { return 204; }
    location = /ret404 { return 404; }
    location = /ret404text { return 404 "gone\\n"; }
    location /internal-only { internal; }
    location /headers { add_header X-Always a always; add_header X-Ok b; return 200 "h\\n"; }
    location /headers-err { add_header X-Always a always; add_header X-Ok b; return 403; }
    location /limit/ { client_max_body_size 10; return 200 "ok\\n"; }
    location /lx/ { limit_except GET { deny all; } return 200 "lx $request_method\n"; }
    location /ifset/ { if ($arg_h) { add_header X-If $arg_h; } return 200 "ifset\n"; }
    location /eploop/ { error_page 404 /eploop/again; recursive_error_pages on; return 404; }
    location /epnorec/ { error_page 404 /missing-too.html; return 404; }
    location /named-missing/ { try_files $uri @nowhere; }
    location /args-set/ { set $args "x=1"; return 200 "$args $arg_x\n"; }
    location /hdrs { return 200 "[$http_foo_bar] [$http_x_a] [$http_foo] [$http_x_300]\n"; }
    location /srvvars { return 200 "$request_method $request_uri $server_name $host $scheme $is_args$args\\n"; }
  }
  server {
    listen 127.0.0.1:PORT;
    server_name other.test *.wild.test;
    return 200 "other $host\\n";
  }
  server {
    listen 127.0.0.1:PORT;
    server_name ~^(?<sub>[a-z]+)\\.regex\\.test$;
    return 200 "regex $sub $1\\n";
  }
`;

interface Case {
  readonly name: string;
  /** The raw request bytes. */
  readonly raw: string;
  readonly expect?: number;
  readonly heads?: readonly boolean[];
  /** Close after sending (the response must still come). */
  readonly end?: boolean;
}

const get = (target: string, headers = ''): string => `GET ${target} HTTP/1.1\r\nHost: parity.test\r\n${headers}\r\n`;
const big = (n: number): string => 'a'.repeat(n);

const CASES: Case[] = [
  { name: 'index', raw: get('/') },
  { name: 'underscore in a header name: the line is dropped', raw: get('/hdrs', 'Foo_Bar: 1\r\nX-A: y\r\n') },
  { name: 'a non-token byte in a name: the line is dropped', raw: get('/hdrs', 'Foo@: 1\r\nX-A: y\r\n') },
  { name: 'a non-ASCII byte in a name: the line is dropped', raw: get('/hdrs', 'F\xe9o: 1\r\nFoo: 2\r\n') },
  { name: 'a name without a colon: an empty field', raw: get('/hdrs', 'Foo\r\nX-A: z\r\n') },
  { name: 'a control byte in a value passes', raw: get('/hdrs', 'Foo: a\x01b\r\n') },
  { name: 'a space in a name: 400', raw: get('/hdrs', 'Foo Bar: 1\r\n') },
  { name: 'a line starting with a colon: 400', raw: get('/hdrs', ':x: 1\r\n') },
  { name: 'DEL in a name: 400', raw: get('/hdrs', 'Foo\x7fx: 1\r\n') },
  { name: '300 header lines are fine', raw: get('/hdrs', Array.from({ length: 300 }, (_, i) => `X-${i + 1}: v${i + 1}\r\n`).join('')) },
  { name: 'HEAD index', raw: `HEAD / HTTP/1.1\r\nHost: parity.test\r\n\r\n`, heads: [true] },
  { name: 'file', raw: get('/index.html') },
  { name: 'exact', raw: get('/exact') },
  { name: 'exact is not a prefix', raw: get('/exact/more') },
  { name: '^~ beats regex', raw: get('/static/x.php') },
  { name: 'regex', raw: get('/foo/bar.php') },
  { name: 'case-insensitive regex + add_header', raw: get('/img/a.jpg') },
  { name: 'case-insensitive regex, upper case', raw: get('/img/A.JPG') },
  { name: 'prefix with args', raw: get('/prefix/a?b=1') },
  { name: 'nested prefix', raw: get('/nested/x') },
  { name: 'nested regex', raw: get('/nested/deep/x') },
  { name: 'try_files → named', raw: get('/try/missing?q=2') },
  { name: 'try_files $uri/ → index', raw: get('/try/') },
  { name: 'try_files fallback uri', raw: get('/tryfile/zzz') },
  { name: 'try_files existing', raw: get('/tryfile/real.txt') },
  { name: 'try_files =404 → error_page', raw: get('/try404/zzz') },
  { name: 'rewrite last', raw: get('/old/x?y=1') },
  { name: 'rewrite redirect keeps args', raw: get('/redir/abc?q=1') },
  { name: 'rewrite permanent', raw: get('/perm') },
  { name: 'rewrite ? drops args', raw: get('/qmark/p?drop=1') },
  { name: 'rewrite adds args', raw: get('/addargs/p?keep=1') },
  { name: 'rewrite break', raw: get('/brk/a.txt') },
  { name: 'if $arg', raw: get('/if/?x=1') },
  { name: 'if header regex', raw: get('/if/', 'X-Test: YES\r\n') },
  { name: 'if named capture', raw: get('/if/hello') },
  { name: 'if default', raw: get('/if/') },
  { name: 'set', raw: get('/set/?a=9') },
  { name: 'rewrite loop → 500', raw: get('/loop') },
  { name: 'deny all', raw: get('/deny') },
  { name: 'allow local', raw: get('/allowlocal') },
  { name: 'deny local net', raw: get('/denylocal') },
  { name: 'error_page =200', raw: get('/ep/x') },
  { name: 'error_page = @named', raw: get('/ep-named/x?z=1') },
  { name: 'error_page redirect', raw: get('/ep-redirect/x') },
  { name: 'error_page =410', raw: get('/ep-code/x') },
  { name: 'auto redirect', raw: get('/app') },
  { name: 'auto redirect with args', raw: get('/app?x=1') },
  { name: 'return 444', raw: get('/ret444') },
  { name: 'return text, default_type', raw: get('/text-html') },
  { name: 'return 302', raw: get('/ret302') },
  { name: 'return URL', raw: get('/retfull') },
  { name: 'return 204', raw: get('/ret204') },
  { name: 'return 404 → error_page', raw: get('/ret404') },
  { name: 'return 404 text', raw: get('/ret404text') },
  { name: 'internal location', raw: get('/internal-only') },
  { name: 'add_header on 200', raw: get('/headers') },
  { name: 'add_header always on 403', raw: get('/headers-err') },
  { name: 'directory → 301', raw: get('/dir') },
  { name: 'directory → 301 with args', raw: get('/dir?x=1') },
  { name: 'directory index', raw: get('/dir/') },
  { name: 'missing file → error_page 404', raw: get('/nope.txt') },
  { name: 'variables', raw: get('/srvvars?a=b') },
  { name: 'limit_except: GET allowed', raw: get('/lx/') },
  { name: 'limit_except: HEAD comes with GET', raw: `HEAD /lx/ HTTP/1.1\r\nHost: parity.test\r\n\r\n`, heads: [true] },
  { name: 'limit_except: POST denied', raw: `POST /lx/ HTTP/1.1\r\nHost: parity.test\r\nContent-Length: 0\r\n\r\n` },
  { name: 'if in a location changes its settings', raw: get('/ifset/?h=yes') },
  { name: 'if not taken', raw: get('/ifset/') },
  { name: 'recursive error_page loop → 500', raw: get('/eploop/x') },
  { name: 'error_page target missing, not recursive', raw: get('/epnorec/x') },
  { name: 'try_files to a missing named location → 500', raw: get('/named-missing/x') },
  { name: 'set $args', raw: get('/args-set/?y=2') },
  { name: 'percent-encoded', raw: get('/static/%61.txt') },
  { name: 'dot segments', raw: get('/static/../index.html') },
  { name: 'dot-dot above root', raw: get('/%2e%2e/x') },
  { name: 'encoded NUL', raw: get('/static/a.txt%00') },
  { name: 'double slashes merged', raw: get('//static//a.txt') },
  { name: 'server_name exact', raw: `GET / HTTP/1.1\r\nHost: other.test\r\n\r\n` },
  { name: 'server_name wildcard', raw: `GET / HTTP/1.1\r\nHost: A.Wild.Test:8080\r\n\r\n` },
  { name: 'server_name regex', raw: `GET / HTTP/1.1\r\nHost: foo.regex.test\r\n\r\n` },
  { name: 'unknown host → default server', raw: `GET /exact HTTP/1.1\r\nHost: nobody.test\r\n\r\n` },
  { name: 'absolute-form target wins over Host', raw: `GET http://other.test/x HTTP/1.1\r\nHost: parity.test\r\n\r\n` },
  { name: 'HTTP/1.0 without Host', raw: `GET /exact HTTP/1.0\r\n\r\n` },
  { name: 'HTTP/1.0 keep-alive', raw: `GET /exact HTTP/1.0\r\nConnection: keep-alive\r\n\r\n` },
  { name: 'HTTP/1.1 without Host → 400', raw: `GET / HTTP/1.1\r\n\r\n` },
  { name: 'bad Host → 400', raw: `GET / HTTP/1.1\r\nHost: a/b\r\n\r\n` },
  { name: 'bare LF', raw: `GET /exact HTTP/1.1\nHost: parity.test\n\n` },
  { name: 'POST to a file → 405', raw: `POST /index.html HTTP/1.1\r\nHost: parity.test\r\nContent-Length: 3\r\n\r\nabc` },
  { name: 'POST to return, body discarded, keep-alive', raw: `POST /exact HTTP/1.1\r\nHost: parity.test\r\nContent-Length: 3\r\n\r\nabc${get('/exact')}`, expect: 2 },
  { name: 'DELETE → 405', raw: `DELETE /index.html HTTP/1.1\r\nHost: parity.test\r\n\r\n` },
  { name: 'TRACE → 405', raw: `TRACE / HTTP/1.1\r\nHost: parity.test\r\n\r\n` },
  { name: 'body over client_max_body_size → 413', raw: `POST /limit/ HTTP/1.1\r\nHost: parity.test\r\nContent-Length: 20\r\n\r\n${big(20)}` },
  { name: 'body over the server limit → 413', raw: `POST /exact HTTP/1.1\r\nHost: parity.test\r\nContent-Length: 2000\r\n\r\n` },
  { name: 'chunked body within limit', raw: `POST /exact HTTP/1.1\r\nHost: parity.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n` },
  { name: 'oversized header → 494 as 400', raw: get('/', `Cookie: ${big(9000)}\r\n`) },
  { name: 'oversized request line → 414', raw: get(`/${big(8200)}`) },
  { name: 'too many large header lines → 494', raw: get('/', [1, 2, 3, 4, 5].map((n) => `X-H${n}: ${big(7000)}\r\n`).join('')) },
  { name: 'large but fitting headers', raw: get('/exact', [1, 2, 3].map((n) => `X-H${n}: ${big(7000)}\r\n`).join('')) },
  { name: 'conditional If-None-Match', raw: get('/static/a.txt', `If-None-Match: "${Math.floor(MTIME.getTime() / 1000).toString(16)}-9"\r\n`) },
  { name: 'conditional If-Modified-Since', raw: get('/static/a.txt', `If-Modified-Since: ${MTIME.toUTCString()}\r\n`) },
  { name: 'range', raw: get('/static/a.txt', 'Range: bytes=0-2\r\n') },
  { name: 'pipelined', raw: get('/exact') + get('/static/a.txt') + get('/prefix/p'), expect: 3 },
  { name: 'pipelined with HEAD', raw: `HEAD /index.html HTTP/1.1\r\nHost: parity.test\r\n\r\n${get('/exact')}`, expect: 2, heads: [true, false] },
  { name: 'Connection: close', raw: get('/exact', 'Connection: close\r\n') },
  { name: 'half-closed client still answered', raw: get('/exact'), end: true },
  { name: 'unknown method', raw: `FOO / HTTP/1.1\r\nHost: parity.test\r\n\r\n` },
  { name: 'bad method bytes', raw: `get / HTTP/1.1\r\nHost: parity.test\r\n\r\n` },
  { name: 'HTTP/2.0 version', raw: `GET / HTTP/2.0\r\nHost: parity.test\r\n\r\n` },
  { name: 'unknown transfer-encoding → 501', raw: `POST /exact HTTP/1.1\r\nHost: parity.test\r\nTransfer-Encoding: gzip\r\n\r\n` },
  { name: 'Content-Length and chunked → 400', raw: `POST /exact HTTP/1.1\r\nHost: parity.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n` },
];

/** What must agree: status line, headers (but Server and Date), body; ports made neutral. */
function comparable(response: RawResponse, ports: readonly number[]): { statusLine: string; headers: string[]; body: string } {
  const neutral = (text: string): string => ports.reduce((t, port) => t.replaceAll(String(port), 'PORT'), text);
  return {
    statusLine: response.statusLine,
    headers: response.headers.filter(([name]) => !['server', 'date'].includes(name.toLowerCase())).map(([name, value]) => `${name}: ${neutral(value)}`),
    body: neutral(response.body.toString('latin1')),
  };
}

function summary(exchange: Exchange, ports: readonly number[]): unknown {
  return { responses: exchange.responses.map((response) => comparable(response, ports)), closed: exchange.closed };
}

describe('parity with nginx 1.22: one config, tricky requests', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let oracle: NginxOracle;
  let web: RunningWeb;

  before(async () => {
    if (!('path' in nginx)) return;
    oracle = await startOracle(nginx.path, SERVERS);
    web = await startWeb(SERVERS);
  });

  after(async () => {
    await oracle?.stop();
    await web?.stop();
    rmSync(docroot, { recursive: true, force: true });
  });

  for (const testCase of CASES) {
    it(testCase.name, async () => {
      const options = { expect: testCase.expect ?? 1, heads: testCase.heads, end: testCase.end, waitMs: 150 };
      const [fromNginx, fromTsgi] = await Promise.all([exchangeRaw(oracle.port, testCase.raw, options), exchangeRaw(web.port, testCase.raw, options)]);
      const ports = [oracle.port, web.port];
      assert.deepEqual(summary(fromTsgi, ports), summary(fromNginx, ports), `request: ${JSON.stringify(testCase.raw.slice(0, 200))}`);
    });
  }
});

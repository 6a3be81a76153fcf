/**
 * Variables against the real nginx: the same configuration runs in nginx (each location answers
 * `return 200 "<template>"`) and in tsgi's variable engine (the template expanded for a request
 * context built from the same raw request); the bodies must be equal byte for byte.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { compileRegex, execRegex } from '../../../src/web/match/index.js';
import { Variables } from '../../../src/web/variables.js';
import { configFromText, fakeContext, findLocation } from './fake-context.js';
import { nginx, startNginx, type NginxRun } from './nginx-runner.js';

const SEP = '|';

/** The template of `location /`: every variable that does not depend on time or a random port. */
const MAIN = [
  'uri', 'document_uri', 'request_uri', 'args', 'query_string', 'arg_a', 'arg_B', 'arg_none', 'is_args', 'host',
  'http_x_y', 'http_user_agent', 'http_cookie', 'http_x_forwarded_for', 'http_host', 'cookie_b', 'cookie_C',
  'remote_user', 'request_method', 'request', 'server_protocol', 'scheme', 'https', 'server_name',
  'content_type', 'content_length', 'proxy_add_x_forwarded_for', 'document_root', 'request_filename',
  'nginx_version', 'remote_addr', 'server_addr', 'server_port', 'binary_remote_addr', 'hostname',
  'mapped', 'hostmap', 'limit_rate', 'fastcgi_script_name', 'fastcgi_path_info', 'connection_requests',
  'request_length', 'realpath_root', 'realip_remote_addr', 'request_completion',
]
  .map((name) => `${name}=$${name}`)
  .join(SEP);

const HTTP = `
  access_log off;
  map $arg_m $mapped { default dflt; ~^(?<mm>x+)(y?)$ "re:$mm:$2"; abc exact; \\default escaped; }
  map $http_host $hostmap { hostnames; default none; .example.com dotted; *.foo.com head; www.bar.* tail; exact.org exact; }
  server {
    listen 127.0.0.1:PORT;
    server_name localhost alias.test;
    root DIR/html;
    location / { return 200 "${MAIN}"; }
    location ~ ^/c/(?<name>[a-z]+)/(\\d+)$ { set $who "n=$name"; return 200 "$name|$1|$2|$who|$3|$uri"; }
    location /al/ { alias DIR/html/sub/; return 200 "$document_root|$request_filename|$realpath_root"; }
    location ~ ^/re/(.*)$ { alias DIR/html/$1; return 200 "$document_root|$request_filename"; }
    location /php/ { fastcgi_split_path_info ^(.+\\.php)(/.*)$; fastcgi_index index.php; return 200 "$fastcgi_script_name|$fastcgi_path_info"; }
  }
`;

const REQUESTS: readonly string[] = [
  'GET /x?a=1&A=2&b=3&B=4 HTTP/1.0\r\nHost: Foo.COM:80\r\nX-Y: one\r\nx-y: two\r\nCookie: a=1; b = 2 ;c=3\r\nCookie: b=9\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n',
  'GET /x? HTTP/1.0\r\n\r\n',
  'GET /x HTTP/1.0\r\nHost: localhost\r\n\r\n',
  'GET /a%20b/../c/%2e/d?q=%20&a= HTTP/1.0\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11)\r\n\r\n',
  'GET / HTTP/1.0\r\nCookie: b;b=5, c=6\r\nCookie: bb=1;b=\r\n\r\n',
  'GET / HTTP/1.0\r\nCookie: B=up; c = 7, d=8\r\n\r\n',
  'GET / HTTP/1.0\r\nAuthorization: basic  Zm9vOg==\r\n\r\n',
  'GET / HTTP/1.0\r\nAuthorization: Basic Zm9v\r\n\r\n',
  'GET / HTTP/1.0\r\nAuthorization: Bearer abc\r\n\r\n',
  'GET / HTTP/1.0\r\nAuthorization: Basic Om5vdXNlcg==\r\n\r\n',
  'GET / HTTP/1.0\r\nAuthorization: Basic dTpw=trailing\r\n\r\n',
  'GET / HTTP/1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 0\r\n\r\n',
  'GET http://Abs.Example.com:8080/abs?x HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n',
  'GET /?m=xxx HTTP/1.0\r\n\r\n',
  'GET /?m=xxy HTTP/1.0\r\n\r\n',
  'GET /?m=abc HTTP/1.0\r\n\r\n',
  'GET /?m=ABC HTTP/1.0\r\n\r\n',
  'GET /?m=default HTTP/1.0\r\n\r\n',
  'GET /?m= HTTP/1.0\r\n\r\n',
  'GET / HTTP/1.0\r\nHost: a.b.example.com\r\n\r\n',
  'GET / HTTP/1.0\r\nHost: example.com\r\n\r\n',
  'GET / HTTP/1.0\r\nHost: x.foo.com\r\n\r\n',
  'GET / HTTP/1.0\r\nHost: foo.com\r\n\r\n',
  'GET / HTTP/1.0\r\nHost: www.bar.org\r\n\r\n',
  'GET / HTTP/1.0\r\nHost: EXACT.org.\r\n\r\n',
  'GET /?a&a=7 HTTP/1.0\r\n\r\n',
  'GET /?xa=1&a=2&A=3 HTTP/1.0\r\n\r\n',
  'GET /?a=%41%20b HTTP/1.0\r\n\r\n',
  'GET /c/bob/42 HTTP/1.0\r\n\r\n',
  'GET /al/f.txt HTTP/1.0\r\n\r\n',
  'GET /al/ HTTP/1.0\r\n\r\n',
  'GET /re/deep/f.txt HTTP/1.0\r\n\r\n',
  'GET /php/index.php/extra/path HTTP/1.0\r\n\r\n',
  'GET /php/ HTTP/1.0\r\n\r\n',
  'GET /php/plain HTTP/1.0\r\n\r\n',
  'GET /%C3%A9t%C3%A9?q=%C3%A9 HTTP/1.0\r\nUser-Agent: \xc3\xa9\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: alias.test\r\nConnection: close\r\n\r\n',
];

/** Which location nginx uses for a URI, in this configuration (regexes after the prefix match). */
function route(uri: string): { location: string; captures?: { groups: string[]; named: Record<string, string> } } {
  for (const pattern of ['^/c/(?<name>[a-z]+)/(\\d+)$', '^/re/(.*)$']) {
    const match = execRegex(compileRegex(pattern), uri);
    if (match) return { location: pattern, captures: { groups: [...match.groups], named: { ...match.named } } };
  }
  if (uri.startsWith('/al/')) return { location: '/al/' };
  if (uri.startsWith('/php/')) return { location: '/php/' };
  return { location: '/' };
}

/** The `return` text of a location, as the core would find it. */
function returnText(config: ReturnType<typeof configFromText>, location: string): string {
  const step = findLocation(config.servers[0]!, location).settings.rewrite.find((s) => s.op === 'return');
  if (step?.op !== 'return' || step.text === null) throw new Error('no return');
  return step.text;
}

describe('variables against nginx', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let run: NginxRun;
  let config: ReturnType<typeof configFromText>;
  let variables: Variables;

  before(async () => {
    if (!('path' in nginx)) return;
    run = await startNginx(nginx.path, HTTP);
    mkdirSync(join(run.dir, 'html/sub'), { recursive: true });
    config = configFromText(`events {} http { ${HTTP.replaceAll('PORT', String(run.port)).replaceAll('DIR', run.dir)} }`);
    variables = new Variables(config, { hostname: hostname() });
  });
  after(async () => run?.stop());

  for (const raw of REQUESTS) {
    it(JSON.stringify(raw.split('\r\n')[0]) + (raw.includes('Host:') ? ' ' + JSON.stringify(/Host: ([^\r]*)/.exec(raw)?.[1]) : ''), async () => {
      const response = await run.request(raw);
      assert.equal(response.status, 200, response.raw);
      const uri = raw.split(' ')[1]!.replace(/^http:\/\/[^/]*/, '').replace(/\?.*$/, '');
      const decoded = decodeURIComponent(uri.replace(/%(?![0-9a-f]{2})/gi, '%25'));
      const { location, captures } = route(Buffer.from(decoded, 'utf8').toString('latin1').replace('/a b/../c/./d', '/c/d'));
      const ctx = fakeContext({
        config,
        raw,
        location,
        variables,
        serverPort: String(run.port),
        ...(captures ? { captures } : {}),
      });
      // What the core does on a regex location match and on `set`, before `return` runs.
      for (const [name, value] of Object.entries(captures?.named ?? {})) ctx.variables.set(name, value);
      if (location.startsWith('^/c/')) ctx.variables.set('who', variables.expand(ctx, 'n=$name'));
      assert.equal(variables.expand(ctx, returnText(config, location)), response.body);
    });
  }
});

/**
 * Access log lines against nginx's own: nginx serves a list of requests and writes access.log
 * (the default `combined`), a json, a none and a counters format; tsgi formats the same requests
 * (status, body and bytes sent taken from nginx's responses) and the lines must be equal byte
 * for byte once the time is normalised.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileLogFormat, type LogLine } from '../../../src/web/log/index.js';
import { Variables } from '../../../src/web/variables.js';
import { configFromText, fakeContext } from '../variables/fake-context.js';
import { nginx, startNginx, type NginxRun, type RawResponse } from '../variables/nginx-runner.js';

const HTTP = `
  log_format j escape=json '{"r":"$request","s":$status,"u":"$remote_user","a":"$args","ua":"$http_user_agent","ref":"$http_referer"}';
  log_format n escape=none '$request|$args|$http_user_agent|$cookie_x|$remote_user';
  log_format counters '$remote_addr $request_method "$request_uri" $status $body_bytes_sent $bytes_sent $request_length "$http_referer" $server_protocol $args $uri';
  server {
    listen 127.0.0.1:PORT;
    server_name localhost;
    access_log DIR/logs/access.log;
    access_log DIR/logs/j.log j;
    access_log DIR/logs/n.log n;
    access_log DIR/logs/counters.log counters;
    location / { return 200 "hello\\n"; }
    location /nf { return 404; }
    location /empty { return 204; }
    location /moved { return 301 /elsewhere; }
  }
`;

const REQUESTS: readonly string[] = [
  'GET / HTTP/1.0\r\n\r\n',
  'GET /x?a=1&b="2" HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.5.0\r\nReferer: http://r.example/\r\nConnection: close\r\n\r\n',
  'GET /nf HTTP/1.0\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) "quoted" \\back\r\n\r\n',
  'GET /empty HTTP/1.0\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n',
  'HEAD /moved?x HTTP/1.0\r\nCookie: x=y"z\r\n\r\n',
  'GET /%22quoted%22/\xc3\xa9?q=\xc3\xa9\\ HTTP/1.0\r\nUser-Agent: \x01\x7f\xff\xc3\xa9\r\n\r\n',
  'GET /a%20b?%01 HTTP/1.0\r\nReferer: \t\r\n\r\n',
  'DELETE /x HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n',
];

const TIME = /\[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]/;
const FILES = ['logs/access.log', 'logs/j.log', 'logs/n.log', 'logs/counters.log'] as const;

async function linesWhenWritten(run: NginxRun, name: string, count: number): Promise<string[]> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const lines = run.read(name).split('\n').slice(0, -1);
    if (lines.length >= count) return lines;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${name} has fewer than ${count} lines:\n${run.read(name)}`);
}

describe('access log lines against nginx', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let run: NginxRun;
  const responses: RawResponse[] = [];
  let formats: LogLine[];
  let config: ReturnType<typeof configFromText>;
  let variables: Variables;

  before(async () => {
    if (!('path' in nginx)) return;
    run = await startNginx(nginx.path, HTTP);
    for (const raw of REQUESTS) responses.push(await run.request(raw));
    config = configFromText(`events {} http { ${HTTP.replaceAll('PORT', String(run.port)).replaceAll('DIR', run.dir)} }`);
    variables = new Variables(config);
    const entries = config.servers[0]!.loc.settings.accessLog;
    assert.notEqual(entries, 'off');
    formats = (entries === 'off' ? [] : entries).map((entry) => compileLogFormat(config.http!.logFormats.get(entry.format)!, variables));
  });
  after(async () => run?.stop());

  FILES.forEach((file, index) => {
    it(`${file} byte for byte`, async () => {
      const expected = await linesWhenWritten(run, file, REQUESTS.length);
      const ours = REQUESTS.map((raw, i) => {
        const response = responses[i]!;
        const ctx = fakeContext({ config, raw, variables, serverPort: String(run.port) });
        ctx.status = response.status;
        ctx.bodyBytesSent = response.body.length;
        ctx.bytesSent = response.raw.length;
        return formats[index]!(ctx);
      });
      const normalise = (line: string): string => line.replace(TIME, '[TIME]');
      assert.deepEqual(ours.map(normalise), expected.map(normalise));
    });
  });
});

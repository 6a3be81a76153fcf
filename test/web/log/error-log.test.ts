/**
 * The error log: the line layout against a line the real nginx wrote for the same request, then
 * levels, per-location logs, reopen and the 2048-byte cut with tsgi's writer.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorLogWriter, MAX_ERROR_LINE, formatErrorLine, requestFields } from '../../../src/web/log/index.js';
import { configFromText, fakeContext } from '../variables/fake-context.js';
import { nginx, startNginx, type NginxRun } from '../variables/nginx-runner.js';

const NOW = Date.UTC(2026, 10, 22, 1, 2, 40);
const LOCAL_TIME = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /;

describe('formatErrorLine', () => {
  it('has nginx layout: time [level] pid#tid: *conn message, trailer', () => {
    const line = formatErrorLine({
      timeMs: NOW,
      level: 'error',
      pid: 31896,
      connection: 7,
      message: 'open() "/srv/x" failed',
      errno: '(2: No such file or directory)',
      client: '127.0.0.1',
      server: 'example.com',
      request: 'GET /x HTTP/1.1',
      upstream: 'http://127.0.0.1:9000/x',
      host: 'example.com',
      referrer: 'http://r/',
    });
    assert.match(line, LOCAL_TIME);
    assert.equal(
      line.replace(LOCAL_TIME, ''),
      '[error] 31896#31896: *7 open() "/srv/x" failed (2: No such file or directory), client: 127.0.0.1, server: example.com, request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:9000/x", host: "example.com", referrer: "http://r/"',
    );
  });

  it('without a connection: no *N and no trailer; an empty server name stays', () => {
    assert.equal(formatErrorLine({ timeMs: NOW, level: 'notice', pid: 5, message: 'signal process started' }).replace(LOCAL_TIME, ''), '[notice] 5#5: signal process started');
    assert.equal(
      formatErrorLine({ timeMs: NOW, level: 'warn', pid: 5, connection: 1, message: 'm', client: '::1', server: '' }).replace(LOCAL_TIME, ''),
      '[warn] 5#5: *1 m, client: ::1, server: ',
    );
  });

  it('cuts the line at 2047 bytes (2048 with the line feed)', () => {
    const line = formatErrorLine({ timeMs: NOW, level: 'error', pid: 1, message: 'x'.repeat(5000), client: 'c' });
    assert.equal(line.length, MAX_ERROR_LINE - 1);
  });

  it('debug messages get no trailer, as nginx skips the handler for them', () => {
    assert.equal(formatErrorLine({ timeMs: NOW, level: 'debug', pid: 1, connection: 2, message: 'm', client: 'c', server: 's' }).replace(LOCAL_TIME, ''), '[debug] 1#1: *2 m');
  });
});

describe('error log line against nginx', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let run: NginxRun;
  const HTTP = `access_log off; server { listen 127.0.0.1:PORT; server_name localhost; root DIR/html; location / {} }`;
  before(async () => {
    if ('path' in nginx) run = await startNginx(nginx.path, HTTP);
  });
  after(async () => run?.stop());

  it('a missing file: the 404 line is the same', async () => {
    const raw = 'GET /nope?a=1 HTTP/1.1\r\nHost: LocalHost:80\r\nReferer: http://r.example/\r\nConnection: close\r\n\r\n';
    const response = await run.request(raw);
    assert.equal(response.status, 404);
    let theirs = '';
    for (let i = 0; i < 200 && !theirs; i += 1) {
      theirs = run.read('logs/error.log').split('\n').find((line) => line.includes('[error]')) ?? '';
      if (!theirs) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const pid = Number(run.read('nginx.pid').trim());
    const config = configFromText(`events {} http { ${HTTP.replaceAll('PORT', String(run.port)).replaceAll('DIR', run.dir)} }`);
    // Connection 1 was the runner's probe of the port; the request came on connection 2.
    const ctx = fakeContext({ config, raw, location: '/', connectionSerial: 2 });
    const ours = formatErrorLine({
      timeMs: Date.now(),
      level: 'error',
      pid,
      message: `open() "${run.dir}/html/nope" failed`,
      errno: '(2: No such file or directory)',
      ...requestFields(ctx),
    });
    assert.equal(ours.replace(LOCAL_TIME, ''), theirs.replace(LOCAL_TIME, ''));
  });
});

describe('ErrorLogWriter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-errlog-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const config = configFromText(
    `
error_log ${dir}/main.log warn;
error_log ${dir}/all.log debug;
events {}
http {
  access_log off;
  server {
    listen 127.0.0.1:8080;
    server_name s;
    location / {}
    location /own { error_log ${dir}/own.log info; }
    location /mem { error_log memory:32k info; error_log stderr crit; }
  }
}`,
    dir + '/',
  );

  it('writes each message to the logs whose level it reaches, for the location in force', () => {
    const stderr: string[] = [];
    const log = new ErrorLogWriter(config, { now: () => NOW, pid: 77, stderr: (text) => stderr.push(text) });
    const root = fakeContext({ config, raw: 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', location: '/' });
    const own = fakeContext({ config, raw: 'GET /own HTTP/1.1\r\n\r\n', location: '/own', connectionSerial: 3 });
    const mem = fakeContext({ config, raw: 'GET /mem HTTP/1.1\r\n\r\n', location: '/mem' });
    log.log('info', 'info at the root', root);
    log.log('warn', 'warn at the root', root);
    log.log('info', 'info in own', own);
    log.log('debug', 'debug in own', own);
    log.log('error', 'error in mem', mem);
    log.log('crit', 'crit in mem', mem);
    log.log('notice', 'notice without request');
    log.close();
    const read = (name: string): string[] => readFileSync(join(dir, name), 'latin1').split('\n').filter(Boolean).map((l) => l.replace(LOCAL_TIME, ''));
    assert.deepEqual(read('main.log'), ['[warn] 77#77: *1 warn at the root, client: 127.0.0.1, server: s, request: "GET / HTTP/1.1", host: "h"']);
    assert.deepEqual(read('all.log'), [
      '[info] 77#77: *1 info at the root, client: 127.0.0.1, server: s, request: "GET / HTTP/1.1", host: "h"',
      '[warn] 77#77: *1 warn at the root, client: 127.0.0.1, server: s, request: "GET / HTTP/1.1", host: "h"',
      '[notice] 77#77: notice without request',
    ]);
    assert.deepEqual(read('own.log'), ['[info] 77#77: *3 info in own, client: 127.0.0.1, server: s, request: "GET /own HTTP/1.1"']);
    assert.equal(stderr.length, 1);
    assert.match(stderr[0]!, /\[crit\] 77#77: \*1 crit in mem, client: 127\.0\.0\.1, server: s, request: "GET \/mem HTTP\/1\.1"\n$/);
  });

  it('keeps memory:SIZE logs in memory, the newest lines that fit', () => {
    const log = new ErrorLogWriter(config, { now: () => NOW, pid: 1, stderr: () => {} });
    const mem = fakeContext({ config, raw: 'GET /mem HTTP/1.1\r\n\r\n', location: '/mem' });
    for (let i = 0; i < 1000; i += 1) log.log('info', `line ${i}`, mem);
    const text = log.memory('memory:32k');
    assert.ok(text.length <= 32 * 1024 && text.length > 30 * 1024);
    assert.match(text, /line 999, client/);
    assert.doesNotMatch(text, /line 0, client/);
    log.close();
  });

  it('reopens its files on USR1: a rotated file keeps the old lines, a new one gets the next', () => {
    const log = new ErrorLogWriter(config, { now: () => NOW, pid: 1, stderr: () => {} });
    log.log('error', 'before rotation');
    renameSync(join(dir, 'main.log'), join(dir, 'main.log.1'));
    log.log('error', 'after rename, before reopen');
    log.reopen();
    log.log('error', 'after reopen');
    log.close();
    const rotated = readFileSync(join(dir, 'main.log.1'), 'latin1');
    assert.match(rotated, /before rotation\n.*after rename, before reopen\n$/);
    assert.match(readFileSync(join(dir, 'main.log'), 'latin1'), /^[^\n]*after reopen\n$/);
  });

  it('logs about a connection without a request name the listen address', () => {
    const lines: string[] = [];
    const log = new ErrorLogWriter(configFromText('error_log stderr info; events {} http { access_log off; server { listen 127.0.0.1:8080; } }'), {
      now: () => NOW,
      pid: 9,
      stderr: (text) => lines.push(text),
    });
    const ctx = fakeContext({ config, raw: 'GET / HTTP/1.1\r\n\r\n', connectionSerial: 12 });
    log.logConnection('info', 'client closed connection', { ...ctx.connection, listen: { ...ctx.connection.listen, text: '127.0.0.1:8080' } }, { action: 'reading client request line' });
    assert.equal(lines[0]!.replace(LOCAL_TIME, ''), '[info] 9#9: *12 client closed connection while reading client request line, client: 127.0.0.1, server: 127.0.0.1:8080\n');
  });
});

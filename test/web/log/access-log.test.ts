/**
 * The access log writer: files shared by access_log lines, `off`, `if=`, buffer/flush with a fake
 * timer, gzip members, per-request paths, reopen (USR1), and nginx's refusal to start when a
 * log cannot be opened.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { AccessLogWriter, LogOpenError, type Schedule } from '../../../src/web/log/index.js';
import { Variables } from '../../../src/web/variables.js';
import { configFromText, fakeContext } from '../variables/fake-context.js';

const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-access-'));
  dirs.push(dir);
  const config = configFromText(
    `
events {}
http {
  log_format short '$request_method $uri $status';
  server {
    listen 127.0.0.1:8080;
    root ${dir};
    access_log ${dir}/a.log short;
    access_log ${dir}/a.log;
    location / {}
    location /off { access_log off; }
    location /cond { access_log ${dir}/c.log short if=$arg_log; }
    location /buf { access_log ${dir}/b.log short buffer=64 flush=5s; }
    location /gz { access_log ${dir}/g.log short gzip=5; }
    location /script { access_log ${dir}/s-$arg_n.log short; }
  }
}`,
    dir + '/',
  );
  const timers: { callback: () => void; ms: number; cancelled: boolean }[] = [];
  const schedule: Schedule = (callback, ms) => {
    const timer = { callback, ms, cancelled: false };
    timers.push(timer);
    return () => (timer.cancelled = true);
  };
  const variables = new Variables(config);
  const writer = new AccessLogWriter(config, variables, null, { schedule });
  const request = (target: string, location: string, status = 200): void => {
    const ctx = fakeContext({ config, raw: `GET ${target} HTTP/1.1\r\nHost: h\r\n\r\n`, location, variables });
    ctx.status = status;
    writer.write(ctx);
  };
  const read = (name: string): string => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'latin1') : '');
  return { dir, writer, request, read, timers };
}

describe('AccessLogWriter', () => {
  it('writes one line per access_log, in order, to a file opened once', async () => {
    const { writer, request, read } = setup();
    request('/x', '/');
    const lines = read('a.log').split('\n');
    assert.equal(lines[0], 'GET /x 200');
    assert.match(lines[1]!, /^127\.0\.0\.1 - - \[.*\] "GET \/x HTTP\/1\.1" 200 0 "-" "-"$/);
    await writer.close();
  });

  it('writes nothing for access_log off', async () => {
    const { writer, request, read } = setup();
    request('/off', '/off');
    assert.equal(read('a.log'), '');
    await writer.close();
  });

  it('skips the line when if= expands to "" or "0"', async () => {
    const { writer, request, read } = setup();
    request('/cond', '/cond');
    request('/cond?log=0', '/cond');
    request('/cond?log=1', '/cond');
    request('/cond?log=yes', '/cond');
    assert.equal(read('c.log'), 'GET /cond 200\nGET /cond 200\n');
    await writer.close();
  });

  it('buffers lines: written when the next does not fit, when flush= passes, and at close', async () => {
    const { writer, request, read, timers } = setup();
    request('/buf/1', '/buf');
    request('/buf/2', '/buf');
    assert.equal(read('b.log'), '');
    assert.equal(timers.length, 1);
    assert.equal(timers[0]!.ms, 5000);
    for (let i = 3; i <= 6; i += 1) request(`/buf/${i}`, '/buf');
    // 16 bytes a line, 64 bytes of buffer: the fifth line did not fit and pushed out four.
    assert.equal(read('b.log'), 'GET /buf/1 200\nGET /buf/2 200\nGET /buf/3 200\nGET /buf/4 200\n');
    assert.equal(timers[0]!.cancelled, true);
    const pending = timers.at(-1)!;
    pending.callback();
    assert.equal(read('b.log').split('\n').length - 1, 6);
    request('/buf/7', '/buf');
    await writer.close();
    assert.match(read('b.log'), /GET \/buf\/7 200\n$/);
  });

  it('gzip writes each flush as a gzip member that zcat reads whole', async () => {
    const { writer, request, read } = setup();
    request('/gz/1', '/gz');
    request('/gz/2', '/gz');
    writer.flush();
    request('/gz/3', '/gz');
    await writer.close();
    assert.equal(gunzipSync(Buffer.from(read('g.log'), 'latin1')).toString(), 'GET /gz/1 200\nGET /gz/2 200\nGET /gz/3 200\n');
  });

  it('opens a path with variables per request', async () => {
    const { writer, request, read } = setup();
    request('/script?n=one', '/script');
    request('/script?n=two', '/script');
    request('/script?n=one', '/script');
    assert.equal(read('s-one.log'), 'GET /script 200\nGET /script 200\n');
    assert.equal(read('s-two.log'), 'GET /script 200\n');
    await writer.close();
  });

  it('reopens on USR1: the rotated file keeps the old lines', async () => {
    const { dir, writer, request, read } = setup();
    request('/1', '/off');
    request('/a', '/');
    renameSync(join(dir, 'a.log'), join(dir, 'a.log.1'));
    request('/b', '/');
    writer.reopen();
    request('/c', '/');
    await writer.close();
    assert.match(read('a.log.1'), /^GET \/a 200\n.*\nGET \/b 200\n.*\n$/);
    assert.match(read('a.log'), /^GET \/c 200\n[^\n]*\n$/);
  });

  it('refuses to start when a log cannot be opened, in nginx words', () => {
    const config = configFromText('events {} http { server { listen 127.0.0.1:8080; access_log /nonexistent/dir/x.log; } }');
    assert.throws(
      () => new AccessLogWriter(config, new Variables(config), null),
      (error: unknown) => error instanceof LogOpenError && error.message === 'open() "/nonexistent/dir/x.log" failed (2: No such file or directory)',
    );
  });
});

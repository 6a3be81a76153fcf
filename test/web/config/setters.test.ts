import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { atoi, parseOffset, parseSize, parseTime } from '../../../src/web/config/directives/setters.js';
import { NginxConfigErrorCode } from '../../../src/web/config/errors.js';
import { checkConfig, loadNginxConfig } from '../../../src/web/config/load.js';
import { writeCase } from './nginx-runner.js';

/** Loads `http { BODY }` and returns the http-level location settings, or the error text. */
function httpLevel(body: string) {
  const c = writeCase({ conf: `events {}\nhttp {\n${body}\n}\n` });
  try {
    return loadNginxConfig(c.file, { isRoot: false }).http!.loc.settings;
  } finally {
    c.cleanup();
  }
}

function errorOf(body: string, level: 'main' | 'http' = 'http'): { code: string; text: string; line: number } {
  const conf = level === 'http' ? `events {}\nhttp {\n${body}\n}\n` : `events {}\n${body}\n`;
  const c = writeCase({ conf });
  try {
    const result = checkConfig(c.file, { isRoot: false });
    assert.ok(result.error, `expected an error for ${body}`);
    return { code: result.error.code, text: result.error.text, line: result.error.line };
  } finally {
    c.cleanup();
  }
}

describe('value parsers (ngx_parse.c)', () => {
  it('atoi: digits only, no sign, 64-bit', () => {
    assert.equal(atoi('0'), 0);
    assert.equal(atoi('0042'), 42);
    assert.equal(atoi('9223372036854775807'), 9223372036854775807);
    for (const bad of ['', '-1', '+1', '1k', ' 1', '9223372036854775808']) assert.equal(atoi(bad), null, bad);
  });

  it('sizes: k and m (either case); offsets add g', () => {
    assert.equal(parseSize('512'), 512);
    assert.equal(parseSize('8k'), 8192);
    assert.equal(parseSize('8K'), 8192);
    assert.equal(parseSize('2m'), 2 * 1024 * 1024);
    assert.equal(parseSize('1g'), null);
    assert.equal(parseOffset('1g'), 1024 ** 3);
    assert.equal(parseOffset('1G'), 1024 ** 3);
    for (const bad of ['', 'k', '1.5k', '-1', '1t', '9999999999999999k']) assert.equal(parseSize(bad), null, bad);
  });

  it('times: y M w d h m s ms, largest first, blanks allowed, bare number in the base unit', () => {
    assert.equal(parseTime('75', false), 75000);
    assert.equal(parseTime('1500ms', false), 1500);
    assert.equal(parseTime('1h30m', false), 5400000);
    assert.equal(parseTime('1h 30m', false), 5400000);
    assert.equal(parseTime('1h1', false), 3601000);
    assert.equal(parseTime('1 ', false), 1000);
    assert.equal(parseTime('2w1d', true), 15 * 86400);
    assert.equal(parseTime('1y', true), 365 * 86400);
    assert.equal(parseTime('1M', true), 30 * 86400);
    assert.equal(parseTime('25d', false), 25 * 86400000);
    for (const bad of ['', 'x', '1y', '1M', '30m1h', '2ms1s', '1h1h', 's']) assert.equal(parseTime(bad, false), null, bad);
    assert.equal(parseTime('1ms', true), null);
    assert.equal(parseTime('1s2ms', false), 1002);
  });
});

describe('setters: values and nginx messages', () => {
  it('set_flag: on/off in any case', () => {
    assert.equal(httpLevel('gzip ON;').gzip, true);
    assert.equal(httpLevel('gzip Off;').gzip, false);
    assert.deepEqual(errorOf('gzip yes;'), {
      code: NginxConfigErrorCode.InvalidValue,
      text: 'invalid value "yes" in "gzip" directive, it must be "on" or "off"',
      line: 3,
    });
  });

  it('set_num, set_size, set_off, set_msec, set_sec', () => {
    const s = httpLevel('keepalive_requests 50;\nclient_body_buffer_size 16k;\nclient_max_body_size 2g;\nsend_timeout 1m;\nopen_file_cache_valid 1h;');
    assert.deepEqual(
      [s.keepaliveRequests, s.clientBodyBufferSize, s.clientMaxBodySize, s.sendTimeoutMs, s.openFileCacheValidSec],
      [50, 16384, 2 * 1024 ** 3, 60000, 3600],
    );
    assert.equal(errorOf('keepalive_requests x;').text, '"keepalive_requests" directive invalid number');
    assert.equal(errorOf('client_body_buffer_size 1g;').text, '"client_body_buffer_size" directive invalid value');
    assert.equal(errorOf('keepalive_timeout 5x;').text, '"keepalive_timeout" directive invalid value');
    assert.equal(errorOf('open_file_cache_valid 1ms;').text, '"open_file_cache_valid" directive invalid value');
  });

  it('keepalive_timeout sets the timeout and the Keep-Alive header value', () => {
    const s = httpLevel('keepalive_timeout 65 60;');
    assert.deepEqual([s.keepaliveTimeoutMs, s.keepaliveHeaderSec], [65000, 60]);
    const d = httpLevel('');
    assert.deepEqual([d.keepaliveTimeoutMs, d.keepaliveHeaderSec], [75000, null]);
  });

  it('set_enum: keywords in any case, stored in the table spelling', () => {
    assert.equal(httpLevel('if_modified_since BEFORE;').ifModifiedSince, 'before');
    assert.equal(errorOf('if_modified_since never;').text, 'invalid value "never"');
  });

  it('set_bitmask: accumulates across directives, warns on a repeat', () => {
    assert.deepEqual(httpLevel('gzip_proxied expired;\ngzip_proxied no-cache AUTH;').gzipProxied, ['expired', 'no-cache', 'auth']);
    const c = writeCase({ conf: 'events {}\nhttp { gzip_proxied any any; }\n' });
    try {
      const result = checkConfig(c.file, { isRoot: false });
      assert.deepEqual(result.warnings.map((w) => w.text), ['duplicate value "any"']);
    } finally {
      c.cleanup();
    }
    assert.equal(errorOf('gzip_proxied sometimes;').text, 'invalid value "sometimes"');
  });

  it('set_bufs, bounds and power-of-two sizes', () => {
    assert.deepEqual(httpLevel('gzip_buffers 16 8k;').gzipBuffers, { number: 16, size: 8192 });
    assert.equal(errorOf('gzip_buffers 16 0;').text, '"gzip_buffers" directive invalid value');
    assert.equal(errorOf('gzip_comp_level 0;').text, 'value must be between 1 and 9');
    assert.equal(errorOf('gzip_window 1000;').text, '"gzip_window" directive must be 512, 1k, 2k, 4k, 8k, 16k, or 32k');
  });

  it('set_path: made absolute from the prefix, trailing slash dropped, hash levels', () => {
    const c = writeCase({ conf: 'events {}\nhttp { client_body_temp_path tmp/body/ 1 2; }\n' });
    try {
      const config = loadNginxConfig(c.file, { isRoot: false, prefix: '/srv/site' });
      assert.deepEqual(config.http!.loc.settings.clientBodyTempPath, { path: '/srv/site/tmp/body', levels: [1, 2] });
    } finally {
      c.cleanup();
    }
    assert.equal(errorOf('client_body_temp_path /x 9 9;').text, '"client_body_temp_path" directive invalid value');
  });

  it('set_str and string lists', () => {
    const s = httpLevel('default_type application/octet-stream;\nindex a.html;\nindex b.php /c.html;');
    assert.equal(s.defaultType, 'application/octet-stream');
    assert.deepEqual(s.index, ['a.html', 'b.php', '/c.html']);
  });

  it('is duplicate, for every slot that does not accumulate', () => {
    for (const line of ['sendfile on; sendfile off;', 'default_type a; default_type b;', 'client_max_body_size 1; client_max_body_size 2;']) {
      const name = line.split(' ')[0]!;
      assert.deepEqual(errorOf(line), { code: NginxConfigErrorCode.Duplicate, text: `"${name}" directive is duplicate`, line: 3 });
    }
  });

  it('main-context setters', () => {
    const c = writeCase({ conf: 'worker_processes auto;\nworker_rlimit_nofile 4096;\nerror_log stderr warn;\nerror_log logs/debug.log debug;\nevents { worker_connections 2048; multi_accept on; }\n' });
    try {
      const main = loadNginxConfig(c.file, { isRoot: false, prefix: '/srv/p/' }).main;
      assert.equal(main.workerProcesses, 'auto');
      assert.equal(main.workerRlimitNofile, 4096);
      assert.deepEqual(main.errorLog, [
        { target: 'stderr', level: 'warn' },
        { target: '/srv/p/logs/debug.log', level: 'debug' },
      ]);
      assert.equal(main.pid, '/srv/p/logs/nginx.pid');
      assert.deepEqual([main.events.workerConnections, main.events.multiAccept], [2048, true]);
    } finally {
      c.cleanup();
    }
    assert.equal(errorOf('worker_processes many;', 'main').text, '"worker_processes" directive invalid value');
    assert.equal(errorOf('error_log stderr loud;', 'main').text, 'invalid log level "loud"');
  });
});

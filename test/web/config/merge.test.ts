import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadNginxConfig } from '../../../src/web/config/load.js';
import type { LocationConf, NginxConfig } from '../../../src/web/config/types.js';
import { writeCase } from './nginx-runner.js';

function load(http: string, options: { prefix?: string } = {}): NginxConfig {
  const c = writeCase({ conf: `events {}\nhttp {\n${http}\n}\n` });
  try {
    return loadNginxConfig(c.file, { isRoot: false, prefix: options.prefix ?? '/srv/p/' });
  } finally {
    c.cleanup();
  }
}

function location(config: NginxConfig, ...path: string[]): LocationConf {
  let list = config.servers[0]!.locations;
  let found: LocationConf | undefined;
  for (const name of path) {
    found = list.find((l) => l.name === name);
    assert.ok(found, `no location ${name}`);
    list = found.locations;
  }
  return found!;
}

describe('merge: values inherited from http to server to location', () => {
  it('inherits a value not written, keeps one written, else takes the default', () => {
    const config = load('gzip on;\nsendfile on;\nserver {\n  gzip off;\n  location /a { }\n  location /b { sendfile off; location /b/c { } }\n}');
    assert.equal(config.http!.loc.settings.gzip, true);
    assert.equal(config.servers[0]!.loc.settings.gzip, false);
    assert.equal(location(config, '/a').settings.gzip, false);
    assert.equal(location(config, '/a').settings.sendfile, true);
    assert.equal(location(config, '/b', '/b/c').settings.sendfile, false);
    assert.equal(location(config, '/a').settings.tcpNopush, false);
    assert.equal(location(config, '/a').settings.clientMaxBodySize, 1024 * 1024);
  });

  it('merges server-level settings from http into each server', () => {
    const config = load('client_header_timeout 5s;\nserver { }\nserver { client_header_timeout 9s; large_client_header_buffers 8 16k; }');
    assert.deepEqual(
      config.servers.map((s) => s.settings.clientHeaderTimeoutMs),
      [5000, 9000],
    );
    assert.deepEqual(config.servers[1]!.settings.largeClientHeaderBuffers, { number: 8, size: 16384 });
    assert.deepEqual(config.servers[0]!.settings.largeClientHeaderBuffers, { number: 4, size: 8192 });
  });

  it('root: defaults to PREFIX/html; an alias is inherited by nested locations with its kind', () => {
    const config = load('server {\n  location /x/ { alias /data/x/; location /x/y/ { } }\n  location / { }\n}');
    assert.deepEqual(location(config, '/').settings.root, { kind: 'root', path: '/srv/p/html', hasVariables: false });
    assert.deepEqual(location(config, '/x/', '/x/y/').settings.root, { kind: 'alias', path: '/data/x/', hasVariables: false });
  });
});

describe('merge: lists are inherited only when the inner level writes none', () => {
  const config = load(
    [
      'add_header X-Http 1;',
      'error_page 404 /404.html;',
      'server {',
      '  add_header X-Server 1;',
      '  add_header X-Server-2 1 always;',
      '  uwsgi_param A 1;',
      '  proxy_set_header Host $host;',
      '  allow 10.0.0.0/8;',
      '  deny all;',
      '  location /inherits { }',
      '  location /own { add_header X-Loc 1; uwsgi_param B 2; proxy_set_header X-Real-IP $remote_addr; deny 1.2.3.4; error_page 500 /500.html; }',
      '}',
    ].join('\n'),
  );

  it('add_header', () => {
    assert.deepEqual(
      location(config, '/inherits').settings.addHeaders.map((h) => h.name),
      ['X-Server', 'X-Server-2'],
    );
    assert.deepEqual(
      location(config, '/own').settings.addHeaders.map((h) => h.name),
      ['X-Loc'],
    );
    assert.equal(location(config, '/inherits').settings.addHeaders[1]!.always, true);
  });

  it('uwsgi_param and proxy_set_header', () => {
    assert.deepEqual(location(config, '/inherits').uwsgi.params.map((p) => p.key), ['A']);
    assert.deepEqual(location(config, '/own').uwsgi.params.map((p) => p.key), ['B']);
    assert.deepEqual(location(config, '/inherits').proxy.setHeaders.map((p) => p.key), ['Host']);
    assert.deepEqual(location(config, '/own').proxy.setHeaders.map((p) => p.key), ['X-Real-IP']);
  });

  it('allow/deny and error_page', () => {
    assert.deepEqual(location(config, '/inherits').settings.access.map((r) => `${r.action} ${r.address}`), ['allow 10.0.0.0/8', 'deny all']);
    assert.deepEqual(location(config, '/own').settings.access.map((r) => `${r.action} ${r.address}`), ['deny 1.2.3.4']);
    assert.deepEqual(location(config, '/inherits').settings.errorPages.map((p) => p.status), [404]);
    assert.deepEqual(location(config, '/own').settings.errorPages.map((p) => p.status), [500]);
  });

  it('types: an empty types {} stops inheritance', () => {
    const typed = load('types { text/html html; text/css css; }\nserver { location /a { } location /b { types { } } }');
    assert.deepEqual([...location(typed, '/a').settings.types.keys()], ['html', 'css']);
    assert.equal(location(typed, '/b').settings.types.size, 0);
    const untyped = load('server { location /a { } }');
    assert.deepEqual([...location(untyped, '/a').settings.types], [
      ['html', 'text/html'],
      ['gif', 'image/gif'],
      ['jpg', 'image/jpeg'],
    ]);
  });

  it('access_log off is inherited until a level writes its own', () => {
    const logs = load('access_log off;\nserver { location /a { } location /b { access_log /var/log/b.log; } }');
    assert.equal(location(logs, '/a').settings.accessLog, 'off');
    assert.deepEqual(location(logs, '/b').settings.accessLog, [
      { path: '/var/log/b.log', format: 'combined', buffer: null, gzip: null, flushMs: null, condition: null },
    ]);
    const defaults = load('server { location /a { } }');
    assert.deepEqual(location(defaults, '/a').settings.accessLog, [
      { path: '/srv/p/logs/access.log', format: 'combined', buffer: null, gzip: null, flushMs: null, condition: null },
    ]);
  });
});

describe('merge: what nginx never inherits', () => {
  const config = load(
    [
      'server {',
      '  try_files $uri /index.html;',
      '  return 301 https://$host$request_uri;',
      '  location / { }',
      '  location /app { uwsgi_pass 127.0.0.1:3031; location /app/static { } }',
      '  location /status { stub_status; location /status/x { } }',
      '}',
    ].join('\n'),
  );

  it('try_files, *_pass, stub_status and the rewrite script stay where they are written', () => {
    const server = config.servers[0]!;
    assert.deepEqual(server.loc.settings.tryFiles, ['$uri', '/index.html']);
    assert.equal(location(config, '/').settings.tryFiles, null);
    assert.equal(server.loc.settings.rewrite.length, 1);
    assert.equal(server.loc.settings.rewrite[0]!.op, 'return');
    assert.deepEqual(location(config, '/').settings.rewrite, []);
    assert.equal(location(config, '/app').uwsgi.pass?.url, '127.0.0.1:3031');
    assert.equal(location(config, '/app', '/app/static').uwsgi.pass, null);
    assert.equal(location(config, '/status').settings.stubStatus, true);
    assert.equal(location(config, '/status', '/status/x').settings.stubStatus, false);
  });
});

describe('merge: if and limit_except blocks', () => {
  it('an if in a location overrides the location settings for its block', () => {
    const config = load('server { location / { root /www; gzip on; if ($http_x) { root /other; set $a 1; } } }');
    const loc = location(config, '/');
    const step = loc.settings.rewrite[0]!;
    assert.equal(step.op, 'if');
    if (step.op !== 'if') return;
    assert.deepEqual(step.condition, { kind: 'variable', variable: 'http_x' });
    assert.equal(step.block.loc?.settings.root.path, '/other');
    assert.equal(step.block.loc?.settings.gzip, true);
    assert.deepEqual(step.block.steps.map((s) => s.op), ['set']);
  });

  it('limit_except gets the location settings plus its own', () => {
    const config = load('server { location /api { allow 127.0.0.1; limit_except GET { deny all; } } }');
    const limit = location(config, '/api').limitExcept!;
    assert.deepEqual(limit.methods, ['GET', 'HEAD']);
    assert.deepEqual(limit.loc.settings.access.map((r) => r.action), ['deny']);
  });
});

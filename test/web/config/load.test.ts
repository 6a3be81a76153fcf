import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { checkConfig, loadNginxConfig } from '../../../src/web/config/load.js';
import { NginxConfigError, NginxConfigErrorCode } from '../../../src/web/config/errors.js';
import type { NginxConfig } from '../../../src/web/config/types.js';
import { writeCase, type ConfigCase } from './nginx-runner.js';

function load(c: ConfigCase | string, options: { isRoot?: boolean; globals?: string } = {}): NginxConfig {
  const written = writeCase(typeof c === 'string' ? { conf: c } : c);
  try {
    return loadNginxConfig(written.file, { isRoot: options.isRoot ?? false, prefix: '/srv/p/', ...(options.globals ? { globals: options.globals } : {}) });
  } finally {
    written.cleanup();
  }
}

const http = (body: string) => `events {}\nhttp {\n${body}\n}\n`;

describe('typed configuration: main and events', () => {
  it('has nginx defaults when nothing is written', () => {
    const config = load('events {}\n');
    assert.equal(config.main.workerProcesses, 1);
    assert.equal(config.main.daemon, true);
    assert.equal(config.main.pid, '/srv/p/logs/nginx.pid');
    assert.deepEqual(config.main.errorLog, [{ target: '/srv/p/logs/error.log', level: 'error' }]);
    assert.equal(config.main.events.workerConnections, 512);
    assert.equal(config.http, null);
    assert.deepEqual(config.servers, []);
  });

  it('applies -g before the file', () => {
    const config = load('events {}\n', { globals: 'daemon off; worker_processes 3;' });
    assert.equal(config.main.daemon, false);
    assert.equal(config.main.workerProcesses, 3);
    assert.throws(
      () => load('events {}\nworker_processes 2;\n', { globals: 'worker_processes 3;' }),
      (e: unknown) => e instanceof NginxConfigError && e.code === NginxConfigErrorCode.Duplicate && e.line === 2,
    );
  });
});

describe('typed configuration: servers', () => {
  it('parses listen: address:port, port, *, IPv6, unix:, default_server, backlog and flags', () => {
    const config = load(
      http('server {\n listen 127.0.0.1:8080 default_server backlog=1024;\n listen 8081;\n listen *:8082 reuseport;\n listen [::1]:8083 ipv6only=off;\n listen unix:/run/tsgi.sock;\n listen 127.0.0.2;\n}'),
    );
    const listen = config.servers[0]!.listen;
    assert.deepEqual(
      listen.map((l) => [l.text, l.defaultServer, l.backlog, l.wildcard]),
      [
        ['127.0.0.1:8080', true, 1024, false],
        ['0.0.0.0:8081', false, 511, true],
        ['0.0.0.0:8082', false, 511, true],
        ['[::1]:8083', false, 511, false],
        ['unix:/run/tsgi.sock', false, 511, false],
        ['127.0.0.2:80', false, 511, false],
      ],
    );
    assert.deepEqual(listen[0]!.address, { kind: 'tcp', host: '127.0.0.1', port: 8080, ipVersion: 4, text: '127.0.0.1:8080' });
    assert.equal(listen[2]!.reuseport, true);
    assert.equal(listen[3]!.ipv6only, false);
    assert.deepEqual(listen[4]!.address, { kind: 'unix', path: '/run/tsgi.sock', text: 'unix:/run/tsgi.sock' });
  });

  it('gives a server without listen nginx implicit *:80 as root, *:8000 otherwise', () => {
    assert.equal(load(http('server { }'), { isRoot: false }).servers[0]!.listen[0]!.text, '0.0.0.0:8000');
    const asRoot = load(http('server { }'), { isRoot: true }).servers[0]!.listen[0]!;
    assert.deepEqual([asRoot.text, asRoot.implicit], ['0.0.0.0:80', true]);
  });

  it('expands a listen port range', () => {
    assert.deepEqual(
      load(http('server { listen 127.0.0.1:8000-8002; }')).servers[0]!.listen.map((l) => l.text),
      ['127.0.0.1:8000', '127.0.0.1:8001', '127.0.0.1:8002'],
    );
  });

  it('classifies server names; the first one is the primary, "" when none', () => {
    const config = load(http('server { server_name Example.COM *.example.com .example.org www.example.* ~^(?<sub>.+)\\.example\\.net$ _; }\nserver { }'));
    assert.deepEqual(config.servers[0]!.serverNames, [
      { name: 'example.com', kind: 'exact' },
      { name: '*.example.com', kind: 'wildcard-start' },
      { name: '.example.org', kind: 'dot' },
      { name: 'www.example.*', kind: 'wildcard-end' },
      { name: '^(?<sub>.+)\\.example\\.net$', kind: 'regex' },
      { name: '_', kind: 'exact' },
    ]);
    assert.deepEqual(config.servers[1]!.serverNames, [{ name: '', kind: 'exact' }]);
  });
});

describe('typed configuration: locations', () => {
  const config = load(
    http(
      [
        'server {',
        '  location = / { }',
        '  location ^~ /static/ { location ~* \\.png$ { } }',
        '  location ~ \\.php$ { }',
        '  location ~* \\.JPG$ { }',
        '  location /app { location /app/admin { } }',
        '  location @fallback { }',
        '  location =/exact { }',
        '  location ~*\\.css { }',
        '}',
      ].join('\n'),
    ),
  );

  it('keeps the locations in the order written, with their modifiers and names', () => {
    assert.deepEqual(
      config.servers[0]!.locations.map((l) => [l.modifier, l.name, l.caseless]),
      [
        ['=', '/', false],
        ['^~', '/static/', false],
        ['~', '\\.php$', false],
        ['~*', '\\.JPG$', true],
        ['', '/app', false],
        ['@', '@fallback', false],
        ['=', '/exact', false],
        ['~*', '\\.css', true],
      ],
    );
  });

  it('nests locations inside their parent', () => {
    const locations = config.servers[0]!.locations;
    assert.deepEqual(locations[1]!.locations.map((l) => [l.modifier, l.name]), [['~*', '\\.png$']]);
    assert.deepEqual(locations[4]!.locations.map((l) => l.name), ['/app/admin']);
    assert.equal(locations[4]!.position.line, 8);
  });
});

describe('typed configuration: upstreams and passing', () => {
  const config = load(
    http(
      [
        'upstream app {',
        '  least_conn;',
        '  server 127.0.0.1:8081 weight=5 max_fails=3 fail_timeout=30s;',
        '  server 127.0.0.1:8082;',
        '  server unix:/run/app.sock backup;',
        '  keepalive 16;',
        '}',
        'server {',
        '  location / { proxy_pass http://app; }',
        '  location /direct/ { proxy_pass http://127.0.0.1:9000/base/; }',
        '  location /u { uwsgi_pass unix:/tmp/uwsgi.sock; }',
        '  location /named { uwsgi_pass backend.internal:3031; }',
        '  location /dynamic { proxy_pass http://$host:8080; }',
        '}',
      ].join('\n'),
    ),
  );

  it('builds upstream blocks with their servers, balancer and pool', () => {
    const app = config.upstreams.get('app')!;
    assert.equal(app.implicit, false);
    assert.deepEqual(app.balancer, { method: 'least_conn' });
    assert.equal(app.keepalive, 16);
    assert.deepEqual(
      app.servers.map((s) => [s.name, s.weight, s.maxFails, s.failTimeoutSec, s.backup]),
      [
        ['127.0.0.1:8081', 5, 3, 30, false],
        ['127.0.0.1:8082', 1, 1, 10, false],
        ['unix:/run/app.sock', 1, 1, 10, true],
      ],
    );
  });

  it('makes implicit groups for addresses, named by the address', () => {
    assert.deepEqual([...config.upstreams.keys()], ['app', '127.0.0.1:9000', 'unix:/tmp/uwsgi.sock', 'backend.internal:3031']);
    assert.equal(config.upstreams.get('127.0.0.1:9000')!.implicit, true);
    assert.deepEqual(config.upstreams.get('backend.internal:3031')!.servers[0]!.address, {
      kind: 'tcp',
      host: 'backend.internal',
      port: 3031,
      ipVersion: 0,
      text: 'backend.internal:3031',
    });
  });

  it('records each pass target: group, URI part, template', () => {
    const [root, direct, u, , dynamic] = config.servers[0]!.locations;
    assert.deepEqual(root!.proxy.pass, { url: 'http://app', scheme: 'http', upstream: 'app', address: null, uri: null, hasVariables: false });
    assert.equal(direct!.proxy.pass!.uri, '/base/');
    assert.equal(direct!.proxy.pass!.upstream, '127.0.0.1:9000');
    assert.equal(u!.uwsgi.pass!.upstream, 'unix:/tmp/uwsgi.sock');
    assert.equal(dynamic!.proxy.pass!.hasVariables, true);
    assert.equal(dynamic!.proxy.pass!.upstream, null);
  });

  it('marks prefix locations ending in / that pass upstream for the automatic 301', () => {
    assert.deepEqual(
      config.servers[0]!.locations.map((l) => [l.name, l.autoRedirect]),
      [
        ['/', true],
        ['/direct/', true],
        ['/u', false],
        ['/named', false],
        ['/dynamic', false],
      ],
    );
  });
});

describe('checkConfig (tsgi web -t)', () => {
  it('prints nginx success lines, exit status 0', () => {
    const c = writeCase({ conf: 'events {}\n' });
    try {
      const result = checkConfig(c.file, { isRoot: false });
      assert.deepEqual(result.lines, [`the configuration file ${c.file} syntax is ok`, `configuration file ${c.file} test is successful`]);
      assert.equal(result.exitCode, 0);
      assert.ok(result.config);
    } finally {
      c.cleanup();
    }
  });

  it('prints [emerg] ... in FILE:LINE and test failed, exit status 1', () => {
    const c = writeCase({ conf: 'events {}\nhttp {\n  server {\n    location / {\n      foo;\n    }\n  }\n}\n' });
    try {
      const result = checkConfig(c.file, { isRoot: false });
      assert.deepEqual(result.lines, [`[emerg] unknown directive "foo" in ${c.file}:5`, `configuration file ${c.file} test failed`]);
      assert.equal(result.exitCode, 1);
      assert.equal(result.error?.code, NginxConfigErrorCode.UnknownDirective);
      assert.deepEqual([result.error?.file, result.error?.line, result.error?.text], [c.file, 5, 'unknown directive "foo"']);
    } finally {
      c.cleanup();
    }
  });

  it('reports errors found after reading between the two lines, as nginx', () => {
    const c = writeCase({ conf: 'http {}\n' });
    try {
      assert.deepEqual(checkConfig(c.file, { isRoot: false }).lines, [
        `the configuration file ${c.file} syntax is ok`,
        '[emerg] no "events" section in configuration',
        `configuration file ${c.file} test failed`,
      ]);
    } finally {
      c.cleanup();
    }
  });

  it('warns about the alias traversal pitfall, which nginx does not', () => {
    const c = writeCase({ conf: http('server {\n  location /i {\n    alias /data/images/;\n  }\n  location /ok/ { alias /data/ok/; }\n  location /ok2 { alias /data/ok2; }\n}') });
    try {
      const result = checkConfig(c.file, { isRoot: false });
      assert.equal(result.ok, true);
      assert.equal(result.warnings.length, 1);
      const warning = result.warnings[0]!;
      assert.equal(warning.nginx, false);
      assert.equal(warning.line, 5);
      assert.match(warning.text, /alias "\/data\/images\/" ends with "\/" but location "\/i" does not/);
      assert.match(warning.text, /"\/i\.\.\/file" reads "\/data\/images\/\.\.\/file", outside the alias/);
      assert.match(result.lines[0]!, /^\[warn\] alias .* in .*nginx\.conf:5$/);
    } finally {
      c.cleanup();
    }
  });
});

describe('the seeds', () => {
  it('location / with uwsgi_params, uwsgi_pass, root and index', () => {
    const config = load(http('server {\nlocation / {\n    include uwsgi_params;\n    uwsgi_pass 127.0.0.1:5000;\n    root   html;\n    index  index.html index.htm;\n}\n}'));
    const loc = config.servers[0]!.locations[0]!;
    assert.equal(loc.uwsgi.pass!.upstream, '127.0.0.1:5000');
    assert.equal(loc.uwsgi.params.length, 15);
    assert.deepEqual(loc.settings.root, { kind: 'root', path: '/srv/p/html', hasVariables: false });
    assert.deepEqual(loc.settings.index, ['index.html', 'index.htm']);
  });

  it('/myapp with SCRIPT_NAME, over TCP and over a UNIX socket', () => {
    for (const target of ['127.0.0.1:3031', 'unix:/tmp/uwsgi.sock']) {
      const config = load(http(`server {\nlocation /myapp {\n    include uwsgi_params;\n    uwsgi_param SCRIPT_NAME /myapp;\n    uwsgi_pass ${target};\n}\n}`));
      const loc = config.servers[0]!.locations[0]!;
      assert.deepEqual(loc.uwsgi.params.at(-1), { key: 'SCRIPT_NAME', value: '/myapp', ifNotEmpty: false });
      assert.equal(loc.uwsgi.pass!.upstream, target);
    }
  });

  it('the reverse proxy in front of three app servers', () => {
    const config = load(
      http('upstream apps {\n  server 127.0.0.1:8081;\n  server 127.0.0.1:8082;\n  server 127.0.0.1:8083;\n}\nserver {\n  listen 80;\n  location / { proxy_pass http://apps; }\n}'),
    );
    assert.deepEqual(
      config.upstreams.get('apps')!.servers.map((s) => s.name),
      ['127.0.0.1:8081', '127.0.0.1:8082', '127.0.0.1:8083'],
    );
    assert.deepEqual(config.upstreams.get('apps')!.balancer, { method: 'round-robin' });
  });

  it('the proxy_pass without a scheme fails as in nginx', () => {
    assert.throws(() => load(http('server {\nlocation / {\nproxy_pass 127.0.0.1:9000;\n}\n}')), /^NginxConfigError: invalid URL prefix in .*:5$/);
  });

  it('Debian nginx.conf, when installed, loads with its sites', { skip: existsSync('/etc/nginx/nginx.conf') ? false : 'no /etc/nginx/nginx.conf' }, () => {
    const config = loadNginxConfig('/etc/nginx/nginx.conf', { isRoot: false });
    assert.equal(config.main.workerProcesses, 'auto');
    assert.equal(config.http!.loc.settings.defaultType, 'application/octet-stream');
    assert.ok(config.http!.loc.settings.types.size > 100);
  });
});

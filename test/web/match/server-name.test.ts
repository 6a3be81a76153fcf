/**
 * Server selection: the table of server-name.case.ts against tsgi, the reference reading of the
 * documentation and the real nginx; the builder's refusals; property tests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import fc from 'fast-check';
import { validateHost } from '../../../src/web/match/host.js';
import { parseRequestTarget } from '../../../src/web/match/normalize.js';
import type { Captures } from '../../../src/web/match/pcre.js';
import { buildServerSelector, ServerNameError, type ServerDef } from '../../../src/web/match/server-name.js';
import { SERVER_CASES, type ServerCaseGroup, type ServerRequest, type ServerSpec } from './server-name.case.js';
import { confString, nginx, startOracle } from './nginx-oracle.js';
import { referenceServerSelector } from './reference.js';

type Outcome = string | 400;

interface Implementation {
  name: string;
  skip?: string;
  /** Groups this implementation does not model. */
  excludes?: (group: ServerCaseGroup) => boolean;
  load(group: ServerCaseGroup): Promise<{ resolve(request: ServerRequest): Promise<Outcome>; close(): Promise<void> }>;
}

const toDefs = (servers: readonly ServerSpec[]): ServerDef<ServerSpec>[] =>
  servers.map((spec) => ({ names: spec.names, defaultServer: spec.defaultServer ?? false, id: spec }));

function body(spec: ServerSpec, captures: Captures): string {
  const value = (name: string): string => (/^\d+$/.test(name) ? (captures.groups[Number(name)] ?? '') : (captures.named[name] ?? ''));
  return [spec.id, ...(spec.echo ?? []).map(value)].join('|');
}

/** What the HTTP/1 codec and the request line do before a server is picked. */
function hostFor(request: ServerRequest): { host: string | null } | 400 {
  const target = parseRequestTarget(request.target ?? '/');
  if (!target.ok) return 400;
  if (request.host !== null && validateHost(request.host) === null) return 400;
  if (request.host === null && (request.version ?? '1.0') === '1.1') return 400;
  return { host: target.target.host ?? request.host };
}

const tsgi: Implementation = {
  name: 'tsgi',
  async load(group) {
    const selector = buildServerSelector(toDefs(group.servers), { address: '127.0.0.1:80' });
    return {
      async resolve(request) {
        const host = hostFor(request);
        if (host === 400) return 400;
        const selection = selector.select(host.host);
        if (!selection.ok) return selection.status;
        return body(selection.server.id, selection.captures);
      },
      async close() {},
    };
  },
};

const reference: Implementation = {
  name: 'reference (the documentation, read literally)',
  excludes: (group) => group.conflicts === true,
  async load(group) {
    const servers = toDefs(group.servers).map((def) => ({ ...def, names: def.names.map((n) => (n === '$hostname' ? hostname() : n)) }));
    const select = referenceServerSelector(servers);
    return {
      async resolve(request) {
        const host = hostFor(request);
        if (host === 400) return 400;
        const found = select(host.host);
        return found === 'bad-request' ? 400 : body(found.server.id, found.captures);
      },
      async close() {},
    };
  },
};

function nginxServers(servers: readonly ServerSpec[]): string {
  return servers
    .map((spec) => {
      const names = spec.names.length === 0 ? '' : `server_name ${spec.names.map(confString).join(' ')};`;
      const text = [spec.id, ...(spec.echo ?? []).map((name) => '$' + name)].join('|');
      return `server { listen 127.0.0.1:PORT${spec.defaultServer ? ' default_server' : ''}; ${names} return 200 ${confString(text)}; }`;
    })
    .join('\n');
}

const nginxImplementation: Implementation = {
  name: 'nginx',
  ...('skip' in nginx ? { skip: nginx.skip } : {}),
  async load(group) {
    if (!('path' in nginx)) throw new Error('nginx is not installed');
    const oracle = await startOracle(nginx.path, nginxServers(group.servers));
    return {
      async resolve(request) {
        const host = request.host === null ? '' : `Host: ${request.host}\r\n`;
        // Connection: close, so that an HTTP/1.1 response ends with the connection.
        const response = await oracle.request(`GET ${request.target ?? '/'} HTTP/${request.version ?? '1.0'}\r\n${host}Connection: close\r\n\r\n`);
        if (response.status === 400) return 400;
        assert.equal(response.status, 200, `nginx answered ${response.status}`);
        return response.body;
      },
      close: () => oracle.stop(),
    };
  },
};

for (const impl of [tsgi, reference, nginxImplementation]) {
  describe(`server-name conformance: ${impl.name}`, { skip: impl.skip ?? false }, () => {
    for (const group of SERVER_CASES) {
      if (impl.excludes?.(group)) continue;
      describe(group.name, () => {
        let loaded: Awaited<ReturnType<Implementation['load']>> | undefined;
        before(async () => {
          loaded = await impl.load(group);
        });
        after(async () => {
          await loaded?.close();
        });
        for (const request of group.requests) {
          const title = `${request.target ? request.target + ' ' : ''}Host: ${JSON.stringify(request.host)} HTTP/${request.version ?? '1.0'}`;
          it(`${title} → ${JSON.stringify(request.expect)}`, async () => {
            assert.equal(await loaded!.resolve(request), request.expect);
          });
        }
      });
    }
  });
}

describe('buildServerSelector', () => {
  const server = (names: string[], extra: Partial<ServerDef<string>> = {}): ServerDef<string> => ({ names, id: names.join(' '), ...extra });

  it('reports conflicts as nginx warns about them', () => {
    const selector = buildServerSelector([server(['a.test']), server(['a.test', '.b.test']), server(['b.test'])], { address: '0.0.0.0:80' });
    assert.deepEqual(selector.warnings, [
      'conflicting server name "a.test" on 0.0.0.0:80, ignored',
      'conflicting server name "b.test" on 0.0.0.0:80, ignored',
    ]);
  });

  it('warns about a "/" in a name and keeps it', () => {
    const selector = buildServerSelector([server(['a/b']), server(['c'])]);
    assert.deepEqual(selector.warnings, ['server name "a/b" has suspicious symbols']);
  });

  it('picks the default_server, else the first server', () => {
    assert.equal(buildServerSelector([server(['a']), server(['b'], { defaultServer: true })]).defaultServer.id, 'b');
    assert.equal(buildServerSelector([server(['a']), server(['b'])]).defaultServer.id, 'a');
  });

  it('lower-cases names and the host, ASCII only', () => {
    const selector = buildServerSelector([server(['x']), server(['ÉCOLE.Example'])]);
    const hit = selector.select('\xc3\x89cole.EXAMPLE');
    assert.ok(hit.ok);
    assert.equal(hit.server.id, 'ÉCOLE.Example');
    assert.equal(hit.host, '\xc3\x89cole.example');
  });

  it('answers 400 for an invalid host and accepts an absent one', () => {
    const selector = buildServerSelector([server(['a']), server(['b'])]);
    assert.deepEqual(selector.select('a..b'), { ok: false, status: 400, reason: 'client sent invalid host header' });
    const none = selector.select(null);
    assert.ok(none.ok);
    assert.equal(none.host, '');
  });

  const refusals: Array<[string, ServerDef<string>[], string, string]> = [
    ['"*" alone', [server(['*'])], 'ERR_SERVER_NAME', 'server name "*" is invalid'],
    ['"*x.com"', [server(['*x.com'])], 'ERR_SERVER_NAME', 'server name "*x.com" is invalid'],
    ['"."', [server(['.'])], 'ERR_SERVER_NAME', 'server name "." is invalid'],
    ['"~"', [server(['~'])], 'ERR_SERVER_NAME', 'empty regex in server name "~"'],
    ['a bad regex', [server(['~(a'])], 'ERR_SERVER_NAME', 'pcre2_compile() failed: missing closing parenthesis in "(a" at ""'],
    ['a star inside', [server(['www.*.com']), server(['b'])], 'ERR_SERVER_NAME', 'invalid server name or wildcard "www.*.com" on 0.0.0.0:80'],
    ['two stars', [server(['*.a.*']), server(['b'])], 'ERR_SERVER_NAME', 'invalid server name or wildcard "*.a.*" on 0.0.0.0:80'],
    [
      'two defaults',
      [server(['a'], { defaultServer: true }), server(['b'], { defaultServer: true })],
      'ERR_DUPLICATE_DEFAULT_SERVER',
      'a duplicate default server for 0.0.0.0:80',
    ],
  ];
  for (const [title, servers, code, message] of refusals) {
    it(`refuses what nginx refuses: ${title}`, () => {
      assert.throws(() => buildServerSelector(servers, { address: '0.0.0.0:80' }), (error: unknown) => {
        assert.ok(error instanceof ServerNameError);
        assert.equal(error.code, code);
        assert.equal(error.message, message);
        return true;
      });
    });
  }
});

describe('buildServerSelector properties', () => {
  const label = fc.constantFrom('a', 'b', 'www', 'x');
  const domain = fc.array(label, { minLength: 1, maxLength: 3 }).map((labels) => labels.join('.'));
  const name = fc.oneof(
    domain,
    domain.map((d) => '*.' + d),
    domain.map((d) => '.' + d),
    domain.map((d) => d + '.*'),
    domain.map((d) => '~^' + d.replaceAll('.', '\\.') + '(\\.\\w+)?$'),
  );
  /** Names the documentation-level reference models: no conflicts, as nginx would warn about. */
  const conflictFree = (names: string[]): boolean => {
    const keys = names.flatMap((n) => {
      if (n.startsWith('~')) return [n];
      if (n.startsWith('*.')) return ['head:' + n.slice(2)];
      if (n.startsWith('.')) return ['head:' + n.slice(1), 'exact:' + n.slice(1)];
      if (n.endsWith('.*')) return ['tail:' + n.slice(0, -2)];
      return ['exact:' + n];
    });
    return new Set(keys).size === keys.length;
  };
  const anyServers = fc
    .array(fc.array(name, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 6 })
    .map((lists) => lists.map((names, k) => ({ names, id: k })));
  const servers = anyServers.filter((defs) => conflictFree(defs.flatMap((d) => d.names)));
  const host = fc.oneof(domain, fc.array(label, { minLength: 1, maxLength: 5 }).map((labels) => labels.join('.')), fc.constant(''));

  it('agrees with the documentation read literally', () => {
    fc.assert(
      fc.property(servers, fc.array(host, { minLength: 1, maxLength: 10 }), (defs, hosts) => {
        const selector = buildServerSelector(defs);
        const select = referenceServerSelector(defs);
        assert.deepEqual(selector.warnings, []);
        for (const h of hosts) {
          const ours = selector.select(h);
          const theirs = select(h);
          assert.ok(ours.ok && theirs !== 'bad-request');
          assert.equal(ours.server.id, theirs.server.id, `host ${JSON.stringify(h)}`);
          assert.deepEqual(ours.captures, theirs.captures);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on any host', () => {
    const selector = buildServerSelector([{ names: ['a', '*.b', 'c.*', '~^d'], id: 0 }, { names: ['e'], id: 1 }]);
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)) }), (h) => {
        const result = selector.select(h);
        assert.ok(result.ok || result.status === 400);
      }),
      { numRuns: 2000 },
    );
  });

  const nginxOptions = { skip: 'skip' in nginx ? nginx.skip : false, timeout: 120_000 };
  it('agrees with the real nginx on random name sets, conflicts included', nginxOptions, async () => {
    if (!('path' in nginx)) return;
    const binary = nginx.path;
    await fc.assert(
      fc.asyncProperty(anyServers, fc.array(host.filter((h) => h !== ''), { minLength: 5, maxLength: 15 }), async (defs, hosts) => {
        const specs = defs.map((d) => ({ names: d.names, id: `s${d.id}` }));
        const oracle = await startOracle(binary, nginxServers(specs));
        try {
          const selector = buildServerSelector(specs.map((s) => ({ names: s.names, id: s.id })));
          for (const h of hosts) {
            const response = await oracle.request(`GET / HTTP/1.0\r\nHost: ${h}\r\n\r\n`);
            const ours = selector.select(h);
            assert.ok(ours.ok);
            assert.equal(ours.server.id, response.body, `names ${JSON.stringify(defs)}, host ${h}`);
          }
        } finally {
          await oracle.stop();
        }
      }),
      { numRuns: 12 },
    );
  });
});

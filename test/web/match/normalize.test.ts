/**
 * Request-target normalisation: the table of normalize.case.ts against tsgi and the real nginx,
 * then property tests against a second, batch-style reading of the same rules.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseRequestTarget } from '../../../src/web/match/normalize.js';
import { NORMALIZE_CASES, type NormalizeCase, type NormalizeCaseGroup } from './normalize.case.js';
import { nginx, startOracle, type NginxOracle } from './nginx-oracle.js';

type Outcome = { uri: string; args: string; requestUri: string; host: string } | 400;

function expected(c: NormalizeCase): Outcome {
  if (c.expect === 400) return 400;
  // $request_uri is the target from the path on: an absolute-form target loses scheme and host.
  const requestUri = c.expect.requestUri ?? c.target.replace(/^[^/]+:\/\/[^/?]*/, '');
  return { uri: c.expect.uri, args: c.expect.args ?? '', requestUri, host: c.expect.host ?? '' };
}

interface Implementation {
  name: string;
  skip?: string;
  load(group: NormalizeCaseGroup): Promise<{ resolve(target: string): Promise<Outcome>; close(): Promise<void> }>;
}

const tsgi: Implementation = {
  name: 'tsgi',
  async load(group) {
    return {
      async resolve(target) {
        const result = parseRequestTarget(target, { mergeSlashes: group.mergeSlashes });
        if (!result.ok) return result.status;
        const { uri, args, requestUri, host } = result.target;
        return { uri, args, requestUri, host: host ?? '' };
      },
      async close() {},
    };
  },
};

const SEPARATOR = '|@|';

const nginxImplementation: Implementation = {
  name: 'nginx',
  ...('skip' in nginx ? { skip: nginx.skip } : {}),
  async load(group) {
    if (!('path' in nginx)) throw new Error('nginx is not installed');
    const oracle: NginxOracle = await startOracle(
      nginx.path,
      `server {
        listen 127.0.0.1:PORT;
        server_name "";
        merge_slashes ${group.mergeSlashes ? 'on' : 'off'};
        location / { return 200 "$uri${SEPARATOR}$args${SEPARATOR}$request_uri${SEPARATOR}$host"; }
      }`,
    );
    return {
      async resolve(target) {
        const response = await oracle.request(`GET ${target} HTTP/1.0\r\n\r\n`);
        if (response.status === 400) return 400;
        assert.equal(response.status, 200, `nginx answered ${response.status}`);
        const [uri, args, requestUri, host] = response.body.split(SEPARATOR) as [string, string, string, string];
        return { uri, args, requestUri, host };
      },
      close: () => oracle.stop(),
    };
  },
};

for (const impl of [tsgi, nginxImplementation]) {
  describe(`request-target conformance: ${impl.name}`, { skip: impl.skip ?? false }, () => {
    for (const group of NORMALIZE_CASES) {
      describe(group.name, () => {
        let loaded: Awaited<ReturnType<Implementation['load']>> | undefined;
        before(async () => {
          loaded = await impl.load(group);
        });
        after(async () => {
          await loaded?.close();
        });
        for (const c of group.cases) {
          it(`${JSON.stringify(c.target)} → ${JSON.stringify(c.expect)}`, async () => {
            assert.deepEqual(await loaded!.resolve(c.target), expected(c));
          });
        }
      });
    }
  });
}

describe('parseRequestTarget', () => {
  it("computes nginx's r->exten from the last segment of $uri", () => {
    const exten = (target: string): string => {
      const result = parseRequestTarget(target);
      assert.ok(result.ok);
      return result.target.exten;
    };
    assert.equal(exten('/a/b.HTML'), 'HTML');
    assert.equal(exten('/a/b.tar.gz?x.y'), 'gz');
    assert.equal(exten('/a.b/c'), '');
    assert.equal(exten('/a/.hidden'), '');
    assert.equal(exten('/a%2Eb'), 'b');
    assert.equal(exten('/a.b%2Fc'), '');
    assert.equal(exten('/x.php#y.z'), 'php');
    assert.equal(exten('//a.b'), 'b');
  });

  it('gives the reason nginx logs', () => {
    assert.deepEqual(parseRequestTarget('/..'), { ok: false, status: 400, reason: 'client sent invalid request' });
    assert.deepEqual(parseRequestTarget('http://a..b/'), { ok: false, status: 400, reason: 'client sent invalid host in request line' });
  });

  it('refuses strings that are not byte strings', () => {
    assert.equal(parseRequestTarget('/caf\u00e9\u20ac').ok, false);
  });

  it('keeps long URIs intact', () => {
    const long = '/' + 'a/'.repeat(10_000) + '%41';
    const result = parseRequestTarget(long);
    assert.ok(result.ok);
    assert.equal(result.target.uri, '/' + 'a/'.repeat(10_000) + 'A');
  });
});

/**
 * The same rules read the other way round: decode everything first, cut at the first raw '?' or
 * '#', split into segments, drop "." and empty segments, pop on "..". nginx does it in one pass,
 * and the two readings must agree.
 */
function batchReference(target: string, mergeSlashes: boolean): { uri: string; args: string } | 400 {
  let end = target.length;
  let argsStart = -1;
  for (let i = 0; i < target.length; i++) {
    if (target[i] === '?') {
      end = i;
      argsStart = i + 1;
      break;
    }
    if (target[i] === '#') {
      end = i;
      break;
    }
  }
  const rawPath = target.slice(0, end);
  let decoded = '';
  for (let i = 0; i < rawPath.length; i++) {
    if (rawPath[i] !== '%') {
      decoded += rawPath[i];
      continue;
    }
    const hex = rawPath.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return 400;
    const byte = parseInt(hex, 16);
    if (byte === 0) return 400;
    // Decoded '/' and '.' are syntax below; a decoded '%', '#' or '?' is data, since the raw
    // '?' and '#' were cut off first.
    decoded += String.fromCharCode(byte);
    i += 2;
  }
  const segments = decoded.split('/').slice(1);
  const out: string[] = [];
  for (let k = 0; k < segments.length; k++) {
    const segment = segments[k]!;
    const last = k === segments.length - 1;
    if (segment === '.') {
      if (last) out.push('');
      continue;
    }
    if (segment === '..') {
      if (out.length === 0) return 400;
      out.pop();
      if (last) out.push('');
      continue;
    }
    if (segment === '' && mergeSlashes && !last) continue;
    out.push(segment);
  }
  let uri = '/' + out.join('/');
  if (mergeSlashes) uri = uri.replace(/\/{2,}/g, '/');
  let args = '';
  if (argsStart >= 0) {
    const hash = target.indexOf('#', argsStart);
    args = target.slice(argsStart, hash < 0 ? undefined : hash);
  }
  return { uri, args };
}

describe('parseRequestTarget properties', () => {
  const byte = fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c));
  const pathChar = fc.constantFrom('a', 'b', '.', '/', '%2e', '%2E', '%2f', '%41', '%25', '%3f', '%23', '?', '#', '%', '%0', '+', '\xe9', '%00');
  const target = fc.array(pathChar, { maxLength: 14 }).map((parts) => '/' + parts.join(''));

  it('never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: byte }), fc.boolean(), (s, merge) => {
        const result = parseRequestTarget(s, { mergeSlashes: merge });
        assert.ok(result.ok || result.status === 400);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives a $uri that starts with / and has no dot-segment left', () => {
    fc.assert(
      fc.property(target, fc.boolean(), (t, merge) => {
        const result = parseRequestTarget(t, { mergeSlashes: merge });
        if (!result.ok) return;
        const { uri } = result.target;
        assert.ok(uri.startsWith('/'));
        // Decoded '%' can leave "%2e"-looking text, but never a '.' or '..' segment.
        assert.ok(!uri.split('/').slice(1).some((segment) => segment === '.' || segment === '..'), uri);
        if (merge) assert.ok(!uri.includes('//'), uri);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with a decode-then-resolve reading of the rules', () => {
    fc.assert(
      fc.property(target, fc.boolean(), (t, merge) => {
        const result = parseRequestTarget(t, { mergeSlashes: merge });
        const reference = batchReference(t, merge);
        if (reference === 400) {
          assert.equal(result.ok, false, `${JSON.stringify(t)} should be refused`);
          return;
        }
        assert.ok(result.ok, `${JSON.stringify(t)} should be accepted`);
        assert.deepEqual({ uri: result.target.uri, args: result.target.args }, reference, JSON.stringify(t));
      }),
      { numRuns: 5000 },
    );
  });

  it('is idempotent on its own output when that is a valid target with no escapes', () => {
    fc.assert(
      fc.property(target, (t) => {
        const first = parseRequestTarget(t);
        // A decoded '%', '?', '#' or control byte would be read as syntax, or refused, the second time.
        if (!first.ok || /[%?#\x00-\x20\x7f]/.test(first.target.uri)) return;
        const second = parseRequestTarget(first.target.uri);
        assert.ok(second.ok);
        assert.equal(second.target.uri, first.target.uri);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseRequestTarget against the real nginx on random targets', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  const part = fc.constantFrom(
    ...['a', 'B', '.', '/', '%2e', '%2F', '%41', '%25', '%3f', '%23', '%00', '%0', '%', '?', '#', '+', '\xe9', '\x7f', '&', '='],
  );
  const target = fc.oneof(
    { weight: 5, arbitrary: fc.array(part, { maxLength: 16 }).map((parts) => '/' + parts.join('')) },
    { weight: 1, arbitrary: fc.array(part, { maxLength: 10 }).map((parts) => 'http://h.test' + parts.join('')) },
  );
  for (const mergeSlashes of [true, false]) {
    let loaded: Awaited<ReturnType<Implementation['load']>> | undefined;
    const group: NormalizeCaseGroup = { name: 'random', mergeSlashes, cases: [] };
    before(async () => {
      loaded = await nginxImplementation.load(group);
    });
    after(async () => {
      await loaded?.close();
    });
    it(`agrees with merge_slashes ${mergeSlashes ? 'on' : 'off'}`, async () => {
      const ours = await tsgi.load(group);
      await fc.assert(
        fc.asyncProperty(target, async (t) => {
          assert.deepEqual(await ours.resolve(t), await loaded!.resolve(t), JSON.stringify(t));
        }),
        { numRuns: 400 },
      );
    });
  }
});

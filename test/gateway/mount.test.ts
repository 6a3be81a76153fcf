/** mount(): uWSGI `mount` + `manage-script-name` / Paste URLMap dispatch; compose(): middleware order. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compose } from '../../src/gateway/compose.js';
import { mount } from '../../src/gateway/mount.js';
import type { App, Environ, HeaderList, Middleware } from '../../src/gateway/types.js';
import { makeEnviron } from '../helpers/environ.js';

function environ(path: string, scriptName = ''): Environ {
  return makeEnviron({ SCRIPT_NAME: scriptName, PATH_INFO: path, SERVER_NAME: 'localhost' });
}

/** An app that answers with its name and the SCRIPT_NAME / PATH_INFO it was given. */
function named(name: string): App {
  return (env, startResponse) => {
    startResponse('200 OK', [['Content-Type', 'text/plain']]);
    return [`${name} ${JSON.stringify(env.SCRIPT_NAME)} ${JSON.stringify(env.PATH_INFO)}`];
  };
}

async function call(app: App, env: Environ): Promise<{ status: string; headers: HeaderList; body: string }> {
  let status = '';
  let headers: HeaderList = [];
  const body = await app(env, (s, h) => {
    status = s;
    headers = h;
    return async () => {};
  });
  let text = '';
  for await (const chunk of body) text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  return { status, headers, body: text };
}

describe('mount', () => {
  const app = mount({ '/': named('root'), '/api': named('api'), '/api/v2': named('v2'), '/static/': named('static') });

  const cases: Array<[path: string, expected: string]> = [
    ['/api/v2/users', 'v2 "/api/v2" "/users"'],
    ['/api/v2', 'v2 "/api/v2" ""'],
    ['/api/v2/', 'v2 "/api/v2" "/"'],
    ['/api/v20', 'api "/api" "/v20"'],
    ['/api', 'api "/api" ""'],
    ['/apix', 'root "" "/apix"'],
    ['/static/css/a.css', 'static "/static" "/css/a.css"'],
    ['/', 'root "" "/"'],
    ['', 'root "" ""'],
  ];
  for (const [path, expected] of cases) {
    it(`dispatches ${JSON.stringify(path)} by longest prefix at a / boundary`, async () => {
      assert.equal((await call(app, environ(path))).body, expected);
    });
  }

  it('appends to an existing SCRIPT_NAME (mounts nest)', async () => {
    const inner = mount({ '/b': named('inner') });
    const outer = mount({ '/a': inner });
    assert.equal((await call(outer, environ('/a/b/c', '/base'))).body, 'inner "/base/a/b" "/c"');
  });

  it('leaves the caller environ unchanged', async () => {
    const env = environ('/api/x');
    await call(app, env);
    assert.equal(env.SCRIPT_NAME, '');
    assert.equal(env.PATH_INFO, '/api/x');
  });

  it('normalizes prefixes: trailing and doubled slashes, a missing leading slash', async () => {
    const normalized = mount({ 'a/': named('a'), '//b//': named('b') });
    assert.equal((await call(normalized, environ('/a/x'))).body, 'a "/a" "/x"');
    assert.equal((await call(normalized, environ('/b'))).body, 'b "/b" ""');
  });

  it("accepts '' and '/' as the root, or options.fallback", async () => {
    assert.equal((await call(mount({ '': named('r') }), environ('/z'))).body, 'r "" "/z"');
    assert.equal((await call(mount({ '/x': named('x') }, { fallback: named('f') }), environ('/z'))).body, 'f "" "/z"');
  });

  it('answers 404 Not Found when nothing matches and there is no root', async () => {
    const result = await call(mount({ '/a': named('a') }), environ('/b'));
    assert.equal(result.status, '404 Not Found');
    assert.equal(result.body, 'Not Found');
    assert.deepEqual(result.headers, [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', '9'],
    ]);
  });

  it('rejects ambiguous tables', () => {
    assert.throws(() => mount({ '/a': named('1'), '/a/': named('2') }), /same mount point/);
    assert.throws(() => mount({ '/': named('1') }, { fallback: named('2') }), /not both/);
    assert.throws(() => mount({ '/a?x': named('1') }), /not a path prefix/);
  });

  it('is case-sensitive, as uWSGI is', async () => {
    assert.equal((await call(app, environ('/API/v2'))).body, 'root "" "/API/v2"');
  });

  it('keeps SCRIPT_NAME + PATH_INFO and picks the longest matching prefix (property)', async () => {
    const segment = fc.constantFrom('a', 'b', 'ab', 'c');
    const pathOf = (segments: string[]): string => segments.map((s) => `/${s}`).join('');
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.array(segment, { minLength: 1, maxLength: 3 }).map(pathOf), { maxLength: 5 }),
        fc.array(segment, { maxLength: 4 }).map(pathOf),
        fc.boolean(),
        async (prefixes, path, trailingSlash) => {
          const seen: Environ[] = [];
          const recorder: App = (env, startResponse) => {
            seen.push(env);
            startResponse('200 OK', []);
            return [];
          };
          const recording = mount(Object.fromEntries(prefixes.map((p) => [p, recorder])), { fallback: recorder });
          const fullPath = path + (trailingSlash ? '/' : '');
          await call(recording, environ(fullPath, '/m'));
          const got = seen[0]!;
          assert.equal(got.SCRIPT_NAME + got.PATH_INFO, '/m' + fullPath);
          const matches = prefixes.filter((p) => fullPath === p || fullPath.startsWith(p + '/'));
          const longest = matches.sort((a, b) => b.length - a.length)[0] ?? '';
          assert.equal(got.SCRIPT_NAME, '/m' + longest);
          assert.ok(got.PATH_INFO === '' || got.PATH_INFO.startsWith('/'));
        },
      ),
    );
  });
});

describe('compose', () => {
  /** Middleware that records when it sees the request and the response. */
  function tracer(name: string, trace: string[]): Middleware {
    return (inner) => (env, startResponse) => {
      trace.push(`${name}:request`);
      return inner(env, (status, headers, excInfo) => {
        trace.push(`${name}:response`);
        return startResponse(status, headers, excInfo);
      });
    };
  }

  it('composes right to left: the first listed is the outermost', async () => {
    const trace: string[] = [];
    const app = compose(tracer('a', trace), tracer('b', trace), tracer('c', trace))(named('app'));
    await call(app, environ('/'));
    assert.deepEqual(trace, ['a:request', 'b:request', 'c:request', 'c:response', 'b:response', 'a:response']);
  });

  it('with no middleware returns the app itself', () => {
    const app = named('x');
    assert.equal(compose()(app), app);
  });

  it('rejects something that is not a function', () => {
    assert.throws(() => compose(named('x') as unknown as Middleware, 42 as unknown as Middleware), /argument 1/);
  });
});

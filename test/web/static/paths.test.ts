/** Path mapping, nginx's alias pitfall detector, and confinement. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { aliasPitfall, confinedPath, confinementBase, mapUriToPath } from '../../../src/web/static/index.js';

describe('mapUriToPath', () => {
  it('root + $uri, alias replacing the location name, regex alias whole', () => {
    assert.equal(mapUriToPath('/a/b.txt', { kind: 'root', root: '/srv' }), '/srv/a/b.txt');
    assert.equal(mapUriToPath('/img/x.png', { kind: 'alias', alias: '/data/images/', location: '/img/' }), '/data/images/x.png');
    assert.equal(mapUriToPath('/i../s', { kind: 'alias', alias: '/data/images/', location: '/i' }), '/data/images/../s');
    assert.equal(mapUriToPath('/d/a', { kind: 'regexAlias', alias: '/data/a' }), '/data/a');
    assert.equal(mapUriToPath('/d/a', { kind: 'regexAlias', alias: '/data/a' }, true), '/data/a/d/a');
  });
});

describe('aliasPitfall', () => {
  it('flags a location name without "/" holding an alias', () => {
    assert.equal(aliasPitfall('/i', '/data/images/')?.kind, 'traversal');
    assert.equal(aliasPitfall('/i', '/data/images')?.kind, 'sibling');
    assert.match(aliasPitfall('/i', '/data/images/')!.message, /"\/i\.\.\/" reach the parent directory/);
  });
  it('leaves alone names ending in "/"', () => {
    assert.equal(aliasPitfall('/i/', '/data/images/'), null);
    assert.equal(aliasPitfall('/i/', '/data/images'), null, 'a missing alias slash only glues names, inside the alias');
    assert.equal(aliasPitfall('', '/data/'), null);
  });
});

describe('confinement', () => {
  it('resolves dot segments and keeps paths under the base', () => {
    assert.equal(confinedPath('/srv/a/../b', '/srv'), '/srv/a/../b');
    assert.equal(confinedPath('/srv/../etc/passwd', '/srv'), null);
    assert.equal(confinedPath('/srv/./x', '/srv'), '/srv/./x');
    assert.equal(confinedPath('/srv/..', '/srv'), null);
    assert.equal(confinedPath('/srvx/a', '/srv/'), null);
    assert.equal(confinedPath('/srv', '/srv/'), '/srv');
  });
  it("lets an alias with the traversal pitfall reach its parent, as nginx does, and no further", () => {
    const pit = { kind: 'alias', alias: '/data/images/', location: '/i' } as const;
    assert.equal(confinementBase(pit), '/data/');
    assert.equal(confinedPath('/data/images/../secret.txt', confinementBase(pit)), '/data/images/../secret.txt');
    assert.equal(confinedPath('/data/images/../../etc/passwd', confinementBase(pit)), null);
    assert.equal(confinementBase({ kind: 'alias', alias: '/data/images/', location: '/i/' }), '/data/images/');
    assert.equal(confinementBase({ kind: 'root', root: '/srv' }), '/srv');
  });
});

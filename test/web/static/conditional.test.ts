/** Validators and the not-modified filter's rules, beyond the parity table. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { etagMatches, evaluatePreconditions, fileEtag, httpDate } from '../../../src/web/static/index.js';

describe('fileEtag', () => {
  it('is "hex(mtime)-hex(size)", lower case', () => {
    assert.equal(fileEtag(0x65a50a55, 6), '"65a50a55-6"');
    assert.equal(fileEtag(1_700_000_000, 1_048_576), '"6553f100-100000"');
  });
});

describe('etagMatches (ngx_http_test_if_match)', () => {
  const tag = '"5-6"';
  const table: Array<[list: string, weak: boolean, expected: boolean]> = [
    ['"5-6"', false, true],
    ['W/"5-6"', false, false],
    ['W/"5-6"', true, true],
    ['"x", "5-6"', false, true],
    ['"x",\t"5-6" ,"y"', true, true],
    ['"5-6"x', false, false],
    ['"5-6" , x', false, true],
    ['"5-", "5-6', false, false],
    ['*', false, true],
    [' *', false, false],
    ['', false, false],
  ];
  for (const [list, weak, expected] of table) it(`${JSON.stringify(list)} ${weak ? 'weak' : 'strong'}`, () => assert.equal(etagMatches(list, tag, weak), expected));
  it('only "*" matches when there is no ETag', () => {
    assert.equal(etagMatches('*', null, false), true);
    assert.equal(etagMatches('"5-6"', null, true), false);
  });
});

describe('evaluatePreconditions', () => {
  const lm = 1_000_000;
  const etag = '"f4240-6"';
  const at = (shift: number): string => httpDate(lm + shift);
  it('If-Unmodified-Since and If-Match fail with 412 before anything else', () => {
    assert.equal(evaluatePreconditions({ ifUnmodifiedSince: at(-1), ifNoneMatch: etag }, etag, lm, 'exact'), 412);
    assert.equal(evaluatePreconditions({ ifMatch: '"x"', ifNoneMatch: etag }, etag, lm, 'exact'), 412);
    assert.equal(evaluatePreconditions({ ifUnmodifiedSince: at(0) }, etag, lm, 'exact'), 200);
    assert.equal(evaluatePreconditions({ ifUnmodifiedSince: at(0) }, etag, null, 'exact'), 412);
  });
  it('If-Modified-Since: exact by default, before on request, ignored when off', () => {
    assert.equal(evaluatePreconditions({ ifModifiedSince: at(0) }, etag, lm, 'exact'), 304);
    assert.equal(evaluatePreconditions({ ifModifiedSince: at(5) }, etag, lm, 'exact'), 200);
    assert.equal(evaluatePreconditions({ ifModifiedSince: at(5) }, etag, lm, 'before'), 304);
    assert.equal(evaluatePreconditions({ ifModifiedSince: at(-5) }, etag, lm, 'before'), 200);
    assert.equal(evaluatePreconditions({ ifModifiedSince: at(0) }, etag, lm, 'off'), 200);
    assert.equal(evaluatePreconditions({ ifModifiedSince: 'garbage' }, etag, lm, 'before'), 200);
  });
  it('both validators: either one saying "modified" sends the body', () => {
    assert.equal(evaluatePreconditions({ ifModifiedSince: at(0), ifNoneMatch: etag }, etag, lm, 'exact'), 304);
    assert.equal(evaluatePreconditions({ ifModifiedSince: at(0), ifNoneMatch: '"x"' }, etag, lm, 'exact'), 200);
    assert.equal(evaluatePreconditions({ ifModifiedSince: at(1), ifNoneMatch: etag }, etag, lm, 'exact'), 200);
  });
});

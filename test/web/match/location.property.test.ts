/**
 * Property tests of the location matcher: random location trees and URIs against the reference
 * port of nginx's tree (many runs), and against the real nginx (a few runs, one nginx each).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  buildLocationMatcher,
  LocationError,
  type LocationDef,
  type LocationMatcher,
  type LocationModifier,
} from '../../../src/web/match/location.js';
import type { LocationSpec } from './location.case.js';
import { nginxImplementation, toDefs, tsgiImplementation } from './location.impls.js';
import { nginx } from './nginx-oracle.js';
import { referenceLocationMatcher, type ReferenceLocationMatcher } from './reference.js';

/** Few letters, so that names share prefixes and URIs hit them. */
const segment = fc.constantFrom('a', 'b', 'ab', 'A');
const path = fc
  .tuple(fc.array(segment, { maxLength: 3 }), fc.boolean())
  .map(([segments, slash]) => '/' + segments.join('/') + (slash && segments.length > 0 ? '/' : ''));
const suffix = fc.constantFrom('a', 'b', '/', '/a', 'b/', '/b/');
const regex = fc
  .tuple(fc.constantFrom('^', ''), fc.constantFrom('/a', '/b', 'a/', 'b', '/ab/', '/A', 'a'), fc.constantFrom('$', '', '(/|$)', '([ab]+)'))
  .map(([start, middle, end]) => start + middle + end);

type Spec = { modifier: LocationModifier; pattern: string; pass: boolean; children: Spec[] };

/** A location tree nginx accepts (nesting-wise): children extend their parent's name. */
function locations(depth: number, parentName: string | null): fc.Arbitrary<Spec[]> {
  const prefixLike = (modifier: LocationModifier): fc.Arbitrary<Spec> =>
    (parentName === null ? path : suffix.map((s) => parentName + s)).chain((name) =>
      fc
        .tuple(fc.boolean(), modifier !== '=' && depth > 0 ? locations(depth - 1, name) : fc.constant<Spec[]>([]))
        .map(([pass, children]): Spec => ({ modifier, pattern: name, pass, children })),
    );
  const one = fc.oneof(prefixLike(''), prefixLike('^~'), prefixLike('='), regexLike('~', depth), regexLike('~*', depth));
  return fc.array(one, { maxLength: parentName === null ? 8 : 3 });
}

/** Regex locations, with regex children only (a nested prefix would be "outside" the regex). */
function regexLike(modifier: LocationModifier, depth: number): fc.Arbitrary<Spec> {
  const children: fc.Arbitrary<Spec[]> =
    depth > 0 ? fc.array(fc.oneof(regexLike('~', depth - 1), regexLike('~*', depth - 1)), { maxLength: 2 }) : fc.constant([]);
  return fc.tuple(regex, children).map(([pattern, kids]): Spec => ({ modifier, pattern, pass: false, children: kids }));
}

const uri = fc.oneof(path, fc.tuple(path, suffix).map(([p, s]) => p + s));

function numbered(specs: Spec[], counter = { n: 0 }): LocationSpec[] {
  return specs.map((spec) => ({
    modifier: spec.modifier,
    pattern: spec.pattern,
    pass: spec.pass,
    id: `l${counter.n++}`,
    echo: spec.modifier === '~' || spec.modifier === '~*' ? ['1'] : [],
    children: numbered(spec.children, counter),
  }));
}

/** The tree, or null when nginx would refuse it (duplicates); both matchers must agree on that. */
interface Both {
  ours: LocationMatcher<LocationSpec>;
  theirs: ReferenceLocationMatcher<LocationSpec>;
}

function buildBoth(defs: LocationDef<LocationSpec>[]): Both | null {
  let ours;
  try {
    ours = buildLocationMatcher(defs);
  } catch (error) {
    assert.ok(error instanceof LocationError && error.code === 'ERR_LOCATION_DUPLICATE', String(error));
    assert.throws(() => referenceLocationMatcher(defs), /duplicate location/);
    return null;
  }
  return { ours, theirs: referenceLocationMatcher(defs) };
}

describe('location matcher properties', () => {
  it('agrees with the port of nginx’s location tree', () => {
    fc.assert(
      fc.property(locations(2, null), fc.array(uri, { minLength: 1, maxLength: 20 }), (specs, uris) => {
        const built = buildBoth(toDefs(numbered(specs)));
        if (built === null) return;
        for (const u of uris) {
          const ours = built.ours.match(u);
          const theirs = built.theirs.match(u);
          assert.equal(ours?.location.id.id, theirs?.location.id.id, `uri ${u}`);
          assert.equal(ours?.autoRedirect, theirs?.autoRedirect, `uri ${u}`);
          assert.deepEqual(ours?.captures, theirs?.captures, `uri ${u}`);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('gives a top-level exact location its own name, whatever else is configured', () => {
    fc.assert(
      fc.property(locations(2, null), (specs) => {
        const defs = toDefs(numbered(specs));
        const built = buildBoth(defs);
        if (built === null) return;
        for (const def of defs) {
          if (def.modifier !== '=') continue;
          assert.equal(built.ours.match(def.pattern)?.location, def);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on any URI', () => {
    const matcher = buildLocationMatcher([
      { modifier: '', pattern: '/a/', id: 1, upstreamPass: true, children: [{ modifier: '~', pattern: '(x)$', id: 2 }] },
      { modifier: '~*', pattern: '^/(?<n>b+)', id: 3 },
      { modifier: '=', pattern: '/', id: 4 },
    ]);
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)) }), (u) => {
        matcher.match(u);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with the real nginx on random location trees', { skip: 'skip' in nginx ? nginx.skip : false, timeout: 180_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(locations(2, null), fc.array(uri, { minLength: 5, maxLength: 25 }), async (specs, uris) => {
        const group = { name: 'random', locations: numbered(specs), requests: [] };
        try {
          buildLocationMatcher(toDefs(group.locations));
        } catch {
          return; // a duplicate: nginx would refuse to start, as checked above
        }
        const ours = await tsgiImplementation.load(group);
        const theirs = await nginxImplementation.load(group);
        try {
          for (const u of uris) {
            assert.deepEqual(await ours.resolve(u), await theirs.resolve(u), `uri ${u} in ${JSON.stringify(specs)}`);
          }
        } finally {
          await theirs.close();
        }
      }),
      { numRuns: 25 },
    );
  });
});

/** The generated docs match the option table, and the pages link to them. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { GENERATED } from '../scripts/gen-docs.js';
import { SERVE_OPTIONS } from '../src/appserver/options.js';

it('every generated page is up to date (run: node --import tsx scripts/gen-docs.ts)', () => {
  for (const [path, render] of Object.entries(GENERATED)) {
    assert.ok(existsSync(path), `${path} is missing`);
    assert.equal(readFileSync(path, 'utf8'), render(), `${path} is stale`);
  }
});

it('docs/options.md lists every option, and the reason of every ignored one', () => {
  const page = readFileSync('docs/options.md', 'utf8');
  for (const spec of SERVE_OPTIONS) {
    assert.ok(page.includes(`\`--${spec.name}`), `--${spec.name} is not in docs/options.md`);
    if ('ignoredReason' in spec) assert.ok(page.includes(spec.ignoredReason), `the reason for ignoring ${spec.name} is missing`);
  }
});

it('the old reference page is gone and nothing links to it', () => {
  assert.equal(existsSync('docs/reference/serve-options.md'), false);
  for (const page of ['README.md', 'docs/serve.md']) {
    const text = readFileSync(page, 'utf8');
    assert.doesNotMatch(text, /serve-options\.md/, page);
    assert.match(text, /options\.md\)/, `${page} should link to docs/options.md`);
  }
});

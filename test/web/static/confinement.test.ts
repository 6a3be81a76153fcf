/**
 * No request reads outside its root or alias, except through nginx's alias pitfall (which the
 * parity table shows nginx and tsgi both allow). The one place where tsgi is stricter than nginx:
 * try_files and index arguments built from request data ($args, $http_*) that climb out with
 * "../" are treated as missing; nginx would open them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStaticConf, serveStatic, StaticContext, type StaticRequest, type StaticResult } from '../../../src/web/static/index.js';

async function settle(result: StaticResult | Promise<StaticResult>): Promise<StaticResult> {
  return result instanceof Promise ? await result : result;
}

describe('confinement', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsgi-static-confine-'));
    mkdirSync(join(dir, 'www/files'), { recursive: true });
    writeFileSync(join(dir, 'www/files/ok.txt'), 'ok');
    writeFileSync(join(dir, 'outside.txt'), 'SECRET');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('try_files candidates built from request data stay inside the root', async () => {
    const conf = createStaticConf({ files: { kind: 'root', root: join(dir, 'www') }, tryFiles: ['/files/$arg_f', '=404'] });
    // The web server's variable engine: $arg_f is the f argument, as sent.
    const ask = (f: string): Promise<StaticResult> => {
      const expand = (template: string): string => template.replace('$arg_f', f);
      return settle(serveStatic(new StaticContext(), { method: 'GET', uri: '/x', args: `f=${f}`, headers: {}, expand }, conf));
    };
    const body = (result: StaticResult): string =>
      result.kind === 'response' && result.body.kind === 'buffer' ? result.body.data.toString() : result.kind;
    assert.equal(body(await ask('ok.txt')), 'ok');
    assert.equal(body(await ask('../files/ok.txt')), 'ok', 'dot-dot that stays inside is fine');
    assert.deepEqual(await ask('../../outside.txt'), { kind: 'error', status: 404, headers: [] });
  });

  it('an expanded document root is confined to itself', async () => {
    const conf = createStaticConf({ files: { kind: 'root', root: '/unused' } });
    const request: StaticRequest = { method: 'GET', uri: '/ok.txt', args: '', headers: {}, documentRoot: join(dir, 'www/files') };
    const result = await settle(serveStatic(new StaticContext(), request, conf));
    assert.ok(result.kind === 'response' && result.status === 200);
  });

  it('a file name with NUL is not found (Node would throw)', async () => {
    const conf = createStaticConf({ files: { kind: 'root', root: dir }, tryFiles: ['$uri', '=404'] });
    const result = await settle(serveStatic(new StaticContext(), { method: 'GET', uri: '/a\0b', args: '', headers: {} }, conf));
    assert.deepEqual(result, { kind: 'error', status: 404, headers: [] });
  });
});

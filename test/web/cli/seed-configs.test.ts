/**
 * examples/seeds: the seeds' nginx snippets as whole configuration files. `tsgi web -t` accepts
 * each as shipped, and so does the real nginx on the same file (a copy with Debian's
 * uwsgi_params beside it, where nginx looks). What they do end to end is tested with the *_pass
 * modules (test/web/upstream).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TSGI_BIN } from '../../helpers/process.js';
import { nginxPeer } from '../../helpers/nginx.js';

const nginx = nginxPeer();
const SEEDS = join(process.cwd(), 'examples/seeds');
const FILES = readdirSync(SEEDS).filter((name) => name.endsWith('.conf'));

/** `-t` with a throw-away prefix, so no log or pid path lands in the repository. */
function check(binary: 'tsgi' | string, conf: string): { status: number | null; output: string } {
  const prefix = mkdtempSync(join(tmpdir(), 'tsgi-seed-conf-'));
  try {
    const args = ['-t', '-c', conf, '-p', prefix + '/', '-e', join(prefix, 'error.log')];
    const result =
      binary === 'tsgi'
        ? spawnSync(process.execPath, [TSGI_BIN, 'web', ...args], { encoding: 'utf8' })
        : spawnSync(binary, args, { encoding: 'utf8' });
    return { status: result.status, output: result.stdout + result.stderr };
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
}

/** The file in a directory of its own with the include it names, as nginx needs it. */
function copyWithParams(file: string): { dir: string; conf: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-seed-copy-'));
  copyFileSync(join(SEEDS, file), join(dir, 'nginx.conf'));
  copyFileSync(join(process.cwd(), 'conf/uwsgi_params'), join(dir, 'uwsgi_params'));
  return { dir, conf: join(dir, 'nginx.conf') };
}

describe('examples/seeds', () => {
  it('holds the four configurations issue 7 names', () => {
    assert.deepEqual(FILES.sort(), ['flask-root.conf', 'myapp-unix.conf', 'myapp.conf', 'reverse-proxy.conf']);
  });

  for (const file of FILES) {
    it(`${file}: tsgi web -t passes as shipped`, () => {
      const result = check('tsgi', join(SEEDS, file));
      assert.equal(result.status, 0, result.output);
      assert.match(result.output, /test is successful/);
    });

    it(`${file}: nginx -t and tsgi web -t both pass on the same copy`, { skip: 'skip' in nginx ? nginx.skip : false }, () => {
      if (!('path' in nginx)) return;
      const { dir, conf } = copyWithParams(file);
      try {
        const theirs = check(nginx.path, conf);
        const ours = check('tsgi', conf);
        assert.equal(theirs.status, 0, theirs.output);
        assert.equal(ours.status, 0, ours.output);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  // Seed 001 writes `proxy_pass 127.0.0.1:9000;`: nginx refuses it, and so must tsgi, in the same words.
  it('the seed\'s proxy_pass without http:// fails as in nginx: "invalid URL prefix"', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
    if (!('path' in nginx)) return;
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-seed-copy-'));
    try {
      const conf = join(dir, 'nginx.conf');
      writeFileSync(conf, 'events {}\nhttp {\n  server {\n    listen 127.0.0.1:8080;\n    location / {\n      proxy_pass 127.0.0.1:9000;\n    }\n  }\n}\n');
      const theirs = check(nginx.path, conf);
      const ours = check('tsgi', conf);
      assert.equal(theirs.status, 1);
      assert.equal(ours.status, 1);
      const where = `invalid URL prefix in ${conf}:6`;
      assert.ok(theirs.output.includes(where), theirs.output);
      assert.ok(ours.output.includes(where), ours.output);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * examples/site, as shipped: `tsgi web -t` accepts it, and `tsgi web` serves the page, its
 * stylesheet, script and image with the same status, type and bytes as the real nginx running
 * the same nginx.conf (a copy with a free port, and Debian's mime.types beside it for nginx).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TSGI_BIN } from '../../helpers/process.js';
import { freePort, nginxPeer, waitForPort } from '../../helpers/nginx.js';
import { exchangeRaw } from '../server/raw-http.js';

const nginx = nginxPeer();
const SITE = join(process.cwd(), 'examples/site');

interface Copy {
  readonly dir: string;
  readonly port: number;
  readonly child: ChildProcess;
}

async function serve(kind: 'nginx' | 'tsgi'): Promise<Copy> {
  const dir = mkdtempSync(join(tmpdir(), `tsgi-example-${kind}-`));
  cpSync(SITE, dir, { recursive: true });
  cpSync(join(process.cwd(), 'conf/mime.types'), join(dir, 'mime.types'));
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, readFileSync(conf, 'utf8').replace('listen 127.0.0.1:8080;', `listen 127.0.0.1:${port};`).replace('error_log stderr notice;', 'error_log stderr error;'));
  const args = ['-p', dir + '/', '-c', conf, '-g', 'user root;'];
  const child = kind === 'nginx' && 'path' in nginx ? spawn(nginx.path, args, { stdio: 'ignore' }) : spawn(process.execPath, [TSGI_BIN, 'web', ...args], { stdio: 'ignore' });
  await waitForPort(port);
  return { dir, port, child };
}

describe('examples/site', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let theirs: Copy;
  let ours: Copy;

  before(async () => {
    [theirs, ours] = await Promise.all([serve('nginx'), serve('tsgi')]);
  });

  after(async () => {
    for (const copy of [theirs, ours]) {
      if (!copy) continue;
      copy.child.kill('SIGTERM');
      await new Promise((resolve) => copy.child.once('exit', resolve));
      rmSync(copy.dir, { recursive: true, force: true });
    }
  });

  it('passes tsgi web -t', () => {
    const result = spawnSync(process.execPath, [TSGI_BIN, 'web', '-t', '-c', join(SITE, 'nginx.conf')], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /test is successful/);
  });

  for (const path of ['/', '/index.html', '/style.css', '/app.js', '/logo.png', '/missing-page', '/status']) {
    it(`GET ${path} as nginx answers it`, async () => {
      const request = `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
      const [a, b] = await Promise.all([exchangeRaw(theirs.port, request), exchangeRaw(ours.port, request)]);
      const [want, got] = [a.responses[0]!, b.responses[0]!];
      assert.equal(got.status, want.status);
      assert.equal(got.header('content-type'), want.header('content-type'));
      assert.equal(got.header('cache-control'), want.header('cache-control'));
      if (path === '/status') {
        assert.match(got.body.toString(), /^Active connections: \d+ \nserver accepts handled requests\n \d+ \d+ \d+ \nReading: \d+ Writing: \d+ Waiting: \d+ \n$/);
      } else {
        assert.deepEqual(got.body, want.body);
        assert.equal(got.header('etag'), want.header('etag'));
      }
    });
  }

  it('the stylesheet comes gzipped to a client that asks, as from nginx', async () => {
    const request = 'GET /style.css HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n';
    const [a, b] = await Promise.all([exchangeRaw(theirs.port, request), exchangeRaw(ours.port, request)]);
    const names = (response: (typeof a.responses)[number]): string[] =>
      response.headers.map(([name]) => name.toLowerCase()).filter((name) => !['server', 'date'].includes(name));
    assert.equal(b.responses[0]!.header('content-encoding'), 'gzip');
    assert.deepEqual(names(b.responses[0]!), names(a.responses[0]!));
  });
});

/**
 * A real browser on examples/site: Debian's chromium, driven by playwright-core over CDP, loads the
 * page from `tsgi web` (the shipped nginx.conf, copied with a free port) and the test checks what a
 * person would see: the stylesheet applied, the script ran, the image decoded, no request failed,
 * and on a reload the browser revalidates the page (304) and keeps the assets it may cache.
 *
 * curl-level checks of the same site against real nginx are in test/web/cli/example-site.test.ts.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page, Response } from 'playwright-core';
import { TSGI_BIN } from '../helpers/process.js';
import { freePort, waitForPort } from '../helpers/nginx.js';
import { requirePeer } from '../helpers/peers.js';

const chromium = requirePeer('chromium');
const SITE = join(process.cwd(), 'examples/site');
/** --accent in style.css, as getComputedStyle reports it. */
const ACCENT = 'rgb(20, 140, 150)';

interface Seen {
  readonly url: string;
  readonly status: number;
  readonly headers: Record<string, string>;
}

describe('examples/site in headless chromium', { skip: 'skip' in chromium ? chromium.skip : false }, () => {
  let dir: string;
  let base: string;
  let child: ChildProcess;
  let browser: Browser;
  let page: Page;
  const seen: Seen[] = [];
  const failed: string[] = [];
  /** What the browser's network layer reports (CDP): the real status, and cache hits. */
  const wire: { url: string; fromCache: boolean; rawStatus: () => number | undefined }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsgi-browser-'));
    cpSync(SITE, dir, { recursive: true });
    const port = await freePort();
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, readFileSync(conf, 'utf8').replace('listen 127.0.0.1:8080;', `listen 127.0.0.1:${port};`).replace('error_log stderr notice;', 'error_log stderr error;'));
    child = spawn(process.execPath, [TSGI_BIN, 'web', '-p', dir + '/', '-c', conf], { stdio: 'ignore' });
    await waitForPort(port);
    base = `http://127.0.0.1:${port}`;
    // Imported here so that a machine without the package still skips cleanly above.
    const { chromium: launcher } = await import('playwright-core');
    // --no-sandbox: chromium refuses to start its sandbox as root, which is how CI runs.
    browser = await launcher.launch({ executablePath: 'path' in chromium ? chromium.path : '', args: ['--no-sandbox'] });
    page = await browser.newPage();
    page.on('response', (response: Response) => {
      seen.push({ url: response.url(), status: response.status(), headers: response.headers() });
    });
    // Playwright shows a revalidated or cached response as its cached 200; CDP tells them apart.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    const cachedIds = new Set<string>();
    const rawStatuses = new Map<string, number>();
    cdp.on('Network.requestServedFromCache', ({ requestId }) => cachedIds.add(requestId));
    // The status line as it came off the socket: a 304 here is shown as the cached 200 elsewhere.
    cdp.on('Network.responseReceivedExtraInfo', ({ requestId, statusCode }) => rawStatuses.set(requestId, statusCode));
    cdp.on('Network.responseReceived', ({ requestId, response }) => {
      wire.push({ url: response.url, fromCache: cachedIds.has(requestId) || response.fromDiskCache === true, rawStatus: () => rawStatuses.get(requestId) });
    });
    page.on('requestfailed', (request) => failed.push(`${request.url()}: ${request.failure()?.errorText}`));
    await page.goto(`${base}/`, { waitUntil: 'load' });
  });

  after(async () => {
    await browser?.close();
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // Page code as expression strings: the project compiles without the DOM's types.
  const inPage = (expression: string): Promise<unknown> => page.evaluate(expression);

  const first = (path: string): Seen => {
    const hit = seen.find((s) => s.url === `${base}${path}`);
    assert.ok(hit, `the browser fetched ${path} (saw ${seen.map((s) => s.url).join(', ')})`);
    return hit;
  };

  it('fetched the page and every asset with 200 and the right type, none failed', () => {
    assert.deepEqual(failed, []);
    for (const [path, type] of [
      ['/', 'text/html'],
      ['/style.css', 'text/css'],
      ['/app.js', 'application/javascript'],
      ['/logo.png', 'image/png'],
    ] as const) {
      const response = first(path);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers['content-type']?.split(';')[0], type, path);
      assert.match(response.headers['server'] ?? '', /^tsgi/, path);
    }
  });

  it('the stylesheet came gzipped with the location\'s expires, and applied', async () => {
    const css = first('/style.css');
    assert.equal(css.headers['content-encoding'], 'gzip');
    assert.equal(css.headers['cache-control'], 'max-age=3600');
    assert.equal(await inPage("getComputedStyle(document.querySelector('header')).borderBottomColor"), ACCENT);
    assert.equal(await inPage('getComputedStyle(document.body).margin'), '0px');
  });

  it('the script ran', async () => {
    const clock = page.locator('#clock');
    assert.match((await clock.textContent()) ?? '', /^The script ran at /);
    assert.equal(await inPage("getComputedStyle(document.getElementById('clock')).color"), ACCENT);
  });

  it('the image decoded', async () => {
    const size = await inPage("(({ complete, naturalWidth, naturalHeight }) => ({ complete, width: naturalWidth, height: naturalHeight }))(document.querySelector('header img'))");
    assert.deepEqual(size, { complete: true, width: 64, height: 64 });
  });

  it('a reload revalidates the page (304) and takes the assets from the cache', async () => {
    const before = wire.length;
    await page.reload({ waitUntil: 'load' });
    assert.deepEqual(failed, []);
    const reload = wire.slice(before);
    const page304 = reload.find((r) => r.url === `${base}/`);
    assert.equal(page304?.rawStatus(), 304, 'the browser revalidated the page and got 304');
    for (const path of ['/style.css', '/app.js', '/logo.png']) {
      const asset = reload.find((r) => r.url === `${base}${path}`);
      assert.equal(asset?.fromCache, true, `${path} came from the browser's cache (expires 1h)`);
    }
    // The server's side of it, from its access log (combined format): on the reload it sent
    // nothing in full.
    const log = readFileSync(join(dir, 'logs/access.log'), 'utf8');
    const lines = [...log.matchAll(/ "GET (\S+) HTTP\/1\.1" (\d{3}) /g)].map((m) => `${m[1]} ${m[2]}`);
    // The assets load in parallel: their order in the log varies.
    assert.deepEqual([lines[0], ...lines.slice(1, 4).sort(), ...lines.slice(4)], ['/ 200', '/app.js 200', '/logo.png 200', '/style.css 200', '/ 304']);
    assert.match((await page.locator('#clock').textContent()) ?? '', /^The script ran at /);
  });
});

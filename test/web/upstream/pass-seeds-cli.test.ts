/**
 * The seeds' nginx files (examples/seeds/) as written, run by the real commands: `tsgi web -c`
 * in front of `tsgi serve --socket`, over TCP and over a UNIX socket with the /myapp mount. Only
 * the ports and the socket path are changed, to free ones. Needs `npm run build` (dist/).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from '../../helpers/nginx.js';
import { runTsgi, type Running } from '../../helpers/process.js';
import { get } from './pass-helpers.js';

const SEEDS = fileURLToPath(new URL('../../../examples/seeds/', import.meta.url));
const GATEWAY_TYPES = fileURLToPath(new URL('../../../src/gateway/types.js', import.meta.url));

describe('the seeds\' uwsgi_pass configs under tsgi web -c, to tsgi serve --socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-pass-seeds-'));
  const running: Running[] = [];
  writeFileSync(
    join(dir, 'app.ts'),
    `import type { App } from ${JSON.stringify(GATEWAY_TYPES)};
const app: App = (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [\`\${environ.SCRIPT_NAME}|\${environ.PATH_INFO}|\${environ.QUERY_STRING}|\${environ.HTTP_HOST}\`];
};
export default app;
`,
  );
  after(async () => {
    for (const process of running.reverse()) await process.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  /** The seed file with its listen port and upstream address replaced. */
  function seed(name: string, webPort: number, from: string, to: string): string {
    const text = readFileSync(join(SEEDS, name), 'utf8').replace('listen 127.0.0.1:8080;', `listen 127.0.0.1:${webPort};`).replaceAll(from, to);
    assert.ok(text.includes(to));
    const prefix = join(dir, name.replace('.conf', ''));
    mkdirSync(join(prefix, 'logs'), { recursive: true });
    const file = join(prefix, name);
    writeFileSync(file, text);
    return file;
  }

  async function waitForFile(path: string, process: Running): Promise<void> {
    const started = Date.now();
    while (!existsSync(path)) {
      if (Date.now() - started > 15_000) throw new Error(`no ${path}:\n${process.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  it('flask-root.conf: location / { include uwsgi_params; uwsgi_pass 127.0.0.1:5000; }', async () => {
    const appPort = await freePort();
    const webPort = await freePort();
    const app = runTsgi(['serve', '--socket', `127.0.0.1:${appPort}`, '--app', join(dir, 'app.ts')]);
    running.push(app);
    const file = seed('flask-root.conf', webPort, '127.0.0.1:5000', `127.0.0.1:${appPort}`);
    const web = runTsgi(['web', '-p', join(dir, 'flask-root'), '-c', file]);
    running.push(web);
    await waitForPort(appPort, 15_000);
    await waitForPort(webPort, 15_000);
    const reply = await get(webPort, '/some/page?a=b');
    assert.equal(reply.status, 200, web.output());
    assert.equal(reply.body.toString(), '|/some/page|a=b|127.0.0.1');
  });

  it('myapp-unix.conf: /myapp with uwsgi_param SCRIPT_NAME over unix:, app server --mount /myapp=app --manage-script-name', async () => {
    const socket = join(dir, 'uwsgi.sock');
    const webPort = await freePort();
    const app = runTsgi(['serve', '--socket', socket, '--mount', `/myapp=${join(dir, 'app.ts')}`, '--manage-script-name']);
    running.push(app);
    const file = seed('myapp-unix.conf', webPort, 'unix:/tmp/uwsgi.sock', `unix:${socket}`);
    const web = runTsgi(['web', '-p', join(dir, 'myapp-unix'), '-c', file]);
    running.push(web);
    await waitForFile(socket, app);
    await waitForPort(webPort, 15_000);
    const reply = await get(webPort, '/myapp/hello?x=1');
    assert.equal(reply.status, 200, `${web.output()}\n${app.output()}`);
    assert.equal(reply.body.toString(), '/myapp|/hello|x=1|127.0.0.1');
  });
});

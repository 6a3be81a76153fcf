/**
 * A Python app on several sockets of every kind at once (docs/python.md, "Sockets"): the
 * workers accept on the first uwsgi socket, the router serves every other one and relays its
 * requests to them. Clients: tsgi's UwsgiClient, FastcgiClient and ScgiClient (an SCGI socket too), a real nginx with
 * `fastcgi_pass` and `uwsgi_pass`, fetch for HTTP. Then seed 001's `[uwsgi]` ini listing five
 * sockets (one UNIX path four times), with only its paths and port adapted, and a TCP address
 * given twice, which is refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTsgi, runTsgiToExit, type Running } from '../helpers/process.js';
import { freePort, nginxPeer, startNginx, type RunningNginx } from '../helpers/nginx.js';
import { cgiVars, FIXTURES, pythonSkip, readBody } from './harness.js';
import { UwsgiClient } from '../../src/upstream/uwsgi-client.js';
import { FastcgiClient } from '../../src/upstream/fastcgi-client.js';
import { ScgiClient } from '../../src/upstream/scgi-client.js';
import type { UpstreamClient, UpstreamResponse } from '../../src/upstream/types.js';

const skip = pythonSkip();
const SEED = fileURLToPath(new URL('../fixtures/config/seed001-protocols.ini', import.meta.url));
const nginx = nginxPeer();

async function waitForOutput(tsgi: Running, pattern: RegExp, ms = 20_000): Promise<void> {
  const started = Date.now();
  while (!pattern.test(tsgi.output())) {
    if (Date.now() - started > ms) throw new Error(`output never matched ${String(pattern)}:\n${tsgi.output()}`);
    if (tsgi.child.exitCode !== null) throw new Error(`tsgi exited with ${tsgi.child.exitCode}:\n${tsgi.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function header(response: UpstreamResponse, name: string): string | undefined {
  const index = response.headers.findIndex((value, i) => i % 2 === 0 && value.toLowerCase() === name);
  return index < 0 ? undefined : response.headers[index + 1];
}

/** GET /env of wsgi_app.py over `client`: the CGI vars the app saw, and the answering pid. */
async function env(client: UpstreamClient, path = '/env'): Promise<{ vars: Record<string, string>; status: number }> {
  const response = await client.request({ vars: cgiVars({ path, query: 'from=client' }) });
  const doc = JSON.parse((await readBody(response)).toString()) as { vars: Record<string, string> };
  return { vars: doc.vars, status: response.status };
}

/** POST /input: the app reads the body and answers its length and sha256. */
async function upload(client: UpstreamClient, body: Buffer): Promise<{ length: number; sha256: string }> {
  const response = await client.request({
    vars: cgiVars({ path: '/input', method: 'POST', headers: [['Content-Type', 'application/octet-stream']], vars: [['CONTENT_LENGTH', String(body.length)]] }),
    body,
  });
  assert.equal(response.status, 200);
  return JSON.parse((await readBody(response)).toString()) as { length: number; sha256: string };
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('a Python app on a uwsgi TCP, a uwsgi UNIX, a FastCGI and an HTTP socket at once', { skip }, () => {
  let dir = '';
  let tsgi: Running;
  let uwsgiPort = 0;
  let httpPort = 0;
  const body = Buffer.alloc(300_000, 'tsgi relays this body. ');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsgi-several-'));
    uwsgiPort = await freePort();
    httpPort = await freePort();
    tsgi = runTsgi(
      [
        '--socket', `127.0.0.1:${uwsgiPort}`,
        '--socket', join(dir, 'uwsgi.sock'),
        '--fastcgi-socket', join(dir, 'fastcgi.sock'),
        '--http-socket', `127.0.0.1:${httpPort}`,
        '--scgi-socket', join(dir, 'scgi.sock'),
        '--wsgi-file', 'wsgi_app.py', '--master', '--processes', '2', '--threads', '2',
      ],
      { cwd: FIXTURES },
    );
    await waitForOutput(tsgi, /behind the router on fastcgi:/);
  });

  after(async () => {
    const code = await tsgi?.stop('SIGINT');
    rmSync(dir, { recursive: true, force: true });
    assert.doesNotMatch(tsgi.output(), /Traceback/, tsgi.output());
    assert.ok(code === 0 || code === 'SIGINT', `tsgi stopped with ${String(code)}`);
  });

  it('says where each socket goes', () => {
    const output = tsgi.output();
    assert.match(output, new RegExp(`on uwsgi://127\\.0\\.0\\.1:${uwsgiPort} `));
    assert.match(output, /uwsgi socket .*uwsgi\.sock with a Python app: the router accepts on it and relays/);
    assert.match(output, /fastcgi socket .*fastcgi\.sock with a Python app: the router accepts on it and relays/);
    assert.match(output, /tsgi fastcgi relay bound on .*fastcgi\.sock/);
    assert.match(output, new RegExp(`behind the http router on http://127\\.0\\.0\\.1:${httpPort}/`));
  });

  it('uwsgi over TCP reaches the workers directly', async () => {
    const client = new UwsgiClient({ address: `127.0.0.1:${uwsgiPort}`, readTimeout: 10_000, log: () => {} });
    const answer = await env(client);
    assert.equal(answer.status, 200);
    assert.equal(answer.vars.PATH_INFO, '/env');
    assert.equal(answer.vars.QUERY_STRING, 'from=client');
    const uploaded = await upload(client, body);
    assert.equal(uploaded.length, body.length);
    assert.equal(uploaded.sha256, sha256(body));
  });

  it('uwsgi over the UNIX socket, through the router', async () => {
    const client = new UwsgiClient({ address: `unix:${join(dir, 'uwsgi.sock')}`, readTimeout: 10_000, log: () => {} });
    const answer = await env(client);
    assert.equal(answer.status, 200);
    assert.equal(answer.vars.PATH_INFO, '/env');
    assert.equal(answer.vars.REMOTE_ADDR, '127.0.0.1');
    const uploaded = await upload(client, body);
    assert.equal(uploaded.length, body.length);
    assert.equal(uploaded.sha256, sha256(body));
    const missing = await client.request({ vars: cgiVars({ path: '/nowhere' }) });
    await readBody(missing);
    assert.equal(missing.status, 404);
  });

  it('FastCGI, through the router: status, headers, body, a request body', async () => {
    const client = new FastcgiClient({ address: `unix:${join(dir, 'fastcgi.sock')}`, readTimeout: 10_000, log: () => {} });
    const answer = await env(client);
    assert.equal(answer.status, 200);
    assert.equal(answer.vars.PATH_INFO, '/env');
    assert.equal(answer.vars.QUERY_STRING, 'from=client');
    const uploaded = await upload(client, body);
    assert.equal(uploaded.length, body.length);
    assert.equal(uploaded.sha256, sha256(body));
    const slow = await client.request({ vars: cgiVars({ path: '/slow', query: 'ms=10' }) });
    await readBody(slow);
    assert.equal(slow.status, 200);
    assert.match(header(slow, 'x-pid') ?? '', /^\d+$/);
  });

  it('SCGI, through the router', async () => {
    const client = new ScgiClient({ address: `unix:${join(dir, 'scgi.sock')}`, readTimeout: 10_000, log: () => {} });
    const answer = await env(client);
    assert.equal(answer.status, 200);
    assert.equal(answer.vars.QUERY_STRING, 'from=client');
    const uploaded = await upload(client, body);
    assert.equal(uploaded.sha256, sha256(body));
  });

  it('HTTP, through the router', async () => {
    const response = await fetch(`http://127.0.0.1:${httpPort}/env?from=fetch`);
    assert.equal(response.status, 200);
    const doc = (await response.json()) as { vars: Record<string, string> };
    assert.equal(doc.vars.QUERY_STRING, 'from=fetch');
  });

  it('nginx fastcgi_pass and uwsgi_pass in front', { skip: 'skip' in nginx ? nginx.skip : false }, async () => {
    let front: RunningNginx | undefined;
    try {
      front = await startNginx(
        'path' in nginx ? nginx.path : '',
        `location /fcgi/ {
    include /etc/nginx/fastcgi_params;
    # fastcgi_params sends no PATH_INFO: the mount point makes /fcgi/env the app's /env.
    fastcgi_param SCRIPT_NAME /fcgi;
    fastcgi_pass unix:${join(dir, 'fastcgi.sock')};
}
location / {
    include /etc/nginx/uwsgi_params;
    uwsgi_pass unix:${join(dir, 'uwsgi.sock')};
}`,
      );
      const viaFastcgi = await fetch(`http://127.0.0.1:${front.port}/fcgi/env?via=fastcgi`);
      assert.equal(viaFastcgi.status, 200, front.errorLog());
      const doc = (await viaFastcgi.json()) as { vars: Record<string, string> };
      assert.equal(doc.vars.QUERY_STRING, 'via=fastcgi');
      assert.equal(doc.vars.SCRIPT_NAME, '/fcgi');
      assert.equal(doc.vars.PATH_INFO, '/env');
      const posted = await fetch(`http://127.0.0.1:${front.port}/fcgi/input`, { method: 'POST', body });
      assert.equal(posted.status, 200);
      assert.equal(((await posted.json()) as { sha256: string }).sha256, sha256(body));
      const viaUwsgi = await fetch(`http://127.0.0.1:${front.port}/env?via=uwsgi`);
      assert.equal(viaUwsgi.status, 200);
      assert.equal(((await viaUwsgi.json()) as { vars: Record<string, string> }).vars.QUERY_STRING, 'via=uwsgi');
      const missing = await fetch(`http://127.0.0.1:${front.port}/fcgi/nowhere`);
      await missing.arrayBuffer();
      assert.equal(missing.status, 404);
    } finally {
      await front?.stop();
    }
  });
});

describe("seed 001's [uwsgi] ini with five sockets", { skip }, () => {
  it('runs: the TCP uwsgi socket reaches the workers, the UNIX path given four times is the last option (http-socket)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-seed001-'));
    const port = await freePort();
    const sock = join(dir, 'owan_web_uwsgi.sock');
    writeFileSync(
      join(dir, 'app.py'),
      `def application(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'Hello from seed 001 ' + environ['PATH_INFO'].encode()]\n`,
    );
    // The seed's section as test/appserver/config.test.ts reads it; only the port and the paths differ.
    const seed = readFileSync(SEED, 'utf8')
      .replaceAll('127.0.0.1:9000', `127.0.0.1:${port}`)
      .replaceAll('/dev/shm/owan_web_uwsgi.sock', sock)
      .replaceAll('/data/web/advance_python/uwsgi/', `${dir}/`);
    writeFileSync(join(dir, 'uwsgi.ini'), seed);
    const tsgi = runTsgi(['--ini', join(dir, 'uwsgi.ini')], { cwd: dir });
    try {
      await waitForOutput(tsgi, /behind the http router on http\+unix:/);
      const output = tsgi.output();
      // uwsgi-socket (line 11) is an alias of --socket.
      for (const line of [10, 11]) assert.match(output, new RegExp(`owan_web_uwsgi\\.sock is given more than once: --socket \\S+ \\(\\S+uwsgi\\.ini:${line}\\) is not bound, --http-socket \\S+ \\(\\S+uwsgi\\.ini:23\\) is`));
      assert.match(output, /--fastcgi-socket \S+ \(\S+uwsgi\.ini:16\) is not bound, --http-socket \S+ \(\S+uwsgi\.ini:23\) is/);
      const client = new UwsgiClient({ address: `127.0.0.1:${port}`, readTimeout: 10_000, log: () => {} });
      const response = await client.request({ vars: cgiVars({ path: '/tcp' }) });
      assert.equal((await readBody(response)).toString(), 'Hello from seed 001 /tcp');
      const overUnix = await new Promise<string>((resolve, reject) => {
        void import('node:http').then(({ get }) =>
          get({ socketPath: sock, path: '/unix' }, (res) => {
            let text = '';
            res.on('data', (chunk: Buffer) => (text += chunk.toString()));
            res.on('end', () => resolve(text));
          }).on('error', reject),
        );
      });
      assert.equal(overUnix, 'Hello from seed 001 /unix');
      if ('path' in nginx) {
        // The seed's own nginx lines: uwsgi_pass to the TCP socket, proxy_pass to the socket file.
        const front = await startNginx(
          nginx.path,
          `location /proxied/ { proxy_pass http://unix:${sock}; }
location / { include /etc/nginx/uwsgi_params; uwsgi_pass 127.0.0.1:${port}; }`,
        );
        try {
          assert.equal(await (await fetch(`http://127.0.0.1:${front.port}/proxied/x`)).text(), 'Hello from seed 001 /proxied/x');
          assert.equal(await (await fetch(`http://127.0.0.1:${front.port}/direct`)).text(), 'Hello from seed 001 /direct');
        } finally {
          await front.stop();
        }
      }
      assert.equal(await tsgi.stop('SIGINT'), 0);
    } finally {
      await tsgi.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a TCP address given twice is refused, naming both options', async () => {
    const port = await freePort();
    const result = await runTsgiToExit(['--socket', `127.0.0.1:${port}`, '--fastcgi-socket', `127.0.0.1:${port}`, '--wsgi-file', 'hello_app.py'], { cwd: FIXTURES });
    assert.notEqual(result.code, 0);
    assert.match(result.output, new RegExp(`the TCP address 127\\.0\\.0\\.1:${port} is given twice: --socket 127\\.0\\.0\\.1:${port} \\(command line\\) and --fastcgi-socket`));
  });
});

/**
 * Failover end to end with real processes: `tsgi web` (in this process) in front of three
 * `tsgi serve --socket` app servers (uwsgi), one SIGKILLed under concurrent keep-alive load,
 * one killed with a POST in flight, one restarted and taken back after fail_timeout. Then the
 * balancer scenarios (balancer-scenarios.ts) through tsgi web's uwsgi_pass and through the real
 * nginx's: the same app servers, tried in the same order. pass-failover.test.ts covers the
 * handler's side (in-process apps, $upstream_* values, next_upstream conditions).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, launchNginx, testNginxConf, nginxPeer, waitForPort, type LaunchedNginx } from '../../helpers/nginx.js';
import { runTsgi, type Running } from '../../helpers/process.js';
import { startWeb, type RunningWeb } from '../server/tsgi-web.js';
import { CONF_DIR, portOf, startApp as startInProcessApp } from './pass-helpers.js';
import type { App } from '../../../src/gateway/types.js';
import { backendPorts, httpBlock, LIVE, replay, SCENARIOS, type BackendName } from './balancer-scenarios.js';

const NAMES = ['a', 'b', 'c'] as const;
type Name = (typeof NAMES)[number];

/** An app that answers its name; `/stall` first leaves a mark and waits 1.5 s. */
function appSource(name: string, dir: string): string {
  return `
import { writeFileSync } from 'node:fs';
export default async (environ, startResponse) => {
  if (environ.PATH_INFO === '/stall') {
    writeFileSync(${JSON.stringify(join(dir, `${name}.stalled`))}, environ.REQUEST_METHOD);
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
  startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', '${name.length}']]);
  return [${JSON.stringify(name)}];
};
`;
}

interface Get {
  status: number;
  body: string;
}

function send(port: number, method: string, path: string, agent: Agent | false = false, body = ''): Promise<Get> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent, headers: { 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('failover through tsgi web to tsgi serve', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-failover-'));
  const apps = new Map<Name, Running>();
  const ports = new Map<Name, number>();
  let web: RunningWeb;

  async function startApp(name: Name): Promise<void> {
    const port = ports.get(name)!;
    apps.set(name, runTsgi(['serve', '--socket', `127.0.0.1:${port}`, '--app', join(dir, `${name}.mjs`)]));
    await waitForPort(port, 15_000);
  }

  async function killApp(name: Name): Promise<void> {
    await apps.get(name)!.stop('SIGKILL');
    apps.delete(name);
  }

  before(async () => {
    for (const name of NAMES) {
      writeFileSync(join(dir, `${name}.mjs`), appSource(name, dir));
      ports.set(name, await freePort());
    }
    await Promise.all(NAMES.map(startApp));
    const servers = NAMES.map((name) => `server 127.0.0.1:${ports.get(name)} max_fails=1 fail_timeout=1s;`).join(' ');
    web = await startWeb(`
      upstream apps { ${servers} }
      server {
        listen 127.0.0.1:PORT;
        location / { include ${CONF_DIR}uwsgi_params; uwsgi_pass apps; }
      }`);
  });

  after(async () => {
    await web?.stop();
    for (const app of apps.values()) await app.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no GET while one server is killed under load, and takes it back after fail_timeout', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const answers: Get[] = [];
    const errors: unknown[] = [];
    let running = true;
    const client = async (): Promise<void> => {
      while (running) {
        try {
          answers.push(await send(web.port, 'GET', '/', agent));
        } catch (error) {
          errors.push(error);
        }
      }
    };
    const clients = Array.from({ length: 8 }, client);
    await sleep(700);
    const before = answers.length;
    await killApp('b');
    const killedAt = answers.length;
    await sleep(1500);
    running = false;
    await Promise.all(clients);
    agent.destroy();
    assert.deepEqual(errors, []);
    const failed = answers.filter((a) => a.status !== 200);
    assert.deepEqual(failed, [], `${failed.length} of ${answers.length} GETs failed`);
    assert.ok(before > 20 && answers.length > killedAt + 20, `load ran: ${before} before the kill, ${answers.length} in all`);
    assert.ok(answers.slice(0, before).some((a) => a.body === 'b'), 'b served before the kill');
    const afterKill = answers.slice(killedAt + 16);
    assert.ok(afterKill.every((a) => a.body !== 'b'), 'b serves nothing once dead');

    // Restarted: once fail_timeout (1 s, counted in whole seconds as nginx: up to 2 s) has
    // passed since its last failed probe, it is probed again and back in the rotation.
    await startApp('b');
    const later: Get[] = [];
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !later.some((a) => a.body === 'b')) {
      later.push(await send(web.port, 'GET', '/'));
      await sleep(20);
    }
    assert.ok(later.some((a) => a.body === 'b'), `b is back: ${later.map((a) => a.body).join(' ')}`);
    assert.deepEqual(later.filter((a) => a.status !== 200), []);
    const rotation: string[] = [];
    for (let i = 0; i < 9; i += 1) rotation.push((await send(web.port, 'GET', '/')).body);
    assert.deepEqual(new Set(rotation), new Set(['a', 'b', 'c']), rotation.join(' '));
  });

  it('answers 502 for a POST in flight to a server that dies, and does not send it to another', async () => {
    for (const name of NAMES) rmSync(join(dir, `${name}.stalled`), { force: true });
    const pending = send(web.port, 'POST', '/stall', false, 'payload');
    let victim: Name | undefined;
    for (let i = 0; i < 200 && !victim; i += 1) {
      victim = NAMES.find((name) => existsSync(join(dir, `${name}.stalled`)));
      if (!victim) await sleep(10);
    }
    assert.ok(victim, 'the POST reached a server');
    await killApp(victim);
    const answer = await pending;
    assert.equal(answer.status, 502);
    await sleep(300);
    assert.deepEqual(NAMES.filter((name) => existsSync(join(dir, `${name}.stalled`))), [victim], 'not retried elsewhere');
    await startApp(victim);
  });
});

const peer = nginxPeer();

describe('the balancer scenarios through tsgi web and through nginx', { skip: 'skip' in peer ? peer.skip : false }, () => {
  it('try the same app servers in the same order', async () => {
    if (!('path' in peer)) return;
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-failover-parity-'));
    const backends: Record<BackendName, number> = await backendPorts();
    const apps = LIVE.map((name) => {
      writeFileSync(join(dir, `${name}.mjs`), appSource(name, dir));
      return runTsgi(['serve', '--socket', `127.0.0.1:${backends[name]}`, '--app', join(dir, `${name}.mjs`)]);
    });
    const front = await freePort();
    const options = { pass: 'uwsgi_pass ', passExtra: `include ${CONF_DIR}uwsgi_params;` } as const;
    let web: RunningWeb | undefined;
    let nginx: LaunchedNginx | undefined;
    try {
      await Promise.all(LIVE.map((name) => waitForPort(backends[name], 15_000)));
      web = await startWeb(httpBlock('PORT', backends, options));
      const conf = testNginxConf(dir, httpBlock(front, backends, options));
      nginx = await launchNginx(peer.path, dir, conf, front);
      for (const scenario of SCENARIOS) {
        const viaNginx = await replay(front, scenario, backends);
        const viaWeb = await replay(web.port, scenario, backends);
        assert.deepEqual(viaWeb, viaNginx, scenario.name);
      }
    } finally {
      await nginx?.stop();
      await web?.stop();
      await Promise.all(apps.map((app) => app.stop('SIGKILL')));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Answers its name; `/stream` sends the head and part of the body, then 1.5 s later the rest. */
const streamingApp = (name: string): App => (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain'], ['X-App', name]]);
  if (environ.PATH_INFO !== '/stream') return [name];
  return (async function* () {
    yield 'start ';
    await sleep(1500);
    yield name;
  })();
};

describe('least_conn counts a request until its response has been read', { skip: 'skip' in peer ? peer.skip : false }, () => {
  // nginx frees the peer when it finalizes the upstream request (the whole response read);
  // pass.ts calls done(peer, 'ok') at the response head, so a streaming response stops counting
  // toward least_conn and max_conns while it still occupies the server.
  it('sends the requests that come while one streams to the other server, as nginx', async () => {
    if (!('path' in peer)) return;
    const a = await startInProcessApp(streamingApp('a'), [{ protocol: 'uwsgi', address: '127.0.0.1:0' }]);
    const b = await startInProcessApp(streamingApp('b'), [{ protocol: 'uwsgi', address: '127.0.0.1:0' }]);
    const group = `upstream lc { least_conn; server 127.0.0.1:${portOf(a)}; server 127.0.0.1:${portOf(b)}; }`;
    const location = `location / { include ${CONF_DIR}uwsgi_params; uwsgi_pass lc; }`;
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-failover-lc-'));
    const front = await freePort();
    const web = await startWeb(`${group} server { listen 127.0.0.1:PORT; ${location} }`);
    const nginx = await launchNginx(
      peer.path,
      dir,
      `daemon off; master_process off; pid ${dir}/nginx.pid; error_log ${dir}/error.log; events {}
       http { access_log off; uwsgi_temp_path ${dir}/uwsgi; ${group} server { listen 127.0.0.1:${front}; ${location} } }`,
      front,
    );
    const whileStreaming = async (port: number): Promise<string[]> => {
      const long = send(port, 'GET', '/stream');
      await sleep(300);
      const names: string[] = [];
      for (let i = 0; i < 4; i += 1) names.push((await send(port, 'GET', '/quick')).body);
      names.push(`stream:${(await long).body}`);
      return names;
    };
    try {
      const real = await whileStreaming(front);
      assert.deepEqual(real, ['b', 'b', 'b', 'b', 'stream:start a']);
      assert.deepEqual(await whileStreaming(web.port), real);
    } finally {
      await nginx.stop();
      await web.stop();
      await a.close(0);
      await b.close(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

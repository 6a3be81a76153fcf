/**
 * The process model of `tsgi web` (master + workers), driven by signals, next to the real nginx
 * with the same configuration: reload with a bad configuration keeps the old one serving and
 * logs why; reload with a good one switches; a killed worker is replaced; USR1 reopens the
 * logs; QUIT lets a download in progress finish; TERM stops at once; the pid file and the UNIX
 * socket file go away with the master.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TSGI_BIN } from '../../helpers/process.js';
import { freePort, nginxPeer, waitForPort } from '../../helpers/nginx.js';
import { exchangeRaw } from '../server/raw-http.js';

const nginx = nginxPeer();
const BIG = 16 * 1024 * 1024;

interface Server {
  readonly name: string;
  readonly dir: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly conf: string;
  write(version: string, extra?: string): void;
  log(): string;
  pid(): number;
  workers(): number[];
}

function configText(dir: string, port: number, version: string, extra: string): string {
  return `user root;
daemon off;
worker_processes 2;
pid ${dir}/web.pid;
error_log ${dir}/error.log notice;
events {}
http {
  access_log off;
  client_body_temp_path ${dir};
  ${extra}
  server {
    listen 127.0.0.1:${port};
    listen unix:${dir}/web.sock;
    root ${dir};
    location = /version { return 200 "${version}\\n"; }
    location /files/ { }
  }
}
`;
}

async function start(name: 'nginx' | 'tsgi', binary: string): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), `tsgi-signals-${name}-`));
  spawnSync('mkdir', [join(dir, 'files')]);
  writeFileSync(join(dir, 'files', 'big'), Buffer.alloc(BIG, 0x62));
  const port = await freePort();
  const conf = join(dir, 'web.conf');
  const write = (version: string, extra = ''): void => writeFileSync(conf, configText(dir, port, version, extra));
  write('v1');
  const child = name === 'nginx' ? spawn(binary, ['-c', conf], { stdio: 'ignore' }) : spawn(process.execPath, [TSGI_BIN, 'web', '-c', conf], { stdio: 'ignore' });
  await waitForPort(port);
  const server: Server = {
    name,
    dir,
    port,
    child,
    conf,
    write,
    log: () => (existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''),
    pid: () => Number(readFileSync(join(dir, 'web.pid'), 'utf8').trim()),
    workers: () =>
      spawnSync('ps', ['-o', 'pid=', '--ppid', String(child.pid)], { encoding: 'utf8' })
        .stdout.split('\n')
        .map((line) => Number(line.trim()))
        .filter((pid) => pid > 0),
  };
  await until(() => server.workers().length === 2, 'two workers');
  return server;
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function version(port: number): Promise<string> {
  const result = await exchangeRaw(port, 'GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  return result.responses[0]?.body.toString() ?? '';
}

function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode ?? 'unknown');
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
}

/** Starts a slow download (a client that reads 64 KiB every 10 ms) and resolves with the bytes it got. */
function slowDownload(port: number): { done: Promise<number>; started: Promise<void> } {
  let received = 0;
  let resolveStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => (resolveStarted = resolve));
  const done = new Promise<number>((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => socket.write('GET /files/big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      resolveStarted();
      socket.pause();
      setTimeout(() => socket.resume(), 10);
    });
    socket.on('close', () => resolve(received));
    socket.on('error', () => {});
  });
  return { done, started };
}

const servers: Server[] = [];
after(() => {
  for (const server of servers) {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    for (const pid of server.workers()) spawnSync('kill', ['-9', String(pid)]);
    rmSync(server.dir, { recursive: true, force: true });
  }
});

for (const name of ['nginx', 'tsgi'] as const) {
  describe(`${name}: master, workers and signals`, { skip: 'skip' in nginx ? nginx.skip : false }, () => {
    let server: Server;

    it('starts a master with worker_processes workers and writes the pid file', async () => {
      server = await start(name, 'path' in nginx ? nginx.path : '');
      servers.push(server);
      assert.equal(server.pid(), server.child.pid);
      assert.equal(await version(server.port), 'v1\n');
      assert.ok(existsSync(join(server.dir, 'web.sock')));
    });

    it('HUP with a bad configuration keeps the old one serving and logs why', async () => {
      const workers = server.workers();
      server.write('v2', 'foo;');
      process.kill(server.pid(), 'SIGHUP');
      await until(() => /\[emerg\] \d+#\d+: unknown directive "foo" in .*web\.conf:\d+/.test(server.log()), 'the [emerg] line');
      assert.equal(await version(server.port), 'v1\n');
      assert.deepEqual(server.workers().sort(), workers.sort(), server.log());
    });

    it('HUP with a good configuration switches to it', async () => {
      server.write('v2');
      process.kill(server.pid(), 'SIGHUP');
      await until(async () => (await version(server.port)) === 'v2\n', 'v2');
      await until(() => server.workers().length === 2, 'two workers after the reload');
      assert.match(server.log(), /signal 1 \(SIGHUP\) received.*reconfiguring/);
    });

    it('a killed worker is logged and replaced', async () => {
      const [victim] = server.workers();
      process.kill(victim!, 'SIGKILL');
      await until(() => server.log().includes(`worker process ${victim} exited on signal 9`), 'the exit line');
      await until(() => server.workers().length === 2 && !server.workers().includes(victim!), 'a new worker');
      assert.equal(await version(server.port), 'v2\n');
    });

    it('USR1 reopens the log file', async () => {
      renameSync(join(server.dir, 'error.log'), join(server.dir, 'error.log.1'));
      process.kill(server.pid(), 'SIGUSR1');
      await until(() => existsSync(join(server.dir, 'error.log')), 'a new error.log');
      // The signal's own lines are written before the files are reopened, into the old file.
      await until(() => readFileSync(join(server.dir, 'error.log.1'), 'utf8').includes('reopening logs'), 'the reopening line');
    });

    it('QUIT lets a download in progress finish, then the master exits and cleans up', async () => {
      const download = slowDownload(server.port);
      await download.started;
      process.kill(server.pid(), 'SIGQUIT');
      const bytes = await download.done;
      assert.ok(bytes > BIG, `got ${bytes} bytes of ${BIG}`);
      assert.equal(await exited(server.child), 0);
      assert.equal(existsSync(join(server.dir, 'web.pid')), false);
      assert.equal(existsSync(join(server.dir, 'web.sock')), false);
    });

    it('TERM stops at once', async () => {
      const again = await start(name, 'path' in nginx ? nginx.path : '');
      servers.push(again);
      const download = slowDownload(again.port);
      await download.started;
      process.kill(again.pid(), 'SIGTERM');
      assert.equal(await exited(again.child), 0);
      assert.ok((await download.done) < BIG, 'the download was cut');
      assert.match(again.log(), /signal 15 \(SIGTERM\) received.*exiting/);
    });
  });
}

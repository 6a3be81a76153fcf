/**
 * Runs the real nginx (Debian's) on loopback with a throw-away prefix: one process, in the
 * foreground, logs in the temp dir. Stopped by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePeer } from './peers.js';

export const nginxPeer = (): { path: string } | { skip: string } =>
  requirePeer(existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx', 'nginx');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - started > timeoutMs) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface RunningNginx {
  port: number;
  dir: string;
  process: ChildProcess;
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * A whole nginx.conf for a test: one process in the foreground, pid, error log and temp files
 * under `dir`, no access log; `http` is the rest of the inside of `http {}`.
 */
export function testNginxConf(dir: string, http: string, workerConnections = 256): string {
  return `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections ${workerConnections}; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ${http}
}
`;
}

/** `serverBody` goes inside `server { listen 127.0.0.1:PORT; ... }`; `httpExtra` inside `http {}`. */
export async function startNginx(binary: string, serverBody: string, httpExtra = ''): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-nginx-'));
  const port = await freePort();
  const conf = testNginxConf(
    dir,
    `client_max_body_size 64m;
  ${httpExtra}
  server {
    listen 127.0.0.1:${port};
    ${serverBody}
  }`,
    512,
  );
  const launched = await launchNginx(binary, dir, conf, port);
  return { port, dir, process: launched.child, errorLog: launched.errorLog, stop: launched.stop };
}

export interface LaunchedNginx {
  child: ChildProcess;
  errorLog(): string;
  /** TERM, then KILL after 5 s; resolves once nginx has exited. */
  stop(): Promise<void>;
}

/**
 * Writes `conf` as DIR/nginx.conf, starts nginx on it in the foreground and waits until it
 * listens on `port`. A config nginx refuses rejects with its stderr, its error log and the config.
 */
export async function launchNginx(binary: string, dir: string, conf: string, port: number, env?: NodeJS.ProcessEnv): Promise<LaunchedNginx> {
  writeFileSync(join(dir, 'nginx.conf'), conf, 'latin1');
  const child = spawn(binary, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env,
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const errorLog = (): string => safeRead(join(dir, 'error.log'));
  try {
    await Promise.race([
      waitForPort(port),
      exited.then(() => {
        throw new Error(`nginx refused the config:\n${stderr}${errorLog()}\n${conf}`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    child,
    errorLog,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

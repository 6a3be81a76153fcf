/**
 * The real nginx for the variable, log, gzip, limit and stub_status tests: one nginx per config
 * (one process, foreground), raw requests over TCP, responses with their headers, and the log
 * files it wrote. In the config text, PORT is the port it listens on and DIR its temp prefix.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, nginxPeer, waitForPort } from '../../helpers/nginx.js';
import { exchange } from '../../helpers/net.js';
import type { HeaderPair } from '../../../src/web/request-context.js';

/** The nginx binary, or why it cannot be used (CI=true turns a missing nginx into a failure). */
export const nginx = nginxPeer();

export interface RawResponse {
  readonly status: number;
  readonly headers: HeaderPair[];
  /** The body as a byte string, de-chunked. */
  readonly body: string;
  /** Every byte received. */
  readonly raw: string;
}

export interface NginxRun {
  readonly port: number;
  readonly dir: string;
  /** Sends raw bytes (use HTTP/1.0 or Connection: close so nginx closes). */
  request(raw: string): Promise<RawResponse>;
  /** A file nginx wrote in its prefix (logs). */
  read(name: string): string;
  stop(): Promise<void>;
}

function dechunk(body: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd === -1) return out;
    const size = parseInt(body.slice(at, lineEnd), 16);
    if (!(size > 0)) return out;
    out += body.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
}

export function parseResponse(raw: string): RawResponse {
  const headEnd = raw.indexOf('\r\n\r\n');
  const lines = raw.slice(0, headEnd).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)?.[1] ?? 0);
  const headers: HeaderPair[] = lines.slice(1).map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  const rest = raw.slice(headEnd + 4);
  const chunked = headers.some(([k, v]) => k.toLowerCase() === 'transfer-encoding' && v === 'chunked');
  return { status, headers, body: chunked ? dechunk(rest) : rest, raw };
}

export function header(response: RawResponse, name: string): string | undefined {
  return response.headers.find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
}

/** Starts nginx with `http` as the body of `http {}` (PORT and DIR replaced); `main` adds main-context lines. */
export async function startNginx(binary: string, http: string, main = ''): Promise<NginxRun> {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-vars-nginx-'));
  mkdirSync(join(dir, 'tmp'));
  mkdirSync(join(dir, 'logs'));
  mkdirSync(join(dir, 'html'));
  const port = await freePort();
  const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log info;
${main.replaceAll('DIR', dir)}
events { worker_connections 64; }
http {
  client_body_temp_path ${dir}/tmp;
  proxy_temp_path ${dir}/tmp;
  fastcgi_temp_path ${dir}/tmp;
  uwsgi_temp_path ${dir}/tmp;
  scgi_temp_path ${dir}/tmp;
  ${http.replaceAll('PORT', String(port)).replaceAll('DIR', dir)}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf, 'latin1');
  const child = spawn(binary, ['-p', dir + '/', '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs/error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const read = (name: string): string => {
    try {
      return readFileSync(join(dir, name), 'latin1');
    } catch {
      return '';
    }
  };
  try {
    await Promise.race([
      waitForPort(port),
      exited.then(() => {
        throw new Error(`nginx refused the config:\n${stderr}${read('logs/error.log')}\n${conf}`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    dir,
    async request(raw) {
      return parseResponse(await exchange(port, Buffer.from(raw, 'latin1')));
    },
    read,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

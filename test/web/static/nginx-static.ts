/**
 * The real nginx serving the test site: one process on loopback with a throw-away prefix, asked
 * with raw requests (targets reach it byte for byte), answers parsed into status, every header
 * in order, and the body (chunked bodies decoded).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, launchNginx, testNginxConf, type LaunchedNginx } from '../../helpers/nginx.js';
import { openSocket, readAll } from '../../helpers/net.js';
import type { Answer, SiteRequest } from './site.js';

export interface StaticOracle {
  readonly port: number;
  request(request: SiteRequest): Promise<Answer>;
  stop(): Promise<void>;
}

/** Headers that are the web server's business, not the static handler's. */
const CONNECTION_HEADERS = new Set(['server', 'date', 'connection', 'transfer-encoding', 'keep-alive']);

export async function startStaticOracle(binary: string, serverBody: string): Promise<StaticOracle> {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-static-nginx-'));
  const port = await freePort();
  const conf = testNginxConf(
    dir,
    `include /etc/nginx/mime.types;
  server {
    listen 127.0.0.1:${port};
    ${serverBody}
  }`,
    64,
  );
  // autoindex_localtime and expires @time read the local time zone: the test's own.
  let launched: LaunchedNginx;
  try {
    launched = await launchNginx(binary, dir, conf, port, { ...process.env, TZ: process.env.TZ ?? 'UTC' });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    async request(request) {
      const version = request.httpVersion === 1000 ? 'HTTP/1.0' : 'HTTP/1.1';
      let raw = `${request.method} ${request.target} ${version}\r\nHost: 127.0.0.1\r\nConnection: close\r\n`;
      for (const [name, value] of Object.entries(request.headers)) raw += `${name}: ${value}\r\n`;
      raw += '\r\n';
      const socket = await openSocket(port);
      const all = readAll(socket);
      socket.write(Buffer.from(raw, 'latin1'));
      const response = await all;
      return parseResponse(response, request.method === 'HEAD', origin);
    },
    async stop() {
      await launched.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function parseResponse(response: Buffer, head: boolean, origin: string): Answer {
  const end = response.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no response head in ${JSON.stringify(response.toString('latin1'))}`);
  const lines = response.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Array<readonly [string, string]> = [];
  let chunked = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    let value = line.slice(colon + 1).trim();
    const lower = name.toLowerCase();
    if (lower === 'transfer-encoding' && value === 'chunked') chunked = true;
    if (CONNECTION_HEADERS.has(lower)) continue;
    if (lower === 'location' && value.startsWith(origin)) value = value.slice(origin.length);
    headers.push([name, value]);
  }
  let body = response.subarray(end + 4);
  if (head) body = Buffer.alloc(0);
  else if (chunked) body = dechunk(body);
  return { status, headers, body };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset);
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    offset = lineEnd + 2;
    if (size === 0 || Number.isNaN(size)) break;
    parts.push(data.subarray(offset, offset + size));
    offset += size + 2;
  }
  return Buffer.concat(parts);
}

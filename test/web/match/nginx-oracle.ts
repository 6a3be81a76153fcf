/**
 * The real nginx as a test oracle: one nginx per config, raw requests over TCP (so targets reach
 * it byte for byte, which curl would not allow: it resolves "/../" and refuses spaces), and the
 * status, Location and body back.
 *
 * The config is a list of `server` blocks; "PORT" in it stands for the port nginx listens on and
 * "DIR" for its temp prefix.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, launchNginx, testNginxConf, type LaunchedNginx, nginxPeer } from '../../helpers/nginx.js';
import { exchange } from '../../helpers/net.js';

export interface NginxResponse {
  readonly status: number;
  /** The Location header with nginx's "http://127.0.0.1:PORT" prefix removed. */
  readonly location: string | null;
  /** The body as a byte string. */
  readonly body: string;
}

export interface NginxOracle {
  readonly port: number;
  readonly dir: string;
  /** Sends a raw request (a byte string; HTTP/1.0 closes the connection after the response). */
  request(raw: string): Promise<NginxResponse>;
  stop(): Promise<void>;
}

/** The nginx binary, or why it cannot be used (CI=true turns a missing nginx into a failure). */
export const nginx = nginxPeer();

/** nginx.conf string literal: `\` and `"` escaped, so nginx reads back exactly `text`. */
export function confString(text: string): string {
  return '"' + text.replace(/[\\"]/g, (c) => '\\' + c) + '"';
}

export async function startOracle(binary: string, servers: string): Promise<NginxOracle> {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-match-nginx-'));
  const port = await freePort();
  const conf = testNginxConf(dir, servers.replaceAll('PORT', String(port)).replaceAll('DIR', dir), 64);
  let launched: LaunchedNginx;
  try {
    launched = await launchNginx(binary, dir, conf, port);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    dir,
    async request(raw) {
      const response = await exchange(port, Buffer.from(raw, 'latin1'));
      const headEnd = response.indexOf('\r\n\r\n');
      const head = response.slice(0, headEnd);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const location = /\r\nLocation: ([^\r]*)/i.exec(head)?.[1] ?? null;
      return {
        status,
        location: location !== null && location.startsWith(origin) ? location.slice(origin.length) : location,
        body: response.slice(headEnd + 4),
      };
    },
    async stop() {
      await launched.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

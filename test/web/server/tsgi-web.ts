/**
 * `tsgi web` in the test process: a configuration text served by one WorkerServer (what a
 * worker runs), so a test can send requests without starting processes. The CLI tests cover the
 * processes.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNginxConfigText } from '../../../src/web/config/index.js';
import { createWebModules, type ModuleOptions } from '../../../src/web/server/modules.js';
import { WorkerServer } from '../../../src/web/server/worker-server.js';
import { SERVER_VERSION } from '../../../src/web/server/load.js';
import { freePort } from '../../helpers/nginx.js';

export interface RunningWeb {
  readonly port: number;
  readonly dir: string;
  readonly server: WorkerServer;
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * Serves `servers` (the inside of `http {}`; "PORT" stands for a free port, "DIR" for a temp
 * dir) in this process.
 */
export async function startWeb(servers: string, extra: Partial<Pick<ModuleOptions, 'content' | 'preaccess' | 'filters'>> = {}): Promise<RunningWeb> {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-web-'));
  // nginx's default access_log is PREFIX/logs/access.log: the directory must exist, as for nginx.
  mkdirSync(join(dir, 'logs'));
  const port = await freePort();
  const text = `events {}\nhttp {\n${servers.replaceAll('PORT', String(port)).replaceAll('DIR', dir)}\n}\n`;
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, text);
  const config = loadNginxConfigText(text, file, { prefix: dir });
  const server = new WorkerServer({
    config,
    modules: (worker) => createWebModules(config, { worker, errorLogEntries: [{ target: join(dir, 'error.log'), level: 'info' }], ...extra }),
    serverVersion: SERVER_VERSION,
    slot: 0,
  });
  await server.listen();
  return {
    port,
    dir,
    server,
    errorLog: () => {
      try {
        return readFileSync(join(dir, 'error.log'), 'utf8');
      } catch {
        return '';
      }
    },
    async stop() {
      server.fastStop();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

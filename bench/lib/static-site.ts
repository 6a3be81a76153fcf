/**
 * Static-file scenarios: `tsgi web` and real nginx reading the same nginx.conf (one worker each,
 * the same document root), loaded on the same file. The config is the one a Debian site has for
 * static files (`sendfile on; tcp_nopush on;`), so nginx is measured as it is deployed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TSGI_CLI, tsgiBuilt } from './exists.js';
import { nginxAvailable, nginxProcess, writeNginxConf } from './nginx.js';
import { readProc } from './proctree.js';
import type { IdleLoad, ProcessSpec, Scenario, SideContext, Target } from './types.js';

export interface StaticScenario {
  name: string;
  /** The file's size in bytes, and its name under the document root. */
  bytes: number;
  file: string;
  description: string;
  target: Target;
  /** Makes a memory scenario (see Scenario.idle) out of the same two servers. */
  idle?: IdleLoad;
}

export function staticScenario({ name, bytes, file, description, target, idle }: StaticScenario): Scenario {
  const path = `/${file}`;
  // Room for the held connections besides the harness's own.
  const workerConnections = idle === undefined ? undefined : idle.connections + 1024;
  const prepare = (ctx: SideContext): Promise<void> => writeStaticSite(ctx, file, bytes, workerConnections);
  return {
    name,
    description,
    target,
    ...(idle === undefined ? {} : { idle }),
    sides: [
      { name: 'tsgi', path, prepare, processes: (ctx) => [tsgiWebProcess(ctx, path)] },
      { name: 'nginx', path, prepare, processes: (ctx) => [nginxProcess(ctx, path)] },
    ],
    async available() {
      const nginx = await nginxAvailable();
      if (nginx !== true) return nginx;
      if (idle !== undefined) {
        const files = openFilesLimit(idle.connections);
        if (files !== true) return files;
      }
      return tsgiBuilt();
    },
  };
}

/** `tsgi web` with nginx's own flags, on the nginx.conf `writeNginxConf` wrote into `tmpDir`. */
export function tsgiWebProcess({ ports: [port], tmpDir }: SideContext, path: string): ProcessSpec {
  if (port === undefined) throw new Error('a tsgi web side needs a port');
  return {
    label: 'tsgi web',
    command: process.execPath,
    args: [TSGI_CLI, 'web', '-p', tmpDir, '-c', join(tmpDir, 'nginx.conf')],
    ready: { kind: 'http', port, path },
  };
}

/** `tmpDir/www/FILE` of `bytes` bytes (HTML text, so that gzip and types stay out of the way). */
async function writeStaticSite(ctx: SideContext, file: string, bytes: number, workerConnections: number | undefined): Promise<void> {
  const www = join(ctx.tmpDir, 'www');
  await mkdir(www);
  const [open, close] = ['<!doctype html><p>', '</p>\n'];
  await writeFile(join(www, file), open + 'x'.repeat(bytes - open.length - close.length) + close);
  await writeNginxConf(ctx, {
    http: ['sendfile on;', 'tcp_nopush on;'],
    server: [`root ${www};`],
    ...(workerConnections === undefined ? {} : { workerConnections }),
  });
}

/**
 * The harness holds the client ends and each server its own: both need a descriptor per
 * connection. Node cannot raise its own limit (no setrlimit), and the servers inherit it.
 */
function openFilesLimit(connections: number): true | string {
  const needed = connections + 1024;
  const limits = readProc('/proc/self/limits');
  const soft = limits === undefined ? null : /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
  if (soft === undefined || soft === null || soft === 'unlimited' || Number(soft) >= needed) return true;
  return `the open-files limit is ${soft}, ${connections} connections need ${needed}: run \`ulimit -n ${needed}\` (or raise the hard limit) before npm run bench`;
}

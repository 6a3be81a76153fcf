/**
 * A front web server (`tsgi web` or the real nginx) in front of a backend, both fronts reading
 * the same nginx.conf (written by `writeNginxConf`), so that a scenario compares the two web
 * servers and nothing else:
 *
 *   sides: [
 *     behindFront('tsgi', 'tsgi web', { site: (to) => ..., backend: (listen, ctx) => nodeHttp(...) }),
 *     behindFront('nginx', 'nginx',   { same site, same backend }),
 *   ]
 *
 * `ports[0]` is the front's (the one loaded), `ports[1]` the backend's. Both fronts run
 * `--processes` workers (`worker_processes`), as the backend runs `--processes` processes.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Listen } from './backends.js';
import { TSGI_CLI, tsgiBuilt } from './exists.js';
import { nginxProcess, writeNginxConf, type NginxSite } from './nginx.js';
import { freePorts, LOOPBACK } from './ports.js';
import { REPO_ROOT } from './root.js';
import type { ProcessSpec, Side, SideContext } from './types.js';

export type Front = 'tsgi web' | 'nginx';

export function behindFront(
  name: string,
  front: Front,
  how: { path?: string; site(backend: Listen): NginxSite; backend(listen: Listen, ctx: SideContext): ProcessSpec },
): Side {
  const path = how.path ?? '/';
  const listenOf = ({ ports }: SideContext): Listen => {
    if (ports[1] === undefined) throw new Error(`${name}: no port for the backend`);
    return { port: ports[1] };
  };
  return {
    name,
    path,
    ports: 2,
    async prepare(ctx) {
      await writeNginxConf(ctx, how.site(listenOf(ctx)));
      // writeNginxConf writes one worker; the run's --processes decides, the same for both fronts.
      const conf = join(ctx.tmpDir, 'nginx.conf');
      const text = await readFile(conf, 'utf8');
      await writeFile(conf, text.replace(/^worker_processes 1;$/m, `worker_processes ${ctx.processes};`));
    },
    processes: (ctx) => [how.backend(listenOf(ctx), ctx), front === 'nginx' ? nginxProcess(ctx, path) : tsgiWebProcess(ctx, path)],
  };
}

/** `tsgi web` on the config `writeNginxConf` wrote, with nginx's flags: every path in `tmpDir`. */
export function tsgiWebProcess({ ports: [port], tmpDir }: SideContext, path: string): ProcessSpec {
  if (port === undefined) throw new Error('a tsgi web side needs a port');
  return {
    label: 'tsgi web',
    command: process.execPath,
    args: [TSGI_CLI, 'web', '-p', `${tmpDir}/`, '-c', join(tmpDir, 'nginx.conf'), '-e', join(tmpDir, 'error.log')],
    ready: { kind: 'http', port, path },
  };
}

/**
 * `true` when the built `tsgi web` passes requests with `directive` (`proxy_pass`,
 * `uwsgi_pass`...), else why not. The configuration parses before the handler exists, so this
 * asks the running server: a location passing to a closed port must answer 502 (what nginx
 * answers); a 404 means the static module answered instead.
 */
export async function tsgiWebPasses(directive: 'proxy_pass' | 'uwsgi_pass'): Promise<true | string> {
  const built = await tsgiBuilt();
  if (built !== true) return built;
  const [port, closed] = await freePorts(2);
  const dir = await mkdtemp(join(tmpdir(), 'tsgi-bench-probe-'));
  const target = directive === 'proxy_pass' ? `http://${LOOPBACK}:${closed}` : `${LOOPBACK}:${closed}`;
  await writeFile(
    join(dir, 'nginx.conf'),
    `daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log crit;
     events {} http { access_log off; server { listen ${LOOPBACK}:${port}; location / { ${directive} ${target}; } } }\n`,
  );
  const child = spawn(process.execPath, [TSGI_CLI, 'web', '-p', `${dir}/`, '-c', join(dir, 'nginx.conf')], { cwd: REPO_ROOT, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const status = await statusOf(port!);
      if (status === 502) return true;
      if (status !== null) return `tsgi web answers ${status}, not 502, for a ${directive} location to a closed port: ${directive} is not built yet`;
      if (child.exitCode !== null) return `tsgi web exited with ${child.exitCode} on a ${directive} location`;
      if (Date.now() > deadline) return 'tsgi web did not start in 10 s';
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
}

function statusOf(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const req = request({ host: LOOPBACK, port, path: '/', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? null);
    });
    req.on('error', () => resolve(null));
    req.end();
  });
}

/**
 * Real nginx as a bench process: its config written into a side's private tmp dir, and the
 * command line that runs it in the foreground with one worker.
 *
 *   await writeNginxConf(ctx, { server: ['location / { uwsgi_pass 127.0.0.1:9000; }'] });
 *   processes: (ctx) => [backend, nginxProcess(ctx, '/')]
 *
 * Every path nginx writes (pid, error log, temp dirs) stays inside `tmpDir`, so a run needs no
 * write access to /var and leaves nothing behind. Access logging is off on every side: the bench
 * measures the request path, not log writing.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nginxAddress, type Listen } from './backends.js';
import { executable, exists } from './exists.js';
import { LOOPBACK } from './ports.js';
import type { ProcessSpec, Side, SideContext } from './types.js';

export const NGINX = '/usr/sbin/nginx';
/** Debian's parameter files, included by `uwsgi_pass`, `fastcgi_pass` and `scgi_pass` locations. */
export const NGINX_PARAMS = {
  uwsgi: '/etc/nginx/uwsgi_params',
  fastcgi: '/etc/nginx/fastcgi_params',
  scgi: '/etc/nginx/scgi_params',
} as const;

export interface NginxSite {
  /** Lines inside `http {}` before the server: `upstream` blocks, shared settings. */
  http?: string[];
  /** Lines inside `server {}` after `listen`: locations, `root`. */
  server: string[];
  /** `worker_connections` (1024 when absent): raised by scenarios that hold many connections. */
  workerConnections?: number;
}

/** Writes `tmpDir/nginx.conf`: one worker in the foreground, listening on `ports[0]`. */
export async function writeNginxConf({ ports: [port], tmpDir }: SideContext, site: NginxSite): Promise<void> {
  if (port === undefined) throw new Error('an nginx side needs a port');
  const conf = [
    'daemon off;',
    'worker_processes 1;',
    // Debian's nginx started as root runs workers as www-data, which cannot read a private tmp dir.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    `pid ${join(tmpDir, 'nginx.pid')};`,
    `error_log ${join(tmpDir, 'error.log')};`,
    `events { worker_connections ${site.workerConnections ?? 1024}; }`,
    'http {',
    '  access_log off;',
    '  default_type text/html;',
    `  client_body_temp_path ${join(tmpDir, 'client_body')};`,
    `  proxy_temp_path ${join(tmpDir, 'proxy')};`,
    `  fastcgi_temp_path ${join(tmpDir, 'fastcgi')};`,
    `  uwsgi_temp_path ${join(tmpDir, 'uwsgi')};`,
    `  scgi_temp_path ${join(tmpDir, 'scgi')};`,
    ...indent(site.http ?? [], 2),
    '  server {',
    `    listen ${LOOPBACK}:${port};`,
    ...indent(site.server, 4),
    '  }',
    '}',
    '',
  ].join('\n');
  await writeFile(join(tmpDir, 'nginx.conf'), conf);
}

/** nginx on the config `writeNginxConf` wrote, ready when `path` gets any HTTP answer on `ports[0]`. */
export function nginxProcess({ ports: [port], tmpDir }: SideContext, path: string): ProcessSpec {
  if (port === undefined) throw new Error('an nginx side needs a port');
  return {
    label: 'nginx',
    command: NGINX,
    // -e: the error log before the config is read, so nginx never writes to /var/log.
    args: ['-p', tmpDir, '-c', join(tmpDir, 'nginx.conf'), '-e', join(tmpDir, 'error.log')],
    ready: { kind: 'http', port, path },
  };
}

/** `true` when nginx and the parameter files the scenarios include are installed. */
export async function nginxAvailable(): Promise<true | string> {
  if (!(await executable(NGINX))) return `${NGINX} not found (apt-get install nginx)`;
  for (const file of Object.values(NGINX_PARAMS)) {
    if (!(await exists(file))) return `${file} not found (Debian's nginx-common installs it)`;
  }
  return true;
}

/** Idle upstream connections one nginx worker keeps per upstream block (`keepalive N`). */
export const UPSTREAM_KEEPALIVE = 16;

/** `keepalive` of the `stack` scenario's upstream block: one idle slot per load connection (wrk
 *  -c32, the default), so that at full load no kept uwsgi connection is closed for want of a
 *  slot only to be opened again by the next request (with 16, ~17% of requests paid a connect
 *  and a close; nginx ignores the directive for uwsgi). */
export const STACK_KEEPALIVE = 32;

/**
 * How nginx passes requests to the backend. The snippets are the ones docs/protocols.md shows.
 * - `uwsgi`, `scgi`: a new connection per request (nginx 1.22 keeps neither alive, even with an
 *   upstream `keepalive`).
 * - `fastcgi-keepalive`: `fastcgi_keep_conn on` + upstream `keepalive`: connections reused.
 * - `uwsgi-keepalive`: the same through an upstream block with `keepalive`: nginx 1.22 still opens
 *   a connection per request; tsgi web keeps them with tsgi serve (docs/protocols.md).
 * - `http`: nginx's default `proxy_pass`: HTTP/1.0 and `Connection: close`, a connection per request.
 * - `http-keepalive`: HTTP/1.1 with `Connection ""` + upstream `keepalive`: connections reused.
 */
export type NginxPass = 'uwsgi' | 'uwsgi-keepalive' | 'scgi' | 'fastcgi-keepalive' | 'http' | 'http-keepalive';

export function passSite(pass: NginxPass, backend: Listen): NginxSite {
  const to = nginxAddress(backend);
  const upstream = ['upstream backend {', `  server ${to};`, `  keepalive ${UPSTREAM_KEEPALIVE};`, '}'];
  switch (pass) {
    case 'uwsgi':
      return { server: ['location / {', `  include ${NGINX_PARAMS.uwsgi};`, `  uwsgi_pass ${to};`, '}'] };
    case 'uwsgi-keepalive':
      return { http: ['upstream backend {', `  server ${to};`, `  keepalive ${STACK_KEEPALIVE};`, '}'], server: ['location / {', `  include ${NGINX_PARAMS.uwsgi};`, '  uwsgi_pass backend;', '}'] };
    case 'scgi':
      return { server: ['location / {', `  include ${NGINX_PARAMS.scgi};`, `  scgi_pass ${to};`, '}'] };
    case 'fastcgi-keepalive':
      return {
        http: upstream,
        server: [
          'location / {',
          `  include ${NGINX_PARAMS.fastcgi};`,
          '  fastcgi_pass backend;',
          '  fastcgi_keep_conn on;',
          '}',
        ],
      };
    case 'http':
      return { server: ['location / {', `  proxy_pass http://${to};`, '}'] };
    case 'http-keepalive':
      return {
        http: upstream,
        server: [
          'location / {',
          '  proxy_pass http://backend;',
          '  proxy_http_version 1.1;',
          '  proxy_set_header Connection "";',
          '}',
        ],
      };
  }
}

/**
 * A side made of one nginx worker in front of a backend. `ports[0]` is nginx's (the one loaded),
 * `ports[1]` the backend's when it listens on TCP; `socket` puts the backend on a UNIX socket
 * file in the side's tmp dir instead.
 */
export function behindNginx(
  name: string,
  how: { pass: NginxPass; socket?: 'tcp' | 'unix'; backend(listen: Listen, ctx: SideContext): ProcessSpec },
): Side {
  const listenOf = ({ ports, tmpDir }: SideContext): Listen => {
    if (how.socket === 'unix') return { path: join(tmpDir, 'backend.sock') };
    const port = ports[1];
    if (port === undefined) throw new Error(`${name}: no port for the backend`);
    return { port };
  };
  return {
    name,
    path: '/',
    ports: 2,
    prepare: (ctx) => writeNginxConf(ctx, passSite(how.pass, listenOf(ctx))),
    processes: (ctx) => [how.backend(listenOf(ctx), ctx), nginxProcess(ctx, '/')],
  };
}

function indent(lines: readonly string[], spaces: number): string[] {
  const pad = ' '.repeat(spaces);
  return lines.map((line) => (line === '' ? line : pad + line));
}

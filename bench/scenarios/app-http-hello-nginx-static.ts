import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { executable, TSGI_CLI, tsgiBuilt } from '../lib/exists.js';
import { LOOPBACK } from '../lib/ports.js';
import type { Scenario, SideContext } from '../lib/types.js';

const NGINX = '/usr/sbin/nginx';
/** The size of a typical small page or icon; the brief's nginx-vs-Node static figures used 1.4 KB. */
const FILE_BYTES = 1400;

/**
 * `tsgi web` serving a small static file against real nginx, both reading the same nginx.conf
 * (one worker each). Not runnable until `tsgi web` exists (issue 6): kept as the example of a
 * scenario that waits for a feature, and of a side that writes its config in `prepare`.
 */
export const appHttpHelloNginxStatic: Scenario = {
  name: 'app-http-hello-nginx-static',
  description: `a ${FILE_BYTES}-byte static file: tsgi web vs nginx, same nginx.conf, one worker each`,
  target: { ratio: 0.6, peer: 'nginx', text: 'tsgi web ≥ 0.6× nginx' },
  sides: [
    {
      name: 'tsgi',
      path: '/hello.html',
      prepare: writeSite,
      processes: ({ ports: [port], tmpDir }) => [
        {
          label: 'tsgi web',
          command: process.execPath,
          // The nginx-compatible flags tsgi web is meant to accept: -p prefix, -c config.
          args: [TSGI_CLI, 'web', '-p', tmpDir, '-c', join(tmpDir, 'nginx.conf')],
          ready: { kind: 'http', port, path: '/hello.html' },
        },
      ],
    },
    {
      name: 'nginx',
      path: '/hello.html',
      prepare: writeSite,
      processes: ({ ports: [port], tmpDir }) => [
        {
          label: 'nginx',
          command: NGINX,
          // -e: the error log before the config is read, so nginx never writes to /var/log.
          args: ['-p', tmpDir, '-c', join(tmpDir, 'nginx.conf'), '-e', join(tmpDir, 'error.log')],
          ready: { kind: 'http', port, path: '/hello.html' },
        },
      ],
    },
  ],
  async available() {
    // Replace with a check that the build has `tsgi web` once issue 6 lands.
    const tsgiWebExists = false;
    if (!tsgiWebExists) return 'tsgi web (issue 6)';
    if (!(await executable(NGINX))) return `${NGINX} not found (apt-get install nginx)`;
    return tsgiBuilt();
  },
};

/** The document root and an nginx.conf that keeps every path nginx writes inside `tmpDir`. */
async function writeSite({ ports: [port], tmpDir }: SideContext): Promise<void> {
  const www = join(tmpDir, 'www');
  await mkdir(www);
  const filler = 'x'.repeat(FILE_BYTES - '<!doctype html><p></p>\n'.length);
  await writeFile(join(www, 'hello.html'), `<!doctype html><p>${filler}</p>\n`);
  const conf = [
    'daemon off;',
    'worker_processes 1;',
    // Debian's nginx started as root runs workers as www-data, which cannot read a private tmp dir.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    `pid ${join(tmpDir, 'nginx.pid')};`,
    `error_log ${join(tmpDir, 'error.log')};`,
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    '  default_type text/html;',
    `  client_body_temp_path ${join(tmpDir, 'client_body')};`,
    `  proxy_temp_path ${join(tmpDir, 'proxy')};`,
    `  fastcgi_temp_path ${join(tmpDir, 'fastcgi')};`,
    `  uwsgi_temp_path ${join(tmpDir, 'uwsgi')};`,
    `  scgi_temp_path ${join(tmpDir, 'scgi')};`,
    '  server {',
    `    listen ${LOOPBACK}:${port};`,
    `    root ${www};`,
    '  }',
    '}',
    '',
  ].join('\n');
  await writeFile(join(tmpDir, 'nginx.conf'), conf);
}

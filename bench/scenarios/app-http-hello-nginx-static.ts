import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TSGI_CLI, tsgiBuilt } from '../lib/exists.js';
import { nginxAvailable, nginxProcess, writeNginxConf } from '../lib/nginx.js';
import type { Scenario, SideContext } from '../lib/types.js';

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
      processes: (ctx) => [nginxProcess(ctx, '/hello.html')],
    },
  ],
  async available() {
    const nginx = await nginxAvailable();
    if (nginx !== true) return nginx;
    return tsgiBuilt();
  },
};

/** The document root and an nginx.conf serving it (every path nginx writes stays in `tmpDir`). */
async function writeSite(ctx: SideContext): Promise<void> {
  const www = join(ctx.tmpDir, 'www');
  await mkdir(www);
  const filler = 'x'.repeat(FILE_BYTES - '<!doctype html><p></p>\n'.length);
  await writeFile(join(www, 'hello.html'), `<!doctype html><p>${filler}</p>\n`);
  await writeNginxConf(ctx, { server: [`root ${www};`] });
}

import { tsgiCanRun, tsgiServe, uwsgiAvailable, uwsgiPython } from '../lib/backends.js';
import { behindNginx, nginxAvailable } from '../lib/nginx.js';
import type { Scenario } from '../lib/types.js';

/**
 * For reference, no target: what users run today. Real nginx (one worker) with `uwsgi_pass` in
 * front of real uWSGI hosting a Python hello-world WSGI app (Debian's uwsgi + python3 plugin, a
 * master and `--processes` workers), against the same nginx in front of `tsgi serve --socket`
 * hosting the TSGI hello app. Both sides pay nginx's connection per uwsgi request. The apps
 * differ in language (tsgi cannot host Python apps yet), so the ratio shows what moving the
 * same hello world from uWSGI + Python to tsgi + TypeScript does, not a like-for-like server race.
 */
export const nginxUwsgiPythonRef: Scenario = {
  name: 'nginx-uwsgi-python-ref',
  description: 'reference: nginx → tsgi serve --socket (TSGI app) vs nginx → uWSGI --socket (Python WSGI app), uwsgi protocol both',
  target: { ratio: null, peer: 'uwsgi', text: 'reference (no target)' },
  sides: [
    behindNginx('tsgi', { pass: 'uwsgi', backend: (listen, ctx) => tsgiServe('uwsgi', listen, ctx.processes) }),
    behindNginx('uwsgi', { pass: 'uwsgi', backend: (listen, ctx) => uwsgiPython(listen, ctx.processes) }),
  ],
  async available(params) {
    for (const check of [nginxAvailable, uwsgiAvailable]) {
      const ok = await check();
      if (ok !== true) return ok;
    }
    return tsgiCanRun(params);
  },
};

import { LOOPBACK } from '../lib/ports.js';
import { executable, TSGI_CLI } from '../lib/exists.js';
import { tsgiCanRun, UWSGI, uwsgiAvailable } from '../lib/backends.js';
import type { Scenario } from '../lib/types.js';

const APP = 'bench/apps/hello_wsgi.py';
const GUNICORN = '/usr/bin/gunicorn';
/** Debian's interpreter, which has the packages; pyenv's variables would point uWSGI/gunicorn elsewhere. */
const CLEAN_ENV = { PYTHONHOME: '', PYTHONPATH: '' };

/**
 * Issue #5's scenario: the same WSGI hello app under `tsgi serve --http` (the router, Python workers
 * behind it over uwsgi) against uWSGI's `--http` router mode (the same architecture) and gunicorn's
 * sync workers, 2 processes each, request logs off everywhere. Target: ≥ 1.0× uWSGI --http.
 * uWSGI's router gets --http-keepalive: without it, it closes every client connection (wrk then
 * counts a socket error per request), and tsgi's router keeps connections alive by default.
 */
export const pythonHello: Scenario = {
  name: 'python-hello',
  description: 'WSGI hello: tsgi serve --http (router + 2 Python workers) vs uwsgi --http (router + 2 workers) vs gunicorn sync (2 workers)',
  target: { ratio: 1.0, peer: 'uwsgi-http', text: 'tsgi ≥ 1.0× uwsgi --http' },
  sides: [
    {
      name: 'tsgi',
      path: '/',
      processes: ({ ports: [port] }) => [
        {
          label: 'tsgi serve --http + python',
          command: process.execPath,
          args: [TSGI_CLI, 'serve', '--http', `${LOOPBACK}:${port}`, '--wsgi-file', APP, '--master', '--processes', '2', '--disable-logging'],
          ready: { kind: 'http', port: port!, path: '/' },
        },
      ],
    },
    {
      name: 'uwsgi-http',
      path: '/',
      processes: ({ ports: [port] }) => [
        {
          label: 'uwsgi --http',
          command: UWSGI,
          args: ['--plugin', 'python3,http', '--http', `${LOOPBACK}:${port}`, '--wsgi-file', APP, '--master', '--processes', '2', '--disable-logging', '--die-on-term', '--need-app', '--http-keepalive'],
          env: CLEAN_ENV,
          ready: { kind: 'http', port: port!, path: '/' },
        },
      ],
    },
    {
      name: 'gunicorn-sync',
      path: '/',
      processes: ({ ports: [port] }) => [
        {
          label: 'gunicorn sync',
          command: GUNICORN,
          args: ['--workers', '2', '--bind', `${LOOPBACK}:${port}`, '--chdir', 'bench/apps', 'hello_wsgi:application'],
          env: CLEAN_ENV,
          ready: { kind: 'http', port: port!, path: '/' },
        },
      ],
    },
  ],
  async available(params) {
    const uwsgi = await uwsgiAvailable();
    if (uwsgi !== true) return uwsgi;
    if (!(await executable(GUNICORN))) return `${GUNICORN} not found (apt-get install gunicorn)`;
    return tsgiCanRun(params);
  },
};

/**
 * The sides of the Python scenarios (python-hello, flask-hello): one WSGI app under tsgi's router
 * with Python workers, and under the servers a Python user would otherwise pick, 2 processes of 1
 * thread each, request logs off everywhere:
 *
 *   tsgi            tsgi serve --http (router + Python workers over uwsgi)
 *   uwsgi-http      uwsgi --http: the same architecture (a router, workers reached over uwsgi);
 *                   --http-keepalive, else it closes every client connection
 *   uwsgi-http11    uwsgi --http11-socket: HTTP/1.1 with keep-alive parsed in C in the workers
 *   uwsgi-http-socket  uwsgi --http-socket: the same, HTTP/1.0 style (a connection per request
 *                   unless the app sets a length, then keep-alive on the client's request)
 *   gunicorn-sync   gunicorn's default sync workers (a connection per request)
 */
import { LOOPBACK } from './ports.js';
import { executable, TSGI_CLI } from './exists.js';
import { tsgiCanRun, UWSGI, uwsgiAvailable } from './backends.js';
import type { BenchParams, Side } from './types.js';

const GUNICORN = '/usr/bin/gunicorn';
/** Debian's interpreter, which has the packages; pyenv's variables would point uWSGI/gunicorn elsewhere. */
const CLEAN_ENV = { PYTHONHOME: '', PYTHONPATH: '' };
const PROCESSES = '2';

/** `file` is the app under bench/apps/, whose WSGI callable is `application`. */
export function pythonSides(file: string): Side[] {
  const app = `bench/apps/${file}`;
  const uwsgi = (name: string, label: string, flag: string, extra: string[] = []): Side => ({
    name,
    path: '/',
    processes: ({ ports: [port] }) => [
      {
        label,
        command: UWSGI,
        args: ['--plugin', 'python3,http', flag, `${LOOPBACK}:${port}`, '--wsgi-file', app, '--master', '--processes', PROCESSES, '--disable-logging', '--die-on-term', '--need-app', ...extra],
        env: CLEAN_ENV,
        ready: { kind: 'http', port: port!, path: '/' },
      },
    ],
  });
  return [
    {
      name: 'tsgi',
      path: '/',
      processes: ({ ports: [port] }) => [
        {
          label: 'tsgi serve --http + python',
          command: process.execPath,
          args: [TSGI_CLI, 'serve', '--http', `${LOOPBACK}:${port}`, '--wsgi-file', app, '--master', '--processes', PROCESSES, '--disable-logging'],
          env: CLEAN_ENV,
          ready: { kind: 'http', port: port!, path: '/' },
        },
      ],
    },
    uwsgi('uwsgi-http', 'uwsgi --http', '--http', ['--http-keepalive']),
    uwsgi('uwsgi-http11', 'uwsgi --http11-socket', '--http11-socket'),
    uwsgi('uwsgi-http-socket', 'uwsgi --http-socket', '--http-socket'),
    {
      name: 'gunicorn-sync',
      path: '/',
      processes: ({ ports: [port] }) => [
        {
          label: 'gunicorn sync',
          command: GUNICORN,
          args: ['--workers', PROCESSES, '--bind', `${LOOPBACK}:${port}`, '--chdir', 'bench/apps', `${file.replace(/\.py$/, '')}:application`],
          env: CLEAN_ENV,
          ready: { kind: 'http', port: port!, path: '/' },
        },
      ],
    },
  ];
}

/** uWSGI, gunicorn and a built tsgi are there. */
export async function pythonSidesAvailable(params: BenchParams): Promise<true | string> {
  const uwsgi = await uwsgiAvailable();
  if (uwsgi !== true) return uwsgi;
  if (!(await executable(GUNICORN))) return `${GUNICORN} not found (apt-get install gunicorn)`;
  return tsgiCanRun(params);
}

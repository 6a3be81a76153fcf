import { pythonSides, pythonSidesAvailable } from '../lib/python-sides.js';
import type { Scenario } from '../lib/types.js';

/**
 * Issue #5's scenario: the same WSGI hello app under `tsgi serve --http` (the router, Python
 * workers behind it over kept uwsgi connections) against uWSGI's `--http` router mode (the same
 * architecture), uWSGI's `--http11-socket` and `--http-socket` (HTTP parsed in C inside the
 * workers), and gunicorn's sync workers; 2 processes each (bench/lib/python-sides.ts).
 * Targets: ≥ 1.0× uwsgi --http (checked here), ≥ 0.35× uwsgi --http11-socket and ≥ 2× gunicorn
 * sync (read from the side table: the harness checks one peer per scenario).
 */
export const pythonHello: Scenario = {
  name: 'python-hello',
  description: 'WSGI hello: tsgi serve --http (router + 2 Python workers) vs uwsgi --http / --http11-socket / --http-socket vs gunicorn sync (2 workers)',
  target: { ratio: 1.0, peer: 'uwsgi-http', text: 'tsgi ≥ 1.0× uwsgi --http' },
  sides: pythonSides('hello_wsgi.py'),
  available: pythonSidesAvailable,
};

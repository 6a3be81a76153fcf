import { pythonSides, pythonSidesAvailable } from '../lib/python-sides.js';
import type { Scenario } from '../lib/types.js';

/**
 * python-hello with a minimal Flask app (bench/apps/hello_flask.py): the same five sides, where
 * the framework's own cost per request (routing, Request/Response objects) dilutes the servers'
 * differences. Same targets as python-hello.
 */
export const flaskHello: Scenario = {
  name: 'flask-hello',
  description: 'Flask hello: tsgi serve --http (router + 2 Python workers) vs uwsgi --http / --http11-socket / --http-socket vs gunicorn sync (2 workers)',
  target: { ratio: 1.0, peer: 'uwsgi-http', text: 'tsgi ≥ 1.0× uwsgi --http' },
  sides: pythonSides('hello_flask.py'),
  async available(params) {
    const sides = await pythonSidesAvailable(params);
    if (sides !== true) return sides;
    const { spawnSync } = await import('node:child_process');
    const flask = spawnSync('/usr/bin/python3', ['-c', 'import flask'], { env: { ...process.env, PYTHONHOME: '', PYTHONPATH: '' } });
    return flask.status === 0 ? true : 'Flask is not importable by /usr/bin/python3 (apt-get install python3-flask)';
  },
};

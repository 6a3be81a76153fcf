/**
 * A real Flask app (Debian's python3-flask) under the Python worker, wrapped in
 * wsgiref.validate with warnings as errors (test/fixtures/python/flask_app.py): routes, a form
 * POST, JSON, a 20 MB multipart upload, a streamed generator response, and url_for() under a
 * SCRIPT_NAME prefix sent as nginx does with `uwsgi_modifier1 30`.
 */
import { before, after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { pythonSkip, useWorkers, VALIDATOR_COMPLAINTS, type Worker } from './harness.js';

const skip = pythonSkip([['flask', 'python3-flask']]);

describe('Python worker: a real Flask app', { skip }, () => {
  const workers = useWorkers();
  let worker: Worker;

  before(async () => {
    worker = await workers.start(['--wsgi-file', 'flask_app.py', '--threads', '2']);
  });

  after(() => {
    assert.doesNotMatch(worker.stderr(), VALIDATOR_COMPLAINTS, worker.stderr());
    assert.doesNotMatch(worker.stderr(), /Traceback/, worker.stderr());
  });

  it('routes: a page, a route variable with a query argument, a 404', async () => {
    const index = await worker.request({ path: '/' });
    assert.equal(index.status, 200);
    assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(index.body.toString(), 'Hello from Flask');
    const user = await worker.request({ path: '/user/ada', query: 'greeting=hi%20there' });
    assert.deepEqual(JSON.parse(user.body.toString()), { name: 'ada', greeting: 'hi there' });
    const missing = await worker.request({ path: '/nowhere' });
    assert.equal(missing.status, 404);
    assert.equal(missing.reason, 'NOT FOUND');
  });

  it('a form POST (urlencoded, repeated fields, UTF-8)', async () => {
    const res = await worker.request({
      method: 'POST',
      path: '/form',
      headers: [['Content-Type', 'application/x-www-form-urlencoded']],
      body: Buffer.from('a=1&a=2&name=%C3%A9l%C3%A8ve'),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body.toString()), { fields: { a: ['1', '2'], name: ['\u00e9l\u00e8ve'] } });
  });

  it('JSON in, JSON out', async () => {
    const doc = { b: [1, 2, 3], a: { nested: true }, text: 'caf\u00e9' };
    const res = await worker.request({ method: 'POST', path: '/json', headers: [['Content-Type', 'application/json']], body: Buffer.from(JSON.stringify(doc)) });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(res.body.toString()), { received: doc, keys: ['a', 'b', 'text'] });
  });

  it('a 20 MB file upload: request.files, size and sha256', async () => {
    const data = randomBytes(20 * 1024 * 1024);
    const boundary = '----tsgi-boundary-7MA4YWxkTrZu0gW';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nholiday pictures\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      data,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const res = await worker.request({ method: 'POST', path: '/upload', headers: [['Content-Type', `multipart/form-data; boundary=${boundary}`]], body });
    assert.equal(res.status, 200, res.body.toString());
    assert.deepEqual(JSON.parse(res.body.toString()), {
      filename: 'big.bin',
      size: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
      note: 'holiday pictures',
    });
  });

  it('a streamed generator response: no Content-Length, the body ends with the connection', async () => {
    const res = await worker.request({ path: '/stream', query: 'chunks=200' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], undefined);
    const lines = res.body.toString().trimEnd().split('\n');
    assert.equal(lines.length, 200);
    assert.equal(lines[0], 'line 1 of 200 (/stream)');
    assert.equal(lines[199], 'line 200 of 200 (/stream)');
  });

  it('url_for() under a mount prefix: SCRIPT_NAME=/myapp with modifier1 30', async () => {
    const res = await worker.request({ path: '/myapp/links', scriptName: '/myapp', modifier1: 30, headers: [['Host', 'example.com:8080']] });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body.toString()), {
      user: '/myapp/user/ada',
      external: 'http://example.com:8080/myapp/',
      script_root: '/myapp',
      path: '/links',
    });
  });
});

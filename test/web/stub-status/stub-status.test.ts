/**
 * stub_status: the text byte for byte (nginx's numbers read back and written again must give
 * nginx's body), the headers, HEAD and the 405 for other methods.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StubStatusHandler, stubStatusText } from '../../../src/web/stub-status.js';
import { configFromText, fakeContext } from '../variables/fake-context.js';
import { header, nginx, startNginx, type NginxRun } from '../variables/nginx-runner.js';

const HTTP = `
  access_log off;
  server {
    listen 127.0.0.1:PORT;
    location = /status { stub_status; }
    location / { }
  }`;

describe('stubStatusText', () => {
  it('is nginx text, with the trailing spaces', () => {
    assert.equal(
      stubStatusText({ active: 2, accepts: 17, handled: 17, requests: 42, reading: 0, writing: 1, waiting: 1 }),
      'Active connections: 2 \nserver accepts handled requests\n 17 17 42 \nReading: 0 Writing: 1 Waiting: 1 \n',
    );
  });
});

describe('StubStatusHandler', () => {
  const config = configFromText(`events {} http { access_log off; server { listen 127.0.0.1:8080; location = /status { stub_status; } location / {} } }`);
  const handler = new StubStatusHandler();
  const counters = { active: 3, accepts: 10, handled: 10, requests: 25, reading: 1, writing: 1, waiting: 1 };

  it('claims the locations with stub_status only', () => {
    const ctx = fakeContext({ config, raw: 'GET /status HTTP/1.1\r\n\r\n', location: '/status' });
    assert.equal(handler.claims(ctx.location, ctx.loc), true);
    const other = fakeContext({ config, raw: 'GET / HTTP/1.1\r\n\r\n', location: '/' });
    assert.equal(handler.claims(other.location, other.loc), false);
  });

  it('GET: text/plain with Content-Length; HEAD: the same headers, no body; POST: 405', async () => {
    const get = await handler.handle(fakeContext({ config, raw: 'GET /status HTTP/1.1\r\n\r\n', location: '/status', counters }));
    const text = stubStatusText(counters);
    assert.deepEqual(get, {
      kind: 'response',
      response: {
        status: 200,
        headers: [['Content-Type', 'text/plain'], ['Content-Length', String(text.length)]],
        body: { kind: 'buffer', data: Buffer.from(text) },
      },
    });
    const head = await handler.handle(fakeContext({ config, raw: 'HEAD /status HTTP/1.1\r\n\r\n', location: '/status', counters }));
    assert.equal(head.kind === 'response' && head.response.body.kind, 'none');
    assert.deepEqual(await handler.handle(fakeContext({ config, raw: 'POST /status HTTP/1.1\r\n\r\n', location: '/status' })), { kind: 'status', status: 405 });
  });
});

describe('stub_status against nginx', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let run: NginxRun;
  before(async () => {
    if ('path' in nginx) run = await startNginx(nginx.path, HTTP);
  });
  after(async () => run?.stop());

  it('the same text from the same numbers, the same headers', async () => {
    const response = await run.request('GET /status HTTP/1.0\r\n\r\n');
    const numbers = (response.body.match(/\d+/g) ?? []).map(Number);
    assert.equal(numbers.length, 7, response.body);
    const [active, accepts, handled, requests, reading, writing, waiting] = numbers as [number, number, number, number, number, number, number];
    assert.equal(stubStatusText({ active, accepts, handled, requests, reading, writing, waiting }), response.body);
    assert.equal(header(response, 'content-type'), 'text/plain');
    assert.equal(header(response, 'content-length'), String(response.body.length));
  });

  it('HEAD has no body; POST is 405', async () => {
    const head = await run.request('HEAD /status HTTP/1.0\r\n\r\n');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(header(head, 'content-type'), 'text/plain');
    assert.equal((await run.request('POST /status HTTP/1.0\r\nContent-Length: 0\r\n\r\n')).status, 405);
  });
});

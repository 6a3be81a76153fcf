/**
 * PEP 3333 in the Python worker, seen from the TS uwsgi client: the environ, wsgi.input on a
 * multi-MB body, write(), bodies without Content-Length, close() in every ending, exc_info,
 * the head held back until the first non-empty chunk, errors, Content-Length, file_wrapper.
 * The app (test/fixtures/python/wsgi_app.py) runs inside wsgiref.validate with warnings as
 * errors; the last suite proves the wrapping catches a broken server.
 */
import { before, after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UpstreamError } from '../../src/upstream/errors.js';
import { pythonSkip, readBody, useWorkers, VALIDATOR_COMPLAINTS, type Worker } from './harness.js';

const skip = pythonSkip();

interface EnvDoc {
  vars: Record<string, string>;
  not_str: Record<string, string>;
  wsgi: Record<string, unknown>;
}

interface InputDoc {
  length: number;
  sha256: string;
  lines: number;
  maxLine: number;
  peak: number;
  eof: boolean;
  eofMs: number;
}

const MiB = 1024 * 1024;

/** About 8 MiB of lines of 0..300 bytes, and a last line without a newline. */
function linesBody(): { body: Buffer; lines: number } {
  const parts: Buffer[] = [];
  let size = 0;
  let lines = 0;
  let seed = 7;
  while (size < 8 * MiB) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const line = Buffer.alloc((seed % 301) + 1, 0x61 + (lines % 26));
    line[line.length - 1] = 0x0a;
    parts.push(line);
    size += line.length;
    lines += 1;
  }
  parts.push(Buffer.from('tail without a newline'));
  return { body: Buffer.concat(parts), lines: lines + 1 };
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('Python worker: PEP 3333 through the uwsgi protocol', { skip }, () => {
  const workers = useWorkers();
  let worker: Worker;

  before(async () => {
    worker = await workers.start(['--wsgi-file', 'wsgi_app.py', '--threads', '2']);
  });

  after(() => {
    // Zero complaints from wsgiref.validate over everything this suite did.
    const complaints = worker.stderr().split('\n').filter((line) => VALIDATOR_COMPLAINTS.test(line));
    assert.deepEqual(complaints, [], worker.stderr());
  });

  describe('environ', () => {
    it('GET with a query and headers: CGI vars as sent, every value a native str', async () => {
      const res = await worker.request({ path: '/env', query: 'a=1&b=two%20words', headers: [['X-Test', 'yes'], ['Accept', 'text/plain']] });
      assert.equal(res.status, 200);
      const doc = JSON.parse(res.body.toString()) as EnvDoc;
      assert.deepEqual(doc.not_str, {});
      assert.equal(doc.vars.REQUEST_METHOD, 'GET');
      assert.equal(doc.vars.QUERY_STRING, 'a=1&b=two%20words');
      assert.equal(doc.vars.PATH_INFO, '/env');
      assert.equal(doc.vars.SCRIPT_NAME, '');
      assert.equal(doc.vars.HTTP_X_TEST, 'yes');
      assert.equal(doc.vars.HTTP_ACCEPT, 'text/plain');
      assert.equal(doc.vars.SERVER_NAME, 'localhost');
      assert.equal(doc.vars.SERVER_PORT, '80');
      assert.deepEqual(doc.wsgi['wsgi.version'], [1, 0]);
      assert.equal(doc.wsgi['wsgi.url_scheme'], 'http');
      assert.equal(doc.wsgi['wsgi.multithread'], true);
      assert.equal(doc.wsgi['wsgi.multiprocess'], false);
      assert.equal(doc.wsgi['wsgi.run_once'], false);
      assert.equal(doc.wsgi['wsgi.input_terminated'], true);
      assert.equal(doc.wsgi['wsgi.file_wrapper'], true);
    });

    it('Content-Type arrives as CONTENT_TYPE only (nginx also sends HTTP_CONTENT_TYPE/LENGTH)', async () => {
      const res = await worker.request({
        method: 'POST',
        path: '/env',
        headers: [['Content-Type', 'text/plain'], ['Content-Length', '5']],
        body: Buffer.from('hello'),
      });
      const doc = JSON.parse(res.body.toString()) as EnvDoc;
      assert.equal(doc.vars.CONTENT_TYPE, 'text/plain');
      assert.equal(doc.vars.CONTENT_LENGTH, '5');
      assert.equal(doc.vars.HTTP_CONTENT_TYPE, undefined);
      assert.equal(doc.vars.HTTP_CONTENT_LENGTH, undefined);
    });

    it('wsgi.url_scheme: UWSGI_SCHEME, then HTTPS on/1, then REQUEST_SCHEME', async () => {
      const scheme = async (vars: Array<[string, string]>): Promise<unknown> => {
        const res = await worker.request({ path: '/env', vars });
        return (JSON.parse(res.body.toString()) as EnvDoc).wsgi['wsgi.url_scheme'];
      };
      assert.equal(await scheme([['HTTPS', 'on']]), 'https');
      assert.equal(await scheme([['HTTPS', '1']]), 'https');
      assert.equal(await scheme([['HTTPS', 'off'], ['REQUEST_SCHEME', 'https']]), 'http');
      assert.equal(await scheme([['REQUEST_SCHEME', 'https']]), 'https');
      assert.equal(await scheme([['UWSGI_SCHEME', 'https'], ['HTTPS', 'off']]), 'https');
    });

    it('a non-ASCII header byte is its latin-1 character in the environ and the same byte back', async () => {
      const res = await worker.request({ path: '/echo-latin1', headers: [['X-Latin', 'caf\u00e9 \u00ff']] });
      assert.equal(res.status, 200);
      assert.deepEqual([...res.body], [0x63, 0x61, 0x66, 0xe9, 0x20, 0xff]);
      assert.equal(res.headers['x-echo'], 'caf\u00e9 \u00ff');
      const env = JSON.parse((await worker.request({ path: '/env', headers: [['X-Latin', '\u00e9']] })).body.toString()) as EnvDoc;
      assert.equal(env.vars.HTTP_X_LATIN, '\u00e9');
    });

    it('modifier1 30 removes SCRIPT_NAME from PATH_INFO, at a path boundary only', async () => {
      const env = async (path: string, scriptName: string): Promise<EnvDoc['vars']> => {
        const res = await worker.request({ path, scriptName, modifier1: 30 });
        return (JSON.parse(res.body.toString()) as EnvDoc).vars;
      };
      // /env is routed on the stripped PATH_INFO, so a 200 JSON proves the strip.
      const vars = await env('/myapp/env', '/myapp');
      assert.equal(vars.SCRIPT_NAME, '/myapp');
      assert.equal(vars.PATH_INFO, '/env');
      const slash = await env('/myapp/env', '/myapp/');
      assert.equal(slash.SCRIPT_NAME, '/myapp');
      assert.equal(slash.PATH_INFO, '/env');
      const other = await worker.request({ path: '/myappenv', scriptName: '/myapp', modifier1: 30 });
      assert.equal(other.status, 404);
    });
  });

  describe('wsgi.input on an 8 MiB body', () => {
    const { body, lines } = linesBody();
    const digest = sha256(body);
    const streaming = ['read-n', 'readline', 'readline-size', 'readlines', 'iter', 'iter-wrapped'];

    for (const mode of [...streaming, 'read-all']) {
      it(`${mode}: every byte once, EOF at CONTENT_LENGTH, ${mode === 'read-all' ? 'the whole body (asked for)' : 'memory bounded'}`, async () => {
        const res = await worker.request({ method: 'POST', path: '/input', query: `mode=${mode}`, body, headers: [['Content-Type', 'text/plain']] });
        assert.equal(res.status, 200, res.body.toString());
        const doc = JSON.parse(res.body.toString()) as InputDoc;
        assert.equal(doc.length, body.length);
        assert.equal(doc.sha256, digest);
        // Reads after the end return b'' at once: the server simulates EOF instead of waiting
        // on a connection whose peer is still open, waiting for the response.
        assert.equal(doc.eof, true);
        assert.ok(doc.eofMs < 100, `EOF took ${doc.eofMs} ms`);
        if (mode === 'read-all') {
          assert.ok(doc.peak >= body.length, `read() returned ${body.length} bytes with a peak of ${doc.peak}`);
        } else {
          // The app's own buffers (a 64 KiB read, a readlines batch) plus one socket read of
          // look-ahead: far below the 8 MiB a buffered body would cost.
          assert.ok(doc.peak < 1 * MiB, `peak ${doc.peak} bytes while streaming ${body.length}`);
        }
        if (mode === 'readline-size') {
          assert.ok(doc.maxLine <= 100, `readline(100) returned ${doc.maxLine} bytes`);
        } else if (mode !== 'read-n' && mode !== 'read-all') {
          assert.equal(doc.lines, lines);
        }
      });
    }
  });

  describe('response', () => {
    it('write() callable: parts written, then the returned iterable', async () => {
      const res = await worker.request({ path: '/write' });
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), 'first,second,third');
      assert.equal(res.headers['content-length'], undefined);
    });

    it('a generator without Content-Length: the body runs until the connection closes', async () => {
      const res = await worker.request({ path: '/generator', query: 'chunks=50&size=65536' });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-length'], undefined);
      assert.equal(res.headers['transfer-encoding'], undefined);
      assert.equal(res.body.length, 50 * 65536);
      for (let k = 0; k < 50; k++) assert.equal(res.body[k * 65536], k);
    });

    it('one 8 MiB chunk: the head and the chunk leave together, the rest when the client reads', async () => {
      const res = await worker.request({ path: '/generator', query: `chunks=1&size=${8 * MiB}` });
      assert.equal(res.body.length, 8 * MiB);
      assert.ok(res.body.every((byte) => byte === 0));
    });

    it("the app's Content-Length is honoured: no byte past it", async () => {
      const res = await worker.request({ path: '/length-over' });
      assert.equal(res.headers['content-length'], '5');
      assert.equal(res.body.toString(), '01234');
    });

    it('a body shorter than its Content-Length is cut (the client sees it) and logged', async () => {
      await assert.rejects(worker.request({ path: '/length-short' }), (error: unknown) => error instanceof UpstreamError && error.code === 'ERR_UPSTREAM_PREMATURE_CLOSE');
      await worker.waitForLog('ended after 10 of the 100 bytes its Content-Length announced');
    });

    it('wsgi.file_wrapper: the file, whole (iterated: the validator hides the wrapper)', async () => {
      const data = randomBytes(3 * MiB + 17);
      const path = join(worker.socketPath, '..', 'file-wrapper.bin');
      writeFileSync(path, data);
      const res = await worker.request({ path: '/file', query: `path=${encodeURIComponent(path)}&blksize=65536` });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-length'], String(data.length));
      assert.ok(res.body.equals(data));
    });
  });

  describe('close() and errors', () => {
    it('close() is called after a complete response', async () => {
      const res = await worker.request({ path: '/close-ok', query: 'tag=complete' });
      assert.equal(res.body.toString(), 'ok');
      await worker.waitForLog('tsgi-test: close complete after 1 chunks');
    });

    it('close() is called when the iterable raises in the middle of the body', async () => {
      const res = await worker.send({ path: '/close-raise', query: 'tag=mid-body' });
      assert.equal(res.status, 200);
      // No Content-Length: on a UNIX socket the cut looks like an end (as with uWSGI).
      assert.equal((await readBody(res)).toString(), 'first chunk');
      const log = await worker.waitForLog('tsgi-test: close mid-body after 1 chunks');
      assert.match(log, /GET \/close-raise\?tag=mid-body: the application raised an exception after the response head was sent \(11 body bytes\)/);
      assert.match(log, /RuntimeError: failure in the middle of the body/);
    });

    it('close() is called when the client goes away', async () => {
      const res = await worker.send({ path: '/close-forever', query: 'tag=disconnect' });
      assert.equal(res.status, 200);
      for await (const chunk of res.body) {
        assert.ok(chunk.length > 0);
        break; // cancels the body: the client closes the connection
      }
      const log = await worker.waitForLog(/tsgi-test: close disconnect after \d+ chunks/);
      assert.match(log, /GET \/close-forever\?tag=disconnect: write error after \d+ body bytes/);
    });

    it('exc_info is re-raised once the head has been sent; the response is cut', async () => {
      const res = await worker.send({ path: '/exc-info' });
      assert.equal(res.status, 200);
      assert.equal((await readBody(res)).toString(), 'partial');
      const log = await worker.waitForLog('tsgi-test: exc_info re-raised: failure after start_response');
      assert.match(log, /GET \/exc-info: the application raised an exception after the response head was sent/);
      // With a Content-Length the client can tell the response is incomplete.
      const withLength = await worker.send({ path: '/exc-info-length' });
      assert.equal(withLength.status, 200);
      await assert.rejects(readBody(withLength), (error: unknown) => error instanceof UpstreamError && error.code === 'ERR_UPSTREAM_PREMATURE_CLOSE');
    });

    it('exc_info before the head left replaces the status and headers', async () => {
      const res = await worker.request({ path: '/exc-info-early' });
      assert.equal(res.status, 500);
      assert.equal(res.body.toString(), 'custom error page');
      await worker.waitForLog('tsgi-test: exc_info replaced the status');
    });

    it("the head waits for the first non-empty chunk: b'' then an exception is a clean 500, not a 200", async () => {
      const res = await worker.request({ path: '/empty-then-raise' });
      assert.equal(res.status, 500);
      assert.equal(res.headers['content-length'], '21');
      assert.equal(res.body.toString(), 'Internal Server Error');
      await worker.waitForLog('RuntimeError: failure after an empty first chunk');
    });

    it('an exception before start_response: 500, the traceback in the log, and the worker goes on', async () => {
      const res = await worker.request({ path: '/error' });
      assert.equal(res.status, 500);
      assert.equal(res.reason, 'Internal Server Error');
      assert.equal(res.headers['content-type'], 'text/plain');
      const log = await worker.waitForLog('RuntimeError: deliberate failure before start_response');
      assert.match(log, /GET \/error: the application raised an exception; answering 500:\nTraceback \(most recent call last\):\n/);
      assert.match(log, /File "wsgi_app\.py", line \d+, in error_route/);
      const next = await worker.request({ path: '/close-ok', query: 'tag=after-error' });
      assert.equal(next.status, 200);
      assert.equal(worker.child.exitCode, null);
    });
  });
});

describe('Python worker: the validator wrapping catches a broken server', { skip }, () => {
  const workers = useWorkers();
  let worker: Worker;

  before(async () => {
    worker = await workers.start(['--wsgi-file', 'broken_server_app.py']);
  });

  it('the same app behind no fault answers 200', async () => {
    const res = await worker.request({ path: '/', query: 'fault=fine' });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'hello');
  });

  const faults: Array<[string, RegExp]> = [
    ['bytes-value', /AssertionError: Environmental variable HTTP_X_BROKEN is not a string: <class 'bytes'>/],
    ['no-url-scheme', /KeyError: 'wsgi\.url_scheme'/],
    ['http-content-length', /AssertionError: Environment should not have the key: HTTP_CONTENT_LENGTH/],
    ['no-query-string', /WSGIWarning: QUERY_STRING is not in the WSGI environment/],
    ['input-no-readline', /AssertionError: wsgi\.input \(.*\) doesn't have the attribute readline/],
  ];
  for (const [fault, complaint] of faults) {
    it(`${fault}: 500 and the validator's complaint in the log`, async () => {
      const res = await worker.request({ path: '/', query: `fault=${fault}` });
      assert.equal(res.status, 500);
      await worker.waitForLog(complaint);
    });
  }
});

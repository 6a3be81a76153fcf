/** ResponseBody without sockets: ordering, errors after the chunks, backpressure calls, cancel. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseBody, type BodySource } from '../../src/upstream/response-body.js';
import { UpstreamError } from '../../src/upstream/errors.js';

function source(): BodySource & { calls: string[] } {
  const calls: string[] = [];
  return { calls, pause: () => calls.push('pause'), resume: () => calls.push('resume'), cancel: () => calls.push('cancel') };
}

const truncated = new UpstreamError('ERR_UPSTREAM_PREMATURE_CLOSE', 'upstream prematurely closed connection', 'reading response body', 'uwsgi://127.0.0.1:9');

describe('ResponseBody', () => {
  it('yields chunks in order, queued or awaited, then ends', async () => {
    const body = new ResponseBody(source());
    body.push(Buffer.from('a'));
    const later = (async () => {
      const got: string[] = [];
      for await (const chunk of body) got.push(chunk.toString());
      return got;
    })();
    await new Promise((resolve) => setImmediate(resolve));
    body.push(Buffer.from('b'));
    body.push(Buffer.from(''));
    body.push(Buffer.from('c'));
    body.end();
    assert.deepEqual(await later, ['a', 'b', 'c']);
  });

  it('a failure comes after the chunks received before it, and again on every next()', async () => {
    const body = new ResponseBody(source());
    body.push(Buffer.from('partial'));
    body.fail(truncated);
    assert.equal((await body.next()).value?.toString(), 'partial');
    await assert.rejects(body.next(), truncated);
    await assert.rejects(body.next(), truncated);
  });

  it('pauses the source at the high-water mark and resumes once the reader catches up', async () => {
    const s = source();
    const body = new ResponseBody(s, 10);
    body.push(Buffer.alloc(6));
    assert.deepEqual(s.calls, []);
    body.push(Buffer.alloc(6));
    assert.deepEqual(s.calls, ['pause']);
    body.push(Buffer.alloc(6)); // already paused: no second call
    await body.next();
    assert.deepEqual(s.calls, ['pause']);
    await body.next();
    assert.deepEqual(s.calls, ['pause', 'resume']);
  });

  it('break in for await cancels the source; next() then rejects with the reason the source gave', async () => {
    const s = source();
    const body = new ResponseBody(s);
    const aborted = new UpstreamError('ERR_UPSTREAM_ABORTED', 'request aborted by the caller', 'reading response body', 'uwsgi://x:1');
    s.cancel = () => {
      s.calls.push('cancel');
      body.fail(aborted);
    };
    body.push(Buffer.from('a'));
    body.push(Buffer.from('b'));
    for await (const chunk of body) {
      assert.equal(chunk.toString(), 'a');
      break;
    }
    assert.deepEqual(s.calls, ['cancel']);
    await assert.rejects(body.next(), aborted);
  });

  it('cancel() after the end changes nothing', async () => {
    const s = source();
    const body = new ResponseBody(s);
    body.push(Buffer.from('x'));
    body.end();
    body.cancel();
    assert.deepEqual(s.calls, []);
    assert.equal((await body.next()).value?.toString(), 'x');
    assert.equal((await body.next()).done, true);
  });
});

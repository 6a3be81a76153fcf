/**
 * The worker's request bookkeeping, without processes: the counters the master receives, the
 * --threads limit, and the harakiri board the watchdog thread reads.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RequestTracker } from '../../src/appserver/worker-requests.js';
import { HarakiriBoard } from '../../src/appserver/watchdog.js';
import type { App, Body, Environ, StartResponse } from '../../src/gateway/types.js';

const startResponse: StartResponse = () => async () => {};

function environ(path: string): Environ {
  return { REQUEST_METHOD: 'GET', PATH_INFO: path, REQUEST_URI: path } as unknown as Environ;
}

/** Does what the TSGI handler does with a body: iterate it, then call close(). */
async function consume(body: Body | Promise<Body>): Promise<string> {
  const resolved = await body;
  let text = '';
  if (Symbol.asyncIterator in resolved) for await (const chunk of resolved as AsyncIterable<string>) text += chunk;
  else for (const chunk of resolved as Iterable<string>) text += chunk;
  await resolved.close?.();
  return text;
}

describe('RequestTracker', () => {
  it('counts a request when an array body is returned, and when another body is closed', async () => {
    const tracker = new RequestTracker({ threads: null, board: null });
    const closed: string[] = [];
    const app = tracker.wrap((env) => {
      if (env.PATH_INFO === '/array') return ['a'];
      return Object.assign(
        (function* () {
          yield 'g';
        })(),
        { close: () => void closed.push('original') },
      );
    });
    app(environ('/array'), startResponse);
    assert.equal(tracker.requests, 1);
    assert.equal(tracker.inFlight, 0);
    const body = app(environ('/gen'), startResponse);
    assert.equal(tracker.inFlight, 1, 'running until close()');
    assert.equal(await consume(body), 'g');
    assert.deepEqual(closed, ['original'], 'the body\'s own close() still runs');
    assert.equal(tracker.requests, 2);
    assert.equal(tracker.inFlight, 0);
    assert.ok(tracker.takeAverageMicros() >= 0);
  });

  it('ends a request whose application throws or rejects', async () => {
    const tracker = new RequestTracker({ threads: null, board: null });
    const throwing = tracker.wrap(() => {
      throw new Error('sync');
    });
    assert.throws(() => throwing(environ('/'), startResponse), /sync/);
    const rejecting = tracker.wrap(async () => {
      throw new Error('async');
    });
    await assert.rejects(Promise.resolve(rejecting(environ('/'), startResponse)), /async/);
    assert.equal(tracker.requests, 2);
    assert.equal(tracker.inFlight, 0);
  });

  it('keeps at most `threads` requests running; the others wait in arrival order', async () => {
    const saturation: boolean[] = [];
    const finished: number[] = [];
    const tracker = new RequestTracker({
      threads: 2,
      board: null,
      onSaturation: (saturated) => saturation.push(saturated),
      onFinished: (requests) => finished.push(requests),
    });
    const releases: Array<() => void> = [];
    const order: string[] = [];
    const app: App = async (env) => {
      order.push(`start ${env.PATH_INFO}`);
      await new Promise<void>((resolve) => releases.push(resolve));
      return [env.PATH_INFO];
    };
    const wrapped = tracker.wrap(app);
    const bodies = ['/1', '/2', '/3', '/4'].map((path) => wrapped(environ(path), startResponse));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(tracker.inFlight, 2);
    assert.equal(tracker.queued, 2);
    assert.deepEqual(saturation, [true]);
    assert.deepEqual(order, ['start /1', 'start /2']);
    releases.shift()!();
    assert.equal(await consume(bodies[0]!), '/1');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, ['start /1', 'start /2', 'start /3'], 'the oldest waiting request got the slot');
    assert.deepEqual(saturation, [true], 'a slot handed over does not unsaturate');
    while (releases.length > 0 || tracker.inFlight > 0) {
      releases.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(await Promise.all(bodies.slice(1).map(consume)), ['/2', '/3', '/4']);
    assert.deepEqual(saturation, [true, false]);
    assert.deepEqual(finished, [1, 2, 3, 4]);
  });

  it('writes running requests on the harakiri board and frees their slots', async () => {
    const board = new HarakiriBoard(2);
    const tracker = new RequestTracker({ threads: null, board });
    let release: () => void = () => {};
    const app = tracker.wrap(async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return ['x'];
    });
    const body = app(environ('/watched'), startResponse);
    assert.ok(Buffer.from(new Uint8Array(board.buffer)).includes('GET /watched'), 'the description is on the board');
    release();
    await consume(body);
    // The slot is free again: both slots can be taken; a request beyond them is not watched.
    assert.equal(board.begin('a'), 0);
    assert.equal(board.begin('b'), 1);
    assert.equal(board.begin('c'), -1);
    board.end(-1);
  });
});

/** The master's signal queue: handlers only queue, the loop takes one at a time. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignalQueue } from '../../src/process/signals.js';

describe('SignalQueue', () => {
  it('queues in arrival order and wakes the loop each time', () => {
    let wakes = 0;
    const queue = new SignalQueue<NodeJS.Signals>(() => wakes++);
    queue.push('SIGHUP');
    queue.push('SIGTERM');
    assert.equal(wakes, 2);
    assert.equal(queue.take(), 'SIGHUP');
    assert.equal(queue.take(), 'SIGTERM');
    assert.equal(queue.take(), undefined);
  });

  it('collapses a signal already waiting, but counts every TTIN and TTOU', () => {
    const queue = new SignalQueue<NodeJS.Signals>(() => {});
    for (const signal of ['SIGHUP', 'SIGHUP', 'SIGTTIN', 'SIGTTIN', 'SIGHUP', 'SIGTERM'] as const) queue.push(signal);
    const taken: string[] = [];
    for (let signal = queue.take(); signal !== undefined; signal = queue.take()) taken.push(signal);
    assert.deepEqual(taken, ['SIGHUP', 'SIGTTIN', 'SIGTTIN', 'SIGTERM']);
  });

  it('installs process handlers that only queue, and removes them', async () => {
    const queue = new SignalQueue<NodeJS.Signals>(() => {});
    const before = process.listenerCount('SIGHUP');
    queue.install(['SIGHUP']);
    assert.equal(process.listenerCount('SIGHUP'), before + 1);
    process.kill(process.pid, 'SIGHUP');
    for (let i = 0; i < 100 && queue.size === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(queue.take(), 'SIGHUP');
    queue.uninstall();
    assert.equal(process.listenerCount('SIGHUP'), before);
  });
});

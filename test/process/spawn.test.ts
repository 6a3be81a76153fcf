/** Forking a supervised child, its output and notes pipes, and gunicorn's stop (signal, grace, SIGKILL). */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { childExecArgv, forkChild, forwardLines, notesStream, siblingModule, stopChild, waitForExit } from '../../src/process/spawn.js';
import { describeExit, exitStatus } from '../../src/process/exit-codes.js';

const CHILD = fileURLToPath(new URL('../fixtures/apps/child-process.ts', import.meta.url));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

describe('spawning and stopping a child', () => {
  it('finds a sibling module with the caller\'s extension', () => {
    assert.equal(siblingModule('file:///app/dist/src/appserver/master.js', 'worker'), '/app/dist/src/appserver/worker.js');
    assert.equal(siblingModule('file:///app/src/appserver/master.ts', 'worker'), '/app/src/appserver/worker.ts');
  });

  it('passes Node options on, minus the debugger and the test runner, with tsx made absolute', () => {
    const argv = childExecArgv('/x/worker.js', ['--inspect=9229', '--import', 'tsx', '--max-old-space-size=512', '--test-reporter=spec']);
    assert.equal(argv[0], '--import');
    assert.match(argv[1]!, /^file:\/\/.*tsx/);
    assert.deepEqual(argv.slice(2), ['--max-old-space-size=512']);
    // A TypeScript entry gets tsx even when the parent has no loader.
    const ts = childExecArgv('/x/worker.ts', []);
    assert.equal(ts[0], '--import');
    assert.match(ts[1]!, /tsx/);
    assert.deepEqual(childExecArgv('/x/worker.js', []), []);
  });

  it('describes exits in uWSGI\'s terms', () => {
    assert.equal(describeExit(exitStatus(null, 'SIGKILL')), 'killed by signal 9');
    assert.equal(describeExit(exitStatus(3, null)), 'exit code 3');
  });

  it('forwards output line by line and reads the notes pipe', async () => {
    const child = forkChild({ entry: CHILD, args: ['notes'] });
    children.push(child);
    const out: string[] = [];
    const notes: string[] = [];
    forwardLines(child.stdout!, (line) => out.push(line));
    forwardLines(notesStream(child)!, (line) => notes.push(line));
    assert.deepEqual(await waitForExit(child), { code: 5, signal: null });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(out, ['out line', 'partial']);
    assert.deepEqual(notes, ['hello from the notes pipe']);
  });

  it('stops a child that ignores SIGTERM with SIGKILL after the grace period', async () => {
    const child = forkChild({ entry: CHILD, args: ['stubborn'] });
    children.push(child);
    await new Promise((resolve) => child.once('message', resolve));
    const status = await stopChild(child, { signal: 'SIGTERM', graceMs: 300 });
    assert.deepEqual(status, { code: null, signal: 'SIGKILL' });
  });

  it('stops a cooperative child with the first signal', async () => {
    const child = forkChild({ entry: CHILD, args: ['stubborn'] });
    children.push(child);
    await new Promise((resolve) => child.once('message', resolve));
    assert.deepEqual(await stopChild(child, { signal: 'SIGINT', graceMs: 5000 }), { code: null, signal: 'SIGINT' });
  });
});

/** The pidfile and the helpers that signal through it. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPidfile, removePidfile, signalPidfile, writePidfile } from '../../src/process/pidfile.js';

const temp = mkdtempSync(join(tmpdir(), 'tsgi-pidfile-'));
after(() => rmSync(temp, { recursive: true, force: true }));

describe('pidfile', () => {
  it('writes the pid with a newline and reads it back', () => {
    const path = join(temp, 'a.pid');
    writePidfile(path, 4242);
    assert.equal(readFileSync(path, 'utf8'), '4242\n');
    assert.equal(readPidfile(path), 4242);
  });

  it('removes the file only while it still names the given pid', () => {
    const path = join(temp, 'b.pid');
    writePidfile(path, 1111);
    assert.equal(removePidfile(path, 2222), false);
    assert.equal(existsSync(path), true);
    assert.equal(removePidfile(path, 1111), true);
    assert.equal(existsSync(path), false);
    assert.equal(removePidfile(path, 1111), false);
  });

  it('reports a missing, empty or stale pidfile by code', () => {
    assert.throws(() => readPidfile(join(temp, 'missing.pid')), { code: 'ERR_PIDFILE' });
    const empty = join(temp, 'empty.pid');
    writeFileSync(empty, '\n');
    assert.throws(() => readPidfile(empty), { code: 'ERR_PIDFILE', message: /does not contain a pid/ });
    const stale = join(temp, 'stale.pid');
    writePidfile(stale, 2 ** 22 + 12345);
    assert.throws(() => signalPidfile(stale, 'SIGHUP'), { code: 'ERR_PIDFILE', message: /not running/ });
  });

  it('signals the process it names', async () => {
    const path = join(temp, 'self.pid');
    writePidfile(path);
    // A signal listener does not keep the event loop alive; the timer does until the signal comes.
    const keepAlive = setTimeout(() => {}, 5000);
    const received = new Promise<void>((resolve) => process.once('SIGUSR2', () => resolve()));
    assert.equal(signalPidfile(path, 'SIGUSR2'), process.pid);
    await received;
    clearTimeout(keepAlive);
  });
});

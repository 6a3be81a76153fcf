/** Sockets the master binds without accepting on them, shared with children that do accept. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { bindShared, sharedAcceptAvailable } from '../../src/process/listen-handle.js';
import { forkChild } from '../../src/process/spawn.js';

const CHILD = fileURLToPath(new URL('../fixtures/apps/child-process.ts', import.meta.url));
const temp = mkdtempSync(join(tmpdir(), 'tsgi-listen-'));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(temp, { recursive: true, force: true });
});

function ask(target: { port: number } | { path: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = 'port' in target ? connect(target.port, '127.0.0.1') : connect(target.path);
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('end', () => resolve(text.trim()));
    socket.on('error', reject);
  });
}

async function listeningChild(): Promise<ChildProcess> {
  const child = forkChild({ entry: CHILD, args: ['listen'] });
  children.push(child);
  return child;
}

describe('shared listening sockets', () => {
  it('is available on this Node', () => {
    assert.equal(sharedAcceptAvailable(), true);
  });

  it('binds port 0, and the children accept on it while the parent does not', async () => {
    const socket = await bindShared({ protocol: 'http', address: '127.0.0.1:0' });
    assert.ok('port' in socket.bound && socket.bound.port > 0);
    const port = 'port' in socket.bound ? socket.bound.port : 0;
    const first = await listeningChild();
    const second = await listeningChild();
    for (const child of [first, second]) {
      const listening = new Promise((resolve) => child.once('message', resolve));
      assert.equal(await socket.sendTo(child, { type: 'socket', index: 0 }), true);
      await listening;
    }
    const pids = new Set<string>();
    for (let i = 0; i < 200 && pids.size < 2; i++) pids.add(await ask({ port }));
    assert.deepEqual([...pids].sort(), [String(first.pid), String(second.pid)].sort());
    // With every child gone, the socket still exists (the parent holds it): connections wait in its queue.
    first.kill('SIGKILL');
    second.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const third = await listeningChild();
    const pending = ask({ port });
    const listening = new Promise((resolve) => third.once('message', resolve));
    await socket.sendTo(third, { type: 'socket', index: 0 });
    await listening;
    assert.equal(await pending, String(third.pid));
    socket.close({ removeUnixFile: true });
  });

  it('reports a busy port with its system error code', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      await assert.rejects(bindShared({ protocol: 'uwsgi', address: `127.0.0.1:${port}` }), {
        code: 'ERR_SOCKET_BIND',
        message: new RegExp(`bind\\(127\\.0\\.0\\.1:${port}\\) for the uwsgi socket failed: EADDRINUSE`),
      });
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });

  it('binds a UNIX socket over a stale file, refuses one in use, and unlinks it on close', async () => {
    const path = join(temp, 'shared.sock');
    writeFileSync(path, '');
    const socket = await bindShared({ protocol: 'http', address: path });
    const child = await listeningChild();
    const listening = new Promise((resolve) => child.once('message', resolve));
    await socket.sendTo(child, { type: 'socket', index: 0 });
    await listening;
    assert.equal(await ask({ path }), String(child.pid));
    await assert.rejects(bindShared({ protocol: 'http', address: path }), { code: 'ERR_SOCKET_IN_USE' });
    child.kill('SIGKILL');
    socket.close({ removeUnixFile: false });
    assert.equal(existsSync(path), false);
  });
});

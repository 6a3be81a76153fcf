// bench/lib/idle-hold.ts against a small server in this process: connections are counted as held
// only after a whole 200 response, stay open until close(), and end with a reset.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { holdIdleConnections } from '../../bench/lib/idle-hold.js';

function server(status: string): Promise<{ server: Server; port: number; open: Set<Socket>; resets: () => number }> {
  const open = new Set<Socket>();
  let resets = 0;
  const srv = createServer((socket) => {
    open.add(socket);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET') resets++;
    });
    socket.on('close', () => open.delete(socket));
    // The head in one write and the body in two: the client must wait for the whole body.
    socket.once('data', () => {
      socket.write(`HTTP/1.1 ${status}\r\nContent-Length: 10\r\n\r\n01234`);
      setTimeout(() => socket.write('56789'), 20);
    });
  });
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      resolve({ server: srv, port: typeof address === 'object' && address !== null ? address.port : 0, open, resets: () => resets });
    }),
  );
}

test('holds N connections after one response each, and resets them on close()', async () => {
  const { server: srv, port, open, resets } = await server('200 OK');
  try {
    const hold = await holdIdleConnections(port, '/x', 300, new AbortController().signal);
    assert.equal(hold.held, 300);
    assert.deepEqual(hold.errors, []);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(open.size, 300);
    hold.close();
    for (let i = 0; i < 100 && open.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(open.size, 0);
    assert.equal(resets(), 300);
  } finally {
    srv.close();
  }
});

test('a connection answered with something else than 200 is not held, and says why', async () => {
  const { server: srv, port } = await server('404 Not Found');
  try {
    const hold = await holdIdleConnections(port, '/x', 5, new AbortController().signal);
    assert.equal(hold.held, 0);
    assert.deepEqual(hold.errors, ['5 × unexpected response: HTTP/1.1 404 Not Found']);
    hold.close();
  } finally {
    srv.close();
  }
});

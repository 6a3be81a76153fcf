/** writeStaticBody over real sockets: framing of each body kind, backpressure, short files. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeStaticBody, StaticWriteError, type StaticBody } from '../../../src/web/static/index.js';

/** A connected pair: `server` is the socket the writer writes to, `client` reads. */
async function socketPair(): Promise<{ server: Socket; client: Socket; close: () => Promise<void> }> {
  const listener: Server = createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as { port: number }).port;
  const accepted = new Promise<Socket>((resolve) => listener.once('connection', resolve));
  const client = connect(port, '127.0.0.1');
  const server = await accepted;
  return {
    server,
    client,
    close: async () => {
      client.destroy();
      server.destroy();
      await new Promise((resolve) => listener.close(resolve));
    },
  };
}

function collect(client: Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    client.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= bytes) resolve(Buffer.concat(chunks));
    });
    client.on('error', reject);
  });
}

describe('writeStaticBody', () => {
  let dir: string;
  let bigPath: string;
  const big = Buffer.from(Array.from({ length: 5 * 1024 * 1024 }, (_, i) => (i * 31) & 0xff));
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsgi-static-writer-'));
    bigPath = join(dir, 'big.bin');
    writeFileSync(bigPath, big);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('sends the head and a buffer body in one corked write', async () => {
    const pair = await socketPair();
    const received = collect(pair.client, 9);
    let writes = 0;
    const write = pair.server.write.bind(pair.server);
    pair.server.write = ((...args: Parameters<Socket['write']>) => {
      writes++;
      return write(...args);
    }) as Socket['write'];
    await writeStaticBody(pair.server, { kind: 'buffer', data: Buffer.from('body') }, { head: Buffer.from('head:') });
    assert.equal((await received).toString(), 'head:body');
    assert.equal(writes, 2, 'two writes, one system call (corked)');
    await pair.close();
  });

  it('streams a file slice with the socket backpressure honoured', async () => {
    const pair = await socketPair();
    pair.client.pause();
    let maxQueued = 0;
    const write = pair.server.write.bind(pair.server);
    pair.server.write = ((...args: Parameters<Socket['write']>) => {
      const flushed = write(...args);
      maxQueued = Math.max(maxQueued, pair.server.writableLength);
      return flushed;
    }) as Socket['write'];
    const start = 100;
    const end = big.length - 100;
    const path = Buffer.from(bigPath).toString('latin1');
    const sending = writeStaticBody(pair.server, { kind: 'file', path, start, end }, { chunkSize: 64 * 1024 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const received = collect(pair.client, end - start);
    pair.client.resume();
    await sending;
    const data = await received;
    assert.equal(Buffer.compare(data, big.subarray(start, end)), 0);
    assert.ok(maxQueued < 1024 * 1024, `the writer waited for 'drain' (queued at most ${maxQueued} bytes)`);
    await pair.close();
  });

  it('sends multipart bodies mixing buffers and file slices, and leaves a given fd open', async () => {
    const pair = await socketPair();
    const fd = openSync(bigPath, 'r');
    const body: StaticBody = {
      kind: 'multipart',
      parts: [
        Buffer.from('<a>'),
        { kind: 'file', path: bigPath, fd, start: 0, end: 4 },
        Buffer.from('<b>'),
        { kind: 'file', path: bigPath, start: 10, end: 12 },
        Buffer.from('<end>'),
      ],
    };
    const expected = Buffer.concat([Buffer.from('H<a>'), big.subarray(0, 4), Buffer.from('<b>'), big.subarray(10, 12), Buffer.from('<end>')]);
    const received = collect(pair.client, expected.length);
    await writeStaticBody(pair.server, body, { head: Buffer.from('H') });
    assert.equal(Buffer.compare(await received, expected), 0);
    assert.ok(fstatSync(fd).size > 0, 'the fd is still open');
    closeSync(fd);
    await pair.close();
  });

  it('destroys the socket when the file is shorter than the range', async () => {
    const pair = await socketPair();
    const short = join(dir, 'short.bin');
    writeFileSync(short, 'abc');
    await assert.rejects(
      writeStaticBody(pair.server, { kind: 'file', path: short, start: 0, end: 10 }),
      (e: unknown) => e instanceof StaticWriteError && e.code === 'ERR_STATIC_FILE_SHRANK',
    );
    assert.equal(pair.server.destroyed, true);
    await pair.close();
  });

  it('stops when the peer goes away mid-file', async () => {
    const pair = await socketPair();
    pair.client.pause();
    const sending = writeStaticBody(pair.server, { kind: 'file', path: bigPath, start: 0, end: big.length }, { chunkSize: 64 * 1024 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    pair.client.destroy();
    pair.server.destroy();
    await assert.rejects(sending, (e: unknown) => e instanceof StaticWriteError && e.code === 'ERR_STATIC_SOCKET_CLOSED');
    await pair.close();
  });
});

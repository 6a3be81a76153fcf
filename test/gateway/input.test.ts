/** tsgi.input: the PEP 3333 read methods over a pushed stream, with demand signalled to the transport. */
import { it, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BodyInput } from '../../src/gateway/input.js';

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString();

describe('BodyInput', () => {
  it('read(n) returns n bytes (fewer only at the end), across chunk boundaries, and empty at the end', async () => {
    const input = new BodyInput();
    input.push(Buffer.from('hel'));
    input.push(Buffer.from('lo wor'));
    input.push(Buffer.from('ld'));
    input.end();
    assert.equal(text(await input.read(2)), 'he');
    assert.equal(text(await input.read(5)), 'llo w');
    assert.equal(text(await input.read()), 'orld');
    assert.equal((await input.read()).length, 0);
    assert.equal((await input.read(10)).length, 0);
  });

  it('read() waits for the end of the body', async () => {
    const input = new BodyInput();
    const all = input.read();
    input.push(Buffer.from('a'));
    setTimeout(() => {
      input.push(Buffer.from('b'));
      input.end();
    }, 5);
    assert.equal(text(await all), 'ab');
  });

  it('readline() splits on LF across chunks and honours a size limit', async () => {
    const input = new BodyInput();
    input.push(Buffer.from('one\ntw'));
    input.push(Buffer.from('o\nthree'));
    input.end();
    assert.equal(text(await input.readline()), 'one\n');
    assert.equal(text(await input.readline(2)), 'tw');
    assert.equal(text(await input.readline()), 'o\n');
    assert.equal(text(await input.readline()), 'three');
    assert.equal((await input.readline()).length, 0);
  });

  it('readlines() returns every line, or stops past a hint', async () => {
    const input = new BodyInput();
    input.push(Buffer.from('a\nbb\nccc\n'));
    input.end();
    assert.deepEqual((await input.readlines(3)).map(text), ['a\n', 'bb\n']);
    assert.deepEqual((await input.readlines()).map(text), ['ccc\n']);
  });

  it('iterates chunks asynchronously', async () => {
    const input = new BodyInput();
    setTimeout(() => {
      input.push(Buffer.from('x'));
      input.push(Buffer.from('y'));
      setTimeout(() => input.end(), 2);
    }, 2);
    const parts: string[] = [];
    for await (const part of input) parts.push(text(part));
    assert.equal(parts.join(''), 'xy');
  });

  it('asks the transport for more only when the reader waits', async () => {
    let wanted = 0;
    const input = new BodyInput({ wanted: () => wanted++ });
    input.push(Buffer.from('abc'));
    assert.equal(wanted, 0);
    assert.equal(text(await input.read(3)), 'abc');
    const pending = input.read(1);
    assert.ok(wanted >= 1);
    input.push(Buffer.from('d'));
    assert.equal(text(await pending), 'd');
    assert.equal(input.touched, true);
  });

  it('rejects reads after a transport failure once buffered bytes are consumed', async () => {
    const input = new BodyInput();
    input.push(Buffer.from('ok'));
    input.fail(new Error('client went away'));
    assert.equal(text(await input.read(2)), 'ok');
    await assert.rejects(input.read(1), /client went away/);
  });
});

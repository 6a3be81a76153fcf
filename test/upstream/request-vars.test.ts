/** prepareRequest: the vars and the body length must agree before anything is sent. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { prepareRequest } from '../../src/upstream/request-vars.js';

const PEER = 'uwsgi://127.0.0.1:9000';

async function* stream(): AsyncGenerator<Uint8Array> {
  yield Buffer.from('x');
}

describe('prepareRequest', () => {
  it('adds CONTENT_LENGTH for a Buffer body, fills an empty one, keeps a matching one', () => {
    assert.deepEqual(prepareRequest({ vars: [['REQUEST_METHOD', 'POST']], body: Buffer.from('hello') }, PEER, true), {
      vars: ['REQUEST_METHOD', 'POST', 'CONTENT_LENGTH', '5'],
      contentLength: 5,
      method: 'POST',
    });
    assert.deepEqual(prepareRequest({ vars: ['CONTENT_LENGTH', '', 'REQUEST_METHOD', 'PUT'], body: Buffer.from('hi') }, PEER, true).vars, ['CONTENT_LENGTH', '2', 'REQUEST_METHOD', 'PUT']);
    assert.equal(prepareRequest({ vars: [['CONTENT_LENGTH', '2']], body: Buffer.from('hi') }, PEER, true).contentLength, 2);
  });

  it('no body: length 0 and no CONTENT_LENGTH added; the caller\'s array is not changed', () => {
    const vars: [string, string][] = [['REQUEST_METHOD', 'GET']];
    assert.deepEqual(prepareRequest({ vars }, PEER, true), { vars: ['REQUEST_METHOD', 'GET'], contentLength: 0, method: 'GET' });
    assert.deepEqual(vars, [['REQUEST_METHOD', 'GET']]);
  });

  it('a streamed body: its length from contentLength or CONTENT_LENGTH; unknown only where allowed', () => {
    assert.equal(prepareRequest({ vars: [], body: stream(), contentLength: 7 }, PEER, true).contentLength, 7);
    assert.equal(prepareRequest({ vars: [['CONTENT_LENGTH', '9']], body: stream() }, PEER, true).contentLength, 9);
    assert.equal(prepareRequest({ vars: [], body: stream() }, PEER, false).contentLength, null);
    assert.throws(() => prepareRequest({ vars: [], body: stream() }, PEER, true), { code: 'ERR_UPSTREAM_INVALID_REQUEST', phase: 'sending request' });
  });

  it('refuses what would desynchronise the peer', () => {
    const cases: Array<Parameters<typeof prepareRequest>[0]> = [
      { vars: ['ODD'] },
      { vars: [['CONTENT_LENGTH', '3']], body: Buffer.from('four') },
      { vars: [['CONTENT_LENGTH', '1'], ['CONTENT_LENGTH', '1']], body: Buffer.from('x') },
      { vars: [['CONTENT_LENGTH', '0x10']], body: stream() },
      { vars: [], body: Buffer.from('x'), contentLength: 2 },
      { vars: [], contentLength: 5 },
      { vars: [], body: stream(), contentLength: -1 },
    ];
    for (const request of cases) {
      assert.throws(() => prepareRequest(request, PEER, false), { code: 'ERR_UPSTREAM_INVALID_REQUEST' }, JSON.stringify(request.vars));
    }
  });
});

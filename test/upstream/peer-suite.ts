/**
 * One conformance suite for every (client, real peer) pair, Hono's `common.case.test.ts` idea:
 * each test file starts its peer and describes how to address the fixture app on it; the cases
 * here are the same for uwsgi, SCGI and FastCGI. They cover issue 3's list: a GET with a query
 * string and odd headers, a 5 MB POST, a large streamed response, and an app that raises.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { UpstreamClient, UpstreamResponse } from '../../src/upstream/types.js';
import { drain, generatedDigest, pieces, sha256 } from './generated.js';

export type Vars = [string, string][];

/** What a case asks for; `vars()` turns it into CGI variables for the peer's fixture. */
export interface CaseRequest {
  method: string;
  query: string;
  headers: Vars;
  contentType?: string;
}

/** The CGI variables every fixture gets, as nginx's *_params files send them, around
 *  `routing` (the peer-specific ones: PATH_INFO, SCRIPT_FILENAME...), then the request headers. */
export function cgiVars(uri: string, query: string, routing: Vars, request: CaseRequest): Vars {
  const vars: Vars = [
    ['REQUEST_METHOD', request.method],
    ['QUERY_STRING', query],
    ['REQUEST_URI', query === '' ? uri : `${uri}?${query}`],
    ...routing,
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['SERVER_NAME', 'example.test'],
    ['SERVER_PORT', '80'],
    ['REMOTE_ADDR', '127.0.0.1'],
  ];
  if (request.contentType !== undefined) vars.push(['CONTENT_TYPE', request.contentType]);
  return [...vars, ...request.headers];
}

/** What the fixture app saw, the same shape for app.py and echo.php. */
export interface Seen {
  method: string;
  query: string;
  odd: string | null;
  tab: string | null;
  multi: string | null;
  longLength: number;
  bodyLength: number;
  bodySha256: string;
}

export interface PeerCase {
  client: UpstreamClient;
  /** Lines the client logged (FastCGI stderr, warnings). */
  logs: string[];
  /** The vars for one of the fixture's actions, with request headers as HTTP_* vars. */
  vars(action: 'env' | 'stream' | 'error', request: CaseRequest): Vars;
  /** The app's JSON answer to 'env' as a `Seen`. */
  seen(json: unknown): Seen;
  /** SCGI cannot repeat a name: repeated headers go merged (as nginx >= 1.23 sends them). */
  mergeRepeated: boolean;
  /** What the app sees of X-Multi sent twice ("one" then "two"). */
  expectedMulti: string;
  /** A header the app sends twice, and its values in order. */
  repeatedResponseHeader: [string, string[]];
  /** Asserts what the peer answers when the app raises (settled: the response or the error). */
  checkAppError(outcome: { response: UpstreamResponse | null; error: unknown }): Promise<void>;
}

const MIB = 1024 * 1024;
const LONG_VALUE_LENGTH = 8000;
const STREAMED_MIB = 20;

/** Values that trip naive encoders: quotes, commas, semicolons, runs of spaces, a tab. */
const ODD_VALUE = 'value with "quotes", commas; semi:colons  and  spaces';
const QUERY = 'a=1&b=%20two&utf=%E2%9C%93&empty=&flag&a=2';

function headerValues(headers: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i].toLowerCase() === name.toLowerCase()) out.push(headers[i + 1]);
  return out;
}

async function echo(peer: PeerCase, method: string, body?: Buffer | AsyncIterable<Uint8Array>, contentLength?: number): Promise<{ response: UpstreamResponse; seen: Seen }> {
  const vars = peer.vars('env', { method, query: '', headers: [], contentType: body === undefined ? undefined : 'application/octet-stream' });
  const response = await peer.client.request({ vars, body, contentLength });
  const { bytes } = await drain(response.body);
  assert.equal(response.status, 200, bytes.toString('latin1').slice(0, 500));
  return { response, seen: peer.seen(JSON.parse(bytes.toString('utf8'))) };
}

/** `make` once, on first use (a case's client needs the peer's address, known after `before`). */
export function lazyCase(make: () => PeerCase): () => PeerCase {
  let made: PeerCase | null = null;
  return () => (made ??= make());
}

/** Defines the cases; `peer()` is called inside each (the peer starts in the file's `before`). */
export function peerCases(peer: () => PeerCase): void {
  it('GET with a query string and odd headers', async () => {
    const p = peer();
    const multi: Vars = p.mergeRepeated ? [['HTTP_X_MULTI', 'one, two']] : [['HTTP_X_MULTI', 'one'], ['HTTP_X_MULTI', 'two']];
    const headers: Vars = [
      ['HTTP_HOST', 'example.test'],
      ['HTTP_X_ODD', ODD_VALUE],
      ['HTTP_X_TAB', 'a\tb'],
      ...multi,
      ['HTTP_X_LONG', 'L'.repeat(LONG_VALUE_LENGTH)],
    ];
    const response = await p.client.request({ vars: p.vars('env', { method: 'GET', query: QUERY, headers }) });
    const { bytes } = await drain(response.body);
    assert.equal(response.status, 200, bytes.toString('latin1').slice(0, 500));
    assert.equal(response.reason, 'OK');
    const seen = p.seen(JSON.parse(bytes.toString('utf8')));
    assert.equal(seen.method, 'GET');
    assert.equal(seen.query, QUERY);
    assert.equal(seen.odd, ODD_VALUE);
    assert.equal(seen.tab, 'a\tb');
    assert.equal(seen.multi, p.expectedMulti);
    assert.equal(seen.longLength, LONG_VALUE_LENGTH);
    assert.equal(seen.bodyLength, 0);
    // Repeated response headers stay separate entries, in order; Status never shows.
    const [name, values] = p.repeatedResponseHeader;
    assert.deepEqual(headerValues(response.headers, name), values);
    assert.deepEqual(headerValues(response.headers, 'status'), []);
    assert.match(headerValues(response.headers, 'content-type')[0] ?? '', /^application\/json/);
  });

  it('a 5 MB POST, as one Buffer and streamed in uneven pieces', async () => {
    const p = peer();
    const body = randomBytes(5 * MIB);
    const whole = await echo(p, 'POST', body);
    assert.equal(whole.seen.method, 'POST');
    assert.equal(whole.seen.bodyLength, body.length);
    assert.equal(whole.seen.bodySha256, sha256(body));
    const streamed = await echo(p, 'POST', pieces(body), body.length);
    assert.equal(streamed.seen.bodyLength, body.length);
    assert.equal(streamed.seen.bodySha256, sha256(body));
  });

  it(`a ${STREAMED_MIB} MiB streamed response arrives whole, in many chunks`, async () => {
    const p = peer();
    const response = await p.client.request({ vars: p.vars('stream', { method: 'GET', query: `mb=${STREAMED_MIB}`, headers: [] }) });
    assert.equal(response.status, 200);
    const expected = generatedDigest(STREAMED_MIB);
    assert.deepEqual(headerValues(response.headers, 'content-length'), [String(expected.length)]);
    const got = await drain(response.body, false);
    assert.equal(got.length, expected.length);
    assert.equal(got.sha256, expected.sha256);
    assert.ok(got.chunks > 1, 'the body streams in chunks, not as one buffer at the end');
  });

  it('the app raises an error', async () => {
    const p = peer();
    let response: UpstreamResponse | null = null;
    let error: unknown = null;
    try {
      response = await p.client.request({ vars: p.vars('error', { method: 'GET', query: '', headers: [] }) });
    } catch (caught) {
      error = caught;
    }
    await p.checkAppError({ response, error });
  });
}

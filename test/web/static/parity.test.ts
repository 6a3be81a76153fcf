/**
 * tsgi's static handler against the real nginx, case by case (parity.case.ts): the same files,
 * the same location directives, the same raw requests. tsgi answers each case three ways: with
 * an empty cache (the asynchronous path), again with the cache filled (the synchronous path)
 * and with no cache at all; all three must match nginx.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { nginxPeer } from '../../helpers/nginx.js';
import { CASES, LOCATIONS, SERVER, type ParityCase } from './parity.case.js';
import { buildSiteFiles, fileFacts, nginxConfig, TsgiSite, type Answer, type SiteFiles, type SiteRequest } from './site.js';
import { startStaticOracle, type StaticOracle } from './nginx-static.js';
import { httpDate, parseHttpDate } from '../../../src/web/static/index.js';

// autoindex_localtime and `expires @15h30m` read the local zone: both sides use the same one, a
// zone away from UTC by a fraction of an hour when the system has it, so that the offset shows.
process.env.TZ = existsSync('/usr/share/zoneinfo/Asia/Kolkata') ? 'Asia/Kolkata' : 'UTC';

const nginx = nginxPeer();
const SERVER_VERSION = 'nginx/1.22.1';

describe('static files: parity with nginx', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let files: SiteFiles;
  let oracle: StaticOracle;
  let cached: TsgiSite;
  let uncached: TsgiSite;

  before(async () => {
    files = buildSiteFiles();
    oracle = await startStaticOracle((nginx as { path: string }).path, nginxConfig(files, SERVER, LOCATIONS));
    cached = new TsgiSite(files, SERVER, LOCATIONS, SERVER_VERSION);
    uncached = new TsgiSite(files, SERVER, LOCATIONS, SERVER_VERSION, { cache: false });
  });

  after(async () => {
    await oracle?.stop();
    files?.remove();
  });

  for (const testCase of CASES) {
    it(testCase.name, async () => {
      const request = toRequest(files, testCase);
      const expected = normalize(await oracle.request(request));
      const cold = normalize(await cached.answer(request));
      const warm = normalize(await cached.answer(request));
      const none = normalize(await uncached.answer(request));
      const where = `${request.method} ${request.target} ${JSON.stringify(request.headers)}`;
      assertSame(cold, expected, `${where} (empty cache)`);
      assertSame(warm, expected, `${where} (cached)`);
      assertSame(none, expected, `${where} (no cache)`);
    });
  }
});

function toRequest(files: SiteFiles, testCase: ParityCase): SiteRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(testCase.headers ?? {})) {
    headers[name] = value.replace(/\{(etag|date):([^}+-]+)([+-]\d+)?\}/g, (_, kind: string, file: string, shift: string | undefined) => {
      const facts = fileFacts(files, file);
      return kind === 'etag' ? facts.etag : httpDate(facts.mtime + Number(shift ?? 0));
    });
  }
  return { method: testCase.method ?? 'GET', target: testCase.target, headers, httpVersion: testCase.httpVersion ?? 1001 };
}

interface Normalized {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
}

/** Multipart boundaries count per server: they are replaced by a placeholder before comparing. */
function normalize(answer: Answer): Normalized {
  let body = answer.body.toString('latin1');
  const headers = answer.headers.map(([name, value]): readonly [string, string] => {
    const boundary = /boundary=(\d{20})$/.exec(value)?.[1];
    if (name === 'Content-Type' && boundary !== undefined) {
      body = body.replaceAll(boundary, 'BOUNDARY');
      return [name, value.replace(boundary, 'BOUNDARY')];
    }
    return [name, value];
  });
  return { status: answer.status, headers, body };
}

/** Dates set from "now" may straddle a second between the two servers: 2 s of slack. */
const CLOCK_SLACK = 2;

function assertSame(actual: Normalized, expected: Normalized, where: string): void {
  assert.equal(actual.status, expected.status, `status of ${where}`);
  assert.deepEqual(
    actual.headers.map(([name]) => name),
    expected.headers.map(([name]) => name),
    `header names of ${where}`,
  );
  actual.headers.forEach(([name, value], i) => {
    const wanted = expected.headers[i]![1];
    if (name === 'Expires' && value !== wanted) {
      assert.ok(Math.abs(parseHttpDate(value) - parseHttpDate(wanted)) <= CLOCK_SLACK, `${name} of ${where}: ${value} vs ${wanted}`);
    } else if (name === 'Cache-Control' && value.startsWith('max-age=') && wanted.startsWith('max-age=')) {
      assert.ok(Math.abs(Number(value.slice(8)) - Number(wanted.slice(8))) <= CLOCK_SLACK, `${name} of ${where}: ${value} vs ${wanted}`);
    } else {
      assert.equal(value, wanted, `${name} of ${where}`);
    }
  });
  assert.equal(actual.body, expected.body, `body of ${where}`);
}

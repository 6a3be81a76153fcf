/**
 * try_files runs before a location's content handler (nginx's PRECONTENT phase), as in the usual
 * PHP setup `location ~ \.php$ { try_files $uri =404; fastcgi_pass ...; }`: a missing file never
 * reaches the handler, a found one reaches it with $uri set to the file's name, and a fallback
 * URI is an internal redirect.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContentHandler } from '../../../src/web/request-context.js';
import { startWeb, type RunningWeb } from '../server/tsgi-web.js';
import { exchangeRaw } from '../server/raw-http.js';

const SERVERS = `
  access_log off;
  server {
    listen 127.0.0.1:PORT;
    root DIR/www;
    location ~ \\.php$ { try_files $uri =404; }
    location /front/ { try_files $uri /index.php?from=front; }
    location /dir-or-handler/ { try_files $uri/ =403; }
  }`;

/** Stands in for fastcgi_pass: claims the regex location and /dir-or-handler/, echoes $uri. */
const handled: string[] = [];
const echoHandler: ContentHandler = {
  name: 'echo',
  claims: (location) => location !== null && (location.modifier === '~' || location.name === '/dir-or-handler/'),
  async handle(ctx) {
    handled.push(ctx.uri);
    const data = Buffer.from(`uri=${ctx.uri} args=${ctx.args}`);
    return { kind: 'response', response: { status: 200, headers: [['Content-Length', String(data.length)]], body: { kind: 'buffer', data } } };
  },
};

const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`;

describe('try_files before a content handler', () => {
  let web: RunningWeb;

  before(async () => {
    web = await startWeb(SERVERS, { content: [echoHandler] });
    mkdirSync(join(web.dir, 'www', 'dir-or-handler', 'sub'), { recursive: true });
    writeFileSync(join(web.dir, 'www', 'exists.php'), '<?php');
    writeFileSync(join(web.dir, 'www', 'index.php'), '<?php');
  });

  after(async () => {
    await web?.stop();
  });

  it('a file that exists reaches the handler with $uri unchanged', async () => {
    handled.length = 0;
    const { responses } = await exchangeRaw(web.port, get('/exists.php?a=1'), { expect: 1 });
    assert.equal(responses[0]!.status, 200);
    assert.equal(responses[0]!.body.toString(), 'uri=/exists.php args=a=1');
    assert.deepEqual(handled, ['/exists.php']);
  });

  it('a missing file ends in the =404 without calling the handler', async () => {
    handled.length = 0;
    const { responses } = await exchangeRaw(web.port, get('/missing.php'), { expect: 1 });
    assert.equal(responses[0]!.status, 404);
    assert.deepEqual(handled, []);
  });

  it('a fallback URI is an internal redirect into the handler location, with its own args', async () => {
    handled.length = 0;
    const { responses } = await exchangeRaw(web.port, get('/front/page?x=2'), { expect: 1 });
    assert.equal(responses[0]!.status, 200);
    assert.equal(responses[0]!.body.toString(), 'uri=/index.php args=from=front');
  });

  it('a directory candidate ($uri/) found becomes $uri for the handler', async () => {
    handled.length = 0;
    const found = await exchangeRaw(web.port, get('/dir-or-handler/sub'), { expect: 1 });
    assert.equal(found.responses[0]!.body.toString(), 'uri=/dir-or-handler/sub args=');
    const missing = await exchangeRaw(web.port, get('/dir-or-handler/none'), { expect: 1 });
    assert.equal(missing.responses[0]!.status, 403);
    assert.deepEqual(handled, ['/dir-or-handler/sub']);
  });
});

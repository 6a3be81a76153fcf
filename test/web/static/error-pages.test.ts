/** The default pages, byte for byte, and what changes them (the parity table checks them against nginx). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorPageBody, errorPageStatus, errorResponse, redirectResponse, userAgentKind } from '../../../src/web/static/index.js';

const PAGE_404 = '<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n';
const PADDING = '<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n';

describe('error pages', () => {
  it('ends with the server_tokens tail', () => {
    assert.equal(errorPageBody(404).toString(), `${PAGE_404}<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n`);
    assert.equal(errorPageBody(404, { serverTokens: 'off' }).toString(), `${PAGE_404}<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`);
    assert.equal(errorPageBody(404, { serverVersion: 'tsgi/0.1.0' }).toString().includes('<center>tsgi/0.1.0</center>'), true);
    assert.equal(errorPageBody(404, { serverTokens: 'build', serverVersion: 'tsgi/0.1.0', serverBuild: 'tsgi/0.1.0 (abc)' }).toString().includes('<center>tsgi/0.1.0 (abc)</center>'), true);
  });
  it('pads 4xx and 5xx for MSIE and Chrome over HTTP/1.0+', () => {
    const chrome = 'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
    assert.ok(errorPageBody(500, { userAgent: chrome }).toString().endsWith(PADDING.repeat(6)));
    assert.ok(!errorPageBody(301, { userAgent: chrome }).toString().includes('padding'));
    assert.ok(!errorPageBody(404, { userAgent: chrome, msiePadding: false }).toString().includes('padding'));
    assert.ok(!errorPageBody(404, { userAgent: chrome, httpVersion: 9 }).toString().includes('padding'));
  });
  it('knows the browsers as nginx does', () => {
    assert.equal(userAgentKind('Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)'), 'msie');
    assert.equal(userAgentKind('MSIE 6.'), 'other', 'MSIE needs 3 more bytes after "MSIE "');
    assert.equal(userAgentKind('Opera/9.80 (MSIE 6.0)'), 'opera');
    assert.equal(userAgentKind('Mozilla/5.0 Gecko/20100101 Firefox/128.0 Chrome/1'), 'gecko');
    assert.equal(userAgentKind('curl/8.0'), 'other');
    assert.equal(userAgentKind(undefined), 'other');
  });
  it("sends nginx's own codes as 400 with their page, 498 as a 404 page", () => {
    assert.equal(errorPageStatus(494), 400);
    assert.ok(errorPageBody(494).toString().includes('<center>Request Header Or Cookie Too Large</center>'));
    assert.equal(errorPageBody(498).toString(), errorPageBody(404).toString());
    assert.equal(errorPageBody(418).length, 0);
  });
  it('builds whole responses: headers kept and dropped, HEAD without a body', () => {
    const page = errorResponse(416, {
      charset: 'utf-8',
      headers: [['ETag', '"x"'], ['Expires', 'e'], ['Content-Range', 'bytes */6'], ['Accept-Ranges', 'bytes']],
    });
    assert.deepEqual(page.headers, [['Content-Type', 'text/html; charset=utf-8'], ['Content-Length', '197'], ['Expires', 'e'], ['Content-Range', 'bytes */6']]);
    assert.equal(page.body.kind, 'buffer');
    assert.deepEqual(errorResponse(404, { method: 'HEAD' }).body, { kind: 'none' });
    assert.deepEqual(errorResponse(418).headers, [['Content-Length', '0']]);
    const redirect = redirectResponse(301, 'http://h/dir/', { charset: 'utf-8' });
    assert.deepEqual(redirect.headers, [['Content-Type', 'text/html'], ['Content-Length', '169'], ['Location', 'http://h/dir/']]);
  });
});

import { it } from 'node:test';
import assert from 'node:assert/strict';
import { decodePath, headerToEnvironKey, splitTarget, LogErrorStream } from '../../src/gateway/environ.js';

it('maps header names to environ keys as CGI does', () => {
  assert.equal(headerToEnvironKey('Content-Type'), 'CONTENT_TYPE');
  assert.equal(headerToEnvironKey('content-length'), 'CONTENT_LENGTH');
  assert.equal(headerToEnvironKey('X-Forwarded-For'), 'HTTP_X_FORWARDED_FOR');
  assert.equal(headerToEnvironKey('host'), 'HTTP_HOST');
});

it('percent-decodes paths as UTF-8, falling back to latin-1 for invalid UTF-8', () => {
  assert.equal(decodePath('/plain/path'), '/plain/path');
  assert.equal(decodePath('/a%20b'), '/a b');
  assert.equal(decodePath('/%E2%9C%93'), '/✓');
  assert.equal(decodePath('/%FF'), '/\u00ff');
  assert.equal(decodePath('/100%'), '/100%');
  assert.equal(decodePath('/%zz'), '/%zz');
  assert.equal(decodePath('/%2F'), '//');
});

it('splits request targets, including absolute-form', () => {
  assert.deepEqual(splitTarget('/a?b=c'), { path: '/a', query: 'b=c' });
  assert.deepEqual(splitTarget('/a'), { path: '/a', query: '' });
  assert.deepEqual(splitTarget('/a?'), { path: '/a', query: '' });
  assert.deepEqual(splitTarget('http://host:8080/x/y?z'), { path: '/x/y', query: 'z' });
  assert.deepEqual(splitTarget('http://host?q'), { path: '/', query: 'q' });
  assert.deepEqual(splitTarget('*'), { path: '*', query: '' });
});

it('writes tsgi.errors text to the log line by line', () => {
  const lines: string[] = [];
  const errors = new LogErrorStream((line) => lines.push(line));
  errors.write('first\nsec');
  errors.writelines(['ond\n', 'third']);
  assert.deepEqual(lines, ['first', 'second']);
  errors.flush();
  assert.deepEqual(lines, ['first', 'second', 'third']);
});

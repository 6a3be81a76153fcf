/**
 * Micro benchmark: src/protocols/fastcgi-session.ts decoding a typical nginx FastCGI request:
 * the 18 variables of nginx's conf/fastcgi_params, SCRIPT_FILENAME and 7 browser headers as
 * HTTP_* (26 vars), sent as nginx sends it with `fastcgi_keep_conn on`: BEGIN_REQUEST, one padded
 * PARAMS record, the empty PARAMS record and the empty STDIN record (no body).
 * Run: node --import tsx bench/micro/fastcgi-decode.ts [iterations]
 * Prints ns/request for: the whole request in one execute() (plus endRequest, which frees id 1
 * for the next round, as a responder does), the same request cut in two inside the PARAMS
 * record, and a client decoding a small response.
 */
import { FCGI_BEGIN_REQUEST_BODY_LEN, FCGI_HEADER_LEN, encodeFcgiRequest, encodeResponseEnd, encodeStdout } from '../../src/protocols/fastcgi.js';
import { FcgiClientSession, FcgiServerSession } from '../../src/protocols/fastcgi-session.js';

const VARS = [
  'QUERY_STRING', 'v=3',
  'REQUEST_METHOD', 'GET',
  'CONTENT_TYPE', '',
  'CONTENT_LENGTH', '',
  'SCRIPT_NAME', '/index.php',
  'REQUEST_URI', '/index.php?v=3',
  'DOCUMENT_URI', '/index.php',
  'DOCUMENT_ROOT', '/srv/www/example',
  'SERVER_PROTOCOL', 'HTTP/1.1',
  'REQUEST_SCHEME', 'http',
  'GATEWAY_INTERFACE', 'CGI/1.1',
  'SERVER_SOFTWARE', 'nginx/1.22.1',
  'REMOTE_ADDR', '192.0.2.17',
  'REMOTE_PORT', '51724',
  'SERVER_ADDR', '192.0.2.1',
  'SERVER_PORT', '80',
  'SERVER_NAME', 'www.example.com',
  'REDIRECT_STATUS', '200',
  'SCRIPT_FILENAME', '/srv/www/example/index.php',
  'HTTP_HOST', 'www.example.com',
  'HTTP_USER_AGENT', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'HTTP_ACCEPT', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'HTTP_ACCEPT_LANGUAGE', 'en-US,en;q=0.5',
  'HTTP_ACCEPT_ENCODING', 'gzip, deflate, br',
  'HTTP_CONNECTION', 'keep-alive',
  'HTTP_COOKIE', 'session=4f9c1d2e8b7a6c5d4e3f2a1b0c9d8e7f; theme=dark',
];

const REQUEST = encodeFcgiRequest(1, VARS, { keepConn: true, stdin: Buffer.alloc(0) });
/** BEGIN_REQUEST, the PARAMS header, then 300 bytes into the pairs. */
const CUT = FCGI_HEADER_LEN + FCGI_BEGIN_REQUEST_BODY_LEN + FCGI_HEADER_LEN + 300;
const FIRST = REQUEST.subarray(0, CUT);
const SECOND = REQUEST.subarray(CUT);

let requests = 0;
let sink = 0;
const server = new FcgiServerSession({
  onBeginRequest() {},
  onParams(_id, vars) {
    sink += vars.length;
  },
  onStdin() {},
  onStdinEnd() {
    requests++;
  },
  onAbort() {},
  onOutput() {},
});

function whole(iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    if (server.execute(REQUEST) !== REQUEST.length) throw new Error('decode failed: ' + String(server.error));
    sink += server.endRequest(1).length;
  }
  return Number(process.hrtime.bigint() - start) / iterations;
}

function split(iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    if (server.execute(FIRST) < 0 || server.execute(SECOND) < 0) throw new Error('decode failed: ' + String(server.error));
    sink += server.endRequest(1).length;
  }
  return Number(process.hrtime.bigint() - start) / iterations;
}

const BODY = Buffer.from('Content-type: text/html; charset=UTF-8\r\n\r\n<!doctype html><title>hello</title><p>Hello, world.</p>\n');
const client = new FcgiClientSession({
  onStdout(_id, chunk) {
    sink += chunk.length;
  },
  onStderr() {},
  onEndRequest() {
    requests++;
  },
});

const RESPONSE = Buffer.concat([encodeStdout(1, BODY), encodeResponseEnd(1)]);
const NO_VARS: string[] = [];

/** Includes beginRequest (registering id 1 and encoding its 24-byte BEGIN + empty PARAMS). */
function response(iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    sink += client.beginRequest(1, NO_VARS).length;
    if (client.execute(RESPONSE) !== RESPONSE.length) throw new Error('decode failed: ' + String(client.error));
  }
  return Number(process.hrtime.bigint() - start) / iterations;
}

const iterations = Number(process.argv[2] ?? 1_000_000);
whole(200_000); // warm-up
split(200_000);
response(200_000);
let bestWhole = Infinity;
let bestSplit = Infinity;
let bestResponse = Infinity;
for (let run = 0; run < 5; run++) {
  bestWhole = Math.min(bestWhole, whole(iterations));
  bestSplit = Math.min(bestSplit, split(iterations));
  bestResponse = Math.min(bestResponse, response(iterations));
}
console.log(`request: ${VARS.length / 2} vars, ${REQUEST.length} bytes, ${iterations} iterations x 5 runs (best)`);
console.log(`server, whole request per execute (+ endRequest): ${bestWhole.toFixed(0)} ns/request`);
console.log(`server, request cut inside PARAMS (2 executes): ${bestSplit.toFixed(0)} ns/request`);
console.log(`client, beginRequest + ${BODY.length}-byte STDOUT + END_REQUEST: ${bestResponse.toFixed(0)} ns/response`);
if (requests === 0 || sink === 0) throw new Error('nothing decoded');

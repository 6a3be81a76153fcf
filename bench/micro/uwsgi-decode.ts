/**
 * Micro benchmark: src/protocols/uwsgi.ts decoding a typical nginx uwsgi packet (the stock
 * uwsgi_params plus a browser's request headers: 22 vars, ~800 bytes), and encoding it.
 * Run: node --import tsx bench/micro/uwsgi-decode.ts [iterations]
 * Prints ns/packet for a whole packet per execute() call, for the same packet arriving in two
 * reads (the vars block is then copied), and for encodeUwsgiRequest.
 */
import { UwsgiRequestDecoder, encodeUwsgiRequest, type UwsgiRequest } from '../../src/protocols/uwsgi.js';

const VARS: Array<[string, string]> = [
  ['QUERY_STRING', 'v=3'],
  ['REQUEST_METHOD', 'GET'],
  ['CONTENT_TYPE', ''],
  ['CONTENT_LENGTH', ''],
  ['REQUEST_URI', '/static/app.js?v=3'],
  ['PATH_INFO', '/static/app.js'],
  ['DOCUMENT_ROOT', '/usr/share/nginx/html'],
  ['SERVER_PROTOCOL', 'HTTP/1.1'],
  ['REQUEST_SCHEME', 'http'],
  ['REMOTE_ADDR', '203.0.113.7'],
  ['REMOTE_PORT', '51234'],
  ['SERVER_PORT', '80'],
  ['SERVER_NAME', 'www.example.com'],
  ['HTTP_HOST', 'www.example.com'],
  ['HTTP_USER_AGENT', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'],
  ['HTTP_ACCEPT', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
  ['HTTP_ACCEPT_LANGUAGE', 'en-US,en;q=0.5'],
  ['HTTP_ACCEPT_ENCODING', 'gzip, deflate, br'],
  ['HTTP_REFERER', 'https://www.example.com/'],
  ['HTTP_COOKIE', 'sessionid=8f4c2a9e1b7d4f0a; csrftoken=Q2xhc3NpY1dTR0lTdGFjaw; theme=dark'],
  ['HTTP_CONNECTION', 'keep-alive'],
  ['HTTP_SEC_FETCH_DEST', 'script'],
];

const PACKET = encodeUwsgiRequest(VARS);
const HALF = PACKET.length >> 1;
const FIRST = PACKET.subarray(0, HALF);
const SECOND = PACKET.subarray(HALF);

let requests = 0;
let sink = 0;
const decoder = new UwsgiRequestDecoder({
  onRequest(request: UwsgiRequest) {
    requests++;
    sink += request.vars.length;
  },
  onBody() {},
  onComplete() {},
});

function whole(iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    if (decoder.execute(PACKET) !== PACKET.length) throw new Error('decode failed: ' + String(decoder.error));
  }
  return Number(process.hrtime.bigint() - start) / iterations;
}

function twoReads(iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    if (decoder.execute(FIRST) !== FIRST.length || decoder.execute(SECOND) !== SECOND.length) {
      throw new Error('decode failed: ' + String(decoder.error));
    }
  }
  return Number(process.hrtime.bigint() - start) / iterations;
}

function encode(iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink += encodeUwsgiRequest(VARS).length;
  return Number(process.hrtime.bigint() - start) / iterations;
}

const iterations = Number(process.argv[2] ?? 1_000_000);
whole(100_000); // warm-up
twoReads(100_000);
encode(100_000);
let bestWhole = Infinity;
let bestTwo = Infinity;
let bestEncode = Infinity;
for (let run = 0; run < 5; run++) {
  bestWhole = Math.min(bestWhole, whole(iterations));
  bestTwo = Math.min(bestTwo, twoReads(iterations));
  bestEncode = Math.min(bestEncode, encode(iterations / 4));
}
console.log(`packet: ${VARS.length} vars, ${PACKET.length} bytes, ${iterations} iterations x 5 runs (best)`);
console.log(`decode, one packet per execute: ${bestWhole.toFixed(0)} ns/packet`);
console.log(`decode, packet split over two reads: ${bestTwo.toFixed(0)} ns/packet`);
console.log(`encodeUwsgiRequest: ${bestEncode.toFixed(0)} ns/packet`);
if (requests === 0 || sink === 0) throw new Error('nothing decoded');

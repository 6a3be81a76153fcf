/**
 * Micro benchmark: src/protocols/http1.ts parsing a typical ~300-byte browser GET.
 * Run: node --import tsx bench/micro/http1-parse.ts [iterations]
 * Prints ns/request for one request per execute() call, and for 16 pipelined requests per buffer.
 */
import { Http1RequestParser, type RequestHead } from '../../src/protocols/http1.js';

const GET = Buffer.from(
  'GET /static/app.js?v=3 HTTP/1.1\r\n' +
    'Host: www.example.com\r\n' +
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n' +
    'Accept: */*\r\n' +
    'Accept-Language: en-US,en;q=0.5\r\n' +
    'Accept-Encoding: gzip, deflate, br\r\n' +
    'Referer: https://www.example.com/\r\n' +
    'Connection: keep-alive\r\n' +
    'Sec-Fetch-Dest: script\r\n' +
    'Sec-Fetch-Mode: no-cors\r\n' +
    '\r\n',
  'latin1',
);

let heads = 0;
let sink = 0;
const parser = new Http1RequestParser({
  onHead(head: RequestHead) {
    heads++;
    sink += head.headers.length;
  },
  onBody() {},
  onComplete() {},
});

function oneByOne(iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    if (parser.execute(GET) !== GET.length) throw new Error('parse failed: ' + String(parser.error));
  }
  return Number(process.hrtime.bigint() - start) / iterations;
}

const PIPELINE = 16;
const PIPELINED = Buffer.concat(new Array<Buffer>(PIPELINE).fill(GET));
function pipelined(iterations: number): number {
  const rounds = Math.ceil(iterations / PIPELINE);
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    let offset = 0;
    while (offset < PIPELINED.length) {
      const n = parser.execute(PIPELINED, offset);
      if (n <= 0) throw new Error('parse failed: ' + String(parser.error));
      offset += n;
    }
  }
  return Number(process.hrtime.bigint() - start) / (rounds * PIPELINE);
}

const iterations = Number(process.argv[2] ?? 2_000_000);
oneByOne(200_000); // warm-up
pipelined(200_000);
let best = Infinity;
let bestPipelined = Infinity;
for (let run = 0; run < 5; run++) {
  best = Math.min(best, oneByOne(iterations));
  bestPipelined = Math.min(bestPipelined, pipelined(iterations));
}
console.log(`request: ${GET.length} bytes, ${iterations} iterations x 5 runs (best)`);
console.log(`one request per execute: ${best.toFixed(0)} ns/request`);
console.log(`${PIPELINE} pipelined per buffer: ${bestPipelined.toFixed(0)} ns/request`);
if (heads === 0 || sink === 0) throw new Error('nothing parsed');

/**
 * The bytes the fixture apps stream (test/fixtures/upstream/app.py and echo.php generate the same):
 * chunk k of a response is 64 KiB where byte i is (k + i) % 251, so a test can check a 20 MiB
 * body's length and sha256 without storing it.
 */
import { createHash } from 'node:crypto';
import type { ResponseBody } from '../../src/upstream/response-body.js';

export const CHUNK = 64 * 1024;
export const CHUNKS_PER_MIB = 16;
const PATTERN_PERIOD = 251;

export function generatedChunk(k: number): Buffer {
  const out = Buffer.allocUnsafe(CHUNK);
  for (let i = 0; i < CHUNK; i++) out[i] = (k + i) % PATTERN_PERIOD;
  return out;
}

/** sha256 and length of `mib` MiB of generated chunks. */
export function generatedDigest(mib: number): { length: number; sha256: string } {
  const hash = createHash('sha256');
  const chunks = mib * CHUNKS_PER_MIB;
  for (let k = 0; k < chunks; k++) hash.update(generatedChunk(k));
  return { length: chunks * CHUNK, sha256: hash.digest('hex') };
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads a body to its end: byte count, sha256, the bytes when `keep`, and the chunk count. */
export async function drain(body: ResponseBody, keep = true): Promise<{ length: number; sha256: string; bytes: Buffer; chunks: number }> {
  const hash = createHash('sha256');
  const kept: Buffer[] = [];
  let length = 0;
  let chunks = 0;
  for await (const chunk of body) {
    hash.update(chunk);
    length += chunk.length;
    chunks++;
    if (keep) kept.push(chunk);
  }
  return { length, sha256: hash.digest('hex'), bytes: Buffer.concat(kept), chunks };
}

/** A body as an async iterable of uneven pieces (so chunk boundaries fall anywhere). */
export async function* pieces(data: Buffer, sizes: readonly number[] = [1, 7000, 65536, 100_003, 3]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const size = sizes[i % sizes.length];
    yield data.subarray(at, at + size);
    at += size;
  }
}

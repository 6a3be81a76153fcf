/**
 * CRC-32 (IEEE 802.3, reflected, the zlib one) as nginx's ngx_crc32_init/update/final split
 * exposes it: the hash and consistent-hash balancers feed it several pieces in a row (a rehash
 * counter then the key; a host, a NUL, a port, then the previous point), so the running value is
 * kept between calls instead of hashing one buffer. Node's zlib.crc32 only exists from 20.15.
 */

const TABLE = ((): Uint32Array => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** ngx_crc32_init. */
export const CRC32_INIT = 0xffffffff;

/** ngx_crc32_update: the running value after `bytes`. */
export function crc32Update(crc: number, bytes: Uint8Array): number {
  let c = crc;
  for (let i = 0; i < bytes.length; i += 1) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

/** ngx_crc32_final. */
export function crc32Final(crc: number): number {
  return (crc ^ 0xffffffff) >>> 0;
}

/** ngx_crc32_long / ngx_crc32_short: the CRC of one buffer. */
export function crc32(bytes: Uint8Array): number {
  return crc32Final(crc32Update(CRC32_INIT, bytes));
}

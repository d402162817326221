/** Number of hash slots in a Redis-Cluster keyspace. */
export const SLOT_COUNT = 16384;

const CRC16_TABLE = buildCrc16Table();

function buildCrc16Table(): Uint16Array {
  // CRC16-XMODEM (CCITT, poly 0x1021, init 0), the variant Redis Cluster uses.
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    table[i] = crc;
  }
  return table;
}

/** CRC16-XMODEM of bytes [start, end) of `data`. */
export function crc16(data: Uint8Array, start = 0, end = data.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ data[i]!) & 0xff]!;
  }
  return crc;
}

/**
 * The hash slot of a key, exactly as Redis Cluster computes it: if the key holds a `{...}` with at least
 * one byte between the first `{` and the next `}`, only those bytes are hashed.
 */
export function keyHashSlot(key: Uint8Array): number {
  const open = key.indexOf(0x7b); // '{'
  if (open !== -1) {
    const close = key.indexOf(0x7d, open + 1); // '}'
    if (close !== -1 && close !== open + 1) return crc16(key, open + 1, close) & (SLOT_COUNT - 1);
  }
  return crc16(key) & (SLOT_COUNT - 1);
}

/**
 * Argument parsing shared by the command handlers, with Redis's exact acceptance rules: integers as
 * `string2ll` (no spaces, no `+`, no leading zeros), scan cursors as `strtoul`, and case-insensitive option
 * names compared without allocating.
 */
import { int } from '../resp/reply.js';
import type { Reply } from '../resp/reply.js';
import { NOT_INTEGER } from './errors.js';

export const INT64_MAX = 0x7fffffffffffffffn;
export const INT64_MIN = -0x8000000000000000n;
const UINT64_MAX = 0xffffffffffffffffn;

/** A signed 64-bit integer exactly as Redis's string2ll accepts it, or undefined. */
export function parseInt64(bytes: Uint8Array): bigint | undefined {
  const length = bytes.length;
  // 20 bytes hold "-9223372036854775808"; anything longer overflows or is malformed.
  if (length === 0 || length > 20) return undefined;
  if (length === 1 && bytes[0] === 0x30) return 0n;
  const start = bytes[0] === 0x2d ? 1 : 0;
  if (start === length) return undefined;
  const first = bytes[start]!;
  if (first < 0x31 || first > 0x39) return undefined;
  for (let i = start + 1; i < length; i++) {
    const c = bytes[i]!;
    if (c < 0x30 || c > 0x39) return undefined;
  }
  const value = BigInt(Buffer.from(bytes.buffer, bytes.byteOffset, length).toString('latin1'));
  return value > INT64_MAX || value < INT64_MIN ? undefined : value;
}

/** An integer argument, or the `value is not an integer or out of range` error Redis replies with. */
export function int64Arg(bytes: Uint8Array): bigint | Reply {
  return parseInt64(bytes) ?? NOT_INTEGER;
}

/** An integer reply holding a plain number when it is exact, a bigint beyond 2^53. */
export function int64Reply(value: bigint): Reply {
  return value >= -0x1fffffffffffffn && value <= 0x1fffffffffffffn ? int(Number(value)) : int(value);
}

/**
 * A SCAN/HSCAN cursor as Redis's strtoul reads it: optional sign, decimal digits, no surrounding space;
 * the empty string is cursor 0 and a negative number wraps modulo 2^64. Undefined means `invalid cursor`.
 */
export function parseScanCursor(bytes: Uint8Array): bigint | undefined {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  if (text === '') return 0n;
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const negative = text[0] === '-';
  const magnitude = BigInt(negative || text[0] === '+' ? text.slice(1) : text);
  if (magnitude > UINT64_MAX) return undefined;
  return negative && magnitude !== 0n ? UINT64_MAX + 1n - magnitude : magnitude;
}

/** Whether `bytes` spells `lowerAscii` (an ASCII lower-case word) in any letter case. Allocation-free. */
export function equalsIgnoreCase(bytes: Uint8Array, lowerAscii: string): boolean {
  if (bytes.length !== lowerAscii.length) return false;
  for (let i = 0; i < bytes.length; i++) {
    let c = bytes[i]!;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lowerAscii.charCodeAt(i)) return false;
  }
  return true;
}

/** Whether a parse result is an error reply rather than a value. */
export function isReply(value: unknown): value is Reply {
  return typeof value === 'object' && value !== null && 'kind' in value;
}

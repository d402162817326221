/**
 * The bytes of a StoredValue on disk:
 *
 *   type (1 byte) ‖ expireAtMs (8 bytes, unsigned big-endian) ‖ payload
 *
 * A string's payload is its raw bytes. A hash's payload is the field count then, per field, the name and
 * the value, each length-prefixed; counts and lengths are unsigned LEB128 varints, so a small field costs
 * two bytes of framing instead of eight. Field names are binary ('latin1') strings, one byte per char.
 */
import { assert } from '../common/errors.js';
import type { StoredValue } from './types.js';

/** Bytes before the payload: the type byte and expireAtMs. */
export const VALUE_HEADER_BYTES = 9;
/** Bytes of an encoded expireAtMs, in a value header and as the value of an expiry index entry. */
export const EXPIRE_AT_BYTES = 8;

const TYPE_STRING = 0;
const TYPE_HASH = 1;
const UINT32_SPAN = 0x1_0000_0000;

/** Encodes `value` into a new buffer. */
export function encodeValue(value: StoredValue): Buffer {
  if (value.type === 'string') {
    const encoded = Buffer.allocUnsafe(VALUE_HEADER_BYTES + value.value.length);
    writeHeader(encoded, TYPE_STRING, value.expireAtMs);
    encoded.set(value.value, VALUE_HEADER_BYTES);
    return encoded;
  }
  let size = VALUE_HEADER_BYTES + varintBytes(value.fields.size);
  for (const [name, fieldValue] of value.fields) {
    size += varintBytes(name.length) + name.length + varintBytes(fieldValue.length) + fieldValue.length;
  }
  const encoded = Buffer.allocUnsafe(size);
  writeHeader(encoded, TYPE_HASH, value.expireAtMs);
  let offset = writeVarint(encoded, VALUE_HEADER_BYTES, value.fields.size);
  for (const [name, fieldValue] of value.fields) {
    offset = writeVarint(encoded, offset, name.length);
    offset += encoded.write(name, offset, name.length, 'latin1');
    offset = writeVarint(encoded, offset, fieldValue.length);
    encoded.set(fieldValue, offset);
    offset += fieldValue.length;
  }
  assert(offset === size, `hash encoded to ${offset} bytes, expected ${size}`);
  return encoded;
}

/**
 * Decodes a value. The result never shares memory with `encoded` (which may be lmdb-js's reused read
 * buffer): the payload is copied once, and a hash's field values are views of that one copy.
 */
export function decodeValue(encoded: Uint8Array): StoredValue {
  assert(encoded.length >= VALUE_HEADER_BYTES, `stored value of ${encoded.length} bytes has no header`);
  const type = encoded[0];
  const expireAtMs = readExpireAtMs(encoded, 1);
  const payload = Buffer.from(encoded.subarray(VALUE_HEADER_BYTES));
  if (type === TYPE_STRING) return { type: 'string', value: payload, expireAtMs };
  assert(type === TYPE_HASH, `unknown stored value type ${type}`);
  const fields = new Map<string, Buffer>();
  const cursor = { offset: 0 };
  const count = readVarint(payload, cursor);
  for (let i = 0; i < count; i++) {
    const nameLength = readVarint(payload, cursor);
    assert(cursor.offset + nameLength <= payload.length, 'hash field name runs past the stored value');
    const name = payload.toString('latin1', cursor.offset, cursor.offset + nameLength);
    cursor.offset += nameLength;
    const valueLength = readVarint(payload, cursor);
    assert(cursor.offset + valueLength <= payload.length, 'hash field value runs past the stored value');
    fields.set(name, payload.subarray(cursor.offset, cursor.offset + valueLength));
    cursor.offset += valueLength;
  }
  assert(cursor.offset === payload.length, 'trailing bytes after the last hash field');
  return { type: 'hash', fields, expireAtMs };
}

/** The expireAtMs of an encoded value, read from its header without decoding the payload. */
export function encodedExpireAtMs(encoded: Uint8Array): number {
  assert(encoded.length >= VALUE_HEADER_BYTES, `stored value of ${encoded.length} bytes has no header`);
  return readExpireAtMs(encoded, 1);
}

/** `expireAtMs` as 8 bytes big-endian: the value of an expiry index entry. */
export function encodeExpireAtMs(expireAtMs: number): Buffer {
  const encoded = Buffer.allocUnsafe(EXPIRE_AT_BYTES);
  writeExpireAtMs(encoded, 0, expireAtMs);
  return encoded;
}

/**
 * Reads 8 bytes big-endian at `offset`. Expiry times past 2^53 ms (Redis accepts up to 2^63) round to the
 * nearest double, which keeps them far in the future; every integer-valued double below 2^64 splits exactly.
 */
export function readExpireAtMs(bytes: Uint8Array, offset: number): number {
  assert(offset + EXPIRE_AT_BYTES <= bytes.length, 'expireAtMs runs past the end of its buffer');
  const high = ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
  const low = ((bytes[offset + 4]! << 24) | (bytes[offset + 5]! << 16) | (bytes[offset + 6]! << 8) | bytes[offset + 7]!) >>> 0;
  const value = high * UINT32_SPAN + low;
  return value;
}

function writeHeader(target: Buffer, type: number, expireAtMs: number): void {
  target[0] = type;
  writeExpireAtMs(target, 1, expireAtMs);
}

function writeExpireAtMs(target: Buffer, offset: number, expireAtMs: number): void {
  assert(Number.isInteger(expireAtMs) && expireAtMs >= 0 && expireAtMs < 2 ** 64, `expireAtMs ${expireAtMs} is not an integer in [0, 2^64)`);
  target.writeUInt32BE(Math.floor(expireAtMs / UINT32_SPAN), offset);
  target.writeUInt32BE(expireAtMs % UINT32_SPAN, offset + 4);
}

function varintBytes(value: number): number {
  let bytes = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    bytes++;
  }
  return bytes;
}

/** Writes `value` as an unsigned LEB128 varint at `offset`; returns the offset after it. */
function writeVarint(target: Buffer, offset: number, value: number): number {
  while (value >= 0x80) {
    target[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 0x80);
  }
  target[offset++] = value;
  return offset;
}

/** Reads an unsigned LEB128 varint at `cursor.offset` and advances the cursor past it. */
function readVarint(source: Buffer, cursor: { offset: number }): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    assert(cursor.offset < source.length, 'varint runs past the stored value');
    const byte = source[cursor.offset++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) break;
    scale *= 0x80;
    // A length or count above 2^49 cannot describe bytes in one stored value: the data is corrupt.
    assert(scale <= 2 ** 49, 'varint too long');
  }
  return value;
}

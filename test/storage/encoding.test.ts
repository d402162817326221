import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyHashSlot } from '../../src/common/slots.js';
import { USER_KEY_BYTES_MAX, LMDB_KEY_BYTES_MAX, SLOT_PREFIX_BYTES, decodeSlotKey, encodeDataKey, encodeSlotKey, slotRange } from '../../src/storage/key-encoding.js';
import { VALUE_HEADER_BYTES, decodeValue, encodeExpireAtMs, encodeValue, encodedExpireAtMs, readExpireAtMs } from '../../src/storage/value-encoding.js';
import type { StoredValue } from '../../src/storage/types.js';

const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

test('a data key is the 2-byte big-endian slot followed by the key bytes', () => {
  const key = Buffer.from('user:1000');
  const encoded = encodeDataKey(key);
  assert.equal(encoded.length, SLOT_PREFIX_BYTES + key.length);
  assert.equal(encoded.readUInt16BE(0), keyHashSlot(key));
  assert.deepEqual(encoded.subarray(SLOT_PREFIX_BYTES), key);
  assert.deepEqual(decodeSlotKey(encoded), { slot: keyHashSlot(key), key });
  assert.equal(USER_KEY_BYTES_MAX, LMDB_KEY_BYTES_MAX - SLOT_PREFIX_BYTES);
});

test('byte order of encoded keys is slot order, then key byte order', () => {
  const ordered = [
    encodeSlotKey(0x0000, Buffer.from([0xff, 0xff])),
    encodeSlotKey(0x00ff, Buffer.from('a')),
    encodeSlotKey(0x00ff, Buffer.from('ab')), // a prefix sorts before its extensions
    encodeSlotKey(0x00ff, Buffer.from('b')),
    encodeSlotKey(0x00ff, Buffer.from([0xff])),
    encodeSlotKey(0x0100, Buffer.from([0x00])), // the low byte rolls over: 0x00ff < 0x0100
    encodeSlotKey(0x3fff, Buffer.from('a')),
  ];
  const sorted = [...ordered].sort(Buffer.compare);
  assert.deepEqual(sorted, ordered);
});

test('a slot range covers exactly the keys of its slots', () => {
  const range = slotRange(0x00ff, 0x0101);
  const inside = [encodeSlotKey(0x00ff, Buffer.from('a')), encodeSlotKey(0x0100, allBytes)];
  const outside = [encodeSlotKey(0x00fe, Buffer.from([0xff, 0xff])), encodeSlotKey(0x0101, Buffer.from([0x00]))];
  for (const key of inside) assert.ok(key.compare(range.start) >= 0 && key.compare(range.end) < 0);
  for (const key of outside) assert.ok(key.compare(range.start) < 0 || key.compare(range.end) >= 0);
  const whole = slotRange(0, 16384);
  assert.ok(encodeSlotKey(16383, allBytes).compare(whole.end) < 0);
  assert.throws(() => slotRange(5, 4));
  assert.throws(() => slotRange(0, 16385));
  assert.throws(() => encodeSlotKey(16384, Buffer.from('a')));
});

function roundTrip(value: StoredValue): StoredValue {
  return decodeValue(encodeValue(value));
}

test('strings round-trip: binary, empty, large, with expiry', () => {
  const cases: StoredValue[] = [
    { type: 'string', value: allBytes, expireAtMs: 0 },
    { type: 'string', value: Buffer.alloc(0), expireAtMs: 0 },
    { type: 'string', value: Buffer.alloc(100_000, 7), expireAtMs: 1_700_000_000_123 },
    { type: 'string', value: Buffer.from('x'), expireAtMs: Number.MAX_SAFE_INTEGER },
    { type: 'string', value: Buffer.from('x'), expireAtMs: 2 ** 32 + 5 },
  ];
  for (const value of cases) assert.deepEqual(roundTrip(value), value);
  assert.equal(encodeValue(cases[1]!).length, VALUE_HEADER_BYTES);
});

test('hashes round-trip: binary field names and values, empty fields, long lengths', () => {
  const binaryName = allBytes.toString('latin1');
  const value: StoredValue = {
    type: 'hash',
    fields: new Map([
      [binaryName, allBytes],
      ['', Buffer.alloc(0)],
      ['f'.repeat(300), Buffer.alloc(70_000, 0xab)],
      ['plain', Buffer.from('value')],
    ]),
    expireAtMs: 42,
  };
  const decoded = roundTrip(value);
  assert.deepEqual(decoded, value);
  assert.equal(decoded.type === 'hash' && [...decoded.fields.keys()][0], binaryName);
  assert.deepEqual(roundTrip({ type: 'hash', fields: new Map(), expireAtMs: 0 }), { type: 'hash', fields: new Map(), expireAtMs: 0 });
});

test('a hash field costs its bytes plus two bytes of framing when short', () => {
  const encoded = encodeValue({ type: 'hash', fields: new Map([['ab', Buffer.from('xyz')]]), expireAtMs: 0 });
  assert.equal(encoded.length, VALUE_HEADER_BYTES + 1 + 1 + 2 + 1 + 3);
});

test('a decoded value does not share memory with the bytes it was read from', () => {
  const encoded = encodeValue({ type: 'hash', fields: new Map([['f', Buffer.from('abc')]]), expireAtMs: 0 });
  const decoded = decodeValue(encoded);
  encoded.fill(0, VALUE_HEADER_BYTES);
  assert.deepEqual(decoded.type === 'hash' && decoded.fields.get('f'), Buffer.from('abc'));
});

test('expireAtMs is readable from the header and as an index value', () => {
  const encoded = encodeValue({ type: 'string', value: Buffer.from('v'), expireAtMs: 2 ** 40 + 3 });
  assert.equal(encodedExpireAtMs(encoded), 2 ** 40 + 3);
  assert.equal(readExpireAtMs(encodeExpireAtMs(2 ** 40 + 3), 0), 2 ** 40 + 3);
  assert.throws(() => encodeExpireAtMs(-1));
  assert.throws(() => encodeExpireAtMs(1.5));
});

test('corrupt values are refused', () => {
  assert.throws(() => decodeValue(Buffer.alloc(3)));
  const unknownType = encodeValue({ type: 'string', value: Buffer.from('v'), expireAtMs: 0 });
  unknownType[0] = 9;
  assert.throws(() => decodeValue(unknownType));
  const hash = encodeValue({ type: 'hash', fields: new Map([['f', Buffer.from('abc')]]), expireAtMs: 0 });
  assert.throws(() => decodeValue(hash.subarray(0, hash.length - 1)));
  assert.throws(() => decodeValue(Buffer.concat([hash, Buffer.from([0])])));
});

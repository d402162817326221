import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crc16, keyHashSlot, SLOT_COUNT } from '../../src/common/slots.js';

const slot = (key: string): number => keyHashSlot(Buffer.from(key));

describe('CRC16 and hash slots', () => {
  it('matches the check value in Redis crc16.c: crc16("123456789") = 0x31c3', () => {
    assert.equal(crc16(Buffer.from('123456789')), 0x31c3);
  });

  it('matches the slots Redis documents', () => {
    assert.equal(slot('somekey'), 11058);
    assert.equal(slot('foo'), 12182);
    assert.equal(slot('hello'), 866);
  });

  it('hashes only the hash tag when there is one', () => {
    assert.equal(slot('{user1000}.following'), slot('user1000'));
    assert.equal(slot('{user1000}.followers'), slot('user1000'));
    assert.equal(slot('foo{bar}{zap}'), slot('bar')); // only the first {...}
    assert.equal(slot('foo{{bar}}zap'), slot('{bar')); // from the first { to the next }
  });

  it('hashes the whole key when the tag is empty or unclosed', () => {
    assert.equal(slot('foo{}{bar}'), crc16(Buffer.from('foo{}{bar}')) % SLOT_COUNT);
    assert.equal(slot('foo{bar'), crc16(Buffer.from('foo{bar')) % SLOT_COUNT);
    assert.equal(slot('}foo{'), crc16(Buffer.from('}foo{')) % SLOT_COUNT);
  });

  it('is binary safe and stays within 0..16383', () => {
    const key = Buffer.from([0x00, 0xff, 0x7b, 0x01, 0x7d, 0x80]);
    assert.equal(keyHashSlot(key), crc16(Buffer.from([0x01])) % SLOT_COUNT);
    for (let i = 0; i < 1000; i++) {
      const s = slot(`k${i}`);
      assert.ok(s >= 0 && s < SLOT_COUNT);
    }
  });
});

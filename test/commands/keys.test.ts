import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NULL, OK, ONE, ZERO, bulk, error, int, map, simple } from '../../src/resp/reply.js';
import { expireIfDue, isExpired } from '../../src/commands/table.js';
import { MemoryShardData, TEST_NOW_MS as NOW, runCommand, runSteps } from '../support/memory-shard-data.js';
import type { CommandStep } from '../support/memory-shard-data.js';

const NOT_INTEGER = error('ERR value is not an integer or out of range');
const invalidExpire = (name: string) => error(`ERR invalid expire time in '${name}' command`);
const NX_INCOMPATIBLE = error('ERR NX and XX, GT or LT options at the same time are not compatible');
const GT_LT_INCOMPATIBLE = error('ERR GT and LT options at the same time are not compatible');
const NOW_S = NOW / 1000;

const cases: Record<string, readonly CommandStep[]> = {
  'DEL and UNLINK count live keys once': [
    ['MSET a 1 b 2', OK],
    ['DEL a a b c', int(2)],
    ['SET a 1', OK],
    ['HSET h f v', ONE],
    ['UNLINK a h', int(2)],
    ['EXISTS a h', ZERO],
    ['SET e v PX 5', OK],
    ['DEL e', ZERO, NOW + 5],
    ['DEL', error("ERR wrong number of arguments for 'del' command")],
  ],
  'EXISTS counts repeats; TYPE names the type': [
    ['SET a 1', OK],
    ['EXISTS a a b', int(2)],
    ['TYPE a', simple('string')],
    ['HSET h f v', ONE],
    ['TYPE h', simple('hash')],
    ['TYPE none', simple('none')],
    ['SET e v PX 5', OK],
    ['TYPE e', simple('none'), NOW + 5],
    ['EXISTS e', ZERO, NOW + 5],
  ],
  'RENAME and RENAMENX': [
    ['RENAME none x', error('ERR no such key')],
    ['RENAMENX none x', error('ERR no such key')],
    ['RENAME none none', error('ERR no such key')],
    ['SET a 1 EX 100', OK],
    ['RENAME a a', OK],
    ['RENAMENX a a', ZERO],
    ['RENAME a b', OK],
    ['EXISTS a', ZERO],
    ['GET b', bulk('1')],
    ['TTL b', int(100)],
    ['SET c 3', OK],
    ['RENAMENX b c', ZERO],
    ['RENAMENX b d', ONE],
    ['HSET h f v', ONE],
    ['RENAME h d', OK],
    ['TYPE d', simple('hash')],
    ['HGETALL d', map([[bulk('f'), bulk('v')]])],
    ['TTL d', int(-1)],
  ],
  'RENAME over an expired target, and of an expired source': [
    ['SET src 1', OK],
    ['SET dst 2 PX 10', OK],
    ['RENAMENX src dst', ONE, NOW + 10],
    ['SET gone 1 PX 10', OK],
    ['RENAME gone x', error('ERR no such key'), NOW + 10],
  ],
  'TTL family on keys without TTL and missing keys': [
    ['SET k v', OK],
    ['TTL k', int(-1)],
    ['PTTL k', int(-1)],
    ['EXPIRETIME k', int(-1)],
    ['PEXPIRETIME k', int(-1)],
    ['TTL none', int(-2)],
    ['PTTL none', int(-2)],
    ['EXPIRETIME none', int(-2)],
    ['PEXPIRETIME none', int(-2)],
  ],
  'TTL rounds to the nearest second; EXPIRETIME too': [
    ['SET k v PX 1499', OK],
    ['TTL k', int(1)],
    ['SET k v PX 1500', OK],
    ['TTL k', int(2)],
    ['PEXPIREAT k 99999999999999', ONE],
    ['EXPIRETIME k', int(100_000_000_000)],
    ['PEXPIRETIME k', int(99_999_999_999_999)],
  ],
  'EXPIRE family sets absolute times': [
    ['SET k v', OK],
    ['EXPIRE k 100', ONE],
    ['PEXPIRETIME k', int(NOW + 100_000)],
    ['PEXPIRE k 1234', ONE],
    ['PTTL k', int(1234)],
    [`EXPIREAT k ${NOW_S + 50}`, ONE],
    ['TTL k', int(50)],
    [`PEXPIREAT k ${NOW + 77}`, ONE],
    ['PTTL k', int(77)],
    ['EXPIRE none 10', ZERO],
    ['EXPIRE k abc', NOT_INTEGER],
    ['EXPIRE k 1.5', NOT_INTEGER],
  ],
  'EXPIRE to a time not after now deletes the key and answers 1': [
    ['SET a v', OK],
    ['EXPIRE a -1', ONE],
    ['EXISTS a', ZERO],
    ['SET b v', OK],
    ['EXPIREAT b 1', ONE],
    ['EXISTS b', ZERO],
    ['SET c v', OK],
    ['PEXPIRE c 0', ONE],
    ['EXISTS c', ZERO],
    ['SET d v', OK],
    [`PEXPIREAT d ${NOW}`, ONE],
    ['EXISTS d', ZERO],
    ['EXPIRE d -1', ZERO],
  ],
  'EXPIRE overflow is an invalid expire time': [
    ['SET k v', OK],
    ['EXPIRE k 9223372036854775807', invalidExpire('expire')],
    ['EXPIRE k -9223372036854775808', invalidExpire('expire')],
    ['EXPIRE k 9223372036854775', invalidExpire('expire')],
    ['PEXPIRE k 9223372036854775807', invalidExpire('pexpire')],
    ['EXPIREAT k 9223372036854776', invalidExpire('expireat')],
    ['EXPIREAT k 9223372036854775', ONE],
    ['PEXPIREAT k 9223372036854775807', ONE],
    ['PEXPIRETIME k', int(9223372036854775807n)],
    ['EXPIRE k 9223372036854775808', NOT_INTEGER],
  ],
  'EXPIRE NX / XX / GT / LT without a TTL (an infinite TTL)': [
    ['SET k v', OK],
    ['EXPIRE k 100 XX', ZERO],
    ['EXPIRE k 100 GT', ZERO],
    ['TTL k', int(-1)],
    ['EXPIRE k 100 LT', ONE],
    ['TTL k', int(100)],
    ['PERSIST k', ONE],
    ['EXPIRE k 100 NX', ONE],
    ['TTL k', int(100)],
  ],
  'EXPIRE NX / XX / GT / LT with a TTL': [
    ['SET k v EX 100', OK],
    ['EXPIRE k 200 NX', ZERO],
    ['EXPIRE k 200 XX', ONE],
    ['EXPIRE k 50 GT', ZERO],
    ['EXPIRE k 200 GT', ZERO],
    ['EXPIRE k 500 GT', ONE],
    ['TTL k', int(500)],
    ['EXPIRE k 1000 LT', ZERO],
    ['EXPIRE k 500 LT', ZERO],
    ['EXPIRE k 10 LT', ONE],
    ['TTL k', int(10)],
    ['EXPIRE k 20 XX GT', ONE],
    ['EXPIRE k 30 xx lt', ZERO],
    ['EXPIRE k -5 GT', ZERO],
    ['EXPIRE k -5 LT', ONE],
    ['EXISTS k', ZERO],
  ],
  'EXPIRE option errors': [
    ['SET k v', OK],
    ['EXPIRE k 10 NX XX', NX_INCOMPATIBLE],
    ['EXPIRE k 10 NX GT', NX_INCOMPATIBLE],
    ['EXPIRE k 10 LT NX', NX_INCOMPATIBLE],
    ['EXPIRE k 10 GT LT', GT_LT_INCOMPATIBLE],
    ['EXPIRE k 10 foo', error('ERR Unsupported option foo')],
    ['EXPIRE none 10 foo', error('ERR Unsupported option foo')],
    ['EXPIRE k 10 lt LT', ONE],
    ['EXPIRE k', error("ERR wrong number of arguments for 'expire' command")],
  ],
  PERSIST: [
    ['PERSIST none', ZERO],
    ['SET k v', OK],
    ['PERSIST k', ZERO],
    ['EXPIRE k 10', ONE],
    ['PERSIST k', ONE],
    ['TTL k', int(-1)],
    ['EXPIRE k 10', ONE],
    ['PERSIST k', ZERO, NOW + 10_000],
  ],
  'a key expiring exactly at nowMs is gone': [
    ['SET k v PX 1000', OK],
    ['PTTL k', int(1), NOW + 999],
    ['TTL k', int(0), NOW + 999],
    ['PTTL k', int(-2), NOW + 1000],
    ['TTL k', int(-2), NOW + 1000],
    ['EXPIRETIME k', int(-2), NOW + 1000],
    ['GET k', NULL, NOW + 1000],
    ['EXPIRE k 100', ZERO, NOW + 1000],
  ],
};

describe('key commands', () => {
  for (const [name, steps] of Object.entries(cases)) it(name, () => void runSteps(steps));

  it('binary keys: EXISTS, RENAME, DEL', () => {
    const a = Buffer.from([0x00, 0xff]);
    const b = Buffer.from([0x00, 0xfe]);
    runSteps([
      [['SET', a, 'v'], OK],
      [['EXISTS', a, b], ONE],
      [['RENAME', a, b], OK],
      [['GET', b], bulk('v')],
      [['DEL', a, b], ONE],
    ]);
  });

  it('isExpired and expireIfDue judge expiry at nowMs, inclusive', () => {
    const data = new MemoryShardData();
    runCommand(data, ['SET', 'k', 'v', 'PX', '10']);
    runCommand(data, ['SET', 'p', 'v']);
    const value = data.get(Buffer.from('k'))!;
    assert.equal(isExpired(value, NOW + 9), false);
    assert.equal(isExpired(value, NOW + 10), true);
    assert.equal(isExpired(data.get(Buffer.from('p'))!, Number.MAX_SAFE_INTEGER), false);
    const ctx = (nowMs: number) => ({ data, nowMs, random: () => 0 });
    assert.equal(expireIfDue(ctx(NOW + 9), Buffer.from('k')), false);
    assert.equal(expireIfDue(ctx(NOW + 10), Buffer.from('k')), true);
    assert.equal(expireIfDue(ctx(NOW + 10), Buffer.from('k')), false);
    assert.equal(expireIfDue(ctx(NOW + 10), Buffer.from('p')), false);
    assert.equal(data.keyCount, 1);
  });

  it('writes to an expired key delete it first, so the key count stays right', () => {
    const data = new MemoryShardData();
    runCommand(data, ['HSET', 'h', 'a', '1', 'b', '2']);
    runCommand(data, ['PEXPIRE', 'h', '10']);
    assert.deepEqual(runCommand(data, ['HSET', 'h', 'c', '3'], { nowMs: NOW + 10 }), ONE);
    assert.deepEqual(runCommand(data, ['HLEN', 'h'], { nowMs: NOW + 10 }), ONE);
    assert.deepEqual(runCommand(data, ['TTL', 'h'], { nowMs: NOW + 10 }), int(-1));
    assert.equal(data.keyCount, 1);
  });
});

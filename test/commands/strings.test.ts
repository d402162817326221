import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NULL, OK, ONE, ZERO, array, bulk, error, int } from '../../src/resp/reply.js';
import { MemoryShardData, TEST_NOW_MS as NOW, runCommand, runSteps } from '../support/memory-shard-data.js';
import type { CommandStep } from '../support/memory-shard-data.js';
import { SHARED_VALUE_BYTES_MIN, stringValue } from '../../src/commands/keyspace.js';

const WRONGTYPE = error('WRONGTYPE Operation against a key holding the wrong kind of value');
const SYNTAX = error('ERR syntax error');
const NOT_INTEGER = error('ERR value is not an integer or out of range');
const NOT_FLOAT = error('ERR value is not a valid float');
const OVERFLOW = error('ERR increment or decrement would overflow');
const NAN_OR_INF = error('ERR increment would produce NaN or Infinity');
const TOO_LONG = error('ERR string exceeds maximum allowed size (proto-max-bulk-len)');
const invalidExpire = (name: string) => error(`ERR invalid expire time in '${name}' command`);
const EMPTY = bulk('');

/** Each case is a script on a fresh shard. */
const cases: Record<string, readonly CommandStep[]> = {
  'GET and SET round-trip, SET overwrites any type': [
    ['GET k', NULL],
    ['SET k v', OK],
    ['GET k', bulk('v')],
    ['HSET h f v', ONE],
    ['SET h s', OK],
    ['GET h', bulk('s')],
    ['GET k extra', error("ERR wrong number of arguments for 'get' command")],
    ['SET k', error("ERR wrong number of arguments for 'set' command")],
  ],
  'SET NX / XX / GET': [
    ['SET k v NX', OK],
    ['SET k v2 NX', NULL],
    ['SET k v2 NX GET', bulk('v')],
    ['GET k', bulk('v')],
    ['SET k v3 XX GET', bulk('v')],
    ['GET k', bulk('v3')],
    ['SET n v XX', NULL],
    ['SET n v XX GET', NULL],
    ['GET n', NULL],
    ['SET n v GET', NULL],
    ['SET n w get', bulk('v')],
    ['SET k v NX XX', SYNTAX],
    ['SET k v XX NX', SYNTAX],
    ['SET k v nx nx', NULL],
    ['SET k v GET GET', bulk('v3')],
    ['GET k', bulk('v')],
  ],
  'SET with GET on a non-string is WRONGTYPE and changes nothing': [
    ['HSET h f v', ONE],
    ['SET h x GET', WRONGTYPE],
    ['HGET h f', bulk('v')],
    ['SET h x NX GET', WRONGTYPE],
    ['GETSET h x', WRONGTYPE],
  ],
  'SET option errors': [
    ['SET k v EX', SYNTAX],
    ['SET k v EX 10 PX 10', SYNTAX],
    ['SET k v KEEPTTL EX 5', SYNTAX],
    ['SET k v EX 5 KEEPTTL', SYNTAX],
    ['SET k v PERSIST', SYNTAX],
    ['SET k v foo', SYNTAX],
    ['SET k v EX abc', NOT_INTEGER],
    ['SET k v EX 0', invalidExpire('set')],
    ['SET k v EX -1', invalidExpire('set')],
    ['SET k v PX 0', invalidExpire('set')],
    ['SET k v EXAT 0', invalidExpire('set')],
    ['SET k v PXAT -5', invalidExpire('set')],
    ['SET k v EX 9223372036854775807', invalidExpire('set')],
    ['SET k v PX 9223372036854775807', invalidExpire('set')],
    ['SET k v EXAT 9223372036854776', invalidExpire('set')],
    ['SET k v EXAT 9223372036854775', OK],
    ['GET k', bulk('v')],
    ['SET k v EX 0 NX', invalidExpire('set')],
  ],
  'SET expiry options set absolute times from nowMs': [
    ['SET k v EX 10', OK],
    ['PTTL k', int(10_000)],
    ['PEXPIRETIME k', int(NOW + 10_000)],
    ['SET k v PX 1500', OK],
    ['PEXPIRETIME k', int(NOW + 1500)],
    [`SET k v EXAT ${NOW / 1000 + 20}`, OK],
    ['PEXPIRETIME k', int(NOW + 20_000)],
    [`SET k v PXAT ${NOW + 7}`, OK],
    ['PTTL k', int(7)],
    ['SET k v EX 5 EX 6', OK],
    ['TTL k', int(6)],
    ['GET k', bulk('v'), NOW + 5999],
    ['GET k', NULL, NOW + 6000],
  ],
  'SET with a PXAT in the past leaves no key': [
    ['SET k old', OK],
    [`SET k v PXAT ${NOW - 1}`, OK],
    ['GET k', NULL],
    ['EXISTS k', ZERO],
    [`SET k v PXAT ${NOW}`, OK],
    ['EXISTS k', ZERO],
    ['SET k v PXAT 1', OK],
    ['GET k', NULL],
  ],
  'SET KEEPTTL keeps the TTL, plain SET clears it': [
    ['SET k v EX 100', OK],
    ['SET k v2 KEEPTTL', OK],
    ['TTL k', int(100)],
    ['SET k v3', OK],
    ['TTL k', int(-1)],
    ['SET fresh v KEEPTTL', OK],
    ['TTL fresh', int(-1)],
  ],
  'SETNX, SETEX, PSETEX': [
    ['SETNX a 1', ONE],
    ['SETNX a 2', ZERO],
    ['GET a', bulk('1')],
    ['HSET h f v', ONE],
    ['SETNX h v', ZERO],
    ['SETEX b 10 v', OK],
    ['TTL b', int(10)],
    ['SETEX b 0 v', invalidExpire('setex')],
    ['SETEX b -3 v', invalidExpire('setex')],
    ['SETEX b x v', NOT_INTEGER],
    ['PSETEX c 1500 v', OK],
    ['PTTL c', int(1500)],
    ['TTL c', int(2)],
    ['PSETEX c 0 v', invalidExpire('psetex')],
    ['SETEX b 10', error("ERR wrong number of arguments for 'setex' command")],
  ],
  'GETSET, GETDEL': [
    ['GETSET a 1', NULL],
    ['SET a 2 EX 100', OK],
    ['GETSET a 3', bulk('2')],
    ['TTL a', int(-1)],
    ['GETDEL a', bulk('3')],
    ['GETDEL a', NULL],
    ['HSET h f v', ONE],
    ['GETDEL h', WRONGTYPE],
  ],
  GETEX: [
    ['GETEX none', NULL],
    ['GETEX none EX 0', NULL],
    ['SET k v', OK],
    ['GETEX k', bulk('v')],
    ['GETEX k EX 0', invalidExpire('getex')],
    ['GETEX k EX', SYNTAX],
    ['GETEX k NX', SYNTAX],
    ['GETEX k KEEPTTL', SYNTAX],
    ['GETEX k PERSIST EX 10', SYNTAX],
    ['GETEX k EX 10 PERSIST', SYNTAX],
    ['GETEX k EX 10', bulk('v')],
    ['TTL k', int(10)],
    ['GETEX k PX 5000', bulk('v')],
    ['PTTL k', int(5000)],
    ['GETEX k PERSIST', bulk('v')],
    ['TTL k', int(-1)],
    [`GETEX k EXAT ${NOW / 1000 + 3}`, bulk('v')],
    ['TTL k', int(3)],
    [`GETEX k PXAT ${NOW}`, bulk('v')],
    ['EXISTS k', ZERO],
    ['HSET h f v', ONE],
    ['GETEX h', WRONGTYPE],
  ],
  'MGET, MSET, MSETNX': [
    ['MSET a 1 b 2', OK],
    ['MSET a 1 b', error("ERR wrong number of arguments for 'mset' command")],
    ['MSETNX a 1 c 3', ZERO],
    ['GET c', NULL],
    ['MSETNX c 3 d 4', ONE],
    ['HSET h f v', ONE],
    ['MGET a b c d e h', array([bulk('1'), bulk('2'), bulk('3'), bulk('4'), NULL, NULL])],
    ['MSETNX x', error("ERR wrong number of arguments for 'msetnx' command")],
    ['MSETNX x 1 y', error("ERR wrong number of arguments for 'msetnx' command")],
    ['MSETNX h 1', ZERO],
    ['SET t v EX 10', OK],
    ['MSET t w', OK],
    ['TTL t', int(-1)],
    ['MSET a x a y', OK],
    ['GET a', bulk('y')],
  ],
  'MSETNX treats expired keys as absent': [
    ['SET a 1 PX 10', OK],
    ['MSETNX a 2', ONE, NOW + 10],
    ['GET a', bulk('2'), NOW + 10],
  ],
  'INCR family': [
    ['INCR i', int(1)],
    ['INCRBY i 10', int(11)],
    ['DECR i', int(10)],
    ['DECRBY i 20', int(-10)],
    ['INCRBY i abc', NOT_INTEGER],
    ['INCRBY i 9223372036854775808', NOT_INTEGER],
    ['INCRBY i 1.5', NOT_INTEGER],
    ['SET i 9223372036854775806', OK],
    ['INCR i', int(9223372036854775807n)],
    ['INCR i', OVERFLOW],
    ['GET i', bulk('9223372036854775807')],
    ['SET i -9223372036854775807', OK],
    ['DECR i', int(-9223372036854775808n)],
    ['DECR i', OVERFLOW],
    ['INCRBY i -1', OVERFLOW],
    ['DECRBY i -9223372036854775808', error('ERR decrement would overflow')],
    ['SET i 0', OK],
    ['INCRBY i -9223372036854775808', int(-9223372036854775808n)],
    ['INCRBY i 9223372036854775807', int(-1)],
  ],
  'INCR refuses values that are not canonical integers': [
    ['SET s 12a', OK],
    ['INCR s', NOT_INTEGER],
    [['SET', 's', ' 12'], OK],
    ['INCR s', NOT_INTEGER],
    ['SET s 012', OK],
    ['INCR s', NOT_INTEGER],
    ['SET s +12', OK],
    ['INCR s', NOT_INTEGER],
    ['SET s -0', OK],
    ['INCR s', NOT_INTEGER],
    ['SET s 99999999999999999999', OK],
    ['INCR s', NOT_INTEGER],
    ['HSET h f 1', ONE],
    ['INCR h', WRONGTYPE],
    ['DECRBY h 1', WRONGTYPE],
  ],
  'INCR keeps the TTL; an expired counter restarts from 0': [
    ['SET c 5 EX 100', OK],
    ['INCR c', int(6)],
    ['TTL c', int(100)],
    ['INCR c', int(1), NOW + 100_000],
    ['TTL c', int(-1), NOW + 100_000],
  ],
  'INCRBYFLOAT formats like Redis (long double, %.17Lf, no trailing zeros)': [
    ['SET f 10.50', OK],
    ['INCRBYFLOAT f 0.1', bulk('10.6')],
    ['INCRBYFLOAT f -5.0e3', bulk('-4989.39999999999999991')],
    ['INCRBYFLOAT f 5.0e3', bulk('10.60000000000000009')],
    ['INCRBYFLOAT e 10.6', bulk('10.6')],
    ['INCRBYFLOAT e 1e30', bulk('1000000000000000000024696061952')],
    ['INCRBYFLOAT g 3.0e3', bulk('3000')],
    ['INCRBYFLOAT g 0x1p-2', bulk('3000.25')],
    ['INCRBYFLOAT g 1.', bulk('3001.25')],
    ['INCRBYFLOAT g .5', bulk('3001.75')],
    ['INCRBYFLOAT p 0.1', bulk('0.1')],
    ['INCRBYFLOAT p 0.2', bulk('0.3')],
    ['INCRBYFLOAT p 5.0e3', bulk('5000.29999999999999982')],
    ['INCRBYFLOAT u -0.1', bulk('-0.1')],
    ['INCRBYFLOAT u 0.1', bulk('0')],
    ['INCRBYFLOAT t 0.0000000000000000001', bulk('0')],
    ['INCRBYFLOAT w 9223372036854775807', bulk('9223372036854775807')],
    ['INCRBYFLOAT w 1', bulk('9223372036854775808')],
    ['INCRBYFLOAT v 1.23456789012345678901234567890', bulk('1.23456789012345679')],
    [
      'INCRBYFLOAT h 1.7976931348623157e308',
      bulk(
        '179769313486231569995921046774104434048386446944329178485314420765176628523124396354701868608387085564428793419425520689308708363451136055357897278026477617073498977686288394835618163294045594434929537447290627480669417384648879122776218333598953852832103282504751611691208117720159985926376802466863339536384',
      ),
    ],
    ['INCRBYFLOAT y 0X1.8P1', bulk('3')],
    ['INCRBYFLOAT y 1e-4940', bulk('3')],
    ['INCRBYFLOAT z -0.0', bulk('0')],
  ],
  'INCRBYFLOAT errors': [
    ['INCRBYFLOAT g .', NOT_FLOAT],
    ['INCRBYFLOAT g 1e', NOT_FLOAT],
    ['INCRBYFLOAT g abc', NOT_FLOAT],
    ['INCRBYFLOAT g nan', NOT_FLOAT],
    ['INCRBYFLOAT g 0x', NOT_FLOAT],
    ['INCRBYFLOAT g 1e5000', NOT_FLOAT],
    ['INCRBYFLOAT g 1e-5000', NOT_FLOAT],
    [['INCRBYFLOAT', 'g', ' 5'], NOT_FLOAT],
    [['INCRBYFLOAT', 'g', '5 '], NOT_FLOAT],
    ['INCRBYFLOAT g inf', NAN_OR_INF],
    ['INCRBYFLOAT g -infinity', NAN_OR_INF],
    ['SET q inf', OK],
    ['INCRBYFLOAT q 1', NAN_OR_INF],
    ['SET q abc', OK],
    ['INCRBYFLOAT q 1', NOT_FLOAT],
    ['HSET h f 1', ONE],
    ['INCRBYFLOAT h 1', WRONGTYPE],
  ],
  'APPEND and STRLEN': [
    ['STRLEN none', ZERO],
    ['APPEND a hello', int(5)],
    [['APPEND', 'a', ' world'], int(11)],
    ['GET a', bulk('hello world')],
    ['STRLEN a', int(11)],
    ['HSET h f v', ONE],
    ['APPEND h x', WRONGTYPE],
    ['STRLEN h', WRONGTYPE],
    ['SET t v EX 10', OK],
    ['APPEND t w', int(2)],
    ['TTL t', int(10)],
  ],
  GETRANGE: [
    ['SET s Hello', OK],
    ['GETRANGE s 0 3', bulk('Hell')],
    ['GETRANGE s -3 -1', bulk('llo')],
    ['GETRANGE s 0 -1', bulk('Hello')],
    ['GETRANGE s 3 100', bulk('lo')],
    ['GETRANGE s -1 -5', EMPTY],
    ['GETRANGE s 4 2', EMPTY],
    ['GETRANGE s -100 2', bulk('Hel')],
    ['GETRANGE s 0 -100', bulk('H')],
    ['GETRANGE s 10 20', EMPTY],
    ['GETRANGE s -9223372036854775808 9223372036854775807', bulk('Hello')],
    ['GETRANGE s a 1', NOT_INTEGER],
    ['GETRANGE none 0 1', EMPTY],
    ['SET e x', OK],
    ['SETRANGE e 0 y', int(1)],
    ['HSET h f v', ONE],
    ['GETRANGE h 0 1', WRONGTYPE],
  ],
  SETRANGE: [
    ['SET s Hello World', SYNTAX],
    ['SET s Hello_World', OK],
    ['SETRANGE s 6 Redis', int(11)],
    ['GET s', bulk('Hello_Redis')],
    ['SETRANGE n 3 x', int(4)],
    ['GET n', bulk('\0\0\0x')],
    [['SETRANGE', 'm', '0', ''], ZERO],
    ['EXISTS m', ZERO],
    [['SETRANGE', 's', '100', ''], int(11)],
    ['SETRANGE s -1 x', error('ERR offset is out of range')],
    ['SETRANGE s x x', NOT_INTEGER],
    ['SETRANGE s 536870912 x', TOO_LONG],
    ['SETRANGE s 9223372036854775807 x', TOO_LONG],
    ['SETRANGE s 9223372036854775808 x', NOT_INTEGER],
    ['HSET h f v', ONE],
    ['SETRANGE h 0 x', WRONGTYPE],
    [['SETRANGE', 'h', '0', ''], WRONGTYPE],
  ],
  'expiry exactly at nowMs: the key is gone for reads and writes': [
    ['SET k v PX 100', OK],
    ['GET k', bulk('v'), NOW + 99],
    ['GET k', NULL, NOW + 100],
    ['STRLEN k', ZERO, NOW + 100],
    ['APPEND k w', int(1), NOW + 100],
    ['TTL k', int(-1), NOW + 100],
  ],
};

describe('string commands', () => {
  for (const [name, steps] of Object.entries(cases)) it(name, () => void runSteps(steps));

  it('INCRBYFLOAT prints huge values in full, rounded as a long double', () => {
    const data = new MemoryShardData();
    const reply = runCommand(data, ['INCRBYFLOAT', 'g', '1e4000']);
    assert.equal(reply.kind, 'bulk');
    const text = Buffer.from(reply.kind === 'bulk' ? reply.value : '').toString();
    assert.equal(text.length, 4000);
    assert.ok(text.startsWith('999999999999999999996546387309962378493249258350695763130150'));
  });

  it('are binary-safe in keys and values', () => {
    const key = Buffer.from([0x6b, 0x00, 0xff, 0x0d, 0x0a]);
    const value = Buffer.from([0x00, 0xfe, 0x0d, 0x0a, 0x80]);
    runSteps([
      [['SET', key, value], OK],
      [['GET', key], bulk(value)],
      [['GET', Buffer.from([0x6b, 0x00, 0xfe, 0x0d, 0x0a])], NULL],
      [['APPEND', key, Buffer.from([0x00])], int(6)],
      [['GETRANGE', key, '1', '3'], bulk(Buffer.from([0xfe, 0x0d, 0x0a]))],
      [['MSET', Buffer.from([1]), Buffer.from([2]), Buffer.from([3]), Buffer.from([4])], OK],
      [['MGET', Buffer.from([1]), Buffer.from([3])], array([bulk(Buffer.from([2])), bulk(Buffer.from([4]))])],
    ]);
  });

  it('store a copy of the value, not a view of the request buffer', () => {
    const data = new MemoryShardData();
    const value = Buffer.from('abc');
    runCommand(data, ['SET', 'k', value]);
    value.fill(0x78);
    assert.deepEqual(runCommand(data, ['GET', 'k']), bulk(Buffer.from('abc')));
  });

  it('reads of an expired key do not delete it (reads never write)', () => {
    const data = new MemoryShardData();
    runCommand(data, ['SET', 'k', 'v', 'PX', '10']);
    assert.deepEqual(runCommand(data, ['GET', 'k'], { nowMs: NOW + 10 }), NULL);
    assert.equal(data.keyCount, 1);
    runCommand(data, ['SETNX', 'k', 'w'], { nowMs: NOW + 10 });
    assert.equal(data.keyCount, 1);
    assert.deepEqual(runCommand(data, ['GET', 'k'], { nowMs: NOW + 10 }), bulk(Buffer.from('w')));
  });
});

describe('string values from log entries', () => {
  it('shares a large value with the entry it came from, and copies a small one', () => {
    const entry = new Uint8Array(3 * SHARED_VALUE_BYTES_MIN).fill(7);
    const large = stringValue(entry.subarray(10, 10 + SHARED_VALUE_BYTES_MIN), 0);
    assert.ok(large.type === 'string' && large.value.buffer === entry.buffer && large.value.byteOffset === 10);
    assert.equal(large.value.length, SHARED_VALUE_BYTES_MIN);
    const small = stringValue(entry.subarray(10, 10 + SHARED_VALUE_BYTES_MIN - 1), 0);
    assert.ok(small.type === 'string' && small.value.buffer !== entry.buffer);
    assert.deepEqual([...small.value.subarray(0, 3)], [7, 7, 7]);
  });
});

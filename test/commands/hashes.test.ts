import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NULL, OK, ONE, ZERO, array, bulk, error, int, map } from '../../src/resp/reply.js';
import type { Reply } from '../../src/resp/reply.js';
import { MemoryShardData, TEST_NOW_MS as NOW, normalize, runCommand, runSteps } from '../support/memory-shard-data.js';
import type { CommandStep } from '../support/memory-shard-data.js';

const WRONGTYPE = error('WRONGTYPE Operation against a key holding the wrong kind of value');
const SYNTAX = error('ERR syntax error');
const NOT_INTEGER = error('ERR value is not an integer or out of range');
const bulks = (...values: string[]): Reply => array(values.map((v) => bulk(v)));
const scan = (...values: string[]): Reply => array([bulk('0'), bulks(...values)]);

const cases: Record<string, readonly CommandStep[]> = {
  'HSET, HMSET, HGET, HMGET, HLEN': [
    ['HSET h a 1 b 2', int(2)],
    ['HSET h a 3 c 4', ONE],
    ['HSET h x', error("ERR wrong number of arguments for 'hset' command")],
    ['HSET h x y z', error("ERR wrong number of arguments for 'hset' command")],
    ['HMSET h x', error("ERR wrong number of arguments for 'hmset' command")],
    ['HMSET h d 5', OK],
    ['HLEN h', int(4)],
    ['HGET h a', bulk('3')],
    ['HGET h zz', NULL],
    ['HGET none a', NULL],
    ['HMGET h a zz c', array([bulk('3'), NULL, bulk('4')])],
    ['HMGET none a b', array([NULL, NULL])],
    ['HLEN none', ZERO],
  ],
  'HGETALL, HKEYS, HVALS keep insertion order': [
    ['HSET h z 1 a 2 m 3', int(3)],
    ['HSET h a 9', ZERO],
    [
      'HGETALL h',
      map([
        [bulk('z'), bulk('1')],
        [bulk('a'), bulk('9')],
        [bulk('m'), bulk('3')],
      ]),
    ],
    ['HKEYS h', bulks('z', 'a', 'm')],
    ['HVALS h', bulks('1', '9', '3')],
    ['HGETALL none', map([])],
    ['HKEYS none', array([])],
    ['HVALS none', array([])],
  ],
  'HSETNX, HEXISTS, HSTRLEN': [
    ['HSETNX h a 1', ONE],
    ['HSETNX h a 2', ZERO],
    ['HGET h a', bulk('1')],
    ['HEXISTS h a', ONE],
    ['HEXISTS h b', ZERO],
    ['HEXISTS none b', ZERO],
    ['HSET h long hello', ONE],
    ['HSTRLEN h long', int(5)],
    ['HSTRLEN h zz', ZERO],
    ['HSTRLEN none zz', ZERO],
  ],
  'HDEL removes fields and the emptied hash': [
    ['HDEL none a', ZERO],
    ['HSET h a 1 b 2', int(2)],
    ['HDEL h a a zz', ONE],
    ['HDEL h b', ONE],
    ['EXISTS h', ZERO],
    ['HDEL h', error("ERR wrong number of arguments for 'hdel' command")],
  ],
  HINCRBY: [
    ['HINCRBY h i 5', int(5)],
    ['HINCRBY h i -10', int(-5)],
    ['HINCRBY h i 9223372036854775807', int(9223372036854775802n)],
    ['HINCRBY h i 6', OVERFLOW()],
    ['HSET h m -9223372036854775808', ONE],
    ['HINCRBY h m -1', OVERFLOW()],
    ['HINCRBY h i x', NOT_INTEGER],
    ['HINCRBY h i 9223372036854775808', NOT_INTEGER],
    ['HSET h s abc', ONE],
    ['HINCRBY h s 1', error('ERR hash value is not an integer')],
    ['HSET h z 012', ONE],
    ['HINCRBY h z 1', error('ERR hash value is not an integer')],
  ],
  HINCRBYFLOAT: [
    ['HINCRBYFLOAT h f 10.5', bulk('10.5')],
    ['HINCRBYFLOAT h f 0.1', bulk('10.6')],
    ['HINCRBYFLOAT h f 5.0e3', bulk('5010.60000000000000009')],
    ['HINCRBYFLOAT h f x', error('ERR value is not a valid float')],
    ['HINCRBYFLOAT h f inf', error('ERR value is NaN or Infinity')],
    ['HINCRBYFLOAT none f inf', error('ERR value is NaN or Infinity')],
    ['HINCRBYFLOAT h f 1e5000', error('ERR value is not a valid float')],
    ['HSET h s abc', ONE],
    ['HINCRBYFLOAT h s 1', error('ERR hash value is not a float')],
    ['HSET h i 3', ONE],
    ['HINCRBYFLOAT h i 1.5', bulk('4.5')],
    ['HSET h big 1.1e4932', ONE],
    ['HINCRBYFLOAT h big 1.1e4932', error('ERR increment would produce NaN or Infinity')],
    ['HSET h q inf', ONE],
    ['HINCRBYFLOAT h q 1', error('ERR increment would produce NaN or Infinity')],
  ],
  'hash writes keep the TTL': [
    ['HSET h a 1', ONE],
    ['EXPIRE h 100', ONE],
    ['HSET h b 2', ONE],
    ['HDEL h a', ONE],
    ['HINCRBY h n 1', ONE],
    ['HINCRBYFLOAT h n 1', bulk('2')],
    ['HSETNX h x 1', ONE],
    ['TTL h', int(100)],
    ['HGETALL h', map([]), NOW + 100_000],
  ],
  'HSCAN returns everything with cursor 0': [
    ['HSET h apple 1 banana 2 cherry 3 avocado 4', int(4)],
    ['HSCAN h 0', scan('apple', '1', 'banana', '2', 'cherry', '3', 'avocado', '4')],
    ['HSCAN h 0 MATCH a*', scan('apple', '1', 'avocado', '4')],
    ['HSCAN h 0 MATCH *', scan('apple', '1', 'banana', '2', 'cherry', '3', 'avocado', '4')],
    ['HSCAN h 17 COUNT 1', scan('apple', '1', 'banana', '2', 'cherry', '3', 'avocado', '4')],
    ['HSCAN h 0 MATCH *an* NOVALUES', scan('banana')],
    ['HSCAN h 0 novalues match [ab]*', scan('apple', 'banana', 'avocado')],
    ['HSCAN h 18446744073709551615 MATCH ?????', scan('apple', '1')],
    ['HSCAN h -1 MATCH c*', scan('cherry', '3')],
  ],
  'HSCAN errors': [
    ['HSET h f v', ONE],
    ['HSCAN h x', error('ERR invalid cursor')],
    ['HSCAN h 18446744073709551616', error('ERR invalid cursor')],
    ['HSCAN none abc', error('ERR invalid cursor')],
    ['HSCAN h 0 COUNT 0', SYNTAX],
    ['HSCAN h 0 COUNT x', NOT_INTEGER],
    ['HSCAN h 0 MATCH', SYNTAX],
    ['HSCAN h 0 foo', SYNTAX],
    ['HSCAN none 0 foo', scan()],
    ['HSCAN h', error("ERR wrong number of arguments for 'hscan' command")],
  ],
  'HRANDFIELD argument checks and whole-hash answers': [
    ['HRANDFIELD none', NULL],
    ['HRANDFIELD none 5', array([])],
    ['HRANDFIELD none 5 WITHVALUES', array([])],
    ['HSET h a 1 b 2 c 3', int(3)],
    ['HRANDFIELD h 0', array([])],
    ['HRANDFIELD h 3', bulks('a', 'b', 'c')],
    ['HRANDFIELD h 10 WITHVALUES', bulks('a', '1', 'b', '2', 'c', '3')],
    ['HRANDFIELD h 10 WITHVALUE', SYNTAX],
    ['HRANDFIELD h 10 WITHVALUES x', SYNTAX],
    ['HRANDFIELD h x', NOT_INTEGER],
    ['HRANDFIELD h -9223372036854775808', error('ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807')],
    ['HRANDFIELD h 4611686018427387904 WITHVALUES', error('ERR value is out of range')],
    ['HRANDFIELD h -4611686018427387904 WITHVALUES', error('ERR value is out of range')],
  ],
  'WRONGTYPE for every hash command on a string': [
    ['SET s v', OK],
    ['HSET s f v', WRONGTYPE],
    ['HMSET s f v', WRONGTYPE],
    ['HSETNX s f v', WRONGTYPE],
    ['HGET s f', WRONGTYPE],
    ['HMGET s f', WRONGTYPE],
    ['HDEL s f', WRONGTYPE],
    ['HGETALL s', WRONGTYPE],
    ['HKEYS s', WRONGTYPE],
    ['HVALS s', WRONGTYPE],
    ['HLEN s', WRONGTYPE],
    ['HEXISTS s f', WRONGTYPE],
    ['HSTRLEN s f', WRONGTYPE],
    ['HINCRBY s f 1', WRONGTYPE],
    ['HINCRBYFLOAT s f 1', WRONGTYPE],
    ['HSCAN s 0', WRONGTYPE],
    ['HRANDFIELD s', WRONGTYPE],
    ['HRANDFIELD s 1', WRONGTYPE],
    ['GET s', bulk('v')],
  ],
  'WRONGTYPE for every string command on a hash': [
    ['HSET h f v', ONE],
    ['GET h', WRONGTYPE],
    ['SET h v GET', WRONGTYPE],
    ['GETSET h v', WRONGTYPE],
    ['GETDEL h', WRONGTYPE],
    ['GETEX h', WRONGTYPE],
    ['INCR h', WRONGTYPE],
    ['DECR h', WRONGTYPE],
    ['INCRBY h 1', WRONGTYPE],
    ['DECRBY h 1', WRONGTYPE],
    ['INCRBYFLOAT h 1', WRONGTYPE],
    ['APPEND h v', WRONGTYPE],
    ['STRLEN h', WRONGTYPE],
    ['GETRANGE h 0 1', WRONGTYPE],
    ['SETRANGE h 0 v', WRONGTYPE],
    ['MGET h', array([NULL])],
    ['HGET h f', bulk('v')],
  ],
};

function OVERFLOW(): Reply {
  return error('ERR increment or decrement would overflow');
}

describe('hash commands', () => {
  for (const [name, steps] of Object.entries(cases)) it(name, () => void runSteps(steps));

  it('binary field names and values round-trip', () => {
    const field = Buffer.from([0x66, 0x00, 0xff]);
    const value = Buffer.from([0x00, 0x01, 0xc3]);
    runSteps([
      [['HSET', Buffer.from([0x68, 0x00]), field, value], ONE],
      [['HGET', Buffer.from([0x68, 0x00]), field], bulk(value)],
      [['HGETALL', Buffer.from([0x68, 0x00])], map([[bulk(field), bulk(value)]])],
      [['HSCAN', Buffer.from([0x68, 0x00]), '0', 'MATCH', Buffer.from([0x66, 0x00, 0x2a])], array([bulk('0'), array([bulk(field), bulk(value)])])],
    ]);
  });

  it('HRANDFIELD picks with ctx.random: distinct for positive counts, repeats for negative', () => {
    const data = new MemoryShardData();
    runCommand(data, ['HSET', 'h', 'a', '1', 'b', '2', 'c', '3', 'd', '4']);
    const sequence = [0.99, 0.5, 0.0, 0.3];
    let next = 0;
    const random = () => sequence[next++ % sequence.length]!;
    assert.deepEqual(normalize(runCommand(data, ['HRANDFIELD', 'h'], { random })), normalize(bulk('d')));
    next = 0;
    const distinct = runCommand(data, ['HRANDFIELD', 'h', '3'], { random });
    assert.equal(distinct.kind, 'array');
    const names = distinct.kind === 'array' ? distinct.items.map((i) => (i.kind === 'bulk' ? i.value.toString() : '')) : [];
    assert.equal(new Set(names).size, 3);
    next = 0;
    assert.deepEqual(normalize(runCommand(data, ['HRANDFIELD', 'h', '-5'], { random: () => 0.6 })), normalize(bulks('c', 'c', 'c', 'c', 'c')));
  });

  it('HRANDFIELD WITHVALUES: flat in RESP2, pairs in RESP3', () => {
    const data = new MemoryShardData();
    runCommand(data, ['HSET', 'h', 'a', '1']);
    assert.deepEqual(normalize(runCommand(data, ['HRANDFIELD', 'h', '-2', 'WITHVALUES'], { protocol: 2 })), normalize(bulks('a', '1', 'a', '1')));
    assert.deepEqual(normalize(runCommand(data, ['HRANDFIELD', 'h', '-2', 'WITHVALUES'], { protocol: 3 })), normalize(array([bulks('a', '1'), bulks('a', '1')])));
  });
});

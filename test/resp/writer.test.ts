import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { array, bulk, bulkArray, bulkOrNull, double, EMPTY_ARRAY, error, int, map, NULL, NULL_ARRAY, OK, ONE, simple, ZERO } from '../../src/resp/reply.js';
import type { Reply } from '../../src/resp/reply.js';
import { encodeReply, ENCODED, formatDouble, ReplyWriter } from '../../src/resp/writer.js';

const encode2 = (reply: Reply): string => encodeReply(reply, 2).toString('latin1');
const encode3 = (reply: Reply): string => encodeReply(reply, 3).toString('latin1');

describe('encodeReply: every kind in RESP2 and RESP3', () => {
  const cases: [name: string, reply: Reply, resp2: string, resp3: string][] = [
    ['simple', simple('OK'), '+OK\r\n', '+OK\r\n'],
    ['shared OK', OK, '+OK\r\n', '+OK\r\n'],
    ['error', error('ERR unknown command'), '-ERR unknown command\r\n', '-ERR unknown command\r\n'],
    ['error with newlines', error('ERR bad\r\nthing\n'), '-ERR bad  thing \r\n', '-ERR bad  thing \r\n'],
    ['simple with newlines', simple('a\rb'), '+a b\r\n', '+a b\r\n'],
    ['int', int(42), ':42\r\n', ':42\r\n'],
    ['negative int', int(-1234567), ':-1234567\r\n', ':-1234567\r\n'],
    ['zero', ZERO, ':0\r\n', ':0\r\n'],
    ['one', ONE, ':1\r\n', ':1\r\n'],
    ['int(0) not shared', int(0), ':0\r\n', ':0\r\n'],
    ['int 10', int(10), ':10\r\n', ':10\r\n'],
    ['max safe int', int(Number.MAX_SAFE_INTEGER), ':9007199254740991\r\n', ':9007199254740991\r\n'],
    ['bigint', int(-9223372036854775808n), ':-9223372036854775808\r\n', ':-9223372036854775808\r\n'],
    ['bulk string', bulk('hello'), '$5\r\nhello\r\n', '$5\r\nhello\r\n'],
    ['bulk utf-8', bulk('é€'), '$5\r\n\xc3\xa9\xe2\x82\xac\r\n', '$5\r\n\xc3\xa9\xe2\x82\xac\r\n'],
    ['bulk buffer', bulk(Buffer.from([0, 13, 10])), '$3\r\n\0\r\n\r\n', '$3\r\n\0\r\n\r\n'],
    ['empty bulk', bulk(''), '$0\r\n\r\n', '$0\r\n\r\n'],
    ['null', NULL, '$-1\r\n', '_\r\n'],
    ['null not shared', { kind: 'null' }, '$-1\r\n', '_\r\n'],
    ['bulkOrNull(undefined)', bulkOrNull(undefined), '$-1\r\n', '_\r\n'],
    ['null array', NULL_ARRAY, '*-1\r\n', '_\r\n'],
    ['null array not shared', { kind: 'null-array' }, '*-1\r\n', '_\r\n'],
    ['empty array', EMPTY_ARRAY, '*0\r\n', '*0\r\n'],
    ['array', array([int(1), bulk('a'), NULL]), '*3\r\n:1\r\n$1\r\na\r\n$-1\r\n', '*3\r\n:1\r\n$1\r\na\r\n_\r\n'],
    ['nested array', array([array([OK]), EMPTY_ARRAY]), '*2\r\n*1\r\n+OK\r\n*0\r\n', '*2\r\n*1\r\n+OK\r\n*0\r\n'],
    ['bulkArray', bulkArray(['a', Buffer.from('bc')]), '*2\r\n$1\r\na\r\n$2\r\nbc\r\n', '*2\r\n$1\r\na\r\n$2\r\nbc\r\n'],
    ['set', { kind: 'set', items: [bulk('x'), bulk('y')] }, '*2\r\n$1\r\nx\r\n$1\r\ny\r\n', '~2\r\n$1\r\nx\r\n$1\r\ny\r\n'],
    [
      'map',
      map([
        [bulk('a'), int(1)],
        [bulk('b'), double(1.5)],
      ]),
      '*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$3\r\n1.5\r\n',
      '%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n,1.5\r\n',
    ],
    ['empty map', map([]), '*0\r\n', '%0\r\n'],
    ['double', double(3), '$1\r\n3\r\n', ',3\r\n'],
    ['double fraction', double(0.1), '$19\r\n0.10000000000000001\r\n', ',0.10000000000000001\r\n'],
    ['double inf', double(Infinity), '$3\r\ninf\r\n', ',inf\r\n'],
    ['double -inf', double(-Infinity), '$4\r\n-inf\r\n', ',-inf\r\n'],
    ['double nan', double(NaN), '$3\r\nnan\r\n', ',nan\r\n'],
    ['bool true', { kind: 'bool', value: true }, ':1\r\n', '#t\r\n'],
    ['bool false', { kind: 'bool', value: false }, ':0\r\n', '#f\r\n'],
    ['verbatim', { kind: 'verbatim', format: 'txt', text: 'a\r\nb' }, '$4\r\na\r\nb\r\n', '=8\r\ntxt:a\r\nb\r\n'],
    ['verbatim utf-8', { kind: 'verbatim', format: 'mkd', text: 'é' }, '$2\r\n\xc3\xa9\r\n', '=6\r\nmkd:\xc3\xa9\r\n'],
  ];
  for (const [name, reply, resp2, resp3] of cases) {
    it(name, () => {
      assert.equal(encode2(reply), resp2, 'RESP2');
      assert.equal(encode3(reply), resp3, 'RESP3');
    });
  }

  it('refuses a non-integer int reply and a bad verbatim format (bugs, not replies)', () => {
    assert.throws(() => encodeReply(int(1.5), 2), /assertion failed/);
    assert.throws(() => encodeReply(int(2 ** 60), 2), /assertion failed/);
    assert.throws(() => encodeReply({ kind: 'verbatim', format: 'text', text: 'x' }, 3), /assertion failed/);
  });

  it('a large bulk is encoded whole', () => {
    const value = Buffer.alloc(100_000, 7);
    const out = encodeReply(bulk(value), 2);
    assert.equal(out.length, '$100000\r\n'.length + 100_000 + 2);
    assert.equal(out.subarray(0, 9).toString(), '$100000\r\n');
    assert.ok(out.subarray(9, 9 + 100_000).equals(value));
    assert.equal(out.subarray(-2).toString(), '\r\n');
  });
});

describe('formatDouble matches Redis 7.0 %.17g (values checked against redis-server 7.0.15)', () => {
  const cases: [number, string][] = [
    [0.1, '0.10000000000000001'],
    [1.5, '1.5'],
    [3, '3'],
    [-2.5, '-2.5'],
    [1e17, '1e+17'],
    [1e16, '10000000000000000'],
    [1.5e-5, '1.5e-05'],
    [0.0001, '0.0001'],
    [1e-7, '9.9999999999999995e-08'],
    [1.23e-18, '1.23e-18'],
    [1 / 3, '0.33333333333333331'],
    [0.30000000000000004, '0.30000000000000004'],
    [123456789.123, '123456789.123'],
    [1e300, '1.0000000000000001e+300'],
    [5e-324, '4.9406564584124654e-324'],
    [2 ** 53, '9007199254740992'],
    // Exact ties at the 17th digit: glibc rounds to even, JavaScript would round up.
    // biome-ignore lint/correctness/noPrecisionLoss: ties at the 17th digit are what these lines test
    [1234567890123456.25, '1234567890123456.2'],
    // biome-ignore lint/correctness/noPrecisionLoss: as above
    [1234567890123456.75, '1234567890123456.8'],
    [0, '0'],
    [-0, '-0'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
    [NaN, 'nan'],
  ];
  for (const [value, expected] of cases) {
    it(`${Object.is(value, -0) ? '-0' : String(value)} → ${expected}`, () => {
      assert.equal(formatDouble(value), expected);
    });
  }

  it('round-trips: the 17 significant digits parse back to the same double', () => {
    for (const value of [Math.PI, -Math.E, 1e-300, 6.02214076e23, 0.1 + 0.2, 2 ** -1074, Number.MAX_VALUE]) {
      assert.equal(Number(formatDouble(value)), value);
    }
  });
});

describe('ReplyWriter', () => {
  it('take() returns undefined when nothing was written', () => {
    const writer = new ReplyWriter();
    assert.equal(writer.take(), undefined);
    assert.deepEqual(writer.takeBuffers(), []);
    assert.equal(writer.pendingBytes, 0);
  });

  it('concatenates many replies into one buffer per take', () => {
    const writer = new ReplyWriter();
    writer.write(OK);
    writer.write(bulk('v'));
    writer.write(int(7));
    writer.writeRaw(ENCODED.pong);
    writer.writeBulk(Buffer.from('xy'));
    writer.writeError('ERR oops');
    assert.equal(writer.pendingBytes, 5 + 7 + 4 + 7 + 8 + 11);
    assert.equal(writer.take()?.toString(), '+OK\r\n$1\r\nv\r\n:7\r\n+PONG\r\n$2\r\nxy\r\n-ERR oops\r\n');
    assert.equal(writer.pendingBytes, 0);
  });

  it('uses the protocol passed per reply, else its own', () => {
    const writer = new ReplyWriter({ protocol: 3 });
    writer.write(NULL);
    writer.write(NULL, 2);
    writer.protocol = 2;
    writer.write(map([[bulk('k'), { kind: 'bool', value: true }]]));
    assert.equal(writer.take()?.toString(), '_\r\n$-1\r\n*2\r\n$1\r\nk\r\n:1\r\n');
  });

  it('taken buffers stay valid while later replies are written into the same chunk', () => {
    const writer = new ReplyWriter({ chunkBytes: 64 });
    const taken: Buffer[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 500; i++) {
      const reply = i % 3 === 0 ? bulk(`value-${i}`) : i % 3 === 1 ? int(i * 1000) : array([bulk('a'.repeat(i % 70)), NULL]);
      writer.write(reply);
      expected.push(encode2(reply));
      if (i % 7 === 0) taken.push(writer.take()!);
    }
    taken.push(writer.take()!);
    assert.equal(Buffer.concat(taken).toString('latin1'), expected.join(''));
  });

  it('hands out a large bulk Buffer without copying it', () => {
    const writer = new ReplyWriter({ zeroCopyMinBytes: 1024 });
    const value = Buffer.alloc(4096, 1);
    writer.write(OK);
    writer.write(bulk(value));
    writer.write(ONE);
    const out = writer.takeBuffers();
    assert.equal(out.length, 3);
    assert.equal(out[0]!.toString(), '+OK\r\n$4096\r\n');
    assert.equal(out[1], value);
    assert.equal(out[2]!.toString(), '\r\n:1\r\n');
  });

  it('take() concatenates segments when a large bulk was handed out', () => {
    const writer = new ReplyWriter({ zeroCopyMinBytes: 16 });
    writer.write(bulk(Buffer.from('0123456789abcdef')));
    assert.equal(writer.take()?.toString(), '$16\r\n0123456789abcdef\r\n');
  });

  it('writes replies larger than a chunk', () => {
    const writer = new ReplyWriter({ chunkBytes: 64, zeroCopyMinBytes: Number.MAX_SAFE_INTEGER });
    const text = 'z'.repeat(1000);
    writer.write(bulk(text));
    writer.write(bulk(Buffer.from(text)));
    writer.write(simple(text));
    assert.equal(writer.take()?.toString(), `$1000\r\n${text}\r\n$1000\r\n${text}\r\n+${text}\r\n`);
  });

  it('precomputed encodings are what the encoder produces', () => {
    assert.equal(ENCODED.ok.toString(), encode2(OK));
    assert.equal(ENCODED.nullBulk.toString(), encode2(NULL));
    assert.equal(ENCODED.nullArray.toString(), encode2(NULL_ARRAY));
    assert.equal(ENCODED.null3.toString(), encode3(NULL));
    assert.equal(ENCODED.zero.toString(), encode2(int(0)));
    assert.equal(ENCODED.one.toString(), encode2(int(1)));
    assert.equal(ENCODED.emptyArray.toString(), encode2(EMPTY_ARRAY));
    assert.equal(ENCODED.emptyBulk.toString(), encode2(bulk('')));
    assert.equal(ENCODED.syntaxError.toString(), encode2(error('ERR syntax error')));
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseLength, ProtocolError, RespParser, splitArgs } from '../../src/resp/parser.js';
import type { RespParserLimits } from '../../src/resp/parser.js';
import { seededRandom } from '../support/seeded-random.js';

/** Encodes argv the way clients send it. */
function command(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Feeds the chunks one by one, draining after each, as a socket 'data' handler does. */
function parseChunks(chunks: readonly Buffer[], limits?: RespParserLimits): Buffer[][] {
  const parser = new RespParser(limits);
  const commands: Buffer[][] = [];
  for (const chunk of chunks) {
    parser.feed(chunk);
    for (let argv = parser.next(); argv !== undefined; argv = parser.next()) commands.push(argv);
  }
  return commands;
}

/** Parses `input` in one chunk; returns the commands and the ProtocolError message (if any). */
function parseAll(input: string | Buffer, limits?: RespParserLimits): { commands: string[][]; error?: string } {
  const parser = new RespParser(limits);
  parser.feed(typeof input === 'string' ? Buffer.from(input, 'latin1') : input);
  const commands: string[][] = [];
  try {
    for (let argv = parser.next(); argv !== undefined; argv = parser.next()) {
      commands.push(argv.map((a) => a.toString('latin1')));
    }
  } catch (err) {
    assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${String(err)}`);
    return { commands, error: err.message };
  }
  return { commands };
}

function toStrings(commands: Buffer[][]): string[][] {
  return commands.map((argv) => argv.map((a) => a.toString('latin1')));
}

const binaryValue = Buffer.from([0, 13, 10, 255, 42, 36, 13, 10, 0]);
const PIPELINE = Buffer.concat([
  command('SET', 'key:1', 'value one'),
  command('GET', 'key:1'),
  command('SET', 'bin', binaryValue),
  command('SET', 'empty', ''),
  Buffer.from('*0\r\n*-1\r\n'),
  Buffer.from('PING\r\n'),
  Buffer.from('\r\n'),
  Buffer.from('set a "b c\\r\\n" \'d e\'\r\n'),
  command('ECHO', '*3\r\n$3\r\nfoo'),
  Buffer.from('inline\twith  tabs\n'),
  command('DEL', 'a', 'b', 'c', 'd'),
]);
const PIPELINE_ARGV = [
  ['SET', 'key:1', 'value one'],
  ['GET', 'key:1'],
  ['SET', 'bin', binaryValue.toString('latin1')],
  ['SET', 'empty', ''],
  ['PING'],
  ['set', 'a', 'b c\r\n', 'd e'],
  ['ECHO', '*3\r\n$3\r\nfoo'],
  ['inline', 'with', 'tabs'],
  ['DEL', 'a', 'b', 'c', 'd'],
];

describe('RespParser framing', () => {
  it('parses a pipeline of mixed commands in one chunk', () => {
    assert.deepEqual(toStrings(parseChunks([PIPELINE])), PIPELINE_ARGV);
  });

  it('yields identical argv for every split of the pipeline into two chunks', () => {
    for (let split = 1; split < PIPELINE.length; split++) {
      const commands = parseChunks([PIPELINE.subarray(0, split), PIPELINE.subarray(split)]);
      assert.deepEqual(toStrings(commands), PIPELINE_ARGV, `split at byte ${split}`);
    }
  });

  it('yields identical argv for every split of the pipeline into three chunks', () => {
    for (let first = 1; first < PIPELINE.length; first++) {
      for (let second = first + 1; second < PIPELINE.length; second++) {
        const chunks = [PIPELINE.subarray(0, first), PIPELINE.subarray(first, second), PIPELINE.subarray(second)];
        const commands = parseChunks(chunks);
        assert.deepEqual(toStrings(commands), PIPELINE_ARGV, `splits at ${first} and ${second}`);
      }
    }
  });

  it('yields identical argv when fed one byte at a time', () => {
    const chunks = Array.from(PIPELINE, (_, i) => PIPELINE.subarray(i, i + 1));
    assert.deepEqual(toStrings(parseChunks(chunks)), PIPELINE_ARGV);
  });

  it('yields identical argv for seeded random chunkings', () => {
    const random = seededRandom(42);
    for (let round = 0; round < 200; round++) {
      const chunks: Buffer[] = [];
      for (let pos = 0; pos < PIPELINE.length; ) {
        const size = 1 + Math.floor(random() * 40);
        chunks.push(PIPELINE.subarray(pos, pos + size));
        pos += size;
      }
      assert.deepEqual(toStrings(parseChunks(chunks)), PIPELINE_ARGV, `round ${round}`);
    }
  });

  it('returns commands in order when several chunks are fed before draining', () => {
    const parser = new RespParser();
    parser.feed(PIPELINE.subarray(0, 10));
    parser.feed(PIPELINE.subarray(10, 50));
    parser.feed(PIPELINE.subarray(50));
    const commands: Buffer[][] = [];
    for (let argv = parser.next(); argv !== undefined; argv = parser.next()) commands.push(argv);
    assert.deepEqual(toStrings(commands), PIPELINE_ARGV);
    assert.equal(parser.bufferedBytes, 0);
  });

  it('is binary safe: CRLF and zero bytes inside payloads, empty arguments', () => {
    const weird = Buffer.from('\r\n\r\n\0\0$5\r\n*1\r\n', 'latin1');
    const [argv, ...rest] = parseChunks([command('SET', weird, '', Buffer.alloc(3))]);
    assert.equal(rest.length, 0);
    assert.equal(argv!.length, 4);
    assert.deepEqual(argv![0], Buffer.from('SET'));
    assert.deepEqual(argv![1], weird);
    assert.deepEqual(argv![2], Buffer.alloc(0));
    assert.deepEqual(argv![3], Buffer.from([0, 0, 0]));
  });

  it('reassembles a large bulk fed in many chunks', () => {
    const payload = Buffer.alloc(3 * 1024 * 1024 + 7);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
    const frame = command('SET', 'big', payload);
    const chunks: Buffer[] = [];
    for (let pos = 0; pos < frame.length; pos += 65536) chunks.push(frame.subarray(pos, pos + 65536));
    const commands = parseChunks(chunks);
    assert.equal(commands.length, 1);
    assert.equal(commands[0]![1]!.toString(), 'big');
    assert.equal(commands[0]![2]!.length, payload.length);
    assert.ok(commands[0]![2]!.equals(payload));
  });

  it('counts a partly received bulk in bufferedBytes and frees it when complete', () => {
    const parser = new RespParser();
    const frame = command('SET', 'k', Buffer.alloc(1000, 97));
    parser.feed(frame.subarray(0, 500));
    assert.equal(parser.next(), undefined);
    assert.equal(parser.bufferedBytes, 500 - '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000\r\n'.length);
    parser.feed(frame.subarray(500));
    assert.equal(parser.next()?.[2]?.length, 1000);
    assert.equal(parser.bufferedBytes, 0);
  });

  it('returns arguments that do not alias the fed chunk', () => {
    const chunk = command('SET', 'k', 'v');
    const [argv] = parseChunks([chunk]);
    chunk.fill(0);
    assert.deepEqual(toStrings([argv!]), [['SET', 'k', 'v']]);
  });

  it('skips *0 and *-1 like Redis', () => {
    assert.deepEqual(parseAll('*0\r\n*-1\r\n*-10\r\n*1\r\n$4\r\nPING\r\n').commands, [['PING']]);
  });

  it('skips, without checking, the two bytes after a payload (as Redis does)', () => {
    assert.deepEqual(parseAll('*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n').commands, [['PING'], ['PING']]);
  });

  it('accepts header lines exactly at maxInlineBytes and a bulk exactly at maxBulkBytes', () => {
    const limits = { maxBulkBytes: 10, maxInlineBytes: 4 };
    assert.deepEqual(parseAll(command('SET', 'k', '0123456789'), limits).commands, [['SET', 'k', '0123456789']]);
  });
});

describe('RespParser inline commands', () => {
  const cases: [string, string[][]][] = [
    ['PING\r\n', [['PING']]],
    ['PING\n', [['PING']]],
    ['  set   a   b  \r\n', [['set', 'a', 'b']]],
    ['SET a "b c"\r\n', [['SET', 'a', 'b c']]],
    ['ECHO "\\n\\r\\t\\b\\a\\"\\\\\\q"\r\n', [['ECHO', '\n\r\t\b\x07"\\q']]],
    ['ECHO "\\x41\\x4g\\xff"\r\n', [['ECHO', 'Ax4g\xff']]],
    ["ECHO 'a\\nb' 'it\\'s'\r\n", [['ECHO', 'a\\nb', "it's"]]],
    ['ECHO "" \'\'\r\n', [['ECHO', '', '']]],
    ['ECHO a"b c"\r\n', [['ECHO', 'ab c']]],
    ['\r\n\n   \r\nPING\r\n', [['PING']]],
    ['a\rb\r\n', [['a', 'b']]],
    ['ECHO a\0b c\r\n', [['ECHO', 'a']]],
  ];
  for (const [input, expected] of cases) {
    it(`splits ${JSON.stringify(input)}`, () => {
      assert.deepEqual(parseAll(input), { commands: expected });
    });
  }

  it('splitArgs returns no arguments for a blank line', () => {
    const line = Buffer.from(' \t \x0b ');
    assert.deepEqual(splitArgs(line, 0, line.length), []);
  });

  it('an inline command split across chunks', () => {
    const input = Buffer.from('SET a "hello world"\r\nGET a\r\n');
    for (let split = 1; split < input.length; split++) {
      const commands = parseChunks([input.subarray(0, split), input.subarray(split)]);
      assert.deepEqual(
        toStrings(commands),
        [
          ['SET', 'a', 'hello world'],
          ['GET', 'a'],
        ],
        `split at ${split}`,
      );
    }
  });
});

describe('RespParser protocol errors', () => {
  const big = (n: number): string => '1'.repeat(n);
  const cases: [name: string, input: string, limits: RespParserLimits, message: string][] = [
    ['non-numeric count', '*abc\r\n', {}, 'Protocol error: invalid multibulk length'],
    ['count with leading zero', '*01\r\n', {}, 'Protocol error: invalid multibulk length'],
    ['count -0', '*-0\r\n', {}, 'Protocol error: invalid multibulk length'],
    ['empty count', '*\r\n', {}, 'Protocol error: invalid multibulk length'],
    ['count overflowing long long', '*-99999999999999999999\r\n', {}, 'Protocol error: invalid multibulk length'],
    ['count above the limit', '*1048577\r\n', {}, 'Protocol error: invalid multibulk length'],
    ['count above a configured limit', '*4\r\n', { maxMultibulkLength: 3 }, 'Protocol error: invalid multibulk length'],
    ['negative bulk length', '*1\r\n$-10\r\n', {}, 'Protocol error: invalid bulk length'],
    ['null bulk in a request', '*1\r\n$-1\r\n', {}, 'Protocol error: invalid bulk length'],
    ['bulk length with a plus', '*1\r\n$+4\r\nPING\r\n', {}, 'Protocol error: invalid bulk length'],
    ['bulk length with a leading zero', '*1\r\n$04\r\nPING\r\n', {}, 'Protocol error: invalid bulk length'],
    ['bulk length with garbage', '*1\r\n$4x\r\n', {}, 'Protocol error: invalid bulk length'],
    ['empty bulk length', '*1\r\n$\r\n', {}, 'Protocol error: invalid bulk length'],
    ['bulk above 512 MiB', `*1\r\n$${512 * 1024 * 1024 + 1}\r\n`, {}, 'Protocol error: invalid bulk length'],
    ['bulk above a configured limit', '*1\r\n$11\r\n', { maxBulkBytes: 10 }, 'Protocol error: invalid bulk length'],
    ['wrong payload header', '*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n', {}, "Protocol error: expected '$', got 'f'"],
    ['empty payload header line', '*1\r\n\r\n', {}, "Protocol error: expected '$', got ' '"],
    ['count line too long', `*${big(70000)}`, {}, 'Protocol error: too big mbulk count string'],
    ['bulk length line too long', `*1\r\n$${big(70000)}`, {}, 'Protocol error: too big bulk count string'],
    ['count line over a configured limit', `*${big(10)}\r\n`, { maxInlineBytes: 8 }, 'Protocol error: too big mbulk count string'],
    ['inline too long', 'x'.repeat(64 * 1024 + 1), {}, 'Protocol error: too big inline request'],
    ['inline too long with its newline', `${'x'.repeat(101)}\r\n`, { maxInlineBytes: 100 }, 'Protocol error: too big inline request'],
    ['unterminated double quote', 'set a "b\r\n', {}, 'Protocol error: unbalanced quotes in request'],
    ['unterminated single quote', "set a 'b\r\n", {}, 'Protocol error: unbalanced quotes in request'],
    ['text after a closing quote', "set a 'b'c\r\n", {}, 'Protocol error: unbalanced quotes in request'],
    ['text after a closing double quote', 'ECHO "a"b\r\n', {}, 'Protocol error: unbalanced quotes in request'],
    ['backslash at the end of a quote', 'ECHO "a\\\r\n', {}, 'Protocol error: unbalanced quotes in request'],
  ];
  for (const [name, input, limits, message] of cases) {
    it(`${name}: ${message}`, () => {
      assert.deepEqual(parseAll(input, limits), { commands: [], error: message });
    });
  }

  it('the same error whatever the chunking', () => {
    const input = Buffer.from('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$3\r\nGET\r\n*1\r\nX3\r\nfoo\r\n');
    for (let split = 1; split < input.length; split++) {
      const parser = new RespParser();
      const commands: string[][] = [];
      let message: string | undefined;
      try {
        for (const chunk of [input.subarray(0, split), input.subarray(split)]) {
          parser.feed(chunk);
          for (let argv = parser.next(); argv !== undefined; argv = parser.next()) {
            commands.push(argv.map(String));
          }
        }
      } catch (err) {
        assert.ok(err instanceof ProtocolError);
        message = err.message;
      }
      assert.deepEqual(commands, [['GET', 'k'], ['GET']], `split at ${split}`);
      assert.equal(message, "Protocol error: expected '$', got 'X'", `split at ${split}`);
    }
  });

  it('returns the commands before an error first, then throws, then stays failed', () => {
    const parser = new RespParser();
    parser.feed(Buffer.from('PING\r\n*1\r\n$4\r\nECHO\r\n*x\r\nPING\r\n'));
    assert.deepEqual(parser.next()?.map(String), ['PING']);
    assert.deepEqual(parser.next()?.map(String), ['ECHO']);
    assert.throws(() => parser.next(), { name: 'ProtocolError', message: 'Protocol error: invalid multibulk length' });
    parser.feed(Buffer.from('PING\r\n'));
    assert.throws(() => parser.next(), { message: 'Protocol error: invalid multibulk length' });
    assert.equal(parser.bufferedBytes, 0);
  });

  it('refuses an oversize bulk as soon as its length line arrives, before any payload', () => {
    const parser = new RespParser({ maxBulkBytes: 1024 * 1024 });
    parser.feed(Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n'));
    assert.throws(() => parser.next(), { message: 'Protocol error: invalid bulk length' });
    assert.equal(parser.bufferedBytes, 0);
  });

  it('refuses a header split just before its newline byte', () => {
    const parser = new RespParser({ maxBulkBytes: 100 });
    parser.feed(Buffer.from('*1\r\n$101\r'));
    assert.equal(parser.next(), undefined);
    parser.feed(Buffer.from('\n'));
    assert.throws(() => parser.next(), { message: 'Protocol error: invalid bulk length' });
  });

  it('refuses a too long inline line while it is still arriving, holding at most the limit', () => {
    const parser = new RespParser({ maxInlineBytes: 1000 });
    for (let i = 0; i < 10; i++) {
      parser.feed(Buffer.alloc(100, 120));
      assert.equal(parser.next(), undefined);
    }
    assert.equal(parser.bufferedBytes, 1000);
    parser.feed(Buffer.from('x'));
    assert.throws(() => parser.next(), { message: 'Protocol error: too big inline request' });
  });

  it('refuses a too long count line fed in fragments', () => {
    const parser = new RespParser({ maxInlineBytes: 16 });
    parser.feed(Buffer.from('*11111111'));
    assert.equal(parser.next(), undefined);
    parser.feed(Buffer.from('111111111'));
    assert.throws(() => parser.next(), { message: 'Protocol error: too big mbulk count string' });
  });
});

describe('parseLength (Redis string2ll)', () => {
  const cases: [string, number][] = [
    ['0', 0],
    ['1', 1],
    ['-1', -1],
    ['512', 512],
    ['9007199254740991', 9007199254740991],
    // biome-ignore lint/correctness/noPrecisionLoss: the parser rounds 64-bit integers as JavaScript numbers do
    ['9223372036854775807', 9223372036854775807],
    // biome-ignore lint/correctness/noPrecisionLoss: as above
    ['-9223372036854775808', -9223372036854775808],
    ['9223372036854775808', NaN],
    ['-9223372036854775809', NaN],
    ['', NaN],
    ['-', NaN],
    ['-0', NaN],
    ['00', NaN],
    ['+1', NaN],
    [' 1', NaN],
    ['1 ', NaN],
    ['1a', NaN],
    ['123456789012345678901', NaN],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} → ${expected}`, () => {
      const bytes = Buffer.from(text);
      assert.equal(parseLength(bytes, 0, bytes.length), expected);
    });
  }
});

describe('RespParser command size limit', () => {
  it('refuses a command whose bulks together pass maxCommandBytes, from the headers alone', () => {
    const parser = new RespParser({ maxBulkBytes: 100, maxCommandBytes: 250 });
    parser.feed(Buffer.from(`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*4\r\n$3\r\nSET\r\n$100\r\n${'a'.repeat(100)}\r\n$100\r\n${'b'.repeat(100)}\r\n$100\r\n`));
    assert.deepEqual(parser.next()?.map(String), ['GET', 'k']);
    assert.throws(() => parser.next(), /^ProtocolError: Protocol error: command exceeds the query buffer limit$/);
  });

  it('counts each command afresh', () => {
    const parser = new RespParser({ maxBulkBytes: 100, maxCommandBytes: 150 });
    const set = `*2\r\n$3\r\nSET\r\n$100\r\n${'x'.repeat(100)}\r\n`;
    parser.feed(Buffer.from(set + set + set));
    for (let i = 0; i < 3; i++) assert.equal(parser.next()?.length, 2);
    assert.equal(parser.next(), undefined);
  });
});

/** forwardedPart: which part of a source entry a split forwards to its target. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyHashSlot } from '../../src/common/slots.js';
import { decodeShardCommand, encodeShardCommand } from '../../src/shard/shard-command.js';
import { forwardedPart } from '../../src/shard/split-forward.js';

const FROM = 8192;
const END = 16384;

function keyIn(inside: boolean, n: number): Buffer {
  for (let i = 0; ; i++) {
    const key = Buffer.from(`${inside ? 'in' : 'out'}${n}-${i}`);
    const slot = keyHashSlot(key);
    if ((slot >= FROM && slot < END) === inside) return key;
  }
}

const command = (...argv: string[]): Uint8Array => encodeShardCommand({ kind: 'command', nowMs: 5, argv: argv.map((a) => Buffer.from(a)) });

test('a key command is forwarded whole when its key moves, and not at all when it stays', () => {
  const inside = command('SET', keyIn(true, 1).toString(), 'v');
  assert.equal(forwardedPart(inside, FROM, END), inside);
  assert.equal(forwardedPart(command('SET', keyIn(false, 1).toString(), 'v'), FROM, END), null);
  assert.equal(forwardedPart(command('PING'), FROM, END), null, 'a command without keys has nothing to move');
});

test('an expiry keeps only the moving keys', () => {
  const [a, b, c] = [keyIn(true, 1), keyIn(false, 2), keyIn(true, 3)];
  const all = encodeShardCommand({ kind: 'expire', nowMs: 7, keys: [a, b, c] });
  const part = forwardedPart(all, FROM, END);
  assert.notEqual(part, null);
  assert.deepEqual(decodeShardCommand(part!), { kind: 'expire', nowMs: 7, keys: [a, c] });
  const inside = encodeShardCommand({ kind: 'expire', nowMs: 7, keys: [a] });
  assert.equal(forwardedPart(inside, FROM, END), inside);
  assert.equal(forwardedPart(encodeShardCommand({ kind: 'expire', nowMs: 7, keys: [b] }), FROM, END), null);
});

test('FLUSHALL is forwarded; split entries are not', () => {
  const flush = encodeShardCommand({ kind: 'flush', nowMs: 1 });
  assert.equal(forwardedPart(flush, FROM, END), flush);
  assert.equal(forwardedPart(encodeShardCommand({ kind: 'split-commit', taskId: 't' }), FROM, END), null);
});

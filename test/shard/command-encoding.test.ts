/**
 * Key commands and expiries in a shard's log are byte lists: they round-trip byte for byte, entries that
 * older versions wrote in MessagePack still read, and a list cut short is refused rather than misread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { decodeShardCommand, encodeShardCommand, type ShardCommand } from '../../src/shard/shard-command.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const text = (s: string): Uint8Array => Buffer.from(s);

/** Byte strings compare by content, whatever view class they decoded into. */
function plain(command: ShardCommand): unknown {
  return JSON.parse(
    JSON.stringify(command, (_, v: unknown) =>
      v instanceof Uint8Array ? [...v] : (v as { type?: string; data?: number[] })?.type === 'Buffer' ? (v as { data: number[] }).data : v,
    ),
  );
}

const COMMANDS: readonly ShardCommand[] = [
  { kind: 'command', nowMs: 1_700_000_000_123, argv: [text('SET'), text('k'), bytes(0, 0xc1, 0xff, 10, 13)] },
  { kind: 'command', nowMs: 0, argv: [text('DEL'), bytes()] },
  { kind: 'command', nowMs: 5, argv: [] },
  { kind: 'expire', nowMs: 1_700_000_000_999, keys: [text('a'), bytes(), text('{t}b')] },
  { kind: 'expire', nowMs: 7, keys: [] },
];

test('key commands and expiries decode to what was encoded', () => {
  for (const command of COMMANDS) assert.deepEqual(plain(decodeShardCommand(encodeShardCommand(command))), plain(command));
});

test('a million arguments round-trip', () => {
  const argv = [text('DEL'), ...Array.from({ length: 1_000_000 }, (_, i) => text(`{t}k${i}`))];
  const decoded = decodeShardCommand(encodeShardCommand({ kind: 'command', nowMs: 1, argv }));
  assert.ok(decoded.kind === 'command');
  assert.equal(decoded.argv.length, argv.length);
  assert.equal(Buffer.from(decoded.argv[999_999]!).toString(), '{t}k999998');
});

test('entries written in MessagePack by an older version still read', () => {
  const raw = new Packr({ useRecords: false });
  const command = decodeShardCommand(raw.pack([0, 42, [text('SET'), text('k'), text('v')]]));
  assert.deepEqual(plain(command), plain({ kind: 'command', nowMs: 42, argv: [text('SET'), text('k'), text('v')] }));
  const expire = decodeShardCommand(raw.pack([1, 43, [text('k')]]));
  assert.deepEqual(plain(expire), plain({ kind: 'expire', nowMs: 43, keys: [text('k')] }));
});

test('a byte list cut short, or of a kind without that layout, is refused', () => {
  const whole = encodeShardCommand({ kind: 'command', nowMs: 1, argv: [text('SET'), text('key'), text('value')] });
  for (const length of [1, 13, 15, whole.length - 1]) {
    assert.throws(() => decodeShardCommand(whole.subarray(0, length)), /shorter than its header|ends inside item/, `cut at ${length}`);
  }
  const flush = Uint8Array.from(whole);
  flush[1] = 2;
  assert.throws(() => decodeShardCommand(flush), /code 2 has no byte-list layout/);
});

/** The split entries of a shard's log round-trip through their encoding, and the older kinds keep their codes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { decodeShardCommand, encodeShardCommand, type ShardCommand } from '../../src/shard/shard-command.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

const SPLIT_ENTRIES: readonly ShardCommand[] = [
  { kind: 'split-begin', taskId: 't1', start: 0, splitSlot: 8192, end: 16384, target: 's2' },
  { kind: 'split-commit', taskId: 't1' },
  { kind: 'split-abort', taskId: 't1', reason: 'buffer timeout' },
  { kind: 'split-cleanup', taskId: 't1', keys: [bytes(1, 2), bytes()] },
  { kind: 'split-cleanup', taskId: 't1', keys: [] },
  { kind: 'split-reset', taskId: 't1', source: 's1', splitSlot: 8192, end: 16384, snapshotIndex: 42, attempt: 3, sourceClockMs: 1_700_000_000_123 },
  { kind: 'split-ingest', taskId: 't1', snapshotIndex: 42, attempt: 3, cursor: null, entries: [bytes(0x20, 0, 0x6b), bytes(9)], next: bytes(0x20, 0, 0x6b) },
  { kind: 'split-ingest', taskId: 't1', snapshotIndex: 42, attempt: 3, cursor: bytes(0x20, 0, 0x6b), entries: [], next: null },
  {
    kind: 'split-forward',
    taskId: 't1',
    entries: [
      { index: 43, data: encodeShardCommand({ kind: 'flush', nowMs: 5 }) },
      { index: 45, data: bytes(7) },
    ],
    throughIndex: 47,
  },
  { kind: 'split-handoff', taskId: 't1', finalIndex: 50, fromIndex: 47, entries: [{ index: 49, data: bytes(9, 8) }], sourceClockMs: 1_700_000_000_456 },
];

/** Byte strings compare by content, whatever view class msgpack decoded them into. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value];
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

test('every split entry decodes to what was encoded', () => {
  for (const command of SPLIT_ENTRIES) {
    assert.deepEqual(plain(decodeShardCommand(encodeShardCommand(command))), plain(command), command.kind);
  }
});

test('entries are arrays led by a kind code; the kinds before splits keep theirs', () => {
  const raw = new Packr({ useRecords: false });
  const code = (command: ShardCommand): unknown => (raw.unpack(encodeShardCommand(command)) as unknown[])[0];
  // Key commands and expiries are byte lists: a tag MessagePack never writes, then the same code.
  assert.deepEqual([...encodeShardCommand({ kind: 'command', nowMs: 1, argv: [] }).subarray(0, 2)], [0xc1, 0]);
  assert.deepEqual([...encodeShardCommand({ kind: 'expire', nowMs: 1, keys: [] }).subarray(0, 2)], [0xc1, 1]);
  assert.equal(code({ kind: 'flush', nowMs: 1 }), 2);
  const splitCodes = SPLIT_ENTRIES.map(code);
  assert.deepEqual([...new Set(splitCodes)], [3, 4, 5, 6, 7, 8, 9, 10]);
});

test('a split-forward written without its throughIndex reads it as its last entry', () => {
  const raw = new Packr({ useRecords: false });
  const data = raw.pack([9, 't1', [43, bytes(1), 45, bytes(2)]]);
  const command = decodeShardCommand(data);
  assert.equal(command.kind === 'split-forward' && command.throughIndex, 45);
});

test('a split-reset and a split-ingest written before attempts were numbered read as attempt 0', () => {
  const raw = new Packr({ useRecords: false });
  const reset = decodeShardCommand(raw.pack([7, 't1', 's1', 8192, 16384, 42]));
  const ingest = decodeShardCommand(raw.pack([8, 't1', 42, null, [bytes(1)], null]));
  assert.deepEqual([reset.kind === 'split-reset' && reset.attempt, ingest.kind === 'split-ingest' && ingest.attempt], [0, 0]);
});

test('a split-reset and a split-handoff written before they carried the source clock read it as 0', () => {
  const raw = new Packr({ useRecords: false });
  const reset = decodeShardCommand(raw.pack([7, 't1', 's1', 8192, 16384, 42, 3]));
  const handoff = decodeShardCommand(raw.pack([10, 't1', 50, 47, [49, bytes(9)]]));
  assert.deepEqual([reset.kind === 'split-reset' && reset.sourceClockMs, handoff.kind === 'split-handoff' && handoff.sourceClockMs], [0, 0]);
});

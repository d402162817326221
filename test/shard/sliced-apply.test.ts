/**
 * Key commands with more arguments than APPLY_SLICE_KEYS apply in slices (SlicedApply) when they come
 * from the shard's own log: DEL, UNLINK and MSET, which reach the same state from any part of
 * themselves. MSETNX, which would not (a part of it makes the whole refuse), and entries a split's
 * source forwards apply at once.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SlicedApply } from '../../src/common/sliced-apply.js';
import type { Entry } from '../../src/raft/index.js';
import { int, OK, type Reply } from '../../src/resp/reply.js';
import { encodeShardCommand } from '../../src/shard/shard-command.js';
import { APPLY_SLICE_KEYS, ShardReplica } from '../../src/shard/shard-replica.js';
import { MemoryShardData } from '../support/memory-shard-data.js';

const KEYS = 2 * APPLY_SLICE_KEYS + 10;

function entry(index: number, argv: string[]): Entry {
  return { term: 1, index, type: 'normal', data: encodeShardCommand({ kind: 'command', nowMs: 1_000, argv: argv.map((a) => Buffer.from(a)) }) };
}

/** Runs a sliced apply to its end; returns its result and how many slices it took. */
function drain(applied: unknown): { result: Reply; slices: number } {
  assert.ok(applied instanceof SlicedApply, 'applied in slices');
  for (let slices = 1; ; slices++) {
    const step = applied.slices.next();
    if (step.done === true) return { result: step.value as Reply, slices };
  }
}

const keys = Array.from({ length: KEYS }, (_, i) => `{t}k${i}`);

describe('a shard applying a command of many keys', () => {
  it('applies MSET and DEL a slice of APPLY_SLICE_KEYS keys at a time, to the same state and reply as at once', () => {
    const data = new MemoryShardData();
    const replica = new ShardReplica('s1', data);
    const mset = drain(replica.apply(entry(1, ['MSET', ...keys.flatMap((k) => [k, 'v'])])));
    assert.deepEqual(mset, { result: OK, slices: Math.ceil(KEYS / APPLY_SLICE_KEYS) });
    assert.equal(data.keyCount, KEYS);
    const missing = ['{t}absent1', '{t}absent2'];
    const del = drain(replica.apply(entry(2, ['DEL', ...keys, ...missing])));
    assert.deepEqual(del, { result: int(KEYS), slices: Math.ceil((KEYS + missing.length) / APPLY_SLICE_KEYS) });
    assert.equal(data.keyCount, 0);
  });

  it('reaches the same state when applied again over a part of itself, as after a crash mid-way', () => {
    const data = new MemoryShardData();
    const replica = new ShardReplica('s1', data);
    drain(replica.apply(entry(1, ['MSET', ...keys.flatMap((k) => [k, 'v'])])));
    const partial = replica.apply(entry(2, ['DEL', ...keys])) as SlicedApply;
    partial.slices.next();
    assert.ok(data.keyCount > 0 && data.keyCount < KEYS, `part of the DEL ran (${data.keyCount} keys left)`);
    drain(replica.apply(entry(2, ['DEL', ...keys])));
    assert.equal(data.keyCount, 0);
  });

  it('applies a small DEL, and MSETNX of any size, at once', () => {
    const replica = new ShardReplica('s1', new MemoryShardData());
    assert.deepEqual(replica.apply(entry(1, ['DEL', ...keys.slice(0, APPLY_SLICE_KEYS - 1)])), int(0));
    assert.deepEqual(replica.apply(entry(2, ['MSETNX', ...keys.flatMap((k) => [k, 'v'])])), int(1));
  });
});

/**
 * A split at the shard layer: the source's and the target's replicas apply the split entries of their logs
 * (docs/SPLIT.md) over real LMDB and over the in-memory test double, and end with each key owned by exactly
 * one shard; duplicates and out-of-order entries are skipped, a rollback restores the source, and the
 * split state survives a restart, a FLUSHALL and a whole-shard snapshot.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { keyHashSlot } from '../../src/common/slots.js';
import { encodeShardCommand, type ForwardedEntry, type ShardCommand } from '../../src/shard/shard-command.js';
import { NOT_OWNED, ShardReplica } from '../../src/shard/shard-replica.js';
import type { ShardSnapshotChunk } from '../../src/storage/types.js';
import { MemoryShardData } from '../support/memory-shard-data.js';
import { LogFedReplica, readChunks, SHARD_STORAGES } from '../support/shard-storages.js';

const START = 0;
const SPLIT = 100;
const END = 200;

/** Which of these slots the replica's own log says it owns. */
function owned(replica: ShardReplica, ...slots: number[]): boolean[] {
  return slots.map((slot) => replica.ownsSlot(slot));
}

/** `count` keys in slots [from, end). */
function keysIn(from: number, end: number, count: number, prefix = 'k'): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `${prefix}${i}`;
    const slot = keyHashSlot(Buffer.from(key));
    if (slot >= from && slot < end) keys.push(key);
  }
  return keys;
}

/** Every chunk of a reader, `maxBytes` at a time. */
function chunksOf(replica: ShardReplica, from: number, end: number, maxBytes: number): ShardSnapshotChunk[] {
  return readChunks(replica.openRangeSnapshot(from, end), maxBytes);
}

for (const storage of SHARD_STORAGES) {
  describe(`a split at the shard layer (${storage.name})`, () => {
    it('moves [splitSlot, end) to the target exactly once and leaves each key owned by one shard', async (t) => {
      const source = new LogFedReplica(new ShardReplica('s1', storage.open(t, 's1').data));
      const target = new LogFedReplica(new ShardReplica('s2', storage.open(t, 's2').data));
      const staying = keysIn(START, SPLIT, 30, 'stay');
      const moving = keysIn(SPLIT, END, 30, 'move');
      for (const key of [...staying, ...moving]) assert.deepEqual(source.set(key, `v0-${key}`), { kind: 'simple', value: 'OK' });
      assert.equal(source.replica.ownedRange(), null, 'a shard that never split serves what the routing table gives it');
      assert.deepEqual(owned(source.replica, START, SPLIT, END, 16383), [true, true, true, true]);

      assert.equal(source.split({ kind: 'split-begin', taskId: 't1', start: START, splitSlot: SPLIT, end: END, target: 's2' }).ok, true);
      assert.deepEqual(source.replica.ownedRange(), { start: START, end: END });
      assert.deepEqual(owned(source.replica, START, SPLIT - 1, SPLIT, END - 1, END), [true, true, true, true, false]);
      assert.equal(source.split({ kind: 'split-commit', taskId: 't9' }).ok, false, 'split entries of another task are refused');
      await source.replica.data.flushed();
      const snapshotIndex = source.lastIndex;
      const chunks = chunksOf(source.replica, SPLIT, END, 200);
      assert.ok(chunks.length > 2, `the range is read in several chunks (${chunks.length})`);
      assert.equal(chunks.flatMap((c) => c.entries).length, moving.length * 2, 'the range snapshot holds exactly the moving keys');

      // A write to the moving range after the snapshot: it reaches the target by forwarding.
      source.set(moving[0]!, 'v1');
      const forwarded = {
        index: source.lastIndex,
        data: encodeShardCommand({ kind: 'command', nowMs: 1, argv: [Buffer.from('SET'), Buffer.from(moving[0]!), Buffer.from('v1')] }),
      };
      // A write that stays: a sender that forwarded it by mistake must not put it on the target.
      const strayKey = keysIn(START, SPLIT, 1, 'stray')[0]!;
      source.set(strayKey, 'stray');
      const stray = { index: source.lastIndex, data: encodeShardCommand({ kind: 'command', nowMs: 1, argv: [Buffer.from('SET'), Buffer.from(strayKey), Buffer.from('stray')] }) };

      assert.equal(target.split({ kind: 'split-reset', taskId: 't1', source: 's1', splitSlot: SPLIT, end: END, snapshotIndex, attempt: 1, sourceClockMs: 0 }).ok, true);
      assert.deepEqual(owned(target.replica, START, SPLIT, END - 1), [false, false, false], 'the target owns nothing before the handoff');
      assert.equal(target.set(moving[3]!, 'early'), NOT_OWNED, 'a write routed to the target before the handoff is not applied');
      let cursor: Uint8Array | null = null;
      for (const [i, chunk] of chunks.entries()) {
        const ingest: Extract<ShardCommand, { kind: 'split-ingest' }> = {
          kind: 'split-ingest',
          taskId: 't1',
          snapshotIndex,
          attempt: 1,
          cursor,
          entries: chunk.entries,
          next: chunk.next,
        };
        if (i === 1) {
          // A chunk ahead of the one expected is skipped.
          const ahead = target.split({ ...ingest, cursor: chunk.next ?? new Uint8Array([1]) });
          assert.equal(ahead.ok, false);
        }
        assert.equal(target.split(ingest).ok, true, `chunk ${i}`);
        // The same chunk again (a retry after a lost ack) changes nothing.
        assert.equal(target.split(ingest).ok, false);
        cursor = chunk.next;
      }
      const afterSnapshot = target.replica.splitState();
      assert.ok(afterSnapshot?.role === 'target');
      assert.deepEqual(
        { snapshotDone: afterSnapshot.snapshotDone, nextCursor: afterSnapshot.nextCursor, lastSourceIndex: afterSnapshot.lastSourceIndex },
        { snapshotDone: true, nextCursor: null, lastSourceIndex: snapshotIndex },
      );
      assert.equal(
        afterSnapshot.bytesIngested,
        chunks.flatMap((c) => c.entries).reduce((sum, e) => sum + e.byteLength, 0),
      );
      assert.equal(target.get(moving[0]!), `v0-${moving[0]}`);
      assert.equal(target.replica.data.keyCount, moving.length, 'the target holds exactly the moving keys');

      assert.equal(target.split({ kind: 'split-forward', taskId: 't1', entries: [forwarded, stray], throughIndex: stray.index }).ok, true);
      assert.equal(target.get(strayKey), undefined, 'only the moving range is applied');
      assert.equal(target.split({ kind: 'split-forward', taskId: 't1', entries: [forwarded, stray], throughIndex: stray.index }).ok, false, 'a forwarded entry applies once');
      assert.equal(target.get(moving[0]!), 'v1');
      const caughtUp = target.replica.splitState();
      assert.equal(caughtUp?.role === 'target' && caughtUp.lastSourceIndex, stray.index);

      // The handoff needs every source entry up to the commit.
      assert.equal(source.split({ kind: 'split-commit', taskId: 't1' }).ok, true);
      const commitIndex = source.lastIndex;
      assert.deepEqual(source.replica.ownedRange(), { start: START, end: SPLIT });
      assert.deepEqual(owned(source.replica, START, SPLIT - 1, SPLIT, END - 1), [true, true, false, false]);
      const committed = source.replica.splitState();
      assert.deepEqual(committed?.role === 'source' && { phase: committed.phase, commitIndex: committed.commitIndex }, { phase: 'committed', commitIndex });
      assert.equal(source.set(moving[1]!, 'late'), NOT_OWNED, 'the source refuses the moved slots after the commit');
      assert.equal(source.get(moving[1]!), `v0-${moving[1]}`, 'and leaves them as they were');
      assert.equal(source.split({ kind: 'split-abort', taskId: 't1', reason: 'too late' }).ok, false, 'after the commit the split only rolls forward');
      const handoffFrom = (fromIndex: number, entries: ForwardedEntry[] = []): ShardCommand => ({
        kind: 'split-handoff',
        taskId: 't1',
        finalIndex: commitIndex,
        fromIndex,
        entries,
        sourceClockMs: 0,
      });
      assert.equal(target.split(handoffFrom(commitIndex)).ok, false, 'not yet applied up to where the handoff takes over');
      // The last entries ride with the handoff: here one more write to the moving range, and a stray one.
      const setAt = (index: number, key: string, value: string): ForwardedEntry => ({
        index,
        data: encodeShardCommand({ kind: 'command', nowMs: 0, argv: [Buffer.from('SET'), Buffer.from(key), Buffer.from(value)] }),
      });
      const handoff = target.split(handoffFrom(stray.index, [setAt(stray.index + 1, strayKey, 'x'), setAt(stray.index + 2, moving[0]!, 'v2')]));
      assert.equal(target.get(moving[0]!), 'v2', 'the entries the handoff carries are applied');
      assert.equal(target.get(strayKey), undefined, 'only in the moving range');
      assert.equal(handoff.ok, true);
      assert.equal(handoff.state?.role === 'target' && handoff.state.handedOff, true);
      assert.equal(target.replica.splitState(), null);
      assert.deepEqual(target.replica.ownedRange(), { start: SPLIT, end: END });
      assert.deepEqual(owned(target.replica, SPLIT - 1, SPLIT, END - 1, END), [false, true, true, false]);
      assert.equal(target.split(handoffFrom(stray.index)).ok, false, 'a repeated handoff is skipped');
      assert.deepEqual(target.set(moving[2]!, 'on-target'), { kind: 'simple', value: 'OK' });
      assert.equal(target.set(staying[0]!, 'x'), NOT_OWNED, 'the target owns only the moved slots');

      // Cleanup: the leader lists the keys to delete; an empty list ends the split.
      await source.replica.data.flushed();
      const left = source.replica.data.scan(SPLIT, END, undefined, 1000).map((found) => found.key);
      assert.equal(left.length, moving.length);
      assert.equal(source.split({ kind: 'split-cleanup', taskId: 't1', keys: [...left.slice(0, 10), Buffer.from(staying[0]!)] }).ok, true);
      assert.equal(source.get(staying[0]!), `v0-${staying[0]}`, 'cleanup never deletes a key the shard owns');
      assert.equal(source.split({ kind: 'split-cleanup', taskId: 't1', keys: left.slice(10) }).ok, true);
      assert.equal(source.split({ kind: 'split-cleanup', taskId: 't1', keys: [] }).ok, true);
      assert.equal(source.replica.splitState(), null);
      assert.deepEqual(source.replica.ownedRange(), { start: START, end: SPLIT }, 'the owned range outlives the split');
      assert.deepEqual(owned(source.replica, START, SPLIT - 1, SPLIT), [true, true, false]);
      assert.equal(source.set(moving[1]!, 'stale route'), NOT_OWNED, 'a request routed by a stale table is refused after the split too');
      assert.equal(source.split({ kind: 'split-cleanup', taskId: 't1', keys: [] }).ok, false, 'a cleanup after the end is skipped');
      assert.equal(source.replica.endedSplit('t1')?.outcome, 'completed');
      for (const key of moving) assert.equal(source.get(key), undefined);
      for (const key of staying) assert.equal(source.get(key), `v0-${key}`);
    });

    it('a split-reset duplicated or delayed past progress does not take the target back', async (t) => {
      const source = new LogFedReplica(new ShardReplica('s1', storage.open(t, 's1').data));
      const target = new LogFedReplica(new ShardReplica('s2', storage.open(t, 's2').data));
      const moving = keysIn(SPLIT, END, 10, 'move');
      for (const key of moving) source.set(key, `v0-${key}`);
      source.split({ kind: 'split-begin', taskId: 't1', start: START, splitSlot: SPLIT, end: END, target: 's2' });
      await source.replica.data.flushed();
      const snapshotIndex = source.lastIndex;
      const reset: ShardCommand = { kind: 'split-reset', taskId: 't1', source: 's1', splitSlot: SPLIT, end: END, snapshotIndex, attempt: 1, sourceClockMs: 0 };
      assert.equal(target.split(reset).ok, true);
      const [chunk] = chunksOf(source.replica, SPLIT, END, 1 << 20);
      const ingest: ShardCommand = { kind: 'split-ingest', taskId: 't1', snapshotIndex, attempt: 1, cursor: null, entries: chunk!.entries, next: chunk!.next };
      assert.equal(target.split(ingest).ok, true);
      assert.equal(chunk!.next, null, 'one chunk holds the range');
      source.set(moving[0]!, 'v1');
      const write = { index: source.lastIndex, data: encodeShardCommand({ kind: 'command', nowMs: 1, argv: [Buffer.from('SET'), Buffer.from(moving[0]!), Buffer.from('v1')] }) };
      assert.equal(target.split({ kind: 'split-forward', taskId: 't1', entries: [write], throughIndex: write.index }).ok, true);

      // The network delivers the first reset again (or Raft commits a stale proposal of it) after all that.
      const again = target.split(reset);
      assert.equal(again.ok, false, 'a reset already in place is not applied twice');
      const state = target.replica.splitState();
      assert.ok(state?.role === 'target');
      assert.deepEqual(
        { snapshotDone: state.snapshotDone, lastSourceIndex: state.lastSourceIndex, keys: target.replica.data.keyCount, moved: target.get(moving[0]!) },
        { snapshotDone: true, lastSourceIndex: write.index, keys: moving.length, moved: 'v1' },
      );
      assert.equal(target.split({ ...reset, attempt: 2, snapshotIndex: write.index - 1 }).ok, false, 'nor one that would take the target behind what it applied');

      // A restart of the snapshot (the source's log compacted, say) names the next attempt: it starts over.
      const restart = { ...reset, attempt: 2, snapshotIndex: write.index };
      assert.equal(target.split(restart).ok, true);
      assert.equal(target.replica.data.keyCount, 0);
      assert.equal(target.split(ingest).ok, false, 'a chunk of the earlier attempt is skipped');
      assert.equal(target.split(reset).ok, false, 'an earlier attempt is refused after a newer one');
      const restarted = target.replica.splitState();
      assert.deepEqual(restarted?.role === 'target' && [restarted.attempt, restarted.snapshotIndex, restarted.nextCursor, restarted.snapshotDone], [2, write.index, null, false]);
    });

    it('a rollback before the commit leaves the source whole and serving', async (t) => {
      const source = new LogFedReplica(new ShardReplica('s1', storage.open(t, 's1').data));
      const moving = keysIn(SPLIT, END, 5);
      source.split({ kind: 'split-begin', taskId: 't1', start: START, splitSlot: SPLIT, end: END, target: 's2' });
      assert.equal(source.split({ kind: 'split-begin', taskId: 't2', start: START, splitSlot: SPLIT + 1, end: END, target: 's3' }).ok, false, 'one split at a time');
      assert.equal(source.split({ kind: 'split-abort', taskId: 't2', reason: 'not mine' }).ok, false, 'another task cannot abort it');
      assert.equal(source.split({ kind: 'split-abort', taskId: 't1', reason: 'buffer timeout' }).ok, true);
      assert.equal(source.replica.splitState(), null);
      assert.deepEqual(source.replica.ownedRange(), { start: START, end: END });
      assert.deepEqual(owned(source.replica, START, SPLIT, END - 1), [true, true, true]);
      assert.equal(source.split({ kind: 'split-abort', taskId: 't1', reason: 'again' }).ok, false, 'a repeated abort is skipped');
      assert.equal(source.split({ kind: 'split-commit', taskId: 't1' }).ok, false, 'an aborted split cannot commit');
      assert.deepEqual(source.replica.endedSplit('t1'), { taskId: 't1', splitSlot: SPLIT, outcome: 'aborted', reason: 'buffer timeout' });
      // A leader acting on a routing table that still shows the task must not start it again.
      assert.equal(source.split({ kind: 'split-begin', taskId: 't1', start: START, splitSlot: SPLIT, end: END, target: 's2' }).ok, false, 'an ended split never begins again');
      assert.equal(source.replica.splitState(), null);
      assert.deepEqual(source.set(moving[0]!, 'after-abort'), { kind: 'simple', value: 'OK' });
      assert.equal(source.get(moving[0]!), 'after-abort');
    });

    it('the split state survives FLUSHALL, a whole-shard snapshot, and a restart, and is never counted as a key', async (t) => {
      const opened = storage.open(t, 's1');
      const source = new LogFedReplica(new ShardReplica('s1', opened.data));
      const [stay] = keysIn(START, SPLIT, 1);
      const [move] = keysIn(SPLIT, END, 1);
      source.set(stay!, 'x');
      source.set(move!, 'y');
      await opened.data.flushed();
      const counts = { keys: opened.data.keyCount, bytes: opened.data.byteCount };
      source.split({ kind: 'split-begin', taskId: 't1', start: START, splitSlot: SPLIT, end: END, target: 's2' });
      source.split({ kind: 'split-commit', taskId: 't1' });
      const state = source.replica.splitState();
      assert.equal(state?.role === 'source' && state.phase, 'committed');
      await opened.data.flushed();
      assert.deepEqual({ keys: opened.data.keyCount, bytes: opened.data.byteCount }, counts, 'the meta is not counted');
      assert.equal(opened.data.scan(0, 16384, undefined, 100).length, 2, 'nor scanned');
      assert.equal(source.replica.rangeSize(0, 16384).keys, 2, 'nor sized');

      // A whole-shard snapshot in several chunks: the meta rides on the first one only.
      const reader = source.replica.openSnapshot();
      const chunks: ShardSnapshotChunk[] = [];
      for (let cursor: Uint8Array | null = null, first = true; first || cursor !== null; first = false) {
        const chunk = reader.chunk(cursor, 1);
        chunks.push(chunk);
        cursor = chunk.next;
      }
      reader.close();
      assert.ok(chunks.length >= 2);
      assert.ok(chunks[0]!.meta instanceof Uint8Array);
      assert.deepEqual(
        chunks.slice(1).map((c) => c.meta),
        chunks.slice(1).map(() => undefined),
      );
      assert.equal(chunks.flatMap((c) => c.entries).length, 4, 'the snapshot holds the two keys and no meta entry');
      for (const follower of [new ShardReplica('s1', new MemoryShardData('s1')), new ShardReplica('s1', storage.open(t, 's1').data)]) {
        follower.restore(chunks);
        assert.deepEqual(follower.splitState(), state);
        assert.deepEqual(follower.ownedRange(), { start: START, end: SPLIT });
        assert.equal(follower.data.get(Buffer.from(move!))?.type, 'string', 'the moved key is there until cleanup');
        // A snapshot of a shard that never split replaces the state too.
        const plain = new ShardReplica('s3', new MemoryShardData('s3')).openSnapshot();
        follower.restore([plain.chunk(null, 1 << 20)]);
        assert.deepEqual([follower.splitState(), follower.ownedRange(), follower.data.keyCount], [null, null, 0]);
      }

      // FLUSHALL deletes the keys and keeps the meta.
      source.apply({ kind: 'flush', nowMs: 1 });
      await opened.data.flushed();
      assert.deepEqual(source.replica.splitState(), state);
      assert.deepEqual(source.replica.ownedRange(), { start: START, end: SPLIT });
      assert.deepEqual({ keys: opened.data.keyCount, bytes: opened.data.byteCount }, { keys: 0, bytes: 0 });

      if (opened.reopen !== null) {
        const restarted = new LogFedReplica(new ShardReplica('s1', await opened.reopen()));
        assert.deepEqual(restarted.replica.splitState(), state);
        assert.deepEqual(restarted.replica.ownedRange(), { start: START, end: SPLIT });
        assert.equal(restarted.set(move!, 'z'), NOT_OWNED, 'a restarted source still refuses the moved slots');
        assert.equal(restarted.replica.data.keyCount, 0);
      }
    });

    it('the split slot halves the bytes, keeping slots whole', async (t) => {
      const replica = new LogFedReplica(new ShardReplica('s1', storage.open(t, 's1').data));
      // A heavy slot near the start, light ones after it.
      const heavy = keysIn(10, 11, 1)[0]!;
      replica.set(heavy, 'h'.repeat(5000));
      for (const key of keysIn(11, END, 50)) replica.set(key, 'v'.repeat(20));
      await replica.replica.data.flushed();
      assert.equal(replica.replica.chooseSplitSlot(START, END), 11, 'the cut comes right after the slot holding half the bytes');
      const size = replica.replica.rangeSize(START, END);
      assert.equal(size.keys, 51);
      const empty = new ShardReplica('s9', storage.open(t, 's9').data);
      assert.equal(empty.chooseSplitSlot(START, END), 100, 'an empty range is cut in the middle');

      // All the bytes in the first or the last slot: the cut is still strictly inside the range.
      for (const [slot, expected] of [
        [START, START + 1],
        [END - 1, END - 1],
      ] as const) {
        const edge = new LogFedReplica(new ShardReplica(`edge${slot}`, storage.open(t, `edge${slot}`).data));
        for (const key of keysIn(slot, slot + 1, 3)) edge.set(key, 'e'.repeat(100));
        await edge.replica.data.flushed();
        assert.equal(edge.replica.chooseSplitSlot(START, END), expected, `all in slot ${slot}`);
      }
    });
  });
}

describe('a target state stored before snapshot attempts were numbered', () => {
  it('reads as attempt 0, takes its unnumbered chunks, and gives way to a numbered reset', () => {
    const data = new MemoryShardData('s2');
    const stored = {
      role: 'target',
      taskId: 't1',
      source: 's1',
      splitSlot: SPLIT,
      end: END,
      snapshotIndex: 7,
      nextCursor: null,
      snapshotDone: false,
      lastSourceIndex: 7,
      handedOff: false,
      bytesIngested: 0,
    };
    data.setMeta(new Packr({ useRecords: false }).pack([2, stored, { start: SPLIT, end: SPLIT }, []]));
    const target = new LogFedReplica(new ShardReplica('s2', data));
    const state = target.replica.splitState();
    assert.equal(state?.role === 'target' && state.attempt, 0);
    assert.equal(target.split({ kind: 'split-ingest', taskId: 't1', snapshotIndex: 7, attempt: 0, cursor: null, entries: [], next: null }).ok, true);
    assert.equal(target.split({ kind: 'split-reset', taskId: 't1', source: 's1', splitSlot: SPLIT, end: END, snapshotIndex: 9, attempt: 1, sourceClockMs: 0 }).ok, true);
  });
});

/**
 * A shard's replicated clock: each replica judges expiry no earlier than the highest entry time its log has
 * applied, so a leader whose clock is behind its predecessor's (a failover) can neither bring an expired key
 * back nor stretch a TTL, and reads with a slow local clock answer as the log already decided. The clock
 * survives a restart and travels with whole-shard snapshots and with a split's snapshot and handoff.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { keyHashSlot } from '../../src/common/slots.js';
import { bulk, int, NULL, type Reply } from '../../src/resp/reply.js';
import { encodeShardCommand, type ShardCommand } from '../../src/shard/shard-command.js';
import { ShardReplica } from '../../src/shard/shard-replica.js';
import type { SplitApplyResult } from '../../src/shard/split-state.js';
import type { ShardSnapshotChunk } from '../../src/storage/types.js';
import { normalize } from '../support/memory-shard-data.js';
import { LogFedReplica, readChunks, SHARD_STORAGES } from '../support/shard-storages.js';

/** The old leader's clock when it proposed, and the new leader's, 5 s behind. */
const OLD_LEADER_MS = 10_000;
const NEW_LEADER_MS = 5_000;

function same(actual: Reply | SplitApplyResult, expected: Reply, message: string): void {
  assert.deepEqual(normalize(actual as Reply), normalize(expected), message);
}

/** Every chunk of a whole-shard snapshot. */
function snapshotOf(replica: ShardReplica): ShardSnapshotChunk[] {
  return readChunks(replica.openSnapshot(), 1 << 20);
}

for (const storage of SHARD_STORAGES) {
  describe(`a shard's replicated clock (${storage.name})`, () => {
    it('never lets a leader with a slower clock resurrect or extend a key', (t) => {
      const r = new LogFedReplica(new ShardReplica('s1', storage.open(t, 's1').data));
      same(r.write(OLD_LEADER_MS, 'SET k v PX 1000'), { kind: 'simple', value: 'OK' }, 'SET k at the old leader');
      assert.equal(r.expireAtMs('k'), 11_000);
      // The new leader's first write: the log has already reached 10 000.
      same(r.write(NEW_LEADER_MS, 'SET other x'), { kind: 'simple', value: 'OK' }, 'a write at the new leader');
      same(r.read(NEW_LEADER_MS, 'PTTL k'), int(1000), 'a read with a slow local clock answers as at 10 000');
      same(r.read(NEW_LEADER_MS, 'GET k'), bulk('v'), 'k is still there');
      // A TTL set by the new leader counts from the log's time, not from its own.
      same(r.write(NEW_LEADER_MS, 'SET fresh v PX 1000'), { kind: 'simple', value: 'OK' }, 'SET fresh at the new leader');
      assert.equal(r.expireAtMs('fresh'), 11_000);

      // The old leader, still ahead, writes at 11 500: k has expired.
      same(r.write(11_500, 'SET j y'), { kind: 'simple', value: 'OK' }, 'a write at 11 500');
      same(r.read(NEW_LEADER_MS, 'GET k'), NULL, 'k stays expired for a read with a slow local clock');
      same(r.read(NEW_LEADER_MS, 'PTTL k'), int(-2), 'PTTL agrees');
      // Then the slow leader again: neither its writes nor its expiry deletes see k alive.
      same(r.write(NEW_LEADER_MS, 'PEXPIRE k 100000'), int(0), 'PEXPIRE finds k gone');
      same(r.write(NEW_LEADER_MS, 'GETEX k PERSIST'), NULL, 'GETEX finds k gone');
      assert.equal(r.expireAtMs('k'), undefined, 'the writes that found k expired deleted it');
      same(r.apply({ kind: 'expire', nowMs: NEW_LEADER_MS, keys: [Buffer.from('fresh')] }), int(1), 'the expiry delete judges at 11 500');
      assert.equal(r.expireAtMs('fresh'), undefined, 'fresh is deleted');
      same(r.write(NEW_LEADER_MS, 'SET k2 v PX 1000'), { kind: 'simple', value: 'OK' }, 'SET k2 at the new leader');
      assert.equal(r.expireAtMs('k2'), 12_500, 'a TTL never ends before the log time it was set at');
      same(r.read(11_600, 'PTTL k2'), int(900), 'read at a local 11 600');
    });

    it('keeps its clock across a restart, even when the last entry changed no key', async (t) => {
      const opened = storage.open(t, 's1');
      if (opened.reopen === null) return t.skip('no restart for this storage');
      const r = new LogFedReplica(new ShardReplica('s1', opened.data));
      r.write(OLD_LEADER_MS, 'SET k v PX 1000');
      await r.replica.data.flushed();
      // A write that changes nothing, at a later time, in a commit of its own: the clock alone moves.
      same(r.write(10_500, 'DEL missing'), int(0), 'DEL of an absent key');
      await r.replica.data.flushed();
      const restarted = new LogFedReplica(new ShardReplica('s1', await opened.reopen()));
      same(restarted.read(0, 'PTTL k'), int(500), 'a read after the restart judges at 10 500');
      restarted.write(NEW_LEADER_MS, 'SET k2 v PX 1000');
      assert.equal(restarted.expireAtMs('k2'), 11_500);
    });

    it('hands its clock to a replica restored from its snapshot', async (t) => {
      const source = new LogFedReplica(new ShardReplica('s1', storage.open(t, 's1').data));
      source.write(OLD_LEADER_MS, 'SET k v PX 1000');
      source.write(10_500, 'DEL missing');
      await source.replica.data.flushed();
      const chunks = snapshotOf(source.replica);
      const fresh = new LogFedReplica(new ShardReplica('s2', storage.open(t, 's2').data));
      fresh.replica.restore(chunks);
      same(fresh.read(0, 'PTTL k'), int(500), 'the restored replica judges at 10 500');
      fresh.write(NEW_LEADER_MS, 'SET k2 v PX 1000');
      assert.equal(fresh.expireAtMs('k2'), 11_500);
      // A snapshot from a version that kept no clock restores clock 0, as a log replayed from the start would begin.
      fresh.replica.restore([{ entries: chunks.flatMap((c) => c.entries), next: null, meta: null }]);
      assert.equal(fresh.replica.clockMs, 0);
    });

    it("a split's target takes the source's clock from its snapshot, forwarded entries and handoff", (t) => {
      const target = new LogFedReplica(new ShardReplica('s2', storage.open(t, 's2').data));
      const key = keyIn(SPLIT, END);
      const reset: ShardCommand = { kind: 'split-reset', taskId: 't1', source: 's1', splitSlot: SPLIT, end: END, snapshotIndex: 3, attempt: 1, sourceClockMs: 20_000 };
      assert.equal((target.apply(reset) as SplitApplyResult).ok, true);
      assert.equal(target.replica.clockMs, 20_000, 'the snapshot was taken at the source clock 20 000');
      const ingest: ShardCommand = { kind: 'split-ingest', taskId: 't1', snapshotIndex: 3, attempt: 1, cursor: null, entries: [], next: null };
      assert.equal((target.apply(ingest) as SplitApplyResult).ok, true);
      const forwarded = { index: 4, data: encodeShardCommand({ kind: 'command', nowMs: 25_000, argv: ['SET', key, 'v', 'PX', '1000'].map((a) => Buffer.from(a)) }) };
      assert.equal((target.apply({ kind: 'split-forward', taskId: 't1', entries: [forwarded], throughIndex: 4 }) as SplitApplyResult).ok, true);
      assert.equal(target.replica.clockMs, 25_000, 'a forwarded entry carries its own time');
      const handoff: ShardCommand = { kind: 'split-handoff', taskId: 't1', finalIndex: 6, fromIndex: 4, entries: [], sourceClockMs: 26_500 };
      assert.equal((target.apply(handoff) as SplitApplyResult).ok, true);
      // The source judged `key` expired at 26 500; so does the target, whatever its leader's clock reads.
      same(target.read(NEW_LEADER_MS, `GET ${key}`), NULL, 'the moved key expired at the source clock');
      // An older source clock never takes the target's back.
      const stale = new LogFedReplica(new ShardReplica('s3', storage.open(t, 's3').data));
      stale.write(30_000, 'SET x y');
      stale.apply({ ...reset, sourceClockMs: 1_000 });
      assert.equal(stale.replica.clockMs, 30_000);
    });
  });
}

const SPLIT = 100;
const END = 200;

/** A key of a slot in [from, end). */
function keyIn(from: number, end: number): string {
  for (let i = 0; ; i++) {
    const slot = keyHashSlot(Buffer.from(`k${i}`));
    if (slot >= from && slot < end) return `k${i}`;
  }
}

/**
 * The MultiRaft hooks a split's source leader uses: a stable point to open a range snapshot at,
 * committed entries read back from the log for forwarding, and a retention floor compaction respects.
 * One-member groups on a NodeStore over the simulation's fake LMDB, on its virtual-time scheduler.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MultiRaft, type GroupStateMachine } from '../../src/multiraft/multi-raft.js';
import type { Entry } from '../../src/raft/index.js';
import type { ShardSnapshotReader } from '../../src/storage/types.js';
import { Scheduler } from '../sim/scheduler.js';
import { openSimStore, storeOnImage } from '../sim/sim-store.js';
import { testMultiRaftConfig } from '../support/test-multi-raft-config.js';

const GROUP = 'shard_0001';
const TICK_MS = 10;

/** Records the indexes it applies. */
class AppliedList implements GroupStateMachine {
  readonly applied: number[] = [];
  apply(entry: Entry): unknown {
    this.applied.push(entry.index);
    return entry.index;
  }
  openSnapshot(): ShardSnapshotReader {
    throw new Error('a one-member group sends no snapshot');
  }
  restore(): void {
    throw new Error('a one-member group restores no snapshot');
  }
}

async function oneMemberGroup(compactAfterEntries = 1_000_000, compactKeepEntries = 0) {
  const scheduler = new Scheduler();
  const disk = openSimStore({ timers: scheduler, fsyncDelayMs: 3 });
  /** The group's log as a restart would find it: only what landed. */
  const durableLog = () => storeOnImage(disk.environment.landedImage()).openRaftLog(GROUP);
  const multiRaft = new MultiRaft(testMultiRaftConfig(1, { compactAfterEntries, compactKeepEntries }), {
    send: () => {},
    persist: () => disk.store.commitAll(),
    schedule: (fn) => void scheduler.after(0, fn),
    onFatal: (err) => assert.fail(String(err)),
  });
  const log = disk.store.openRaftLog(GROUP);
  log.bootstrap([1]);
  const machine = new AppliedList();
  multiRaft.addGroup(GROUP, log, machine);
  multiRaft.campaign(GROUP);
  const tick = (): void => {
    multiRaft.tick();
    scheduler.after(TICK_MS, tick);
  };
  scheduler.after(TICK_MS, tick);
  await scheduler.runUntil(200);
  assert.equal(multiRaft.leadership(GROUP)?.role, 'leader');
  /** Proposes `count` entries and runs until they are applied; returns their indexes. */
  const write = async (count: number): Promise<number[]> => {
    const answers = Array.from({ length: count }, (_, i) => multiRaft.propose(GROUP, Buffer.from(`w${i}`)) as Promise<number>);
    await scheduler.runUntil(scheduler.now() + 100);
    return Promise.all(answers);
  };
  return { scheduler, durableLog, multiRaft, machine, write };
}

describe('MultiRaft split hooks', () => {
  it('reads committed entries back in [lo, hi), and nothing past the commit index', async () => {
    const { multiRaft, write } = await oneMemberGroup();
    const indexes = await write(5);
    const commit = multiRaft.status(GROUP)!.commit;
    assert.equal(commit, indexes[4]);
    const entries = multiRaft.committedEntries(GROUP, indexes[1]!, indexes[3]! + 1, 1 << 20);
    assert.notEqual(entries, 'compacted');
    assert.deepEqual(
      (entries as readonly Entry[]).map((e) => e.index),
      [indexes[1], indexes[2], indexes[3]],
    );
    assert.deepEqual(
      (entries as readonly Entry[]).map((e) => Buffer.from(e.data).toString()),
      ['w1', 'w2', 'w3'],
    );
    assert.deepEqual(multiRaft.committedEntries(GROUP, commit + 1, commit + 10, 1 << 20), [], 'nothing committed there yet');
    const upToCommit = multiRaft.committedEntries(GROUP, commit, commit + 10, 1 << 20) as readonly Entry[];
    assert.deepEqual(
      upToCommit.map((e) => e.index),
      [commit],
      'hi is capped at the commit index',
    );
    assert.equal((multiRaft.committedEntries(GROUP, indexes[0]!, commit + 1, 1) as readonly Entry[]).length, 1, 'maxBytes bounds the batch (at least one entry)');
    assert.deepEqual(multiRaft.committedEntries('no-such-group', 1, 2, 1), []);
  });

  it('reads back no entry that is not durable yet, though a one-member group commits it on append', async () => {
    const { scheduler, durableLog, multiRaft, write } = await oneMemberGroup();
    const before = await write(2);
    const proposed = multiRaft.propose(GROUP, Buffer.from('in flight')) as Promise<number>;
    // The Ready is staged and its persist in flight (the fsync takes 3 ms): a crash now loses the entry.
    await scheduler.runUntil(scheduler.now() + 1);
    const durableLast = durableLog().lastIndex();
    const commit = multiRaft.status(GROUP)!.commit;
    assert.equal(durableLast, before[1], 'the earlier writes are durable');
    assert.equal(commit, durableLast + 1, 'the new entry is committed before it is durable');
    const read = multiRaft.committedEntries(GROUP, before[0]!, commit + 1, 1 << 20) as readonly Entry[];
    assert.deepEqual(
      read.map((e) => e.index),
      before,
      'only what a restart would find',
    );
    await scheduler.runUntil(scheduler.now() + 100);
    const index = await proposed;
    const after = multiRaft.committedEntries(GROUP, before[0]!, index + 1, 1 << 20) as readonly Entry[];
    assert.deepEqual(
      after.map((e) => e.index),
      [...before, index],
      'and the entry once its persist is done',
    );
  });

  it('keeps the log from the retention floor through compaction, and compacts once the floor is lifted', async () => {
    const { multiRaft, write } = await oneMemberGroup(10, 0);
    const first = await write(1);
    multiRaft.retainLogFrom(GROUP, first[0]!);
    await write(30);
    assert.equal(multiRaft.firstIndex(GROUP), first[0], 'nothing at or above the floor is compacted');
    assert.notEqual(multiRaft.committedEntries(GROUP, first[0]!, first[0]! + 1, 1 << 20), 'compacted');
    multiRaft.retainLogFrom(GROUP, undefined);
    await write(1);
    assert.ok(multiRaft.firstIndex(GROUP)! > first[0]!, `compacted past ${first[0]} (first index ${multiRaft.firstIndex(GROUP)})`);
    assert.equal(multiRaft.committedEntries(GROUP, first[0]!, first[0]! + 1, 1 << 20), 'compacted');
  });

  it('runs a stable-state callback only when every applied entry is durable and nothing of the group is in flight', async () => {
    const { scheduler, durableLog, multiRaft, machine, write } = await oneMemberGroup();
    await write(3);
    const idle = await (async () => {
      const opened = multiRaft.stableState(GROUP, (appliedIndex) => appliedIndex);
      await scheduler.runUntil(scheduler.now() + 1);
      return opened;
    })();
    assert.equal(idle, machine.applied.at(-1), 'an idle group is stable at once, at its last applied entry');

    // A write being persisted: the callback waits for the turn boundary after it is durable.
    const proposed = multiRaft.propose(GROUP, Buffer.from('late')) as Promise<number>;
    await scheduler.runUntil(scheduler.now() + 1);
    const seen: { index: number; durableApplied: number; appliedHere: number }[] = [];
    const opened = multiRaft.stableState(GROUP, (appliedIndex) => {
      seen.push({ index: appliedIndex, durableApplied: durableLog().appliedIndex(), appliedHere: machine.applied.at(-1)! });
      return appliedIndex;
    });
    assert.equal(seen.length, 0, 'not run while the proposal is being persisted');
    await scheduler.runUntil(scheduler.now() + 100);
    const index = await opened;
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.index, seen[0]!.appliedHere, 'the applied index is what the state machine holds');
    assert.equal(seen[0]!.index, seen[0]!.durableApplied, 'and it is durable');
    assert.equal(index, await proposed, 'the stable point after the persist includes the write');
  });

  it('refuses a stable state of a group it does not run', async () => {
    const { multiRaft } = await oneMemberGroup();
    await assert.rejects(
      multiRaft.stableState('no-such-group', () => 1),
      /removed/,
    );
  });
});

/**
 * The membership a compaction records: the one in force at the compaction point, also when several
 * membership changes are applied in one Ready (the replay after a restart, a follower catching up).
 * MultiRaft over the real Raft log store (LMDB in a temporary directory), restarted by reopening it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../../src/common/poll.js';
import { MultiRaft, type GroupStateMachine } from '../../src/multiraft/multi-raft.js';
import type { ConfChange, ConfState } from '../../src/raft/index.js';
import { NodeStore } from '../../src/storage/node-store.js';
import type { ShardSnapshotReader } from '../../src/storage/types.js';

const GROUP = 'shard_0001';
const WAIT_MS_MAX = 5_000;
const ELECTION_TICKS = 10;

/** Applies nothing: the test is about the log and its membership. */
const NO_STATE: GroupStateMachine = {
  apply: () => undefined,
  openSnapshot: (): ShardSnapshotReader => {
    throw new Error('no snapshot is sent');
  },
  restore: () => {
    throw new Error('no snapshot is received');
  },
};

function until(condition: () => boolean, what: string): Promise<void> {
  return pollUntil(condition, { what, timeoutMs: WAIT_MS_MAX, intervalMs: 1 });
}

/** Node 1 running the group from the store in `dir`; compaction and the bytes of committed entries per Ready as given. */
function start(dir: string, compactAfterEntries: number, compactKeepEntries: number, maxSizePerMsgBytes: number) {
  const store = NodeStore.open(dir);
  const log = store.openRaftLog(GROUP);
  if (log.lastIndex() === 0) log.bootstrap([1]);
  const multiRaft = new MultiRaft(
    {
      id: 1,
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: 1,
      random: () => 0.5,
      requestTimeoutTicks: 1000,
      snapshotChunkBytes: 1024,
      snapshotIdleTicks: 100,
      compactAfterEntries,
      compactKeepEntries,
      maxSizePerMsgBytes,
    },
    { send: () => {}, persist: () => store.commitAll(), schedule: (fn) => void setImmediate(fn), onFatal: (err) => assert.fail(String(err)) },
  );
  multiRaft.addGroup(GROUP, log, NO_STATE);
  const stop = async (): Promise<void> => {
    multiRaft.close();
    await store.close();
  };
  return { multiRaft, stop };
}

/**
 * How the replay after a restart is cut into Readies: all of it in one (both changes together), or one
 * entry each (Raft's membership lags the state machine's applied index until the replay is done).
 */
const REPLAYS = [
  { name: 'in one Ready', maxSizePerMsgBytes: 1024 * 1024 },
  { name: 'one entry per Ready', maxSizePerMsgBytes: 1 },
];

for (const { name, maxSizePerMsgBytes } of REPLAYS) {
  test(`a compaction between two membership changes replayed ${name} records the membership in force there`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cleave-multi-raft-compaction-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const change = (type: ConfChange['type']): ConfChange => ({ type, nodeId: 2, context: new Uint8Array(0) });
    const learner: ConfState = { voters: [1], learners: [2] };
    const promoted: ConfState = { voters: [1, 2], learners: [] };

    // Node 1 alone: writes, node 2 added as a learner at index 8, writes, node 2 promoted at index 29; no compaction.
    const first = start(dir, 1_000_000, 0, maxSizePerMsgBytes);
    first.multiRaft.campaign(GROUP);
    await until(() => first.multiRaft.leadership(GROUP)?.role === 'leader', 'node 1 to lead');
    const applied = (): number => first.multiRaft.status(GROUP)!.applied;
    const writeThrough = async (index: number): Promise<void> => {
      while (first.multiRaft.status(GROUP)!.lastIndex < index) void first.multiRaft.propose(GROUP, Buffer.from('w'));
      await until(() => applied() >= index, `entry ${index} to apply`);
    };
    await writeThrough(7);
    assert.deepEqual(first.multiRaft.proposeConfChange(GROUP, change('addLearner')), { ok: true });
    await until(() => applied() >= 8, 'the learner to be added');
    await writeThrough(28);
    assert.deepEqual(first.multiRaft.proposeConfChange(GROUP, change('promoteLearner')), { ok: true });
    await until(() => applied() >= 29, 'the learner to be promoted');
    assert.deepEqual(first.multiRaft.confState(GROUP), promoted);
    assert.equal(first.multiRaft.firstIndex(GROUP), 2, 'nothing compacted yet');
    await first.stop();

    // Restarted with compaction on: after the replay the log is compacted at 29 - 10 = 19.
    const second = start(dir, 10, 10, maxSizePerMsgBytes);
    await until(() => second.multiRaft.status(GROUP)!.applied >= 29 && second.multiRaft.firstIndex(GROUP)! > 19, 'the log to be compacted');
    assert.equal(second.multiRaft.firstIndex(GROUP), 20);
    assert.deepEqual(second.multiRaft.confState(GROUP), promoted);
    await second.stop();

    const store = NodeStore.open(dir);
    const stored = store.openRaftLog(GROUP).initialState().confState;
    await store.close();
    assert.deepEqual(stored, learner, 'the compaction at 19 records node 2 as the learner it was there');

    // Restarted again: the promotion at 29 is replayed on top of that, and node 1 cannot lead alone.
    const third = start(dir, 10, 10, maxSizePerMsgBytes);
    t.after(() => third.stop());
    await until(() => third.multiRaft.status(GROUP)!.applied >= 29, 'the replay');
    assert.deepEqual(third.multiRaft.confState(GROUP), promoted);
    for (let i = 0; i < 3 * ELECTION_TICKS; i++) {
      third.multiRaft.tick();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.notEqual(third.multiRaft.leadership(GROUP)?.role, 'leader', 'one vote of two is no majority');
  });
}

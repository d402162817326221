/**
 * A leader is reported to the pilot only once its leadership would survive a crash: a one-member group
 * elects itself before its bootstrap and its first entry are on disk, and a restart then finds an empty
 * log. Simulation seed 30325 lost a shard that way: the pilot recorded the leader, the founder restarted
 * empty under a changed epoch, and nobody started the group again.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MultiRaft, type GroupStateMachine } from '../../src/multiraft/multi-raft.js';
import type { ShardSnapshotReader } from '../../src/storage/types.js';
import { Scheduler } from '../sim/scheduler.js';
import { openSimStore, storeOnImage } from '../sim/sim-store.js';
import { testMultiRaftConfig } from '../support/test-multi-raft-config.js';

const GROUP = 'shard_0001';
const FSYNC_MS = 50;

class NoMachine implements GroupStateMachine {
  apply(): unknown {
    return undefined;
  }
  openSnapshot(): ShardSnapshotReader {
    throw new Error('a one-member group sends no snapshot');
  }
  restore(): void {
    throw new Error('a one-member group restores no snapshot');
  }
}

describe('MultiRaft: durable leadership', () => {
  it('a one-member leader leads durably only once its bootstrap and an entry of its term are on disk', async () => {
    const scheduler = new Scheduler();
    const disk = openSimStore({ timers: scheduler, fsyncDelayMs: FSYNC_MS });
    const multiRaft = new MultiRaft(testMultiRaftConfig(1), {
      send: () => {},
      persist: () => disk.store.commitAll(),
      schedule: (fn) => void scheduler.after(0, fn),
      onFatal: (err) => assert.fail(String(err)),
    });
    const log = disk.store.openRaftLog(GROUP);
    log.bootstrap([1]);
    multiRaft.addGroup(GROUP, log, new NoMachine());
    multiRaft.campaign(GROUP);
    await scheduler.runUntil(1);

    const leadership = multiRaft.leadership(GROUP)!;
    assert.equal(leadership.role, 'leader', 'a lone voter elects itself at once');
    const onDisk = storeOnImage(disk.environment.landedImage()).openRaftLog(GROUP);
    assert.equal(onDisk.lastIndex(), 0, 'a restart now would find an empty log');
    assert.equal(multiRaft.leadsDurably(GROUP), false);

    await scheduler.runUntil(FSYNC_MS * 4);
    const landed = storeOnImage(disk.environment.landedImage()).openRaftLog(GROUP);
    assert.equal(landed.term(landed.lastIndex()), leadership.term, 'an entry of the leader term is on disk');
    assert.equal(multiRaft.leadsDurably(GROUP), true);
    assert.equal(multiRaft.leadsDurably('no-such-group'), false);
  });
});

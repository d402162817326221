/**
 * An entry applied in slices (SlicedApply): one slice per turn, so ticks and heartbeats go on and no
 * leadership moves while it takes seconds; its proposer hears its result once the last slice ran, past
 * the request timeout (the outcome is known once it is under way); a read and later entries wait for
 * it, so nobody sees part of it.
 * MultiRafts over NodeStores on the simulation's fake LMDB, virtual-time scheduler and network; each scheduled
 * turn takes a virtual millisecond, as a slice of real work does.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SlicedApply } from '../../src/common/sliced-apply.js';
import type { Entry, NodeId } from '../../src/raft/index.js';
import { multiRaftCluster } from '../support/multi-raft-cluster.js';
import { NoData } from '../support/no-data.js';

const GROUP = 'shard_0001';
const TURN_MS = 1;
/** Requests time out after this many ticks: fewer than the large entry's slices take, more than the wait of those behind it. */
const REQUEST_TIMEOUT_TICKS = 200;
/** Slices of the large entry: at TURN_MS each, thirty election timeouts. */
const SLICES = 3_000;

/** Applies an entry whose first byte is 1 in SLICES slices, others at once; records when each finished. */
class SlicedMachine extends NoData {
  readonly finished: { index: number; atMs: number }[] = [];
  /** Slices run so far of the entry being applied in slices. */
  slicesRun = 0;

  constructor(private readonly now: () => number) {
    super();
  }

  override apply(entry: Entry): unknown {
    if (entry.data[0] !== 1) {
      this.finished.push({ index: entry.index, atMs: this.now() });
      return entry.index;
    }
    const machine = this;
    machine.slicesRun = 0;
    return new SlicedApply(
      (function* (): Generator<void, unknown, void> {
        for (; machine.slicesRun < SLICES; machine.slicesRun++) yield;
        machine.finished.push({ index: entry.index, atMs: machine.now() });
        return `sliced ${entry.index}`;
      })(),
    );
  }
}

async function cluster() {
  const { scheduler, node, machine } = await multiRaftCluster({
    groups: [GROUP],
    machine: (_id, scheduler) => new SlicedMachine(() => scheduler.now()),
    turnMs: TURN_MS,
    requestTimeoutTicks: REQUEST_TIMEOUT_TICKS,
  });
  return { scheduler, node, machine: (id: NodeId) => machine(id) as SlicedMachine };
}

describe('MultiRaft: an entry applied in slices', () => {
  it('runs a slice per turn while every leadership holds, answers after the last, and holds reads and later entries until then', async () => {
    const { scheduler, node, machine } = await cluster();
    const before = ([1, 2, 3] as NodeId[]).map((id) => node(id).leadership(GROUP));
    const outcomes: string[] = [];
    const large = node(1).propose(GROUP, new Uint8Array([1]));
    void large.then((result) => outcomes.push(`large: ${String(result)} at ${scheduler.now()}`));
    // Halfway through its slices on the leader: a read, and a small write behind it.
    await scheduler.runUntil(scheduler.now() + (SLICES * TURN_MS) / 2);
    assert.ok(machine(1).slicesRun > 0 && machine(1).slicesRun < SLICES, `the leader is slicing (${machine(1).slicesRun} of ${SLICES} slices ran)`);
    const read = node(1).readBarrier(GROUP);
    void read.then(() => outcomes.push(`read at ${scheduler.now()}`));
    const small = node(1).propose(GROUP, new Uint8Array([0]));
    void small.then((result) => outcomes.push(`small: ${String(result)} at ${scheduler.now()}`));

    await scheduler.runUntil(scheduler.now() + 2 * SLICES * TURN_MS);
    const largeIndex = machine(1).finished.at(-2)!.index;
    const largeDoneMs = machine(1).finished.at(-2)!.atMs;
    assert.deepEqual(
      outcomes.map((o) => o.replace(/ at \d+$/, '')),
      [`large: sliced ${largeIndex}`, 'read', `small: ${largeIndex + 1}`],
    );
    for (const outcome of outcomes) assert.ok(Number(outcome.split(' at ')[1]) >= largeDoneMs, `${outcome}: not before the large entry finished at ${largeDoneMs}`);
    // Every replica applied both, in log order.
    for (const id of [1, 2, 3] as NodeId[])
      assert.deepEqual(
        machine(id)
          .finished.slice(-2)
          .map((f) => f.index),
        [largeIndex, largeIndex + 1],
        `node ${id}`,
      );
    assert.deepEqual(
      ([1, 2, 3] as NodeId[]).map((id) => node(id).leadership(GROUP)),
      before,
    );
  });
});

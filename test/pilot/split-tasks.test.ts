/** The pilot's split tasks as its pure state machine records them: creation, limits, phases, switch, rollback, cancel. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SPLIT_PARAMS_DEFAULT } from '../../src/split/types.js';
import type { CreateSplitCommand, PilotCommand, PilotRejectionReason, SplitProgressCommand } from '../../src/pilot/commands.js';
import { applyPilotCommand, DEFAULT_KEYSPACE, INITIAL_PILOT_STATE, type PilotState } from '../../src/pilot/state.js';

function apply(state: PilotState, command: PilotCommand): PilotState {
  const { state: next, result } = applyPilotCommand(state, command);
  assert.equal(result.ok, true, `${command.kind} refused: ${JSON.stringify(result)}`);
  return next;
}

function refused(state: PilotState, command: PilotCommand, reason: PilotRejectionReason): void {
  const { state: next, result } = applyPilotCommand(state, command);
  assert.equal(result.ok, false, `${command.kind} accepted`);
  assert.equal(!result.ok && result.reason, reason);
  assert.equal(next, state, 'a refused command leaves the state as it was');
}

/** `nodes` nodes and the default keyspace, `shardsPerNode` shards per node with `replicas` replicas each. */
function cluster(nodes: number, shardsPerNode: number, replicas: number): PilotState {
  let state = INITIAL_PILOT_STATE;
  for (let n = 1; n <= nodes; n++) {
    state = apply(state, {
      kind: 'register-node',
      clusterId: n.toString(16).padStart(40, '0'),
      host: '127.0.0.1',
      port: 17000 + n,
      busPort: 27000 + n,
      metricsPort: 0,
      pid: n,
      atMs: n,
    });
  }
  return apply(state, { kind: 'bootstrap-keyspace', keyspace: DEFAULT_KEYSPACE, shardsPerNode, replicas, atMs: 10 });
}

const create = (sourceShard: string, extra: Partial<CreateSplitCommand> = {}): CreateSplitCommand => ({
  kind: 'create-split',
  sourceShard,
  params: SPLIT_PARAMS_DEFAULT,
  maxSplits: 1,
  maxSplitsPerNode: 1,
  atMs: 100,
  ...extra,
});

const progress = (taskId: string, status: SplitProgressCommand['status'], extra: Partial<SplitProgressCommand> = {}): SplitProgressCommand => ({
  kind: 'split-progress',
  taskId,
  status,
  atMs: 200,
  ...extra,
});

describe('split tasks in the pilot state', () => {
  it('creating a split lists the target, serving nothing, right after the marked source', () => {
    const before = cluster(3, 2, 3);
    const { state, result } = applyPilotCommand(before, create('shard_0001', { splitSlot: 1000 }));
    assert.deepEqual(result, { ok: true, taskId: 'split_1', sourceShard: 'shard_0001', targetShard: 'shard_0007' });
    assert.equal(state.routingVersion, before.routingVersion + 1);
    const [source, target] = state.shards;
    assert.equal(source!.id, 'shard_0001');
    assert.deepEqual(source!.split, { taskId: 'split_1', role: 'source', peer: 'shard_0007', splitSlot: 1000, params: SPLIT_PARAMS_DEFAULT });
    assert.equal(target!.id, 'shard_0007');
    assert.equal(target!.start, target!.end, 'the target serves no slot yet');
    assert.equal(target!.start, 1000);
    assert.equal(target!.split?.role, 'target');
    assert.equal(target!.replicas.length, 3);
    assert.equal(state.splitTasks?.[0]?.status, 'preparing');
    assert.equal(state.splitTasks?.[0]?.phases.preparing, 100);
  });

  it('refuses what seed 000 and seed 003 rule out', () => {
    const state = cluster(4, 2, 1);
    refused(state, create('shard_9999'), 'unknown-shard');
    refused(state, create('shard_0001', { splitSlot: 0 }), 'invalid-argument');
    refused(state, create('shard_0001', { splitSlot: state.shards[0]!.end }), 'invalid-argument');
    refused(state, create('shard_0001', { targetNodes: ['node9'] }), 'unknown-node');
    refused(state, create('shard_0001', { targetNodes: ['node2', 'node2'] }), 'invalid-argument');
    refused(state, create('shard_0001', { targetShardId: 'shard_0002' }), 'shard-exists');
    const one = apply(state, create('shard_0001', { targetNodes: ['node2'] }));
    refused(one, create('shard_0001'), 'already-splitting');
    // The cluster limit, then the per-node limit: shard_0005 is on node1, which the first split uses.
    refused(one, create('shard_0004', { targetNodes: ['node4'] }), 'too-many-splits');
    const roomy = { maxSplits: 5, maxSplitsPerNode: 1 };
    const source5 = one.shards.find((s) => s.id === 'shard_0005')!;
    assert.deepEqual(source5.replicas, ['node1']);
    refused(one, create('shard_0005', { ...roomy, targetNodes: ['node3'] }), 'too-many-splits');
    const two = apply(one, create('shard_0003', { ...roomy, targetNodes: ['node4'] }));
    assert.equal(two.splitTasks?.filter((t) => t.status === 'preparing').length, 2);
  });

  it('the target goes to the least loaded nodes by default', () => {
    let state = cluster(3, 1, 1);
    state = apply(state, { kind: 'register-node', clusterId: 'f'.repeat(40), host: '127.0.0.1', port: 18000, busPort: 28000, metricsPort: 0, pid: 9, atMs: 50 });
    const after = apply(state, create('shard_0001'));
    assert.deepEqual(after.shards.find((s) => s.id === 'shard_0004')!.replicas, ['node4']);
  });

  it('phases move forward; the switch gives the target its range; completion ends the task', () => {
    let state = apply(cluster(3, 2, 3), create('shard_0001'));
    const sourceBefore = state.shards[0]!;
    refused(state, progress('split_1', 'completed'), 'split-switched');
    state = apply(state, progress('split_1', 'snapshot_transfer', { splitSlot: 1365 }));
    assert.equal(state.splitTasks![0]!.splitSlot, 1365);
    assert.equal(state.shards[1]!.start, 1365, 'the chosen slot reaches the target');
    assert.equal(state.shards[0]!.split?.splitSlot, 1365);
    state = apply(state, progress('split_1', 'catching_up'));
    // A repeated report changes nothing, not even the version.
    const again = applyPilotCommand(state, progress('split_1', 'catching_up'));
    assert.deepEqual(again.result, { ok: true, taskId: 'split_1', changed: false });
    assert.equal(again.state, state);
    refused(state, progress('split_1', 'preparing'), 'split-switched');
    state = apply(state, progress('split_1', 'buffering'));
    state = apply(state, progress('split_1', 'switching'));
    refused(state, progress('split_1', 'failed', { reason: 'late' }), 'split-switched');
    refused(state, { kind: 'cancel-split', taskId: 'split_1', atMs: 1 }, 'split-switched');
    const version = state.routingVersion;
    state = apply(state, progress('split_1', 'cleanup'));
    assert.equal(state.routingVersion, version + 1);
    const [source, target] = state.shards;
    assert.deepEqual([source!.start, source!.end, source!.epoch], [sourceBefore.start, 1365, sourceBefore.epoch + 1]);
    // The source stays marked until its cleanup is done, so a new leader of it finishes the cleanup.
    assert.equal(source!.split?.role, 'source');
    assert.deepEqual([target!.start, target!.end, target!.epoch, target!.split], [1365, sourceBefore.end, 2, undefined]);
    refused(state, create('shard_0001'), 'already-splitting');
    state = apply(state, progress('split_1', 'completed'));
    assert.equal(state.routingVersion, version + 2);
    assert.equal(state.shards[0]!.split, undefined);
    const task = state.splitTasks![0]!;
    assert.equal(task.status, 'completed');
    assert.deepEqual(Object.keys(task.phases), ['preparing', 'snapshot_transfer', 'catching_up', 'buffering', 'switching', 'cleanup', 'completed']);
    // The next split may start.
    apply(state, create('shard_0002'));
  });

  it('a rollback drops the target and unmarks the source; cancel asks for one through the routing table', () => {
    let state = apply(cluster(3, 2, 3), create('shard_0001'));
    state = apply(state, progress('split_1', 'snapshot_transfer', { splitSlot: 500 }));
    const version = state.routingVersion;
    state = apply(state, { kind: 'cancel-split', taskId: 'split_1', atMs: 300 });
    assert.equal(state.routingVersion, version + 1);
    assert.equal(state.shards[0]!.split?.cancelRequested, true);
    assert.equal(state.splitTasks![0]!.cancelRequested, true);
    state = apply(state, progress('split_1', 'cancelled'));
    assert.equal(state.shards.length, 6);
    assert.equal(state.shards[0]!.split, undefined);
    assert.equal(state.shards[0]!.end, 2731, 'the source keeps its whole range');
    refused(state, { kind: 'cancel-split', taskId: 'split_1', atMs: 400 }, 'split-switched');
    refused(state, { kind: 'cancel-split', taskId: 'split_9', atMs: 400 }, 'unknown-split');

    let failed = apply(apply(state, create('shard_0002')), progress('split_2', 'failed', { reason: 'buffer timeout' }));
    assert.equal(failed.splitTasks!.at(-1)!.reason, 'buffer timeout');
    assert.equal(failed.shards.length, 6);
    failed = apply(failed, create('shard_0002'));
    assert.equal(failed.splitTasks!.at(-1)!.id, 'split_3', 'task ids are never reused');
  });

  it("never gives a shard id again: a rolled-back target's id is refused, and generated ids skip every id used", () => {
    let state = apply(cluster(3, 2, 3), create('shard_0001', { targetShardId: 'orders_b' }));
    state = apply(state, progress('split_1', 'failed', { reason: 'target timeout' }));
    assert.equal(
      state.shards.some((s) => s.id === 'orders_b'),
      false,
    );
    refused(state, create('shard_0001', { targetShardId: 'orders_b' }), 'shard-exists');
    // An id chosen by hand that a later generated id would have matched.
    state = apply(state, create('shard_0001', { targetShardId: 'shard_0007' }));
    state = apply(state, progress('split_2', 'cancelled'));
    const { result } = applyPilotCommand(state, create('shard_0002'));
    assert.equal(result.ok && result.targetShard, 'shard_0008');
  });
});

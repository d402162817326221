/** The scheduler driver on a fake pilot and a hand-driven clock: who runs rounds, what they propose, what is recorded. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Environment } from '../../src/common/environment.js';
import { createLogger } from '../../src/common/logger.js';
import type { RoutingShard } from '../../src/common/routing.js';
import type { PilotRejection } from '../../src/pilot/commands.js';
import { PilotEventLog } from '../../src/pilot/event-log.js';
import { NodeLiveness } from '../../src/pilot/liveness.js';
import type { PilotNode, PilotState } from '../../src/pilot/pilot-state.js';
import { SCHEDULE_INTERVAL_MS, SCHEDULERS_ENABLED_DEFAULT, SchedulerDriver, type ScheduledPilot } from '../../src/pilot/scheduler-driver.js';
import { SCHEDULER_CONFIG_DEFAULT } from '../../src/pilot/schedulers/types.js';
import { INITIAL_PILOT_STATE } from '../../src/pilot/state.js';

const NODES = ['node1', 'node2', 'node3'];

function pilotNode(id: string): PilotNode {
  return { id, clusterId: id, host: '127.0.0.1', port: 7000, busPort: 17000, metricsPort: 0, pid: 1, registeredAtMs: 0, joinedAtMs: 0 };
}

/** Three shards on three nodes, every one led by node1, shard_02 at epoch 7. */
function skewedState(): PilotState {
  const shard = (id: string, start: number, end: number, epoch: number): RoutingShard => ({
    id,
    keyspace: 'default',
    start,
    end,
    epoch,
    leader: 'node1',
    leaderTerm: 1,
    replicas: NODES,
  });
  return { ...INITIAL_PILOT_STATE, nodes: NODES.map(pilotNode), shards: [shard('shard_01', 0, 5000, 3), shard('shard_02', 5000, 10000, 7), shard('shard_03', 10000, 16384, 2)] };
}

interface ReplicaCall {
  readonly shardId: string;
  readonly action: string;
  readonly nodeId: string;
  readonly epoch: number | undefined;
}

function fakePilot(refuse: boolean): ScheduledPilot & { serving: boolean; readonly calls: ReplicaCall[] } {
  const state = skewedState();
  const liveness = new NodeLiveness(3000, 0);
  for (const id of NODES) liveness.recordHeartbeat(id, [], 0);
  const calls: ReplicaCall[] = [];
  return {
    serving: true,
    state,
    liveness,
    events: new PilotEventLog(),
    calls,
    changeShardReplicas: async (shardId, action, nodeId, epoch) => {
      calls.push({ shardId, action, nodeId, epoch });
      if (refuse) return { ok: false, reason: 'stale-epoch', message: `${shardId} is at epoch 8, not ${epoch}` } as PilotRejection;
      return { ok: true, shard: state.shards.find((s) => s.id === shardId)! };
    },
    createSplit: async () => assert.fail('no split scheduler runs by default'),
  };
}

/** A clock at 1000 ms whose repeating timers fire only when the test says. */
function manualEnvironment(): Environment & { readonly timers: { ms: number; fn: () => void }[] } {
  const timers: { ms: number; fn: () => void }[] = [];
  return {
    timers,
    now: () => 1000,
    random: () => 0,
    after: () => () => {},
    every: (ms, fn) => {
      const timer = { ms, fn };
      timers.push(timer);
      return () => void timers.splice(timers.indexOf(timer), 1);
    },
    soon: (fn) => void setImmediate(fn),
    sleep: async () => {},
    halt: (reason) => assert.fail(reason),
  };
}

function driverOn(pilot: ScheduledPilot, env: Environment): SchedulerDriver {
  return new SchedulerDriver(pilot, env, createLogger('test', {}), { intervalMs: SCHEDULE_INTERVAL_MS, enabled: SCHEDULERS_ENABLED_DEFAULT, scheduling: SCHEDULER_CONFIG_DEFAULT });
}

describe('scheduler driver', () => {
  it('runs a round every interval of the environment, and none once stopped', () => {
    const env = manualEnvironment();
    const driver = driverOn(fakePilot(false), env);
    driver.start();
    assert.deepEqual(
      env.timers.map((t) => t.ms),
      [SCHEDULE_INTERVAL_MS],
    );
    driver.stop();
    assert.equal(env.timers.length, 0);
  });

  it('does nothing on a replica that is not the serving leader', async () => {
    const pilot = fakePilot(false);
    pilot.serving = false;
    await driverOn(pilot, manualEnvironment()).round();
    assert.deepEqual(pilot.calls, []);
    assert.equal(pilot.events.size, 0);
  });

  it("transfers leaders off the node leading all three shards through changeShardReplicas with each shard's epoch, and records why", async () => {
    const pilot = fakePilot(false);
    await driverOn(pilot, manualEnvironment()).round();
    assert.deepEqual(pilot.calls, [
      { shardId: 'shard_01', action: 'transfer_leader', nodeId: 'node2', epoch: 3 },
      { shardId: 'shard_02', action: 'transfer_leader', nodeId: 'node3', epoch: 7 },
    ]);
    const { events } = pilot.events.since(0, 100);
    assert.deepEqual(
      events.map((e) => (e.kind === 'scheduler-operator' ? [e.scheduler, e.operator, e.shard_id, e.node_id, e.outcome, e.detail, e.at_ms] : e.kind)),
      [
        ['leader-rebalance', 'transfer-leader', 'shard_01', 'node2', 'executed', null, 1000],
        ['leader-rebalance', 'transfer-leader', 'shard_02', 'node3', 'executed', null, 1000],
      ],
    );
    for (const event of events) assert.ok(event.kind === 'scheduler-operator' && event.reason.length > 0);
  });

  it('records a refused operator with the refusal and does not retry it within the round', async () => {
    const pilot = fakePilot(true);
    await driverOn(pilot, manualEnvironment()).round();
    assert.deepEqual(
      pilot.calls.map((c) => c.shardId),
      ['shard_01', 'shard_02'],
    );
    assert.deepEqual(
      pilot.events.since(0, 100).events.map((e) => (e.kind === 'scheduler-operator' ? [e.shard_id, e.outcome, e.detail] : e.kind)),
      [
        ['shard_01', 'refused', 'shard_01 is at epoch 8, not 3'],
        ['shard_02', 'refused', 'shard_02 is at epoch 8, not 7'],
      ],
    );
  });
});

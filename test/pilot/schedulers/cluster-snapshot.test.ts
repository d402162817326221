/** The schedulers' snapshot of the pilot's state, heartbeat statistics and kept ops/s samples. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoutingShard } from '../../../src/common/routing.js';
import type { PilotNode, PilotState, SplitTask } from '../../../src/pilot/pilot-state.js';
import { clusterSnapshot, keptOpsSamples, type NodeLivenessView, type SnapshotSources } from '../../../src/pilot/schedulers/cluster-snapshot.js';
import { INITIAL_PILOT_STATE } from '../../../src/pilot/state.js';
import { SPLIT_PARAMS_DEFAULT } from '../../../src/split/types.js';

const NOW_MS = 1_000_000;

function pilotNode(id: string, joinedAtMs = 10): PilotNode {
  return { id, clusterId: id, host: '127.0.0.1', port: 7000, busPort: 17000, metricsPort: 0, pid: 1, registeredAtMs: 0, joinedAtMs };
}

function routingShard(id: string, start: number, end: number, leader: string | null, more: Partial<RoutingShard> = {}): RoutingShard {
  return { id, keyspace: 'default', start, end, epoch: 1, leader, replicas: ['node1', 'node2', 'node3'], ...more };
}

function splitTask(more: Partial<SplitTask>): SplitTask {
  return {
    id: 'split_1',
    keyspace: 'default',
    sourceShard: 'shard_01',
    targetShard: 'shard_03',
    splitSlot: 4096,
    targetNodes: ['node4'],
    status: 'catching_up',
    reason: null,
    cancelRequested: false,
    createdAtMs: 100,
    updatedAtMs: 200,
    phases: {},
    params: SPLIT_PARAMS_DEFAULT,
    ...more,
  };
}

function sources(state: Partial<PilotState>, more: Partial<SnapshotSources> = {}): SnapshotSources {
  return {
    nowMs: NOW_MS,
    state: { ...INITIAL_PILOT_STATE, nodes: ['node1', 'node2', 'node3'].map((id) => pilotNode(id)), ...state },
    liveness: new Map(),
    stats: new Map(),
    opsSamples: new Map(),
    ...more,
  };
}

const TWO_SHARDS = [routingShard('shard_01', 0, 8192, 'node1'), routingShard('shard_02', 8192, 16384, null)];

describe('cluster snapshot', () => {
  const cases: { name: string; sources: SnapshotSources; expected: (s: ReturnType<typeof clusterSnapshot>) => unknown; equals: unknown }[] = [
    {
      name: 'the clock is the one given',
      sources: sources({ shards: TWO_SHARDS }),
      expected: (s) => s.nowMs,
      equals: NOW_MS,
    },
    {
      name: 'nodes keep registration order; one not heard from for too long is down since it was last seen, one never heard from since it joined',
      sources: sources(
        { nodes: [pilotNode('node1'), pilotNode('node2'), pilotNode('node3', 77)] },
        {
          liveness: new Map<string, NodeLivenessView>([
            ['node1', { up: true, lastSeenMs: NOW_MS }],
            ['node2', { up: false, lastSeenMs: 500 }],
            ['node3', { up: false, lastSeenMs: undefined }],
          ]),
        },
      ),
      expected: (s) => s.nodes,
      equals: [
        { id: 'node1', state: 'up', downSinceMs: undefined },
        { id: 'node2', state: 'down', downSinceMs: 500 },
        { id: 'node3', state: 'down', downSinceMs: 77 },
      ],
    },
    {
      name: 'a shard carries its range, replicas and leader from the routing table, and no leader while none is known',
      sources: sources({ shards: TWO_SHARDS }),
      expected: (s) => s.shards.map((x) => [x.id, x.keyspace, x.slots.start, x.slots.end, x.replicas, x.leader]),
      equals: [
        ['shard_01', 'default', 0, 8192, ['node1', 'node2', 'node3'], 'node1'],
        ['shard_02', 'default', 8192, 16384, ['node1', 'node2', 'node3'], undefined],
      ],
    },
    {
      name: 'a shard takes bytes, keys and last access from its reported statistics and its kept samples; without any, zeros and no samples',
      sources: sources(
        { shards: TWO_SHARDS },
        {
          stats: new Map([['shard_01', { shard_id: 'shard_01', keys: 12, bytes: 3400, ops_per_sec: 90, last_access_ms: 999 }]]),
          opsSamples: new Map([
            [
              'shard_01',
              [
                { atMs: 1, opsPerSec: 80 },
                { atMs: 2, opsPerSec: 90 },
              ],
            ],
          ]),
        },
      ),
      expected: (s) => s.shards.map((x) => [x.bytes, x.keys, x.lastAccessMs, x.opsSamples]),
      equals: [
        [
          3400,
          12,
          999,
          [
            { atMs: 1, opsPerSec: 80 },
            { atMs: 2, opsPerSec: 90 },
          ],
        ],
        [0, 0, 0, []],
      ],
    },
    {
      name: 'an outstanding split is a task in flight over both shards and the nodes of either, and marks both shards',
      sources: sources({
        nodes: ['node1', 'node2', 'node3', 'node4'].map((id) => pilotNode(id)),
        shards: [
          routingShard('shard_01', 0, 8192, 'node1', { split: { taskId: 'split_1', role: 'source', peer: 'shard_03', splitSlot: 8192, params: SPLIT_PARAMS_DEFAULT } }),
          routingShard('shard_03', 8192, 8192, null, { replicas: ['node4'] }),
          routingShard('shard_02', 8192, 16384, 'node2'),
        ],
        splitTasks: [splitTask({})],
      }),
      expected: (s) => [s.tasks, s.shards.map((x) => [x.id, x.inTask])],
      equals: [
        [{ kind: 'split', shardIds: ['shard_01', 'shard_03'], nodeIds: ['node1', 'node2', 'node3', 'node4'] }],
        [
          ['shard_01', true],
          ['shard_03', true],
          ['shard_02', false],
        ],
      ],
    },
    {
      name: 'a finished split is no task; the switch of the newest gave both shards their range, a rolled back one gave none',
      sources: sources({
        shards: TWO_SHARDS,
        splitTasks: [
          splitTask({ id: 'split_1', sourceShard: 'shard_01', targetShard: 'shard_02', status: 'completed', phases: { cleanup: 300, completed: 400 } }),
          splitTask({ id: 'split_2', sourceShard: 'shard_01', targetShard: 'shard_09', status: 'cancelled', phases: { cancelled: 900 } }),
        ],
      }),
      expected: (s) => [s.tasks, s.shards.map((x) => [x.id, x.splitAtMs, x.inTask])],
      equals: [
        [],
        [
          ['shard_01', 300, false],
          ['shard_02', 300, false],
        ],
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(c.expected(clusterSnapshot(c.sources)), c.equals);
    });
  }
});

describe('kept ops/s samples', () => {
  const s = (atMs: number, opsPerSec = 1) => ({ atMs, opsPerSec });
  const cases = [
    { name: 'a newer sample is appended', samples: [s(100)], sample: s(200, 5), nowMs: 200, expected: [s(100), s(200, 5)] },
    { name: 'a report seen again is not appended twice', samples: [s(100), s(200)], sample: s(200), nowMs: 300, expected: [s(100), s(200)] },
    {
      name: 'samples older than the window go, all but the newest of them',
      samples: [s(100), s(200), s(300)],
      sample: s(400),
      nowMs: 1250,
      windowMs: 1000,
      expected: [s(200), s(300), s(400)],
    },
    { name: 'with every sample older than the window, the newest stays', samples: [s(100)], sample: s(100), nowMs: 5000, windowMs: 1000, expected: [s(100)] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(keptOpsSamples(c.samples, c.sample, c.nowMs, c.windowMs ?? 10_000), c.expected);
    });
  }
});

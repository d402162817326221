/**
 * A shard listed on this node again while its dropped copy is still being deleted: the node starts the
 * replica once the deletion is durable, rather than failing to open a shard that is being dropped (which
 * left the routing table's update half applied and the replica never started). A drop that fails on disk
 * is logged and the node serves its other shards on, rather than dying of an unhandled rejection; so is
 * a failed write of the replica id a replica runs under. A learner given a new replica id that never
 * hears of its old id's removal rejoins under the new id once unspoken to past the grace, rather than
 * running the old id for good while the group waits for the new one.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { systemEnvironment } from '../../src/common/environment.js';
import { freePort } from '../../src/common/free-ports.js';
import { pollUntil } from '../../src/common/poll.js';
import type { RoutingShard, RoutingTable } from '../../src/common/routing.js';
import { SLOT_COUNT } from '../../src/common/slots.js';
import { RoutingView, DEFAULT_KEYSPACE } from '../../src/node/routing-view.js';
import { SHARD_GROUP_LIMITS_DEFAULT, ShardGroups, type ShardGroupsOptions } from '../../src/node/shard-groups.js';
import { OK, type Reply } from '../../src/resp/reply.js';
import { NodeStore } from '../../src/storage/node-store.js';
import { Transport } from '../../src/transport/transport.js';

const SELF = 'node1';
const SHARD: RoutingShard = { id: 's1', keyspace: DEFAULT_KEYSPACE, start: 0, end: SLOT_COUNT, epoch: 1, leader: SELF, replicas: [SELF] };

/** Nobody listens there: a peer on it never answers. */
const SILENT_PEER_BUS_PORT = 1;

function viewOf(version: number, shards: readonly RoutingShard[], busPort: number): RoutingView {
  const nodes: RoutingTable['nodes'] = [
    { id: SELF, clusterId: 'a'.repeat(40), host: '127.0.0.1', port: 1, busPort },
    { id: 'node2', clusterId: 'b'.repeat(40), host: '127.0.0.1', port: 2, busPort: SILENT_PEER_BUS_PORT },
  ];
  return new RoutingView({ version, nodes, shards }, SELF);
}

/** Whether `condition` came to hold within `timeoutMs`. */
function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  return pollUntil(condition, { what: 'the condition', timeoutMs, intervalMs: 10 }).then(
    () => true,
    () => false,
  );
}

/** One node's groups over a fresh store; `logs` collects what they log at info and above. */
async function startGroups(
  t: TestContext,
  limits = SHARD_GROUP_LIMITS_DEFAULT,
): Promise<{ store: NodeStore; groups: ShardGroups; busPort: number; logs: Record<string, unknown>[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'cleave-groups-'));
  const store = NodeStore.open(dir, { mapBytes: 64 * 1024 ** 2 });
  const busPort = await freePort();
  const logs: Record<string, unknown>[] = [];
  const bus = new Transport({ nodeId: SELF, clusterSecret: 'test-secret' });
  await bus.listen('127.0.0.1', busPort);
  const groups = new ShardGroups(
    {
      store,
      selfId: SELF,
      logger: pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) }),
      tickMs: 10,
      electionTimeoutMs: 100,
      onLeaderChange: () => undefined,
      onRefused: () => undefined,
      splits: {} as ShardGroupsOptions['splits'],
      serveForwarded: async () => OK,
      limits,
    },
    systemEnvironment(),
    bus,
  );
  t.after(async () => {
    groups.close();
    await bus.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, groups, busPort, logs };
}

describe('ShardGroups: a shard listed again while its copy is dropped', () => {
  it('starts the replica again once the drop is durable', async (t) => {
    const { groups, busPort } = await startGroups(t);

    groups.sync(viewOf(1, [SHARD], busPort));
    assert.ok(await until(() => groups.isLeader('s1'), 5_000), 'the replica leads its group of one');
    // The shard leaves the table (its copy is dropped at once) and comes back before the drop has landed.
    groups.sync(viewOf(2, [], busPort));
    assert.equal(groups.replicas.has('s1'), false, 'the copy is being dropped');
    assert.doesNotThrow(() => groups.sync(viewOf(3, [SHARD], busPort)));
    assert.ok(await until(() => groups.isLeader('s1'), 5_000), 'the replica runs again after the drop');
    assert.equal(groups.replicas.has('s1'), true);
  });
});

describe('ShardGroups: a drop that fails on disk', () => {
  it('logs the failure with the shard named, and the node serves its other shards on', async (t) => {
    const { store, groups, busPort, logs } = await startGroups(t);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    t.after(() => void process.off('unhandledRejection', onUnhandled));
    const s1: RoutingShard = { ...SHARD, end: SLOT_COUNT / 2 };
    const s2: RoutingShard = { ...SHARD, id: 's2', start: SLOT_COUNT / 2 };
    groups.sync(viewOf(1, [s1, s2], busPort));
    assert.ok(await until(() => groups.isLeader('s1') && groups.isLeader('s2'), 5_000), 'both replicas lead their groups of one');

    t.mock.method(store, 'dropShard', () => Promise.reject(new Error('simulated disk failure')));
    groups.sync(viewOf(2, [s2], busPort));
    const failure = (): Record<string, unknown> | undefined => logs.find((l) => l.level === 50);
    await until(() => failure() !== undefined || unhandled.length > 0, 5_000);
    // A rejection goes unhandled a turn after it settles: give it the turns to surface.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(unhandled, []);
    assert.equal(failure()?.shard, 's1', 'the failed drop is logged as an error naming its shard');
    assert.match(String(failure()?.msg), /dropping its data/);
    assert.equal(groups.replicas.has('s1'), false);
    const reply: Reply = await groups.write('s2', [Buffer.from('SET'), Buffer.from('k'), Buffer.from('v')], Date.now());
    assert.deepEqual(reply, OK, 'the other shard still takes writes');
  });
});

describe('ShardGroups: a replica id that fails to be recorded on disk', () => {
  it('logs the failure with the shard named, and the replica runs on under its id', async (t) => {
    const { store, groups, busPort, logs } = await startGroups(t);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    t.after(() => void process.off('unhandledRejection', onUnhandled));
    t.mock.method(store, 'putMeta', () => Promise.reject(new Error('simulated disk failure')));
    // Not the founding id: the node records it, so that a restart resumes the replica under it.
    groups.sync(viewOf(1, [{ ...SHARD, replicaIds: { [SELF]: 1_000_001 } }], busPort));
    const failure = (): Record<string, unknown> | undefined => logs.find((l) => l.level === 50);
    await until(() => failure() !== undefined || unhandled.length > 0, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(unhandled, []);
    assert.equal(failure()?.shard, 's1', 'the failed write is logged as an error naming its shard');
    assert.equal(failure()?.replica_id, 1_000_001);
    assert.ok(await until(() => groups.isLeader('s1'), 5_000), 'the replica runs');
  });
});

describe("ShardGroups: a learner given a new replica id that never hears of its old id's removal", () => {
  it('rejoins under the new id, with its log, once no leader has spoken to it past the grace', async (t) => {
    const graceMs = 300;
    const { store, groups, busPort, logs } = await startGroups(t, { ...SHARD_GROUP_LIMITS_DEFAULT, unwantedGraceMs: graceMs });
    // This node's replica 1000001 as it last applied the log: a learner of node2's group. The leader
    // that removed it stopped writing to it, so it never learns so; a learner never campaigns, so no
    // member ever answers it that it is gone.
    const log = store.openRaftLog('s1');
    log.applySnapshot({ metadata: { index: 1, term: 1, confState: { voters: [2], learners: [1_000_001] } }, data: new Uint8Array(0) });
    log.setHardState({ term: 1, vote: 0, commit: 1 });
    await store.commitAll();
    const shard: RoutingShard = { ...SHARD, epoch: 3, leader: 'node2', replicas: ['node2', SELF], replicaIds: { [SELF]: 1_000_001 } };
    groups.sync(viewOf(1, [shard], busPort));
    assert.equal(groups.multiRaft.selfId('s1'), 1_000_001);
    assert.equal(groups.multiRaft.ownMembership('s1'), 'learner');

    // The pilot added the node again: the group's leader waits for learner 2000001.
    const readded = Date.now();
    groups.sync(viewOf(2, [{ ...shard, epoch: 5, replicaIds: { [SELF]: 2_000_001 } }], busPort));
    assert.equal(groups.multiRaft.selfId('s1'), 1_000_001, 'a learner unlisted for less than the grace runs on under its old id');
    assert.ok(await until(() => groups.multiRaft.selfId('s1') === 2_000_001, 5_000), 'the replica rejoins under its new id');
    assert.ok(Date.now() - readded >= graceMs, 'not before the grace');
    assert.deepEqual(groups.multiRaft.confState('s1'), { voters: [2], learners: [1_000_001] }, 'the same log, which the leader appends to');
    assert.equal(logs.filter((l) => l.msg === 'shard replica has a new replica id: it rejoins the group as a new member').length, 1);
  });
});

/**
 * A shard listed on this node again while its dropped copy is still being deleted: the node starts the
 * replica once the deletion is durable, rather than failing to open a shard that is being dropped (which
 * left the routing table's update half applied and the replica never started).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { freePort } from '../../src/common/free-ports.js';
import type { RoutingShard, RoutingTable } from '../../src/common/routing.js';
import { SLOT_COUNT } from '../../src/common/slots.js';
import { RoutingView, DEFAULT_KEYSPACE } from '../../src/node/routing-view.js';
import { ShardGroups, type ShardGroupsOptions } from '../../src/node/shard-groups.js';
import { OK } from '../../src/resp/reply.js';
import { NodeStore } from '../../src/storage/node-store.js';

const SELF = 'node1';
const SHARD: RoutingShard = { id: 's1', keyspace: DEFAULT_KEYSPACE, start: 0, end: SLOT_COUNT, epoch: 1, leader: SELF, replicas: [SELF] };

function viewOf(version: number, shards: readonly RoutingShard[], busPort: number): RoutingView {
  const table: RoutingTable = { version, nodes: [{ id: SELF, clusterId: 'a'.repeat(40), host: '127.0.0.1', port: 1, busPort }], shards };
  return new RoutingView(table, SELF);
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

describe('ShardGroups: a shard listed again while its copy is dropped', () => {
  it('starts the replica again once the drop is durable', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cleave-groups-'));
    const store = NodeStore.open(dir, { mapBytes: 64 * 1024 ** 2 });
    const busPort = await freePort();
    const groups = await ShardGroups.start({
      store,
      selfId: SELF,
      host: '127.0.0.1',
      busPort,
      clusterSecret: 'test-secret',
      logger: pino({ level: 'silent' }),
      tickMs: 10,
      electionTimeoutMs: 100,
      onLeaderChange: () => undefined,
      onRefused: () => undefined,
      splits: {} as ShardGroupsOptions['splits'],
      serveForwarded: async () => OK,
    });
    t.after(async () => {
      await groups.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

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

/** The answers a node gives for slots a split is moving: never a redirect the target would send straight back. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutingTable } from '../../src/common/routing.js';
import { error } from '../../src/resp/reply.js';
import type { ShardReplica } from '../../src/shard/shard-replica.js';
import type { SourceSplitState } from '../../src/shard/split-state.js';
import { RoutingView } from '../../src/node/routing-view.js';
import { SplitBuffer } from '../../src/split/split-buffer.js';
import { SPLIT_TRYAGAIN, SplitRouting } from '../../src/split/split-routing.js';

const node = (id: string, port: number) => ({ id, clusterId: id.padEnd(40, '0'), host: '127.0.0.1', port, busPort: port + 10000 });
/** node1 leads the source shard_0001, node2 the target shard_0002, which the table does not give slots yet. */
const table: RoutingTable = {
  version: 4,
  nodes: [node('node1', 7001), node('node2', 7002), node('node3', 7003)],
  shards: [
    { id: 'shard_0001', keyspace: 'default', start: 0, end: 16384, epoch: 1, leader: 'node1', replicas: ['node1'] },
    { id: 'shard_0002', keyspace: 'default', start: 8192, end: 8192, epoch: 1, leader: 'node2', replicas: ['node2'] },
  ],
};
const committed: SourceSplitState = { role: 'source', taskId: 't1', target: 'shard_0002', splitSlot: 8192, end: 16384, phase: 'committed', commitIndex: 9 };

/** `answeredAsLeader`: the node that answered this node's split requests as the target's leader. */
function sourceNode(answeredAsLeader?: string): { routing: SplitRouting; buffer: SplitBuffer } {
  const replica = { splitState: () => committed } as unknown as ShardReplica;
  const view = new RoutingView(table, 'node1');
  const buffer = new SplitBuffer();
  const routing = new SplitRouting({
    routing: () => view,
    replica: (id) => (id === 'shard_0001' ? replica : undefined),
    buffer,
    now: () => 0,
    splitTargetLeader: (id) => (id === 'shard_0002' ? answeredAsLeader : undefined),
  });
  return { routing, buffer };
}

describe('a source whose log committed the switch', () => {
  it('asks to retry until the target is known to have taken the handoff: the target would send the client straight back', () => {
    const { routing } = sourceNode();
    assert.deepEqual(routing.movedAway('shard_0001', 9000), SPLIT_TRYAGAIN);
  });

  it("redirects to the target's leader once a driver here saw the target take the handoff", () => {
    const { routing, buffer } = sourceNode();
    buffer.confirmHandoff('shard_0001', 't1');
    assert.deepEqual(routing.movedAway('shard_0001', 9000), error('MOVED 9000 127.0.0.1:7002'));
  });

  it("redirects to the node that took the handoff as the target's leader, not to the one the table still names", () => {
    // The table's leader (node2) may not have applied the handoff yet, and would send the client back.
    const { routing, buffer } = sourceNode('node3');
    buffer.confirmHandoff('shard_0001', 't1');
    assert.deepEqual(routing.movedAway('shard_0001', 9000), error('MOVED 9000 127.0.0.1:7003'));
  });

  it("keeps asking to retry when only an earlier split's handoff was seen", () => {
    const { routing, buffer } = sourceNode();
    buffer.confirmHandoff('shard_0001', 't0');
    assert.deepEqual(routing.movedAway('shard_0001', 9000), SPLIT_TRYAGAIN);
  });
});

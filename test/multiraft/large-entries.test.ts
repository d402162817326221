/**
 * A large entry on the bus: a MsgApp carrying one travels alone, after the small messages of its turn.
 * MultiRafts over NodeStores on the simulation's fake LMDB, virtual-time scheduler and a recording network.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BATCHED_MESSAGE_BYTES_MAX } from '../../src/multiraft/multi-raft.js';
import type { PeerMessage } from '../../src/multiraft/peer-message.js';
import type { NodeId } from '../../src/raft/index.js';
import { multiRaftCluster } from '../support/multi-raft-cluster.js';

const GROUPS = ['shard_0001', 'shard_0002'] as const;

/** Three voters of every group in GROUPS, node 1 leading them all; `sent` records every batch. */
async function cluster() {
  const sent: { from: NodeId; to: NodeId; messages: readonly PeerMessage[] }[] = [];
  const { scheduler, node } = await multiRaftCluster({ groups: GROUPS, onSend: (from, to, messages) => sent.push({ from, to, messages }) });
  return { scheduler, node, sent };
}

describe('MultiRaft: large entries', () => {
  it('sends a MsgApp of a large entry alone, after the small messages of its turn', async () => {
    const { scheduler, node, sent } = await cluster();
    sent.length = 0;
    const large = new Uint8Array(BATCHED_MESSAGE_BYTES_MAX + 1).fill(2);
    // Proposed together, so both groups' appends leave in the same turn.
    const written = Promise.all([node(1).propose(GROUPS[0], large), node(1).propose(GROUPS[1], new Uint8Array([3]))]);
    await scheduler.runUntil(scheduler.now() + 200);
    await written;
    const carriesLarge = (m: PeerMessage): boolean => m.t === 'raft' && m.m.type === 'MsgApp' && m.m.entries.some((e) => e.data.length === large.length);
    const carriesSmall = (m: PeerMessage): boolean => m.t === 'raft' && m.m.type === 'MsgApp' && m.m.entries.some((e) => e.data.length === 1);
    for (const to of [2, 3]) {
      const toPeer = sent.filter((s) => s.from === 1 && s.to === to);
      const largeAt = toPeer.findIndex((s) => s.messages.some(carriesLarge));
      const smallAt = toPeer.findIndex((s) => s.messages.some(carriesSmall));
      assert.ok(largeAt >= 0 && smallAt >= 0, `both appends reached node ${to}`);
      assert.equal(toPeer[largeAt]!.messages.length, 1, `the large append to node ${to} shares no batch`);
      assert.ok(smallAt < largeAt, `the small append to node ${to} left first`);
    }
  });
});

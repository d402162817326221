/** The request path's routing decisions, over a fake node: which shard answers, and when a client is sent on. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import type { RoutingTable } from '../../src/common/routing.js';
import { keyHashSlot } from '../../src/common/slots.js';
import { ClientConnection } from '../../src/node/client-connection.js';
import { CommandDispatcher, type DispatchTarget } from '../../src/node/command-dispatcher.js';
import { RoutingView } from '../../src/node/routing-view.js';
import { error, NULL, type Reply } from '../../src/resp/reply.js';
import type { ShardReplica } from '../../src/shard/shard-replica.js';

const node = (id: string, port: number) => ({ id, clusterId: id.padEnd(40, '0'), host: '127.0.0.1', port, busPort: port + 10000 });
/** node2 follows shard_0001, led by node1; its routing table has not yet heard that slots moved to shard_0003. */
const table: RoutingTable = {
  version: 3,
  nodes: [node('node1', 7001), node('node2', 7002), node('node3', 7003)],
  shards: [{ id: 'shard_0001', keyspace: 'default', start: 0, end: 16384, epoch: 1, leader: 'node1', replicas: ['node1', 'node2'] }],
};

/** A follower whose own log gave `slot` away: its keys there are gone. */
function followerAfterSplit(movedSlot: number, selfId = 'node2'): { target: DispatchTarget; reads: string[] } {
  const reads: string[] = [];
  const replica = {
    ownsSlot: (slot: number) => slot !== movedSlot,
    read: (_spec: unknown, argv: readonly Buffer[]): Reply => {
      reads.push(argv[1]!.toString());
      return NULL;
    },
  } as unknown as ShardReplica;
  const view = new RoutingView(table, selfId);
  const target = {
    selfId,
    routing: () => view,
    replica: (id: string) => (id === 'shard_0001' ? replica : undefined),
    splitTargetOwning: () => undefined,
    movedAway: (_shard: string, slot: number) => error(`MOVED ${slot} 127.0.0.1:7003`),
  } as unknown as DispatchTarget;
  return { target, reads };
}

const connection = (): ClientConnection => new ClientConnection(1, {} as Socket, false, 0, () => undefined);

describe('CommandDispatcher', () => {
  it('sends a READONLY read of a slot the follower gave away to its new owner, instead of answering nil', async () => {
    const key = Buffer.from('moved-key');
    const { target, reads } = followerAfterSplit(keyHashSlot(key));
    const conn = connection();
    conn.readonlyMode = true;
    const reply = await new CommandDispatcher(target, undefined).dispatch(conn, [Buffer.from('GET'), key]);
    assert.deepEqual(reply, error(`MOVED ${keyHashSlot(key)} 127.0.0.1:7003`));
    assert.deepEqual(reads, []);
  });

  it('lets a READONLY read of a slot the follower still owns be served there', async () => {
    const { target, reads } = followerAfterSplit(keyHashSlot(Buffer.from('moved-key')));
    const conn = connection();
    conn.readonlyMode = true;
    const reply = await new CommandDispatcher(target, undefined).dispatch(conn, [Buffer.from('GET'), Buffer.from('kept-key')]);
    assert.deepEqual(reply, NULL);
    assert.deepEqual(reads, ['kept-key']);
  });

  it('sends a READONLY read to the leader from a node the table no longer lists as a replica, instead of its leftover copy', async () => {
    // node3's replica of shard_0001 was moved away: its group runs on until it learns of its removal, but
    // hears no writes, so its copy falls further behind with every write.
    const { target, reads } = followerAfterSplit(-1, 'node3');
    const conn = connection();
    conn.readonlyMode = true;
    const key = Buffer.from('kept-key');
    const reply = await new CommandDispatcher(target, undefined).dispatch(conn, [Buffer.from('GET'), key]);
    assert.deepEqual(reply, error(`MOVED ${keyHashSlot(key)} 127.0.0.1:7001`));
    assert.deepEqual(reads, []);
  });
});

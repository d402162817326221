/** The request path's routing decisions, over a fake node: which shard answers, and when a client is sent on. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import type { RoutingTable } from '../../src/common/routing.js';
import { keyHashSlot } from '../../src/common/slots.js';
import { ClientConnection } from '../../src/node/client-connection.js';
import { CommandDispatcher, type CommandObserver, type DispatchTarget } from '../../src/node/command-dispatcher.js';
import type { ForwardOutcome, ForwardReason } from '../../src/node/forward-decision.js';
import { RaftRequestError } from '../../src/multiraft/multi-raft.js';
import { nodeNumberOf } from '../../src/common/replica-ids.js';
import { RoutingView } from '../../src/node/routing-view.js';
import { error, NULL, OK, type Reply } from '../../src/resp/reply.js';
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
    routingChangedAtMs: () => Number.NEGATIVE_INFINITY,
    leaderSilent: () => false,
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

/**
 * node2 follows shard_0001; the table names `leader` as its leader. Forwards are recorded and answered
 * with `outcome`; writes proposed here fail with `writeError` (none: this node's replica applies them).
 */
function forwardingNode(options: {
  leader: string;
  outcome?: ForwardOutcome;
  unreachable?: string;
  writeError?: () => unknown;
  routingChangedAtMs?: number;
  leaderAfterWait?: string;
  leaderSilent?: boolean;
}) {
  const forwards: { node: string; argv: string[]; protocol: number }[] = [];
  const reasons: ForwardReason[] = [];
  let view = new RoutingView({ ...table, shards: [{ ...table.shards[0]!, leader: options.leader }] }, 'node2');
  let changedAtMs = options.routingChangedAtMs ?? Number.NEGATIVE_INFINITY;
  const settled: string[] = [];
  const target = {
    selfId: 'node2',
    routing: () => view,
    replica: () => ({ ownsSlot: () => true }) as unknown as ShardReplica,
    splitTargetOwning: () => undefined,
    holdWrite: () => ({ kind: 'pass' }),
    write: () => (options.writeError === undefined ? Promise.resolve(OK) : Promise.reject(options.writeError())),
    readBarrier: () => Promise.resolve(),
    routingChangedAtMs: () => changedAtMs,
    forward: (node: string, argv: readonly Buffer[], protocol: number) => {
      forwards.push({ node, argv: argv.map(String), protocol });
      return Promise.resolve<ForwardOutcome>(node === options.unreachable ? { kind: 'not-sent' } : (options.outcome ?? { kind: 'reply', reply: OK }));
    },
    // The transfer ends: node3 leads now (unless told otherwise), as this node's view shows.
    leaderSettled: (shardId: string) => {
      settled.push(shardId);
      view = new RoutingView({ ...table, shards: [{ ...table.shards[0]!, leader: options.leaderAfterWait ?? 'node3' }] }, 'node2');
      changedAtMs = 1_000;
      return Promise.resolve();
    },
    leaderSilent: () => options.leaderSilent === true && settled.length === 0,
  } as unknown as DispatchTarget;
  const observer: CommandObserver = { onCommand: () => undefined, onForward: (reason) => void reasons.push(reason) };
  const dispatcher = new CommandDispatcher(target, observer, { now: () => 1_000, random: Math.random });
  return { dispatcher, forwards, reasons, settled };
}

const SET = argv('SET', 'k', 'v');
function argv(...args: string[]): Buffer[] {
  return args.map((a) => Buffer.from(a));
}
const slotOfK = keyHashSlot(Buffer.from('k'));
/** A client with more requests behind this one: its redirects are forwarded. */
const pipelined = (): ClientConnection => Object.assign(connection(), { requestsBehind: true });

describe('CommandDispatcher forwarding', () => {
  it('forwards a pipelined command to the leader and answers its reply, in the client protocol', async () => {
    const { dispatcher, forwards, reasons } = forwardingNode({ leader: 'node1' });
    const conn = connection();
    conn.requestsBehind = true;
    conn.protocol = 3;
    assert.deepEqual(await dispatcher.dispatch(conn, SET), OK);
    assert.deepEqual(forwards, [{ node: 'node1', argv: ['SET', 'k', 'v'], protocol: 3 }]);
    assert.deepEqual(reasons, ['pipeline']);
  });

  it('redirects a lone command long after the last routing change, so the client learns the new map', async () => {
    const { dispatcher, forwards } = forwardingNode({ leader: 'node1' });
    assert.deepEqual(await dispatcher.dispatch(connection(), SET), error(`MOVED ${slotOfK} 127.0.0.1:7001`));
    assert.deepEqual(forwards, []);
  });

  it('waits for the election rather than redirect a lone command to a leader this node no longer hears from', async () => {
    const { dispatcher, forwards, settled } = forwardingNode({ leader: 'node1', leaderSilent: true });
    // node3 won; the table changed just now, so the command goes to it over the bus, not back to the client.
    assert.deepEqual(await dispatcher.dispatch(connection(), SET), OK);
    assert.deepEqual(settled, ['shard_0001']);
    assert.deepEqual(
      forwards.map((f) => f.node),
      ['node3'],
    );
  });

  it('forwards a lone command within the handover window after a routing change', async () => {
    const { dispatcher, forwards, reasons } = forwardingNode({ leader: 'node1', routingChangedAtMs: 900 });
    assert.deepEqual(await dispatcher.dispatch(connection(), SET), OK);
    assert.equal(forwards.length, 1);
    assert.deepEqual(reasons, ['handover']);
  });

  it('never forwards a forwarded command again: it answers the redirect', async () => {
    const { dispatcher, forwards } = forwardingNode({ leader: 'node1', routingChangedAtMs: 900 });
    assert.deepEqual(await dispatcher.dispatchForwarded(SET, 2), error(`MOVED ${slotOfK} 127.0.0.1:7001`));
    assert.deepEqual(forwards, []);
  });

  it('refuses to run a forwarded command that is not a key command', async () => {
    const { dispatcher } = forwardingNode({ leader: 'node2' });
    const reply = await dispatcher.dispatchForwarded(argv('FLUSHALL'), 2);
    assert.equal(reply.kind, 'error');
    assert.match((reply as { message: string }).message, /only key commands/);
  });

  it('routes a command whose leader could not be reached again once another leader is known, instead of redirecting to it', async () => {
    // node1 was killed: the forward never left node2, and node3 wins the election.
    const { dispatcher, forwards, settled } = forwardingNode({ leader: 'node1', unreachable: 'node1' });
    assert.deepEqual(await dispatcher.dispatch(pipelined(), SET), OK);
    assert.deepEqual(settled, ['shard_0001']);
    assert.deepEqual(
      forwards.map((f) => f.node),
      ['node1', 'node3'],
    );
  });

  it('waits once only for a leader it could not reach: still unreachable after the wait, the redirect is answered', async () => {
    const { dispatcher, forwards, settled } = forwardingNode({ leader: 'node1', unreachable: 'node1', leaderAfterWait: 'node1' });
    assert.deepEqual(await dispatcher.dispatch(pipelined(), SET), error(`MOVED ${slotOfK} 127.0.0.1:7001`));
    assert.equal(settled.length, 1);
    assert.deepEqual(
      forwards.map((f) => f.node),
      ['node1', 'node1'],
    );
  });

  it('answers an unknown outcome for a write that may have run, and the redirect for a read', async () => {
    const moved = error(`MOVED ${slotOfK} 127.0.0.1:7001`);
    const unknown = forwardingNode({ leader: 'node1', outcome: { kind: 'unknown' } }).dispatcher;
    const write = await unknown.dispatch(pipelined(), SET);
    assert.ok(write.kind === 'error' && write.message.includes('may or may not have been applied'), JSON.stringify(write));
    assert.deepEqual(await unknown.dispatch(pipelined(), argv('GET', 'k')), moved);
  });

  it('routes a write its own leader refused during a leadership transfer again once the new leader is known', async () => {
    const { dispatcher, forwards, settled } = forwardingNode({ leader: 'node2', writeError: () => new RaftRequestError('notLeader', nodeNumberOf('node2')) });
    assert.deepEqual(await dispatcher.dispatch(connection(), SET), OK);
    assert.deepEqual(settled, ['shard_0001']);
    // Routed again: node3 leads, the view just changed, so the lone write is forwarded rather than redirected.
    assert.deepEqual(
      forwards.map((f) => f.node),
      ['node3'],
    );
  });

  it('waits for the leader once only: a second refusal is answered TRYAGAIN, never MOVED to this node', async () => {
    // The wait ends without a new leader (the transfer timed out): the retry is refused again.
    const { dispatcher, settled } = forwardingNode({ leader: 'node2', leaderAfterWait: 'node2', writeError: () => new RaftRequestError('notLeader', nodeNumberOf('node2')) });
    const reply = await dispatcher.dispatch(connection(), SET);
    assert.equal(settled.length, 1);
    assert.ok(reply.kind === 'error' && reply.message.startsWith('TRYAGAIN'), JSON.stringify(reply));
  });
});

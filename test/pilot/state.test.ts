import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeNumberOfReplica, REPLICA_ID_STRIDE, replicaIdOf } from '../../src/common/replica-ids.js';
import type { RoutingShard } from '../../src/common/routing.js';
import { SLOT_COUNT } from '../../src/common/slots.js';
import { SPLIT_PARAMS_DEFAULT } from '../../src/split/types.js';
import type { PilotCommand, PilotRejectionReason, RegisterNodeCommand } from '../../src/pilot/commands.js';
import { applyPilotCommand, DEFAULT_KEYSPACE, INITIAL_PILOT_STATE, routingTable, type PilotState } from '../../src/pilot/state.js';

function registerCommand(n: number, overrides: Partial<RegisterNodeCommand> = {}): RegisterNodeCommand {
  return {
    kind: 'register-node',
    clusterId: n.toString(16).padStart(40, '0'),
    host: '127.0.0.1',
    port: 17000 + n,
    busPort: 27000 + n,
    metricsPort: 0,
    pid: 1000 + n,
    atMs: 1_000 * n,
    ...overrides,
  };
}

function bootstrapCommand(shardsPerNode: number, replicas: number): PilotCommand {
  return { kind: 'bootstrap-keyspace', keyspace: DEFAULT_KEYSPACE, shardsPerNode, replicas, atMs: 99_000 };
}

/** Applies commands that must all be accepted. */
function applyAll(commands: readonly PilotCommand[], state: PilotState = INITIAL_PILOT_STATE): PilotState {
  for (const command of commands) {
    const transition = applyPilotCommand(state, command);
    assert.equal(transition.result.ok, true, `${command.kind} refused: ${JSON.stringify(transition.result)}`);
    state = transition.state;
  }
  return state;
}

function withNodes(count: number): PilotState {
  return applyAll(Array.from({ length: count }, (_, i) => registerCommand(i + 1)));
}

test('register-node assigns node1, node2, ... in order and bumps the routing version each time', () => {
  let state = INITIAL_PILOT_STATE;
  for (let n = 1; n <= 11; n++) {
    const { state: next, result } = applyPilotCommand(state, registerCommand(n));
    assert.deepEqual(result, { ok: true, nodeId: `node${n}` });
    assert.equal(next.routingVersion, state.routingVersion + 1);
    state = next;
  }
  assert.deepEqual(
    state.nodes.map((n) => n.id),
    Array.from({ length: 11 }, (_, i) => `node${i + 1}`),
  );
  assert.deepEqual(routingTable(state).nodes[10], { id: 'node11', clusterId: registerCommand(11).clusterId, host: '127.0.0.1', port: 17011, busPort: 27011 });
});

const bootstrapCases = [
  { nodes: 1, shardsPerNode: 2, replicas: 1 },
  { nodes: 3, shardsPerNode: 2, replicas: 1 },
  { nodes: 3, shardsPerNode: 2, replicas: 3 },
  { nodes: 5, shardsPerNode: 3, replicas: 2 },
  { nodes: 7, shardsPerNode: 1, replicas: 1 },
  { nodes: 11, shardsPerNode: 5, replicas: 3 },
  { nodes: 1, shardsPerNode: SLOT_COUNT, replicas: 1 },
];

for (const { nodes, shardsPerNode, replicas } of bootstrapCases) {
  test(`bootstrap-keyspace: ${nodes} nodes × ${shardsPerNode} shards/node, ${replicas} replicas`, () => {
    const before = withNodes(nodes);
    const { state, result } = applyPilotCommand(before, bootstrapCommand(shardsPerNode, replicas));
    assert.equal(result.ok, true);
    const shardCount = nodes * shardsPerNode;
    const shards = state.shards;
    assert.equal(shards.length, shardCount);
    assert.equal(state.routingVersion, before.routingVersion + 1, 'one routing version for the whole bootstrap');
    assert.deepEqual(state.keyspaces, [{ name: DEFAULT_KEYSPACE, kind: 'hash', createdAtMs: 99_000 }]);

    // Every slot in exactly one shard, shards contiguous and in order.
    const owners = new Array<number>(SLOT_COUNT).fill(0);
    let expectedStart = 0;
    for (const shard of shards) {
      assert.equal(shard.start, expectedStart);
      assert.ok(shard.end > shard.start);
      for (let slot = shard.start; slot < shard.end; slot++) owners[slot]!++;
      expectedStart = shard.end;
    }
    assert.equal(expectedStart, SLOT_COUNT);
    assert.ok(
      owners.every((c) => c === 1),
      'every slot owned exactly once',
    );

    const sizes = shards.map((s) => s.end - s.start);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, 'sizes differ by at most 1');

    const nodeIds = state.nodes.map((n) => n.id);
    shards.forEach((shard, i) => {
      assert.equal(shard.id, `shard_${String(i + 1).padStart(4, '0')}`);
      assert.equal(shard.keyspace, DEFAULT_KEYSPACE);
      assert.equal(shard.epoch, 1);
      assert.equal(shard.leader, nodeIds[i % nodes], 'leaders round-robin in id order');
      assert.equal(shard.replicas[0], shard.leader, 'leader first');
      assert.equal(shard.replicas.length, replicas);
      assert.equal(new Set(shard.replicas).size, replicas, 'replicas on distinct nodes');
    });
    // Replica load is even: every node holds shardsPerNode × replicas replicas.
    for (const id of nodeIds) assert.equal(shards.filter((s) => s.replicas.includes(id)).length, shardsPerNode * replicas);
  });
}

const rejectionCases: { name: string; setup: number; command: PilotCommand; reason: PilotRejectionReason }[] = [
  { name: 'cluster id not 40 hex', setup: 0, command: registerCommand(1, { clusterId: 'XYZ' }), reason: 'invalid-argument' },
  { name: 'upper-case cluster id', setup: 0, command: registerCommand(1, { clusterId: 'A'.repeat(40) }), reason: 'invalid-argument' },
  { name: 'port 0', setup: 0, command: registerCommand(1, { port: 0 }), reason: 'invalid-argument' },
  { name: 'empty host', setup: 0, command: registerCommand(1, { host: '' }), reason: 'invalid-argument' },
  { name: 'cluster id of another node', setup: 1, command: registerCommand(2, { clusterId: registerCommand(1).clusterId }), reason: 'cluster-id-taken' },
  { name: 'address of another node', setup: 1, command: registerCommand(2, { port: 17001 }), reason: 'address-in-use' },
  {
    name: 'update of an unknown node',
    setup: 1,
    command: { kind: 'update-node', nodeId: 'node9', host: 'h', port: 1, busPort: 2, metricsPort: 0, pid: 1, atMs: 0 },
    reason: 'unknown-node',
  },
  {
    name: "update to another node's address",
    setup: 2,
    command: { kind: 'update-node', nodeId: 'node2', host: '127.0.0.1', port: 17001, busPort: 2, metricsPort: 0, pid: 1, atMs: 0 },
    reason: 'address-in-use',
  },
  { name: 'bootstrap without nodes', setup: 0, command: bootstrapCommand(2, 1), reason: 'not-enough-nodes' },
  { name: 'more replicas than nodes', setup: 2, command: bootstrapCommand(2, 3), reason: 'not-enough-nodes' },
  { name: 'zero shards per node', setup: 2, command: bootstrapCommand(0, 1), reason: 'invalid-argument' },
  { name: 'fractional replicas', setup: 2, command: bootstrapCommand(2, 1.5), reason: 'invalid-argument' },
  { name: 'more shards than slots', setup: 2, command: bootstrapCommand(SLOT_COUNT, 1), reason: 'invalid-argument' },
  {
    name: 'bad keyspace name',
    setup: 1,
    command: { kind: 'bootstrap-keyspace', keyspace: 'Bad Name', shardsPerNode: 1, replicas: 1, atMs: 0 },
    reason: 'invalid-argument',
  },
];

for (const { name, setup, command, reason } of rejectionCases) {
  test(`rejects ${name} (${reason}) and leaves the state as it was`, () => {
    const before = withNodes(setup);
    const { state, result } = applyPilotCommand(before, command);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, reason);
    assert.equal(state, before);
  });
}

test('bootstrap-keyspace twice is refused with keyspace-exists', () => {
  const state = applyAll([bootstrapCommand(2, 1)], withNodes(2));
  const { state: after, result } = applyPilotCommand(state, bootstrapCommand(2, 1));
  assert.deepEqual(result.ok === false && result.reason, 'keyspace-exists');
  assert.equal(after, state);
});

test('update-node bumps the routing version only when the address changes', () => {
  const state = applyAll([bootstrapCommand(2, 1)], withNodes(2));
  const base = { kind: 'update-node', nodeId: 'node2', host: '127.0.0.1', port: 17002, busPort: 27002, metricsPort: 9100, atMs: 5 } as const;

  const samePlace = applyPilotCommand(state, { ...base, pid: 4242 });
  assert.deepEqual(samePlace.result, { ok: true, nodeId: 'node2', routingChanged: false });
  assert.equal(samePlace.state.routingVersion, state.routingVersion);
  assert.equal(samePlace.state.nodes[1]!.pid, 4242);
  assert.equal(samePlace.state.nodes[1]!.metricsPort, 9100);
  assert.equal(samePlace.state.nodes[1]!.registeredAtMs, 2_000, 'registration time kept');

  const moved = applyPilotCommand(state, { ...base, port: 18002, pid: 4243 });
  assert.deepEqual(moved.result, { ok: true, nodeId: 'node2', routingChanged: true });
  assert.equal(moved.state.routingVersion, state.routingVersion + 1);
  assert.equal(routingTable(moved.state).nodes[1]!.port, 18002);
  assert.deepEqual(moved.state.shards, state.shards, 'shard ranges and epochs unchanged');
});

test('routingTable derives version, nodes and shards, once per state', () => {
  const state = applyAll([bootstrapCommand(2, 2)], withNodes(3));
  const table = routingTable(state);
  assert.equal(table.version, state.routingVersion);
  assert.deepEqual(
    table.nodes.map((n) => n.id),
    ['node1', 'node2', 'node3'],
  );
  assert.equal(table.shards.length, 6);
  assert.equal(routingTable(state), table);
  assert.deepEqual(routingTable(INITIAL_PILOT_STATE), { version: 0, nodes: [], shards: [] });
});

test('the same commands give the same state (replay determinism)', () => {
  const commands: PilotCommand[] = [registerCommand(1), registerCommand(2), registerCommand(3), bootstrapCommand(3, 2)];
  assert.deepEqual(applyAll(commands), applyAll(commands));
});

test('shard ids continue after earlier shards: a second keyspace starts at the next number', () => {
  const state = applyAll([bootstrapCommand(2, 1), { kind: 'bootstrap-keyspace', keyspace: 'second', shardsPerNode: 1, replicas: 1, atMs: 1 }], withNodes(2));
  assert.deepEqual(
    state.shards.map((s) => `${s.keyspace}/${s.id}`),
    ['default/shard_0001', 'default/shard_0002', 'default/shard_0003', 'default/shard_0004', 'second/shard_0005', 'second/shard_0006'],
  );
});

test('bootstrap-keyspace refuses more than 7 replicas per shard', () => {
  const { state, result } = applyPilotCommand(withNodes(8), bootstrapCommand(1, 8));
  assert.equal(!result.ok && result.reason, 'invalid-argument');
  assert.equal(state.shards.length, 0);
});

/** Three nodes, two shards per node, three replicas: shard_0001 led by node1, shard_0002 by node2, ... */
function replicated(nodes = 3, replicas = 3): PilotState {
  return applyAll([bootstrapCommand(2, replicas)], withNodes(nodes));
}

function shard(state: PilotState, id: string): RoutingShard {
  const found = state.shards.find((s) => s.id === id);
  assert.ok(found, `shard ${id} exists`);
  return found;
}

function leaders(...reports: [shardId: string, nodeId: string, term: number][]): PilotCommand {
  return { kind: 'set-shard-leaders', leaders: reports.map(([shardId, nodeId, term]) => ({ shardId, nodeId, term })) };
}

describe('set-shard-leaders', () => {
  it("records a newer term's leader, once per batch in the routing version, keeping the epoch", () => {
    const before = replicated();
    const { state, result } = applyPilotCommand(before, leaders(['shard_0001', 'node2', 2], ['shard_0004', 'node3', 5]));
    assert.deepEqual(result, { ok: true, shardIds: ['shard_0001', 'shard_0004'] });
    assert.equal(state.routingVersion, before.routingVersion + 1);
    assert.deepEqual(
      [shard(state, 'shard_0001'), shard(state, 'shard_0004')].map((s) => [s.leader, s.leaderTerm, s.epoch, s.replicas.join(',')]),
      [
        ['node2', 2, 1, 'node1,node2,node3'],
        ['node3', 5, 1, 'node1,node2,node3'],
      ],
    );
    assert.equal(routingTable(state).shards, state.shards);
  });

  it('skips reports of a term not newer than the recorded one; a batch of only those changes nothing', () => {
    const state = applyAll([leaders(['shard_0001', 'node2', 4])], replicated());
    const stale = applyPilotCommand(state, leaders(['shard_0001', 'node3', 3], ['shard_0002', 'node2', 0]));
    assert.deepEqual(stale.result, { ok: true, shardIds: [] });
    assert.equal(stale.state, state, 'the same state: nothing to log');
    const mixed = applyPilotCommand(state, leaders(['shard_0001', 'node3', 4], ['shard_0002', 'node1', 1]));
    assert.deepEqual(mixed.result, { ok: true, shardIds: ['shard_0002'] });
    assert.equal(shard(mixed.state, 'shard_0001').leader, 'node2', 'one leader per term: the first report of term 4 stands');
  });

  it('a newer term of the same leader updates the term, so an older report of another node cannot win later', () => {
    const state = applyAll([leaders(['shard_0001', 'node1', 7])], replicated());
    assert.deepEqual([shard(state, 'shard_0001').leader, shard(state, 'shard_0001').leaderTerm], ['node1', 7]);
    const late = applyPilotCommand(state, leaders(['shard_0001', 'node2', 6]));
    assert.equal(late.state, state);
  });

  it('accepts a leader outside the desired replicas (it leads until the group removes it)', () => {
    const state = applyAll([leaders(['shard_0001', 'node4', 3])], replicated(4, 2));
    assert.deepEqual(shard(state, 'shard_0001').replicas, ['node1', 'node2']);
    assert.equal(shard(state, 'shard_0001').leader, 'node4');
  });

  it('skips shards it does not know', () => {
    const before = replicated();
    const { state, result } = applyPilotCommand(before, leaders(['shard_9999', 'node2', 2]));
    assert.deepEqual(result, { ok: true, shardIds: [] });
    assert.equal(state, before);
  });

  it('clears the transfer once its target leads, and keeps it while another node leads', () => {
    const requested = applyAll([{ kind: 'transfer-shard-leader', shardId: 'shard_0001', nodeId: 'node3' }], replicated());
    const elsewhere = applyAll([leaders(['shard_0001', 'node2', 2])], requested);
    assert.equal(shard(elsewhere, 'shard_0001').transferTo, 'node3');
    const done = applyAll([leaders(['shard_0001', 'node3', 3])], elsewhere);
    assert.equal(shard(done, 'shard_0001').leader, 'node3');
    assert.equal('transferTo' in shard(done, 'shard_0001'), false);
  });

  const refusals: { name: string; command: PilotCommand; reason: PilotRejectionReason }[] = [
    { name: 'an empty batch', command: leaders(), reason: 'invalid-argument' },
    { name: 'a shard twice', command: leaders(['shard_0001', 'node2', 2], ['shard_0001', 'node3', 3]), reason: 'invalid-argument' },
    { name: 'a negative term', command: leaders(['shard_0001', 'node2', -1]), reason: 'invalid-argument' },
    { name: 'a fractional term', command: leaders(['shard_0001', 'node2', 1.5]), reason: 'invalid-argument' },
    { name: 'an unknown node', command: leaders(['shard_0002', 'node2', 2], ['shard_0001', 'node9', 2]), reason: 'unknown-node' },
  ];
  for (const { name, command, reason } of refusals) {
    it(`refuses ${name} (${reason}) whole`, () => {
      const before = replicated();
      const { state, result } = applyPilotCommand(before, command);
      assert.equal(!result.ok && result.reason, reason);
      assert.equal(state, before);
    });
  }
});

function change(action: 'add' | 'remove', shardId: string, nodeId: string, epoch?: number): PilotCommand {
  return { kind: 'change-shard-replicas', shardId, action, nodeId, ...(epoch === undefined ? {} : { epoch }) };
}

describe('change-shard-replicas', () => {
  it('add appends a node to the desired replicas, bumping the epoch and the routing version', () => {
    const before = replicated(4, 2);
    const { state, result } = applyPilotCommand(before, change('add', 'shard_0001', 'node4', 1));
    assert.deepEqual(result, { ok: true, shardId: 'shard_0001' });
    assert.deepEqual(shard(state, 'shard_0001'), { ...shard(before, 'shard_0001'), epoch: 2, replicas: ['node1', 'node2', 'node4'], replicaIds: { node4: 4 + REPLICA_ID_STRIDE } });
    assert.equal(state.routingVersion, before.routingVersion + 1);
    assert.deepEqual(
      state.shards.filter((s) => s.id !== 'shard_0001'),
      before.shards.filter((s) => s.id !== 'shard_0001'),
      'other shards untouched',
    );
  });

  it('remove drops a node, the leader too: it stays the recorded leader until another is reported', () => {
    const before = replicated();
    const follower = applyPilotCommand(before, change('remove', 'shard_0001', 'node3'));
    assert.deepEqual([shard(follower.state, 'shard_0001').replicas, shard(follower.state, 'shard_0001').epoch], [['node1', 'node2'], 2]);
    const leader = applyPilotCommand(follower.state, change('remove', 'shard_0001', 'node1', 2));
    assert.deepEqual([shard(leader.state, 'shard_0001').replicas, shard(leader.state, 'shard_0001').leader, shard(leader.state, 'shard_0001').epoch], [['node2'], 'node1', 3]);
    assert.equal(leader.state.routingVersion, before.routingVersion + 2);
  });

  it('remove of the transfer target cancels the transfer; of another node keeps it', () => {
    const requested = applyAll([{ kind: 'transfer-shard-leader', shardId: 'shard_0001', nodeId: 'node3' }], replicated());
    assert.equal(shard(applyAll([change('remove', 'shard_0001', 'node2')], requested), 'shard_0001').transferTo, 'node3');
    assert.equal('transferTo' in shard(applyAll([change('remove', 'shard_0001', 'node3')], requested), 'shard_0001'), false);
  });

  it('add up to 7 replicas and no further', () => {
    let state = replicated(8, 1);
    for (let n = 2; n <= 7; n++) state = applyAll([change('add', 'shard_0001', `node${n}`)], state);
    assert.equal(shard(state, 'shard_0001').replicas.length, 7);
    const { state: after, result } = applyPilotCommand(state, change('add', 'shard_0001', 'node8'));
    assert.equal(!result.ok && result.reason, 'too-many-replicas');
    assert.equal(after, state);
  });

  const refusals: { name: string; setup: () => PilotState; command: PilotCommand; reason: PilotRejectionReason }[] = [
    { name: 'add of a replica', setup: () => replicated(), command: change('add', 'shard_0001', 'node2'), reason: 'already-replica' },
    { name: 'add of an unknown node', setup: () => replicated(), command: change('add', 'shard_0001', 'node9'), reason: 'unknown-node' },
    { name: 'add to an unknown shard', setup: () => replicated(), command: change('add', 'shard_9999', 'node1'), reason: 'unknown-shard' },
    { name: 'remove of a non-replica', setup: () => replicated(4, 2), command: change('remove', 'shard_0001', 'node3'), reason: 'not-a-replica' },
    { name: 'remove of the last replica', setup: () => replicated(2, 1), command: change('remove', 'shard_0001', 'node1'), reason: 'last-replica' },
    { name: 'a stale epoch', setup: () => replicated(4, 2), command: change('add', 'shard_0001', 'node4', 7), reason: 'stale-epoch' },
    {
      name: 'an unknown action',
      setup: () => replicated(),
      command: { kind: 'change-shard-replicas', shardId: 'shard_0001', action: 'swap' as 'add', nodeId: 'node1' },
      reason: 'invalid-argument',
    },
  ];
  for (const { name, setup, command, reason } of refusals) {
    it(`refuses ${name} (${reason})`, () => {
      const before = setup();
      const { state, result } = applyPilotCommand(before, command);
      assert.equal(!result.ok && result.reason, reason);
      assert.equal(state, before);
    });
  }
});

describe('transfer-shard-leader', () => {
  it('asks the leader to hand over: a routing version, not a new epoch; asking again changes nothing', () => {
    const before = replicated();
    const { state, result } = applyPilotCommand(before, { kind: 'transfer-shard-leader', shardId: 'shard_0002', nodeId: 'node1', epoch: 1 });
    assert.deepEqual(result, { ok: true, shardId: 'shard_0002' });
    assert.deepEqual(shard(state, 'shard_0002'), { ...shard(before, 'shard_0002'), transferTo: 'node1' });
    assert.equal(state.routingVersion, before.routingVersion + 1);
    const again = applyPilotCommand(state, { kind: 'transfer-shard-leader', shardId: 'shard_0002', nodeId: 'node1' });
    assert.equal(again.result.ok, true);
    assert.equal(again.state, state);
  });

  const refusals: { name: string; command: PilotCommand; reason: PilotRejectionReason }[] = [
    { name: 'to the leader', command: { kind: 'transfer-shard-leader', shardId: 'shard_0001', nodeId: 'node1' }, reason: 'already-leader' },
    { name: 'to a non-replica', command: { kind: 'transfer-shard-leader', shardId: 'shard_0001', nodeId: 'node4' }, reason: 'not-a-replica' },
    { name: 'to an unknown node', command: { kind: 'transfer-shard-leader', shardId: 'shard_0001', nodeId: 'node9' }, reason: 'unknown-node' },
    { name: 'of an unknown shard', command: { kind: 'transfer-shard-leader', shardId: 'shard_9999', nodeId: 'node2' }, reason: 'unknown-shard' },
    { name: 'at a stale epoch', command: { kind: 'transfer-shard-leader', shardId: 'shard_0001', nodeId: 'node2', epoch: 2 }, reason: 'stale-epoch' },
  ];
  for (const { name, command, reason } of refusals) {
    it(`refuses a transfer ${name} (${reason})`, () => {
      const before = replicated(4, 2);
      const { state, result } = applyPilotCommand(before, command);
      assert.equal(!result.ok && result.reason, reason);
      assert.equal(state, before);
    });
  }
});

test('replica changes, transfers and leader reports replay to the same state', () => {
  const commands: PilotCommand[] = [
    ...[1, 2, 3, 4].map((n) => registerCommand(n)),
    bootstrapCommand(1, 3),
    change('add', 'shard_0001', 'node4'),
    { kind: 'transfer-shard-leader', shardId: 'shard_0001', nodeId: 'node4' },
    leaders(['shard_0001', 'node4', 2], ['shard_0002', 'node3', 3]),
    change('remove', 'shard_0001', 'node1', 2),
  ];
  const state = applyAll(commands);
  assert.deepEqual(applyAll(commands), state);
  assert.deepEqual(shard(state, 'shard_0001'), {
    id: 'shard_0001',
    keyspace: DEFAULT_KEYSPACE,
    start: 0,
    end: 4096,
    epoch: 3,
    leader: 'node4',
    leaderTerm: 2,
    replicas: ['node2', 'node3', 'node4'],
    replicaIds: { node4: 4 + REPLICA_ID_STRIDE },
  });
});

describe('replica ids', () => {
  const idsOf = (state: PilotState, shardId: string): number[] => shard(state, shardId).replicas.map((n) => replicaIdOf(shard(state, shardId), n));

  it('founding replicas, presplit or a split target, are Raft members under their node numbers', () => {
    const state = applyAll(
      [{ kind: 'create-split', sourceShard: 'shard_0001', targetNodes: ['node2', 'node3'], params: SPLIT_PARAMS_DEFAULT, maxSplits: 4, maxSplitsPerNode: 4, atMs: 1 }],
      replicated(),
    );
    for (const s of state.shards) {
      assert.equal(s.replicaIds, undefined, `${s.id} records no replica id`);
      assert.deepEqual(
        idsOf(state, s.id),
        s.replicas.map((n) => Number(n.slice('node'.length))),
      );
    }
  });

  it('a node added to a shard again is a new member: an id never given before, of the same node', () => {
    let state = replicated(4, 3);
    const given = new Set(idsOf(state, 'shard_0001'));
    assert.deepEqual([...given], [1, 2, 3]);
    for (let round = 1; round <= 3; round++) {
      state = applyAll([change('remove', 'shard_0001', 'node3'), change('add', 'shard_0001', 'node3')], state);
      const id = replicaIdOf(shard(state, 'shard_0001'), 'node3');
      assert.equal(given.has(id), false, `round ${round}: id ${id} was given before`);
      assert.equal(nodeNumberOfReplica(id), 3);
      given.add(id);
      assert.deepEqual(routingTable(state).shards.find((s) => s.id === 'shard_0001')!.replicaIds, { node3: id }, 'the routing table carries it');
    }
    // Another shard's new replica takes the next generation too: one counter for the whole cluster.
    state = applyAll([change('add', 'shard_0002', 'node1')], state);
    const other = replicaIdOf(shard(state, 'shard_0002'), 'node1');
    assert.equal(Math.floor(other / REPLICA_ID_STRIDE), 4);
    // Removed, a replica's id leaves the table with it.
    state = applyAll([change('remove', 'shard_0001', 'node3')], state);
    assert.equal(shard(state, 'shard_0001').replicaIds, undefined);
  });
});

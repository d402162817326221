import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SLOT_COUNT } from '../../src/common/slots.js';
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
    assert.ok(owners.every((c) => c === 1), 'every slot owned exactly once');

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
  const state = applyAll(
    [bootstrapCommand(2, 1), { kind: 'bootstrap-keyspace', keyspace: 'second', shardsPerNode: 1, replicas: 1, atMs: 1 }],
    withNodes(2),
  );
  assert.deepEqual(
    state.shards.map((s) => `${s.keyspace}/${s.id}`),
    ['default/shard_0001', 'default/shard_0002', 'default/shard_0003', 'default/shard_0004', 'second/shard_0005', 'second/shard_0006'],
  );
});

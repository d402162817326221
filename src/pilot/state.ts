/**
 * The pilot's replicated state and its state machine. `applyPilotCommand` is pure: no I/O, no clock, no
 * randomness, so the pilot's replicas (and a replay of the command log) reach the same state from the same
 * commands. Refusals are results, never throws; a throw here is a bug.
 */
import { REPLICA_ID_STRIDE, replicaIdFor } from '../common/replica-ids.js';
import { SLOT_COUNT } from '../common/slots.js';
import { isFinalStatus, splitRolledBack, splitRollsForward, SPLIT_PHASES } from '../split/phases.js';
import type { RoutingShard, RoutingTable, RoutingSplit } from '../common/routing.js';
import type {
  BootstrapKeyspaceCommand,
  CancelSplitCommand,
  CreateSplitCommand,
  SplitProgressCommand,
  ChangeShardReplicasCommand,
  ImportStateCommand,
  PilotCommand,
  PilotCommandResult,
  PilotRejection,
  PilotRejectionReason,
  RegisterNodeCommand,
  SetShardLeadersCommand,
  TransferShardLeaderCommand,
  UpdateNodeCommand,
} from './commands.js';
import { placeReplicas, presplitSlots } from './presplit.js';
import type { NodeProcess, PilotNode, PilotState, SplitTask } from './pilot-state.js';
import { completedShards, isSplitTransition, nodesInSplit, pruneSplitTasks, rolledBackShards, switchedShards } from './split-tasks.js';

export type { PilotKeyspace, PilotNode, PilotState } from './pilot-state.js';

/** The Redis keyspace, hash-sharded over 16384 slots; the one Redis Cluster clients reach. */
export const DEFAULT_KEYSPACE = 'default';

/** Most replicas one shard may have: a Raft group of 7 already tolerates 3 failures. */
export const SHARD_REPLICAS_MAX = 7;

/** The state before the first command. */
export const INITIAL_PILOT_STATE: PilotState = {
  routingVersion: 0,
  nextNodeNumber: 1,
  nextShardNumber: 1,
  nodes: [],
  keyspaces: [],
  shards: [],
};

/** The state after a command, and what the command answers. */
export interface PilotTransition<C extends PilotCommand = PilotCommand> {
  readonly state: PilotState;
  readonly result: PilotCommandResult<C>;
}

const CLUSTER_ID_PATTERN = /^[0-9a-f]{40}$/;
const KEYSPACE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const PORT_MAX = 65535;

/** Applies `command` to `state`. A rejected command returns `state` itself. */
export function applyPilotCommand<C extends PilotCommand>(state: PilotState, command: C): PilotTransition<C> {
  const transition = applyAny(state, command);
  return transition as PilotTransition<C>;
}

function applyAny(state: PilotState, command: PilotCommand): PilotTransition {
  switch (command.kind) {
    case 'register-node':
      return registerNode(state, command);
    case 'update-node':
      return updateNode(state, command);
    case 'bootstrap-keyspace':
      return bootstrapKeyspace(state, command);
    case 'set-shard-leaders':
      return setShardLeaders(state, command);
    case 'change-shard-replicas':
      return changeShardReplicas(state, command);
    case 'transfer-shard-leader':
      return transferShardLeader(state, command);
    case 'import-state':
      return importState(state, command);
    case 'create-split':
      return createSplit(state, command);
    case 'split-progress':
      return splitProgress(state, command);
    case 'cancel-split':
      return cancelSplit(state, command);
  }
}

/** Whether nothing has happened to `state` yet: no node, keyspace or routing version. */
export function isInitialPilotState(state: PilotState): boolean {
  return state.routingVersion === 0 && state.nodes.length === 0 && state.keyspaces.length === 0 && state.shards.length === 0;
}

function registerNode(state: PilotState, command: RegisterNodeCommand): PilotTransition {
  if (!CLUSTER_ID_PATTERN.test(command.clusterId)) return reject(state, 'invalid-argument', 'cluster id must be 40 lowercase hex characters');
  const invalid = invalidProcess(command);
  if (invalid !== undefined) return reject(state, 'invalid-argument', invalid);
  // A node's number is the remainder of its replica ids: it must stay below the stride.
  if (state.nextNodeNumber >= REPLICA_ID_STRIDE) return reject(state, 'invalid-argument', `the cluster has registered its ${REPLICA_ID_STRIDE - 1} nodes, the most it can`);
  if (state.nodes.some((n) => n.clusterId === command.clusterId)) {
    return reject(state, 'cluster-id-taken', `cluster id ${command.clusterId} belongs to another node`);
  }
  const holder = nodeAt(state, command.host, command.port);
  if (holder !== undefined) return reject(state, 'address-in-use', `${command.host}:${command.port} is the address of ${holder.id}`);
  const node: PilotNode = {
    id: `node${state.nextNodeNumber}`,
    clusterId: command.clusterId,
    ...processOf(command),
    registeredAtMs: command.atMs,
    joinedAtMs: command.atMs,
  };
  return {
    // The routing table lists the nodes, so a new node is a new routing version.
    state: {
      ...state,
      routingVersion: state.routingVersion + 1,
      nextNodeNumber: state.nextNodeNumber + 1,
      nodes: [...state.nodes, node],
      ...(state.incarnation === undefined && command.incarnation !== undefined ? { incarnation: command.incarnation } : {}),
    },
    result: { ok: true, nodeId: node.id },
  };
}

function updateNode(state: PilotState, command: UpdateNodeCommand): PilotTransition {
  const index = state.nodes.findIndex((n) => n.id === command.nodeId);
  if (index === -1) return reject(state, 'unknown-node', `no node ${command.nodeId}`);
  const invalid = invalidProcess(command);
  if (invalid !== undefined) return reject(state, 'invalid-argument', invalid);
  const holder = nodeAt(state, command.host, command.port);
  if (holder !== undefined && holder.id !== command.nodeId) {
    return reject(state, 'address-in-use', `${command.host}:${command.port} is the address of ${holder.id}`);
  }
  const before = state.nodes[index]!;
  const routingChanged = before.host !== command.host || before.port !== command.port || before.busPort !== command.busPort;
  const nodes = state.nodes.slice();
  nodes[index] = { ...before, ...processOf(command), joinedAtMs: command.atMs };
  return {
    state: { ...state, routingVersion: state.routingVersion + (routingChanged ? 1 : 0), nodes },
    result: { ok: true, nodeId: before.id, routingChanged },
  };
}

function bootstrapKeyspace(state: PilotState, command: BootstrapKeyspaceCommand): PilotTransition {
  if (!KEYSPACE_NAME_PATTERN.test(command.keyspace)) return reject(state, 'invalid-argument', `invalid keyspace name ${JSON.stringify(command.keyspace)}`);
  if (state.keyspaces.some((k) => k.name === command.keyspace)) return reject(state, 'keyspace-exists', `keyspace ${command.keyspace} exists`);
  if (!isCount(command.shardsPerNode)) return reject(state, 'invalid-argument', 'shards per node must be a positive integer');
  if (!isCount(command.replicas) || command.replicas > SHARD_REPLICAS_MAX) return reject(state, 'invalid-argument', `replicas must be an integer in 1..${SHARD_REPLICAS_MAX}`);
  if (command.replicas > state.nodes.length) {
    return reject(state, 'not-enough-nodes', `${command.replicas} replicas need as many nodes, ${state.nodes.length} registered`);
  }
  const shardCount = command.shardsPerNode * state.nodes.length;
  if (shardCount > SLOT_COUNT) return reject(state, 'invalid-argument', `${shardCount} shards exceed the ${SLOT_COUNT} slots`);
  const nodeIds = state.nodes.map((n) => n.id);
  const shards: RoutingShard[] = presplitSlots(SLOT_COUNT, shardCount).map((range, i) => {
    const replicas = placeReplicas(i, nodeIds, command.replicas);
    return {
      id: shardId(state.nextShardNumber + i),
      keyspace: command.keyspace,
      start: range.start,
      end: range.end,
      epoch: 1,
      leader: replicas[0]!,
      replicas,
    };
  });
  return {
    state: {
      ...state,
      routingVersion: state.routingVersion + 1,
      nextShardNumber: state.nextShardNumber + shardCount,
      keyspaces: [...state.keyspaces, { name: command.keyspace, kind: 'hash', createdAtMs: command.atMs }],
      shards: [...state.shards, ...shards],
    },
    result: { ok: true, keyspace: command.keyspace, shardIds: shards.map((s) => s.id) },
  };
}

function setShardLeaders(state: PilotState, command: SetShardLeadersCommand): PilotTransition {
  if (command.leaders.length === 0) return reject(state, 'invalid-argument', 'no leaders reported');
  const seen = new Set<string>();
  for (const { shardId, nodeId, term } of command.leaders) {
    if (seen.has(shardId)) return reject(state, 'invalid-argument', `shard ${shardId} reported twice`);
    seen.add(shardId);
    if (!Number.isInteger(term) || term < 0) return reject(state, 'invalid-argument', `term of ${shardId} must be a non-negative integer`);
    if (!state.nodes.some((n) => n.id === nodeId)) return reject(state, 'unknown-node', `no node ${nodeId}`);
  }
  const reports = new Map(command.leaders.map((r) => [r.shardId, r]));
  const changed: string[] = [];
  const shards = state.shards.map((shard) => {
    const report = reports.get(shard.id);
    // Raft elects at most one leader per term, so only a newer term can name a newer leader. A shard the
    // state does not know (gone since the report) is skipped like a stale report.
    if (report === undefined || report.term <= (shard.leaderTerm ?? 0)) return shard;
    changed.push(shard.id);
    const { transferTo, ...rest } = shard;
    const next: RoutingShard = { ...rest, leader: report.nodeId, leaderTerm: report.term };
    // The transfer is done once its target leads; until then whoever leads carries it on.
    return transferTo === undefined || transferTo === report.nodeId ? next : { ...next, transferTo };
  });
  if (changed.length === 0) return { state, result: { ok: true, shardIds: [] } };
  return { state: { ...state, routingVersion: state.routingVersion + 1, shards }, result: { ok: true, shardIds: changed } };
}

function changeShardReplicas(state: PilotState, command: ChangeShardReplicasCommand): PilotTransition {
  if (command.action !== 'add' && command.action !== 'remove') return reject(state, 'invalid-argument', `unknown action ${JSON.stringify(command.action)}`);
  const found = findShardFor(state, command);
  if ('ok' in found) return { state, result: found };
  const { shard, index } = found;
  const replicas = shard.replicas;
  const result = { ok: true, shardId: shard.id } as const;
  if (command.action === 'add') {
    if (replicas.includes(command.nodeId)) return reject(state, 'already-replica', `${command.nodeId} is already a replica of ${shard.id}`);
    if (replicas.length >= SHARD_REPLICAS_MAX) return reject(state, 'too-many-replicas', `${shard.id} already has ${SHARD_REPLICAS_MAX} replicas, the most a shard may have`);
    // A new Raft member every time: the node may have been a replica of the shard before, and nothing
    // said to or by that earlier replica may count for this one.
    const generation = state.nextReplicaGeneration ?? 1;
    const replicaIds = { ...shard.replicaIds, [command.nodeId]: replicaIdFor(command.nodeId, generation) };
    const next: RoutingShard = { ...shard, epoch: shard.epoch + 1, replicas: [...replicas, command.nodeId], replicaIds };
    return { state: { ...withShard(state, index, next), nextReplicaGeneration: generation + 1 }, result };
  }
  if (!replicas.includes(command.nodeId)) return reject(state, 'not-a-replica', `${command.nodeId} is not a replica of ${shard.id}`);
  if (replicas.length === 1) return reject(state, 'last-replica', `${command.nodeId} is the last replica of ${shard.id}`);
  const { transferTo, replicaIds, ...rest } = shard;
  const { [command.nodeId]: _removed, ...keptIds } = replicaIds ?? {};
  // A transfer to a node that is leaving can never finish.
  const next: RoutingShard = {
    ...rest,
    epoch: shard.epoch + 1,
    replicas: replicas.filter((id) => id !== command.nodeId),
    ...(Object.keys(keptIds).length === 0 ? {} : { replicaIds: keptIds }),
    ...(transferTo === undefined || transferTo === command.nodeId ? {} : { transferTo }),
  };
  return { state: withShard(state, index, next), result };
}

function transferShardLeader(state: PilotState, command: TransferShardLeaderCommand): PilotTransition {
  const found = findShardFor(state, command);
  if ('ok' in found) return { state, result: found };
  const { shard, index } = found;
  if (!shard.replicas.includes(command.nodeId)) return reject(state, 'not-a-replica', `${command.nodeId} is not a replica of ${shard.id}`);
  if (shard.leader === command.nodeId) return reject(state, 'already-leader', `${command.nodeId} already leads ${shard.id}`);
  // Asking again for the transfer under way changes nothing.
  if (shard.transferTo === command.nodeId) return { state, result: { ok: true, shardId: shard.id } };
  // Leadership is not membership: the epoch stays, only the routing table's version moves.
  return { state: withShard(state, index, { ...shard, transferTo: command.nodeId }), result: { ok: true, shardId: shard.id } };
}

function importState(state: PilotState, command: ImportStateCommand): PilotTransition {
  if (!isInitialPilotState(state)) return reject(state, 'state-not-empty', `the pilot state is at routing version ${state.routingVersion} already`);
  const imported = command.state;
  if (!Number.isSafeInteger(imported.routingVersion) || imported.routingVersion < 0 || !Array.isArray(imported.nodes) || !Array.isArray(imported.shards)) {
    return reject(state, 'invalid-argument', 'the imported state is malformed');
  }
  return { state: imported, result: { ok: true, routingVersion: imported.routingVersion } };
}

function createSplit(state: PilotState, command: CreateSplitCommand): PilotTransition {
  const index = state.shards.findIndex((s) => s.id === command.sourceShard);
  if (index === -1) return reject(state, 'unknown-shard', `no shard ${command.sourceShard}`);
  const source = state.shards[index]!;
  const tasks = state.splitTasks ?? [];
  const outstanding = tasks.filter((t) => !isFinalStatus(t.status));
  if (source.split !== undefined) return reject(state, 'already-splitting', `${source.id} is already in split ${source.split.taskId}`);
  if (command.splitSlot !== undefined && !(Number.isInteger(command.splitSlot) && command.splitSlot > source.start && command.splitSlot < source.end)) {
    return reject(state, 'invalid-argument', `split_slot must be a slot inside ${source.id}'s range, after its first: ${source.start + 1}..${source.end - 1}`);
  }
  if (source.end - source.start < 2) return reject(state, 'invalid-argument', `${source.id} owns a single slot; a slot cannot be split`);
  let nextShardNumber = state.nextShardNumber;
  if (command.targetShardId === undefined) while (shardIdUsed(state, shardId(nextShardNumber))) nextShardNumber++;
  const targetShard = command.targetShardId ?? shardId(nextShardNumber++);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(targetShard)) return reject(state, 'invalid-argument', 'target_shard_id must be 1-64 letters, digits, _ or -');
  if (state.shards.some((s) => s.id === targetShard)) return reject(state, 'shard-exists', `shard ${targetShard} exists`);
  if (shardIdUsed(state, targetShard)) return reject(state, 'shard-exists', `shard id ${targetShard} was used by a shard that is gone; ids are never given again`);
  let targetNodes: readonly string[];
  if (command.targetNodes !== undefined) {
    targetNodes = command.targetNodes;
    const unknown = targetNodes.find((n) => !state.nodes.some((node) => node.id === n));
    if (unknown !== undefined) return reject(state, 'unknown-node', `no node ${unknown}`);
    if (new Set(targetNodes).size !== targetNodes.length) return reject(state, 'invalid-argument', 'target_nodes lists a node twice');
    if (targetNodes.length === 0 || targetNodes.length > SHARD_REPLICAS_MAX) return reject(state, 'invalid-argument', `target_nodes must list 1 to ${SHARD_REPLICAS_MAX} nodes`);
  } else {
    targetNodes = leastLoadedNodes(state, source.replicas.length);
  }
  if (outstanding.length >= command.maxSplits) {
    return reject(state, 'too-many-splits', `${outstanding.length} split(s) under way, the most the cluster runs at once (--max-splits ${command.maxSplits})`);
  }
  const busy = new Map<string, number>();
  for (const task of outstanding) for (const node of nodesInSplit(task, state.shards)) busy.set(node, (busy.get(node) ?? 0) + 1);
  const crowded = [...new Set([...source.replicas, ...targetNodes])].find((n) => (busy.get(n) ?? 0) >= command.maxSplitsPerNode);
  if (crowded !== undefined)
    return reject(
      state,
      'too-many-splits',
      `${crowded} takes part in ${busy.get(crowded)} split(s) already, the most per node (--max-splits-per-node ${command.maxSplitsPerNode})`,
    );

  const number = state.nextSplitNumber ?? 1;
  const task: SplitTask = {
    id: `split_${number}`,
    keyspace: source.keyspace,
    sourceShard: source.id,
    targetShard,
    splitSlot: command.splitSlot ?? null,
    targetNodes: [...targetNodes],
    status: 'preparing',
    reason: null,
    cancelRequested: false,
    createdAtMs: command.atMs,
    updatedAtMs: command.atMs,
    phases: { preparing: command.atMs },
    params: command.params,
  };
  const marker = (role: RoutingSplit['role'], peer: string): RoutingSplit => ({ taskId: task.id, role, peer, splitSlot: task.splitSlot, params: task.params });
  // The target is listed at once so its replicas start its Raft group; it serves nothing until the switch.
  const from = task.splitSlot ?? source.end;
  const target: RoutingShard = {
    id: targetShard,
    keyspace: source.keyspace,
    start: from,
    end: from,
    epoch: 1,
    leader: targetNodes[0]!,
    replicas: [...targetNodes],
    split: marker('target', source.id),
  };
  const shards = state.shards.slice();
  shards[index] = { ...source, split: marker('source', targetShard) };
  shards.splice(index + 1, 0, target);
  return {
    state: {
      ...state,
      routingVersion: state.routingVersion + 1,
      nextShardNumber,
      nextSplitNumber: number + 1,
      shards,
      splitTasks: pruneSplitTasks([...tasks, task]),
    },
    result: { ok: true, taskId: task.id, sourceShard: source.id, targetShard },
  };
}

function splitProgress(state: PilotState, command: SplitProgressCommand): PilotTransition {
  const tasks = state.splitTasks ?? [];
  const index = tasks.findIndex((t) => t.id === command.taskId);
  if (index === -1) return reject(state, 'unknown-split', `no split task ${command.taskId}`);
  const task = tasks[index]!;
  const slotKnown = task.splitSlot === null && command.splitSlot !== undefined;
  if (command.status === task.status && !slotKnown) return { state, result: { ok: true, taskId: task.id, changed: false } };
  if (command.status !== task.status && !isSplitTransition(task.status, command.status)) {
    return reject(state, 'split-switched', `split ${task.id} cannot go from ${task.status} to ${command.status}`);
  }
  const source = state.shards.find((s) => s.id === task.sourceShard);
  if (slotKnown && (source === undefined || !(command.splitSlot! > source.start && command.splitSlot! < source.end))) {
    return reject(state, 'invalid-argument', `split slot ${command.splitSlot} is not inside ${task.sourceShard}'s range`);
  }
  const next: SplitTask = {
    ...task,
    status: command.status,
    splitSlot: slotKnown ? command.splitSlot! : task.splitSlot,
    reason: command.status === 'failed' ? (command.reason ?? 'unknown') : task.reason,
    updatedAtMs: command.atMs,
    phases: command.status === task.status ? task.phases : { ...task.phases, [command.status]: command.atMs },
  };
  let shards = state.shards;
  if (slotKnown) {
    // The target's range is known once the slot is.
    shards = shards.map((s) => {
      if (s.split?.taskId !== task.id) return s;
      const split = { ...s.split, splitSlot: next.splitSlot };
      return s.id === task.targetShard ? { ...s, start: next.splitSlot!, end: next.splitSlot!, split } : { ...s, split };
    });
  }
  // The source reports `cleanup` once the target has taken over: the routing table follows.
  if (SPLIT_PHASES[command.status].targetServes && !SPLIT_PHASES[task.status].targetServes) shards = switchedShards(shards, next);
  if (command.status === 'completed') shards = completedShards(shards, next);
  const rolledBack = splitRolledBack(command.status);
  if (rolledBack) shards = rolledBackShards(shards, next);
  const routingChanged = shards !== state.shards;
  const splitTasks = tasks.slice();
  splitTasks[index] = next;
  const retiredShardIds = rolledBack ? [...(state.retiredShardIds ?? []), task.targetShard] : state.retiredShardIds;
  return {
    state: {
      ...state,
      routingVersion: state.routingVersion + (routingChanged ? 1 : 0),
      shards,
      splitTasks: pruneSplitTasks(splitTasks),
      ...(retiredShardIds === undefined ? {} : { retiredShardIds }),
    },
    result: { ok: true, taskId: task.id, changed: true },
  };
}

function cancelSplit(state: PilotState, command: CancelSplitCommand): PilotTransition {
  const tasks = state.splitTasks ?? [];
  const index = tasks.findIndex((t) => t.id === command.taskId);
  if (index === -1) return reject(state, 'unknown-split', `no split task ${command.taskId}`);
  const task = tasks[index]!;
  if (isFinalStatus(task.status) || splitRollsForward(task.status)) return reject(state, 'split-switched', `split ${task.id} is ${task.status}: it can no longer be cancelled`);
  if (task.cancelRequested) return { state, result: { ok: true, taskId: task.id } };
  const splitTasks = tasks.slice();
  splitTasks[index] = { ...task, cancelRequested: true, updatedAtMs: command.atMs };
  // The source's leader learns of it from the routing table.
  const shards = state.shards.map((s) => (s.id === task.sourceShard && s.split !== undefined ? { ...s, split: { ...s.split, cancelRequested: true } } : s));
  return { state: { ...state, routingVersion: state.routingVersion + 1, shards, splitTasks }, result: { ok: true, taskId: task.id } };
}

/** The `count` nodes with the fewest replicas, ties by registration order. */
function leastLoadedNodes(state: PilotState, count: number): string[] {
  const load = new Map(state.nodes.map((n) => [n.id, 0]));
  for (const shard of state.shards) for (const node of shard.replicas) load.set(node, (load.get(node) ?? 0) + 1);
  return state.nodes
    .map((n, order) => ({ id: n.id, order, load: load.get(n.id) ?? 0 }))
    .sort((a, b) => a.load - b.load || a.order - b.order)
    .slice(0, count)
    .map((n) => n.id);
}

/** The shard a membership command names, after checking its node and epoch; or why it is refused. */
function findShardFor(state: PilotState, command: ChangeShardReplicasCommand | TransferShardLeaderCommand): { shard: RoutingShard; index: number } | PilotRejection {
  const index = state.shards.findIndex((s) => s.id === command.shardId);
  if (index === -1) return rejection('unknown-shard', `no shard ${command.shardId}`);
  if (!state.nodes.some((n) => n.id === command.nodeId)) return rejection('unknown-node', `no node ${command.nodeId}`);
  const shard = state.shards[index]!;
  if (command.epoch !== undefined && command.epoch !== shard.epoch) return rejection('stale-epoch', `${shard.id} is at epoch ${shard.epoch}, not ${command.epoch}`);
  return { shard, index };
}

/** `state` with the shard at `index` replaced: a new routing version. */
function withShard(state: PilotState, index: number, shard: RoutingShard): PilotState {
  const shards = state.shards.slice();
  shards[index] = shard;
  return { ...state, routingVersion: state.routingVersion + 1, shards };
}

/** Whether `id` names a shard of the cluster or one that is gone. */
function shardIdUsed(state: PilotState, id: string): boolean {
  return state.shards.some((s) => s.id === id) || (state.retiredShardIds?.includes(id) ?? false);
}

/** `shard_0001`, `shard_0002`, ...: zero-padded so ids sort like numbers up to 9999 shards. */
function shardId(n: number): string {
  return `shard_${String(n).padStart(4, '0')}`;
}

function processOf(p: NodeProcess): NodeProcess {
  return { host: p.host, port: p.port, busPort: p.busPort, metricsPort: p.metricsPort, pid: p.pid };
}

function invalidProcess(p: NodeProcess): string | undefined {
  if (p.host.length === 0) return 'host must not be empty';
  if (!isPort(p.port) || !isPort(p.busPort)) return 'port and bus port must be in 1..65535';
  if (!isPort(p.metricsPort) && p.metricsPort !== 0) return 'metrics port must be in 0..65535';
  if (!isCount(p.pid)) return 'pid must be a positive integer';
  return undefined;
}

function nodeAt(state: PilotState, host: string, port: number): PilotNode | undefined {
  return state.nodes.find((n) => n.host === host && n.port === port);
}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= PORT_MAX;
}

function isCount(n: number): boolean {
  return Number.isInteger(n) && n >= 1;
}

function rejection(reason: PilotRejectionReason, message: string): PilotRejection {
  return { ok: false, reason, message };
}

function reject(state: PilotState, reason: PilotRejectionReason, message: string): PilotTransition {
  return { state, result: rejection(reason, message) };
}

const routingTables = new WeakMap<PilotState, RoutingTable>();

/** The routing table of `state`. States are immutable, so the table is derived once per state. */
export function routingTable(state: PilotState): RoutingTable {
  let table = routingTables.get(state);
  if (table === undefined) {
    table = {
      version: state.routingVersion,
      nodes: state.nodes.map((n) => ({ id: n.id, clusterId: n.clusterId, host: n.host, port: n.port, busPort: n.busPort })),
      shards: state.shards,
    };
    routingTables.set(state, table);
  }
  return table;
}

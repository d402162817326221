/**
 * Raft replica ids of shard replicas (TiKV's peer id, CockroachDB's ReplicaID). A node is a member of
 * each of its shards' Raft groups under an id the pilot gave that replica when it added the node to the
 * shard: `node number + REPLICA_ID_STRIDE × generation`, with a generation the pilot never gives twice.
 * So a replica removed and added again is a new member, and nothing its earlier incarnation said (a late
 * append acknowledgement, a vote) can be credited to the new, empty one. The founding replicas of a
 * shard have generation 0: their id is the node's number, which is what every id was before replica ids
 * existed, so an old routing table (no `replicaIds`) and an old Raft log name the same members. Pure.
 */
import type { RoutingShard } from './routing.js';

/** Node numbers stay below this; a replica id's remainder by it is its node's number. */
export const REPLICA_ID_STRIDE = 1_000_000;

const NODE_ID_PATTERN = /^node([1-9][0-9]*)$/;

/** Whether `nodeId` names a node: `node` and a number in 1..REPLICA_ID_STRIDE-1. */
export function isNodeId(nodeId: string): boolean {
  const match = NODE_ID_PATTERN.exec(nodeId);
  return match !== null && Number(match[1]) < REPLICA_ID_STRIDE;
}

/** The number of a node id: `node7` is 7, also its founding replicas' Raft id. */
export function nodeNumberOf(nodeId: string): number {
  if (!isNodeId(nodeId)) throw new Error(`node id ${JSON.stringify(nodeId)} is not of the form nodeN with N below ${REPLICA_ID_STRIDE}`);
  return Number(nodeId.slice('node'.length));
}

/** The replica id of generation `generation` on node `nodeId`. */
export function replicaIdFor(nodeId: string, generation: number): number {
  return nodeNumberOf(nodeId) + REPLICA_ID_STRIDE * generation;
}

/** The Raft id of `nodeId`'s replica of `shard`: the recorded one, else the founding one (the node's number). */
export function replicaIdOf(shard: Pick<RoutingShard, 'replicaIds'>, nodeId: string): number {
  return shard.replicaIds?.[nodeId] ?? nodeNumberOf(nodeId);
}

/** The number of the node that hosts replica `replicaId`. */
export function nodeNumberOfReplica(replicaId: number): number {
  return replicaId % REPLICA_ID_STRIDE;
}

/** The id of the node that hosts replica `replicaId`. */
export function nodeIdOfReplica(replicaId: number): string {
  return `node${nodeNumberOfReplica(replicaId)}`;
}

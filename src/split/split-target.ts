/**
 * The wire between a split's source leader and the target shard (docs/SPLIT.md): the source sends a split
 * entry (or a probe) to whichever target replica leads, trying the replicas in turn; the one that leads
 * proposes the entry and answers with its split state. Transport-free: ShardGroups passes the node bus,
 * the simulation its simulated network.
 */
import type { RoutingShard } from '../common/routing.js';
import type { ShardReplica } from '../shard/shard-replica.js';
import type { SplitApplyResult } from '../shard/split-state.js';
import type { MultiRaft } from '../multiraft/multi-raft.js';
import type { SplitRequest, TargetAnswer } from './types.js';

/** How long one split request to a target replica may take before the next replica is tried. */
export const SPLIT_REQUEST_TIMEOUT_MS = 2000;
/** How often, in Raft ticks, leaders look for splits to drive (also right after a routing change). */
export const SPLIT_CHECK_TICKS = 10;

/** What a target replica needs from its node to answer. */
export interface SplitTargetHost {
  replica(shardId: string): ShardReplica | undefined;
  isLeader(shardId: string): boolean;
  propose(shardId: string, command: Uint8Array): Promise<unknown>;
  readBarrier(shardId: string): Promise<void>;
}

/** That host over a node's MultiRaft and the replicas it drives. */
export function splitTargetHost(multiRaft: MultiRaft, replicas: ReadonlyMap<string, ShardReplica>): SplitTargetHost {
  return {
    replica: (shardId) => replicas.get(shardId),
    isLeader: (shardId) => multiRaft.leadership(shardId)?.role === 'leader',
    propose: (shardId, command) => multiRaft.propose(shardId, command),
    readBarrier: (shardId) => multiRaft.readBarrier(shardId),
  };
}

/** On a target replica: proposes what the source's leader sent (when leading the target) and answers its split state. */
export async function answerSplitRequest(host: SplitTargetHost, request: SplitRequest): Promise<TargetAnswer> {
  const replica = host.replica(request.shard);
  if (replica === undefined || !host.isLeader(request.shard)) return { kind: 'notLeader' };
  let result: SplitApplyResult | null = null;
  if (request.command !== null) {
    try {
      result = (await host.propose(request.shard, request.command)) as SplitApplyResult;
    } catch {
      return { kind: 'notLeader' };
    }
  } else {
    // A probe reads the state: it must reflect every committed entry, as a read does.
    await host.readBarrier(request.shard).catch(() => undefined);
    if (!host.isLeader(request.shard)) return { kind: 'notLeader' };
  }
  return { kind: 'ok', result, state: replica.splitState(), owned: replica.ownedRange() };
}

/**
 * Sends a request to the target shard's leader: the replica that answered last (`known`), else each
 * replica in turn. `send` throws when a replica cannot be reached; `remember` keeps the one that led.
 */
export async function requestTargetLeader(
  shard: RoutingShard | undefined,
  known: string | undefined,
  send: (node: string) => Promise<TargetAnswer>,
  remember: (node: string | undefined) => void,
): Promise<TargetAnswer> {
  if (shard === undefined) return { kind: 'unreachable', reason: 'the target is not in the routing table' };
  const order = [...new Set([...(known === undefined ? [] : [known]), ...(shard.leader === null ? [] : [shard.leader]), ...shard.replicas])];
  let reason = 'no replica answered';
  for (const node of order) {
    try {
      const answer = await send(node);
      if (answer.kind === 'ok') {
        remember(node);
        return answer;
      }
    } catch (err) {
      reason = (err as Error).message;
    }
  }
  remember(undefined);
  return { kind: 'unreachable', reason };
}

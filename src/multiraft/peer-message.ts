/**
 * What one node's multi-raft driver sends another's: Raft messages of any group, and the chunks of a
 * snapshot a follower pulls from its leader. A driver hands each peer all of a loop turn's messages at
 * once, so the heartbeats of every group two nodes share travel in one frame.
 */
import { nodeIdOfReplica } from '../common/replica-ids.js';
import type { Message, NodeId } from '../raft/index.js';
import type { ShardSnapshotChunk } from '../storage/types.js';

export type PeerMessage =
  | { readonly t: 'raft'; readonly g: string; readonly m: Message }
  /**
   * A follower asks for the chunk of snapshot `snap` after `cursor` (null: the first); `r` is its Raft id
   * in the group, which the leader tells Raft the snapshot went to.
   */
  | { readonly t: 'snap-req'; readonly g: string; readonly r: NodeId; readonly snap: number; readonly cursor: Uint8Array | null }
  /** The leader's answer; `cursor` repeats the request's so a duplicate or late answer is recognised. */
  | { readonly t: 'snap-chunk'; readonly g: string; readonly snap: number; readonly cursor: Uint8Array | null; readonly chunk: ShardSnapshotChunk }
  /** The leader no longer holds snapshot `snap` (it prepared a newer one or lost leadership). */
  | { readonly t: 'snap-gone'; readonly g: string; readonly snap: number }
  /**
   * The sender applied the group's log through `index`, and the membership then has no place for the
   * receiver: told by a member ahead of it, a removed member learns of its removal, which its own log,
   * cut off by the leader that removed it, may never show.
   */
  | { readonly t: 'not-member'; readonly g: string; readonly index: number }
  /**
   * Member `r` asks whether the group still has a place for it: a voter removed while cut off, whose own
   * log lists only peers that have left the group since, has nobody to campaign to who could say no.
   */
  | { readonly t: 'member-probe'; readonly g: string; readonly r: NodeId };

/**
 * The node that hosts Raft member `raftId` of a shard group (the pilot's group uses its own ids, see
 * pilot/pilot-peers.ts): a replica id names its node (common/replica-ids.ts).
 */
export function nodeIdOf(raftId: number): string {
  return nodeIdOfReplica(raftId);
}

export { isNodeId } from '../common/replica-ids.js';

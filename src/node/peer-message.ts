/**
 * What one node's multi-raft driver sends another's: Raft messages of any group, and the chunks of a
 * snapshot a follower pulls from its leader. A driver hands each peer all of a loop turn's messages at
 * once, so the heartbeats of every group two nodes share travel in one frame.
 */
import type { Message } from '../raft/index.js';
import type { ShardSnapshotChunk } from '../storage/types.js';

export type PeerMessage =
  | { readonly t: 'raft'; readonly g: string; readonly m: Message }
  /** A follower asks for the chunk of snapshot `snap` after `cursor` (null: the first). */
  | { readonly t: 'snap-req'; readonly g: string; readonly snap: number; readonly cursor: Uint8Array | null }
  /** The leader's answer; `cursor` repeats the request's so a duplicate or late answer is recognised. */
  | { readonly t: 'snap-chunk'; readonly g: string; readonly snap: number; readonly cursor: Uint8Array | null; readonly chunk: ShardSnapshotChunk }
  /** The leader no longer holds snapshot `snap` (it prepared a newer one or lost leadership). */
  | { readonly t: 'snap-gone'; readonly g: string; readonly snap: number }
  /**
   * The sender applied the group's log through `index`, and the membership then has no place for the
   * receiver: told by a member ahead of it, a removed member learns of its removal, which its own log,
   * cut off by the leader that removed it, may never show.
   */
  | { readonly t: 'not-member'; readonly g: string; readonly index: number };

const NODE_ID_PATTERN = /^node([1-9][0-9]*)$/;

/** Whether `nodeId` names a node: `node` and a Raft id (a positive safe integer). */
export function isNodeId(nodeId: string): boolean {
  const match = NODE_ID_PATTERN.exec(nodeId);
  return match !== null && Number.isSafeInteger(Number(match[1]));
}

/** Raft ids are the numbers of node ids: `node7` is Raft member 7 of every group it belongs to. */
export function raftIdOf(nodeId: string): number {
  if (!isNodeId(nodeId)) throw new Error(`node id ${JSON.stringify(nodeId)} is not of the form nodeN`);
  return Number(nodeId.slice('node'.length));
}

export function nodeIdOf(raftId: number): string {
  return `node${raftId}`;
}

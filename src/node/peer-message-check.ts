/**
 * The check every batch of peer messages passes on arrival, before multi-raft sees it: the shape of each
 * message kind, Raft messages included (see raft/message-check.ts), and that a Raft message comes from
 * the node that sent the frame and is addressed to this one.
 */
import { areBytes, isBytesOrNull, isIdString, isIndex } from '../common/wire-check.js';
import type { NodeId } from '../raft/index.js';
import { isMessage } from '../raft/message-check.js';
import type { ShardSnapshotChunk } from '../storage/types.js';
import type { PayloadCheck, TransportNodeId } from '../transport/envelope.js';
import { isNodeId, raftIdOf, type PeerMessage } from './peer-message.js';

/** Bound on a group id (a shard id) in a peer message. */
const GROUP_ID_CHARS_MAX = 256;

type Fields = Record<string, unknown>;

/**
 * The payload check of `'raft'` frames for the member whose Raft id is `self`. `senderRaftId` maps the
 * link's node id to the sender's Raft id (undefined: not a member of any group here); by default a
 * node's (`node7` is 7).
 */
export function peerBatchCheck(self: NodeId, senderRaftId: (from: TransportNodeId) => NodeId | undefined = nodeRaftId): PayloadCheck<readonly PeerMessage[]> {
  return (payload, from): payload is readonly PeerMessage[] => {
    const sender = senderRaftId(from);
    if (!Array.isArray(payload) || sender === undefined) return false;
    for (const message of payload) if (!isPeerMessage(message, sender, self)) return false;
    return true;
  };
}

function nodeRaftId(from: TransportNodeId): NodeId | undefined {
  return isNodeId(from) ? raftIdOf(from) : undefined;
}

function isPeerMessage(value: unknown, sender: NodeId, self: NodeId): value is PeerMessage {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as Fields;
  if (!isIdString(message['g'], GROUP_ID_CHARS_MAX)) return false;
  switch (message['t']) {
    case 'raft': {
      const m = message['m'];
      return isMessage(m) && m.from === sender && m.to === self;
    }
    case 'snap-req':
      return isIndex(message['snap']) && isBytesOrNull(message['cursor']);
    case 'snap-chunk':
      return isIndex(message['snap']) && isBytesOrNull(message['cursor']) && isSnapshotChunk(message['chunk']);
    case 'snap-gone':
      return isIndex(message['snap']);
    case 'not-member':
      return isIndex(message['index']);
    default:
      return false;
  }
}

/**
 * Byte strings (a shard's keys and values in pairs, the pilot's state in one: the state machine reads
 * them), the next cursor, and the shard's meta and clock on a first chunk.
 */
function isSnapshotChunk(value: unknown): value is ShardSnapshotChunk {
  if (typeof value !== 'object' || value === null) return false;
  const chunk = value as Fields;
  const entries = chunk['entries'];
  const clockMs = chunk['clockMs'];
  return areBytes(entries) && isBytesOrNull(chunk['next']) && (chunk['meta'] === undefined || isBytesOrNull(chunk['meta'])) && (clockMs === undefined || Number.isFinite(clockMs));
}

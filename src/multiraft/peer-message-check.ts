/**
 * The check every batch of peer messages passes on arrival, before multi-raft sees it: the shape of each
 * message kind, Raft messages included (see raft/message-check.ts), and that a Raft message (and the
 * member a snapshot request names) comes from the node that sent the frame and is addressed to this one.
 */
import { areBytes, isBytesOrNull, isIdString, isIndex } from '../common/wire-check.js';
import { nodeNumberOf, nodeNumberOfReplica } from '../common/replica-ids.js';
import { isValidNodeId, type NodeId } from '../raft/index.js';
import { isMessage } from '../raft/message-check.js';
import type { ShardSnapshotChunk } from '../storage/types.js';
import type { PayloadCheck, TransportNodeId } from '../transport/envelope.js';
import { isNodeId, type PeerMessage } from './peer-message.js';

/** Bound on a group id (a shard id) in a peer message. */
const GROUP_ID_CHARS_MAX = 256;

type Fields = Record<string, unknown>;

/** How the check tells which peer a Raft id belongs to, and which peer sent a frame. */
export interface PeerIds {
  /** The peer of a link's node id (undefined: no peer of these groups). */
  readonly senderOf: (from: TransportNodeId) => NodeId | undefined;
  /** The peer that hosts Raft member `id`. */
  readonly peerOf: (id: NodeId) => NodeId;
}

/** Shard groups: a node's peer is its number, and a replica id names its node (common/replica-ids.ts). */
export const SHARD_PEER_IDS: PeerIds = {
  senderOf: (from) => (isNodeId(from) ? nodeNumberOf(from) : undefined),
  peerOf: nodeNumberOfReplica,
};

/** The payload check of `'raft'` frames for the peer `self` (for shard groups, a node's number). */
export function peerBatchCheck(self: NodeId, ids: PeerIds = SHARD_PEER_IDS): PayloadCheck<readonly PeerMessage[]> {
  return (payload, from): payload is readonly PeerMessage[] => {
    const sender = ids.senderOf(from);
    if (!Array.isArray(payload) || sender === undefined) return false;
    for (const message of payload) if (!isPeerMessage(message, sender, self, ids.peerOf)) return false;
    return true;
  };
}

/** A Raft member id of the sending peer: a peer speaks only for its own members. */
function isMemberOf(value: unknown, sender: NodeId, peerOf: (id: NodeId) => NodeId): value is NodeId {
  return typeof value === 'number' && isValidNodeId(value) && peerOf(value) === sender;
}

function isPeerMessage(value: unknown, sender: NodeId, self: NodeId, peerOf: (id: NodeId) => NodeId): value is PeerMessage {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as Fields;
  if (!isIdString(message['g'], GROUP_ID_CHARS_MAX)) return false;
  switch (message['t']) {
    case 'raft': {
      const m = message['m'];
      return isMessage(m) && peerOf(m.from) === sender && peerOf(m.to) === self;
    }
    case 'snap-req':
      return isMemberOf(message['r'], sender, peerOf) && isIndex(message['snap']) && isBytesOrNull(message['cursor']);
    case 'snap-chunk':
      return isIndex(message['snap']) && isBytesOrNull(message['cursor']) && isSnapshotChunk(message['chunk']);
    case 'snap-gone':
      return isIndex(message['snap']);
    case 'not-member':
      return isIndex(message['index']);
    case 'member-probe':
      return isMemberOf(message['r'], sender, peerOf);
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

import type { Entry } from './log-entry.js';
import type { NodeId } from './node-id.js';
import type { Snapshot } from './snapshot.js';

/**
 * Messages between the Raft peers of one group. Plain readonly objects with a `type` discriminant,
 * numbers for indexes and terms and Uint8Array for bytes, so the transport can msgpack them as they are.
 * Every message carries the sender's `term` (Raft paper §5.1: "if one server's current term is smaller
 * than the other's, then it updates its current term"). Local events (tick, proposals, reports) are
 * RawNode methods, not messages, so nothing local can be confused with something from the wire.
 */
export type Message = MsgApp | MsgAppResp | MsgVote | MsgVoteResp | MsgHeartbeat | MsgHeartbeatResp | MsgSnap | MsgTimeoutNow | MsgReadIndex | MsgReadIndexResp | MsgTransferLeader;

/** The message type names. */
export type MessageType = Message['type'];

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** AppendEntries: `entries` follow the entry at `index` whose term is `logTerm`. */
export interface MsgApp extends MessageBase {
  readonly type: 'MsgApp';
  readonly index: number;
  readonly logTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * AppendEntries reply. Accepted: `index` is the last index known to match the leader. Rejected: `index`
 * is the rejected MsgApp's `index`; `rejectHint`/`logTerm` name the follower's last entry that may match
 * (largest index ≤ the probe whose term ≤ the probe's term) so the leader skips whole terms at once.
 */
export interface MsgAppResp extends MessageBase {
  readonly type: 'MsgAppResp';
  readonly index: number;
  readonly reject: boolean;
  readonly rejectHint: number;
  readonly logTerm: number;
}

/**
 * RequestVote (and its pre-vote dry run, §9.6 of the Raft thesis). `index`/`logTerm` describe the
 * candidate's last entry. `transfer` marks a campaign started by leadership transfer, which may
 * override a follower's leader lease.
 */
export interface MsgVote extends MessageBase {
  readonly type: 'MsgVote' | 'MsgPreVote';
  readonly index: number;
  readonly logTerm: number;
  readonly transfer: boolean;
}

/**
 * RequestVote reply. For a granted pre-vote, `term` is the term the pre-candidate would campaign in. A
 * rejection carries the voter's commit index and the term of that entry, so a candidate holding the same
 * entry learns it is committed (log matching makes the prefixes identical). Membership takes effect when
 * applied, so a voter may otherwise wait forever for the vote of a member whose removal it has not
 * learned is committed.
 */
export interface MsgVoteResp extends MessageBase {
  readonly type: 'MsgVoteResp' | 'MsgPreVoteResp';
  readonly reject: boolean;
  readonly commit: number;
  readonly commitTerm: number;
}

/**
 * Leader heartbeat. `commit` is min(follower's match, leader commit), so a follower never commits past
 * what it is known to hold. `context` is set when the heartbeat round confirms a ReadIndex request.
 */
export interface MsgHeartbeat extends MessageBase {
  readonly type: 'MsgHeartbeat';
  readonly commit: number;
  readonly context: Uint8Array | null;
}

/** Heartbeat reply, echoing the heartbeat's `context`. */
export interface MsgHeartbeatResp extends MessageBase {
  readonly type: 'MsgHeartbeatResp';
  readonly context: Uint8Array | null;
}

/** InstallSnapshot for a follower whose next entry the leader has compacted away. */
export interface MsgSnap extends MessageBase {
  readonly type: 'MsgSnap';
  readonly snapshot: Snapshot;
}

/** Leadership transfer: "start an election now, without waiting for the election timeout". */
export interface MsgTimeoutNow extends MessageBase {
  readonly type: 'MsgTimeoutNow';
}

/** A follower forwards a linearizable read request to its leader. */
export interface MsgReadIndex extends MessageBase {
  readonly type: 'MsgReadIndex';
  readonly context: Uint8Array;
}

/** The leader's answer: the read may be served once the follower has applied `index`. */
export interface MsgReadIndexResp extends MessageBase {
  readonly type: 'MsgReadIndexResp';
  readonly index: number;
  readonly context: Uint8Array;
}

/** A non-leader forwards a request to transfer leadership to `transferee`. */
export interface MsgTransferLeader extends MessageBase {
  readonly type: 'MsgTransferLeader';
  readonly transferee: NodeId;
}

/** Omit that distributes over a union, so each message variant keeps its own fields. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A message as a Raft node builds it: `from` is filled in, `term` defaults to the node's term. */
export type OutgoingMessage = DistributiveOmit<Message, 'from' | 'term'> & { readonly term?: number };

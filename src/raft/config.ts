import { isValidNodeId, type NodeId } from './node-id.js';
import type { RaftLogStorage } from './storage.js';

/**
 * How linearizable reads are confirmed. `safe` (default): ReadIndex, the leader's leadership at the
 * read's arrival is confirmed by a quorum answering a heartbeat round. `leaseBased`: the leader answers
 * at once, trusting that check-quorum deposes it within an election timeout — correct only if clocks
 * tick at bounded relative rates, which a paused Node process (GC, VM freeze) does not guarantee.
 */
export type ReadOnlyOption = 'safe' | 'leaseBased';

/** What a Raft node is built from. Membership is not here: it comes from `storage.initialState()`. */
export interface RaftConfig {
  /** This node's id (positive). */
  readonly id: NodeId;
  /** Ticks without hearing from a leader before campaigning; the actual timeout is random in [n, 2n). */
  readonly electionTicks: number;
  /** Ticks between leader heartbeats; must be less than electionTicks. */
  readonly heartbeatTicks: number;
  readonly storage: RaftLogStorage;
  /** Uniform in [0, 1): the only randomness (election timeout jitter). Seeded in simulation. */
  readonly random: () => number;
  /** The index the driver has already applied (after a restart); default: the snapshot index. */
  readonly applied?: number;
  /**
   * Whether a node whose log is empty (no snapshot, no entry) grants votes and pre-votes: default true.
   * A driver whose members all start from a bootstrapped log, and whose new voters are promoted only
   * once they hold the leader's log, sets false: an empty log then means a replica that lost its state,
   * and its vote could elect a leader missing committed entries.
   */
  readonly votesWhenEmpty?: boolean;
  /** Pre-vote (Raft thesis §9.6): default true. */
  readonly preVote?: boolean;
  /** Check-quorum: a leader that has not heard from a quorum for an election timeout steps down; default true. */
  readonly checkQuorum?: boolean;
  /** Default 'safe'. 'leaseBased' requires checkQuorum. */
  readonly readOnlyOption?: ReadOnlyOption;
  /** MsgApps in flight per follower in replicate state. */
  readonly maxInflightMsgs: number;
  /** Entry bytes in flight per follower; default maxInflightMsgs × maxSizePerMsgBytes. */
  readonly maxInflightBytes?: number;
  /** Entry bytes per MsgApp (a single larger entry is still sent alone). */
  readonly maxSizePerMsgBytes: number;
  /** Payload bytes of uncommitted entries a leader accepts before dropping proposals; default unlimited. */
  readonly maxUncommittedEntriesBytes?: number;
  /** Bytes of committed entries per Ready; default maxSizePerMsgBytes. */
  readonly maxCommittedSizePerReadyBytes?: number;
  /** Read requests a leader holds while confirming leadership; default 4096. */
  readonly maxPendingReadRequests?: number;
}

/** A config with every default filled in. */
export type ResolvedRaftConfig = Required<RaftConfig>;

/** Fills in defaults and validates. A bad config is a driver bug: it throws. */
export function resolveConfig(config: RaftConfig): ResolvedRaftConfig {
  const check = (ok: boolean, what: string): void => {
    if (!ok) throw new Error(`invalid raft config: ${what}`);
  };
  check(isValidNodeId(config.id), `id ${config.id} must be a positive safe integer`);
  check(Number.isSafeInteger(config.heartbeatTicks) && config.heartbeatTicks > 0, 'heartbeatTicks must be positive');
  check(Number.isSafeInteger(config.electionTicks) && config.electionTicks > config.heartbeatTicks, 'electionTicks must exceed heartbeatTicks');
  check(Number.isSafeInteger(config.maxInflightMsgs) && config.maxInflightMsgs > 0, 'maxInflightMsgs must be positive');
  check(config.maxSizePerMsgBytes > 0, 'maxSizePerMsgBytes must be positive');
  const checkQuorum = config.checkQuorum ?? true;
  const readOnlyOption = config.readOnlyOption ?? 'safe';
  check(readOnlyOption === 'safe' || checkQuorum, "readOnlyOption 'leaseBased' requires checkQuorum");
  const resolved: ResolvedRaftConfig = {
    ...config,
    applied: config.applied ?? 0,
    votesWhenEmpty: config.votesWhenEmpty ?? true,
    preVote: config.preVote ?? true,
    checkQuorum,
    readOnlyOption,
    maxInflightBytes: config.maxInflightBytes ?? config.maxInflightMsgs * config.maxSizePerMsgBytes,
    maxUncommittedEntriesBytes: config.maxUncommittedEntriesBytes ?? Number.POSITIVE_INFINITY,
    maxCommittedSizePerReadyBytes: config.maxCommittedSizePerReadyBytes ?? config.maxSizePerMsgBytes,
    maxPendingReadRequests: config.maxPendingReadRequests ?? 4096,
  };
  check(resolved.maxInflightBytes > 0, 'maxInflightBytes must be positive');
  check(resolved.maxUncommittedEntriesBytes > 0, 'maxUncommittedEntriesBytes must be positive');
  check(resolved.maxPendingReadRequests > 0, 'maxPendingReadRequests must be positive');
  return resolved;
}

import type { NodeId } from './node-id.js';
import type { Role } from './ready.js';
import type { ConfState } from './snapshot.js';
import type { ProgressState } from './tracker/progress.js';

/** The leader's view of one member, for operators and schedulers (e.g. "is the learner caught up?"). */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly pendingSnapshot: number;
  readonly recentActive: boolean;
  readonly paused: boolean;
  readonly inflightCount: number;
  readonly isLearner: boolean;
}

/** A snapshot of a node's Raft state. */
export interface Status {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly leaderId: NodeId;
  readonly role: Role;
  readonly leadTransferee: NodeId;
  readonly confState: ConfState;
  /** Per member, only on the leader. */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus> | null;
}

import type { NodeId } from './node-id.js';
import type { ConfChangeRejection } from './tracker/progress-tracker.js';

/** Why a proposal was not appended. These are operating conditions, not bugs: the caller retries or redirects. */
export type ProposalRejection =
  /** Only the leader appends; `leaderId` says where to go (NONE when unknown). */
  | 'notLeader'
  /** A leadership transfer is in progress: proposals would likely be lost with the old term. */
  | 'leaderTransferring'
  /** `maxUncommittedEntriesBytes` reached: back-pressure until followers catch up. */
  | 'uncommittedSizeExceeded'
  /** This leader was removed from the group and is handing leadership over (`leaderId`: to whom). */
  | 'removed'
  /** Only one membership change may be pending (appended but not applied) at a time. */
  | 'confChangePending'
  | ConfChangeRejection;

/** Outcome of propose/proposeConfChange. On success, the entry's position: it may still be lost if leadership changes before it commits. */
export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly reason: ProposalRejection; readonly leaderId: NodeId };

/** Outcome of readIndex. `ok` means the request is on its way: a ReadState with the context follows unless leadership changes (the driver times out and retries). */
export type ReadIndexResult = { readonly ok: true } | { readonly ok: false; readonly reason: 'notLeader' | 'tooManyPendingReads'; readonly leaderId: NodeId };

/** Outcome of transferLeadership. `ok` means started (or forwarded to the leader); watch softState for the result. */
export type TransferResult = { readonly ok: true } | { readonly ok: false; readonly reason: 'notLeader' | 'unknownNode' | 'learner' };

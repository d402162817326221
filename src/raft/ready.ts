import type { HardState } from './hard-state.js';
import type { Entry } from './log-entry.js';
import type { Message } from './message.js';
import type { NodeId } from './node-id.js';
import type { Snapshot } from './snapshot.js';

/** A node's role. Changes only in Raft.becomeFollower/becomePreCandidate/becomeCandidate/becomeLeader. */
export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile state worth reporting (not persisted): who leads, and our role. */
export interface SoftState {
  readonly leaderId: NodeId;
  readonly role: Role;
}

/**
 * A confirmed linearizable read: once this node has applied `index`, reading its state machine returns
 * a value at least as new as any write acknowledged before the read was requested.
 */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

/**
 * Everything a RawNode asks its driver to do. The driver MUST carry a Ready out in this order:
 *
 * 1. Persist `snapshot` (if any), `entries` (appending; they may overwrite a stored suffix from their
 *    first index) and `hardState` (if any) — durably (fsync) when `mustSync`, atomically if possible.
 *    Persisting comes FIRST because messages promise it: a vote or an append acknowledgement sent before
 *    the vote or entries are on disk could be forgotten by a crash, and a second vote in the same term or
 *    a lost committed entry breaks safety.
 * 2. Send `messages` (only after step 1; order per destination should be kept but loss and reordering
 *    are tolerated).
 * 3. Apply `snapshot` (replace the state machine) then `committedEntries` in order. `committedEntries`
 *    may include entries from this very Ready's `entries`; step 1 made them durable. Conf-change entries
 *    take effect inside Raft at step 4; the driver decodes them only to learn addresses (context).
 * 4. Call `advance(ready)`. Until then `ready()` must not be called again; `step`, `tick` and `propose`
 *    may be.
 *
 * `readStates` can be served once the applied index reaches their index.
 */
export interface Ready {
  /** Set when leader or role changed since the last Ready. */
  readonly softState: SoftState | null;
  /** Set when term, vote or commit changed since the last Ready: persist it. */
  readonly hardState: HardState | null;
  /** Entries to append to stable storage. */
  readonly entries: readonly Entry[];
  /** A snapshot from the leader to persist and to load into the state machine. */
  readonly snapshot: Snapshot | null;
  /** Committed entries to apply, in order. */
  readonly committedEntries: readonly Entry[];
  /** Messages to send after persisting. */
  readonly messages: readonly Message[];
  /** Confirmed read indexes for requests made with readIndex. */
  readonly readStates: readonly ReadState[];
  /** Whether step 1 must be durable before step 2 (term, vote or entries changed). */
  readonly mustSync: boolean;
}

/**
 * cleave's Raft core: a pure, deterministic implementation of Raft in the style of etcd's raft.
 *
 * No timers, sockets, disk, clock or global randomness: time enters as `RawNode.tick()`, randomness (the
 * election timeout jitter) through the injected `random`, I/O through the Ready/advance contract. This is
 * what lets one process simulate a whole cluster on virtual time from a seed.
 *
 * ## Driver loop (one per RawNode; see the `Ready` type for the ordering duty)
 * ```ts
 * node.tick();                       // every tick interval
 * node.step(message);                // for each message from the transport
 * node.propose(data);                // on the leader; else redirect to result.leaderId
 * while (node.hasReady()) {
 *   const rd = node.ready();
 *   if (rd.snapshot) storage.applySnapshot(rd.snapshot);       // 1. persist ...
 *   storage.append(rd.entries);
 *   if (rd.hardState) storage.setHardState(rd.hardState);      //    (fsync when rd.mustSync)
 *   transport.send(rd.messages);                                // 2. ... before sending
 *   if (rd.snapshot) stateMachine.restore(rd.snapshot.data);    // 3. apply
 *   for (const e of rd.committedEntries) stateMachine.apply(e); //    (conf changes: decodeConfChange for addresses)
 *   serveReads(rd.readStates);
 *   node.advance(rd);                                           // 4. acknowledge
 * }
 * ```
 *
 * ## Membership
 * One server at a time (Raft thesis §4.1), as learner → voter: `addLearner` (receives the log, never
 * votes or counts for commit), `promoteLearner` once `status().progress` shows it caught up, and
 * `removeNode`. A change takes effect on each member when it applies the entry (inside `advance`); the
 * leader refuses a new change while one is appended but not applied, and a new leader refuses one until
 * its whole log is applied. The membership lives in storage (`initialState().confState` and snapshots),
 * not in the config: founding members start from `bootstrapSnapshot(voters)`; a joining node starts
 * empty and learns the membership from the snapshot the leader sends it.
 * Because a change takes effect when applied, a member may not yet know that a change is committed. Two
 * rules keep that from stalling the group: a removed leader keeps leading as a lame duck (refusing
 * proposals with 'removed', not counting itself) and hands leadership to its most caught-up voter; and a
 * vote rejection carries the rejecter's commit index and its term, which a candidate holding that same
 * entry adopts (log matching makes the prefixes identical), so it can apply the change and proceed.
 * The driver should shut a removed node down once a new leader has taken over.
 *
 * ## Log compaction and snapshots
 * The driver snapshots its state machine at an applied index (`createSnapshot(index, node.confState(),
 * data)` on MemoryRaftStorage) and compacts the log up to it. When a follower needs a compacted entry,
 * the leader calls `storage.snapshot()` — the hook where the application provides its snapshot, whose
 * data the transport may stream in chunks — and sends `MsgSnap`. The transport reports the outcome with
 * `reportSnapshot(to, ok)`. The follower's Ready then carries the snapshot to persist and load.
 *
 * ## Linearizable reads: ReadIndex (default) and, optionally, leases
 * `readIndex(context)` uses ReadIndex (Raft thesis §6.4): the leader records its commit index, confirms
 * it is still leader by a heartbeat round that a quorum answers, and only then emits a ReadState; the
 * read is served once the state machine has applied that index. A new leader first commits an entry of
 * its own term (reads wait for it), because until then its commit index may lag the previous leader's.
 * Followers forward the request (MsgReadIndex) and serve it locally once they have applied the index.
 * We default to ReadIndex because its safety depends on nothing but message exchange. The lease-based
 * option (`readOnlyOption: 'leaseBased'`, requires check-quorum) skips the heartbeat round, relying on
 * check-quorum deposing a cut-off leader within an election timeout while followers refuse votes for
 * that long; that holds only if clocks on all nodes advance at similar rates, and a Node.js process can
 * stall (GC, event-loop blockage, VM pause) for longer than an election timeout, after which a stale
 * leader would serve stale reads. The cost of ReadIndex is one heartbeat round trip per batch of reads
 * (a heartbeat carries the newest pending context and confirms every earlier one).
 *
 * ## Availability guards
 * Pre-vote keeps a node that was partitioned away from raising terms and deposing a healthy leader when
 * it returns; check-quorum makes a leader that cannot reach a quorum step down within an election
 * timeout, and lets followers ignore vote requests while they hear from a leader. Leadership transfer
 * catches the transferee up, then has it campaign at once.
 *
 * ## Not implemented
 * Joint consensus (changes of several members at once), demoting a voter to learner, async storage
 * writes (etcd's MsgStorageAppend: here one Ready at a time), pipelined Readies, proposal forwarding
 * from followers (callers redirect to `leaderId` instead), and snapshot chunking (the transport's job).
 */
export { decodeConfChange, encodeConfChange, type ConfChange, type ConfChangeType } from './conf-change.js';
export { resolveConfig, type RaftConfig, type ReadOnlyOption, type ResolvedRaftConfig } from './config.js';
export { EMPTY_HARD_STATE, hardStateEquals, isEmptyHardState, type HardState } from './hard-state.js';
export { ENTRY_OVERHEAD_BYTES, entrySizeBytes, type Entry, type EntryType } from './log-entry.js';
export { MemoryRaftStorage } from './memory-storage.js';
export type * from './message.js';
export { NONE, isValidNodeId, type NodeId } from './node-id.js';
export type { ReadState, Ready, Role, SoftState } from './ready.js';
export type { ProposalRejection, ProposeResult, ReadIndexResult, TransferResult } from './results.js';
export { RawNode } from './raw-node.js';
export { bootstrapSnapshot, EMPTY_CONF_STATE, EMPTY_SNAPSHOT, type ConfState, type ConfStateChange, type Snapshot, type SnapshotMetadata } from './snapshot.js';
export type { ProgressStatus, Status } from './status.js';
export type { RaftLogStorage, StorageError } from './storage.js';
export type { ProgressState } from './tracker/progress.js';
export type { ConfChangeRejection } from './tracker/progress-tracker.js';

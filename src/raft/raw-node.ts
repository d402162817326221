import { assert } from '../common/errors.js';
import { decodeConfChange, type ConfChange } from './conf-change.js';
import type { RaftConfig } from './config.js';
import { hardStateEquals, type HardState } from './hard-state.js';
import type { Message } from './message.js';
import type { NodeId } from './node-id.js';
import { Raft } from './raft.js';
import type { Ready, SoftState } from './ready.js';
import type { ProposeResult, ReadIndexResult, TransferResult } from './results.js';
import type { ConfState, ConfStateChange } from './snapshot.js';
import type { Status } from './status.js';

/**
 * The driver's handle on one Raft group member (etcd's RawNode): feed it ticks, messages and requests;
 * take its output as Ready batches and acknowledge each with advance. Synchronous and deterministic:
 * the same inputs (and the same `random`) give the same outputs.
 */
export class RawNode {
  private readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** The Ready handed out and not yet advanced. */
  private outstanding: Ready | null = null;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    // The persisted state is what we were built from: report only changes from it.
    this.prevHardState = config.storage.initialState().hardState;
  }

  get id(): NodeId {
    return this.raft.id;
  }

  /**
   * Advances logical time by one tick (election timeouts and heartbeats are counted in ticks). A
   * campaigning member's clock stands still while its requests for votes wait to be sent: they leave
   * only once its term and vote are durable, and a timeout counted while the disk is slower than it
   * would end every campaign before a voter heard of it.
   */
  tick(): void {
    if (this.voteRequestsUnsent()) return;
    this.raft.tick();
  }

  /** Starts an election now, as if the election timeout had elapsed (with pre-vote if configured). */
  campaign(): void {
    this.raft.startElection();
  }

  /** Delivers a message from a peer. Messages not addressed to this node or from an older term are ignored. */
  step(message: Message): void {
    this.raft.step(message);
  }

  /** Proposes a command. Not leader → rejected with the known leader, so the caller can redirect. */
  propose(data: Uint8Array): ProposeResult {
    return this.raft.propose(data);
  }

  /** Proposes a membership change (leader only; one pending at a time). */
  proposeConfChange(change: ConfChange): ProposeResult {
    return this.raft.proposeConfChange(change);
  }

  /**
   * Requests a linearizable read identified by `context` (unique among pending reads). A ReadState with
   * the same context arrives in a later Ready; serve the read once applied ≥ its index. No answer (after
   * a leader change, loss, ...) means retry: the driver owns the timeout.
   */
  readIndex(context: Uint8Array): ReadIndexResult {
    return this.raft.readIndex(context);
  }

  /** Asks the leader to hand leadership to `transferee` (forwarded when this node is a follower). */
  transferLeadership(transferee: NodeId): TransferResult {
    return this.raft.transferLeadership(transferee);
  }

  /** The transport finished sending a MsgSnap to `to`: ok, or failed. */
  reportSnapshot(to: NodeId, ok: boolean): void {
    this.raft.reportSnapshot(to, ok);
  }

  /** The transport could not reach `to`. */
  reportUnreachable(to: NodeId): void {
    this.raft.reportUnreachable(to);
  }

  /** Whether this member's own pre-vote or vote requests are still in its messages or in the Ready not yet advanced. */
  private voteRequestsUnsent(): boolean {
    const r = this.raft;
    if (r.role !== 'preCandidate' && r.role !== 'candidate') return false;
    return r.messages.some(isVoteRequest) || this.outstanding?.messages.some(isVoteRequest) === true;
  }

  /** Whether ready() would have anything to do. False while a Ready is outstanding. */
  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    const r = this.raft;
    const soft = r.softState();
    if (soft.leaderId !== this.prevSoftState.leaderId || soft.role !== this.prevSoftState.role) return true;
    if (!hardStateEquals(r.hardState(), this.prevHardState)) return true;
    if (r.log.hasPendingSnapshot()) return true;
    if (r.messages.length > 0 || r.readStates.length > 0) return true;
    if (r.log.unstable.entries.length > 0) return true;
    return r.log.hasNextCommittedEntries();
  }

  /**
   * Takes the heartbeats and heartbeat answers waiting to be sent, when the term and vote they speak for
   * are durable (none otherwise): they carry no log state of this member's, so they may leave at once,
   * even while a Ready is outstanding. A member whose disk is busy with a large write thus still shows
   * it is alive, and nobody campaigns against a leader that is slow, not gone. A heartbeat's commit index
   * is cut to the durable one: a follower must not apply what a crash of the leader could take back.
   * `durable`: the hard state on disk, when the driver knows it to be newer than the last one advanced.
   */
  takeHeartbeats(durable: HardState = this.prevHardState): Message[] {
    const r = this.raft;
    // Called for every group on every turn: most have nothing to send.
    if (r.messages.length === 0) return [];
    const hard = r.hardState();
    if (hard.term !== durable.term || hard.vote !== durable.vote) return [];
    const heartbeats: Message[] = [];
    const rest: Message[] = [];
    for (const m of r.messages) {
      if (m.type === 'MsgHeartbeat') heartbeats.push(m.commit > durable.commit ? { ...m, commit: durable.commit } : m);
      else if (m.type === 'MsgHeartbeatResp') heartbeats.push(m);
      else rest.push(m);
    }
    if (heartbeats.length > 0) r.messages = rest;
    return heartbeats;
  }

  /** Takes the work to do now. The caller must carry it out as the Ready type says, then advance(it). */
  ready(): Ready {
    assert(this.outstanding === null, 'ready() called again before advance()');
    const r = this.raft;
    const soft = r.softState();
    const hard = r.hardState();
    const softChanged = soft.leaderId !== this.prevSoftState.leaderId || soft.role !== this.prevSoftState.role;
    const hardChanged = !hardStateEquals(hard, this.prevHardState);
    const entries = r.log.unstableEntries();
    const ready: Ready = {
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hard : null,
      entries,
      snapshot: r.log.unstable.snapshot ?? null,
      committedEntries: r.log.nextCommittedEntries(),
      messages: r.messages,
      readStates: r.readStates,
      mustSync: entries.length > 0 || hard.term !== this.prevHardState.term || hard.vote !== this.prevHardState.vote,
    };
    // Messages and read states belong to this Ready now; later ones go to the next.
    r.messages = [];
    r.readStates = [];
    this.outstanding = ready;
    return ready;
  }

  /**
   * The driver persisted, sent and applied `ready`. Marks its entries and snapshot stable, its
   * committed entries applied, and applies the membership changes among them; returns the membership
   * after each of those, in log order (a compaction point between two of them needs the one in force there).
   */
  advance(ready: Ready): ConfStateChange[] {
    assert(ready === this.outstanding, 'advance() with a Ready that is not the outstanding one');
    this.outstanding = null;
    const log = this.raft.log;
    if (ready.softState !== null) this.prevSoftState = ready.softState;
    if (ready.hardState !== null) this.prevHardState = ready.hardState;
    if (ready.snapshot !== null) {
      log.unstable.stableSnapTo(ready.snapshot.metadata.index);
      log.appliedTo(ready.snapshot.metadata.index);
    }
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry !== undefined) log.unstable.stableTo(lastEntry.index, lastEntry.term);
    const changes: ConfStateChange[] = [];
    for (const entry of ready.committedEntries) {
      if (entry.type === 'confChange') {
        this.raft.applyConfChange(decodeConfChange(entry.data));
        changes.push({ index: entry.index, confState: this.raft.confState() });
      }
      log.appliedTo(entry.index);
    }
    this.raft.reduceUncommittedSize(ready.committedEntries);
    return changes;
  }

  /** The membership as of the applied index (what a snapshot taken now must record). */
  confState(): ConfState {
    return this.raft.confState();
  }

  /** The node's state, with per-member progress when leader. */
  status(): Status {
    return this.raft.status(true);
  }

  /** The node's state without per-member progress (cheap: no allocation per member). */
  basicStatus(): Status {
    return this.raft.status(false);
  }
}

function isVoteRequest(m: Message): boolean {
  return m.type === 'MsgVote' || m.type === 'MsgPreVote';
}

import { assert } from '../common/errors.js';
import { encodeConfChange, type ConfChange } from './conf-change.js';
import { resolveConfig, type RaftConfig, type ResolvedRaftConfig } from './config.js';
import { isEmptyHardState, type HardState } from './hard-state.js';
import { entryPayloadBytes, entrySizeBytes, type Entry, type EntryType } from './log-entry.js';
import type { Message, MsgApp, MsgHeartbeat, MsgSnap, MsgVote, OutgoingMessage } from './message.js';
import { NONE, type NodeId } from './node-id.js';
import { hasQuorum } from './quorum/majority.js';
import { RaftLog } from './raft-log.js';
import { ReadOnly, type ReadRequest } from './read-only.js';
import type { ReadState, Role, SoftState } from './ready.js';
import type { ProposeResult, ReadIndexResult, TransferResult } from './results.js';
import type { ConfState, Snapshot } from './snapshot.js';
import type { ProgressStatus, Status } from './status.js';
import type { Progress } from './tracker/progress.js';
import { ProgressTracker } from './tracker/progress-tracker.js';

/** How an election starts: with a pre-vote round, directly, or directly and overriding leases (transfer). */
type CampaignKind = 'preElection' | 'election' | 'transfer';

const EMPTY_BYTES = new Uint8Array(0);

/**
 * The Raft state machine of one group member (etcd's `raft` struct). Pure and synchronous: input is
 * `tick()`, `step(message)` and the local requests; output accumulates in `messages` and `readStates`
 * and in the log's unstable part, which RawNode turns into Ready batches. Role changes happen only in the
 * `become*` methods, which also swap the tick and step functions.
 */
export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = 'follower';
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  /** Outgoing messages, taken by RawNode.ready(). */
  messages: Message[] = [];
  /** Confirmed reads, taken by RawNode.ready(). */
  readStates: ReadState[] = [];
  /** The member leadership is being transferred to, or NONE. */
  leadTransferee: NodeId = NONE;
  /** Index of the latest membership change appended by this leader (or its first index as leader). */
  private pendingConfIndex = 0;
  private uncommittedSizeBytes = 0;
  private readOnly = new ReadOnly();
  /** Reads that arrived before this leader committed an entry of its term (its commit index was not yet known current). */
  private pendingReadRequests: ReadRequest[] = [];
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private tickFn: () => void = () => this.tickElection();
  private stepFn: (m: Message) => void = (m) => this.stepFollower(m);
  private readonly config: ResolvedRaftConfig;

  constructor(rawConfig: RaftConfig) {
    this.config = resolveConfig(rawConfig);
    this.id = this.config.id;
    const { storage } = this.config;
    this.log = new RaftLog(storage, this.config.maxCommittedSizePerReadyBytes);
    const { hardState, confState } = storage.initialState();
    this.tracker = new ProgressTracker(this.config.maxInflightMsgs, this.config.maxInflightBytes);
    this.tracker.restore(confState, this.log.lastIndex());
    if (!isEmptyHardState(hardState)) this.loadState(hardState);
    if (this.config.applied > 0) this.log.appliedTo(this.config.applied);
    this.becomeFollower(this.term, NONE);
  }

  private loadState(hs: HardState): void {
    assert(hs.commit >= this.log.committed && hs.commit <= this.log.lastIndex(), `persisted commit ${hs.commit} out of [${this.log.committed}, ${this.log.lastIndex()}]`);
    this.log.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  softState(): SoftState {
    return { leaderId: this.lead, role: this.role };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  confState(): ConfState {
    return this.tracker.confState();
  }

  // ---------------------------------------------------------------------------------------------------
  // Role changes.

  becomeFollower(term: number, lead: NodeId): void {
    this.stepFn = (m) => this.stepFollower(m);
    this.reset(term);
    this.tickFn = () => this.tickElection();
    this.lead = lead;
    this.role = 'follower';
  }

  becomePreCandidate(): void {
    assert(this.role !== 'leader', 'leader cannot become pre-candidate');
    // A pre-candidate keeps its term and vote: the pre-vote round changes no persistent state, which is
    // what keeps a partitioned node from inflating terms (Raft thesis §9.6).
    this.stepFn = (m) => this.stepCandidate(m);
    this.tracker.resetVotes();
    this.tickFn = () => this.tickElection();
    this.lead = NONE;
    this.role = 'preCandidate';
  }

  becomeCandidate(): void {
    assert(this.role !== 'leader', 'leader cannot become candidate');
    this.stepFn = (m) => this.stepCandidate(m);
    this.reset(this.term + 1);
    this.tickFn = () => this.tickElection();
    this.vote = this.id;
    this.role = 'candidate';
  }

  becomeLeader(): void {
    assert(this.role !== 'follower', 'follower cannot become leader without an election');
    this.stepFn = (m) => this.stepLeader(m);
    this.reset(this.term);
    this.tickFn = () => this.tickHeartbeat();
    this.lead = this.id;
    this.role = 'leader';
    const self = this.tracker.progress.get(this.id);
    assert(self !== undefined, 'a leader is a member');
    self.becomeReplicate();
    self.recentActive = true;
    // Entries from earlier terms may hold a membership change we cannot see as applied yet: forbid a new
    // change until everything up to here is applied.
    this.pendingConfIndex = this.log.lastIndex();
    // Raft paper §5.4.2/§8: commit an entry of our own term so earlier entries commit and our commit
    // index becomes current (ReadIndex needs that).
    const appended = this.appendEntries([{ type: 'normal', data: EMPTY_BYTES }]);
    assert(appended !== undefined, 'the empty entry never exceeds the uncommitted limit');
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NONE;
    this.tracker.resetVotes();
    this.tracker.resetProgress(this.id, this.log.lastIndex());
    this.pendingConfIndex = 0;
    this.uncommittedSizeBytes = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadRequests = [];
  }

  private resetRandomizedElectionTimeout(): void {
    const r = this.config.random();
    assert(r >= 0 && r < 1, `random() returned ${r}, outside [0, 1)`);
    this.randomizedElectionTimeout = this.config.electionTicks + Math.floor(r * this.config.electionTicks);
  }

  // ---------------------------------------------------------------------------------------------------
  // Time.

  tick(): void {
    this.tickFn();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(this.config.preVote ? 'preElection' : 'election');
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum) this.checkQuorum();
      // A transfer that has not finished within an election timeout has failed (the transferee is down
      // or slow): resume accepting proposals.
      if (this.role === 'leader' && this.leadTransferee !== NONE) this.leadTransferee = NONE;
      if (this.role === 'leader' && !this.tracker.isVoter(this.id)) this.handOverLeadership();
    }
    if (this.role !== 'leader') return;
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  /** Check-quorum: a leader cut off from a quorum steps down, so clients stop waiting on it. */
  private checkQuorum(): void {
    if (!this.tracker.quorumActive(this.id)) {
      this.becomeFollower(this.term, NONE);
      return;
    }
    for (const [id, pr] of this.tracker.progress) if (id !== this.id) pr.recentActive = false;
  }

  // ---------------------------------------------------------------------------------------------------
  // Elections.

  /** Whether this node may campaign: a voter with no snapshot waiting to be persisted. */
  private promotable(): boolean {
    return this.tracker.isVoter(this.id) && !this.log.hasPendingSnapshot();
  }

  /** Starts an election now, as an election timeout would (with pre-vote when configured). */
  startElection(): void {
    this.hup(this.config.preVote ? 'preElection' : 'election');
  }

  /** Starts an election of `kind` (election timeout, RawNode.campaign, or MsgTimeoutNow). */
  private hup(kind: CampaignKind): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) return;
    // A committed but unapplied membership change could make us campaign under the wrong membership.
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(kind);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    const entries = this.log.slice(this.log.applied + 1, this.log.committed + 1, Number.POSITIVE_INFINITY);
    assert(entries !== 'compacted', 'unapplied entries are never compacted');
    return entries.some((e) => e.type === 'confChange');
  }

  private campaign(kind: CampaignKind): void {
    let voteType: 'MsgVote' | 'MsgPreVote';
    let term: number;
    if (kind === 'preElection') {
      this.becomePreCandidate();
      voteType = 'MsgPreVote';
      // Ask for votes in the term we would use, without moving to it yet.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = 'MsgVote';
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      // A single-voter group wins at once.
      if (kind === 'preElection') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const id of this.tracker.voters()) {
      if (id === this.id) continue;
      this.send({ type: voteType, to: id, term, index, logTerm, transfer: kind === 'transfer' });
    }
  }

  private poll(id: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    this.tracker.recordVote(id, granted);
    return this.tracker.tallyVotes();
  }

  // ---------------------------------------------------------------------------------------------------
  // Messages.

  step(m: Message): void {
    if (m.to !== this.id) return; // Misrouted: not ours to act on.
    if (m.term > this.term) {
      if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
        // Leader lease (Raft thesis §4.2.3): while we hear from a leader, a vote request is a disruptive
        // server (e.g. one just removed or partitioned) and is ignored — unless a transfer asked for it.
        const inLease = this.config.checkQuorum && this.lead !== NONE && this.electionElapsed < this.config.electionTicks;
        if (inLease && !m.transfer) return;
      }
      if (m.type === 'MsgPreVote') {
        // Never change term for a pre-vote.
      } else if (m.type === 'MsgPreVoteResp' && !m.reject) {
        // A granted pre-vote is at our future term; the term moves when the pre-vote is won.
      } else if (m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.config.checkQuorum || this.config.preVote) && (m.type === 'MsgHeartbeat' || m.type === 'MsgApp')) {
        // A stale leader: its followers may have moved on while it was partitioned. Tell it our term so it
        // steps down; without this, pre-vote/check-quorum could leave it and a node with a higher term
        // ignoring each other forever.
        this.send({ type: 'MsgAppResp', to: m.from, index: 0, reject: false, rejectHint: 0, logTerm: 0 });
      } else if (m.type === 'MsgPreVote') {
        this.sendVoteRejection('MsgPreVoteResp', m.from);
      }
      return;
    }

    if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
      this.handleVoteRequest(m);
      return;
    }
    if ((m.type === 'MsgVoteResp' || m.type === 'MsgPreVoteResp') && m.reject) this.learnCommit(m.commit, m.commitTerm);
    this.stepFn(m);
  }

  private handleVoteRequest(m: MsgVote): void {
    const respType = m.type === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp';
    // We can vote for a candidate we already voted for (a retransmission), for anyone when we have not
    // voted and know no leader, and pre-vote for anyone at a later term.
    const canVote = this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (m.type === 'MsgPreVote' && m.term > this.term);
    const mayVote = this.config.votesWhenEmpty || this.log.lastIndex() > 0;
    // Election restriction (Raft paper §5.4.1): only for a log at least as up-to-date as ours.
    if (mayVote && canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // The reply carries the candidate's term so a pre-candidate counts it.
      this.send({ type: respType, to: m.from, term: m.term, reject: false, commit: 0, commitTerm: 0 });
      if (m.type === 'MsgVote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.sendVoteRejection(respType, m.from);
    }
  }

  private sendVoteRejection(type: 'MsgVoteResp' | 'MsgPreVoteResp', to: NodeId): void {
    const commit = this.log.committed;
    const commitTerm = this.log.termOf(commit);
    assert(commitTerm !== undefined, "the committed entry's term is known (it is at or after the snapshot)");
    this.send({ type, to, reject: true, commit, commitTerm });
  }

  /**
   * Another node says entry (index, term) is committed. If we hold that very entry, our log up to it is
   * identical to theirs (log matching), so it is committed for us too.
   */
  private learnCommit(index: number, term: number): void {
    if (this.role === 'leader' || index <= this.log.committed) return;
    if (this.log.matchTerm(index, term)) this.log.commitTo(index);
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'MsgApp':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case 'MsgHeartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'MsgSnap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'MsgTransferLeader':
        if (this.lead !== NONE) this.send({ type: 'MsgTransferLeader', to: this.lead, transferee: m.transferee });
        return;
      case 'MsgTimeoutNow':
        // The leader chose us: campaign at once, skipping pre-vote (the leader vouches for our log).
        this.hup('transfer');
        return;
      case 'MsgReadIndexResp':
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    const myVoteRespType = this.role === 'preCandidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
    switch (m.type) {
      case 'MsgApp':
        // A leader of our term exists (our term ≥ its term was checked): follow it.
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case 'MsgHeartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'MsgSnap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'MsgVoteResp':
      case 'MsgPreVoteResp': {
        if (m.type !== myVoteRespType) return;
        const result = this.poll(m.from, !m.reject);
        if (result === 'won') {
          if (this.role === 'preCandidate') {
            this.campaign('election');
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === 'lost') {
          // A pre-candidate that lost keeps its term; a candidate keeps its incremented term.
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'MsgAppResp':
        this.onAppendResponse(m.from, m.index, m.reject, m.rejectHint, m.logTerm);
        return;
      case 'MsgHeartbeatResp':
        this.onHeartbeatResponse(m.from, m.context);
        return;
      case 'MsgReadIndex':
        // Ignored when full: the follower's driver times the read out and retries.
        this.handleReadRequest({ from: m.from, context: m.context });
        return;
      case 'MsgTransferLeader':
        this.handleTransferLeader(m.transferee);
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Follower side of replication.

  private handleAppendEntries(m: MsgApp): void {
    if (m.index < this.log.committed) {
      // Old, duplicated MsgApp: what it carries is committed already.
      this.send({ type: 'MsgAppResp', to: m.from, index: this.log.committed, reject: false, rejectHint: 0, logTerm: 0 });
      return;
    }
    const lastNewIndex = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNewIndex !== undefined) {
      this.send({ type: 'MsgAppResp', to: m.from, index: lastNewIndex, reject: false, rejectHint: 0, logTerm: 0 });
      return;
    }
    // Log matching failed at m.index: hint the leader where our log may match.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({ type: 'MsgAppResp', to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term });
  }

  private handleHeartbeat(m: MsgHeartbeat): void {
    this.log.commitTo(m.commit);
    this.send({ type: 'MsgHeartbeatResp', to: m.from, context: m.context });
  }

  private handleSnapshot(m: MsgSnap): void {
    const index = this.restore(m.snapshot) ? this.log.lastIndex() : this.log.committed;
    this.send({ type: 'MsgAppResp', to: m.from, index, reject: false, rejectHint: 0, logTerm: 0 });
  }

  /** Replaces our log and membership with a snapshot; false when we already have what it covers. */
  private restore(snapshot: Snapshot): boolean {
    const { index, term, confState } = snapshot.metadata;
    if (index <= this.log.committed) return false;
    assert(this.role === 'follower', 'only a follower restores a snapshot');
    if (this.log.matchTerm(index, term)) {
      // Our log already holds the snapshot's last entry: just commit up to it, keep our log.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snapshot);
    this.tracker.restore(confState, this.log.lastIndex());
    return true;
  }

  // ---------------------------------------------------------------------------------------------------
  // Leader side of replication.

  private onAppendResponse(from: NodeId, index: number, reject: boolean, rejectHint: number, logTerm: number): void {
    const pr = this.tracker.progress.get(from);
    if (pr === undefined) return; // Not (any more) a member.
    pr.recentActive = true;
    if (reject) {
      let nextProbeIndex = rejectHint;
      // Skip every entry of ours whose term is above the follower's term at the hint: they cannot match.
      if (logTerm > 0) nextProbeIndex = this.log.findConflictByTerm(rejectHint, logTerm).index;
      if (pr.maybeDecrTo(index, nextProbeIndex)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(index)) return;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      // The follower caught up (by the snapshot or otherwise) to where our log can continue.
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(index);
    }
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else if (wasPaused) {
      this.sendAppend(from);
    }
    // Fill the window: bounded by the inflight limit and the log's end.
    while (this.maybeSendAppend(from, false)) {
      // Keep sending.
    }
    if (from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(from);
  }

  private onHeartbeatResponse(from: NodeId, context: Uint8Array | null): void {
    const pr = this.tracker.progress.get(from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.msgAppFlowPaused = false;
    // Acks may have been lost with the window full; the follower is alive, so let one more MsgApp go.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(from);
    if (this.config.readOnlyOption !== 'safe' || context === null) return;
    const acks = this.readOnly.recvAck(from, context);
    if (acks === undefined || !hasQuorum(this.tracker.voters(), acks)) return;
    for (const status of this.readOnly.advance(context)) this.answerReadRequest(status.request, status.index);
  }

  /** Commits what a quorum holds; returns whether the commit index moved. */
  private maybeCommit(): boolean {
    if (!this.log.maybeCommit(this.tracker.committed(), this.term)) return false;
    this.releasePendingReadRequests();
    return true;
  }

  private bcastAppend(): void {
    for (const id of this.tracker.members()) if (id !== this.id) this.sendAppend(id);
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends `to` its next entries (an empty MsgApp when `sendIfEmpty`, to carry the commit index), or a
   * snapshot when they are compacted. Returns whether something was sent.
   */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    assert(pr !== undefined, `no progress for ${to}`);
    if (pr.isPaused()) return false;
    assert(pr.next <= this.log.lastIndex() + 1, `next ${pr.next} beyond last index ${this.log.lastIndex()} + 1`);
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.termOf(prevIndex);
    const entries = this.log.entriesFrom(pr.next, this.config.maxSizePerMsgBytes);
    if (prevTerm === undefined || entries === 'compacted') return this.maybeSendSnapshot(to, pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'MsgApp', to, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed });
    let bytes = 0;
    for (const e of entries) bytes += entrySizeBytes(e);
    pr.sentEntries(entries.length, bytes, prevIndex + entries.length);
    return true;
  }

  private maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    // A snapshot can be large: do not send one to a follower that may be down.
    if (!pr.recentActive) return false;
    const snapshot = this.log.storage.snapshot();
    if (snapshot === 'temporarilyUnavailable') return false;
    assert(snapshot.metadata.index >= this.log.firstIndex() - 1, `storage snapshot ${snapshot.metadata.index} older than the compacted log`);
    pr.becomeSnapshot(snapshot.metadata.index);
    this.send({ type: 'MsgSnap', to, snapshot });
    return true;
  }

  private bcastHeartbeat(): void {
    this.bcastHeartbeatWithContext(this.readOnly.lastPendingContext());
  }

  private bcastHeartbeatWithContext(context: Uint8Array | null): void {
    for (const id of this.tracker.members()) {
      if (id === this.id) continue;
      const pr = this.tracker.progress.get(id)!;
      // Never tell a follower to commit past what it is known to hold: its log beyond match may differ.
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: 'MsgHeartbeat', to: id, commit, context });
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'MsgTimeoutNow', to });
  }

  // ---------------------------------------------------------------------------------------------------
  // Local requests.

  /** Appends a command to the leader's log and replicates it. */
  propose(data: Uint8Array): ProposeResult {
    return this.proposeEntry('normal', data);
  }

  /**
   * Appends a membership change. Only one may be pending (appended, not yet applied) at a time, so each
   * change is made against the membership it was validated with.
   */
  proposeConfChange(change: ConfChange): ProposeResult {
    if (this.role === 'leader' && this.pendingConfIndex > this.log.applied) {
      return { ok: false, reason: 'confChangePending', leaderId: this.lead };
    }
    const invalid = this.role === 'leader' ? this.tracker.validate(change) : null;
    if (invalid !== null) return { ok: false, reason: invalid, leaderId: this.lead };
    const result = this.proposeEntry('confChange', encodeConfChange(change));
    if (result.ok) this.pendingConfIndex = result.index;
    return result;
  }

  private proposeEntry(type: EntryType, data: Uint8Array): ProposeResult {
    if (this.role !== 'leader') return { ok: false, reason: 'notLeader', leaderId: this.lead };
    if (!this.tracker.isVoter(this.id)) return { ok: false, reason: 'removed', leaderId: this.leadTransferee };
    if (this.leadTransferee !== NONE) return { ok: false, reason: 'leaderTransferring', leaderId: this.lead };
    const index = this.appendEntries([{ type, data }]);
    if (index === undefined) return { ok: false, reason: 'uncommittedSizeExceeded', leaderId: this.lead };
    this.bcastAppend();
    return { ok: true, index, term: this.term };
  }

  /** Stamps and appends entries to our log, counting ourselves as a replica; returns the last index. */
  private appendEntries(entries: readonly { type: EntryType; data: Uint8Array }[]): number | undefined {
    const lastIndex = this.log.lastIndex();
    const stamped: Entry[] = entries.map((e, i) => ({ term: this.term, index: lastIndex + 1 + i, type: e.type, data: e.data }));
    let bytes = 0;
    for (const e of stamped) bytes += entryPayloadBytes(e);
    // Always admit a proposal when nothing is uncommitted, so one entry above the limit still gets in.
    if (this.uncommittedSizeBytes > 0 && bytes > 0 && this.uncommittedSizeBytes + bytes > this.config.maxUncommittedEntriesBytes) {
      return undefined;
    }
    this.uncommittedSizeBytes += bytes;
    const newLastIndex = this.log.append(stamped);
    this.tracker.progress.get(this.id)?.maybeUpdate(newLastIndex);
    // A single-voter group commits at once.
    this.maybeCommit();
    return newLastIndex;
  }

  /** The driver applied these entries: they no longer count as uncommitted. */
  reduceUncommittedSize(entries: readonly Entry[]): void {
    if (this.uncommittedSizeBytes === 0) return;
    let bytes = 0;
    for (const e of entries) bytes += entryPayloadBytes(e);
    // Entries from an earlier term were never counted: clamp at zero.
    this.uncommittedSizeBytes = Math.max(0, this.uncommittedSizeBytes - bytes);
  }

  /** Requests a linearizable read; the answer comes as a ReadState with the same context. */
  readIndex(context: Uint8Array): ReadIndexResult {
    if (this.role === 'leader') {
      const accepted = this.handleReadRequest({ from: this.id, context });
      return accepted ? { ok: true } : { ok: false, reason: 'tooManyPendingReads', leaderId: this.lead };
    }
    if (this.lead === NONE) return { ok: false, reason: 'notLeader', leaderId: NONE };
    this.send({ type: 'MsgReadIndex', to: this.lead, context });
    return { ok: true };
  }

  /** Returns false when the read was dropped for lack of room. */
  private handleReadRequest(request: ReadRequest): boolean {
    if (this.tracker.isSingleton() && this.tracker.isVoter(this.id)) {
      // No one else can have been elected: our commit index is the read index.
      this.answerReadRequest(request, this.log.committed);
      return true;
    }
    if (this.readOnly.size + this.pendingReadRequests.length >= this.config.maxPendingReadRequests) return false;
    if (!this.committedEntryInCurrentTerm()) {
      // Our commit index may lag the previous leader's until an entry of our term commits (Raft thesis
      // §6.4 step 1): hold the read until then.
      this.pendingReadRequests.push(request);
      return true;
    }
    this.startReadIndex(request);
    return true;
  }

  private startReadIndex(request: ReadRequest): void {
    if (this.config.readOnlyOption === 'leaseBased') {
      this.answerReadRequest(request, this.log.committed);
      return;
    }
    this.readOnly.addRequest(this.log.committed, request);
    // Our own ack, then a heartbeat round carrying the request's context.
    this.readOnly.recvAck(this.id, request.context);
    this.bcastHeartbeatWithContext(request.context);
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.termOf(this.log.committed) === this.term;
  }

  private releasePendingReadRequests(): void {
    if (this.pendingReadRequests.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const requests = this.pendingReadRequests;
    this.pendingReadRequests = [];
    for (const request of requests) this.startReadIndex(request);
  }

  private answerReadRequest(request: ReadRequest, index: number): void {
    if (request.from === this.id) {
      this.readStates.push({ index, context: request.context });
    } else {
      this.send({ type: 'MsgReadIndexResp', to: request.from, index, context: request.context });
    }
  }

  /**
   * Hands leadership to `transferee` (Raft thesis §3.10): stop accepting proposals, bring its log up to
   * date, then tell it to campaign at once. Aborted if not done within an election timeout.
   */
  transferLeadership(transferee: NodeId): TransferResult {
    if (this.role !== 'leader') {
      if (this.lead === NONE) return { ok: false, reason: 'notLeader' };
      this.send({ type: 'MsgTransferLeader', to: this.lead, transferee });
      return { ok: true };
    }
    return this.handleTransferLeader(transferee);
  }

  private handleTransferLeader(transferee: NodeId): TransferResult {
    const pr = this.tracker.progress.get(transferee);
    if (pr === undefined) return { ok: false, reason: 'unknownNode' };
    if (pr.isLearner) return { ok: false, reason: 'learner' };
    if (transferee === this.id) {
      this.leadTransferee = NONE; // Already leader: nothing to transfer, and any other transfer is off.
      return { ok: true };
    }
    if (this.leadTransferee === transferee) return { ok: true };
    // A transfer must finish within one election timeout from now.
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(transferee);
    else this.sendAppend(transferee);
    return { ok: true };
  }

  /**
   * A removed leader transfers leadership to the voter with the most of its log (the lowest id among
   * equals, for determinism). Retried every election timeout until someone takes over.
   */
  private handOverLeadership(): void {
    let best = NONE;
    let bestMatch = -1;
    for (const id of this.tracker.voters()) {
      const match = this.tracker.progress.get(id)!.match;
      if (match > bestMatch) {
        best = id;
        bestMatch = match;
      }
    }
    assert(best !== NONE, 'a group always keeps a voter');
    this.handleTransferLeader(best);
  }

  /** The transport could not deliver a snapshot (ok=false) or delivered it (ok=true). */
  reportSnapshot(to: NodeId, ok: boolean): void {
    if (this.role !== 'leader') return;
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || pr.state !== 'snapshot') return;
    // On failure, forget the snapshot: probing from match finds what to send next (maybe a new snapshot).
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's next heartbeat reply before probing, so the snapshot's MsgAppResp is not
    // raced by a probe the follower would reject.
    pr.msgAppFlowPaused = true;
  }

  /** The transport failed to reach `to`: stop streaming optimistically, probe instead. */
  reportUnreachable(to: NodeId): void {
    if (this.role !== 'leader') return;
    const pr = this.tracker.progress.get(to);
    if (pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
  }

  /** Applies a committed membership change (called as the driver applies its entry). */
  applyConfChange(change: ConfChange): void {
    this.tracker.apply(change, this.log.lastIndex());
    if (this.role !== 'leader') return;
    if (this.leadTransferee !== NONE && !this.tracker.isVoter(this.leadTransferee)) this.leadTransferee = NONE;
    // Removed, we stay leader as a lame duck rather than step down: membership takes effect when applied,
    // so the remaining voters may not yet know the removal is committed and could need our vote, which
    // our longer log would refuse. We keep replicating (without counting ourselves) and hand over.
    if (!this.tracker.isVoter(this.id)) this.handOverLeadership();
    // A smaller quorum may commit more now; a new member should start receiving the log.
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else {
      for (const id of this.tracker.members()) if (id !== this.id) this.maybeSendAppend(id, false);
    }
  }

  // ---------------------------------------------------------------------------------------------------

  private send(m: OutgoingMessage): void {
    const message = { ...m, from: this.id, term: m.term ?? this.term } as Message;
    assert(message.to !== this.id, `message ${message.type} to self`);
    this.messages.push(message);
  }

  /** The node's state; per-member progress only when `withProgress` and leader. */
  status(withProgress: boolean): Status {
    let progress: Map<NodeId, ProgressStatus> | null = null;
    if (withProgress && this.role === 'leader') {
      progress = new Map();
      for (const id of this.tracker.members()) {
        const pr = this.tracker.progress.get(id)!;
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          pendingSnapshot: pr.pendingSnapshot,
          recentActive: pr.recentActive,
          paused: pr.isPaused(),
          inflightCount: pr.inflights.count,
          isLearner: pr.isLearner,
        });
      }
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      leaderId: this.lead,
      role: this.role,
      leadTransferee: this.leadTransferee,
      confState: this.tracker.confState(),
      progress,
    };
  }
}

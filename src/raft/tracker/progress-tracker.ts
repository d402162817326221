import { assert } from '../../common/errors.js';
import type { ConfChange } from '../conf-change.js';
import type { NodeId } from '../node-id.js';
import { committedIndex, voteResult, type VoteResult } from '../quorum/majority.js';
import type { ConfState } from '../snapshot.js';
import { Progress } from './progress.js';

/** Why a membership change cannot apply to the current configuration. */
export type ConfChangeRejection = 'alreadyMember' | 'notLearner' | 'notMember' | 'lastVoter';

/**
 * The group's membership, the leader's progress per member and the votes of the current election.
 * Iteration is always in ascending id order so that every run produces messages in the same order.
 */
export class ProgressTracker {
  private voterSet = new Set<NodeId>();
  private learnerSet = new Set<NodeId>();
  private sortedVoters: NodeId[] = [];
  private sortedMembers: NodeId[] = [];
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(
    private readonly inflightCountMax: number,
    private readonly inflightBytesMax: number,
  ) {}

  /** Voters in ascending order. */
  voters(): readonly NodeId[] {
    return this.sortedVoters;
  }

  /** Voters and learners in ascending order. */
  members(): readonly NodeId[] {
    return this.sortedMembers;
  }

  isVoter(id: NodeId): boolean {
    return this.voterSet.has(id);
  }

  isLearner(id: NodeId): boolean {
    return this.learnerSet.has(id);
  }

  isSingleton(): boolean {
    return this.voterSet.size === 1;
  }

  confState(): ConfState {
    return { voters: this.sortedVoters.slice(), learners: [...this.learnerSet].sort((a, b) => a - b) };
  }

  /** Replaces the membership (on start and on snapshot restore); every progress starts over. */
  restore(confState: ConfState, lastIndex: number): void {
    this.voterSet = new Set(confState.voters);
    this.learnerSet = new Set(confState.learners);
    for (const id of this.learnerSet) assert(!this.voterSet.has(id), `node ${id} is both voter and learner`);
    this.progress.clear();
    this.votes.clear();
    this.refresh();
    for (const id of this.sortedMembers) this.progress.set(id, this.newProgress(id, lastIndex));
  }

  /** Starts every progress over for a new term; our own match is our last index. */
  resetProgress(selfId: NodeId, lastIndex: number): void {
    for (const id of this.sortedMembers) {
      const pr = this.newProgress(id, lastIndex);
      if (id === selfId) pr.match = lastIndex;
      this.progress.set(id, pr);
    }
  }

  /** Why `change` cannot apply to the current membership, or null when it can. */
  validate(change: ConfChange): ConfChangeRejection | null {
    const id = change.nodeId;
    switch (change.type) {
      case 'addLearner':
        return this.voterSet.has(id) || this.learnerSet.has(id) ? 'alreadyMember' : null;
      case 'promoteLearner':
        return this.learnerSet.has(id) ? null : 'notLearner';
      case 'removeNode':
        if (!this.voterSet.has(id) && !this.learnerSet.has(id)) return 'notMember';
        return this.voterSet.has(id) && this.voterSet.size === 1 ? 'lastVoter' : null;
    }
  }

  /**
   * Applies a committed membership change. Every replica applies the same changes in log order, so an
   * invalid one is skipped by all of them alike. Returns whether it applied.
   */
  apply(change: ConfChange, lastIndex: number): boolean {
    if (this.validate(change) !== null) return false;
    const id = change.nodeId;
    switch (change.type) {
      case 'addLearner': {
        this.learnerSet.add(id);
        const pr = this.newProgress(id, lastIndex);
        // A new member counts as active, or check-quorum could depose the leader before it answers.
        pr.recentActive = true;
        this.progress.set(id, pr);
        break;
      }
      case 'promoteLearner':
        this.learnerSet.delete(id);
        this.voterSet.add(id);
        this.progress.get(id)!.isLearner = false;
        break;
      case 'removeNode':
        this.voterSet.delete(id);
        this.learnerSet.delete(id);
        this.progress.delete(id);
        this.votes.delete(id);
        break;
    }
    this.refresh();
    return true;
  }

  /** The largest index replicated on a quorum of voters. */
  committed(): number {
    return committedIndex(this.sortedVoters, (id) => this.progress.get(id)?.match);
  }

  /** Whether a quorum of voters (counting `selfId`) answered recently. */
  quorumActive(selfId: NodeId): boolean {
    const active = new Map<NodeId, boolean>();
    for (const id of this.sortedVoters) active.set(id, id === selfId || this.progress.get(id)?.recentActive === true);
    return voteResult(this.sortedVoters, active) === 'won';
  }

  /** Records a vote; the first vote of each voter counts. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): VoteResult {
    return voteResult(this.sortedVoters, this.votes);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  private newProgress(id: NodeId, lastIndex: number): Progress {
    return new Progress(0, lastIndex + 1, this.learnerSet.has(id), this.inflightCountMax, this.inflightBytesMax);
  }

  private refresh(): void {
    this.sortedVoters = [...this.voterSet].sort((a, b) => a - b);
    this.sortedMembers = [...this.voterSet, ...this.learnerSet].sort((a, b) => a - b);
  }
}

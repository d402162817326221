import { assert } from '../../common/errors.js';
import { Inflights } from './inflights.js';

/**
 * How the leader replicates to a follower. `probe`: one MsgApp at a time until the match point is found.
 * `replicate`: stream optimistically up to the inflight window. `snapshot`: a snapshot is on its way;
 * send nothing until it is reported.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** The leader's view of one follower's log (Raft paper: nextIndex and matchIndex) plus flow control. */
export class Progress {
  state: ProgressState = 'probe';
  /** The index of the snapshot in flight, in state `snapshot`. */
  pendingSnapshot = 0;
  /** Whether the follower answered since the last check-quorum round. */
  recentActive = false;
  /** In `probe`: a MsgApp was sent, wait for its reply (or a heartbeat reply) before the next. */
  msgAppFlowPaused = false;
  readonly inflights: Inflights;

  constructor(
    /** Highest index known to be replicated on the follower. */
    public match: number,
    /** Index of the next entry to send. */
    public next: number,
    public isLearner: boolean,
    inflightCountMax: number,
    inflightBytesMax: number,
  ) {
    this.inflights = new Inflights(inflightCountMax, inflightBytesMax);
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, the follower holds at least the snapshot: probe from just after it.
    if (this.state === 'snapshot') {
      const pendingSnapshot = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pendingSnapshot + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** Records a MsgApp carrying `count` entries (of `bytes`) ending at `lastIndex`. */
  sentEntries(count: number, bytes: number, lastIndex: number): void {
    switch (this.state) {
      case 'replicate':
        if (count > 0) {
          assert(lastIndex >= this.next, `sent entries end ${lastIndex} before next ${this.next}`);
          this.next = lastIndex + 1;
          this.inflights.add(lastIndex, bytes);
        }
        break;
      case 'probe':
        this.msgAppFlowPaused = true;
        break;
      case 'snapshot':
        assert(false, 'sending entries in snapshot state');
    }
  }

  /** The follower acknowledged up to `index`. Returns whether match moved. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * The follower rejected the MsgApp at `rejected`, hinting that `matchHint` may match. Returns false when
   * the rejection is stale (an answer to an older probe), true when next moved back.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /** Whether the leader must not send MsgApps now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.msgAppFlowPaused;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}

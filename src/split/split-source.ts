/**
 * The source shard's leader drives a split through its phases (docs/SPLIT.md): begin, snapshot, catch-up,
 * buffering, the switch, cleanup — or a rollback. Everything it decides is an entry in the source's Raft
 * log, and everything the target receives is an entry in the target's, so when this leader stops (it lost
 * leadership, crashed) the next one runs the same code from what the logs say and a probe of the target.
 */
import type { Logger } from '../common/logger.js';
import type { RoutingShard, SplitParams } from '../common/routing.js';
import { isFinalStatus, type SplitStatus } from './phases.js';
import type { SplitProgress, SplitReport, SplitReportResponse, TargetAnswer } from './types.js';
import type { Entry } from '../raft/index.js';
import { error, type Reply } from '../resp/reply.js';
import { encodeShardCommand, type ForwardedEntry, type ShardCommand } from '../shard/shard-command.js';
import type { ShardReplica } from '../shard/shard-replica.js';
import { forwardedPart } from '../shard/split-forward.js';
import type { SourceSplitState, SplitApplyResult, TargetSplitState } from '../shard/split-state.js';
import type { ShardSnapshotReader } from '../storage/types.js';
import type { SplitBuffer } from './split-buffer.js';
import type { MultiRaft } from '../multiraft/multi-raft.js';
import { SPLIT_TRYAGAIN } from './split-routing.js';
import {
  abortedStatus,
  bufferingStep,
  catchUpStep,
  CANCELLED,
  chunkTaken,
  etaSeconds,
  forwardTaken,
  handedOff,
  holdsAttempt,
  nextAttempt,
  reportDue,
  resumeSplit,
  switchStart,
  targetSilenceStep,
  transferStart,
  type BufferCondition,
  type SnapshotAttempt,
} from './split-step.js';

type OkAnswer = Extract<TargetAnswer, { kind: 'ok' }>;

/** The node around a split's source driver. */
export interface SplitSourceHost {
  readonly selfId: string;
  readonly logger: Logger;
  readonly buffer: SplitBuffer;
  replica(shardId: string): ShardReplica | undefined;
  /** This node leads `shardId` in Raft term `term`. */
  leads(shardId: string, term: number): boolean;
  term(shardId: string): number;
  propose(shardId: string, command: ShardCommand): Promise<unknown>;
  stableState<T>(shardId: string, open: (appliedIndex: number) => T): Promise<T>;
  committedEntries(shardId: string, lo: number, hi: number, maxBytes: number): readonly Entry[] | 'compacted';
  /** Resolves once a linearizable read of the group may be served here (everything committed is applied). */
  readBarrier(shardId: string): Promise<void>;
  /** The group's commit index and last log index. */
  commitIndex(shardId: string): number;
  lastIndex(shardId: string): number;
  /** The first index the group's log still holds (compaction moves it). */
  firstIndex(shardId: string): number;
  retainLogFrom(shardId: string, index: number | undefined): void;
  /** Sends a split entry (or, with null, a probe) to the target shard's leader. */
  sendToTarget(targetShard: string, command: ShardCommand | null): Promise<TargetAnswer>;
  report(report: SplitReport): Promise<SplitReportResponse | undefined>;
  /** Snapshot bytes sent to a target and the catch-up delay, for the node's metrics. */
  readonly observer: SplitObserver;
  /** `-MOVED slot host:port` of the target's leader, or TRYAGAIN when it is not known. */
  movedToTarget(targetShard: string, slot: number): Reply;
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** The parts of a driver's host that the node's Raft groups answer. */
export type SplitGroupsHost = Pick<
  SplitSourceHost,
  'replica' | 'leads' | 'term' | 'propose' | 'readBarrier' | 'stableState' | 'committedEntries' | 'commitIndex' | 'lastIndex' | 'firstIndex' | 'retainLogFrom'
>;

/** Those parts over a MultiRaft and the replicas it drives. */
export function splitGroupsHost(multiRaft: MultiRaft, replicas: ReadonlyMap<string, ShardReplica>): SplitGroupsHost {
  return {
    replica: (shardId) => replicas.get(shardId),
    leads: (shardId, term) => {
      const leadership = multiRaft.leadership(shardId);
      return leadership?.role === 'leader' && leadership.term === term;
    },
    term: (shardId) => multiRaft.leadership(shardId)?.term ?? 0,
    propose: (shardId, command) => multiRaft.propose(shardId, encodeShardCommand(command)),
    readBarrier: (shardId) => multiRaft.readBarrier(shardId),
    stableState: (shardId, open) => multiRaft.stableState(shardId, open),
    committedEntries: (shardId, lo, hi, maxBytes) => multiRaft.committedEntries(shardId, lo, hi, maxBytes),
    commitIndex: (shardId) => multiRaft.status(shardId)?.commit ?? 0,
    lastIndex: (shardId) => multiRaft.status(shardId)?.lastIndex ?? 0,
    firstIndex: (shardId) => multiRaft.firstIndex(shardId) ?? 1,
    retainLogFrom: (shardId, index) => multiRaft.retainLogFrom(shardId, index),
  };
}

/** What a source driver tells the node's metrics. */
export interface SplitObserver {
  snapshotBytesSent(bytes: number): void;
  catchUpDelay(sourceShard: string, delay: number | undefined): void;
}

/** Committed source entries to forward: the moving part of each, and the index of the last one read. */
interface ForwardBatch {
  readonly moving: ForwardedEntry[];
  readonly last: number;
}

/** The driver stops: leadership moved on, or the split is over. */
class Stop extends Error {}

const FORWARD_BATCH_BYTES = 256 * 1024;
/**
 * Keys one cleanup entry deletes, bounded in count and in bytes: every replica applies an entry in one
 * go, delaying the writes behind it (10,000 keys per entry took p99 write latency to 760 ms under load).
 */
const CLEANUP_BATCH_KEYS = 1_000;
const CLEANUP_BATCH_BYTES = 64 * 1024;
/** Cleanup entries proposed and not yet applied. */
const CLEANUP_IN_FLIGHT = 8;
/** Between attempts when the target does not answer, or answers without taking the request. */
const RETRY_MS = 100;
/**
 * Cleanup passes over the moved range: the first deletes what it lists, the second finds it empty. More
 * means something still writes there, which the commit forbids.
 */
const CLEANUP_PASSES_MAX = 8;
/** Pause of a catch-up round that found nothing newly committed to forward. */
const CATCH_UP_IDLE_MS = 5;
const TRYAGAIN_ROLLBACK = error('TRYAGAIN the split of this slot was rolled back; retry');

export class SplitSource {
  private readonly term: number;
  private readonly params: SplitParams;
  private readonly taskId: string;
  private readonly target: string;
  private lastReportMs = 0;
  private reportedStatus: SplitStatus | undefined;
  private cancelRequested: boolean;
  private progress: SplitProgress = {
    snapshot_done: false,
    snapshot_index: 0,
    snapshot_bytes_sent: 0,
    snapshot_bytes_total: 0,
    source_last_index: 0,
    target_applied_index: 0,
    delay: 0,
    buffered_requests: 0,
    eta_seconds: null,
  };
  /** The snapshot of the task the target holds, once this driver sent or found it: what forwards belong to. */
  private attempt: SnapshotAttempt | undefined;

  constructor(
    private readonly host: SplitSourceHost,
    private readonly shard: RoutingShard,
  ) {
    const split = shard.split!;
    this.taskId = split.taskId;
    this.target = split.peer;
    this.params = split.params;
    this.cancelRequested = split.cancelRequested ?? false;
    this.term = host.term(shard.id);
  }

  /** Runs the split from wherever the source's log has it; resolves when done here (or leadership moved). */
  async run(): Promise<void> {
    try {
      await this.drive();
    } catch (err) {
      if (!(err instanceof Stop)) this.host.logger.warn({ err, task: this.taskId, shard: this.shard.id }, 'split driver stopped');
    } finally {
      this.host.retainLogFrom(this.shard.id, undefined);
      // Stopped while holding writes (leadership lost, say): they were never proposed, so they retry
      // wherever the range is served next, and the next driver starts its own buffering.
      this.host.buffer.release(this.shard.id, this.host.now(), () => SPLIT_TRYAGAIN);
      this.host.observer.catchUpDelay(this.shard.id, undefined);
    }
  }

  private async drive(): Promise<void> {
    // A new leader may not have applied what earlier leaders logged (a split-begin, say) until an entry
    // of its own term commits: decide only after a read barrier, or a logged split could look unstarted.
    await this.host.readBarrier(this.shard.id).catch(() => {
      throw new Stop();
    });
    this.checkLeader();
    const resume = resumeSplit(this.sourceState(), this.replica().endedSplit(this.taskId), { ...this.shard.split!, cancelRequested: this.cancelRequested });
    this.host.logger.info({ task: this.taskId, shard: this.shard.id, term: this.term, resume: resume.kind }, 'split: driving');
    switch (resume.kind) {
      case 'end':
        return this.report(resume.status, resume.splitSlot, true, resume.reason, true);
      case 'switch':
        await this.switchOver(resume.state, undefined);
        return this.cleanup(resume.state);
      case 'begin':
      case 'transfer': {
        const begun = resume.kind === 'begin' ? await this.begin() : resume.state;
        const outcome = await this.transferAndCatchUp(begun);
        if (outcome === 'aborted') return;
        const committed = this.sourceState()!;
        await this.switchOver(committed, outcome);
        return this.cleanup(committed);
      }
    }
  }

  private async begin(): Promise<SourceSplitState> {
    const replica = this.replica();
    const { start, end } = this.shard;
    // Read at a stable point: a range read needs every write of the shard durable.
    const splitSlot = this.shard.split?.splitSlot ?? (await this.host.stableState(this.shard.id, () => replica.chooseSplitSlot(start, end)));
    this.host.logger.info({ task: this.taskId, shard: this.shard.id, split_slot: splitSlot }, 'split: begin');
    await this.proposeSplit({ kind: 'split-begin', taskId: this.taskId, start, splitSlot, end, target: this.target });
    const state = this.sourceState();
    if (state === null) throw new Error(`split-begin of ${this.taskId} did not take effect`);
    return state;
  }

  /** Snapshot, catch-up, buffering and the commit; resolves with the source index the target holds, or 'aborted'. */
  private async transferAndCatchUp(state: SourceSplitState): Promise<number | 'aborted'> {
    await this.report('snapshot_transfer', state.splitSlot, true);
    const probe = await this.untilTarget(null, state, () => true);
    if (probe === 'aborted') return probe;
    let applied = await this.catchUpFrom(state, probe);
    if (applied === 'aborted') return applied;
    this.progress = { ...this.progress, snapshot_done: true };
    await this.report('catching_up', state.splitSlot, true);
    const catchUpStartMs = this.host.now();
    const firstDelay = this.host.lastIndex(this.shard.id) - applied;
    // One batch a round: every batch is followed by the checks of a cancel and of the deadlines.
    for (;;) {
      const forwarded = await this.forwardBatch(state, applied, this.host.commitIndex(this.shard.id));
      if (forwarded === 'aborted') return forwarded;
      applied = forwarded;
      const delay = this.host.lastIndex(this.shard.id) - applied;
      this.host.observer.catchUpDelay(this.shard.id, delay);
      // How fast the delay shrinks so far says when it falls under the threshold.
      const eta = etaSeconds(firstDelay - delay, firstDelay - this.params.catchUpThreshold, this.host.now() - catchUpStartMs);
      this.progress = { ...this.progress, source_last_index: this.host.lastIndex(this.shard.id), target_applied_index: applied, delay, eta_seconds: eta };
      await this.report('catching_up', state.splitSlot, false);
      const next = catchUpStep(delay, this.host.now() - catchUpStartMs, this.cancelRequested, this.params);
      if (next.kind === 'abort') return this.abort(state, next.reason);
      if (next.kind === 'buffer') break;
      // Nothing newly committed to forward (the group cannot commit its tail right now): wait for it
      // rather than spin, which would starve the node's event loop, Raft ticks included.
      if (applied >= this.host.commitIndex(this.shard.id)) await this.host.sleep(CATCH_UP_IDLE_MS);
    }
    // Buffering: writes to the moving range are held from now on. Once the target has every entry
    // proposed before that, the switch is proposed; until then a timeout or overflow still rolls back.
    this.host.buffer.start(this.shard.id, state.splitSlot, state.end, this.params.bufferMaxSize, this.params.bufferTimeoutMs, this.host.now());
    // Writes are held from here: nothing waits for the pilot.
    void this.report('buffering', state.splitSlot, true);
    const heldFrom = this.host.lastIndex(this.shard.id);
    for (;;) {
      const next = bufferingStep(this.bufferCondition(), applied, heldFrom, this.params);
      if (next.kind === 'abort') return this.abort(state, next.reason);
      if (next.kind === 'commit') break;
      const forwarded = await this.forwardBatch(state, applied, Math.min(heldFrom, this.host.commitIndex(this.shard.id)));
      if (forwarded === 'aborted') return forwarded;
      // Entries proposed before the buffering still committing: give them a moment.
      if (forwarded === applied) await this.host.sleep(1);
      applied = forwarded;
    }
    try {
      await this.proposeSplit({ kind: 'split-commit', taskId: this.taskId });
    } catch (err) {
      // Not committed here (leadership lost): the held writes were never proposed.
      this.host.buffer.release(this.shard.id, this.host.now(), () => TRYAGAIN_ROLLBACK);
      throw err;
    }
    const after = this.sourceState();
    if (after?.phase !== 'committed') {
      this.host.buffer.release(this.shard.id, this.host.now(), () => TRYAGAIN_ROLLBACK);
      throw new Stop();
    }
    return applied;
  }

  /**
   * Where forwarding starts, from the target's answer to a probe: after what it applied when it holds
   * this task's snapshot and the source's log still has what follows, else after a fresh snapshot.
   * Either way the source's log is kept from there on, so catch-up never finds it compacted.
   */
  private async catchUpFrom(state: SourceSplitState, probe: OkAnswer): Promise<number | 'aborted'> {
    const target = this.targetState(probe);
    const start = transferStart(target, this.host.firstIndex(this.shard.id));
    if (start.kind === 'forward') {
      this.host.retainLogFrom(this.shard.id, start.from + 1);
      this.attempt = start.attempt;
      return start.from;
    }
    const sent = await this.sendSnapshot(state, target);
    return sent === 'aborted' ? sent : sent.lastSourceIndex;
  }

  /** This task's split state on the target, from its answer. */
  private targetState(answer: OkAnswer): TargetSplitState | null {
    return answer.state?.role === 'target' && answer.state.taskId === this.taskId ? answer.state : null;
  }

  /**
   * A fresh snapshot of the moving range at a stable applied index, sent chunk by chunk as the attempt after
   * the one the target `holds`: a reset or a chunk of an earlier attempt, delivered late, is refused there.
   */
  private async sendSnapshot(state: SourceSplitState, holds: TargetSplitState | null): Promise<TargetSplitState | 'aborted'> {
    const replica = this.replica();
    const { index, reader, total, clockMs } = await this.host.stableState(this.shard.id, (appliedIndex) => ({
      index: appliedIndex,
      reader: replica.openRangeSnapshot(state.splitSlot, state.end) as ShardSnapshotReader,
      total: replica.rangeSize(state.splitSlot, state.end).bytes,
      clockMs: replica.clockMs,
    }));
    // Catch-up forwards from here: compaction must keep it.
    this.host.retainLogFrom(this.shard.id, index + 1);
    try {
      this.progress = { ...this.progress, snapshot_index: index, snapshot_bytes_total: total, snapshot_bytes_sent: 0, snapshot_done: false };
      const attempt: SnapshotAttempt = { attempt: nextAttempt(holds), snapshotIndex: index };
      this.attempt = attempt;
      const reset = await this.untilTarget(
        {
          kind: 'split-reset',
          taskId: this.taskId,
          source: this.shard.id,
          splitSlot: state.splitSlot,
          end: state.end,
          snapshotIndex: index,
          attempt: attempt.attempt,
          sourceClockMs: clockMs,
        },
        state,
        (answer) => holdsAttempt(this.targetState(answer), attempt),
      );
      if (reset === 'aborted') return reset;
      let cursor: Uint8Array | null = null;
      let sent = 0;
      const startMs = this.host.now();
      for (;;) {
        const chunk = reader.chunk(cursor, this.params.snapshotChunkBytes);
        const answer = await this.untilTarget(
          { kind: 'split-ingest', taskId: this.taskId, snapshotIndex: index, attempt: attempt.attempt, cursor, entries: chunk.entries, next: chunk.next },
          state,
          (taken) => chunkTaken(this.targetState(taken), attempt, chunk.next),
        );
        if (answer === 'aborted') return answer;
        let bytes = 0;
        for (const entry of chunk.entries) bytes += entry.byteLength;
        sent += bytes;
        this.host.observer.snapshotBytesSent(bytes);
        this.progress = { ...this.progress, snapshot_bytes_sent: sent, eta_seconds: etaSeconds(sent, total, this.host.now() - startMs) };
        await this.report('snapshot_transfer', state.splitSlot, false);
        // After the commit (a snapshot resent while switching) nothing rolls back.
        if (this.cancelRequested && state.phase === 'begun') return this.abort(state, CANCELLED);
        if (chunk.next === null) return this.targetState(answer)!;
        cursor = chunk.next;
      }
    } finally {
      reader.close();
    }
  }

  /** Forwards the next batch of committed entries after `applied`, through `through` at most; the target's new applied index. */
  private async forwardBatch(state: SourceSplitState, applied: number, through: number): Promise<number | 'aborted'> {
    if (applied >= through) return applied;
    return this.sendBatch(state, await this.nextBatch(state, applied, through));
  }

  /** Sends one batch as a `split-forward`; the target's new applied index, at least the batch's last. */
  private async sendBatch(state: SourceSplitState, batch: ForwardBatch): Promise<number | 'aborted'> {
    const attempt = this.attempt;
    if (attempt === undefined) throw new Error(`split ${this.taskId}: forwarding before the target's snapshot is known`);
    const answer = await this.untilTarget({ kind: 'split-forward', taskId: this.taskId, entries: batch.moving, throughIndex: batch.last }, state, (taken) =>
      forwardTaken(this.targetState(taken), attempt, batch.last),
    );
    if (answer === 'aborted') return answer;
    return this.targetState(answer)!.lastSourceIndex;
  }

  /** The moving part of the next batch of committed entries after `done`, through `through` at most. */
  private async nextBatch(state: SourceSplitState, done: number, through: number): Promise<ForwardBatch> {
    for (;;) {
      const entries = this.host.committedEntries(this.shard.id, done + 1, through + 1, FORWARD_BATCH_BYTES);
      // Only before this driver set its floor; the next run's probe finds it and resends the snapshot.
      if (entries === 'compacted') throw new Error(`source log of ${this.shard.id} no longer holds index ${done + 1}`);
      if (entries.length > 0) {
        const moving: ForwardedEntry[] = [];
        for (const entry of entries) {
          const part = entry.type === 'normal' && entry.data.length > 0 ? forwardedPart(entry.data, state.splitSlot, state.end) : null;
          if (part !== null) moving.push({ index: entry.index, data: part });
        }
        return { moving, last: entries[entries.length - 1]!.index };
      }
      // Committed, not durable here yet (a one-member group commits on append): the driver's persist makes it so.
      await this.host.sleep(1);
    }
  }

  /**
   * Forwards what is left through the source's `split-commit` and hands the range over, the last batch
   * riding with the handoff (held writes wait for it: one round of the target's Raft fewer).
   */
  private async sendHandoff(state: SourceSplitState, from: number): Promise<void> {
    const final = state.commitIndex;
    let done = from;
    for (;;) {
      const batch = done < final ? await this.nextBatch(state, done, final) : { moving: [], last: final };
      if (batch.last >= final) {
        // Any answer ends the wait: one that does not show the handoff stops the driver, and the next run's probe finds where the target stands.
        const handoff: ShardCommand = {
          kind: 'split-handoff',
          taskId: this.taskId,
          finalIndex: final,
          fromIndex: done,
          entries: batch.moving,
          sourceClockMs: this.replica().clockMs,
        };
        const answer = await this.untilTarget(handoff, state, () => true);
        if (answer === 'aborted' || !handedOff(state, this.targetState(answer), answer.owned)) throw new Error(`the target of ${this.taskId} did not take the handoff`);
        return;
      }
      const forwarded = await this.sendBatch(state, batch);
      if (forwarded === 'aborted') throw new Stop();
      done = forwarded;
    }
  }

  /**
   * After `split-commit`: forward the rest, hand the range over, answer the held writes. Held writes wait
   * for this, so the pilot hears of it without being waited for; `targetApplied` (known when this driver
   * ran the catch-up) spares a probe of the target.
   */
  private async switchOver(state: SourceSplitState, targetApplied: number | undefined): Promise<void> {
    void this.report('switching', state.splitSlot, true);
    let from = targetApplied;
    if (from === undefined) {
      // Resuming: the probe says whether the target took the handoff, or where it stands.
      const probe = await this.untilTarget(null, state, () => true);
      if (probe === 'aborted') throw new Stop();
      const target = this.targetState(probe);
      const start = switchStart(state, target, probe.owned, this.host.firstIndex(this.shard.id));
      if (start.kind === 'snapshot') {
        // The range no longer changes here (refused since the commit), so a snapshot now holds it all.
        const sent = await this.sendSnapshot(state, target);
        if (sent === 'aborted') throw new Stop();
        from = sent.lastSourceIndex;
      } else if (start.kind === 'forward') {
        this.host.retainLogFrom(this.shard.id, start.from + 1);
        this.attempt = start.attempt;
        from = start.from;
      }
    }
    if (from !== undefined) await this.sendHandoff(state, from);
    this.host.observer.catchUpDelay(this.shard.id, undefined);
    // Only now are the moved slots redirected to the target: its node serves them from here on.
    this.host.buffer.confirmHandoff(this.shard.id, this.taskId);
    const waitedMs = this.host.buffer.release(this.shard.id, this.host.now(), (slot) => this.host.movedToTarget(this.target, slot));
    this.host.logger.info({ task: this.taskId, shard: this.shard.id, target: this.target, longest_buffered_ms: waitedMs }, 'split: switched');
    await this.report('cleanup', state.splitSlot, true, undefined, true);
  }

  /**
   * Deletes the moved range in batches the leader lists, several in flight so that each Raft persist
   * carries more than one (a persist of a large shard costs milliseconds whatever it holds); an empty
   * batch ends the split. After the commit nothing writes to the range but these deletes, so one pass of
   * a cursor lists every key; a last scan from the start makes sure before the split is ended.
   */
  private async cleanup(state: SourceSplitState): Promise<void> {
    const replica = this.replica();
    for (let pass = 1; ; pass++) {
      if (pass > CLEANUP_PASSES_MAX) throw new Error(`split ${this.taskId}: the moved range still holds keys after ${CLEANUP_PASSES_MAX} cleanup passes`);
      await replica.data.flushed();
      const inFlight: Promise<void>[] = [];
      let after: Buffer | undefined;
      for (;;) {
        const keys: Buffer[] = [];
        let bytes = 0;
        for (const found of replica.data.scan(state.splitSlot, state.end, after, CLEANUP_BATCH_KEYS)) {
          if (bytes + found.key.length > CLEANUP_BATCH_BYTES && keys.length > 0) break;
          keys.push(found.key);
          bytes += found.key.length;
        }
        if (keys.length === 0) break;
        after = keys[keys.length - 1];
        const proposed = this.proposeSplit({ kind: 'split-cleanup', taskId: this.taskId, keys });
        proposed.catch(() => undefined); // awaited below; a failure stops the driver there
        inFlight.push(proposed);
        if (inFlight.length >= CLEANUP_IN_FLIGHT) await inFlight.shift();
      }
      await Promise.all(inFlight);
      if (after === undefined) break;
    }
    await this.proposeSplit({ kind: 'split-cleanup', taskId: this.taskId, keys: [] });
    this.host.logger.info({ task: this.taskId, shard: this.shard.id }, 'split: completed');
    await this.report('completed', state.splitSlot, true, undefined, true);
  }

  private async abort(state: SourceSplitState, reason: string): Promise<'aborted'> {
    this.host.logger.warn({ task: this.taskId, shard: this.shard.id, reason }, 'split: rolling back');
    await this.proposeSplit({ kind: 'split-abort', taskId: this.taskId, reason });
    if (this.sourceState() !== null) throw new Stop(); // the commit won the race: roll forward on the next run
    this.host.buffer.release(this.shard.id, this.host.now(), () => TRYAGAIN_ROLLBACK);
    const status = abortedStatus(reason);
    await this.report(status, state.splitSlot, true, status === 'failed' ? reason : undefined, true);
    return 'aborted';
  }

  /**
   * Sends to the target's leader until an answer shows the request `taken` — an answer that does not (a
   * stale or duplicated one, a target that moved to another snapshot) is no progress, and is retried like
   * silence. Before the commit, silence past `targetTimeoutMs` since the request was first sent (a crashed
   * or partitioned target), a buffer that timed out or overflowed, or a cancel rolls back; after it, silence
   * that long ends this driver.
   */
  private async untilTarget(command: ShardCommand | null, state: SourceSplitState, taken: (answer: OkAnswer) => boolean): Promise<OkAnswer | 'aborted'> {
    const askedMs = this.host.now();
    for (;;) {
      this.checkLeader();
      const answer = await this.host.sendToTarget(this.target, command);
      if (answer.kind === 'ok' && taken(answer)) return answer;
      const next = targetSilenceStep(
        {
          committed: this.sourceState()?.phase === 'committed',
          silentMs: this.host.now() - askedMs,
          why: answer.kind === 'ok' ? notTaken(command, this.targetState(answer)) : answer.kind === 'unreachable' ? answer.reason : 'no leader',
          buffer: this.bufferCondition(),
        },
        this.params,
      );
      if (next.kind === 'abort') return this.abort(state, next.reason);
      if (next.kind === 'restart') throw new Error(`split ${this.taskId}: ${next.reason}`);
      await this.report(this.reportedStatus ?? 'preparing', state.splitSlot, false);
      await this.host.sleep(RETRY_MS);
    }
  }

  private bufferCondition(): BufferCondition {
    return {
      overflowed: this.host.buffer.overflowed(this.shard.id),
      bufferingMs: this.host.buffer.bufferingForMs(this.shard.id, this.host.now()),
      cancelRequested: this.cancelRequested,
    };
  }

  private async proposeSplit(command: ShardCommand): Promise<void> {
    this.checkLeader();
    const result = (await this.host.propose(this.shard.id, command).catch(() => undefined)) as SplitApplyResult | undefined;
    this.checkLeader();
    if (result === undefined) throw new Stop();
  }

  private checkLeader(): void {
    if (!this.host.leads(this.shard.id, this.term)) throw new Stop();
  }

  private replica(): ShardReplica {
    const replica = this.host.replica(this.shard.id);
    if (replica === undefined) throw new Stop();
    return replica;
  }

  private sourceState(): SourceSplitState | null {
    const state = this.replica().splitState();
    return state?.role === 'source' && state.taskId === this.taskId ? state : null;
  }

  /**
   * Reports `status` to the pilot every progress interval, or at once when `force`d (a new phase). A
   * `final` report — one the routing table or the task's end depends on — is repeated until the pilot has
   * recorded it.
   */
  private async report(status: SplitStatus, splitSlot: number | undefined, force: boolean, reason?: string, final = false): Promise<void> {
    const now = this.host.now();
    if (!force && !reportDue(status, this.reportedStatus, now - this.lastReportMs, this.params)) return;
    this.lastReportMs = now;
    if (status !== this.reportedStatus) this.host.logger.info({ task: this.taskId, shard: this.shard.id, status, ...(reason === undefined ? {} : { reason }) }, 'split: phase');
    this.reportedStatus = status;
    this.progress = { ...this.progress, buffered_requests: this.host.buffer.count(this.shard.id) };
    for (;;) {
      const answer = await this.host.report({
        task_id: this.taskId,
        node_id: this.host.selfId,
        term: this.term,
        status,
        ...(splitSlot === undefined ? {} : { split_slot: splitSlot }),
        ...(reason === undefined ? {} : { reason }),
        progress: this.progress,
      });
      if (answer?.cancel_requested) this.cancelRequested = true;
      if (!final || answer?.status === status) return;
      // The task is over at the pilot with another outcome: repeating ours changes nothing.
      if (answer !== undefined && isFinalStatus(answer.status)) {
        this.host.logger.warn({ task: this.taskId, shard: this.shard.id, status, recorded: answer.status }, 'split: the pilot recorded another end');
        return;
      }
      this.checkLeader();
      await this.host.sleep(this.params.progressIntervalMs);
    }
  }
}

/** Why an answer does not show a request taken, for the rollback reason. */
function notTaken(command: ShardCommand | null, target: TargetSplitState | null): string {
  const holds = target === null ? 'no snapshot of the task' : `attempt ${target.attempt} applied through source index ${target.lastSourceIndex}`;
  return `${command?.kind ?? 'probe'} not taken: the target holds ${holds}`;
}

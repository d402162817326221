/**
 * The source leader's split driver against a target whose answers do not show what was asked: it makes
 * progress when the target does, and otherwise rolls the split back by `targetTimeoutMs` or at a cancel,
 * never looping on answers that skip what it sent. One source replica with a log in memory, a real
 * target replica behind a wire that may rewrite its answers, and virtual time.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { keyHashSlot } from '../../src/common/slots.js';
import type { SplitStatus } from '../../src/split/phases.js';
import { SPLIT_PARAMS_DEFAULT, type SplitReport, type TargetAnswer } from '../../src/split/types.js';
import type { RoutingShard, SplitParams } from '../../src/common/routing.js';
import { SplitBuffer } from '../../src/split/split-buffer.js';
import { SplitSource, type SplitSourceHost } from '../../src/split/split-source.js';
import type { Entry } from '../../src/raft/index.js';
import { error } from '../../src/resp/reply.js';
import { decodeShardCommand, encodeShardCommand, type ShardCommand } from '../../src/shard/shard-command.js';
import { ShardReplica } from '../../src/shard/shard-replica.js';
import type { SplitApplyResult } from '../../src/shard/split-state.js';
import { Scheduler } from '../sim/scheduler.js';
import { MemoryShardData } from '../support/memory-shard-data.js';

const SOURCE = 'shard_0001';
const TARGET = 'shard_0002';
const SPLIT_SLOT = 8192;
const END = 16384;
/** A request to the target and its answer take this long. */
const TARGET_ROUND_TRIP_MS = 2;
/** The driver's pause between two attempts at a request the target did not take (split-source.ts). */
const RETRY_MS = 100;
const PARAMS: SplitParams = { ...SPLIT_PARAMS_DEFAULT, targetTimeoutMs: 3_000, progressIntervalMs: 500 };

type OkAnswer = Extract<TargetAnswer, { kind: 'ok' }>;

/** A source shard whose leader this node is, its log applied as it is appended, and the target it splits to. */
class Harness {
  readonly scheduler = new Scheduler();
  readonly source = new ShardReplica(SOURCE, new MemoryShardData(SOURCE));
  readonly target = new ShardReplica(TARGET, new MemoryShardData(TARGET));
  readonly buffer = new SplitBuffer();
  readonly log: Entry[] = [];
  readonly reports: SplitReport[] = [];
  /** Split entries the target was sent, by kind. */
  readonly sent = new Map<string, number>();
  /** The pilot answers reports with a cancel from here on. */
  cancelRequested = false;
  /** What the wire makes of the target's answer (a stale copy, say); the answer as is by default. */
  answer: (command: ShardCommand | null, fresh: OkAnswer) => OkAnswer = (_command, fresh) => fresh;
  /** Runs once, when the pilot hears the given status. */
  onReport: Partial<Record<SplitStatus, () => void>> = {};
  private targetIndex = 0;

  constructor(readonly params: SplitParams) {}

  propose(command: ShardCommand): unknown {
    const entry: Entry = { term: 1, index: this.log.length + 1, type: 'normal', data: encodeShardCommand(command) };
    this.log.push(entry);
    return this.source.apply(entry);
  }

  /** The target's leader proposes `command` and applies it. */
  applyOnTarget(command: ShardCommand): SplitApplyResult {
    this.targetIndex++;
    return this.target.apply({ term: 1, index: this.targetIndex, type: 'normal', data: encodeShardCommand(command) }) as SplitApplyResult;
  }

  /** SETs of keys in the moving range, each of a value `valueBytes` long. */
  writeMoving(count: number, valueBytes = 1): void {
    for (let i = 0, written = 0; written < count; i++) {
      const key = `k${this.log.length}-${i}`;
      if (keyHashSlot(Buffer.from(key)) < SPLIT_SLOT) continue;
      this.propose({ kind: 'command', nowMs: 1, argv: [Buffer.from('SET'), Buffer.from(key), Buffer.alloc(valueBytes, 0x76)] });
      written++;
    }
  }

  /** The split entries the source's log holds, by kind. */
  splitEntries(kind: ShardCommand['kind']): ShardCommand[] {
    return this.log.map((e) => decodeShardCommand(e.data)).filter((c) => c.kind === kind);
  }

  host(): SplitSourceHost {
    const lastIndex = (): number => this.log.length;
    return {
      selfId: 'n1',
      logger: pino({ level: 'silent' }),
      buffer: this.buffer,
      replica: (shardId) => (shardId === SOURCE ? this.source : undefined),
      leads: () => true,
      term: () => 1,
      propose: async (_shardId, command) => this.propose(command),
      stableState: async (_shardId, open) => open(lastIndex()),
      committedEntries: (_shardId, lo, hi, maxBytes) => {
        const batch: Entry[] = [];
        let bytes = 0;
        for (const entry of this.log.slice(lo - 1, Math.min(hi, lastIndex() + 1) - 1)) {
          // At least one entry, as MultiRaft reads them.
          if (batch.length > 0 && bytes + entry.data.length > maxBytes) break;
          batch.push(entry);
          bytes += entry.data.length;
        }
        return batch;
      },
      readBarrier: async () => {},
      commitIndex: lastIndex,
      lastIndex,
      firstIndex: () => 1,
      retainLogFrom: () => {},
      sendToTarget: async (_target, command) => {
        await this.scheduler.sleep(TARGET_ROUND_TRIP_MS);
        if (command !== null) this.sent.set(command.kind, (this.sent.get(command.kind) ?? 0) + 1);
        const result = command === null ? null : this.applyOnTarget(command);
        return this.answer(command, { kind: 'ok', result, state: this.target.splitState(), owned: this.target.ownedRange() });
      },
      report: async (report) => {
        this.reports.push(report);
        const hook = this.onReport[report.status];
        delete this.onReport[report.status];
        hook?.();
        return { status: report.status, cancel_requested: this.cancelRequested };
      },
      observer: { snapshotBytesSent: () => {}, catchUpDelay: () => {} },
      movedToTarget: () => error('MOVED'),
      now: () => this.scheduler.now(),
      sleep: (ms) => this.scheduler.sleep(ms),
    };
  }

  /** Runs a driver for the task until it ends or `untilMs` of virtual time have passed; whether it ended. */
  async drive(untilMs: number): Promise<boolean> {
    const shard: RoutingShard = {
      id: SOURCE,
      keyspace: 'default',
      start: 0,
      end: END,
      epoch: 1,
      leader: 'n1',
      replicas: ['n1'],
      split: { taskId: 't1', role: 'source', peer: TARGET, splitSlot: SPLIT_SLOT, params: this.params },
    };
    let ended = false;
    void new SplitSource(this.host(), shard).run().then(() => (ended = true));
    await this.scheduler.runUntil(untilMs);
    return ended;
  }

  get lastStatus(): SplitStatus | undefined {
    return this.reports.at(-1)?.status;
  }
}

/** Keys on the source before the split, and writes to the moving range once catch-up begins. */
function splitUnderWrites(params: SplitParams = PARAMS): Harness {
  const harness = new Harness(params);
  harness.writeMoving(20);
  harness.onReport.catching_up = () => harness.writeMoving(5);
  return harness;
}

/** Answers to `split-forward` as the target stood after the snapshot: progress that skips what was sent. */
function staleForwards(harness: Harness, times = Number.POSITIVE_INFINITY): void {
  let afterSnapshot: OkAnswer | undefined;
  let stale = 0;
  harness.answer = (command, fresh) => {
    if (command?.kind === 'split-ingest' && command.next === null) afterSnapshot = fresh;
    if (command?.kind !== 'split-forward' || afterSnapshot === undefined || stale >= times) return fresh;
    stale++;
    return afterSnapshot;
  };
}

describe('a split driver and the progress its target answers', () => {
  it('completes the split when one answer is stale and the next shows progress', async () => {
    const harness = splitUnderWrites();
    staleForwards(harness, 1);
    assert.equal(await harness.drive(60_000), true, 'the driver ended');
    assert.equal(harness.lastStatus, 'completed');
    assert.equal(harness.splitEntries('split-commit').length, 1);
    assert.deepEqual(harness.target.ownedRange(), { start: SPLIT_SLOT, end: END });
    assert.equal(harness.target.data.keyCount, 25, 'the target holds every moving key, the forwarded ones included');
    assert.equal(harness.buffer.handedOver(SOURCE, 't1'), true, 'the node redirects the moved slots to the target from the handoff on');
  });

  it('completes the split when the first split-reset is delivered again after forwarding began', async () => {
    const harness = splitUnderWrites();
    let reset: ShardCommand | undefined;
    let redelivered: SplitApplyResult | undefined;
    harness.answer = (command, fresh) => {
      if (command?.kind === 'split-reset') reset = command;
      if (command?.kind === 'split-forward' && reset !== undefined && redelivered === undefined) redelivered = harness.applyOnTarget(reset);
      return fresh;
    };
    assert.equal(await harness.drive(60_000), true, 'the driver ended');
    assert.equal(redelivered?.ok, false, 'the target refused the stale reset');
    assert.equal(harness.lastStatus, 'completed');
    assert.equal(harness.target.data.keyCount, 25);
  });

  it('rolls back by targetTimeoutMs when every answer skips what was forwarded', async () => {
    const harness = splitUnderWrites();
    staleForwards(harness);
    assert.equal(await harness.drive(PARAMS.targetTimeoutMs + 5_000), true, 'the driver ended');
    const aborts = harness.splitEntries('split-abort');
    assert.equal(aborts.length, 1);
    assert.match(aborts[0]!.kind === 'split-abort' ? aborts[0]!.reason : '', /target/);
    assert.equal(harness.lastStatus, 'failed');
    assert.equal(harness.splitEntries('split-commit').length, 0);
    assert.deepEqual(harness.source.ownedRange(), { start: 0, end: END }, 'the source keeps its whole range');
    const forwards = harness.sent.get('split-forward') ?? 0;
    assert.ok(forwards <= PARAMS.targetTimeoutMs / RETRY_MS + 2, `${forwards} forwards: one per retry interval, not a spin`);
  });

  it('after the commit, ends the driver by targetTimeoutMs when every answer skips what was forwarded', async () => {
    // A leader resuming a committed split whose target holds the snapshot and nothing forwarded after it.
    const harness = new Harness(PARAMS);
    harness.writeMoving(20);
    harness.propose({ kind: 'split-begin', taskId: 't1', start: 0, splitSlot: SPLIT_SLOT, end: END, target: TARGET });
    const snapshotIndex = harness.log.length;
    harness.applyOnTarget({ kind: 'split-reset', taskId: 't1', source: SOURCE, splitSlot: SPLIT_SLOT, end: END, snapshotIndex, attempt: 1, sourceClockMs: 0 });
    const chunk = harness.source.openRangeSnapshot(SPLIT_SLOT, END).chunk(null, 1 << 20);
    harness.applyOnTarget({ kind: 'split-ingest', taskId: 't1', snapshotIndex, attempt: 1, cursor: null, entries: chunk.entries, next: chunk.next });
    // Entries too large to ride with the handoff: they go as split-forwards.
    harness.writeMoving(3, 200 * 1024);
    harness.propose({ kind: 'split-commit', taskId: 't1' });
    const stale: OkAnswer = { kind: 'ok', result: null, state: harness.target.splitState(), owned: harness.target.ownedRange() };
    harness.answer = (command, fresh) => (command?.kind === 'split-forward' ? stale : fresh);

    assert.equal(await harness.drive(PARAMS.targetTimeoutMs + 5_000), true, 'the driver ended');
    assert.equal(harness.splitEntries('split-abort').length, 0, 'a committed split never rolls back');
    const source = harness.source.splitState();
    assert.equal(source?.role === 'source' && source.phase, 'committed');
    assert.equal(harness.buffer.handedOver(SOURCE, 't1'), false, 'no handoff seen: the moved slots are answered TRYAGAIN, not sent to a target that sends them back');
    const forwards = harness.sent.get('split-forward') ?? 0;
    assert.ok(forwards <= PARAMS.targetTimeoutMs / RETRY_MS + 2, `${forwards} forwards: one per retry interval, not a spin`);
  });

  it('rolls back at a cancel while the target answers stale progress, long before the target timeout', async () => {
    const harness = splitUnderWrites({ ...PARAMS, targetTimeoutMs: 10 * 60_000 });
    staleForwards(harness);
    harness.onReport.catching_up = () => {
      harness.writeMoving(5);
      harness.cancelRequested = true;
    };
    assert.equal(await harness.drive(5 * PARAMS.progressIntervalMs), true, 'the driver ended');
    assert.deepEqual(harness.splitEntries('split-abort'), [{ kind: 'split-abort', taskId: 't1', reason: 'cancelled' }]);
    assert.equal(harness.lastStatus, 'cancelled');
  });
});

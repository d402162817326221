/**
 * A fake node around a split's source driver: one source replica whose log is applied as it is appended,
 * a real target replica behind a wire that may rewrite its answers, a pilot that records reports, and
 * virtual time. Knobs let a test change who leads, what the target answers and what the pilot answers.
 */
import { pino } from 'pino';
import type { RoutingShard, SplitParams } from '../../src/common/routing.js';
import { keyHashSlot } from '../../src/common/slots.js';
import type { Entry } from '../../src/raft/index.js';
import { error } from '../../src/resp/reply.js';
import { decodeShardCommand, encodeShardCommand, type ShardCommand } from '../../src/shard/shard-command.js';
import { ShardReplica } from '../../src/shard/shard-replica.js';
import type { SplitApplyResult } from '../../src/shard/split-state.js';
import type { SplitStatus } from '../../src/split/phases.js';
import { SplitBuffer } from '../../src/split/split-buffer.js';
import { SplitSource, type SplitSourceHost } from '../../src/split/split-source.js';
import type { SplitReport, SplitReportResponse, TargetAnswer } from '../../src/split/types.js';
import { Scheduler } from '../sim/scheduler.js';
import { MemoryShardData } from './memory-shard-data.js';

export const SOURCE = 'shard_0001';
export const TARGET = 'shard_0002';
export const SPLIT_SLOT = 8192;
export const END = 16384;
const TASK = 't1';
/** A request to the target and its answer take this long. */
const TARGET_ROUND_TRIP_MS = 2;

export type OkAnswer = Extract<TargetAnswer, { kind: 'ok' }>;

/** A source shard whose leader this node is, its log applied as it is appended, and the target it splits to. */
export class SplitSourceHarness {
  readonly scheduler = new Scheduler();
  readonly source = new ShardReplica(SOURCE, new MemoryShardData(SOURCE));
  readonly target = new ShardReplica(TARGET, new MemoryShardData(TARGET));
  readonly buffer = new SplitBuffer();
  readonly log: Entry[] = [];
  readonly reports: SplitReport[] = [];
  /** Split entries the target was sent, by kind. */
  readonly sent = new Map<string, number>();
  /** Whether this node leads the source, and in which term. */
  leading = true;
  term = 1;
  /** The target's replicas answer `notLeader` (and apply nothing) until this virtual time. */
  targetNotLeaderUntilMs = 0;
  /** The pilot answers reports with a cancel from here on. */
  cancelRequested = false;
  /** What the wire makes of the target's answer (a stale copy, say); the answer as is by default. */
  answer: (command: ShardCommand | null, fresh: OkAnswer) => OkAnswer = (_command, fresh) => fresh;
  /** What the pilot answers a report; by default it records the status. undefined: the answer is lost. */
  pilot: (report: SplitReport) => SplitReportResponse | undefined = (report) => ({ status: report.status, cancel_requested: this.cancelRequested });
  /** Runs once, when the pilot hears the given status. */
  onReport: Partial<Record<SplitStatus, () => void>> = {};
  private targetIndex = 0;

  constructor(readonly params: SplitParams) {}

  propose(command: ShardCommand): unknown {
    const entry: Entry = { term: this.term, index: this.log.length + 1, type: 'normal', data: encodeShardCommand(command) };
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
      leads: (_shardId, term) => this.leading && term === this.term,
      term: () => this.term,
      propose: async (_shardId, command) => {
        if (!this.leading) throw new Error('not the leader');
        return this.propose(command);
      },
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
      readBarrier: async () => {
        if (!this.leading) throw new Error('not the leader');
      },
      commitIndex: lastIndex,
      lastIndex,
      firstIndex: () => 1,
      retainLogFrom: () => {},
      sendToTarget: async (_target, command) => {
        await this.scheduler.sleep(TARGET_ROUND_TRIP_MS);
        if (this.scheduler.now() < this.targetNotLeaderUntilMs) return { kind: 'notLeader' };
        if (command !== null) this.sent.set(command.kind, (this.sent.get(command.kind) ?? 0) + 1);
        const result = command === null ? null : this.applyOnTarget(command);
        return this.answer(command, { kind: 'ok', result, state: this.target.splitState(), owned: this.target.ownedRange() });
      },
      report: async (report) => {
        this.reports.push(report);
        const hook = this.onReport[report.status];
        delete this.onReport[report.status];
        hook?.();
        return this.pilot(report);
      },
      observer: { snapshotBytesSent: () => {}, catchUpDelay: () => {} },
      movedToTarget: (_target, slot) => error(`MOVED ${slot} target-leader`),
      now: () => this.scheduler.now(),
      sleep: (ms) => this.scheduler.sleep(ms),
    };
  }

  /** The source shard as the routing table lists it, with the split's marker. */
  routingShard(): RoutingShard {
    return {
      id: SOURCE,
      keyspace: 'default',
      start: 0,
      end: END,
      epoch: 1,
      leader: 'n1',
      replicas: ['n1'],
      split: { taskId: TASK, role: 'source', peer: TARGET, splitSlot: SPLIT_SLOT, params: this.params, ...(this.cancelRequested ? { cancelRequested: true } : {}) },
    };
  }

  /** Starts a driver for the task over `host`; the promise resolves when it ends. */
  startDriver(host: SplitSourceHost = this.host()): Promise<void> {
    return new SplitSource(host, this.routingShard()).run();
  }

  /** Runs a driver for the task until it ends or `untilMs` of virtual time have passed; whether it ended. */
  async drive(untilMs: number): Promise<boolean> {
    let ended = false;
    void this.startDriver().then(() => (ended = true));
    await this.scheduler.runUntil(untilMs);
    return ended;
  }

  get lastStatus(): SplitStatus | undefined {
    return this.reports.at(-1)?.status;
  }
}

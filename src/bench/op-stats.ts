import { LatencyHistogram, type LatencySummary } from './latency-histogram.js';
import { OP_TYPES, type OpType } from './workload.js';

/** Counts and latencies of one op type over some span of time. */
export interface OpTypeStats {
  readonly histogram: LatencyHistogram;
  /** Failed operations by error kind (see `classifyError`). */
  readonly errors: Map<string, number>;
}

/**
 * Operations of every type over some span: a whole phase, or one timeline interval. The parts of a
 * read-modify-write count under READ and UPDATE too (as YCSB reports them), but only top-level
 * operations count in the overall (`ALL`) figures, so F's throughput is operations, not commands.
 */
export class OpStats {
  readonly byType = new Map<OpType, OpTypeStats>();
  /** Latencies of top-level operations of every type. */
  readonly all = new LatencyHistogram();
  /** Failed top-level operations by error kind. */
  readonly errors = new Map<string, number>();

  /** Records a successful operation; `topLevel` false for the parts of a composite one. */
  recordSuccess(type: OpType, latencyUs: number, topLevel = true): void {
    this.typeStats(type).histogram.record(latencyUs);
    if (topLevel) this.all.record(latencyUs);
  }

  /** Records a failed operation under its error kind; `topLevel` false for the parts of a composite one. */
  recordError(type: OpType, kind: string, topLevel = true): void {
    const errors = this.typeStats(type).errors;
    errors.set(kind, (errors.get(kind) ?? 0) + 1);
    if (topLevel) this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }

  /** Adds `other` into this. */
  add(other: OpStats): void {
    for (const [type, stats] of other.byType) {
      const mine = this.typeStats(type);
      mine.histogram.add(stats.histogram);
      addCounts(mine.errors, stats.errors);
    }
    this.all.add(other.all);
    addCounts(this.errors, other.errors);
  }

  /** Successful top-level operations. */
  get successCount(): number {
    return this.all.count;
  }

  /** Failed top-level operations. */
  get errorCount(): number {
    let n = 0;
    for (const count of this.errors.values()) n += count;
    return n;
  }

  /** Op types seen, in report order. */
  types(): OpType[] {
    return OP_TYPES.filter((t) => this.byType.has(t));
  }

  /** Plain data for IPC and JSON. */
  serialize(): SerializedOpStats {
    return {
      all: this.all.encode(),
      errors: Object.fromEntries(this.errors),
      byType: this.types().map((type) => {
        const stats = this.byType.get(type)!;
        return { type, histogram: stats.histogram.encode(), errors: Object.fromEntries(stats.errors) };
      }),
    };
  }

  /** The stats `serialize()` produced. */
  static deserialize(data: SerializedOpStats): OpStats {
    const result = new OpStats();
    result.all.add(LatencyHistogram.decode(data.all));
    addCounts(result.errors, new Map(Object.entries(data.errors)));
    for (const entry of data.byType) {
      const stats = result.typeStats(entry.type);
      stats.histogram.add(LatencyHistogram.decode(entry.histogram));
      addCounts(stats.errors, new Map(Object.entries(entry.errors)));
    }
    return result;
  }

  private typeStats(type: OpType): OpTypeStats {
    let stats = this.byType.get(type);
    if (stats === undefined) {
      stats = { histogram: new LatencyHistogram(), errors: new Map() };
      this.byType.set(type, stats);
    }
    return stats;
  }
}

function addCounts(into: Map<string, number>, from: ReadonlyMap<string, number>): void {
  for (const [kind, n] of from) into.set(kind, (into.get(kind) ?? 0) + n);
}

/** `OpStats` as plain data. */
export interface SerializedOpStats {
  readonly all: string;
  readonly errors: Readonly<Record<string, number>>;
  readonly byType: readonly { readonly type: OpType; readonly histogram: string; readonly errors: Readonly<Record<string, number>> }[];
}

/** Report figures of one op type. */
export interface OpTypeReport extends LatencySummary {
  readonly type: OpType;
  readonly opsPerSec: number;
  readonly errors: Readonly<Record<string, number>>;
}

/**
 * The kind an application-visible error is counted under: the Redis error prefix (`CLUSTERDOWN`,
 * `TRYAGAIN`, `ERR`, `MOVED` when redirections ran out, ...) or a name for client-side failures.
 * Redirections the client followed never get here: they are not failures.
 */
export function classifyError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (message.startsWith('Too many Cluster redirections')) {
    const last = /Last error: (?:ReplyError: )?([A-Z][A-Z_-]+)/.exec(message);
    return last === null ? 'TOO_MANY_REDIRECTIONS' : `${last[1]}(redirections exhausted)`;
  }
  if (/timed? ?out/i.test(message)) return 'TIMEOUT';
  if (/connection is closed|ECONNREFUSED|ECONNRESET|EPIPE/i.test(message)) return 'CONNECTION';
  const prefix = /^([A-Z][A-Z_-]+)(?:\s|$)/.exec(message);
  if (prefix !== null) return prefix[1]!;
  if (error instanceof Error && error.name !== 'Error') return error.name;
  return 'OTHER';
}

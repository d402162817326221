/**
 * The whole-cluster simulation's online checkers of Raft's safety properties, fed by hooks in the
 * simulated nodes as things happen:
 * - election safety: at most one leader per term in each group, ever (across crashes and restarts);
 * - log matching / state machine safety: every member that applies a normal entry at an index applies
 *   the same entry (term and data) there, and — since apply is deterministic and every member holds the
 *   same state before it — gets the same reply, which catches a member whose data diverged (a snapshot
 *   restored wrongly, an entry applied twice or skipped after a crash);
 * - per incarnation, applied indexes only grow.
 * What was applied is remembered for the whole run, except what a crash took back: an apply not yet
 * durable when its node crashed is forgotten with the data it wrote (entries, applied data and applied
 * index are one transaction). Such an entry is committed everywhere else (a node that restarts must then
 * apply it again, identically) — unless it was committed nowhere else: a group of one member commits
 * an entry on its own append, before it is durable, and a crash may take it back for good.
 *
 * A violation is recorded, not thrown: the hooks run inside the driver under test, which must not be
 * broken half-way by the checker; the simulation stops at its next check of `failure`.
 */
import type { Entry } from '../../src/raft/index.js';
import type { SplitApplyResult } from '../../src/shard/split-state.js';
import type { Reply } from '../../src/resp/reply.js';

/** What the first member to apply an index applied there, and which nodes still hold that apply. */
interface AppliedRecord {
  readonly term: number;
  readonly data: string;
  readonly reply: string;
  readonly node: string;
  readonly holders: Set<string>;
}

/** Most indexes remembered per group: far above what a simulation applies, a bound against a runaway. */
const APPLIED_INDEXES_MAX = 1_000_000;

/** The online checkers; see the module comment. */
export class ClusterChecker {
  /** The first violation seen, if any. */
  failure: string | undefined;
  readonly counts = { leaderElections: 0, applies: 0, restores: 0 };
  /** Group → term → the node that led it. */
  private readonly leaders = new Map<string, Map<number, string>>();
  /** Group → index → what was applied there. */
  private readonly applied = new Map<string, Map<number, AppliedRecord>>();

  /** Records a violation (the first one wins: later ones are often its consequences). */
  fail(message: string): void {
    this.failure ??= message;
  }

  /** `node` leads `group` in `term`. */
  onLeader(group: string, node: string, term: number): void {
    let terms = this.leaders.get(group);
    if (terms === undefined) this.leaders.set(group, (terms = new Map()));
    const known = terms.get(term);
    if (known === undefined) {
      terms.set(term, node);
      this.counts.leaderElections++;
      return;
    }
    if (known !== node) this.fail(`election safety: ${known} and ${node} both lead group ${group} in term ${term}`);
  }

  /** The leader of each term of `group` so far. */
  leadersOf(group: string): ReadonlyMap<number, string> {
    return this.leaders.get(group) ?? new Map();
  }

  /** `node` applied `entry` of `group` and its state machine answered `reply`. */
  onApply(group: string, node: string, entry: Entry, reply: Reply | SplitApplyResult): void {
    this.counts.applies++;
    let byIndex = this.applied.get(group);
    if (byIndex === undefined) this.applied.set(group, (byIndex = new Map()));
    const record: AppliedRecord = { term: entry.term, data: Buffer.from(entry.data).toString('base64'), reply: describeReply(reply), node, holders: new Set([node]) };
    const known = byIndex.get(entry.index);
    known?.holders.add(node);
    if (known === undefined) {
      if (byIndex.size >= APPLIED_INDEXES_MAX) this.fail(`group ${group}: more than ${APPLIED_INDEXES_MAX} applied indexes recorded`);
      byIndex.set(entry.index, record);
      return;
    }
    if (known.term !== record.term || known.data !== record.data) {
      this.fail(
        `state machine safety: group ${group} index ${entry.index}: ${node} applied term ${record.term} ${record.data}, ${known.node} applied term ${known.term} ${known.data}`,
      );
    } else if (known.reply !== record.reply) {
      this.fail(`state divergence: group ${group} index ${entry.index}: ${node} answered ${record.reply}, ${known.node} answered ${known.reply} to the same entry`);
    }
  }

  /**
   * `node` crashed; its disk had made durable what it applied in each group up to `durableApplied`.
   * Its applies above that never happened; an index nobody else applied is free again.
   */
  onCrash(node: string, durableApplied: ReadonlyMap<string, number>): void {
    for (const [group, byIndex] of this.applied) {
      const durable = durableApplied.get(group) ?? 0;
      for (const [index, record] of byIndex) {
        if (index <= durable || !record.holders.delete(node)) continue;
        if (record.holders.size === 0) byIndex.delete(index);
      }
    }
  }

  /** `node` restored a snapshot of `group` at `index`. */
  onRestore(): void {
    this.counts.restores++;
  }

  /** Highest index anyone applied in `group` (0 if none). */
  highestApplied(group: string): number {
    let highest = 0;
    for (const index of this.applied.get(group)?.keys() ?? []) highest = Math.max(highest, index);
    return highest;
  }
}

/**
 * Bytes as hex: a Buffer and a Uint8Array holding the same bytes describe alike (a command decoded from
 * the proposer's Buffer or from a received frame's Uint8Array carries its byte fields as either).
 */
function bytesAsHex(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  return raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('hex') : value;
}

/** A reply as one line, for comparing replicas' answers and for traces. */
export function describeReply(reply: Reply | SplitApplyResult): string {
  // A split entry's result: whether it took effect, and the state after it.
  if (!('kind' in reply)) return JSON.stringify(reply, bytesAsHex);
  switch (reply.kind) {
    case 'simple':
      return `+${reply.value}`;
    case 'error':
      return `-${reply.message}`;
    case 'int':
      return `:${reply.value}`;
    case 'bulk':
      return `$${typeof reply.value === 'string' ? reply.value : reply.value.toString('latin1')}`;
    case 'null':
      return '_';
    default:
      return JSON.stringify(reply, (_, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  }
}

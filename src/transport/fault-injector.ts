/**
 * Fault injection for tests: per directed link (from node → to node) a drop probability, an added delay
 * and partitions. Off by default, and free when off: the transport reads `active` (a plain field) before
 * asking anything else. Pure decisions; randomness is injected so a seed replays the same drops.
 *
 * A FaultInjector describes the network, so a test gives one instance to every transport of its cluster.
 * A transport enforces the rules of the links it sends on (drop, delay, partition); it also refuses what
 * arrives over a partitioned link, so a partition set on a single transport's own injector still cuts
 * both directions at that node.
 */
import type { TransportNodeId } from './envelope.js';

/** What happens to one message on a link. */
export type FaultDecision = { readonly kind: 'deliver'; readonly delayMs: number } | { readonly kind: 'drop'; readonly reason: 'partition' | 'loss' };

const DELIVER_NOW: FaultDecision = Object.freeze({ kind: 'deliver', delayMs: 0 });
const DROP_PARTITION: FaultDecision = Object.freeze({ kind: 'drop', reason: 'partition' });
const DROP_LOSS: FaultDecision = Object.freeze({ kind: 'drop', reason: 'loss' });

/** Which directions `partition(a, b, ...)` cuts. */
export type PartitionDirection = 'both' | 'a-to-b';

export class FaultInjector {
  /** True while any rule is set; the transport skips fault handling entirely when false. */
  active = false;
  private readonly blocked = new Set<string>();
  private readonly dropProbability = new Map<string, number>();
  private readonly delayMs = new Map<string, number>();

  /** @param random uniform in [0, 1); seeded in tests. */
  constructor(private readonly random: () => number = Math.random) {}

  /**
   * Cuts every link between a node of `a` and a node of `b` (both directions, or only a → b). Adds to
   * the partitions already set.
   */
  partition(a: readonly TransportNodeId[], b: readonly TransportNodeId[], direction: PartitionDirection = 'both'): void {
    for (const x of a) {
      for (const y of b) {
        if (x === y) continue;
        this.blocked.add(linkKey(x, y));
        if (direction === 'both') this.blocked.add(linkKey(y, x));
      }
    }
    this.refreshActive();
  }

  /** Removes every partition; drop and delay rules stay. */
  heal(): void {
    this.blocked.clear();
    this.refreshActive();
  }

  /** Drops each message on the link from → to with `probability` ∈ [0, 1] (0 removes the rule). */
  setDrop(from: TransportNodeId, to: TransportNodeId, probability: number): void {
    if (!(probability >= 0 && probability <= 1)) throw new Error(`assertion failed: drop probability ${probability} not in [0, 1]`);
    if (probability === 0) this.dropProbability.delete(linkKey(from, to));
    else this.dropProbability.set(linkKey(from, to), probability);
    this.refreshActive();
  }

  /** Holds each message on the link from → to for `ms` before it is sent (0 removes the rule). */
  setDelay(from: TransportNodeId, to: TransportNodeId, ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new Error(`assertion failed: delay ${ms} ms must be finite and ≥ 0`);
    if (ms === 0) this.delayMs.delete(linkKey(from, to));
    else this.delayMs.set(linkKey(from, to), ms);
    this.refreshActive();
  }

  /** Removes every rule. */
  reset(): void {
    this.blocked.clear();
    this.dropProbability.clear();
    this.delayMs.clear();
    this.refreshActive();
  }

  /** Whether a partition cuts the link from → to. */
  isBlocked(from: TransportNodeId, to: TransportNodeId): boolean {
    return this.blocked.has(linkKey(from, to));
  }

  /** The fate of one message sent on the link from → to. Draws one random number iff a drop rule is set. */
  decide(from: TransportNodeId, to: TransportNodeId): FaultDecision {
    const key = linkKey(from, to);
    if (this.blocked.has(key)) return DROP_PARTITION;
    const probability = this.dropProbability.get(key);
    if (probability !== undefined && this.random() < probability) return DROP_LOSS;
    const delayMs = this.delayMs.get(key);
    return delayMs === undefined ? DELIVER_NOW : { kind: 'deliver', delayMs };
  }

  private refreshActive(): void {
    this.active = this.blocked.size > 0 || this.dropProbability.size > 0 || this.delayMs.size > 0;
  }
}

// JSON of the pair, so no node id can make two different links share a key.
function linkKey(from: TransportNodeId, to: TransportNodeId): string {
  return JSON.stringify([from, to]);
}

/**
 * Split by load: a shard whose every ops/s sample over `splitQpsWindowMs` is above `splitQps` splits at the
 * slot boundary that best halves its sampled per-slot load, so no slot (and no hot key) is cut. Samples
 * from before the shard's last split do not count: each half must stay hot a whole window on its own.
 * When one slot carries `hotSlotShareMin` of the load, no split can relieve the shard: that is a finding
 * for the driver to report, not a split to retry every round. Pure.
 */
import { figure, formatDuration } from './figures.js';
import { minOpsPerSec, opsWindow } from './ops-window.js';
import { busyShardIds, compareIds, shardsByKeyspace } from './snapshot-views.js';
import type { ClusterSnapshot, Finding, Operator, SchedulerConfig, SlotLoad, SnapshotShard } from './types.js';

type LoadSplitPlan = { readonly kind: 'split'; readonly atSlot: number; readonly reason: string } | { readonly kind: 'hot-slot'; readonly slot: number; readonly reason: string };

/** The shard's sampled load per slot inside its range, by slot; slots without load left out. */
function slotLoads(shard: SnapshotShard): SlotLoad[] {
  const bySlot = new Map<number, number>();
  for (const { slot, ops } of shard.slotLoad ?? []) {
    if (slot >= shard.slots.start && slot < shard.slots.end && ops > 0) bySlot.set(slot, (bySlot.get(slot) ?? 0) + ops);
  }
  return [...bySlot].map(([slot, ops]) => ({ slot, ops })).sort((a, b) => a.slot - b.slot);
}

function planLoadSplit(shard: SnapshotShard, nowMs: number, config: SchedulerConfig): LoadSplitPlan | undefined {
  const window = opsWindow(shard.opsSamples, nowMs, config.splitQpsWindowMs, shard.splitAtMs);
  if (!window.full || window.samples.length === 0) return undefined;
  const lowest = minOpsPerSec(window);
  if (lowest <= config.splitQps) return undefined;
  const loads = slotLoads(shard);
  if (loads.length === 0) return undefined;
  const sustained = `ops/s above ${config.splitQps} for ${formatDuration(config.splitQpsWindowMs)} (lowest ${figure(lowest)})`;
  const total = loads.reduce((sum, l) => sum + l.ops, 0);
  const hottest = loads.reduce((best, l) => (l.ops > best.ops ? l : best));
  if (hottest.ops >= total * config.hotSlotShareMin) {
    const share = Math.round((hottest.ops / total) * 100);
    return { kind: 'hot-slot', slot: hottest.slot, reason: `${sustained}, but slot ${hottest.slot} carries ${share}% of the sampled load` };
  }
  // Cutting before loads[i] moves loads[i..] to the new shard; the most even cut wins, the lower slot on ties.
  let best = { index: 0, left: 0, imbalance: Number.POSITIVE_INFINITY };
  let left = 0;
  for (let i = 1; i < loads.length; i++) {
    left += loads[i - 1]!.ops;
    const imbalance = Math.abs(total - 2 * left);
    if (imbalance < best.imbalance) best = { index: i, left, imbalance };
  }
  const atSlot = loads[best.index]!.slot;
  return { kind: 'split', atSlot, reason: `${sustained}; sampled load ${figure(best.left)} | ${figure(total - best.left)} at slot ${atSlot}` };
}

/** Each free shard's plan, by keyspace, up to `shardsPerKeyspaceMax` shards per keyspace. */
function loadSplitPlans(snapshot: ClusterSnapshot, config: SchedulerConfig): { shard: SnapshotShard; plan: LoadSplitPlan }[] {
  const busy = busyShardIds(snapshot);
  const plans: { shard: SnapshotShard; plan: LoadSplitPlan }[] = [];
  for (const shards of shardsByKeyspace(snapshot).values()) {
    let shardCount = shards.length;
    for (const shard of shards.filter((s) => !busy.has(s.id)).sort((a, b) => compareIds(a.id, b.id))) {
      const plan = planLoadSplit(shard, snapshot.nowMs, config);
      if (plan === undefined) continue;
      if (plan.kind === 'split') {
        if (shardCount >= config.shardsPerKeyspaceMax) continue;
        shardCount++;
      }
      plans.push({ shard, plan });
    }
  }
  return plans;
}

export function loadSplit(snapshot: ClusterSnapshot, config: SchedulerConfig): Operator[] {
  return loadSplitPlans(snapshot, config).flatMap(({ shard, plan }) =>
    plan.kind === 'split' ? [{ kind: 'split' as const, shardId: shard.id, atSlot: plan.atSlot, scheduler: 'load-split' as const, reason: plan.reason }] : [],
  );
}

/** Shards too hot to stay as they are that no split can relieve. */
export function unsplittableHotSlots(snapshot: ClusterSnapshot, config: SchedulerConfig): Finding[] {
  return loadSplitPlans(snapshot, config).flatMap(({ shard, plan }) =>
    plan.kind === 'hot-slot' ? [{ kind: 'unsplittable-hot-slot' as const, shardId: shard.id, slot: plan.slot, scheduler: 'load-split' as const, reason: plan.reason }] : [],
  );
}

/**
 * What the nemesis checks once every fault is undone: that every slot is owned by exactly one shard (the
 * routing table and every node's CLUSTER SLOTS covering 0..16383 once, and agreeing), and that every
 * shard is at its replication factor with a leader. Pure functions over what was read, and the bounded
 * wait that reads it until it holds.
 */
import { respRequest } from '../../src/client/resp-request.js';
import { SLOT_COUNT } from '../../src/common/slots.js';
import type { TestCluster } from '../support/cluster.js';

/** One owned range of slots, inclusive of both ends. */
export interface OwnedRange {
  readonly start: number;
  readonly end: number;
}

/** Problems with one view of slot ownership: gaps, overlaps, slots out of range. */
export function slotCoverageProblems(view: string, ranges: readonly OwnedRange[]): string[] {
  const owners = new Uint16Array(SLOT_COUNT);
  const problems: string[] = [];
  for (const { start, end } of ranges) {
    if (start < 0 || end >= SLOT_COUNT || start > end) {
      problems.push(`${view}: range [${start}, ${end}] is not within 0..${SLOT_COUNT - 1}`);
      continue;
    }
    for (let slot = start; slot <= end; slot++) owners[slot]!++;
  }
  const twice = owners.findIndex((n) => n > 1);
  const none = owners.indexOf(0);
  if (twice >= 0) problems.push(`${view}: slot ${twice} is owned by ${owners[twice]} ranges`);
  if (none >= 0) problems.push(`${view}: slot ${none} is owned by no range`);
  return problems;
}

/** Problems between two views: each must list the same ranges. */
export function rangeDisagreement(a: string, aRanges: readonly OwnedRange[], b: string, bRanges: readonly OwnedRange[]): string[] {
  const text = (ranges: readonly OwnedRange[]): string =>
    [...ranges]
      .sort((x, y) => x.start - y.start)
      .map((r) => `${r.start}-${r.end}`)
      .join(' ');
  return text(aRanges) === text(bRanges) ? [] : [`${a} and ${b} disagree: ${text(aRanges)} vs ${text(bRanges)}`];
}

/** The shard as GET /api/v1/shards shows it, as far as the check reads it. */
export interface ShardReplicas {
  readonly id: string;
  readonly leader: string | null;
  readonly replicas: readonly string[];
}

/** Problems with the replication factor: a shard with more or fewer replicas, or no leader among them. */
export function replicationProblems(shards: readonly ShardReplicas[], factor: number): string[] {
  const problems: string[] = [];
  for (const shard of shards) {
    if (shard.replicas.length !== factor) problems.push(`${shard.id} has ${shard.replicas.length} replicas (${shard.replicas.join(',')}), not ${factor}`);
    if (shard.leader === null || !shard.replicas.includes(shard.leader)) problems.push(`${shard.id} has no leader among its replicas (leader ${shard.leader})`);
  }
  return problems;
}

/** Everything wrong with the cluster's layout right now; empty once it has converged. */
export async function layoutProblems(cluster: TestCluster, factor: number): Promise<string[]> {
  const problems: string[] = [];
  const routing = await cluster.api('GET', '/api/v1/routing');
  if (routing.status !== 200) return [`GET /api/v1/routing answered ${routing.status}`];
  const routed = (routing.json as { shards: { id: string; start: number; end: number }[] }).shards
    // A split's target is listed without slots until it switches.
    .filter((s) => s.end > s.start)
    .map((s) => ({ start: s.start, end: s.end - 1 }));
  problems.push(...slotCoverageProblems('routing table', routed));
  for (const node of cluster.nodes) {
    const [reply] = await respRequest('127.0.0.1', node.port, [['CLUSTER', 'SLOTS']], 3000).catch((err: Error) => [err]);
    if (!Array.isArray(reply)) {
      problems.push(`${node.name}: CLUSTER SLOTS failed (${String((reply as Error)?.message ?? reply)})`);
      continue;
    }
    const ranges = (reply as unknown[][]).map((r) => ({ start: Number(r[0]), end: Number(r[1]), copies: r.length - 2 }));
    problems.push(...slotCoverageProblems(`${node.name} CLUSTER SLOTS`, ranges));
    problems.push(...rangeDisagreement('routing table', routed, `${node.name} CLUSTER SLOTS`, ranges));
    for (const r of ranges) if (r.copies !== factor) problems.push(`${node.name} CLUSTER SLOTS: ${r.start}-${r.end} lists ${r.copies} nodes, not ${factor}`);
  }
  const shards = await cluster.api('GET', '/api/v1/shards');
  if (shards.status !== 200) return [...problems, `GET /api/v1/shards answered ${shards.status}`];
  problems.push(...replicationProblems((shards.json as { shards: ShardReplicas[] }).shards, factor));
  return problems;
}

/**
 * Leader rebalance: the hottest shards' leaders on different nodes, then leader counts of the up nodes
 * within ±1, both by transferring leadership to a node that already holds a replica (no data moves). Counts
 * move along a chain of transfers from a node to one leading at least two fewer, so every chain narrows the
 * spread and the scheduler settles; the chain reaches nodes a direct transfer cannot. No transfer puts a
 * hot leader beside another. Pure.
 */
import { figure } from './figures.js';
import { bump, busyShardIds, compareIds, fewestFirst, leaderCounts, mostFirst, nodeIdsIn } from './snapshot-views.js';
import { spreadHotLeaders } from './hot-leader-spread.js';
import { shardLoad, shardTemperature } from './temperature.js';
import type { ClusterSnapshot, Operator, SchedulerConfig, SnapshotShard } from './types.js';

export function leaderRebalance(snapshot: ClusterSnapshot, config: SchedulerConfig): Operator[] {
  const up = nodeIdsIn(snapshot, 'up');
  const upSet = new Set(up);
  const busy = busyShardIds(snapshot);
  const { nowMs } = snapshot;
  const led = snapshot.shards.filter((s) => s.leader !== undefined && upSet.has(s.leader)).sort((a, b) => compareIds(a.id, b.id));
  const counts = leaderCounts(snapshot, up);
  const leaderOf = new Map(led.map((s) => [s.id, s.leader!]));
  const operators: Operator[] = [];
  const transfer = (shard: SnapshotShard, nodeId: string, reason: string): void => {
    operators.push({ kind: 'transfer-leader', shardId: shard.id, nodeId, scheduler: 'leader-rebalance', reason });
    bump(counts, leaderOf.get(shard.id)!, -1);
    bump(counts, nodeId, 1);
    leaderOf.set(shard.id, nodeId);
  };
  const followers = (shard: SnapshotShard): string[] => shard.replicas.filter((n) => upSet.has(n) && n !== leaderOf.get(shard.id));

  // The hottest shards, one per up node at most, each led from a node leading no other of them.
  const load = new Map(led.map((s) => [s.id, shardLoad(s, nowMs, config)]));
  const hottest = led
    .filter((s) => shardTemperature(s, nowMs, config) === 'hot')
    .sort((a, b) => load.get(b.id)! - load.get(a.id)! || compareIds(a.id, b.id))
    .slice(0, up.length);
  const placed = spreadHotLeaders(
    hottest.map((s) => {
      const leader = leaderOf.get(s.id)!;
      return { id: s.id, leader, candidates: busy.has(s.id) ? [leader] : [leader, ...fewestFirst(followers(s), counts)] };
    }),
  );
  for (const shard of hottest) {
    const node = placed.get(shard.id);
    const leader = leaderOf.get(shard.id)!;
    if (node === undefined || node === leader) continue;
    transfer(shard, node, `${figure(load.get(shard.id)!)} ops/s, one of the ${hottest.length} hottest shards, whose leaders go to different nodes (from ${leader})`);
  }
  const hotLeaders = new Set(placed.values());

  // Counts: a chain of transfers from the node leading the most to one leading at least two fewer. Each link
  // hands one shard's leadership to one of its followers, so the nodes along the chain keep their counts; a
  // direct transfer is a chain of one link. Breadth first, so the shortest chain wins.
  const hot = new Set(hottest.map((s) => s.id));
  const moved = new Set(operators.map((o) => o.shardId));
  const mayLead = (shard: SnapshotShard, nodeId: string): boolean => !(hot.has(shard.id) && hotLeaders.has(nodeId));
  const nextChain = (): Link[] | undefined => {
    for (const source of mostFirst(up, counts)) {
      const via = new Map<string, Link | undefined>([[source, undefined]]);
      const queue = [source];
      for (let i = 0; i < queue.length; i++) {
        const from = queue[i]!;
        for (const shard of led) {
          if (leaderOf.get(shard.id) !== from || busy.has(shard.id) || moved.has(shard.id)) continue;
          for (const to of fewestFirst(followers(shard), counts)) {
            if (via.has(to) || !mayLead(shard, to)) continue;
            via.set(to, { shard, from, to });
            if (counts.get(source)! - counts.get(to)! > 1) return chainTo(via, to);
            queue.push(to);
          }
        }
      }
    }
    return undefined;
  };
  for (let chain = nextChain(); chain !== undefined; chain = nextChain()) {
    const source = chain[0]!.from;
    const end = chain.at(-1)!.to;
    const why = `${source} leads ${counts.get(source)} shards, ${end} leads ${counts.get(end)}`;
    chain.forEach((link, i) => {
      transfer(link.shard, link.to, chain.length === 1 ? why : `${why}: link ${i + 1} of ${chain.length} from ${source} to ${end}`);
      moved.add(link.shard.id);
      if (hot.has(link.shard.id)) {
        hotLeaders.delete(link.from);
        hotLeaders.add(link.to);
      }
    });
  }
  return operators;
}

/** One transfer of a chain: `shard`'s leadership from `from` to `to`. */
interface Link {
  readonly shard: SnapshotShard;
  readonly from: string;
  readonly to: string;
}

/** The links from the chain's source to `end`, in order. */
function chainTo(via: ReadonlyMap<string, Link | undefined>, end: string): Link[] {
  const chain: Link[] = [];
  for (let link = via.get(end); link !== undefined; link = via.get(link.from)) chain.unshift(link);
  return chain;
}

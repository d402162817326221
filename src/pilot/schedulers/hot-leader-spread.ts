/**
 * Where the hottest shards' leaders go so that no two share a node, as far as their replicas allow: a
 * maximum matching of shards to nodes by augmenting paths (Kuhn's algorithm). A leader already alone on its
 * node stays; a hotter shard is placed before a cooler one and, once placed, stays placed (an augmenting
 * path only moves it to another of its nodes). Pure.
 */

export interface HotShard {
  readonly id: string;
  readonly leader: string;
  /** Nodes that may lead it, most preferred first; just the leader for a shard that cannot move now. */
  readonly candidates: readonly string[];
}

/** The node to lead each placed shard, by shard id; `shards` hottest first. A shard left out cannot be placed alone. */
export function spreadHotLeaders(shards: readonly HotShard[]): Map<string, string> {
  const byId = new Map(shards.map((s) => [s.id, s]));
  const rank = new Map(shards.map((s, i) => [s.id, i]));
  const owner = new Map<string, string>();
  const placed = new Map<string, string>();
  const place = (shard: HotShard, node: string): void => {
    owner.set(node, shard.id);
    placed.set(shard.id, node);
  };
  for (const shard of shards) if (!owner.has(shard.leader)) place(shard, shard.leader);
  const augment = (shard: HotShard, visited: Set<string>): boolean => {
    // A free node first: displacing a placed shard moves two leaders instead of one; then the node of the
    // coolest placed shard, so the hottest leaders move least.
    const free = shard.candidates.filter((n) => !owner.has(n));
    const taken = shard.candidates.filter((n) => owner.has(n)).sort((a, b) => rank.get(owner.get(b)!)! - rank.get(owner.get(a)!)!);
    for (const node of [...free, ...taken]) {
      if (visited.has(node)) continue;
      visited.add(node);
      const other = owner.get(node);
      if (other === undefined || augment(byId.get(other)!, visited)) {
        place(shard, node);
        return true;
      }
    }
    return false;
  };
  for (const shard of shards) if (!placed.has(shard.id)) augment(shard, new Set());
  return placed;
}

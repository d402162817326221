/**
 * CLUSTER subcommands, answered from the routing table as Redis Cluster would: a shard's leader is a
 * master, its other replicas are replicas, and a node's slots are those of the shards it leads. The node
 * overlays the leaders its own Raft groups know on the pilot's table before building the view, so the
 * answers follow elections without waiting for the pilot.
 */
import { keyHashSlot, SLOT_COUNT } from '../common/slots.js';
import type { RoutingNode, RoutingShard } from '../common/routing.js';
import { array, bulk, bulkArray, error, int, map, simple, type Reply } from '../resp/reply.js';
import type { NodeContext, ServerHandler } from './node-context.js';
import type { RoutingView } from './routing-view.js';

const INVALID_SLOT = error('ERR Invalid slot');

function parseSlot(arg: Buffer): number | undefined {
  const text = arg.toString();
  if (!/^\d+$/.test(text)) return undefined;
  const slot = Number(text);
  return slot < SLOT_COUNT ? slot : undefined;
}

function nodeEntry(node: RoutingNode): Reply {
  return array([bulk(node.host), int(node.port), bulk(node.clusterId), map([])]);
}

/**
 * Who stands as a shard's master in the CLUSTER answers: its leader, or while it has none (an election, a
 * leader's node down) its first replica. Clients then always get a whole slot map; the stand-in answers
 * TRYAGAIN until the group has a leader and MOVED to it after, which clients follow.
 */
function actingLeader(shard: RoutingShard): string | null {
  return shard.leader ?? shard.replicas[0] ?? null;
}

/** The shard's acting leader first, then its other desired replicas: the order Redis lists a slot range in. */
function rangeMembers(view: RoutingView, shard: RoutingShard): { leader: RoutingNode | undefined; followers: RoutingNode[] } {
  const acting = actingLeader(shard);
  const leader = acting === null ? undefined : view.node(acting);
  const followers: RoutingNode[] = [];
  for (const id of shard.replicas) {
    const node = id === acting ? undefined : view.node(id);
    if (node !== undefined) followers.push(node);
  }
  return { leader, followers };
}

/** CLUSTER SLOTS: [start, end (inclusive), master, replicas...] per shard that owns slots. */
function clusterSlots(view: RoutingView): Reply {
  const items: Reply[] = [];
  for (const shard of view.shards) {
    const { leader, followers } = rangeMembers(view, shard);
    const members = leader === undefined ? followers : [leader, ...followers];
    if (members.length === 0) continue;
    items.push(array([int(shard.start), int(shard.end - 1), ...members.map(nodeEntry)]));
  }
  return array(items);
}

function shardNode(node: RoutingNode, role: 'master' | 'replica'): Reply {
  return map([
    [bulk('id'), bulk(node.clusterId)],
    [bulk('port'), int(node.port)],
    [bulk('ip'), bulk(node.host)],
    [bulk('endpoint'), bulk(node.host)],
    [bulk('role'), bulk(role)],
    [bulk('replication-offset'), int(0)],
    [bulk('health'), bulk('online')],
  ]);
}

/**
 * CLUSTER SHARDS: one entry per cleave shard, with its slot range, its leader as master and its followers;
 * the target of a split under way is listed with no slots, as Redis lists a shard without slots.
 */
function clusterShards(view: RoutingView): Reply {
  return array(
    [...view.shards, ...view.splitTargets].map((shard) => {
      const { leader, followers } = rangeMembers(view, shard);
      const nodes = [...(leader === undefined ? [] : [shardNode(leader, 'master')]), ...followers.map((n) => shardNode(n, 'replica'))];
      return map([
        [bulk('slots'), array(shard.end > shard.start ? [int(shard.start), int(shard.end - 1)] : [])],
        [bulk('nodes'), array(nodes)],
      ]);
    }),
  );
}

/** Slot ranges a node leads (or stands in for), adjacent shards joined, in Redis's "a-b" / "a" notation. */
function slotRanges(shards: readonly RoutingShard[], nodeId: string): string[] {
  const ranges: [number, number][] = [];
  for (const shard of shards) {
    if (actingLeader(shard) !== nodeId) continue;
    const last = ranges[ranges.length - 1];
    if (last !== undefined && last[1] === shard.start - 1) last[1] = shard.end - 1;
    else ranges.push([shard.start, shard.end - 1]);
  }
  return ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
}

/** One line of CLUSTER NODES: id, address, flags, master id ("-" for a master), pings, epoch, link, slots. */
function nodeLine(ctx: NodeContext, view: RoutingView, node: RoutingNode, role: 'master' | 'slave', masterId: string, slots: readonly string[], nowMs: number): string {
  const flags = node.id === ctx.selfId ? `myself,${role}` : role;
  return `${node.clusterId} ${node.host}:${node.port}@${node.busPort} ${flags} ${masterId} 0 ${nowMs} ${view.version} connected${slots.length > 0 ? ` ${slots.join(' ')}` : ''}`;
}

/**
 * CLUSTER NODES: Redis's line format, one line per node. Every node is a master: a cleave node leads some
 * shards and follows others, which the format cannot say, so each lists the slot ranges it leads.
 */
function clusterNodes(ctx: NodeContext, view: RoutingView, nowMs: number): string {
  let out = '';
  for (const node of view.nodes) out += `${nodeLine(ctx, view, node, 'master', '-', slotRanges(view.shards, node.id), nowMs)}\n`;
  return out;
}

/**
 * CLUSTER REPLICAS (and SLAVES) <node-id>: the nodes holding a follower replica of a shard the given node
 * leads, as CLUSTER NODES lines that name it as their master.
 */
function clusterReplicas(ctx: NodeContext, view: RoutingView, clusterId: string, nowMs: number): Reply {
  const master = view.nodes.find((n) => n.clusterId === clusterId);
  if (master === undefined) return error(`ERR Unknown node ${clusterId}`);
  const followerIds = new Set<string>();
  for (const shard of view.shards) {
    if (actingLeader(shard) !== master.id) continue;
    for (const id of shard.replicas) if (id !== master.id) followerIds.add(id);
  }
  const lines = view.nodes.filter((n) => followerIds.has(n.id)).map((n) => nodeLine(ctx, view, n, 'slave', master.clusterId, [], nowMs));
  return bulkArray(lines);
}

function clusterInfo(view: RoutingView): string {
  const served = view.allSlotsServed();
  let assigned = 0;
  for (const shard of view.shards) assigned += shard.end - shard.start;
  const masters = new Set(view.shards.map((s) => s.leader).filter((l) => l !== null)).size;
  const fields: [string, string | number][] = [
    ['cluster_state', served ? 'ok' : 'fail'],
    ['cluster_slots_assigned', assigned],
    ['cluster_slots_ok', served ? assigned : 0],
    ['cluster_slots_pfail', 0],
    ['cluster_slots_fail', served ? 0 : SLOT_COUNT - assigned],
    ['cluster_known_nodes', view.nodes.length],
    ['cluster_size', masters],
    ['cluster_current_epoch', view.version],
    ['cluster_my_epoch', view.version],
    ['cluster_stats_messages_sent', 0],
    ['cluster_stats_messages_received', 0],
    ['total_cluster_links_buffer_limit_exceeded', 0],
  ];
  return fields.map(([k, v]) => `${k}:${v}\r\n`).join('');
}

async function countKeysInSlot(ctx: NodeContext, slot: number): Promise<Reply> {
  const shard = ctx.routing().shardOfSlot(slot);
  const replica = ctx.ledReplicas().find((r) => r.id === shard?.id);
  if (replica === undefined) return int(0);
  await ctx.settled();
  return int(replica.data.countInSlot(slot));
}

async function getKeysInSlot(ctx: NodeContext, slot: number, count: number): Promise<Reply> {
  const shard = ctx.routing().shardOfSlot(slot);
  const replica = ctx.ledReplicas().find((r) => r.id === shard?.id);
  if (replica === undefined) return array([]);
  await ctx.settled();
  return bulkArray(replica.data.keysInSlot(slot, count));
}

/** GETKEYSINSLOT's count is capped so one call cannot build an unbounded reply. */
const GETKEYSINSLOT_COUNT_MAX = 1_000_000;

const clusterCommand: ServerHandler = (ctx, _conn, argv) => {
  const sub = argv[1]!.toString().toLowerCase();
  const view = ctx.routing();
  const wrongArgs = error(`ERR unknown subcommand or wrong number of arguments for '${argv[1]!.toString()}'. Try CLUSTER HELP.`);
  switch (sub) {
    case 'slots':
      return argv.length === 2 ? clusterSlots(view) : wrongArgs;
    case 'shards':
      return argv.length === 2 ? clusterShards(view) : wrongArgs;
    case 'nodes':
      return argv.length === 2 ? { kind: 'verbatim', format: 'txt', text: clusterNodes(ctx, view, Date.now()) } : wrongArgs;
    case 'replicas':
    case 'slaves':
      return argv.length === 3 ? clusterReplicas(ctx, view, argv[2]!.toString(), Date.now()) : wrongArgs;
    case 'info':
      return argv.length === 2 ? { kind: 'verbatim', format: 'txt', text: clusterInfo(view) } : wrongArgs;
    case 'myid':
      return argv.length === 2 ? bulk(ctx.clusterId()) : wrongArgs;
    case 'keyslot':
      return argv.length === 3 ? int(keyHashSlot(argv[2]!)) : wrongArgs;
    case 'countkeysinslot': {
      if (argv.length !== 3) return wrongArgs;
      const slot = parseSlot(argv[2]!);
      return slot === undefined ? INVALID_SLOT : countKeysInSlot(ctx, slot);
    }
    case 'getkeysinslot': {
      if (argv.length !== 4) return wrongArgs;
      const slot = parseSlot(argv[2]!);
      const countText = argv[3]!.toString();
      if (slot === undefined || !/^\d+$/.test(countText)) return error('ERR Invalid slot or number of keys');
      return getKeysInSlot(ctx, slot, Math.min(Number(countText), GETKEYSINSLOT_COUNT_MAX));
    }
    case 'help':
      return array(
        [
          'CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
          'SLOTS',
          'SHARDS',
          'NODES',
          'REPLICAS <node-id>',
          'INFO',
          'MYID',
          'KEYSLOT <key>',
          'COUNTKEYSINSLOT <slot>',
          'GETKEYSINSLOT <slot> <count>',
        ].map((l) => simple(l)),
      );
    default:
      return error(`ERR unknown subcommand '${argv[1]!.toString()}'. Try CLUSTER HELP.`);
  }
};

export const CLUSTER_COMMANDS: ReadonlyMap<string, ServerHandler> = new Map([['cluster', clusterCommand]]);

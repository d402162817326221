/**
 * CLUSTER subcommands, answered from the routing table as Redis Cluster would: a shard's leader is a
 * master, its other replicas are replicas, and a node's slots are those of the shards it leads.
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

/** CLUSTER SLOTS: [start, end (inclusive), master, replicas...] per shard with a known leader. */
function clusterSlots(view: RoutingView): Reply {
  const items: Reply[] = [];
  for (const shard of view.shards) {
    const leader = shard.leader === null ? undefined : view.node(shard.leader);
    if (leader === undefined) continue;
    const followers = shard.replicas.filter((id) => id !== shard.leader).map((id) => view.node(id)).filter((n) => n !== undefined);
    items.push(array([int(shard.start), int(shard.end - 1), nodeEntry(leader), ...followers.map(nodeEntry)]));
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

/** CLUSTER SHARDS: one entry per cleave shard, with its slot range and replicas. */
function clusterShards(view: RoutingView): Reply {
  return array(
    view.shards.map((shard) => {
      const nodes: Reply[] = [];
      for (const id of shard.replicas) {
        const node = view.node(id);
        if (node !== undefined) nodes.push(shardNode(node, id === shard.leader ? 'master' : 'replica'));
      }
      return map([
        [bulk('slots'), array([int(shard.start), int(shard.end - 1)])],
        [bulk('nodes'), array(nodes)],
      ]);
    }),
  );
}

/** Slot ranges led by a node, adjacent shards joined, in Redis's "a-b" / "a" notation. */
function slotRanges(shards: readonly RoutingShard[], nodeId: string): string[] {
  const ranges: [number, number][] = [];
  for (const shard of shards) {
    if (shard.leader !== nodeId) continue;
    const last = ranges[ranges.length - 1];
    if (last !== undefined && last[1] === shard.start - 1) last[1] = shard.end - 1;
    else ranges.push([shard.start, shard.end - 1]);
  }
  return ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
}

/** CLUSTER NODES: Redis's line format, one line per node. */
function clusterNodes(ctx: NodeContext, view: RoutingView, nowMs: number): string {
  let out = '';
  for (const node of view.nodes) {
    const flags = node.id === ctx.selfId ? 'myself,master' : 'master';
    const slots = slotRanges(view.shards, node.id);
    out += `${node.clusterId} ${node.host}:${node.port}@${node.busPort} ${flags} - 0 ${nowMs} ${view.version} connected${slots.length > 0 ? ' ' + slots.join(' ') : ''}\n`;
  }
  return out;
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
  await replica.data.flushed();
  return int(replica.data.countInSlot(slot));
}

async function getKeysInSlot(ctx: NodeContext, slot: number, count: number): Promise<Reply> {
  const shard = ctx.routing().shardOfSlot(slot);
  const replica = ctx.ledReplicas().find((r) => r.id === shard?.id);
  if (replica === undefined) return array([]);
  await replica.data.flushed();
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
        ['CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:', 'SLOTS', 'SHARDS', 'NODES', 'INFO', 'MYID', 'KEYSLOT <key>', 'COUNTKEYSINSLOT <slot>', 'GETKEYSINSLOT <slot> <count>'].map((l) => simple(l)),
      );
    default:
      return error(`ERR unknown subcommand '${argv[1]!.toString()}'. Try CLUSTER HELP.`);
  }
};

export const CLUSTER_COMMANDS: ReadonlyMap<string, ServerHandler> = new Map([['cluster', clusterCommand]]);

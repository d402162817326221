/**
 * Commands over all keys a node serves: DBSIZE, SCAN, KEYS, RANDOMKEY, FLUSHALL, FLUSHDB. As in Redis
 * Cluster they cover only this node's keys: the shards it leads.
 */
import { array, bulk, bulkArray, error, int, NULL, OK, type Reply } from '../resp/reply.js';
import { globMatch, isExpired } from '../commands/table.js';
import type { ShardReplica } from '../shard/shard-replica.js';
import type { ServerHandler } from './node-context.js';

/** SCAN's COUNT is a hint; past this it is capped so one call stays short. */
const SCAN_COUNT_MAX = 100_000;
/** How many in-progress SCAN positions a node remembers; the oldest is forgotten first. */
const SCAN_CURSORS_MAX = 10_000;
const SLOT_SHIFT = 2 ** 32;

/**
 * SCAN cursors are integers as clients expect: slot × 2^32 + a sequence number naming the last key
 * returned in that slot. A forgotten sequence number restarts its slot, which may repeat keys but never
 * skips one: the guarantee SCAN gives.
 */
class ScanCursors {
  private readonly lastKeys = new Map<number, Buffer>();
  private sequence = 0;

  save(slot: number, lastKey: Buffer): string {
    this.sequence = (this.sequence % (SLOT_SHIFT - 1)) + 1;
    this.lastKeys.set(this.sequence, lastKey);
    if (this.lastKeys.size > SCAN_CURSORS_MAX) this.lastKeys.delete(this.lastKeys.keys().next().value!);
    return String(slot * SLOT_SHIFT + this.sequence);
  }

  load(cursor: number): { slot: number; after: Buffer | undefined } {
    const slot = Math.floor(cursor / SLOT_SHIFT);
    return { slot, after: this.lastKeys.get(cursor % SLOT_SHIFT) };
  }
}

const cursors = new ScanCursors();

interface ScanOptions {
  match: Buffer | undefined;
  count: number;
  type: string | undefined;
}

function parseScanOptions(argv: readonly Buffer[], from: number): ScanOptions | Reply {
  const options: ScanOptions = { match: undefined, count: 10, type: undefined };
  for (let i = from; i < argv.length; i++) {
    const opt = argv[i]!.toString().toLowerCase();
    if (i + 1 >= argv.length) return error('ERR syntax error');
    const value = argv[++i]!;
    if (opt === 'match') options.match = value;
    else if (opt === 'type') options.type = value.toString().toLowerCase();
    else if (opt === 'count') {
      const text = value.toString();
      if (!/^-?\d+$/.test(text)) return error('ERR value is not an integer or out of range');
      const count = Number(text);
      if (count < 1) return error('ERR syntax error');
      options.count = Math.min(count, SCAN_COUNT_MAX);
    } else return error('ERR syntax error');
  }
  return options;
}

/** Whether `key` is listed; `localMs` is this node's time, which the replica's clock may be ahead of. */
function keyMatches(replica: ShardReplica, key: Buffer, options: ScanOptions, localMs: number): boolean {
  if (options.match !== undefined && !globMatch(options.match, key)) return false;
  const value = replica.data.get(key);
  if (value === undefined || isExpired(value, replica.readNowMs(localMs))) return false;
  return options.type === undefined || value.type === options.type;
}

const scan: ServerHandler = async (ctx, _conn, argv) => {
  const cursorText = argv[1]!.toString();
  if (!/^\d+$/.test(cursorText) || !Number.isSafeInteger(Number(cursorText))) return error('ERR invalid cursor');
  const options = parseScanOptions(argv, 2);
  if ('kind' in options) return options;
  const position = cursors.load(Number(cursorText));
  const replicas = ctx.ledReplicas();
  const shards = ctx.routing().ledShards();
  await ctx.settled();
  const nowMs = Date.now();
  const keys: Buffer[] = [];
  for (const shard of shards) {
    if (shard.end <= position.slot) continue;
    const replica = replicas.find((r) => r.id === shard.id);
    if (replica === undefined) continue;
    const fromSlot = Math.max(shard.start, position.slot);
    const after = fromSlot === position.slot ? position.after : undefined;
    const found = replica.data.scan(fromSlot, shard.end, after, options.count);
    for (const { key } of found) if (keyMatches(replica, key, options, nowMs)) keys.push(key);
    if (found.length === options.count) {
      const last = found[found.length - 1]!;
      return array([bulk(cursors.save(last.slot, last.key)), bulkArray(keys)]);
    }
    position.slot = shard.end;
    position.after = undefined;
  }
  return array([bulk('0'), bulkArray(keys)]);
};

/** Page size of the internal scans behind KEYS and RANDOMKEY. */
const SCAN_PAGE_KEYS = 1000;

const keys: ServerHandler = async (ctx, _conn, argv) => {
  const options: ScanOptions = { match: argv[1]!, count: SCAN_PAGE_KEYS, type: undefined };
  const replicas = ctx.ledReplicas();
  await ctx.settled();
  const nowMs = Date.now();
  const result: Buffer[] = [];
  for (const replica of replicas) {
    const shard = ctx.routing().shards.find((s) => s.id === replica.id);
    if (shard === undefined) continue;
    let after: { slot: number; key: Buffer } | undefined;
    for (;;) {
      const page = replica.data.scan(after?.slot ?? shard.start, shard.end, after?.key, SCAN_PAGE_KEYS);
      for (const { key } of page) if (keyMatches(replica, key, options, nowMs)) result.push(key);
      if (page.length < SCAN_PAGE_KEYS) break;
      after = page[page.length - 1];
    }
  }
  return bulkArray(result);
};

const randomKey: ServerHandler = async (ctx) => {
  const replicas = ctx.ledReplicas().filter((r) => r.data.keyCount > 0);
  await ctx.settled();
  const nowMs = Date.now();
  const options: ScanOptions = { match: undefined, count: 1, type: undefined };
  // A few tries: a random slot's first key at or after it, wrapping to the shard's start.
  for (let attempt = 0; attempt < 16 && replicas.length > 0; attempt++) {
    const replica = replicas[Math.floor(Math.random() * replicas.length)]!;
    const shard = ctx.routing().shards.find((s) => s.id === replica.id);
    if (shard === undefined) continue;
    const slot = shard.start + Math.floor(Math.random() * (shard.end - shard.start));
    const found = replica.data.scan(slot, shard.end, undefined, 1)[0] ?? replica.data.scan(shard.start, shard.end, undefined, 1)[0];
    if (found !== undefined && keyMatches(replica, found.key, options, nowMs)) return bulk(found.key);
  }
  return NULL;
};

const dbsize: ServerHandler = (ctx) => int(ctx.ledReplicas().reduce((n, r) => n + r.data.keyCount, 0));

const FLUSH_SWITCHING = error('TRYAGAIN a shard led here is switching over in a split; retry shortly');

const flush: ServerHandler = async (ctx, _conn, argv) => {
  if (argv.length > 2) return error('ERR syntax error');
  const mode = argv[1]?.toString().toLowerCase();
  if (mode !== undefined && mode !== 'sync' && mode !== 'async') return error('ERR syntax error');
  return (await ctx.flushLed()) === 'switching' ? FLUSH_SWITCHING : OK;
};

/** Keyspace-wide server commands by lower-case name. */
export const KEYSPACE_COMMANDS: ReadonlyMap<string, ServerHandler> = new Map<string, ServerHandler>([
  ['dbsize', dbsize],
  ['scan', scan],
  ['keys', keys],
  ['randomkey', randomKey],
  ['flushall', flush],
  ['flushdb', flush],
]);

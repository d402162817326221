/**
 * An in-memory ShardData for unit tests: a Map from key bytes to value, with scans in (slot, key bytes)
 * order like the LMDB store. Writes are pending until `commit()`, so tests can observe `isPending`; the
 * scan-style reads see every write (tests have no durability lag to model).
 */
import assert from 'node:assert/strict';
import { keyHashSlot } from '../../src/common/slots.js';
import { resolveCommand } from '../../src/commands/table.js';
import type { Reply } from '../../src/resp/reply.js';
import { decodeSlotKey, encodeSlotKey } from '../../src/storage/key-encoding.js';
import type { ScannedKey, ShardData, ShardSnapshotChunk, ShardSnapshotReader, SlotBounds, StoredValue } from '../../src/storage/types.js';
import { decodeValue, encodeValue } from '../../src/storage/value-encoding.js';

interface Entry {
  readonly key: Buffer;
  readonly slot: number;
  readonly value: StoredValue;
}

export class MemoryShardData implements ShardData {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Set<string>();
  private bytes = 0;
  meta: Uint8Array | undefined;
  clockMs = 0;

  constructor(readonly shardId = 'shard-test') {}

  setMeta(meta: Uint8Array | undefined): void {
    this.meta = meta;
  }

  setClockMs(clockMs: number): void {
    this.clockMs = clockMs;
  }

  get keyCount(): number {
    return this.entries.size;
  }

  get byteCount(): number {
    return this.bytes;
  }

  get(key: Buffer): StoredValue | undefined {
    return this.entries.get(key.toString('latin1'))?.value;
  }

  isPending(key: Buffer): boolean {
    return this.pending.has(key.toString('latin1'));
  }

  put(key: Buffer, value: StoredValue): void {
    const id = key.toString('latin1');
    this.removeBytes(id);
    const entry: Entry = { key: Buffer.from(key), slot: keyHashSlot(key), value };
    this.entries.set(id, entry);
    this.bytes += entrySize(entry);
    this.pending.add(id);
  }

  delete(key: Buffer): boolean {
    const id = key.toString('latin1');
    if (!this.entries.has(id)) return false;
    this.removeBytes(id);
    this.entries.delete(id);
    this.pending.add(id);
    return true;
  }

  clear(): void {
    for (const id of this.entries.keys()) this.pending.add(id);
    this.entries.clear();
    this.bytes = 0;
  }

  commit(): Promise<void> {
    this.pending.clear();
    return Promise.resolve();
  }

  flushed(): Promise<void> {
    return this.commit();
  }

  /** A copy of every entry (of the range), encoded as LMDB stores them, taken now. */
  openSnapshot(range?: SlotBounds): ShardSnapshotReader {
    const encoded = this.sorted()
      .filter((e) => range === undefined || (e.slot >= range.fromSlot && e.slot < range.endSlot))
      .map((e) => [encodeSlotKey(e.slot, e.key), encodeValue(e.value)] as const);
    const meta = range === undefined ? { meta: this.meta ?? null, clockMs: this.clockMs } : {};
    return {
      chunk: (cursor, maxBytes): ShardSnapshotChunk => {
        const start = cursor === null ? 0 : encoded.findIndex(([key]) => Buffer.compare(key, cursor) > 0);
        const entries: Buffer[] = [];
        const first = cursor === null ? meta : {};
        let bytes = 0;
        for (let i = start === -1 ? encoded.length : start; i < encoded.length; i++) {
          const [key, value] = encoded[i]!;
          entries.push(key, value);
          bytes += key.length + value.length;
          if (bytes >= maxBytes && i + 1 < encoded.length) return { entries, next: key, ...first };
        }
        return { entries, next: null, ...first };
      },
      close: () => undefined,
    };
  }

  restoreChunk(chunk: ShardSnapshotChunk): void {
    if (chunk.meta !== undefined) {
      this.meta = chunk.meta ?? undefined;
      this.clockMs = chunk.clockMs ?? 0;
    }
    for (let i = 0; i + 1 < chunk.entries.length; i += 2) {
      this.put(decodeSlotKey(Buffer.from(chunk.entries[i]!)).key, decodeValue(chunk.entries[i + 1]!));
    }
  }

  scan(fromSlot: number, endSlot: number, after: Buffer | undefined, limit: number): ScannedKey[] {
    const afterSlot = after === undefined ? -1 : keyHashSlot(after);
    return this.sorted()
      .filter((e) => e.slot >= fromSlot && e.slot < endSlot)
      .filter((e) => after === undefined || compareEntry(e, afterSlot, after) > 0)
      .slice(0, limit)
      .map((e) => ({ slot: e.slot, key: e.key }));
  }

  countInSlot(slot: number): number {
    let count = 0;
    for (const e of this.entries.values()) if (e.slot === slot) count++;
    return count;
  }

  keysInSlot(slot: number, limit: number): Buffer[] {
    return this.sorted()
      .filter((e) => e.slot === slot)
      .slice(0, limit)
      .map((e) => e.key);
  }

  scanExpiring(after: ScannedKey | undefined, limit: number): { slot: number; key: Buffer; expireAtMs: number }[] {
    return this.sorted()
      .filter((e) => e.value.expireAtMs !== 0)
      .filter((e) => after === undefined || compareEntry(e, after.slot, after.key) > 0)
      .slice(0, limit)
      .map((e) => ({ slot: e.slot, key: e.key, expireAtMs: e.value.expireAtMs }));
  }

  private sorted(): Entry[] {
    return [...this.entries.values()].sort((a, b) => compareEntry(a, b.slot, b.key));
  }

  private removeBytes(id: string): void {
    const old = this.entries.get(id);
    if (old !== undefined) this.bytes -= entrySize(old);
  }
}

function compareEntry(entry: Entry, slot: number, key: Buffer): number {
  return entry.slot !== slot ? entry.slot - slot : Buffer.compare(entry.key, key);
}

function entrySize(entry: Entry): number {
  if (entry.value.type === 'string') return entry.key.length + entry.value.value.length;
  let size = entry.key.length;
  for (const [field, value] of entry.value.fields) size += field.length + value.length;
  return size;
}

/** A step of a command script: the arguments (a string is split on spaces), the reply, and optionally the time. */
export type CommandStep = readonly [argv: string | readonly (string | Buffer)[], expected: Reply, nowMs?: number];

export interface RunOptions {
  readonly nowMs?: number;
  readonly random?: () => number;
  readonly protocol?: 2 | 3;
}

/** The time tests run at unless a step says otherwise: a fixed instant, never the wall clock. */
export const TEST_NOW_MS = 1_700_000_000_000;

/**
 * Runs one request as the dispatcher would: resolve (unknown command, subcommand, arity errors), then
 * apply on `data`. Strings become bytes as UTF-8, so tests pass binary arguments as Buffers.
 */
export function runCommand(data: ShardData, argv: readonly (string | Buffer)[], options: RunOptions = {}): Reply {
  const args = argv.map((a) => (typeof a === 'string' ? Buffer.from(a) : a));
  const resolved = resolveCommand(args);
  if ('error' in resolved) return resolved.error;
  const apply = resolved.spec.apply;
  if (apply === undefined) throw new Error(`${resolved.spec.name} is a server command`);
  return apply({ data, nowMs: options.nowMs ?? TEST_NOW_MS, random: options.random ?? (() => 0), protocol: options.protocol ?? 2 }, args);
}

/**
 * Runs a script of steps on one fresh (or given) shard and asserts each reply deep-equals the expected
 * one; bulk strings compare by bytes whether given as string or Buffer.
 */
export function runSteps(steps: readonly CommandStep[], options: RunOptions & { readonly data?: ShardData } = {}): ShardData {
  const data = options.data ?? new MemoryShardData();
  for (const [argv, expected, nowMs] of steps) {
    const args = typeof argv === 'string' ? argv.split(' ') : argv;
    const reply = runCommand(data, args, { ...options, nowMs: nowMs ?? options.nowMs ?? TEST_NOW_MS });
    assert.deepStrictEqual(normalize(reply), normalize(expected), `${describe(args)} at ${nowMs ?? options.nowMs ?? TEST_NOW_MS}`);
  }
  return data;
}

/** The reply with every bulk as a Buffer and every integer as a bigint, so equal bytes compare equal. */
export function normalize(reply: Reply): unknown {
  switch (reply.kind) {
    case 'bulk':
      return { kind: 'bulk', value: Buffer.from(reply.value) };
    case 'int':
      return { kind: 'int', value: BigInt(reply.value) };
    case 'array':
    case 'set':
      return { kind: reply.kind, items: reply.items.map(normalize) };
    case 'map':
      return { kind: 'map', entries: reply.entries.map(([k, v]) => [normalize(k), normalize(v)]) };
    default:
      return reply;
  }
}

function describe(args: readonly (string | Buffer)[]): string {
  return args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a.toString('latin1')))).join(' ');
}

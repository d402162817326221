/**
 * What a shard's Raft log carries: key commands with the time the leader gave them, the leader's expiry
 * deletes, FLUSHALL, and the entries of a split (docs/SPLIT.md). Time is part of the entry because apply
 * must not read a clock: every replica judges expiry against the same `nowMs`, so they stay identical.
 */
import { Packr } from 'msgpackr';

/** A forwarded source entry: its index in the source's log and its data (a key command, expiry or flush). */
export interface ForwardedEntry {
  readonly index: number;
  readonly data: Uint8Array;
}

export type ShardCommand =
  /** A key command as the client sent it. */
  | { readonly kind: 'command'; readonly nowMs: number; readonly argv: readonly Uint8Array[] }
  /** Keys the leader found expired at `nowMs`; each is deleted if it is still expired then. */
  | { readonly kind: 'expire'; readonly nowMs: number; readonly keys: readonly Uint8Array[] }
  /** Deletes every key of the shard. */
  | { readonly kind: 'flush'; readonly nowMs: number }
  // On the source shard of a split:
  | { readonly kind: 'split-begin'; readonly taskId: string; readonly start: number; readonly splitSlot: number; readonly end: number; readonly target: string }
  | { readonly kind: 'split-commit'; readonly taskId: string }
  | { readonly kind: 'split-abort'; readonly taskId: string; readonly reason: string }
  /** Deletes these keys of the moved range (the leader lists them, so every replica deletes the same); none left: the split is over. */
  | { readonly kind: 'split-cleanup'; readonly taskId: string; readonly keys: readonly Uint8Array[] }
  // On the target shard:
  /**
   * Starts snapshot `attempt` of the task, taken at `snapshotIndex`. Attempts are numbered from 1 so a
   * stale or duplicated reset is told from a restart; 0 is an entry written before they were numbered.
   * `sourceClockMs`: the source's clock at `snapshotIndex` (0 in entries written before it was sent).
   */
  | {
      readonly kind: 'split-reset';
      readonly taskId: string;
      readonly source: string;
      readonly splitSlot: number;
      readonly end: number;
      readonly snapshotIndex: number;
      readonly attempt: number;
      readonly sourceClockMs: number;
    }
  | {
      readonly kind: 'split-ingest';
      readonly taskId: string;
      readonly snapshotIndex: number;
      readonly attempt: number;
      readonly cursor: Uint8Array | null;
      readonly entries: readonly Uint8Array[];
      readonly next: Uint8Array | null;
    }
  /** Source entries (their moving part) up to `throughIndex`; entries between that touch nothing that moves are not sent. */
  | { readonly kind: 'split-forward'; readonly taskId: string; readonly entries: readonly ForwardedEntry[]; readonly throughIndex: number }
  /**
   * The last entries through `finalIndex` (the source's split-commit) travel with the handoff, saving a
   * round while writes are held: the target must hold everything through `fromIndex` already.
   * `sourceClockMs`: the source's clock when it sent the handoff, past `finalIndex` (0 in entries written before it was sent).
   */
  | {
      readonly kind: 'split-handoff';
      readonly taskId: string;
      readonly finalIndex: number;
      readonly fromIndex: number;
      readonly entries: readonly ForwardedEntry[];
      readonly sourceClockMs: number;
    };

export type SplitCommand = Extract<ShardCommand, { taskId: string }>;

// Arrays, not records: every entry must decode on its own, on any replica, in any later version.
const packr = new Packr({ useRecords: false });
/** Position = the code on disk: append only. */
const KIND_CODES = [
  'command',
  'expire',
  'flush',
  'split-begin',
  'split-commit',
  'split-abort',
  'split-cleanup',
  'split-reset',
  'split-ingest',
  'split-forward',
  'split-handoff',
] as const;

/**
 * First byte of a key command or expiry in the byte-list layout: a byte MessagePack never writes, so
 * it tells this layout from the MessagePack entries older logs hold. The layout: this byte, the kind's
 * code (u8), nowMs (float64), the count (u32), then each argument as its length (u32) and bytes. A
 * million-argument DEL took 0.5 s to pack and as long to unpack as MessagePack; this is a copy each way.
 */
const BYTE_LIST_TAG = 0xc1;
const BYTE_LIST_HEADER_BYTES = 1 + 1 + 8 + 4;

export function encodeShardCommand(command: ShardCommand): Uint8Array {
  const code = KIND_CODES.indexOf(command.kind);
  switch (command.kind) {
    case 'command':
      return encodeByteList(code, command.nowMs, command.argv);
    case 'expire':
      return encodeByteList(code, command.nowMs, command.keys);
    case 'flush':
      return packr.pack([code, command.nowMs]);
    case 'split-begin':
      return packr.pack([code, command.taskId, command.start, command.splitSlot, command.end, command.target]);
    case 'split-commit':
      return packr.pack([code, command.taskId]);
    case 'split-abort':
      return packr.pack([code, command.taskId, command.reason]);
    case 'split-cleanup':
      return packr.pack([code, command.taskId, command.keys]);
    case 'split-reset':
      return packr.pack([code, command.taskId, command.source, command.splitSlot, command.end, command.snapshotIndex, command.attempt, command.sourceClockMs]);
    case 'split-ingest':
      return packr.pack([code, command.taskId, command.snapshotIndex, command.cursor, command.entries, command.next, command.attempt]);
    case 'split-forward':
      return packr.pack([code, command.taskId, flatEntries(command.entries), command.throughIndex]);
    case 'split-handoff':
      return packr.pack([code, command.taskId, command.finalIndex, command.fromIndex, flatEntries(command.entries), command.sourceClockMs]);
  }
}

function encodeByteList(code: number, nowMs: number, items: readonly Uint8Array[]): Uint8Array {
  let bytes = BYTE_LIST_HEADER_BYTES;
  for (const item of items) bytes += 4 + item.length;
  const out = Buffer.allocUnsafe(bytes);
  out[0] = BYTE_LIST_TAG;
  out[1] = code;
  out.writeDoubleBE(nowMs, 2);
  out.writeUInt32BE(items.length, 10);
  let at = BYTE_LIST_HEADER_BYTES;
  for (const item of items) {
    out.writeUInt32BE(item.length, at);
    out.set(item, at + 4);
    at += 4 + item.length;
  }
  return out;
}

/** The byte list's items as Buffers sharing `data`'s memory. Throws on a list its length does not hold. */
function decodeByteList(data: Uint8Array): { code: number; nowMs: number; items: Buffer[] } {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.length < BYTE_LIST_HEADER_BYTES) throw new Error(`shard command of ${bytes.length} bytes is shorter than its header`);
  const count = bytes.readUInt32BE(10);
  const items: Buffer[] = new Array<Buffer>(count);
  let at = BYTE_LIST_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) throw new Error(`shard command ends inside item ${i} of ${count}`);
    const length = bytes.readUInt32BE(at);
    if (at + 4 + length > bytes.length) throw new Error(`shard command ends inside item ${i} of ${count}`);
    items[i] = bytes.subarray(at + 4, at + 4 + length);
    at += 4 + length;
  }
  return { code: bytes[1]!, nowMs: bytes.readDoubleBE(2), items };
}

/** Forwarded entries as one flat array `[index, data, index, data, ...]` (smaller than objects). */
function flatEntries(entries: readonly ForwardedEntry[]): (number | Uint8Array)[] {
  return entries.flatMap((e) => [e.index, e.data]);
}

function unflatEntries(field: unknown): ForwardedEntry[] {
  const flat = (field ?? []) as (number | Uint8Array)[];
  const entries: ForwardedEntry[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) entries.push({ index: flat[i] as number, data: flat[i + 1] as Uint8Array });
  return entries;
}

export function decodeShardCommand(data: Uint8Array): ShardCommand {
  if (data[0] === BYTE_LIST_TAG) {
    const { code, nowMs, items } = decodeByteList(data);
    const kind = KIND_CODES[code];
    if (kind === 'command') return { kind, nowMs, argv: items };
    if (kind === 'expire') return { kind, nowMs, keys: items };
    throw new Error(`shard command code ${code} has no byte-list layout`);
  }
  const fields = packr.unpack(data) as unknown[];
  const kind = KIND_CODES[fields[0] as number];
  // Each kind's fields by position, as encodeShardCommand wrote them.
  // biome-ignore lint/suspicious/noExplicitAny: entries come from the shard's own log, laid out by encodeShardCommand
  const f = fields as [number, ...any[]];
  switch (kind) {
    case 'command':
      return { kind, nowMs: f[1], argv: f[2] ?? [] };
    case 'expire':
      return { kind, nowMs: f[1], keys: f[2] ?? [] };
    case 'flush':
      return { kind, nowMs: f[1] };
    case 'split-begin':
      return { kind, taskId: f[1], start: f[2], splitSlot: f[3], end: f[4], target: f[5] };
    case 'split-commit':
      return { kind, taskId: f[1] };
    case 'split-abort':
      return { kind, taskId: f[1], reason: f[2] };
    case 'split-cleanup':
      return { kind, taskId: f[1], keys: f[2] ?? [] };
    case 'split-reset':
      return { kind, taskId: f[1], source: f[2], splitSlot: f[3], end: f[4], snapshotIndex: f[5], attempt: f[6] ?? 0, sourceClockMs: f[7] ?? 0 };
    case 'split-ingest':
      return { kind, taskId: f[1], snapshotIndex: f[2], attempt: f[6] ?? 0, cursor: f[3] ?? null, entries: f[4] ?? [], next: f[5] ?? null };
    case 'split-forward': {
      const entries = unflatEntries(f[2]);
      return { kind, taskId: f[1], entries, throughIndex: f[3] ?? entries.at(-1)?.index ?? 0 };
    }
    case 'split-handoff':
      return { kind, taskId: f[1], finalIndex: f[2], fromIndex: f[3] ?? f[2], entries: unflatEntries(f[4]), sourceClockMs: f[5] ?? 0 };
    default:
      throw new Error(`unknown shard command code ${String(fields[0])}`);
  }
}

/**
 * The on-disk form of a Raft group's log: entries keyed by their index as 8 bytes big-endian (so LMDB's
 * byte order is index order and a range of the log is a key range), each value `term (8 bytes BE) ‖
 * type (1 byte) ‖ data`; and the group's record, plain data stored as MessagePack in the node's meta DB.
 */
import { assert } from '../common/errors.js';
import type { Entry, EntryType } from '../raft/log-entry.js';
import type { HardState } from '../raft/hard-state.js';
import type { SnapshotMetadata } from '../raft/snapshot.js';
import { bufferOf } from './lmdb-bytes.js';

/** Bumped when the stored layout changes incompatibly; a log of another format is refused. */
export const RAFT_LOG_FORMAT = 1;

/**
 * What a group keeps beside its entries, written in the same transaction as the entries and the data it
 * describes.
 */
export interface RaftGroupRecord {
  readonly format: number;
  readonly hardState: HardState;
  /**
   * The log before `truncated.index + 1` is gone (compacted, or replaced by a snapshot): its last index,
   * that entry's term (for log matching at the boundary), and the membership as of that index.
   */
  readonly truncated: SnapshotMetadata;
  /** The last index whose effects the node's state machine data holds. */
  readonly applied: number;
}

const U32 = 2 ** 32;
const VALUE_HEADER_BYTES = 8 + 1;
const TYPE_CODES: readonly EntryType[] = ['normal', 'confChange'];

/** Writes a safe non-negative integer as 8 bytes big-endian (Buffer has no exact 64-bit integer writer for numbers). */
function writeUint64(out: Buffer, value: number, offset: number): void {
  out.writeUInt32BE(Math.floor(value / U32), offset);
  out.writeUInt32BE(value % U32, offset + 4);
}

function readUint64(bytes: Buffer, offset: number): number {
  return bytes.readUInt32BE(offset) * U32 + bytes.readUInt32BE(offset + 4);
}

/** The LMDB key of entry `index`. */
export function encodeIndexKey(index: number): Buffer {
  assert(Number.isSafeInteger(index) && index >= 0, `log index ${index} must be a safe non-negative integer`);
  const key = Buffer.allocUnsafe(8);
  writeUint64(key, index, 0);
  return key;
}

/** The index an LMDB key stands for. */
export function decodeIndexKey(key: Uint8Array): number {
  assert(key.length === 8, `log key of ${key.length} bytes, expected 8`);
  return readUint64(bufferOf(key), 0);
}

/** The LMDB value of an entry (its index is the key). */
export function encodeEntryValue(entry: Entry): Buffer {
  const type = TYPE_CODES.indexOf(entry.type);
  assert(type >= 0, `unknown entry type ${entry.type}`);
  const out = Buffer.allocUnsafe(VALUE_HEADER_BYTES + entry.data.byteLength);
  writeUint64(out, entry.term, 0);
  out[8] = type;
  out.set(entry.data, VALUE_HEADER_BYTES);
  return out;
}

/** Decodes a value written by `encodeEntryValue`; `stored` must be memory of its own (data is a view into it). */
export function decodeEntryValue(index: number, stored: Uint8Array): Entry {
  const value = bufferOf(stored);
  assert(value.length >= VALUE_HEADER_BYTES, `log entry ${index} is too short (${value.length} bytes)`);
  const type = TYPE_CODES[value[8]!];
  assert(type !== undefined, `log entry ${index} has unknown type code ${value[8]}`);
  return { index, term: readUint64(value, 0), type, data: value.subarray(VALUE_HEADER_BYTES) };
}

/** The term of entry `index`'s encoded value, without decoding the rest (the hot path of `term()`). */
export function decodeEntryTerm(index: number, stored: Uint8Array): number {
  const value = bufferOf(stored);
  assert(value.length >= VALUE_HEADER_BYTES, `log entry ${index} is too short (${value.length} bytes)`);
  return readUint64(value, 0);
}

/**
 * How a user key is laid out as an LMDB key: `routing prefix ‖ user key bytes`. For the default (hash slot)
 * keyspace the prefix is the key's slot as 2 bytes big-endian, so LMDB's byte order sorts by (slot, key
 * bytes) and every slot range [fromSlot, endSlot) is one contiguous key range (seed 001): a shard
 * snapshot, a split's moving range or CLUSTER GETKEYSINSLOT reads O(M) entries, never the whole shard.
 */
import { SLOT_COUNT, keyHashSlot } from '../common/slots.js';
import { assert } from '../common/errors.js';
import { bufferOf } from './lmdb-bytes.js';

/** Bytes of the slot prefix in front of every user key. */
export const SLOT_PREFIX_BYTES = 2;

/**
 * Largest LMDB key lmdb-js accepts with the default page size (its DEFAULT_MAX_KEY_SIZE); an LMDB key
 * can never be longer than this.
 */
export const LMDB_KEY_BYTES_MAX = 1978;

/** Longest user key storage accepts: the command layer must refuse longer keys before writing. */
export const USER_KEY_BYTES_MAX = LMDB_KEY_BYTES_MAX - SLOT_PREFIX_BYTES;

/** A stored key split back into its slot and user key. */
export interface SlotKey {
  readonly slot: number;
  readonly key: Buffer;
}

/** Half-open LMDB key range [start, end) for a scan. */
export interface KeyRange {
  readonly start: Buffer;
  readonly end: Buffer;
}

/** `slot ‖ key`: the LMDB key of `key` in hash slot `slot`. */
export function encodeSlotKey(slot: number, key: Uint8Array): Buffer {
  assert(Number.isInteger(slot) && slot >= 0 && slot < SLOT_COUNT, `slot ${slot} out of range`);
  const encoded = Buffer.allocUnsafe(SLOT_PREFIX_BYTES + key.length);
  encoded.writeUInt16BE(slot, 0);
  encoded.set(key, SLOT_PREFIX_BYTES);
  return encoded;
}

/** The LMDB key of `key`, routed by its Redis Cluster hash slot. */
export function encodeDataKey(key: Uint8Array): Buffer {
  return encodeSlotKey(keyHashSlot(key), key);
}

/** Splits an LMDB key back into slot and user key. The user key is a view of `stored`, not a copy. */
export function decodeSlotKey(stored: Uint8Array): SlotKey {
  const encoded = bufferOf(stored);
  assert(encoded.length >= SLOT_PREFIX_BYTES, `stored key of ${encoded.length} bytes has no slot prefix`);
  return { slot: encoded.readUInt16BE(0), key: encoded.subarray(SLOT_PREFIX_BYTES) };
}

/** The LMDB key range holding exactly the keys of slots [fromSlot, endSlot). */
export function slotRange(fromSlot: number, endSlot: number): KeyRange {
  assert(
    Number.isInteger(fromSlot) && Number.isInteger(endSlot) && fromSlot >= 0 && fromSlot <= endSlot && endSlot <= SLOT_COUNT,
    `slot range [${fromSlot}, ${endSlot}) is not within [0, ${SLOT_COUNT})`,
  );
  return { start: slotBound(fromSlot), end: slotBound(endSlot) };
}

/** The smallest LMDB key of `slot` (the bare prefix sorts before every `prefix ‖ key`); SLOT_COUNT is allowed as an end bound. */
function slotBound(slot: number): Buffer {
  const bound = Buffer.allocUnsafe(SLOT_PREFIX_BYTES);
  bound.writeUInt16BE(slot, 0);
  return bound;
}

/**
 * Key lookup with expiry, the one place that decides whether a key is alive. A key whose `expireAtMs` is
 * set and not after `nowMs` is absent for every command. Reads never write (a replica or a lease read
 * runs them without a log entry, so they must leave the data untouched); writes delete the stale value
 * first, as Redis's lookupKeyWrite does, so the command then sees a fresh key and the shard's counters
 * drop the dead one.
 */
import type { ApplyContext } from './types.js';
import type { StoredValue } from '../storage/types.js';

/** Whether `value` has expired at `nowMs` (expiry exactly at `nowMs` counts as expired). */
export function isExpired(value: StoredValue, nowMs: number): boolean {
  return value.expireAtMs !== 0 && value.expireAtMs <= nowMs;
}

/** Deletes `key` if it has expired at `ctx.nowMs`; returns whether it did. Used by active expiry. */
export function expireIfDue(ctx: ApplyContext, key: Buffer): boolean {
  const value = ctx.data.get(key);
  if (value === undefined || !isExpired(value, ctx.nowMs)) return false;
  ctx.data.delete(key);
  return true;
}

/** The live value of `key` for a read: undefined when missing or expired. Never modifies the data. */
export function readKey(ctx: ApplyContext, key: Buffer): StoredValue | undefined {
  const value = ctx.data.get(key);
  return value === undefined || isExpired(value, ctx.nowMs) ? undefined : value;
}

/** The live value of `key` for a write: an expired value is deleted first and reported as missing. */
export function writeKey(ctx: ApplyContext, key: Buffer): StoredValue | undefined {
  const value = ctx.data.get(key);
  if (value === undefined) return undefined;
  if (!isExpired(value, ctx.nowMs)) return value;
  ctx.data.delete(key);
  return undefined;
}

/**
 * Stores `value` under `key`, or deletes the key when `value` would already be expired (a SET with a PXAT
 * in the past, an EXPIRE to a past time): a dead value is never written.
 */
export function storeValue(ctx: ApplyContext, key: Buffer, value: StoredValue): void {
  if (isExpired(value, ctx.nowMs)) ctx.data.delete(key);
  else ctx.data.put(key, value);
}

/** Values from this size on are shared with the argument rather than copied. */
export const SHARED_VALUE_BYTES_MIN = 64 * 1024;

/**
 * A string value of `bytes`. Arguments are views of an immutable log entry: a small value is copied so it
 * does not keep the whole entry alive, a large one is shared, since copying 100 MB took 0.6 s of the
 * event loop of every replica applying it.
 */
export function stringValue(bytes: Uint8Array, expireAtMs: number): StoredValue {
  const value = bytes.length >= SHARED_VALUE_BYTES_MIN ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : Buffer.from(bytes);
  return { type: 'string', value, expireAtMs };
}

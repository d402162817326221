/** A shard's ops/s samples over a recent window: which count, whether they cover it, their mean and extremes. Pure. */
import type { OpsSample } from './types.js';

export interface OpsWindow {
  /** The samples taken at or after the window's start (and at or after `sinceMs`), oldest first. */
  readonly samples: readonly OpsSample[];
  /** A counted sample is at or before the window's start: the shard was watched for the whole window. */
  readonly full: boolean;
}

/** The window of `windowMs` ending at `nowMs`; samples before `sinceMs` (an earlier shape of the shard) do not count. */
export function opsWindow(samples: readonly OpsSample[], nowMs: number, windowMs: number, sinceMs = Number.NEGATIVE_INFINITY): OpsWindow {
  const startMs = nowMs - windowMs;
  const counted = samples.filter((s) => s.atMs >= sinceMs && s.atMs <= nowMs);
  return { samples: counted.filter((s) => s.atMs >= startMs), full: counted.some((s) => s.atMs <= startMs) };
}

/** Mean ops/s of the window; 0 without samples. */
export function meanOpsPerSec(window: OpsWindow): number {
  const { samples } = window;
  return samples.length === 0 ? 0 : samples.reduce((sum, s) => sum + s.opsPerSec, 0) / samples.length;
}

export function minOpsPerSec(window: OpsWindow): number {
  return Math.min(...window.samples.map((s) => s.opsPerSec));
}

export function maxOpsPerSec(window: OpsWindow): number {
  return Math.max(0, ...window.samples.map((s) => s.opsPerSec));
}

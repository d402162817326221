/**
 * The reconnect schedule: exponential backoff with jitter. Pure; randomness is injected so tests replay.
 */

/** How long to wait before reconnecting to a peer whose connection failed. */
export interface BackoffPolicy {
  /** Delay after the first failure, before jitter. */
  readonly baseMs: number;
  /** Cap on the delay, before jitter. */
  readonly delayMsMax: number;
  /** Fraction of the delay that is random, in [0, 1]: 0.5 waits between half and all of the delay. */
  readonly jitter: number;
}

/** 50 ms, doubling up to 5 s, half of it random: a restarted node is found again within a few seconds. */
export const BACKOFF_POLICY_DEFAULT: BackoffPolicy = { baseMs: 50, delayMsMax: 5000, jitter: 0.5 };

/**
 * The delay before reconnect attempt `failures` (1 after the first failure): min(cap, base·2^(failures−1)),
 * of which the `jitter` fraction is scaled by `random()` ∈ [0, 1), so peers that lost a node at the same
 * moment do not all redial it in lockstep.
 */
export function backoffDelayMs(failures: number, policy: BackoffPolicy, random: () => number): number {
  if (!(Number.isInteger(failures) && failures >= 1)) throw new Error(`assertion failed: failures ${failures} must be a positive integer`);
  // 2^30 already exceeds any sensible cap; clamping the exponent keeps the arithmetic finite.
  const exponential = policy.baseMs * 2 ** Math.min(failures - 1, 30);
  const delayMs = Math.min(policy.delayMsMax, exponential);
  return delayMs * (1 - policy.jitter) + delayMs * policy.jitter * random();
}

/**
 * The history of a nemesis run: every client operation with the time it was invoked and completed, and
 * its outcome. `ok` carries the reply; `fail` means the cluster refused it without applying it (a
 * redirect or TRYAGAIN chain that ran out); `unknown` means the client never learned whether it applied
 * (timeout, lost connection, any other error), which the checker lets take effect at any later time or
 * never.
 */
import type { RegisterInput, RegisterOperation, RegisterOutput } from '../sim/linearizability.js';

export type Outcome = 'ok' | 'fail' | 'unknown';

/** An operation invoked and not yet completed. */
export interface Invocation {
  readonly clientId: number;
  readonly key: string;
  readonly input: RegisterInput;
  readonly callMs: number;
}

export class History {
  private readonly operations: RegisterOperation[] = [];
  /** Per recorded operation, the node the client took for the slot's master when it completed (a hint for reading a failure). */
  private readonly masters: (string | undefined)[] = [];
  readonly outcomes: Record<Outcome, number> = { ok: 0, fail: 0, unknown: 0 };
  private readonly originMs = performance.now();

  /** Milliseconds since the history began. */
  now(): number {
    return performance.now() - this.originMs;
  }

  invoke(clientId: number, key: string, input: RegisterInput): Invocation {
    return { clientId, key, input, callMs: this.now() };
  }

  ok(invocation: Invocation, output: RegisterOutput, master?: string): void {
    this.outcomes.ok++;
    this.operations.push({ ...invocation, returnMs: Math.max(this.now(), invocation.callMs), output });
    this.masters.push(master);
  }

  /** Refused without effect: left out of the history, as the checker requires, and only counted. */
  fail(_invocation: Invocation): void {
    this.outcomes.fail++;
  }

  unknown(invocation: Invocation, master?: string): void {
    this.outcomes.unknown++;
    this.operations.push({ ...invocation, returnMs: Number.POSITIVE_INFINITY, output: 'unknown' });
    this.masters.push(master);
  }

  get size(): number {
    return this.operations.length;
  }

  /** The operations with the master hint, for a failing run's dump. */
  annotated(): (RegisterOperation & { master: string | undefined })[] {
    return this.operations.map((op, i) => ({ ...op, master: this.masters[i] }));
  }

  /** The operations recorded so far, in the order they completed. */
  get ops(): readonly RegisterOperation[] {
    return this.operations;
  }
}

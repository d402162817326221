import type { Cancel, Environment } from '../common/environment.js';
/**
 * Outstanding requests by correlation id, each with a timeout, bounded in number so a peer that never
 * answers cannot make the requester hold unbounded state.
 */
import type { PayloadCheck, TransportNodeId } from './envelope.js';
import { TransportError } from './transport-error.js';

interface Pending {
  readonly peer: TransportNodeId;
  readonly resolve: (payload: unknown) => void;
  readonly reject: (error: TransportError) => void;
  readonly cancelTimer: Cancel;
  readonly check: PayloadCheck<unknown> | undefined;
}

/**
 * Ids start at a random point below this. A peer answers over its own link to this node's name, which
 * reaches a restarted process too: an answer to a request of the process before the restart must not
 * match a request of this one, as it would if every process counted from 1. Counting on from any start
 * below 2^48 stays a safe integer.
 */
const REQUEST_ID_START_MAX = 2 ** 48;

export class PendingRequests {
  private readonly pending = new Map<number, Pending>();
  private nextId: number;

  /** @param requestsMax bound on requests outstanding at once, over all peers. */
  constructor(
    private readonly requestsMax: number,
    private readonly timers: Pick<Environment, 'after' | 'random'>,
  ) {
    this.nextId = 1 + Math.floor(timers.random() * REQUEST_ID_START_MAX);
  }

  /** Requests outstanding now. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Registers a request to `peer` and returns its id and the promise its response settles, or a
   * TransportError('overloaded') when `requestsMax` are outstanding already. A response failing `check`
   * fails the request.
   */
  open(peer: TransportNodeId, timeoutMs: number, check?: PayloadCheck<unknown>): { readonly id: number; readonly response: Promise<unknown> } | TransportError {
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new Error(`assertion failed: request timeout ${timeoutMs} ms must be positive`);
    if (this.pending.size >= this.requestsMax) {
      return new TransportError('overloaded', `${this.requestsMax} requests already outstanding`);
    }
    const id = this.nextId++;
    const response = new Promise<unknown>((resolve, reject) => {
      const cancelTimer = this.timers.after(timeoutMs, () => {
        this.pending.delete(id);
        reject(new TransportError('timeout', `no response from ${peer} within ${timeoutMs} ms`));
      });
      this.pending.set(id, { peer, resolve, reject, cancelTimer, check });
    });
    return { id, response };
  }

  /**
   * Settles request `id` with the peer's payload: 'unknown' if it is not outstanding (timed out already,
   * or forged), 'malformed' if the payload failed the request's check (the request fails).
   */
  resolve(from: TransportNodeId, id: number, payload: unknown): 'resolved' | 'unknown' | 'malformed' {
    const entry = this.take(from, id);
    if (entry === undefined) return 'unknown';
    if (entry.check !== undefined && !entry.check(payload, from)) {
      entry.reject(new TransportError('remote', `malformed response from ${from}`));
      return 'malformed';
    }
    entry.resolve(payload);
    return 'resolved';
  }

  /** Fails request `id`; false if it is unknown. */
  reject(from: TransportNodeId, id: number, error: TransportError): boolean {
    const entry = this.take(from, id);
    if (entry === undefined) return false;
    entry.reject(error);
    return true;
  }

  /** Fails every request to `peer` (all when `peer` is undefined). */
  rejectAll(peer: TransportNodeId | undefined, error: TransportError): void {
    for (const [id, entry] of this.pending) {
      if (peer !== undefined && entry.peer !== peer) continue;
      entry.cancelTimer();
      this.pending.delete(id);
      entry.reject(error);
    }
  }

  // Only the peer a request went to may answer it.
  private take(from: TransportNodeId, id: number): Pending | undefined {
    const entry = this.pending.get(id);
    if (entry === undefined || entry.peer !== from) return undefined;
    entry.cancelTimer();
    this.pending.delete(id);
    return entry;
  }
}

/**
 * The pilot's recent cluster events (nodes registering, going down, routing versions, ...) in a bounded
 * in-memory ring, for the HTTP API and for tools that mark them on their own timelines (`cleave bench`).
 * Driver state, not replicated and not durable: a restarted pilot starts an empty ring, and `seq` starts
 * again from 1.
 */
import { assert } from '../common/errors.js';
import type { SplitStatus } from '../split/phases.js';
import type { Operator, SchedulerName } from './schedulers/types.js';

/** Events the ring keeps; the oldest is dropped to make room for a new one. */
export const PILOT_EVENTS_MAX = 10_000;

/** What every event has: its number in this process's ring (from 1) and when it was recorded (Unix ms). */
interface PilotEventBase {
  readonly seq: number;
  readonly at_ms: number;
}

/**
 * One cluster event, discriminated by `kind`, as the pilot records it and `GET /api/v1/events` serves it
 * (api-schemas.ts describes each field). The set of kinds is closed: a new kind is one more member here
 * and one more object in the schema's union.
 */
export type PilotEvent = PilotEventBase &
  (
    | { readonly kind: 'node-registered'; readonly node_id: string; readonly address: string }
    | { readonly kind: 'node-rejoined'; readonly node_id: string; readonly address: string; readonly pid: number }
    | { readonly kind: 'node-up'; readonly node_id: string }
    | { readonly kind: 'node-down'; readonly node_id: string; readonly timeout_ms: number }
    | { readonly kind: 'keyspace-bootstrapped'; readonly keyspace: string; readonly shard_count: number }
    | { readonly kind: 'routing-version-changed'; readonly routing_version: number; readonly previous_version: number; readonly cause: string }
    | { readonly kind: 'shard-leader-changed'; readonly shard_id: string; readonly from: string | null; readonly to: string; readonly term: number }
    | {
        readonly kind: 'shard-replicas-changed';
        readonly shard_id: string;
        readonly action: 'add' | 'remove';
        readonly node_id: string;
        readonly replicas: readonly string[];
        readonly epoch: number;
      }
    | { readonly kind: 'shard-leader-transfer-requested'; readonly shard_id: string; readonly node_id: string }
    | {
        readonly kind: 'scheduler-operator';
        readonly scheduler: SchedulerName;
        readonly operator: Operator['kind'];
        readonly shard_id: string;
        readonly node_id: string | null;
        readonly reason: string;
        readonly outcome: 'executed' | 'refused' | 'skipped';
        readonly detail: string | null;
      }
    | {
        readonly kind: 'split-status-changed';
        readonly task_id: string;
        readonly source_shard: string;
        readonly target_shard: string;
        readonly status: SplitStatus;
        readonly reason: string | null;
      }
  );

/** `Omit` applied to each member of a union, so the result is still discriminated by `kind`. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An event as the pilot records it; the ring numbers it. */
export type NewPilotEvent = DistributiveOmit<PilotEvent, 'seq'>;

/** The events matching a query, oldest first. */
export interface PilotEventSlice {
  readonly events: readonly PilotEvent[];
  /** Older matching events were left out to honour the limit. */
  readonly truncated: boolean;
}

/** A ring of the last `capacity` events, in the order they were recorded. */
export class PilotEventLog {
  private readonly ring: PilotEvent[] = [];
  /** Where the oldest event is once the ring is full. */
  private oldestIndex = 0;
  private nextSeq = 1;

  constructor(private readonly capacity = PILOT_EVENTS_MAX) {
    assert(Number.isInteger(capacity) && capacity >= 1, 'event log capacity must be a positive integer');
  }

  /** Appends `event`, numbered after the previous one, dropping the oldest if the ring is full. */
  record(event: NewPilotEvent): void {
    const numbered = { seq: this.nextSeq++, ...event } as PilotEvent;
    if (this.ring.length < this.capacity) {
      this.ring.push(numbered);
    } else {
      this.ring[this.oldestIndex] = numbered;
      this.oldestIndex = (this.oldestIndex + 1) % this.capacity;
    }
  }

  /**
   * The newest `limit` events recorded at or after `sinceMs`, oldest first. Filters by time rather than
   * searching for the first match, so a wall-clock step backwards cannot hide later events.
   */
  since(sinceMs: number, limit: number): PilotEventSlice {
    const matching: PilotEvent[] = [];
    for (let i = 0; i < this.ring.length; i++) {
      const event = this.ring[(this.oldestIndex + i) % this.ring.length]!;
      if (event.at_ms >= sinceMs) matching.push(event);
    }
    const truncated = matching.length > limit;
    return { events: truncated ? matching.slice(matching.length - limit) : matching, truncated };
  }

  /** Events held now, at most the capacity. */
  get size(): number {
    return this.ring.length;
  }
}

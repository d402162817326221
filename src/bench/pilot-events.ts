import { z } from 'zod/v4';
import { PILOT_EVENTS_MAX } from '../pilot/event-log.js';
import type { TimelineEvent } from './timeline.js';

/** How often the pilot is asked for new events. */
const POLL_INTERVAL_MS = 1000;
/** A pilot that does not answer within this is skipped for one poll, not waited for. */
const REQUEST_TIMEOUT_MS = 2000;

/**
 * What the poller reads of an event. Deliberately looser than the pilot's own schema: a newer pilot's
 * new event kinds are still marked on the timeline, labelled by their kind.
 */
const eventSchema = z.looseObject({
  seq: z.number().int(),
  at_ms: z.number(),
  kind: z.string(),
  node_id: z.string().optional(),
  keyspace: z.string().optional(),
  routing_version: z.number().optional(),
  phase: z.string().optional(),
});
const eventListSchema = z.object({ events: z.array(z.unknown()) });

/** Where the pilot is and how to authenticate to it. */
export interface PilotEventSource {
  /** `http://host:port` of the pilot. */
  readonly url: string;
  /** The pilot's admin token, when it requires one. */
  readonly adminToken?: string;
}

/**
 * Polls `GET <pilot>/api/v1/events?since=<ms>` during a benchmark and hands each new event to
 * `onEvent`, oldest first. A pilot without that endpoint (404) or refusing the token (401, 403) ends
 * polling, reported once through `onStopped`: the timeline then simply has no events. Other failures
 * skip a poll.
 */
export class PilotEventPoller {
  /** The newest event handed on: the next poll asks from its millisecond and skips what it has seen. */
  private lastAtMs: number;
  private lastSeq = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly source: PilotEventSource,
    startMs: number,
    private readonly onEvent: (event: TimelineEvent) => void,
    private readonly onStopped: (reason: string) => void = () => {},
  ) {
    this.lastAtMs = startMs;
  }

  /** Starts polling. */
  start(): void {
    this.timer = setInterval(() => {
      this.inFlight = this.inFlight.then(() => this.poll());
    }, POLL_INTERVAL_MS);
  }

  /** Polls once more (so events of the last second are kept) and stops. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.inFlight;
    await this.poll();
    this.stopped = true;
  }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    let body: unknown;
    try {
      const headers: Record<string, string> = this.source.adminToken === undefined ? {} : { authorization: `Bearer ${this.source.adminToken}` };
      // `since` is inclusive, so events recorded later in the same millisecond as the last one are not lost.
      const url = `${this.source.url}/api/v1/events?since=${this.lastAtMs}&limit=${PILOT_EVENTS_MAX}`;
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      if (response.status === 404 || response.status === 401 || response.status === 403) {
        this.stopped = true;
        clearInterval(this.timer);
        const why = response.status === 404 ? 'the pilot has no /api/v1/events' : 'the pilot refused the admin token (set --pilot-token-file or CLEAVE_ADMIN_TOKEN)';
        this.onStopped(`no pilot events on the timeline: ${why} (HTTP ${response.status})`);
        return;
      }
      if (!response.ok) return;
      body = await response.json();
    } catch {
      return;
    }
    for (const event of parsePilotEvents(body)) {
      if (event.timeMs < this.lastAtMs || (event.timeMs === this.lastAtMs && event.seq <= this.lastSeq)) continue;
      this.lastAtMs = event.timeMs;
      this.lastSeq = event.seq;
      this.onEvent(event);
    }
  }
}

/** A pilot event as the timeline records it, with the pilot's sequence number. */
export interface PolledPilotEvent extends TimelineEvent {
  /** Orders events of the same millisecond. */
  readonly seq: number;
}

/**
 * The events of a `GET /api/v1/events` answer (the pilot's `PilotEventList`), oldest first; malformed
 * entries are dropped. The label is the kind and what it is about: `node-down node2`,
 * `routing-version-changed v5`.
 */
export function parsePilotEvents(body: unknown): PolledPilotEvent[] {
  const list = eventListSchema.safeParse(body);
  if (!list.success) return [];
  const events: PolledPilotEvent[] = [];
  for (const entry of list.data.events) {
    const parsed = eventSchema.safeParse(entry);
    if (!parsed.success) continue;
    const event = parsed.data;
    const subject = event.node_id ?? event.keyspace ?? (event.routing_version === undefined ? undefined : `v${event.routing_version}`);
    const kind = event.phase === undefined ? event.kind : `${event.kind}:${event.phase}`;
    events.push({ timeMs: event.at_ms, seq: event.seq, label: subject === undefined ? kind : `${kind} ${subject}`, detail: JSON.stringify(entry) });
  }
  return events.sort((a, b) => a.timeMs - b.timeMs || a.seq - b.seq);
}

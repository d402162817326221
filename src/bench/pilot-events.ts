import type { TimelineEvent } from './timeline.js';

/** How often the pilot is asked for new events. */
const POLL_INTERVAL_MS = 1000;
/** A pilot that does not answer within this is skipped for one poll, not waited for. */
const REQUEST_TIMEOUT_MS = 2000;

/**
 * Polls `GET <pilot>/api/v1/events?since=<ms>` during a benchmark and hands each new event to
 * `onEvent`. A pilot without that endpoint (404) ends polling quietly: the timeline then simply has no
 * events. Other failures skip a poll. Accepts a JSON array of events or `{ events: [...] }`; an event
 * carries its time as `timeMs`, `time`, `ts` or `timestamp` (ms, or an ISO string) and its name as
 * `kind`, `type` or `event`, optionally with `phase`.
 */
export class PilotEventPoller {
  private sinceMs: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly pilotUrl: string,
    startMs: number,
    private readonly onEvent: (event: TimelineEvent) => void,
  ) {
    this.sinceMs = startMs;
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
      const response = await fetch(`${this.pilotUrl}/api/v1/events?since=${this.sinceMs}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      if (response.status === 404) {
        this.stopped = true;
        clearInterval(this.timer);
        return;
      }
      if (!response.ok) return;
      body = await response.json();
    } catch {
      return;
    }
    for (const event of parsePilotEvents(body)) {
      this.sinceMs = Math.max(this.sinceMs, event.timeMs + 1);
      this.onEvent(event);
    }
  }
}

/** The events in a pilot response, oldest first; entries without a usable time are dropped. */
export function parsePilotEvents(body: unknown): TimelineEvent[] {
  const list = Array.isArray(body) ? body : isRecord(body) && Array.isArray(body.events) ? body.events : [];
  const events: TimelineEvent[] = [];
  for (const entry of list) {
    if (!isRecord(entry)) continue;
    const rawTime = entry.timeMs ?? entry.time ?? entry.ts ?? entry.timestamp;
    const timeMs = typeof rawTime === 'number' ? rawTime : typeof rawTime === 'string' ? Date.parse(rawTime) : NaN;
    if (!Number.isFinite(timeMs)) continue;
    const name = String(entry.kind ?? entry.type ?? entry.event ?? 'event');
    const label = typeof entry.phase === 'string' ? `${name}:${entry.phase}` : name;
    events.push({ timeMs, label, detail: JSON.stringify(entry) });
  }
  return events.sort((a, b) => a.timeMs - b.timeMs);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

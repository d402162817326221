import type { LatencyHistogram } from './latency-histogram.js';
import type { IntervalSnapshot } from './runner.js';

/**
 * The timeline CSV's columns. Each row is one of three kinds:
 * - `interval`: one timeline interval (1 s) of one op type, or of all of them (`op` = `ALL`):
 *   completed operations, their rate and latency percentiles in microseconds;
 * - `error`: operations of one type that failed in that interval with one error kind;
 * - `event`: something the pilot reported (a split phase, a leader change), `detail` says what.
 * `time_ms` is the Unix time at the end of the interval (or of the event); `elapsed_sec` counts from
 * the start of the benchmark.
 */
export const TIMELINE_COLUMNS = [
  'kind',
  'phase',
  'time_ms',
  'elapsed_sec',
  'op',
  'count',
  'ops_per_sec',
  'p50_us',
  'p95_us',
  'p99_us',
  'p999_us',
  'max_us',
  'error_kind',
  'detail',
] as const;

/** One CSV row, keyed by column. */
export type TimelineRow = Readonly<Record<(typeof TIMELINE_COLUMNS)[number], string>>;

/** Something the pilot reported during the run. */
export interface TimelineEvent {
  readonly timeMs: number;
  /** Short label, e.g. `split:Switching` or `leader-change`. */
  readonly label: string;
  /** The event as the pilot sent it, for the reader. */
  readonly detail: string;
}

function row(values: Partial<TimelineRow>): TimelineRow {
  return Object.fromEntries(TIMELINE_COLUMNS.map((c) => [c, values[c] ?? ''])) as TimelineRow;
}

/** The rows of one interval: `ALL`, then each op type, then its errors. */
export function intervalRows(snapshot: IntervalSnapshot, benchStartMs: number): TimelineRow[] {
  const durationSec = Math.max(1e-3, (snapshot.endMs - snapshot.startMs) / 1000);
  const common = { phase: snapshot.phase, time_ms: String(snapshot.endMs), elapsed_sec: ((snapshot.endMs - benchStartMs) / 1000).toFixed(3) };
  const latencyRow = (op: string, histogram: LatencyHistogram): TimelineRow => {
    const s = histogram.summary();
    return row({
      ...common,
      kind: 'interval',
      op,
      count: String(s.count),
      ops_per_sec: (s.count / durationSec).toFixed(1),
      p50_us: String(s.p50Us),
      p95_us: String(s.p95Us),
      p99_us: String(s.p99Us),
      p999_us: String(s.p999Us),
      max_us: String(s.maxUs),
    });
  };
  const rows = [latencyRow('ALL', snapshot.stats.all)];
  for (const type of snapshot.stats.types()) {
    const stats = snapshot.stats.byType.get(type)!;
    rows.push(latencyRow(type, stats.histogram));
    for (const [kind, n] of stats.errors) rows.push(row({ ...common, kind: 'error', op: type, count: String(n), error_kind: kind }));
  }
  return rows;
}

/** The row of one pilot event. */
export function eventRow(event: TimelineEvent, benchStartMs: number): TimelineRow {
  return row({
    kind: 'event',
    time_ms: String(event.timeMs),
    elapsed_sec: ((event.timeMs - benchStartMs) / 1000).toFixed(3),
    op: event.label,
    detail: event.detail,
  });
}

/** The CSV header line. */
export function csvHeader(): string {
  return TIMELINE_COLUMNS.join(',');
}

/** One CSV line (RFC 4180 quoting where needed). */
export function csvLine(r: TimelineRow): string {
  return TIMELINE_COLUMNS.map((c) => csvField(r[c])).join(',');
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Parses a timeline CSV written by this module (header first). */
export function parseTimeline(text: string): TimelineRow[] {
  const records = parseCsv(text);
  const header = records.shift();
  if (header === undefined) return [];
  return records.filter((r) => r.length > 1).map((r) => Object.fromEntries(TIMELINE_COLUMNS.map((c) => [c, r[header.indexOf(c)] ?? ''])) as TimelineRow);
}

function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else if (ch !== '\r') field += ch;
  }
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

import { closeSync, openSync, writeSync } from 'node:fs';
import { csvHeader, csvLine, eventRow, intervalRows, type TimelineEvent } from './timeline.js';
import type { IntervalSnapshot } from './runner.js';

/**
 * Appends timeline rows to a CSV file as they happen, so a run that is interrupted still leaves its
 * timeline behind. One small synchronous write a second does not disturb the client loops.
 */
export class TimelineFile {
  private readonly fd: number;

  /** Creates (or truncates) `path` and writes the header; times are relative to `benchStartMs`. */
  constructor(
    path: string,
    private readonly benchStartMs: number,
  ) {
    this.fd = openSync(path, 'w');
    writeSync(this.fd, `${csvHeader()}\n`);
  }

  /** Writes one interval's rows. */
  writeInterval(snapshot: IntervalSnapshot): void {
    writeSync(
      this.fd,
      intervalRows(snapshot, this.benchStartMs)
        .map((r) => `${csvLine(r)}\n`)
        .join(''),
    );
  }

  /** Writes one pilot event. */
  writeEvent(event: TimelineEvent): void {
    writeSync(this.fd, `${csvLine(eventRow(event, this.benchStartMs))}\n`);
  }

  /** Closes the file. */
  close(): void {
    closeSync(this.fd);
  }
}

import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';

/** Latency percentiles in microseconds, the figures every report shows. */
export interface LatencySummary {
  readonly count: number;
  readonly meanUs: number;
  readonly p50Us: number;
  readonly p95Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

/** One hour: any latency above it is clamped, a stalled client is visible without resizing forever. */
const LATENCY_MAX_US = 3_600_000_000;

/**
 * An HDR histogram of latencies in microseconds with 3 significant digits (0.1% value error), the
 * resolution YCSB's HdrHistogram measurement uses.
 */
export class LatencyHistogram {
  private readonly histogram: Histogram;

  constructor() {
    this.histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: LATENCY_MAX_US, numberOfSignificantValueDigits: 3, autoResize: false });
  }

  /** Records one latency; sub-microsecond values count as 1 µs so they are not lost at zero. */
  record(latencyUs: number): void {
    this.histogram.recordValue(Math.min(LATENCY_MAX_US, Math.max(1, Math.round(latencyUs))));
  }

  /** Number of recorded values. */
  get count(): number {
    return this.histogram.totalCount;
  }

  /** The value at `percentile` (0-100). */
  percentileUs(percentile: number): number {
    return this.histogram.getValueAtPercentile(percentile);
  }

  /** Adds all values of `other` to this histogram. */
  add(other: LatencyHistogram): void {
    this.histogram.add(other.histogram);
  }

  /** The report figures. */
  summary(): LatencySummary {
    const h = this.histogram;
    if (h.totalCount === 0) return { count: 0, meanUs: 0, p50Us: 0, p95Us: 0, p99Us: 0, p999Us: 0, maxUs: 0 };
    // A percentile is reported as the top of its bucket, which can exceed the exact maximum (p99.9
    // 144383 µs above a max of 144349 µs was seen); no percentile may be above the maximum.
    const atPercentile = (percentile: number): number => Math.min(h.maxValue, h.getValueAtPercentile(percentile));
    return {
      count: h.totalCount,
      meanUs: h.mean,
      p50Us: atPercentile(50),
      p95Us: atPercentile(95),
      p99Us: atPercentile(99),
      p999Us: atPercentile(99.9),
      maxUs: h.maxValue,
    };
  }

  /** A compact text form for sending between processes (HdrHistogram's compressed base64). */
  encode(): string {
    return encodeIntoCompressedBase64(this.histogram);
  }

  /** The histogram `encode()` produced. */
  static decode(encoded: string): LatencyHistogram {
    const result = new LatencyHistogram();
    const decoded = decodeFromCompressedBase64(encoded);
    result.histogram.add(decoded);
    decoded.destroy();
    return result;
  }
}

import type { CounterGenerator } from './counter-generator.js';
import type { RandomSource } from './random-source.js';
import { ZipfianGenerator } from './zipfian-generator.js';

/**
 * YCSB's `SkewedLatestGenerator`: zipfian over the distance from the newest item of `basis` (the
 * acknowledged insert counter), so recent inserts are the most popular (workload D's "read latest").
 */
export class SkewedLatestGenerator {
  private readonly zipfian: ZipfianGenerator;

  constructor(
    private readonly basis: Pick<CounterGenerator, 'lastValue'>,
    random: RandomSource,
  ) {
    // new ZipfianGenerator(lastValue) in YCSB: items 0..lastValue-1.
    this.zipfian = new ZipfianGenerator(0, basis.lastValue() - 1, random);
  }

  /** The next item: `max - zipfian(max)` where max is the newest acknowledged item. */
  nextValue(): number {
    const max = this.basis.lastValue();
    return max - this.zipfian.nextLong(max);
  }
}

import type { RandomSource } from './random-source.js';

/** YCSB's `UniformLongGenerator`: every integer in [lowerBound, upperBound] equally likely. */
export class UniformGenerator {
  private readonly interval: number;

  constructor(
    private readonly lowerBound: number,
    upperBound: number,
    private readonly random: RandomSource,
  ) {
    this.interval = upperBound - lowerBound + 1;
  }

  /** The next value. */
  nextValue(): number {
    return this.lowerBound + Math.floor(this.random.nextDouble() * this.interval);
  }
}

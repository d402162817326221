import type { RandomSource } from './random-source.js';

/** YCSB's `DiscreteGenerator`: picks one of a few values with given weights. */
export class DiscreteGenerator<T> {
  private readonly values: { readonly weight: number; readonly value: T }[] = [];
  private weightSum = 0;

  constructor(private readonly random: RandomSource) {}

  /** Adds `value` with `weight` (weights need not sum to 1). */
  addValue(weight: number, value: T): void {
    this.values.push({ weight, value });
    this.weightSum += weight;
  }

  /** The next value. */
  nextValue(): T {
    let u = this.random.nextDouble();
    for (const { weight, value } of this.values) {
      const share = weight / this.weightSum;
      if (u < share) return value;
      u -= share;
    }
    // Rounding can leave u a hair above the last share.
    return this.values[this.values.length - 1]!.value;
  }
}

import type { RandomSource } from './random-source.js';

/** YCSB's zipfian constant (`ZipfianGenerator.ZIPFIAN_CONSTANT`). */
export const ZIPFIAN_CONSTANT = 0.99;

/**
 * YCSB's `ZipfianGenerator` (Gray et al., "Quickly Generating Billion-Record Synthetic Databases",
 * SIGMOD 1994): items min..max, item `min` the most popular. Ported line for line, including YCSB's
 * quirk that `eta` keeps using the constructor's item count after the count grows, so distributions
 * match published runs.
 */
export class ZipfianGenerator {
  private readonly items: number;
  private readonly base: number;
  private readonly theta: number;
  private readonly zeta2Theta: number;
  private readonly alpha: number;
  private zetan: number;
  private eta: number;
  private countForZeta: number;

  /**
   * @param min smallest item (the most popular one)
   * @param max largest item, inclusive
   * @param zetan precomputed zeta(max - min + 1, theta), to skip the O(n) sum
   */
  constructor(
    min: number,
    max: number,
    private readonly random: RandomSource,
    zipfianConstant = ZIPFIAN_CONSTANT,
    zetan?: number,
  ) {
    this.items = max - min + 1;
    this.base = min;
    this.theta = zipfianConstant;
    this.zeta2Theta = zetaStatic(0, 2, this.theta, 0);
    this.alpha = 1 / (1 - this.theta);
    this.zetan = zetan ?? zetaStatic(0, this.items, this.theta, 0);
    this.countForZeta = this.items;
    this.eta = (1 - (2 / this.items) ** (1 - this.theta)) / (1 - this.zeta2Theta / this.zetan);
  }

  /** The next item drawn over the first `itemCount` items; zeta grows incrementally when it rises. */
  nextLong(itemCount: number): number {
    if (itemCount > this.countForZeta) {
      this.zetan = zetaStatic(this.countForZeta, itemCount, this.theta, this.zetan);
      this.countForZeta = itemCount;
      this.eta = (1 - (2 / this.items) ** (1 - this.theta)) / (1 - this.zeta2Theta / this.zetan);
    }
    const u = this.random.nextDouble();
    const uz = u * this.zetan;
    if (uz < 1) return this.base;
    if (uz < 1 + 0.5 ** this.theta) return this.base + 1;
    return this.base + Math.floor(itemCount * (this.eta * u - this.eta + 1) ** this.alpha);
  }

  /** The next item over all items. */
  nextValue(): number {
    return this.nextLong(this.items);
  }
}

/** zeta(n) = sum over i in [st, n) of 1/(i+1)^theta, continuing from `initialSum` (YCSB's `zetastatic`). */
export function zetaStatic(st: number, n: number, theta: number, initialSum: number): number {
  let sum = initialSum;
  for (let i = st; i < n; i++) sum += 1 / (i + 1) ** theta;
  return sum;
}

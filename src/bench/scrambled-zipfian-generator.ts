import { assert } from '../common/errors.js';
import { fnvHash64, hash64Mod } from './fnv-hash.js';
import type { RandomSource } from './random-source.js';
import { ZIPFIAN_CONSTANT, ZipfianGenerator } from './zipfian-generator.js';

/** YCSB's precomputed zeta(10^16, 0.99) (`ScrambledZipfianGenerator.ZETAN`). */
export const SCRAMBLED_ZETAN = 26.46902820178302;
/** The item space YCSB draws from before hashing into the real one (`ITEM_COUNT`). */
export const SCRAMBLED_ITEM_COUNT = 10000000000000000;

/**
 * YCSB's `ScrambledZipfianGenerator`: a zipfian over 10^16 items whose value is FNV-hashed into
 * min..max, so the popular items are scattered across the key space instead of clustered at `min`.
 * Only the 0.99 constant is supported, as in YCSB, because only its zeta is precomputed.
 */
export class ScrambledZipfianGenerator {
  private readonly itemCount: number;
  private readonly gen: ZipfianGenerator;

  constructor(
    private readonly min: number,
    max: number,
    random: RandomSource,
  ) {
    this.itemCount = max - min + 1;
    assert(this.itemCount > 0 && this.itemCount < 2 ** 37, `item count ${this.itemCount} out of range`);
    this.gen = new ZipfianGenerator(0, SCRAMBLED_ITEM_COUNT, random, ZIPFIAN_CONSTANT, SCRAMBLED_ZETAN);
  }

  /** The next item in min..max. */
  nextValue(): number {
    return this.min + hash64Mod(fnvHash64(this.gen.nextValue()), this.itemCount);
  }
}

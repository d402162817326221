/**
 * The only source of randomness the pure benchmark logic uses, so generators and workloads are
 * reproducible from a seed in tests and independent per client loop at run time.
 */
export interface RandomSource {
  /** A double uniformly distributed in [0, 1), with 53 bits of resolution. */
  nextDouble(): number;
}

/**
 * xoshiro128** seeded through splitmix32: fast, small state, and good enough statistically for load
 * generation (it is what YCSB's `ThreadLocalRandom` is to Java, not a cryptographic source).
 */
export function seededRandom(seed: number): RandomSource {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  return {
    nextDouble(): number {
      // 27 + 26 high bits, as java.util.Random.nextDouble composes its 53 bits.
      return ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

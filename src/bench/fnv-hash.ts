/**
 * YCSB's `Utils.fnvhash64`: 64-bit FNV-1 over the 8 little-endian bytes of a Java long, then
 * `Math.abs`. Key names and the scrambled zipfian generator both go through it, so it must match YCSB
 * bit for bit for our keys (`user<hash>`) to be the keys of published runs.
 *
 * Computed on two 32-bit halves with plain numbers because it runs several times per operation and
 * BigInt arithmetic there costs measurable client CPU.
 */
export interface Hash64 {
  /** High 32 bits, unsigned. */
  readonly hi: number;
  /** Low 32 bits, unsigned. */
  readonly lo: number;
}

const OFFSET_BASIS_HI = 0xcbf29ce4;
const OFFSET_BASIS_LO = 0x84222325;
// FNV_PRIME_64 = 2^40 + 0x1b3
const PRIME_LOW_PART = 0x1b3;
const TWO_POW_32 = 4294967296;

/**
 * The FNV hash of a non-negative integer `value` (which may exceed 2^53 as long as it is an integer
 * double, as the scrambled zipfian's values near 10^16 are), with YCSB's `Math.abs` applied.
 */
export function fnvHash64(value: number): Hash64 {
  let hi = OFFSET_BASIS_HI;
  let lo = OFFSET_BASIS_LO;
  let rest = value;
  for (let i = 0; i < 8; i++) {
    const octet = rest % 256;
    rest = Math.floor(rest / 256);
    lo = (lo ^ octet) >>> 0;
    // (hi·2^32 + lo) · (2^40 + 0x1b3) mod 2^64
    const loProduct = lo * PRIME_LOW_PART;
    const carry = Math.floor(loProduct / TWO_POW_32);
    const newLo = loProduct >>> 0;
    hi = (Math.imul(hi, PRIME_LOW_PART) + carry + ((lo << 8) >>> 0)) >>> 0;
    lo = newLo;
  }
  if (hi >= 0x80000000 && !(hi === 0x80000000 && lo === 0)) {
    // Two's-complement negation; Long.MIN_VALUE stays itself, as Math.abs leaves it in Java.
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  return { hi, lo };
}

/** The hash as Java's `Long.toString` prints it (signed only in the `Long.MIN_VALUE` case). */
export function hash64ToString(hash: Hash64): string {
  if (hash.hi < 0x200000) return String(hash.hi * TWO_POW_32 + hash.lo); // below 2^53: exact as a double
  return BigInt.asIntN(64, (BigInt(hash.hi) << 32n) | BigInt(hash.lo)).toString();
}

/**
 * `hash mod divisor` with Java's `%` semantics for the non-negative case, exact for divisors below
 * 2^37 (the item counts of any run this tool can drive).
 */
export function hash64Mod(hash: Hash64, divisor: number): number {
  if (hash.hi >= 0x80000000) {
    // Long.MIN_VALUE: Java's % keeps the dividend's sign.
    return Number(BigInt.asIntN(64, (BigInt(hash.hi) << 32n) | BigInt(hash.lo)) % BigInt(divisor));
  }
  // hi·2^32 = hi·2^16·2^16, reducing after each factor keeps every product below 2^53.
  const hiMod = (((hash.hi * 65536) % divisor) * 65536) % divisor;
  return (hiMod + (hash.lo % divisor)) % divisor;
}

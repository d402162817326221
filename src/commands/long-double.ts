/**
 * Exact emulation of the x87 80-bit `long double` that Redis uses for INCRBYFLOAT and HINCRBYFLOAT
 * (64-bit significand, round to nearest even), so results match Redis digit for digit: 10.5 + 0.1 is
 * `10.6` there, and would be `10.599999999999999645` with 64-bit doubles. Parsing follows strtold as Redis's
 * string2ld calls it; formatting follows ld2string's human mode (`%.17Lf`, trailing zeros removed).
 * BigInt arithmetic keeps every step exact; only the final rounding to 64 bits loses precision.
 */

/** A finite value `(-1)^negative * significand * 2^exponent`, or an infinity. NaN is never represented. */
export type LongDouble =
  | { readonly finite: true; readonly negative: boolean; readonly significand: bigint; readonly exponent: number }
  | { readonly finite: false; readonly negative: boolean };

const SIGNIFICAND_BITS = 64;
const SIGNIFICAND_LIMIT = 1n << 64n;
const SIGNIFICAND_MIN = 1n << 63n;
/** Exponent of the smallest subnormal, 2^-16445. */
const EXPONENT_MIN = -16445;
/** The largest finite value is (2^64 - 1) * 2^16320 ≈ 1.19e4932. */
const EXPONENT_MAX = 16320;
/** string2ld refuses strings this long or longer (MAX_LONG_DOUBLE_CHARS). */
const TEXT_BYTES_MAX = 5 * 1024;
/** Decimal magnitudes beyond these certainly overflow or underflow to zero, so skip the exact work. */
const DECIMAL_MAGNITUDE_MAX = 4940;
const DECIMAL_MAGNITUDE_MIN = -4960;
const FRACTION_DIGITS = 17;
const FRACTION_SCALE = 10n ** BigInt(FRACTION_DIGITS);

export const LONG_DOUBLE_ZERO: LongDouble = { finite: true, negative: false, significand: 0n, exponent: 0 };

const DECIMAL = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/;
const HEXADECIMAL = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?[0-9]+))?$/;
const INFINITY = /^([+-]?)(?:inf|infinity)$/i;

/**
 * Parses like Redis's string2ld: the whole string must be a strtold number (decimal, hexadecimal or
 * `inf`), with no leading space; NaN, overflow to infinity and underflow to zero are refused.
 */
export function parseLongDouble(bytes: Uint8Array): LongDouble | undefined {
  if (bytes.length === 0 || bytes.length >= TEXT_BYTES_MAX) return undefined;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  const infinity = INFINITY.exec(text);
  if (infinity) return { finite: false, negative: infinity[1] === '-' };
  const hex = HEXADECIMAL.exec(text);
  if (hex) return parseDigits(hex[1] === '-', hex[2]!, hex[3] ?? '', hex[4], 16);
  const decimal = DECIMAL.exec(text);
  if (decimal) return parseDigits(decimal[1] === '-', decimal[2]!, decimal[3] ?? '', decimal[4], 10);
  return undefined;
}

function parseDigits(negative: boolean, whole: string, fraction: string, exponentText: string | undefined, radix: 10 | 16): LongDouble | undefined {
  if (whole.length === 0 && fraction.length === 0) return undefined;
  const digits = BigInt((radix === 16 ? '0x' : '') + (whole + fraction || '0'));
  if (digits === 0n) return { finite: true, negative, significand: 0n, exponent: 0 };
  // Exponents beyond nine digits are clamped: they overflow or underflow either way.
  const written = exponentText === undefined ? 0 : clampExponent(exponentText);
  let result: LongDouble;
  if (radix === 16) {
    // Hex floats: value = digits * 16^-fraction.length * 2^written.
    const exponent2 = written - 4 * fraction.length;
    const magnitude = bitLength(digits) + exponent2;
    if (magnitude > EXPONENT_MAX + SIGNIFICAND_BITS + 1 || magnitude < EXPONENT_MIN - 2) return undefined;
    result = roundToLongDouble(negative, digits, 1n, exponent2);
  } else {
    const exponent10 = written - fraction.length;
    const magnitude = digits.toString().length + exponent10;
    if (magnitude > DECIMAL_MAGNITUDE_MAX) return undefined;
    if (magnitude < DECIMAL_MAGNITUDE_MIN) return undefined;
    result = exponent10 >= 0 ? roundToLongDouble(negative, digits * 10n ** BigInt(exponent10), 1n, 0) : roundToLongDouble(negative, digits, 10n ** BigInt(-exponent10), 0);
  }
  // strtold reports ERANGE for these and string2ld refuses them.
  if (!result.finite || result.significand === 0n) return undefined;
  return result;
}

function clampExponent(text: string): number {
  const value = Number(text);
  return Math.max(-1e9, Math.min(1e9, value));
}

/** The sum rounded to long double, or undefined when it is NaN (infinities of opposite signs). */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble | undefined {
  if (!a.finite || !b.finite) {
    if (!a.finite && !b.finite && a.negative !== b.negative) return undefined;
    return a.finite ? b : a;
  }
  const exponent = Math.min(a.exponent, b.exponent);
  const left = (a.negative ? -a.significand : a.significand) << BigInt(a.exponent - exponent);
  const right = (b.negative ? -b.significand : b.significand) << BigInt(b.exponent - exponent);
  const sum = left + right;
  // IEEE: an exact zero sum is +0 unless both addends are -0.
  const negative = sum < 0n || (sum === 0n && a.negative && b.negative);
  return roundToLongDouble(negative, sum < 0n ? -sum : sum, 1n, exponent);
}

/** Rounds `numerator / denominator * 2^exponent` (both non-negative) to the nearest long double, ties to even. */
function roundToLongDouble(negative: boolean, numerator: bigint, denominator: bigint, exponent: number): LongDouble {
  if (numerator === 0n) return { finite: true, negative, significand: 0n, exponent: 0 };
  let target = Math.max(EXPONENT_MIN, bitLength(numerator) - bitLength(denominator) + exponent - SIGNIFICAND_BITS);
  for (;;) {
    const shift = exponent - target;
    const n = shift >= 0 ? numerator << BigInt(shift) : numerator;
    const d = shift >= 0 ? denominator : denominator << BigInt(-shift);
    let quotient = n / d;
    if (quotient >= SIGNIFICAND_LIMIT) {
      target += 1;
      continue;
    }
    if (quotient < SIGNIFICAND_MIN && target > EXPONENT_MIN) {
      target -= 1;
      continue;
    }
    const twiceRemainder = (n - quotient * d) * 2n;
    if (twiceRemainder > d || (twiceRemainder === d && (quotient & 1n) === 1n)) quotient += 1n;
    if (quotient === SIGNIFICAND_LIMIT) {
      quotient = SIGNIFICAND_MIN;
      target += 1;
    }
    if (target > EXPONENT_MAX) return { finite: false, negative };
    return { finite: true, negative, significand: quotient, exponent: target };
  }
}

function bitLength(value: bigint): number {
  return value.toString(2).length;
}

/**
 * Redis's human-friendly long double text (ld2string, LD_STR_HUMAN): `%.17Lf`, then trailing zeros and a
 * trailing point removed, and `-0` written `0`. So 3.0e3 is `3000` and 0.1 + 0.2 is `0.3`.
 */
export function formatLongDouble(value: LongDouble & { finite: true }): string {
  let numerator = value.significand * FRACTION_SCALE;
  let denominator = 1n;
  if (value.exponent >= 0) numerator <<= BigInt(value.exponent);
  else denominator <<= BigInt(-value.exponent);
  let scaled = numerator / denominator;
  const twiceRemainder = (numerator - scaled * denominator) * 2n;
  if (twiceRemainder > denominator || (twiceRemainder === denominator && (scaled & 1n) === 1n)) scaled += 1n;
  const digits = scaled.toString().padStart(FRACTION_DIGITS + 1, '0');
  const whole = digits.slice(0, -FRACTION_DIGITS);
  const fraction = digits.slice(-FRACTION_DIGITS).replace(/0+$/, '');
  const text = (value.negative ? '-' : '') + whole + (fraction.length > 0 ? `.${fraction}` : '');
  return text === '-0' ? '0' : text;
}

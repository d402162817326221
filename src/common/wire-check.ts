/**
 * Small type guards for values decoded from the wire (msgpack from a peer), shared by the checks of each
 * message kind. Cheap on purpose: they run for every message a node receives.
 */

/** A non-negative safe integer: an index, a term, a count (a BigInt from a 64-bit msgpack integer is not one). */
export function isIndex(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** A non-empty string of at most `charsMax` characters: an id. */
export function isIdString(value: unknown, charsMax: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= charsMax;
}

export function isBytesOrNull(value: unknown): value is Uint8Array | null {
  return value === null || value instanceof Uint8Array;
}

export function areBytes(value: unknown): value is readonly Uint8Array[] {
  if (!Array.isArray(value)) return false;
  for (const item of value) if (!(item instanceof Uint8Array)) return false;
  return true;
}

/** A bad flag or configuration value: the CLI prints `message` on one line and exits with code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Throws when `condition` is false: for states the code must never reach (a bug, not an operating error). */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

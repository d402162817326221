/**
 * What the runner needs from a database: YCSB's `DB` interface for a hash-per-record layout. Methods
 * throw on failure; the error's message prefix is what the report counts it under.
 */
export interface KvDriver {
  /** Reads every field of `key` (YCSB's readallfields=true); throws `RecordNotFoundError` if absent. */
  read(key: string): Promise<void>;
  /** Writes the given field/value pairs into the hash at `key`. */
  update(key: string, values: readonly string[]): Promise<void>;
  /** Writes a whole record. */
  insert(key: string, values: readonly string[]): Promise<void>;
  /** Reads `length` consecutive records from `startKey` in the store's key order. */
  scan(startKey: string, length: number): Promise<void>;
  /** Closes the connections. */
  close(): Promise<void>;
}

/**
 * A read found no record: YCSB's redis binding reports `Status.ERROR` then, and so do we, under
 * `NOT_FOUND`, since every key the workload reads was inserted and acknowledged before.
 */
export class RecordNotFoundError extends Error {
  override readonly name = 'RecordNotFoundError';

  constructor(key: string) {
    super(`NOT_FOUND no record at ${key}`);
  }
}

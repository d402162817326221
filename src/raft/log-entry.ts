/**
 * What a log entry carries. `normal` entries carry application commands (and the empty entry a new leader
 * appends to commit its term); `confChange` entries carry an encoded `ConfChange` (see conf-change.ts).
 */
export type EntryType = 'normal' | 'confChange';

/** One entry of the replicated log. Plain readonly data, so the transport and storage can encode it. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/**
 * Per-entry framing cost counted against message size limits, so that a run of empty entries still has a
 * bounded message size (index, term and type on the wire take about this much).
 */
export const ENTRY_OVERHEAD_BYTES = 16;

/** Bytes an entry counts for against `maxSizePerMsgBytes` and the per-Ready apply limit. */
export function entrySizeBytes(entry: Entry): number {
  return entry.data.byteLength + ENTRY_OVERHEAD_BYTES;
}

/** Bytes an entry counts for against `maxUncommittedEntriesBytes`: only the payload, as etcd does. */
export function entryPayloadBytes(entry: Entry): number {
  return entry.data.byteLength;
}

/**
 * The longest prefix of `entries` whose total size is at most `maxSizeBytes`, but always at least one
 * entry: a single entry larger than the limit must still make progress.
 */
export function limitSize(entries: readonly Entry[], maxSizeBytes: number): readonly Entry[] {
  if (entries.length === 0) return entries;
  let size = entrySizeBytes(entries[0]!);
  let count = 1;
  while (count < entries.length) {
    size += entrySizeBytes(entries[count]!);
    if (size > maxSizeBytes) break;
    count++;
  }
  return count === entries.length ? entries : entries.slice(0, count);
}

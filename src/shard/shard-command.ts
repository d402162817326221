/**
 * What a shard's Raft log carries: key commands with the time the leader gave them, the leader's expiry
 * deletes, and FLUSHALL. Time is part of the entry because apply must not read a clock: every replica
 * judges expiry against the same `nowMs`, so they stay identical.
 */
import { Packr } from 'msgpackr';

export type ShardCommand =
  /** A key command as the client sent it. */
  | { readonly kind: 'command'; readonly nowMs: number; readonly argv: readonly Uint8Array[] }
  /** Keys the leader found expired at `nowMs`; each is deleted if it is still expired then. */
  | { readonly kind: 'expire'; readonly nowMs: number; readonly keys: readonly Uint8Array[] }
  /** Deletes every key of the shard. */
  | { readonly kind: 'flush'; readonly nowMs: number };

// Arrays, not records: every entry must decode on its own, on any replica, in any later version.
const packr = new Packr({ useRecords: false });
const KIND_CODES = ['command', 'expire', 'flush'] as const;

export function encodeShardCommand(command: ShardCommand): Uint8Array {
  const code = KIND_CODES.indexOf(command.kind);
  switch (command.kind) {
    case 'command':
      return packr.pack([code, command.nowMs, command.argv]);
    case 'expire':
      return packr.pack([code, command.nowMs, command.keys]);
    case 'flush':
      return packr.pack([code, command.nowMs]);
  }
}

export function decodeShardCommand(data: Uint8Array): ShardCommand {
  const [code, nowMs, items] = packr.unpack(data) as [number, number, Uint8Array[] | undefined];
  const kind = KIND_CODES[code];
  if (kind === 'command') return { kind, nowMs, argv: items ?? [] };
  if (kind === 'expire') return { kind, nowMs, keys: items ?? [] };
  if (kind === 'flush') return { kind, nowMs };
  throw new Error(`unknown shard command code ${code}`);
}

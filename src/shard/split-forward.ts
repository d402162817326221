/**
 * What of a source entry a split forwards to its target: the entry's effect on the moving slots only.
 * Pure: the same entry gives the same bytes on every source leader, so a forward resumed by a new leader
 * sends what the old one would have.
 */
import { keyHashSlot } from '../common/slots.js';
import { commandKeys, resolveCommand } from '../commands/table.js';
import { decodeShardCommand, encodeShardCommand } from './shard-command.js';

function inRange(key: Uint8Array, fromSlot: number, endSlot: number): boolean {
  const slot = keyHashSlot(key);
  return slot >= fromSlot && slot < endSlot;
}

/**
 * `data` (a source log entry) restricted to keys of slots [fromSlot, endSlot): the same bytes when all of
 * it is inside, re-encoded when only some keys of an expiry are, null when it touches none (or is not a
 * key command, expiry or FLUSHALL — a split entry, say).
 */
export function forwardedPart(data: Uint8Array, fromSlot: number, endSlot: number): Uint8Array | null {
  const command = decodeShardCommand(data);
  switch (command.kind) {
    case 'flush':
      return data;
    case 'expire': {
      const keys = command.keys.filter((key) => inRange(key, fromSlot, endSlot));
      if (keys.length === 0) return null;
      return keys.length === command.keys.length ? data : encodeShardCommand({ ...command, keys });
    }
    case 'command': {
      const argv = command.argv.map((arg) => Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength));
      const resolved = resolveCommand(argv);
      if ('error' in resolved) return null;
      // One slot per command: CROSSSLOT is refused before proposing.
      const key = commandKeys(resolved.spec, argv)[0];
      return key !== undefined && inRange(key, fromSlot, endSlot) ? data : null;
    }
    default:
      return null;
  }
}

/**
 * The checks split traffic passes on the bus: a source leader's request to a target replica, whose
 * command the target proposes into its own log, and the target's answer. A request's command is decoded
 * and checked, forwarded entries included, because once proposed it is applied by every replica of the
 * target, again after each restart: a malformed one must never reach the log.
 */
import { SLOT_COUNT } from '../common/slots.js';
import { areBytes, isBytesOrNull, isIdString, isIndex } from '../common/wire-check.js';
import { decodeShardCommand, type ForwardedEntry, type ShardCommand } from '../shard/shard-command.js';
import type { OwnedRange, ShardSplitState, SplitApplyResult } from '../shard/split-state.js';
import type { SplitRequest, TargetAnswer } from './types.js';

/** Bound on a shard id or split task id on the wire. */
const ID_CHARS_MAX = 256;

type Fields = Record<string, unknown>;

export function isSplitRequest(payload: unknown): payload is SplitRequest {
  if (typeof payload !== 'object' || payload === null) return false;
  const { shard, command } = payload as Fields;
  return isId(shard) && (command === null || (command instanceof Uint8Array && isTargetCommand(command)));
}

export function isTargetAnswer(payload: unknown): payload is TargetAnswer {
  if (typeof payload !== 'object' || payload === null) return false;
  const answer = payload as Fields;
  switch (answer['kind']) {
    case 'ok':
      return (answer['result'] === null || isApplyResult(answer['result'])) && isSplitStateOrNull(answer['state']) && (answer['owned'] === null || isOwnedRange(answer['owned']));
    case 'notLeader':
      return true;
    case 'unreachable':
      return typeof answer['reason'] === 'string';
    default:
      return false;
  }
}

/** A split entry a source sends its target: reset, a snapshot chunk, forwarded entries or the handoff. */
function isTargetCommand(data: Uint8Array): boolean {
  const command = decode(data);
  if (command === null || !('taskId' in command) || !isId(command.taskId)) return false;
  switch (command.kind) {
    case 'split-reset':
      return (
        isId(command.source) && isSlotRange(command.splitSlot, command.end) && isIndex(command.snapshotIndex) && isIndex(command.attempt) && Number.isFinite(command.sourceClockMs)
      );
    case 'split-ingest':
      return (
        isIndex(command.snapshotIndex) &&
        isIndex(command.attempt) &&
        isBytesOrNull(command.cursor) &&
        isBytesOrNull(command.next) &&
        areBytes(command.entries) &&
        command.entries.length % 2 === 0
      );
    case 'split-forward':
      return isIndex(command.throughIndex) && areForwarded(command.entries);
    case 'split-handoff':
      return isIndex(command.finalIndex) && isIndex(command.fromIndex) && areForwarded(command.entries) && Number.isFinite(command.sourceClockMs);
    default:
      return false;
  }
}

/** Source entries as the target applies them to the moving range: key commands, expiries, flushes. */
function areForwarded(entries: readonly ForwardedEntry[]): boolean {
  for (const entry of entries) {
    if (!isIndex(entry.index) || !(entry.data instanceof Uint8Array)) return false;
    const command = decode(entry.data);
    if (command === null || !Number.isFinite((command as { nowMs?: unknown }).nowMs)) return false;
    if (command.kind === 'command' ? !areBytes(command.argv) || command.argv.length === 0 : command.kind === 'expire' ? !areBytes(command.keys) : command.kind !== 'flush')
      return false;
  }
  return true;
}

function decode(data: Uint8Array): ShardCommand | null {
  try {
    return decodeShardCommand(data);
  } catch {
    return null;
  }
}

function isApplyResult(value: unknown): value is SplitApplyResult {
  if (typeof value !== 'object' || value === null) return false;
  const result = value as Fields;
  if (!isSplitStateOrNull(result['state'])) return false;
  return result['ok'] === true || (result['ok'] === false && typeof result['reason'] === 'string');
}

function isSplitStateOrNull(value: unknown): value is ShardSplitState | null {
  if (value === null) return true;
  if (typeof value !== 'object') return false;
  const state = value as Fields;
  if (!isId(state['taskId']) || !isSlotRange(state['splitSlot'], state['end'])) return false;
  switch (state['role']) {
    case 'source':
      return isId(state['target']) && (state['phase'] === 'begun' || state['phase'] === 'committed') && isIndex(state['commitIndex']);
    case 'target':
      return (
        isId(state['source']) &&
        isIndex(state['snapshotIndex']) &&
        isIndex(state['attempt']) &&
        isBytesOrNull(state['nextCursor']) &&
        typeof state['snapshotDone'] === 'boolean' &&
        isIndex(state['lastSourceIndex']) &&
        typeof state['handedOff'] === 'boolean' &&
        isIndex(state['bytesIngested'])
      );
    default:
      return false;
  }
}

function isOwnedRange(value: unknown): value is OwnedRange {
  if (typeof value !== 'object' || value === null) return false;
  const range = value as Fields;
  return isSlotRange(range['start'], range['end']);
}

function isId(value: unknown): value is string {
  return isIdString(value, ID_CHARS_MAX);
}

/** `splitSlot` and `end` bound a range of slots. */
function isSlotRange(splitSlot: unknown, end: unknown): boolean {
  return isIndex(splitSlot) && isIndex(end) && splitSlot <= end && end <= SLOT_COUNT;
}

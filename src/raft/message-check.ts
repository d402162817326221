/**
 * Whether a value received from the wire is a Raft message Raft can step: every field of the right type,
 * indexes and terms non-negative safe integers, ids valid, entries numbered on from the message's index
 * and membership lists sorted and disjoint, as Raft itself builds them. A message that passes cannot trip
 * an assertion meant for local bugs; whether it makes sense in the receiver's state is Raft's business.
 * Hand-written rather than a schema library: it runs for every message a node receives.
 */
import { isBytesOrNull, isIndex } from '../common/wire-check.js';
import type { Entry } from './log-entry.js';
import type { Message } from './message.js';
import { isValidNodeId } from './node-id.js';
import type { ConfState, Snapshot } from './snapshot.js';

type Fields = Record<string, unknown>;

export function isMessage(value: unknown): value is Message {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Fields;
  if (!isId(m['from']) || !isId(m['to']) || m['from'] === m['to'] || !isIndex(m['term'])) return false;
  switch (m['type']) {
    case 'MsgApp':
      return isIndex(m['index']) && isIndex(m['logTerm']) && isIndex(m['commit']) && areEntries(m['entries'], m['index'] as number, m['logTerm'] as number, m['term'] as number);
    case 'MsgAppResp':
      return isIndex(m['index']) && typeof m['reject'] === 'boolean' && isIndex(m['rejectHint']) && isIndex(m['logTerm']);
    case 'MsgVote':
    case 'MsgPreVote':
      return isIndex(m['index']) && isIndex(m['logTerm']) && typeof m['transfer'] === 'boolean';
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      return typeof m['reject'] === 'boolean' && isIndex(m['commit']) && isIndex(m['commitTerm']);
    case 'MsgHeartbeat':
      return isIndex(m['commit']) && isBytesOrNull(m['context']);
    case 'MsgHeartbeatResp':
      return isBytesOrNull(m['context']);
    case 'MsgSnap':
      return isSnapshot(m['snapshot']);
    case 'MsgTimeoutNow':
      return true;
    case 'MsgReadIndex':
      return m['context'] instanceof Uint8Array;
    case 'MsgReadIndexResp':
      return isIndex(m['index']) && m['context'] instanceof Uint8Array;
    case 'MsgTransferLeader':
      return isId(m['transferee']);
    default:
      return false;
  }
}

function isId(value: unknown): boolean {
  return typeof value === 'number' && isValidNodeId(value);
}

/**
 * Entries following the one at `index` (of term `logTerm`), one index each, with terms that never
 * decrease (a log's terms never do) nor pass the sender's `term`.
 */
function areEntries(value: unknown, index: number, logTerm: number, term: number): value is readonly Entry[] {
  if (!Array.isArray(value) || logTerm > term) return false;
  let previousTerm = logTerm;
  for (let i = 0; i < value.length; i++) {
    const entry = value[i] as Fields | null;
    if (typeof entry !== 'object' || entry === null) return false;
    const entryTerm = entry['term'];
    if (entry['index'] !== index + 1 + i || !isIndex(entryTerm) || entryTerm < previousTerm || entryTerm > term) return false;
    if ((entry['type'] !== 'normal' && entry['type'] !== 'confChange') || !(entry['data'] instanceof Uint8Array)) return false;
    previousTerm = entryTerm;
  }
  return true;
}

function isSnapshot(value: unknown): value is Snapshot {
  if (typeof value !== 'object' || value === null) return false;
  const snapshot = value as Fields;
  const metadata = snapshot['metadata'] as Fields | null;
  if (!(snapshot['data'] instanceof Uint8Array) || typeof metadata !== 'object' || metadata === null) return false;
  return isIndex(metadata['index']) && isIndex(metadata['term']) && isConfState(metadata['confState']);
}

/** Voters and learners sorted ascending without repeats, and disjoint. */
export function isConfState(value: unknown): value is ConfState {
  if (typeof value !== 'object' || value === null) return false;
  const { voters, learners } = value as Fields;
  if (!isSortedIds(voters) || !isSortedIds(learners)) return false;
  // Both sorted: one merge pass finds a shared id.
  let v = 0;
  let l = 0;
  while (v < voters.length && l < learners.length) {
    if (voters[v] === learners[l]) return false;
    if (voters[v]! < learners[l]!) v++;
    else l++;
  }
  return true;
}

function isSortedIds(value: unknown): value is readonly number[] {
  if (!Array.isArray(value)) return false;
  for (let i = 0; i < value.length; i++) {
    if (!isId(value[i]) || (i > 0 && (value[i] as number) <= (value[i - 1] as number))) return false;
  }
  return true;
}

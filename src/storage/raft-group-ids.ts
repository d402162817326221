/**
 * Where a Raft group's log lives in a node's LMDB environment: a named DB of entries per group, and the
 * group's record (hard state, applied index, compaction point) in the node's meta DB. A shard's group has
 * the shard's id, so a shard and its log are found, and dropped, together.
 */
import { assert } from '../common/errors.js';

/** Longest group id: the same bound NodeStore puts on shard ids, far below LMDB's key size limit. */
export const RAFT_GROUP_ID_CHARS_MAX = 200;

const RAFT_PREFIX = 'raft/';
/** The first string after every `raft/...` key: '0' follows '/' in byte order. */
const RAFT_PREFIX_END = 'raft0';

/** A group id is 1..RAFT_GROUP_ID_CHARS_MAX chars without NUL (LMDB names a DB by a NUL-terminated string). */
export function assertRaftGroupId(groupId: string): void {
  assert(
    groupId.length > 0 && groupId.length <= RAFT_GROUP_ID_CHARS_MAX && !groupId.includes('\0'),
    `raft group id ${JSON.stringify(groupId)} must be 1..${RAFT_GROUP_ID_CHARS_MAX} chars without NUL`,
  );
}

/** Name of the named DB holding the group's entries. */
export function raftLogDbName(groupId: string): string {
  return `${RAFT_PREFIX}${groupId}/log`;
}

/** Key of the group's record in the node's meta DB. */
export function raftRecordKey(groupId: string): string {
  return RAFT_PREFIX + groupId;
}

/** The meta-DB key range holding every group's record, for listing them (a fresh object: lmdb-js annotates it). */
export function raftRecordRange(): { start: string; end: string } {
  return { start: RAFT_PREFIX, end: RAFT_PREFIX_END };
}

/** The group id a record key (from RAFT_RECORD_RANGE) belongs to. */
export function raftGroupIdOfRecordKey(key: string): string {
  assert(key.startsWith(RAFT_PREFIX), `${JSON.stringify(key)} is not a raft record key`);
  return key.slice(RAFT_PREFIX.length);
}

import { assert } from '../common/errors.js';
import { isValidNodeId, type NodeId } from './node-id.js';

/**
 * A single-server membership change (Raft thesis §4.1: one server at a time, so any majority of the old
 * configuration overlaps any majority of the new one and no joint consensus is needed). Voters are added
 * as learners first and promoted once caught up, so adding a member never stalls commits while it
 * copies the log.
 */
export type ConfChangeType = 'addLearner' | 'promoteLearner' | 'removeNode';

/** One membership change. `context` is opaque to Raft (e.g. the new member's address). */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  readonly context: Uint8Array;
}

const TYPE_CODES: readonly ConfChangeType[] = ['addLearner', 'promoteLearner', 'removeNode'];
const HEADER_BYTES = 1 + 8;

/** Encodes a change as entry data: type code (1 byte), node id (float64 LE), context. */
export function encodeConfChange(change: ConfChange): Uint8Array {
  assert(isValidNodeId(change.nodeId), `conf change node id ${change.nodeId} is not a valid id`);
  const out = new Uint8Array(HEADER_BYTES + change.context.byteLength);
  out[0] = TYPE_CODES.indexOf(change.type);
  new DataView(out.buffer).setFloat64(1, change.nodeId, true);
  out.set(change.context, HEADER_BYTES);
  return out;
}

/** Decodes entry data written by `encodeConfChange`. A malformed entry is a bug: it throws. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  assert(data.byteLength >= HEADER_BYTES, 'conf change entry is too short');
  const type = TYPE_CODES[data[0]!];
  assert(type !== undefined, `unknown conf change type code ${data[0]}`);
  const nodeId = new DataView(data.buffer, data.byteOffset, data.byteLength).getFloat64(1, true);
  assert(isValidNodeId(nodeId), `conf change node id ${nodeId} is not a valid id`);
  return { type, nodeId, context: data.slice(HEADER_BYTES) };
}

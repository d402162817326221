/**
 * A Raft peer's id: a positive safe integer, unique within one Raft group. `NONE` (0) means "no peer": no
 * leader known, no vote cast.
 */
export type NodeId = number;

/** The id that names no peer. */
export const NONE: NodeId = 0;

/** Whether `id` can name a peer (positive safe integer). */
export function isValidNodeId(id: number): boolean {
  return Number.isSafeInteger(id) && id > 0;
}

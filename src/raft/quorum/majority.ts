import type { NodeId } from '../node-id.js';

/** Outcome of counting votes (or acks) of a majority configuration. */
export type VoteResult = 'won' | 'lost' | 'pending';

/** Votes needed out of `voterCount`. */
export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The largest index stored on a quorum of `voters`: sort the voters' match indexes descending and take
 * the quorum-th. Voters without progress count as 0.
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number | undefined): number {
  if (voters.length === 0) return 0;
  const matches = voters.map((id) => matchOf(id) ?? 0).sort((a, b) => b - a);
  return matches[quorumSize(voters.length) - 1]!;
}

/** Won when a quorum granted, lost when a quorum can no longer grant, else pending. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === undefined) missing++;
    else if (vote) granted++;
  }
  const quorum = quorumSize(voters.length);
  if (granted >= quorum) return 'won';
  if (granted + missing >= quorum) return 'pending';
  return 'lost';
}

/** Whether the voters in `acks` form a quorum of `voters`. */
export function hasQuorum(voters: readonly NodeId[], acks: ReadonlySet<NodeId>): boolean {
  let count = 0;
  for (const id of voters) if (acks.has(id)) count++;
  return count >= quorumSize(voters.length);
}

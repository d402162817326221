/**
 * What a shard's Raft leader does next to move the group's membership towards the replicas the routing
 * table wants, and when a node stops its copy of a shard that no longer lists it. Pure decisions over a
 * Raft `Status`, so the node (shard-groups.ts) and the whole-cluster simulation take exactly the same
 * steps: add a learner, promote it once caught up, remove a member no longer wanted, hand leadership to
 * a caught-up voter before removing the leader itself — one committed change at a time.
 */
import type { NodeId, Status } from '../raft/index.js';

/** Ticks between a leader's checks of its group's membership against the routing table. */
export const MEMBERSHIP_CHECK_TICKS = 5;

/** A learner within this many entries of the leader's commit index is caught up enough to vote. */
export const LEARNER_CAUGHT_UP_ENTRIES = 100;

/** One step of a membership change, for the leader to carry out. */
export type MembershipStep =
  | { readonly kind: 'transferLeadership'; readonly to: NodeId }
  | { readonly kind: 'addLearner' | 'promoteLearner' | 'removeNode'; readonly nodeId: NodeId };

/**
 * The next step for the leader `self` of a group whose status is `status`, given the desired members and
 * the member the routing table asks to lead (if any); undefined when there is nothing to do now (the
 * membership matches, or the step must wait: no successor caught up, a learner still copying).
 */
export function nextMembershipStep(status: Status, desired: readonly NodeId[], self: NodeId, transferTo: NodeId | undefined): MembershipStep | undefined {
  const progress = status.progress;
  if (progress === null) return undefined;
  const { voters, learners } = status.confState;
  // A transfer blocks proposals until it completes or times out, so only a live, caught-up voter gets one.
  const canLead = (n: NodeId): boolean => {
    const p = progress.get(n);
    return n !== self && voters.includes(n) && p !== undefined && p.recentActive && p.match + LEARNER_CAUGHT_UP_ENTRIES >= status.commit;
  };
  if (transferTo !== undefined && canLead(transferTo)) return { kind: 'transferLeadership', to: transferTo };
  if (!desired.includes(self)) {
    // Hand over to the most caught-up voter that stays; the new leader then removes us.
    const successor = voters
      .filter((v) => desired.includes(v) && canLead(v))
      .sort((a, b) => (progress.get(b)?.match ?? 0) - (progress.get(a)?.match ?? 0))[0];
    return successor === undefined ? undefined : { kind: 'transferLeadership', to: successor };
  }
  const missing = desired.find((n) => !voters.includes(n) && !learners.includes(n));
  if (missing !== undefined) return { kind: 'addLearner', nodeId: missing };
  const ready = learners.find((n) => desired.includes(n) && (progress.get(n)?.match ?? 0) + LEARNER_CAUGHT_UP_ENTRIES >= status.commit);
  if (ready !== undefined) return { kind: 'promoteLearner', nodeId: ready };
  const extra = [...voters, ...learners].find((n) => !desired.includes(n));
  return extra === undefined ? undefined : { kind: 'removeNode', nodeId: extra };
}

/** What a node knows about one of its replicas that the routing table may no longer want. */
export interface UnwantedReplica {
  /** The routing table still has the shard at all. */
  readonly shardExists: boolean;
  /** The group's membership, as this node last applied it, still has this node. */
  readonly member: boolean;
  /** How long the routing table has not listed this node as a replica of the shard. */
  readonly unwantedForMs: number;
  readonly leading: boolean;
}

/**
 * Whether to stop and drop a replica the routing table does not list: once the group's membership has
 * dropped this node too — or, since a removed member may never hear of its removal (the leader stops
 * writing to it), once it has been unwanted for `graceMs` without leading.
 */
export function shouldDropReplica(replica: UnwantedReplica, graceMs: number): boolean {
  return !replica.shardExists || !replica.member || (replica.unwantedForMs > graceMs && !replica.leading);
}

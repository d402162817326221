/**
 * What a shard's Raft leader does next to move the group's membership towards the replicas the routing
 * table wants, and when a node stops its copy of a shard that no longer lists it. Pure decisions over a
 * Raft `Status`, so the node (shard-groups.ts) and the whole-cluster simulation take exactly the same
 * steps: add a learner, promote it once caught up, remove a member no longer wanted, hand leadership to
 * a caught-up voter before removing the leader itself — one committed change at a time. Members are
 * replica ids (common/replica-ids.ts): a replica the pilot added again has a new one, and its old one
 * goes before the new one comes.
 */
import { nodeNumberOfReplica } from '../common/replica-ids.js';
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
    return n !== self && voters.includes(n) && p?.recentActive === true && p.match + LEARNER_CAUGHT_UP_ENTRIES >= status.commit;
  };
  if (transferTo !== undefined && canLead(transferTo)) return { kind: 'transferLeadership', to: transferTo };
  const leaving = !desired.includes(self);
  if (leaving) {
    // Hand over to the most caught-up voter that stays; the new leader then removes us.
    const successor = voters.filter((v) => desired.includes(v) && canLead(v)).sort((a, b) => (progress.get(b)?.match ?? 0) - (progress.get(a)?.match ?? 0))[0];
    if (successor !== undefined) return { kind: 'transferLeadership', to: successor };
    // No voter that stays can lead yet (a group of one moving to another node): the desired members
    // must be added and promoted first, or the group would wait for a successor forever.
  }
  // A member whose node is wanted under a new replica id is an earlier incarnation of that replica, which
  // its node no longer runs: it leaves before the new one joins, so the group never counts on a member
  // that cannot answer. Not the leader itself, which hands over first (leaving, above).
  const superseded = leaving
    ? undefined
    : [...voters, ...learners].find((n) => n !== self && !desired.includes(n) && desired.some((d) => nodeNumberOfReplica(d) === nodeNumberOfReplica(n)));
  if (superseded !== undefined) return { kind: 'removeNode', nodeId: superseded };
  const missing = desired.find((n) => !voters.includes(n) && !learners.includes(n));
  if (missing !== undefined) return { kind: 'addLearner', nodeId: missing };
  // Caught up means it holds the log (or a snapshot) and answers: in a young group a learner that has
  // received nothing yet is within LEARNER_CAUGHT_UP_ENTRIES of the commit index too, and promoting it
  // makes a voter of an empty replica that may never answer — a group of one member then needs it for
  // every commit, including the one that would remove it.
  const caughtUp = (n: NodeId): boolean => {
    const p = progress.get(n);
    return p?.recentActive === true && p.match > 0 && p.match + LEARNER_CAUGHT_UP_ENTRIES >= status.commit;
  };
  const ready = learners.find((n) => desired.includes(n) && caughtUp(n));
  if (ready !== undefined) return { kind: 'promoteLearner', nodeId: ready };
  // A leaving leader removes nobody: its successor does, itself included.
  if (leaving) return undefined;
  const extra = [...voters, ...learners].find((n) => !desired.includes(n));
  if (extra === undefined) return undefined;
  // The voters that stay must hold a majority that answers and holds the log, or every later commit
  // waits on members that cannot vote: a founding voter that started empty, having first seen the shard
  // after a change, votes for nobody until a leader's snapshot reaches it. Until then the voter stays.
  if (voters.includes(extra)) {
    const staying = voters.filter((n) => n !== extra);
    const answering = staying.filter((n) => n === self || caughtUp(n)).length;
    if (answering * 2 <= staying.length) return undefined;
  }
  return { kind: 'removeNode', nodeId: extra };
}

/**
 * What a node knows about one of its replicas that the routing table no longer lists under the replica
 * id it runs: not at all, or under a new id (the pilot removed and added it again).
 */
export interface UnwantedReplica {
  /** The routing table still has the shard at all. */
  readonly shardExists: boolean;
  /** This node's place in the group as far as it knows (MultiRaft.ownMembership). */
  readonly membership: 'voter' | 'learner' | 'removed' | 'none';
  /** How long the routing table has not listed this node as a replica of the shard under the id it runs. */
  readonly unwantedForMs: number;
  /** How long since this node last heard from a leader of the group (0 while it leads). */
  readonly leaderSilentMs: number;
}

/** How long an unlisted replica waits before it is dropped. */
export interface DropDelays {
  /** For a learner: unlisted, and not hearing from a leader, for this long. */
  readonly graceMs: number;
  /** For a replica no longer a member: not hearing from a leader for this long. */
  readonly silenceMs: number;
}

/**
 * Whether to stop a replica the routing table does not list under the id it runs, dropping its data
 * (unlisted) or rejoining under its new id. A leader talks only to the
 * members of its group, so a replica that still hears from one is a member whatever its own view says:
 * that view may lag (a snapshot taken before the replica was added does not list it), and the group may
 * need its vote to commit its very removal (a group of two voters always does). So a replica is dropped
 * only once no leader has spoken to it for `silenceMs`, and only once a member that applied as far as it
 * did told it that it is no longer a member. A voter is never dropped on a timer: silence may mean there
 * is no leader, and none can be elected without its vote (voters [2, 3] with node 2 restarting) —
 * removed, it learns so when it campaigns. Nor is one that applied its own removal ('removed') until a
 * member confirms it: the members left may not have learned the removal is committed (voters [1, 2]
 * removing 1, node 2 campaigning before the commit reached it), and still need its vote. A learner votes
 * for nothing, so one that never hears of its removal (the leader stops writing to it) goes once
 * unlisted and unspoken to for `graceMs`. A replica of a shard gone from the table goes at once.
 */
export function shouldDropReplica(replica: UnwantedReplica, delays: DropDelays): boolean {
  if (!replica.shardExists) return true;
  switch (replica.membership) {
    case 'none':
      return replica.leaderSilentMs > delays.silenceMs;
    case 'learner':
      return replica.unwantedForMs > delays.graceMs && replica.leaderSilentMs > delays.graceMs;
    case 'voter':
    case 'removed':
      return false;
  }
}

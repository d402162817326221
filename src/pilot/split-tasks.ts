/**
 * The pilot's split tasks (docs/SPLIT.md): creating one lists the target shard in the routing table
 * (serving nothing yet) and marks the source; the source's leader reports each phase its log reaches, and
 * the pilot records it, switching the routing table when the target takes over and dropping the target on
 * a rollback. Pure, as the rest of the pilot's state machine: ids and times come in the commands.
 */
import type { RoutingShard } from '../common/routing.js';
import { isFinalStatus, SPLIT_STATUSES, splitRolledBack, splitRollsForward, type SplitStatus } from '../split/phases.js';
import type { SplitReport } from '../split/types.js';
import type { SplitProgressCommand } from './commands.js';
import type { SplitTask } from './pilot-state.js';

export type { SplitTask } from './pilot-state.js';

/** Finished tasks kept for the API; older ones are forgotten. */
export const SPLIT_TASKS_KEPT = 100;

/** Whether a task may move from `from` to `to`: forward along the phases, or to a rollback before the switch. */
export function isSplitTransition(from: SplitStatus, to: SplitStatus): boolean {
  if (isFinalStatus(from)) return false;
  if (splitRolledBack(to)) return !splitRollsForward(from);
  // Forward only; a phase may be skipped (its report lost), but completion needs the switch first.
  return SPLIT_STATUSES.indexOf(to) > SPLIT_STATUSES.indexOf(from) && (to !== 'completed' || splitRollsForward(from));
}

/** Nodes holding a replica of either shard of an outstanding split: the per-node limit counts these. */
export function nodesInSplit(task: SplitTask, shards: readonly RoutingShard[]): Set<string> {
  const nodes = new Set<string>(task.targetNodes);
  for (const id of [task.sourceShard, task.targetShard]) for (const node of shards.find((s) => s.id === id)?.replicas ?? []) nodes.add(node);
  return nodes;
}

/**
 * The command a source leader's report calls for: undefined when it brings no news, or when a leader of
 * a newer term (`newestTerm`) has reported already, so a deposed leader's late report moves nothing.
 */
export function progressCommandFor(task: SplitTask, report: SplitReport, newestTerm: number | undefined, atMs: number): SplitProgressCommand | undefined {
  const news = report.status !== task.status || (task.splitSlot === null && report.split_slot !== undefined);
  if (!news || (newestTerm !== undefined && report.term < newestTerm)) return undefined;
  return {
    kind: 'split-progress',
    taskId: task.id,
    status: report.status,
    ...(report.split_slot === undefined ? {} : { splitSlot: report.split_slot }),
    ...(report.reason === undefined ? {} : { reason: report.reason }),
    atMs,
  };
}

/** Keeps every outstanding task and the newest finished ones. */
export function pruneSplitTasks(tasks: readonly SplitTask[]): SplitTask[] {
  const finished = tasks.filter((t) => isFinalStatus(t.status));
  const drop = new Set(finished.slice(0, Math.max(0, finished.length - SPLIT_TASKS_KEPT)).map((t) => t.id));
  return tasks.filter((t) => !drop.has(t.id));
}

/**
 * The routing table's shards after the source reports that the target took over: the source keeps
 * [start, splitSlot), the target serves [splitSlot, end), both with a new epoch. The source keeps its
 * marker until it reports `completed`: whichever replica leads it next must still finish the cleanup.
 */
export function switchedShards(shards: readonly RoutingShard[], task: SplitTask): RoutingShard[] {
  const source = shards.find((s) => s.id === task.sourceShard);
  const slot = task.splitSlot;
  if (source === undefined || slot === null) return shards.slice();
  return shards.map((shard) => {
    if (shard.id === task.sourceShard) return { ...shard, end: slot, epoch: shard.epoch + 1 };
    if (shard.id === task.targetShard) return { ...withoutSplit(shard), start: slot, end: source.end, epoch: shard.epoch + 1 };
    return shard;
  });
}

/** The shards once the cleanup is done: the source's marker goes. */
export function completedShards(shards: readonly RoutingShard[], task: SplitTask): RoutingShard[] {
  return shards.map((s) => (s.id === task.sourceShard && s.split?.taskId === task.id ? withoutSplit(s) : s));
}

/** The shards after a rollback: the target is gone, the source unmarked and whole. */
export function rolledBackShards(shards: readonly RoutingShard[], task: SplitTask): RoutingShard[] {
  return shards.filter((s) => s.id !== task.targetShard).map((s) => (s.id === task.sourceShard ? withoutSplit(s) : s));
}

export function withoutSplit(shard: RoutingShard): RoutingShard {
  const { split: _split, ...rest } = shard;
  return rest;
}

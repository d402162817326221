/**
 * The scheduler driver: on the serving pilot leader, every `intervalMs` it builds the cluster snapshot,
 * runs the enabled schedulers (docs/SCHEDULING.md) and carries out their operators through the pilot's
 * own entry points, each with the epoch of the shard as the snapshot saw it, so an operator decided on an
 * older routing table is refused. Every operator it executes, skips or sees refused is a pilot event. An
 * operator is tried once per round: a refused one is proposed again, if still wanted, by the next round.
 */
import type { Cancel, Environment } from '../common/environment.js';
import type { Logger } from '../common/logger.js';
import type { Pilot } from './pilot.js';
import { clusterSnapshot, keptOpsSamples, type NodeLivenessView } from './schedulers/cluster-snapshot.js';
import { drain } from './schedulers/drain.js';
import { leaderRebalance } from './schedulers/leader-rebalance.js';
import { loadSplit } from './schedulers/load-split.js';
import { merge } from './schedulers/merge.js';
import { replicaRebalance } from './schedulers/replica-rebalance.js';
import { repair } from './schedulers/repair.js';
import { runSchedulers, SCHEDULERS } from './schedulers/run-schedulers.js';
import { sizeSplit } from './schedulers/size-split.js';
import type { Operator, OpsSample, Scheduler, SchedulerConfig, SchedulerName } from './schedulers/types.js';

/** How often a round runs unless configured otherwise. */
export const SCHEDULE_INTERVAL_MS = 5000;

/** Splits and merges stay off until they have run in anger: rebalancing and repair move no key range. */
export const SCHEDULERS_ENABLED_DEFAULT: Readonly<Record<SchedulerName, boolean>> = {
  repair: true,
  drain: true,
  'size-split': false,
  'load-split': false,
  merge: false,
  'replica-rebalance': true,
  'leader-rebalance': true,
};

const SCHEDULER_BY_NAME: Readonly<Record<SchedulerName, Scheduler>> = {
  repair,
  drain,
  'size-split': sizeSplit,
  'load-split': loadSplit,
  merge,
  'replica-rebalance': replicaRebalance,
  'leader-rebalance': leaderRebalance,
};

export interface SchedulerDriverConfig {
  readonly intervalMs: number;
  readonly enabled: Readonly<Record<SchedulerName, boolean>>;
  readonly scheduling: SchedulerConfig;
}

/** What the driver needs of the pilot replica. */
export type ScheduledPilot = Pick<Pilot, 'serving' | 'state' | 'liveness' | 'events' | 'changeShardReplicas' | 'createSplit'>;

/** How an operator ended: proposed and accepted, refused by the pilot, or not carried out (no executor). */
export type OperatorOutcome = 'executed' | 'refused' | 'skipped';

const NODE_ACTIONS = { 'add-replica': 'add', 'remove-replica': 'remove', 'transfer-leader': 'transfer_leader' } as const;

export class SchedulerDriver {
  /** Each shard's ops/s samples over the longest window a scheduler reads. */
  private readonly opsSamples = new Map<string, OpsSample[]>();
  private readonly schedulers: readonly Scheduler[];
  private timer: Cancel | undefined;
  private running = false;

  constructor(
    private readonly pilot: ScheduledPilot,
    private readonly env: Environment,
    private readonly logger: Logger,
    private readonly config: SchedulerDriverConfig,
  ) {
    const enabled = new Set((Object.keys(SCHEDULER_BY_NAME) as SchedulerName[]).filter((name) => config.enabled[name]).map((name) => SCHEDULER_BY_NAME[name]));
    this.schedulers = SCHEDULERS.filter((s) => enabled.has(s));
  }

  start(): void {
    this.timer ??= this.env.every(this.config.intervalMs, () => void this.round());
  }

  stop(): void {
    this.timer?.();
    this.timer = undefined;
  }

  /** One round; does nothing off the serving leader or while the previous round still runs. */
  async round(): Promise<void> {
    if (!this.pilot.serving || this.running) return;
    this.running = true;
    try {
      await this.runRound();
    } catch (error) {
      this.logger.warn({ err: error }, 'scheduling round failed');
    } finally {
      this.running = false;
    }
  }

  private async runRound(): Promise<void> {
    const { state, liveness } = this.pilot;
    const nowMs = this.env.now();
    const stats = new Map(
      state.shards.flatMap((shard) => {
        const reported = liveness.shardStats(shard.id, shard.leader);
        return reported === undefined ? [] : [[shard.id, reported] as const];
      }),
    );
    const windowMs = Math.max(this.config.scheduling.temperatureWindowMs, this.config.scheduling.splitQpsWindowMs);
    for (const shardId of this.opsSamples.keys()) if (!stats.has(shardId)) this.opsSamples.delete(shardId);
    for (const [shardId, reported] of stats) {
      this.opsSamples.set(shardId, keptOpsSamples(this.opsSamples.get(shardId) ?? [], { atMs: reported.atMs, opsPerSec: reported.stats.ops_per_sec }, nowMs, windowMs));
    }
    const nodeLiveness = new Map<string, NodeLivenessView>(state.nodes.map((n) => [n.id, { up: liveness.isUp(n.id, nowMs), lastSeenMs: liveness.lastSeen(n.id) }]));
    const snapshot = clusterSnapshot({
      nowMs,
      state,
      liveness: nodeLiveness,
      stats: new Map([...stats].map(([id, reported]) => [id, reported.stats])),
      opsSamples: this.opsSamples,
    });
    const epochs = new Map(state.shards.map((s) => [s.id, s.epoch]));
    const round = runSchedulers(snapshot, this.config.scheduling, this.schedulers);
    for (const finding of round.findings) this.logger.warn({ shard: finding.shardId, slot: finding.slot, scheduler: finding.scheduler }, finding.reason);
    for (const operator of round.operators) {
      if (!this.pilot.serving) return;
      const { outcome, detail } = await this.execute(operator, epochs.get(operator.shardId));
      this.record(operator, outcome, detail);
    }
  }

  private async execute(operator: Operator, epoch: number | undefined): Promise<{ outcome: OperatorOutcome; detail: string | null }> {
    switch (operator.kind) {
      case 'merge':
        return { outcome: 'skipped', detail: 'no merge can be carried out yet' };
      case 'split': {
        const result = await this.pilot.createSplit({ sourceShard: operator.shardId, splitSlot: operator.atSlot });
        return 'ok' in result ? { outcome: 'refused', detail: result.message } : { outcome: 'executed', detail: result.id };
      }
      default: {
        const result = await this.pilot.changeShardReplicas(operator.shardId, NODE_ACTIONS[operator.kind], operator.nodeId, epoch);
        return result.ok ? { outcome: 'executed', detail: null } : { outcome: 'refused', detail: result.message };
      }
    }
  }

  private record(operator: Operator, outcome: OperatorOutcome, detail: string | null): void {
    const nodeId = operator.kind === 'split' || operator.kind === 'merge' ? null : operator.nodeId;
    this.pilot.events.record({
      kind: 'scheduler-operator',
      at_ms: this.env.now(),
      scheduler: operator.scheduler,
      operator: operator.kind,
      shard_id: operator.shardId,
      node_id: nodeId,
      reason: operator.reason,
      outcome,
      detail,
    });
    const fields = { scheduler: operator.scheduler, operator: operator.kind, shard: operator.shardId, node_id: nodeId, outcome, detail };
    if (outcome === 'refused') this.logger.warn(fields, operator.reason);
    else this.logger.info(fields, operator.reason);
  }
}

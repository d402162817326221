/**
 * The nemesis proper: a seeded schedule of faults against a real cluster. Two loops run side by side
 * until the deadline:
 * - the crash loop, one fault at a time, each held for a few seconds and then undone: kill -9 and restart
 *   of a node or of a pilot, SIGSTOP/SIGCONT of a node, and partitions of the bus (one node isolated, a
 *   minority cut from the majority, or either of those cut one way only: the minority's messages lost
 *   while it still hears the majority, or the other way round). It never takes down more than a
 *   minority of the nodes or pilots.
 * - the topology loop: splits back to back, leader transfers and replica moves through the pilot's API.
 * Every fault is logged with its time. The schedule (which fault, which target, how long) comes from the
 * seed; the times at which the cluster answers do not, so a replay repeats the decisions, not the run.
 */
import { respRequest } from '../../src/client/resp-request.js';
import { waitUntil, type TestCluster, type TestNode, type TestPilot } from '../support/cluster.js';
import { seededRandom } from '../support/seeded-random.js';
import { waitForStatus } from '../support/splits.js';

export const FAULT_KINDS = ['kill', 'stop', 'partition', 'pilot-kill', 'split', 'transfer', 'move'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
const CRASH_KINDS: readonly FaultKind[] = ['kill', 'stop', 'partition', 'pilot-kill'];
const TOPOLOGY_KINDS: readonly FaultKind[] = ['split', 'transfer', 'move'];

/** One line of the fault log: a fault begins, ends, or was refused. */
export interface FaultEvent {
  readonly atMs: number;
  readonly kind: FaultKind;
  readonly phase: 'begin' | 'end' | 'refused';
  readonly detail: string;
}

const CRASH_GAP_MS: readonly [number, number] = [1_000, 3_000];
const KILL_HOLD_MS: readonly [number, number] = [2_000, 6_000];
const STOP_HOLD_MS: readonly [number, number] = [1_000, 5_000];
const PARTITION_HOLD_MS: readonly [number, number] = [3_000, 8_000];
/** The share of partitions that cut one direction only. */
const ONE_WAY_SHARE = 1 / 3;
const TOPOLOGY_GAP_MS: readonly [number, number] = [1_000, 4_000];
/** Longest wait for a restarted process to serve again before the next fault. */
const RECOVERY_WAIT_MS = 60_000;
/** Longest wait for one split to finish. */
const SPLIT_WAIT_MS = 90_000;
/** Splits stop once the cluster has this many shards. */
const SHARDS_MAX = 32;
const COMMAND_TIMEOUT_MS = 3_000;

interface ShardEntry {
  id: string;
  slot_range: { start: number; end: number };
  leader: string | null;
  replicas: string[];
  followers: string[];
}

export class Nemesis {
  readonly events: FaultEvent[] = [];
  private readonly stopped = new Set<TestNode>();
  private readonly crashRandom: () => number;
  private readonly topologyRandom: () => number;

  /**
   * @param nodeIds each node's id (as the pilot names it), by index in `cluster.nodes`
   * @param now milliseconds since the run began, shared with the history
   */
  constructor(
    private readonly cluster: TestCluster,
    private readonly nodeIds: readonly string[],
    private readonly kinds: ReadonlySet<FaultKind>,
    private readonly replicas: number,
    seed: number,
    private readonly now: () => number,
  ) {
    this.crashRandom = seededRandom(seed);
    this.topologyRandom = seededRandom(seed ^ 0x5bd1e995);
  }

  /** Runs both loops until `untilMs` (on the `now` clock); each fault in progress is undone before it returns. */
  async run(untilMs: number): Promise<void> {
    await Promise.all([this.crashLoop(untilMs), this.topologyLoop(untilMs)]);
  }

  /** How many faults began, by kind. */
  counts(): Record<FaultKind, number> {
    const counts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
    for (const event of this.events) if (event.phase === 'begin') counts[event.kind]++;
    return counts;
  }

  private log(kind: FaultKind, phase: FaultEvent['phase'], detail: string): void {
    this.events.push({ atMs: Math.round(this.now()), kind, phase, detail });
  }

  private async crashLoop(untilMs: number): Promise<void> {
    const kinds = CRASH_KINDS.filter((k) => this.kinds.has(k));
    if (kinds.length === 0) return;
    const random = this.crashRandom;
    while (this.now() < untilMs) {
      await sleep(between(random, CRASH_GAP_MS));
      if (this.now() >= untilMs) return;
      const kind = kinds[Math.floor(random() * kinds.length)]!;
      switch (kind) {
        case 'kill':
          await this.killNode(random);
          break;
        case 'stop':
          await this.pauseNode(random);
          break;
        case 'partition':
          await this.partition(random);
          break;
        case 'pilot-kill':
          await this.killPilot(random);
          break;
      }
    }
  }

  private async topologyLoop(untilMs: number): Promise<void> {
    const kinds = TOPOLOGY_KINDS.filter((k) => this.kinds.has(k) && (k !== 'move' || this.cluster.nodes.length > this.replicas));
    if (kinds.length === 0) return;
    const random = this.topologyRandom;
    while (this.now() < untilMs) {
      await sleep(between(random, TOPOLOGY_GAP_MS));
      if (this.now() >= untilMs) return;
      const kind = kinds[Math.floor(random() * kinds.length)]!;
      try {
        if (kind === 'split') {
          // Back to back: the second starts as soon as the first has finished.
          await this.split(random);
          if (this.now() < untilMs) await this.split(random);
        } else if (kind === 'transfer') await this.transfer(random);
        else await this.move(random);
      } catch (err) {
        // The pilot may be between leaders, or the target down: the fault did not happen.
        this.log(kind, 'refused', (err as Error).message.split('\n')[0]!);
      }
    }
  }

  private async killNode(random: () => number): Promise<void> {
    const index = Math.floor(random() * this.cluster.nodes.length);
    const node = this.cluster.nodes[index]!;
    const holdMs = between(random, KILL_HOLD_MS);
    await node.kill('SIGKILL');
    this.log('kill', 'begin', `${node.name} (${this.nodeIds[index]}) kill -9, down for ${holdMs} ms`);
    await sleep(holdMs);
    node.start();
    this.log('kill', 'end', `${node.name} restarted`);
    await this.waitServing(node);
  }

  private async pauseNode(random: () => number): Promise<void> {
    const node = this.cluster.nodes[Math.floor(random() * this.cluster.nodes.length)]!;
    const holdMs = between(random, STOP_HOLD_MS);
    if (!node.running) return;
    process.kill(node.child!.pid!, 'SIGSTOP');
    this.stopped.add(node);
    this.log('stop', 'begin', `${node.name} SIGSTOP for ${holdMs} ms`);
    await sleep(holdMs);
    this.resume(node);
    this.log('stop', 'end', `${node.name} SIGCONT`);
  }

  private resume(node: TestNode): void {
    if (this.stopped.delete(node) && node.running) process.kill(node.child!.pid!, 'SIGCONT');
  }

  /**
   * One node cut from the rest, or (with five nodes) a minority of two from the majority; both ways, or
   * one way only: what the minority sends is lost while it still hears the majority (a leader there
   * keeps believing it leads), or the minority hears nothing while its messages still arrive (it
   * campaigns at the majority).
   */
  private async partition(random: () => number): Promise<void> {
    const count = this.cluster.nodes.length;
    const order = shuffled(random, [...Array(count).keys()]);
    const minoritySize = count >= 5 && random() < 0.5 ? Math.floor((count - 1) / 2) : 1;
    const minority = order.slice(0, minoritySize);
    const majority = order.slice(minoritySize);
    const holdMs = between(random, PARTITION_HOLD_MS);
    const oneWay = random() < ONE_WAY_SHARE;
    const names = (side: number[]): string => side.map((i) => this.cluster.nodes[i]!.name).join(',');
    // Each cut is set on the sending side; a node that cannot be reached keeps its links (logged).
    const failed: string[] = [];
    const cut = async (senders: readonly number[], receivers: readonly number[], subcommand: string): Promise<void> => {
      for (const i of senders) {
        const ok = await this.debug(this.cluster.nodes[i]!, [subcommand, ...receivers.map((j) => this.nodeIds[j]!)]);
        if (!ok) failed.push(this.cluster.nodes[i]!.name);
      }
    };
    const sides = minoritySize === 1 ? 'isolate' : 'minority/majority';
    let shape: string;
    if (!oneWay) {
      await cut(minority, majority, 'PARTITION');
      await cut(majority, minority, 'PARTITION');
      shape = `${sides} {${names(minority)}} | {${names(majority)}}`;
    } else if (random() < 0.5) {
      await cut(minority, majority, 'PARTITION-ONEWAY');
      shape = `${sides} one-way, {${names(minority)}} -> {${names(majority)}} cut`;
    } else {
      await cut(majority, minority, 'PARTITION-ONEWAY');
      shape = `${sides} one-way, {${names(majority)}} -> {${names(minority)}} cut`;
    }
    this.log('partition', 'begin', `${shape} for ${holdMs} ms${failed.length > 0 ? `; not set on ${failed.join(',')}` : ''}`);
    await sleep(holdMs);
    await this.healPartitions();
    this.log('partition', 'end', 'healed');
  }

  private async killPilot(random: () => number): Promise<void> {
    const pilots = this.cluster.pilots;
    if (pilots.length < 3) return;
    const pilot = pilots[Math.floor(random() * pilots.length)]!;
    const holdMs = between(random, KILL_HOLD_MS);
    await pilot.kill('SIGKILL');
    this.log('pilot-kill', 'begin', `${pilot.name} kill -9, down for ${holdMs} ms`);
    await sleep(holdMs);
    pilot.start();
    this.log('pilot-kill', 'end', `${pilot.name} restarted`);
    await this.waitPilot(pilot);
  }

  private async split(random: () => number): Promise<void> {
    const shards = await this.shards();
    const candidates = shards.filter((s) => s.slot_range.end - s.slot_range.start >= 2);
    if (shards.length >= SHARDS_MAX || candidates.length === 0) return;
    const shard = candidates[Math.floor(random() * candidates.length)]!;
    const { start, end } = shard.slot_range;
    const splitSlot = start + Math.max(1, Math.floor((end - start) * (0.25 + random() * 0.5)));
    const { status, json } = await this.cluster.api('POST', `/api/v1/shards/${shard.id}/split`, { split_slot: splitSlot });
    if (status !== 202) {
      this.log('split', 'refused', `${shard.id} at ${splitSlot}: ${status} ${JSON.stringify(json)}`);
      return;
    }
    const taskId = json.split_task_id as string;
    this.log('split', 'begin', `${shard.id} [${start}, ${end}) at slot ${splitSlot} → ${json.target_shard} (${taskId})`);
    const task = await waitForStatus(this.cluster, taskId, ['completed', 'failed', 'cancelled'], SPLIT_WAIT_MS);
    this.log('split', 'end', `${taskId} ${task.status}${task.reason ? `: ${task.reason}` : ''}`);
  }

  private async transfer(random: () => number): Promise<void> {
    const shards = (await this.shards()).filter((s) => s.leader !== null && s.followers.length > 0);
    if (shards.length === 0) return;
    const shard = shards[Math.floor(random() * shards.length)]!;
    const to = shard.followers[Math.floor(random() * shard.followers.length)]!;
    const { status, json } = await this.cluster.api('POST', `/api/v1/shards/${shard.id}/replicas`, { action: 'transfer_leader', node_id: to });
    this.log('transfer', status === 202 ? 'begin' : 'refused', `${shard.id} leader ${shard.leader} → ${to}${status === 202 ? '' : `: ${status} ${JSON.stringify(json)}`}`);
  }

  /** Adds a replica on a node the shard is not on, then removes a follower: the shard moves, its replica count stays. */
  private async move(random: () => number): Promise<void> {
    const shards = (await this.shards()).filter((s) => s.leader !== null && s.replicas.length === this.replicas);
    if (shards.length === 0) return;
    const shard = shards[Math.floor(random() * shards.length)]!;
    const outside = this.nodeIds.filter((id) => !shard.replicas.includes(id));
    const removable = shard.followers;
    if (outside.length === 0 || removable.length === 0) return;
    const added = outside[Math.floor(random() * outside.length)]!;
    const removed = removable[Math.floor(random() * removable.length)]!;
    const add = await this.cluster.api('POST', `/api/v1/shards/${shard.id}/replicas`, { action: 'add', node_id: added });
    if (add.status !== 202) {
      this.log('move', 'refused', `${shard.id} add ${added}: ${add.status} ${JSON.stringify(add.json)}`);
      return;
    }
    this.log('move', 'begin', `${shard.id} replica ${removed} → ${added}`);
    await sleep(between(random, [1_000, 3_000]));
    const remove = await this.cluster.api('POST', `/api/v1/shards/${shard.id}/replicas`, { action: 'remove', node_id: removed });
    this.log('move', remove.status === 202 ? 'end' : 'refused', `${shard.id} remove ${removed}: ${remove.status}`);
  }

  /** Undoes every fault: resumes paused nodes, heals partitions, restarts whatever is down. */
  async healAll(): Promise<void> {
    for (const node of [...this.stopped]) this.resume(node);
    for (const pilot of this.cluster.pilots) if (!pilot.running) pilot.start();
    for (const node of this.cluster.nodes) if (!node.running) node.start();
    await this.healPartitions();
  }

  private async healPartitions(): Promise<void> {
    for (const node of this.cluster.nodes) await this.debug(node, ['HEAL']);
  }

  /** Sends DEBUG `args` to a node; false when it did not answer OK. */
  private async debug(node: TestNode, args: readonly string[]): Promise<boolean> {
    if (!node.running || this.stopped.has(node)) return false;
    const [reply] = await respRequest('127.0.0.1', node.port, [['DEBUG', ...args]], COMMAND_TIMEOUT_MS).catch(() => [undefined]);
    return reply === 'OK';
  }

  private async shards(): Promise<ShardEntry[]> {
    const { status, json } = await this.cluster.api('GET', '/api/v1/shards');
    if (status !== 200) throw new Error(`GET /api/v1/shards answered ${status}`);
    return (json as { shards: ShardEntry[] }).shards;
  }

  private async waitServing(node: TestNode): Promise<void> {
    await waitUntil(
      `${node.name} serving`,
      async () => {
        const [reply] = await respRequest('127.0.0.1', node.port, [['CLUSTER', 'INFO']], COMMAND_TIMEOUT_MS);
        return String(reply).includes('cluster_state:ok');
      },
      undefined,
      RECOVERY_WAIT_MS,
    ).catch((err: Error) => this.log('kill', 'refused', err.message.split('\n')[0]!));
  }

  private async waitPilot(pilot: TestPilot): Promise<void> {
    await waitUntil(
      `${pilot.name} up`,
      () => fetch(`${pilot.url}/healthz`, { signal: AbortSignal.timeout(COMMAND_TIMEOUT_MS) }).then((r) => r.ok),
      undefined,
      RECOVERY_WAIT_MS,
    ).catch((err: Error) => this.log('pilot-kill', 'refused', err.message.split('\n')[0]!));
  }
}

function between(random: () => number, [low, high]: readonly [number, number]): number {
  return Math.round(low + random() * (high - low));
}

function shuffled<T>(random: () => number, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

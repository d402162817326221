/**
 * A simulated node's side of the node ↔ pilot protocol, in-process where a real node speaks HTTP
 * (node-server.ts with its PilotClient), for one node incarnation:
 * - a heartbeat every HEARTBEAT_INTERVAL_MS, and at once when the node gains a shard's leadership, with
 *   the shards it leads and their terms (the pilot records leaders from these);
 * - split reports from a source shard's leader;
 * - the long poll for the routing table: each newer table is applied after a delay of the node's own,
 *   up to `routingDelayMsMax`.
 * A request goes to the replica that answered last and, as the HTTP call would, fails when that replica
 * is down, cut off from the node, or not the serving leader (the next request goes to the leader it
 * names, or to the next replica); it or its answer may be lost, as the network's messages are; and a
 * replica that crashes with the request in hand never answers it. A failed request answers undefined:
 * the node tries again with its next heartbeat, report or poll.
 */
import { PILOT_REQUEST_TIMEOUT_MS, type HeartbeatResponse } from '../../src/common/protocol.js';
import type { Environment } from '../../src/common/environment.js';
import type { Pilot } from '../../src/pilot/pilot.js';
import type { SplitReport, SplitReportResponse } from '../../src/split/types.js';
import { simEnvironment } from './sim-environment.js';
import type { Scheduler } from './scheduler.js';
import type { SimNetwork } from './sim-network.js';
import type { SimNode } from './sim-node.js';
import type { SimPilotGroup, SimPilotReplica } from './sim-pilot.js';

/** Virtual ms between a node's heartbeats. */
export const HEARTBEAT_INTERVAL_MS = 200;
/** How long the pilot holds a routing long poll (a real node asks for 25 s). */
const ROUTING_POLL_WAIT_MS = 25_000;
/** Virtual ms a node waits after a failed routing poll before it polls again. */
const ROUTING_POLL_RETRY_MS = 100;

/** What a node's pilot link needs from the simulation around it. */
export interface SimPilotLinkEnv {
  readonly scheduler: Scheduler;
  readonly pilots: SimPilotGroup;
  readonly network: SimNetwork<Buffer>;
  /** Chance that a request, or its answer, is lost. */
  readonly lossProbability: number;
  /** A request and an answer each take [1, delayMsMax] virtual ms. */
  readonly delayMsMax: number;
  /** A newer routing table reaches the node within [0, routingDelayMsMax] of the poll's answer. */
  readonly routingDelayMsMax: number;
  /** A split report, or its answer, was lost. */
  onReportLost(): void;
  trace(line: string): void;
  fail(message: string): void;
}

/** Why a request got no answer. */
const NO_ANSWER = Symbol('no answer');

/** One node incarnation's link to the pilot; see the module comment. */
export class SimPilotLink {
  private readonly env: Environment;
  private running = true;
  /** The pilot replica asked first. */
  private preferred: string;
  private heartbeatScheduled = false;
  private readonly stopHeartbeats: () => void;
  private poll: AbortController | undefined;

  constructor(
    private readonly node: SimNode,
    private readonly link: SimPilotLinkEnv,
    private readonly random: () => number,
  ) {
    this.env = simEnvironment(
      link.scheduler,
      random,
      () => this.running && node.alive,
      (reason) => link.fail(`${node.name}'s pilot link halts: ${reason}`),
      // The link is part of the node's process: it stops with it.
      node.gate,
    );
    this.preferred = link.pilots.ids[0]!;
    this.stopHeartbeats = this.env.every(HEARTBEAT_INTERVAL_MS, () => this.heartbeat());
    void this.followRouting();
  }

  /** The incarnation ended: nothing more goes to the pilot, and its held long poll is let go. */
  stop(): void {
    this.running = false;
    this.stopHeartbeats();
    this.poll?.abort();
  }

  /** The node gained or lost a shard's leadership: it heartbeats at once if it leads anything. */
  leadershipChanged(): void {
    if (this.heartbeatScheduled) return;
    this.heartbeatScheduled = true;
    this.env.soon(() => {
      this.heartbeatScheduled = false;
      if ((this.node.core.groups?.leaders().length ?? 0) > 0) this.heartbeat();
    });
  }

  /** A split source's leader reports; undefined when the report or its answer was lost, or the pilot refused it. */
  async reportSplit(report: SplitReport): Promise<SplitReportResponse | undefined> {
    const answer = await this.request((pilot) => pilot.reportSplit(report), PILOT_REQUEST_TIMEOUT_MS);
    if (answer === NO_ANSWER) {
      this.link.onReportLost();
      return undefined;
    }
    if ('ok' in answer) {
      this.link.trace(`${this.node.name} split report ${report.task_id} ${report.status} refused: ${answer.message}`);
      return undefined;
    }
    return answer;
  }

  private heartbeat(): void {
    const { core, name } = this.node;
    const request = { node_id: name, pid: 0, routing_version: core.routingVersion, shards: core.shardStats(HEARTBEAT_INTERVAL_MS), leaders: core.groups?.leaders() ?? [] };
    this.request((pilot) => pilot.heartbeat(request), PILOT_REQUEST_TIMEOUT_MS).then(
      (answer: HeartbeatResponse | undefined | typeof NO_ANSWER) => {
        if (answer === undefined) this.link.fail(`the pilot does not know ${name}, which it was given at the start`);
        else if (answer !== NO_ANSWER && answer.routing !== undefined) this.node.sync(answer.routing);
      },
      (error: unknown) => this.link.fail(`${name}'s heartbeat failed: ${error instanceof Error ? error.stack : String(error)}`),
    );
  }

  /** The long poll: asks for a table newer than the node's, and applies each one after the node's delay. */
  private async followRouting(): Promise<void> {
    while (this.running) {
      const poll = new AbortController();
      this.poll = poll;
      const after = this.node.core.routingVersion;
      const table = await this.request((pilot) => pilot.pollRouting(after, ROUTING_POLL_WAIT_MS, poll.signal), ROUTING_POLL_WAIT_MS + PILOT_REQUEST_TIMEOUT_MS);
      poll.abort();
      if (table === NO_ANSWER || table === undefined) {
        await this.env.sleep(ROUTING_POLL_RETRY_MS);
        continue;
      }
      if (table.version <= this.node.core.routingVersion) continue;
      await this.env.sleep(Math.floor(this.random() * (this.link.routingDelayMsMax + 1)));
      this.node.sync(table);
    }
  }

  /**
   * One request to the pilot replica asked first, as the HTTP call goes: it travels, the replica handles
   * it if it serves, the answer travels back. NO_ANSWER when it failed; see the module comment.
   */
  private async request<T>(handle: (pilot: Pilot) => Promise<T>, timeoutMs: number): Promise<T | typeof NO_ANSWER> {
    const id = this.preferred;
    if (this.lost()) return this.lostOnTheWay();
    await this.env.sleep(this.delayMs());
    const replica = this.reachable(id);
    if (replica === undefined) {
      this.preferred = this.nextAfter(id);
      return NO_ANSWER;
    }
    const status = replica.pilot!.replication();
    if (!status.serving) {
      // 421 with the leader's URL, or 503 while it knows none.
      const leader = status.leader?.id;
      this.preferred = leader !== undefined && leader !== id ? leader : this.nextAfter(id);
      return NO_ANSWER;
    }
    const answer = await this.answerOf(replica, handle(replica.pilot!), timeoutMs);
    if (answer === NO_ANSWER || this.reachable(id) === undefined) return NO_ANSWER;
    if (this.lost()) return this.lostOnTheWay();
    await this.env.sleep(this.delayMs());
    return answer;
  }

  /** The replica's answer; NO_ANSWER if it crashes first or the request times out. */
  private answerOf<T>(replica: SimPilotReplica, answer: Promise<T>, timeoutMs: number): Promise<T | typeof NO_ANSWER> {
    return new Promise((resolve, reject) => {
      const cancelTimeout = this.env.after(timeoutMs, () => resolve(NO_ANSWER));
      void replica.crashed.then(() => {
        cancelTimeout();
        resolve(NO_ANSWER);
      });
      answer.then(
        (value) => {
          cancelTimeout();
          resolve(value);
        },
        (error: unknown) => {
          cancelTimeout();
          // A crashed replica's disk throws: the request dies with the process.
          if (replica.alive) reject(error);
          else resolve(NO_ANSWER);
        },
      );
    });
  }

  /** The replica if it runs and the node reaches it. */
  private reachable(id: string): SimPilotReplica | undefined {
    const { network } = this.link;
    const name = this.node.name;
    if (network.isCut(name, id) || network.isClogged(name) || network.isClogged(id)) return undefined;
    return this.link.pilots.replica(id);
  }

  private nextAfter(id: string): string {
    const ids = this.link.pilots.ids;
    return ids[(ids.indexOf(id) + 1) % ids.length]!;
  }

  private lost(): boolean {
    return this.random() < this.link.lossProbability;
  }

  /** A lost request or answer: the caller hears nothing back. */
  private async lostOnTheWay(): Promise<typeof NO_ANSWER> {
    await this.env.sleep(this.link.delayMsMax * 2);
    return NO_ANSWER;
  }

  private delayMs(): number {
    return 1 + Math.floor(this.random() * this.link.delayMsMax);
  }
}

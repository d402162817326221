/**
 * Three MultiRafts for driver tests: each on its own NodeStore over the simulation's fake LMDB, on one
 * virtual-time scheduler, with a network that delivers every message after DELIVERY_MS; node 1 campaigns
 * for every group and leads.
 */
import assert from 'node:assert/strict';
import { MultiRaft, type GroupStateMachine } from '../../src/multiraft/multi-raft.js';
import type { PeerMessage } from '../../src/multiraft/peer-message.js';
import type { NodeId } from '../../src/raft/index.js';
import { Scheduler } from '../sim/scheduler.js';
import { openSimStore } from '../sim/sim-store.js';
import { NoData } from './no-data.js';

export const TICK_MS = 10;
export const ELECTION_TICKS = 10;
export const DELIVERY_MS = 2;
export const NODE_IDS: readonly NodeId[] = [1, 2, 3];

export interface MultiRaftClusterOptions {
  readonly groups: readonly string[];
  /** Each node's state machine of a group (default NoData). */
  readonly machine?: (id: NodeId, scheduler: Scheduler) => GroupStateMachine;
  /** Each node's persist, given the store's commitAll (default: that at once). */
  readonly persist?: (id: NodeId, commit: () => Promise<void>, scheduler: Scheduler) => Promise<void>;
  /** Virtual ms a scheduled turn waits (default 0). */
  readonly turnMs?: number;
  readonly requestTimeoutTicks?: number;
  /** Sees every batch a node sends. */
  readonly onSend?: (from: NodeId, to: NodeId, messages: readonly PeerMessage[]) => void;
}

export async function multiRaftCluster(options: MultiRaftClusterOptions) {
  const scheduler = new Scheduler();
  const nodes = new Map<NodeId, MultiRaft>();
  const machines = new Map<NodeId, GroupStateMachine>();
  for (const id of NODE_IDS) {
    const { store } = openSimStore({ timers: scheduler, fsyncDelayMs: 1 });
    const machine = options.machine?.(id, scheduler) ?? new NoData();
    const multiRaft = new MultiRaft(
      {
        id,
        electionTicks: ELECTION_TICKS,
        heartbeatTicks: 1,
        random: () => 0.5,
        requestTimeoutTicks: options.requestTimeoutTicks ?? 10_000,
        snapshotChunkBytes: 1024,
        snapshotIdleTicks: 100,
        compactAfterEntries: 1_000_000,
        compactKeepEntries: 0,
      },
      {
        send: (to, messages) => {
          options.onSend?.(id, to, messages);
          scheduler.after(DELIVERY_MS, () => {
            for (const message of messages) nodes.get(to)!.receive(id, message);
          });
        },
        persist: () => (options.persist === undefined ? store.commitAll() : options.persist(id, () => store.commitAll(), scheduler)),
        schedule: (fn) => void scheduler.after(options.turnMs ?? 0, fn),
        onFatal: (err) => assert.fail(String(err)),
      },
    );
    for (const group of options.groups) {
      const log = store.openRaftLog(group);
      log.bootstrap([...NODE_IDS]);
      multiRaft.addGroup(group, log, machine);
    }
    nodes.set(id, multiRaft);
    machines.set(id, machine);
    const tick = (): void => {
      multiRaft.tick();
      scheduler.after(TICK_MS, tick);
    };
    scheduler.after(1 + id, tick);
  }
  const node = (id: NodeId): MultiRaft => nodes.get(id)!;
  for (const group of options.groups) node(1).campaign(group);
  await scheduler.runUntil(200);
  for (const group of options.groups) assert.equal(node(1).leadership(group)?.role, 'leader', group);
  return { scheduler, node, machine: (id: NodeId) => machines.get(id)! };
}

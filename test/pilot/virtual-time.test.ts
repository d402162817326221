/**
 * The pilot's core runs on whatever environment it is handed: three real replicas (PilotStateDriver and
 * Pilot) on one virtual clock, an in-memory bus and NodeStores in temp dirs elect a leader, apply a node's
 * join on every replica, and elect another leader, in virtual time, once the first is cut off; the
 * replica holding a single-process pilot's log leads and imports it though another was elected first.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import type { JoinRequest, JoinResponse } from '../../src/common/protocol.js';
import { SPLIT_PARAMS_DEFAULT } from '../../src/split/types.js';
import type { Environment } from '../../src/common/environment.js';
import type { OldPilotLog } from '../../src/pilot/log-store.js';
import { Pilot } from '../../src/pilot/pilot.js';
import type { PilotPeer } from '../../src/pilot/pilot-peers.js';
import { applyPilotCommand, INITIAL_PILOT_STATE } from '../../src/pilot/state.js';
import { NodeStore } from '../../src/storage/node-store.js';
import { Scheduler } from '../sim/scheduler.js';
import { MemoryBusNetwork } from '../support/memory-peer-bus.js';
import { schedulerEnvironment } from '../support/scheduler-environment.js';

const START_MS = 1_800_000_000_000;
const TICK_MS = 100;
const ELECTION_TIMEOUT_MS = 1000;
/** Virtual time an election may take: a few election timeouts. */
const ELECTION_MS_MAX = 10 * ELECTION_TIMEOUT_MS;
const PEERS: readonly PilotPeer[] = [1, 2, 3].map((n) => ({ id: `pilot${n}`, host: '127.0.0.1', port: 7100 + n, busPort: 17100 + n }));

/** Writes the pilots have in flight on their real disks: virtual time stands still until they land. */
const io = { inFlight: 0 };

/** `store`, counting its writes in `io`. */
function countingStore(store: NodeStore): NodeStore {
  return new Proxy(store, {
    get(target, name) {
      const value: unknown = Reflect.get(target, name, target);
      if (typeof value !== 'function') return value;
      if (name !== 'commitAll' && name !== 'putMeta' && name !== 'close') return value.bind(target);
      return (...args: unknown[]) => {
        io.inFlight++;
        return (value.apply(target, args) as Promise<unknown>).finally(() => io.inFlight--);
      };
    },
  });
}

/** What one replica is opened with, where it differs from the others. */
interface ReplicaChoices {
  readonly electionTimeoutMs?: number;
  readonly oldLog?: OldPilotLog;
}

/** Opens a pilot replica for each of PEERS, each on a store in a temp dir of its own, closed after the test. */
async function openPilots(t: TestContext, env: Environment, network: MemoryBusNetwork, choices: Readonly<Record<string, ReplicaChoices>> = {}): Promise<Map<string, Pilot>> {
  let clusterIds = 0;
  const pilots = new Map<string, Pilot>();
  t.after(async () => {
    for (const pilot of pilots.values()) await pilot.close();
  });
  for (const peer of PEERS) {
    const dir = mkdtempSync(join(tmpdir(), `cleave-pilot-virtual-${peer.id}-`));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const { electionTimeoutMs = ELECTION_TIMEOUT_MS, oldLog } = choices[peer.id] ?? {};
    const pilot = await Pilot.open(
      { expectNodes: 10, shardsPerNode: 2, replicas: 3, nodeTimeoutMs: 3000, split: { params: SPLIT_PARAMS_DEFAULT, maxSplits: 1, maxSplitsPerNode: 1 } },
      {
        env,
        store: countingStore(NodeStore.open(dir, { mapBytes: 64 * 1024 ** 2, databasesMax: 4 })),
        openBus: async () => network.bus(peer.id),
        recoverOldLog: async () => oldLog,
        newClusterId: () => (++clusterIds).toString(16).padStart(40, '0'),
        logger: pino({ level: 'silent' }),
      },
      { selfId: peer.id, peers: PEERS, tickMs: TICK_MS, electionTimeoutMs, logEntriesMax: 2000 },
    );
    pilots.set(peer.id, pilot);
  }
  return pilots;
}

/** Runs virtual time, an event at a time and each only once every disk write landed, until `done` holds. */
async function runUntil(scheduler: Scheduler, what: string, done: () => boolean, virtualMsMax: number): Promise<void> {
  const deadlineMs = scheduler.now() + virtualMsMax;
  for (;;) {
    while (io.inFlight > 0) await turn();
    await turn();
    if (done()) return;
    const next = scheduler.nextEventMs();
    assert.ok(next !== undefined && next <= deadlineMs, `${what} within ${virtualMsMax} virtual ms`);
    await scheduler.runUntil(next);
  }
}

/** Runs virtual time until `promise` settles; resolves with its value. */
async function settle<T>(scheduler: Scheduler, what: string, promise: Promise<T>): Promise<T> {
  let settled = false;
  const tracked = promise.finally(() => (settled = true));
  await runUntil(scheduler, what, () => settled, ELECTION_MS_MAX);
  return tracked;
}

function joinRequest(n: number): JoinRequest {
  return { host: '127.0.0.1', port: 7000 + n, bus_port: 17000 + n, metrics_port: 0, pid: 4000 + n };
}

test('three pilot replicas on virtual time elect a leader, apply a join everywhere, and elect another once the leader is cut off', async (t) => {
  const scheduler = new Scheduler(START_MS);
  const env = schedulerEnvironment(scheduler, 7);
  const network = new MemoryBusNetwork(scheduler);
  const pilots = await openPilots(t, env, network);
  const all = [...pilots.values()];
  const servingIds = (): string[] => [...pilots].filter(([, p]) => p.replication().serving).map(([id]) => id);

  // An election, in virtual time: one leader, known to all three.
  await runUntil(
    scheduler,
    'a serving leader known to every replica',
    () => servingIds().length === 1 && all.every((p) => p.replication().leader?.id === servingIds()[0]),
    ELECTION_MS_MAX,
  );
  const firstId = servingIds()[0]!;
  const first = pilots.get(firstId)!;
  const firstTerm = first.replication().term;
  assert.ok(scheduler.now() > START_MS, 'the election took virtual time');
  const follower = all.find((p) => p !== first)!;
  const refused = await settle(scheduler, 'a follower answers a join', follower.join(joinRequest(1)));
  assert.deepEqual(
    { ...refused, message: undefined },
    { ok: false, reason: 'notLeader', message: undefined, leaderId: firstId, leaderUrl: `http://127.0.0.1:${PEERS.find((p) => p.id === firstId)!.port}` },
  );

  // A join through the leader is applied, with its time, on all three.
  const joinedAtMs = scheduler.now();
  const joined = (await settle(scheduler, 'the leader answers a join', first.join(joinRequest(1)))) as JoinResponse;
  assert.equal(joined.node_id, 'node1');
  await runUntil(scheduler, 'node1 on every replica', () => all.every((p) => p.state.nodes.length === 1), ELECTION_MS_MAX);
  for (const pilot of all) {
    const [node] = pilot.state.nodes;
    assert.deepEqual(
      { id: node!.id, host: node!.host, port: node!.port, busPort: node!.busPort, clusterId: node!.clusterId, joinedAtMs: node!.joinedAtMs },
      // The refused join drew two ids (the node's and an incarnation) before the follower refused it.
      { id: 'node1', host: '127.0.0.1', port: 7001, busPort: 17001, clusterId: '3'.padStart(40, '0'), joinedAtMs },
    );
    assert.equal(pilot.state.routingVersion, first.state.routingVersion);
    // Each replica records the events when it applies the join, on the same virtual clock.
    const { events } = pilot.events.since(0, 10);
    assert.deepEqual(
      events.map((e) => e.kind),
      ['node-registered', 'routing-version-changed'],
    );
    for (const event of events) assert.ok(event.at_ms >= joinedAtMs && event.at_ms <= scheduler.now(), `recorded at ${event.at_ms}, joined at ${joinedAtMs}`);
  }

  // The leader is cut off: the other two elect one of them in a later term, within a few election timeouts.
  const droppedBeforeCut = network.dropped;
  network.cut(firstId);
  const cutAtMs = scheduler.now();
  const others = all.filter((p) => p !== first);
  await runUntil(scheduler, 'a new leader among the other two', () => others.some((p) => p.replication().serving), ELECTION_MS_MAX);
  const second = others.find((p) => p.replication().serving)!;
  const secondView = second.replication();
  assert.notEqual(secondView.selfId, firstId);
  assert.ok(secondView.term > firstTerm, `term ${secondView.term} after ${firstTerm}`);
  assert.equal(droppedBeforeCut, 0, 'every message arrived while all were connected');
  assert.ok(network.dropped > 0, 'messages to and from the cut-off leader were dropped');
  const electedAfterMs = scheduler.now() - cutAtMs;
  assert.ok(electedAfterMs >= ELECTION_TIMEOUT_MS / 2 && electedAfterMs <= ELECTION_MS_MAX, `elected ${electedAfterMs} virtual ms after the cut`);

  // It serves: a second join is applied on both of the connected replicas, not on the cut-off one.
  const rejoined = (await settle(scheduler, 'the new leader answers a join', second.join(joinRequest(2)))) as JoinResponse;
  assert.equal(rejoined.node_id, 'node2');
  await runUntil(scheduler, 'node2 on the connected replicas', () => others.every((p) => p.state.nodes.length === 2), ELECTION_MS_MAX);
  assert.deepEqual(
    others.map((p) => p.state.nodes.map((n) => n.id)),
    [
      ['node1', 'node2'],
      ['node1', 'node2'],
    ],
  );
  assert.deepEqual(
    first.state.nodes.map((n) => n.id),
    ['node1'],
  );

  // Reconnected, the old leader follows the new one and catches up.
  network.reconnect(firstId);
  await runUntil(
    scheduler,
    'the old leader following and caught up',
    () => first.state.nodes.length === 2 && first.replication().leader?.id === secondView.selfId,
    ELECTION_MS_MAX,
  );
  assert.equal(first.replication().serving, false);
  assert.deepEqual(servingIds(), [secondView.selfId]);
  assert.deepEqual(env.halts, []);
});

test('the replica holding a single-process log leads and imports it, though another replica was elected while it followed', async (t) => {
  const scheduler = new Scheduler(START_MS);
  const env = schedulerEnvironment(scheduler, 7);
  const network = new MemoryBusNetwork(scheduler);
  const oldState = applyPilotCommand(INITIAL_PILOT_STATE, {
    kind: 'register-node',
    clusterId: '1'.padStart(40, '0'),
    host: '127.0.0.1',
    port: 7001,
    busPort: 17001,
    metricsPort: 0,
    pid: 4001,
    atMs: START_MS,
  }).state;
  // pilot1 holds the old log. Its campaign at the start is lost, and it waits longest to campaign again:
  // pilot2 or pilot3 is elected while pilot1 follows, and pilot1 first asks it to hand over before it serves.
  network.cut('pilot1');
  const pilots = await openPilots(t, env, network, { pilot1: { electionTimeoutMs: 5 * ELECTION_TIMEOUT_MS, oldLog: { state: oldState, path: 'the old log' } } });
  const all = [...pilots.values()];
  const importer = pilots.get('pilot1')!;
  await runUntil(scheduler, "pilot1's first campaign lost", () => scheduler.now() > START_MS + 10, ELECTION_MS_MAX);
  network.reconnect('pilot1');
  await runUntil(scheduler, 'a serving leader', () => all.some((p) => p.replication().serving), ELECTION_MS_MAX);
  const first = all.find((p) => p.replication().serving)!;
  assert.notEqual(first.replication().selfId, 'pilot1');
  assert.equal(first.state.routingVersion, 0, 'the first leader serves an empty state');

  await runUntil(
    scheduler,
    'pilot1 serving the imported state on every replica',
    () => importer.replication().serving && all.every((p) => p.state.routingVersion === oldState.routingVersion),
    ELECTION_MS_MAX,
  );
  for (const pilot of all) assert.deepEqual(pilot.state, oldState);
  assert.deepEqual(env.halts, []);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from '../sim/scheduler.js';
import { faultPlan, SimNetwork, type FaultStep, type SimNetworkOptions } from '../sim/sim-network.js';
import { seededRandom } from '../support/seeded-random.js';

const NODES = ['node1', 'node2', 'node3', 'node4', 'node5'];
const RELIABLE: SimNetworkOptions = { delayMsMin: 1, delayMsMax: 10, lossProbability: 0, duplicateProbability: 0 };

interface Delivery {
  readonly atMs: number;
  readonly from: string;
  readonly to: string;
  readonly payload: string;
}

/** A network of NODES whose every delivery is recorded. */
function fixture(seed: number, options: SimNetworkOptions = RELIABLE): { scheduler: Scheduler; network: SimNetwork<string>; deliveries: Delivery[] } {
  const scheduler = new Scheduler();
  const network = new SimNetwork<string>(scheduler, seededRandom(seed), options);
  const deliveries: Delivery[] = [];
  for (const node of NODES) network.addNode(node, (from, payload) => deliveries.push({ atMs: scheduler.now(), from, to: node, payload }));
  return { scheduler, network, deliveries };
}

/** Every node sends `count` numbered messages to every other node, one round per ms. */
function chatter(scheduler: Scheduler, network: SimNetwork<string>, rounds: number, startMs = scheduler.now()): void {
  for (let round = 0; round < rounds; round++) {
    scheduler.at(startMs + round, () => {
      for (const from of NODES) for (const to of NODES) if (from !== to) network.deliver(from, to, `${from}>${to}#${round}`);
    });
  }
}

test('a seed replays the same deliveries in the same order; delays reorder messages', async () => {
  const run = async (seed: number): Promise<Delivery[]> => {
    const { scheduler, network, deliveries } = fixture(seed, { delayMsMin: 1, delayMsMax: 20, lossProbability: 0.1, duplicateProbability: 0.05 });
    chatter(scheduler, network, 20);
    await scheduler.runUntil(1_000);
    return deliveries;
  };
  const first = await run(7);
  assert.deepEqual(await run(7), first);
  assert.notDeepEqual(await run(8), first);
  // Reordering: some pair of messages on one link arrives in the opposite order to the one it was sent in.
  const reordered = first.some((d, i) =>
    first.slice(i + 1).some((later) => later.from === d.from && later.to === d.to && Number(later.payload.split('#')[1]) < Number(d.payload.split('#')[1])),
  );
  assert.ok(reordered, 'random delays reorder messages on a link');
});

test('loss and duplication follow their probabilities: exact counts for a fixed seed', async () => {
  const { scheduler, network, deliveries } = fixture(42, { delayMsMin: 0, delayMsMax: 5, lossProbability: 0.2, duplicateProbability: 0.1 });
  chatter(scheduler, network, 500);
  await scheduler.runUntil(1_000);
  const { sent, lost, duplicated, delivered } = network.stats;
  assert.equal(sent, 10_000);
  assert.deepEqual({ lost, duplicated, delivered }, { lost: 1_978, duplicated: 830, delivered: 8_852 });
  assert.equal(delivered, sent - lost + duplicated);
  assert.equal(deliveries.length, delivered);
  assert.ok(Math.abs(lost / sent - 0.2) < 0.02 && Math.abs(duplicated / (sent - lost) - 0.1) < 0.02);
  assert.equal(network.inFlightCount, 0);
});

test('a message sent once (a bus request or response) is never duplicated; loss draws as before', async () => {
  const { scheduler, network, deliveries } = fixture(42, { delayMsMin: 0, delayMsMax: 5, lossProbability: 0.2, duplicateProbability: 0.5 });
  for (let i = 0; i < 1_000; i++) network.deliver('node1', 'node2', `request#${i}`, true);
  await scheduler.runUntil(100);
  const { sent, lost, duplicated, delivered } = network.stats;
  assert.equal(sent, 1_000);
  assert.equal(duplicated, 0);
  assert.equal(delivered, sent - lost);
  assert.equal(new Set(deliveries.map((d) => d.payload)).size, deliveries.length, 'no payload arrives twice');
  assert.ok(lost > 100 && lost < 300, `about a fifth is lost (${lost})`);
});

test('nothing crosses a partition, not even a message already in flight when it starts; heal restores the links', async () => {
  const { scheduler, network, deliveries } = fixture(3, { delayMsMin: 5, delayMsMax: 30, lossProbability: 0, duplicateProbability: 0 });
  const groupA = ['node1', 'node2'];
  const groupB = ['node3', 'node4', 'node5'];
  const crosses = (d: Delivery): boolean => groupA.includes(d.from) !== groupA.includes(d.to);
  chatter(scheduler, network, 300);
  scheduler.at(100, () => network.partition(groupA, groupB));
  scheduler.at(200, () => network.heal());
  await scheduler.runUntil(1_000);
  const during = deliveries.filter((d) => d.atMs >= 100 && d.atMs < 200);
  assert.ok(during.length > 0);
  assert.deepEqual(during.filter(crosses), [], 'no delivery across the cut while it stands');
  assert.ok(
    during.some((d) => !crosses(d)),
    'links within a side keep working',
  );
  assert.ok(
    deliveries.some((d) => d.atMs >= 200 && crosses(d)),
    'healed links carry messages again',
  );
  assert.equal(network.stats.delivered + network.stats.droppedPartitioned, network.stats.sent);

  network.isolate('node3');
  assert.ok(network.isCut('node3', 'node1') && network.isCut('node5', 'node3') && !network.isCut('node1', 'node2'));
});

test('a clogged node holds its messages both ways and releases them, none lost, after it is unclogged', async () => {
  const { scheduler, network, deliveries } = fixture(5);
  scheduler.at(0, () => network.clog('node2'));
  chatter(scheduler, network, 50);
  scheduler.at(500, () => network.unclog('node2'));
  await scheduler.runUntil(499);
  const touchesNode2 = (d: Delivery): boolean => d.from === 'node2' || d.to === 'node2';
  assert.deepEqual(deliveries.filter(touchesNode2), [], 'nothing to or from a clogged node arrives');
  assert.equal(deliveries.length, 50 * 12, 'the other links are unaffected');
  await scheduler.runUntil(1_000);
  const released = deliveries.filter(touchesNode2);
  assert.equal(released.length, 50 * 8, 'every held message arrives');
  assert.ok(released.every((d) => d.atMs >= 500));
  assert.equal(network.stats.held, 50 * 8);

  // Two clogged ends: a message between them waits for both.
  network.clog('node1');
  network.clog('node3');
  network.deliver('node1', 'node3', 'both');
  await scheduler.runUntil(1_100);
  network.unclog('node1');
  await scheduler.runUntil(1_200);
  assert.ok(!deliveries.some((d) => d.payload === 'both'));
  network.unclog('node3');
  await scheduler.runUntil(1_300);
  assert.ok(deliveries.some((d) => d.payload === 'both'));
});

test('a crashed node sends and receives nothing; a restart does not receive what was sent to the old incarnation', async () => {
  const { scheduler, network, deliveries } = fixture(9, { delayMsMin: 10, delayMsMax: 10, lossProbability: 0, duplicateProbability: 0 });
  network.deliver('node1', 'node2', 'in flight at the crash');
  network.deliver('node2', 'node1', 'sent before the crash');
  await scheduler.runUntil(5);
  network.crash('node2');
  network.deliver('node1', 'node2', 'to a crashed node');
  network.deliver('node2', 'node1', 'from a crashed node');
  await scheduler.runUntil(8);
  network.restart('node2');
  const after: string[] = [];
  network.attach('node2', (_from, payload) => after.push(payload));
  network.deliver('node1', 'node2', 'to the new incarnation');
  await scheduler.runUntil(100);
  assert.deepEqual(
    deliveries.map((d) => d.payload),
    ['sent before the crash'],
    'a message already on the wire from the crashed node still arrives',
  );
  assert.deepEqual(after, ['to the new incarnation']);
  assert.equal(network.stats.droppedCrashed, 3);
});

test('faultPlan: deterministic for a seed, within the duration, and every fault undone by its end', () => {
  const plan = faultPlan(seededRandom(11), NODES, 300_000, { crashes: true });
  assert.deepEqual(faultPlan(seededRandom(11), NODES, 300_000, { crashes: true }), plan);
  assert.notDeepEqual(faultPlan(seededRandom(12), NODES, 300_000, { crashes: true }), plan);
  assert.ok(plan.length > 0);
  const kinds = new Set(plan.map((step) => step.kind));
  for (const kind of ['partition', 'isolate', 'heal', 'clog', 'unclog', 'crash', 'restart'] as const) assert.ok(kinds.has(kind), `the plan has a ${kind}`);
  let cut = false;
  const clogged = new Set<string>();
  const crashed = new Set<string>();
  let lastMs = 0;
  for (const step of plan) {
    assert.ok(step.atMs >= lastMs && step.atMs < 300_000, `step at ${step.atMs} in order and in range`);
    lastMs = step.atMs;
    switch (step.kind) {
      case 'partition':
        assert.equal(step.groupA.length + step.groupB.length, NODES.length);
        assert.ok(step.groupA.length > 0 && step.groupB.length > 0);
        cut = true;
        break;
      case 'isolate':
        cut = true;
        break;
      case 'heal':
        cut = false;
        break;
      case 'clog':
        assert.ok(!clogged.has(step.node));
        clogged.add(step.node);
        break;
      case 'unclog':
        assert.ok(clogged.delete(step.node), `${step.node} was clogged before it is unclogged`);
        break;
      case 'crash':
        crashed.add(step.node);
        break;
      case 'restart':
        assert.ok(crashed.delete(step.node));
        break;
    }
    // One fault at a time: a fault starts only when the previous one is undone.
    const active = Number(cut) + Number(clogged.size > 0) + Number(crashed.size > 0);
    assert.ok(active <= 1, `at ${step.atMs} faults overlap`);
  }
  assert.deepEqual([cut, clogged.size, crashed.size], [false, 0, 0]);
  // Without `crashes`, no node is crashed.
  assert.ok(!faultPlan(seededRandom(11), NODES, 300_000).some((step) => step.kind === 'crash'));
});

test('a swizzle clogs its nodes one by one, then unclogs them in another order', () => {
  let found: FaultStep[] | undefined;
  for (let seed = 1; found === undefined && seed < 100; seed++) {
    const plan = faultPlan(seededRandom(seed), NODES, 30_000);
    const firstClog = plan.findIndex((step) => step.kind === 'clog');
    if (firstClog === -1) continue;
    const swizzle = plan.slice(firstClog, plan.findIndex((step, i) => i > firstClog && step.kind !== 'clog' && step.kind !== 'unclog') >>> 0);
    const clogs = swizzle.filter((step) => step.kind === 'clog').map((step) => (step as { node: string }).node);
    const unclogs = swizzle.filter((step) => step.kind === 'unclog').map((step) => (step as { node: string }).node);
    if (clogs.length >= 3 && clogs.join() !== unclogs.join()) found = swizzle;
  }
  assert.ok(found !== undefined, 'some seed draws a swizzle of 3+ nodes unclogged in a different order');
  const clogTimes = found.filter((step) => step.kind === 'clog').map((step) => step.atMs);
  assert.ok(
    clogTimes.every((t, i) => i === 0 || t > clogTimes[i - 1]!),
    'clogs are spread out, one at a time',
  );
});

test('scheduleFaults runs a plan through the hooks; quiesce cancels the rest and ends every fault', async () => {
  const { scheduler, network, deliveries } = fixture(21, { delayMsMin: 1, delayMsMax: 5, lossProbability: 0.5, duplicateProbability: 0.5 });
  const events: string[] = [];
  network.scheduleFaults(
    [
      { atMs: 10, kind: 'crash', node: 'node4' },
      { atMs: 20, kind: 'clog', node: 'node1' },
      { atMs: 30, kind: 'partition', groupA: ['node2'], groupB: ['node3', 'node5'] },
      { atMs: 1_000, kind: 'restart', node: 'node4' },
      { atMs: 1_000, kind: 'heal' },
    ],
    { onCrash: (node) => events.push(`crash ${node}@${scheduler.now()}`), onRestart: (node) => events.push(`restart ${node}`) },
  );
  await scheduler.runUntil(40);
  assert.deepEqual(events, ['crash node4@10']);
  assert.ok(!network.isUp('node4') && network.isClogged('node1') && network.isCut('node2', 'node3'));
  network.deliver('node1', 'node2', 'held');
  await scheduler.runUntil(50);
  assert.deepEqual(network.quiesce(), ['node4'], 'the crashed node is left for the simulation to restart');
  assert.ok(!network.isClogged('node1') && !network.isCut('node2', 'node3'));
  await scheduler.runUntil(2_000);
  assert.deepEqual(events, ['crash node4@10'], 'the remaining steps were cancelled');
  const before = network.stats.lost;
  for (let i = 0; i < 100; i++) network.deliver('node2', 'node3', `reliable${i}`);
  await scheduler.runUntil(2_100);
  assert.equal(network.stats.lost, before, 'no loss after quiesce');
  assert.equal(deliveries.filter((d) => d.payload.startsWith('reliable')).length, 100, 'and no duplicates');
});

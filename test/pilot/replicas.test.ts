/**
 * The pilot as a Raft group of three in-process replicas (startPilot, free ports, temp dirs): election,
 * redirection of followers' requests to the leader, joins through any replica, failover, catch-up of a
 * restarted replica by snapshot, and refusal of a changed membership.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { freePort } from '../../src/common/free-ports.js';
import { pollUntil } from '../../src/common/poll.js';
import { PilotClient } from '../../src/node/pilot-client.js';
import { pilotUrlOf, type PilotPeer } from '../../src/pilot/pilot-peers.js';
import { startPilot, type PilotOptions, type RunningPilot } from '../../src/pilot/server.js';
import { routingTable } from '../../src/pilot/state.js';
import { messageFrame, rawBusPeer } from '../support/raw-bus-peer.js';

const CLUSTER_SECRET = 'pilot-replicas-secret';
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function cleave(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, CLEAVE_CLUSTER_SECRET: CLUSTER_SECRET } }, (error, stdout, stderr) =>
      done({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
    );
  });
}

interface Replicas {
  readonly peers: readonly PilotPeer[];
  readonly dirs: readonly string[];
  readonly running: (RunningPilot | undefined)[];
  start(index: number, options?: Partial<PilotOptions>): Promise<RunningPilot>;
  stop(index: number): Promise<void>;
  urls(): string[];
}

async function threeReplicas(t: TestContext, options: Partial<PilotOptions> = {}): Promise<Replicas> {
  const peers: PilotPeer[] = [];
  for (let i = 1; i <= 3; i++) peers.push({ id: `pilot${i}`, host: '127.0.0.1', port: await freePort(), busPort: await freePort() });
  const dirs = peers.map(() => mkdtempSync(join(tmpdir(), 'cleave-pilot-replica-')));
  const running: (RunningPilot | undefined)[] = [undefined, undefined, undefined];
  const replicas: Replicas = {
    peers,
    dirs,
    running,
    async start(index, extra = {}) {
      const peer = peers[index]!;
      const pilot = await startPilot({
        host: '127.0.0.1',
        port: peer.port,
        dataDir: dirs[index]!,
        pilotId: peer.id,
        peers,
        clusterSecret: CLUSTER_SECRET,
        expectNodes: 3,
        shardsPerNode: 2,
        electionTimeoutMs: 400,
        raftTickMs: 50,
        logger: pino({ level: 'silent' }),
        ...options,
        ...extra,
      });
      running[index] = pilot;
      return pilot;
    },
    async stop(index) {
      await running[index]?.close();
      running[index] = undefined;
    },
    urls: () => peers.map(pilotUrlOf),
  };
  t.after(async () => {
    for (let i = 0; i < 3; i++) await replicas.stop(i);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  await Promise.all([0, 1, 2].map((i) => replicas.start(i)));
  return replicas;
}

/** The replica that serves, once exactly one does. */
async function waitForLeader(replicas: Replicas, timeoutMs = 10_000): Promise<number> {
  let serving: number[] = [];
  await until(
    'a single pilot replica to lead',
    () => {
      serving = replicas.running.flatMap((r, i) => (r?.pilot.replication().serving ? [i] : []));
      return serving.length === 1;
    },
    timeoutMs,
  );
  return serving[0]!;
}

function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  return pollUntil(check, { what, timeoutMs, intervalMs: 20 });
}

async function get(url: string, path: string): Promise<{ status: number; json: any }> {
  const response = await fetch(url + path, { headers: { 'x-cleave-secret': CLUSTER_SECRET } });
  return { status: response.status, json: await response.json() };
}

function joinRequest(port: number) {
  return { host: '127.0.0.1', port, bus_port: port + 10000, metrics_port: 0, pid: 4000 + port };
}

test('three pilots elect one leader; followers answer 421 naming it, every replica answers /healthz and /api/v1/pilot', async (t) => {
  const replicas = await threeReplicas(t);
  const leader = await waitForLeader(replicas);
  const leaderUrl = replicas.urls()[leader]!;
  for (const [i, url] of replicas.urls().entries()) {
    assert.equal((await get(url, '/healthz')).status, 200);
    const { status, json } = await get(url, '/api/v1/pilot');
    assert.equal(status, 200);
    assert.equal(json.id, `pilot${i + 1}`);
    assert.equal(json.leader, `pilot${leader + 1}`);
    assert.equal(json.leader_url, leaderUrl);
    assert.equal(json.serving, i === leader);
    assert.deepEqual(
      json.replicas.map((r: any) => [r.id, r.role]),
      [1, 2, 3].map((n) => [`pilot${n}`, n === leader + 1 ? 'leader' : 'follower']),
    );
    // Only the leader tracks the others' progress.
    assert.equal(
      json.replicas.every((r: any) => r.match_index !== null),
      i === leader,
    );
    const cluster = await get(url, '/api/v1/cluster');
    if (i === leader) {
      assert.equal(cluster.status, 200);
    } else {
      assert.equal(cluster.status, 421);
      assert.equal(cluster.json.error.code, 'not_leader');
      assert.equal(cluster.json.leader, leaderUrl);
    }
  }
  const follower = (leader + 1) % 3;
  const joined = await fetch(`${replicas.urls()[follower]}/api/v1/internal/join`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-cleave-secret': CLUSTER_SECRET },
    body: JSON.stringify(joinRequest(17101)),
  });
  assert.equal(joined.status, 421);
  assert.equal(((await joined.json()) as { leader: string }).leader, leaderUrl);
});

test('nodes join through any replica; every replica applies the commands and wakes its own long polls', async (t) => {
  const replicas = await threeReplicas(t);
  const leader = await waitForLeader(replicas);
  const follower = (leader + 1) % 3;
  // A follower's long poll wakes when the command applies there: routing waiters run on every replica.
  const followerPilot = replicas.running[follower]!.pilot;
  const woken = followerPilot.pollRouting(0, 10_000, new AbortController().signal);
  // Each client lists the replicas in another order: the first one it asks is a follower for two of them.
  for (const [n, port] of [17201, 17202, 17203].entries()) {
    const urls = replicas.urls();
    const client = new PilotClient([...urls.slice(n), ...urls.slice(0, n)], CLUSTER_SECRET);
    const answer = await client.join(joinRequest(port));
    assert.equal(answer.node_id, `node${n + 1}`);
    assert.equal(client.currentUrl, urls[leader]);
  }
  assert.equal((await woken)?.version, 1);
  const expected = replicas.running[leader]!.pilot.state;
  assert.equal(expected.shards.length, 6, 'the third join bootstrapped the default keyspace');
  for (const replica of replicas.running)
    await until('the replica applied everything', () => replica!.pilot.state === expected || replica!.pilot.state.routingVersion === expected.routingVersion);
  for (const replica of replicas.running) assert.deepEqual(routingTable(replica!.pilot.state), routingTable(expected));
  const events = followerPilot.events.since(0, 100).events.map((e) => e.kind);
  assert.deepEqual(events.filter((k) => k === 'node-registered').length, 3, 'followers record the events of applied commands');
});

test('the leader stops: a new leader within a few seconds keeps the routing table; a node joins; the old leader catches up by snapshot', async (t) => {
  // A short log: the replica that was away has to be sent a snapshot.
  const replicas = await threeReplicas(t, { logEntriesMax: 8 });
  const first = await waitForLeader(replicas);
  const client = new PilotClient(replicas.urls(), CLUSTER_SECRET);
  for (const port of [17301, 17302, 17303]) await client.join(joinRequest(port));
  const before = routingTable(replicas.running[first]!.pilot.state);
  assert.equal(before.shards.length, 6);

  const stoppedAt = Date.now();
  await replicas.stop(first);
  const second = await waitForLeader(replicas, 5000);
  assert.notEqual(second, first);
  assert.ok(Date.now() - stoppedAt < 5000, `a new leader took ${Date.now() - stoppedAt} ms`);
  assert.deepEqual(routingTable(replicas.running[second]!.pilot.state), before, 'versions and shards survive the failover');

  const joined = await client.join(joinRequest(17304));
  assert.equal(joined.node_id, 'node4');
  assert.equal(joined.routing.version, before.version + 1);
  // Enough changes that the log is compacted past what the stopped replica holds.
  for (let i = 0; i < 12; i++) {
    const answer = await client.heartbeat({ node_id: 'node1', pid: 1, routing_version: 0, shards: [], leaders: [{ shard_id: 'shard_0001', term: 10 + i }] });
    assert.ok(answer.routing !== undefined);
  }
  const leaderState = replicas.running[second]!.pilot.state;
  assert.ok(replicas.running[second]!.pilot.replication().appliedIndex >= 20);

  const restarted = await replicas.start(first);
  await until('the restarted replica caught up', () => restarted.pilot.state.routingVersion === leaderState.routingVersion);
  assert.deepEqual(routingTable(restarted.pilot.state), routingTable(leaderState));
  assert.ok(
    restarted.pilot.events.since(0, 100).events.some((e) => e.kind === 'routing-version-changed' && e.cause === 'snapshot'),
    'it was sent a snapshot',
  );
  assert.equal(restarted.pilot.replication().leader?.id, `pilot${second + 1}`);
});

test('a replica restarted with other peers refuses to start: the pilot group cannot change members that way', async (t) => {
  const replicas = await threeReplicas(t);
  await waitForLeader(replicas);
  await replicas.stop(2);
  const [a, b] = replicas.peers;
  await assert.rejects(
    replicas.start(2, { pilotId: 'pilot3', peers: [a!, b!, { ...replicas.peers[2]! }, { id: 'pilot4', host: '127.0.0.1', port: await freePort(), busPort: await freePort() }] }),
    {
      name: 'UsageError',
      message: /members pilot1,pilot2,pilot3, but the configured peers are pilot1,pilot2,pilot3,pilot4/,
    },
  );
});

test('PilotClient: an unreachable replica is skipped, a 421 is followed, the leader is asked first afterwards', async (t) => {
  const replicas = await threeReplicas(t);
  const leader = await waitForLeader(replicas);
  const dead = `http://127.0.0.1:${await freePort()}`;
  const follower = replicas.urls()[(leader + 1) % 3]!;
  const client = new PilotClient(`${dead},${follower}`, CLUSTER_SECRET);
  const answer = await client.join(joinRequest(17401));
  assert.equal(answer.node_id, 'node1');
  assert.equal(client.currentUrl, replicas.urls()[leader]);
  const table = await client.waitForRouting(0, 1000);
  assert.equal(table.version, 1);
  // Only replicas that are all down: status 0.
  const nowhere = new PilotClient([dead], CLUSTER_SECRET);
  await assert.rejects(nowhere.join(joinRequest(17402)), { status: 0 });
});

test('the CLI finds the leader from any replica it is given: `cleave pilots`, `cleave nodes --pilot a,b,c`', async (t) => {
  const replicas = await threeReplicas(t);
  const leader = await waitForLeader(replicas);
  const dead = `http://127.0.0.1:${await freePort()}`;
  const follower = replicas.urls()[(leader + 1) % 3]!;
  await new PilotClient(replicas.urls(), CLUSTER_SECRET).join(joinRequest(17501));

  const nodes = await cleave(['nodes', '--pilot', `${dead},${follower}`]);
  assert.equal(nodes.code, 0, nodes.stderr);
  // Up or down: the joined node sends no heartbeat, and a loaded machine may take its timeout to start the CLI.
  assert.match(nodes.stdout, /^node1\s+127\.0\.0\.1:17501\s+(up|down)\s/m);

  const expected = replicas.peers.map((p, i) => [p.id, pilotUrlOf(p), i === leader ? 'leader' : 'follower', 'yes']);
  // "Recently active" is heard within an election timeout: on a loaded machine a heartbeat may be late,
  // so the listing is asked again for a while before it must show every replica active.
  let rows: string[][] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    const listed = await cleave(['pilots', '--pilot', follower]);
    assert.equal(listed.code, 0, listed.stderr);
    rows = listed.stdout
      .trimEnd()
      .split('\n')
      .slice(2)
      .map((line) => line.split(/\s+/))
      .map((r) => [r[0]!, r[1]!, r[3]!, r[5]!]);
    if (JSON.stringify(rows) === JSON.stringify(expected)) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.deepEqual(rows, expected);

  const nowhere = await cleave(['cluster', '--pilot', dead]);
  assert.equal(nowhere.code, 1);
  assert.match(nowhere.stderr, /^cleave: cannot reach the pilot at http:\/\/127\.0\.0\.1:\d+: /);
});

test('`cleave pilot` refuses bad --peers, an id the peers do not name, and ports that disagree with them (exit 2)', async () => {
  for (const [args, message] of [
    [['--peers', 'pilot1@127.0.0.1'], /is not id@host:port/],
    [['--peers', 'node1@127.0.0.1:7100'], /not of the form pilotN/],
    [['--peers', 'pilot1@127.0.0.1:7100,pilot1@127.0.0.1:7110'], /names pilot1 twice/],
    [['--peers', 'pilot1@127.0.0.1:7100,pilot2@127.0.0.1:7110', '--pilot-id', 'pilot3'], /does not name this replica, pilot3/],
    [['--peers', 'pilot1@127.0.0.1:7100,pilot2@127.0.0.1:7110', '--port', '7101'], /gives pilot1 the port 7100, but --port is 7101/],
    [['--peers', 'pilot1@10.1.1.1:7100,pilot2@10.1.1.2:7110', '--cluster-secret-file', join(tmpdir(), 'cleave-no-such-secret')], /cannot read the cluster secret/],
    [['--bus-port', '17100'], /give --peers too/],
  ] as const) {
    const result = await cleave(['pilot', '--data-dir', join(tmpdir(), 'cleave-never-created'), ...args]);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
});

test("a pilot replica's bus drops malformed frames from a peer that holds the secret, and the group serves on", async (t) => {
  const replicas = await threeReplicas(t);
  const leader = await waitForLeader(replicas);
  const target = replicas.peers[leader]!;
  const impostor = replicas.peers[(leader + 1) % 3]!.id;
  const peer = await rawBusPeer({ host: target.host, port: target.busPort }, impostor, CLUSTER_SECRET);
  assert.equal(peer.answer.t, 'accept');
  for (const payload of [42, [null], [{ kind: 'raft', group: 'pilot', message: { type: 'app', term: 'x' } }], 'text']) peer.write(messageFrame('raft', payload));
  peer.write(messageFrame('pilot', 42));
  await sleep(300);
  peer.destroy();
  assert.equal(await waitForLeader(replicas), leader, 'the leader serves on');
  const answer = await fetch(`${pilotUrlOf(target)}/api/v1/pilot`, { headers: { authorization: 'Bearer x' } });
  assert.ok(answer.status < 500, `the pilot answers (${answer.status})`);
});

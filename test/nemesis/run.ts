/**
 * One nemesis run: a real cluster (three pilots, 3–5 nodes), client load recorded as a history, the seeded
 * faults of faults.ts for a given time, then everything healed and restarted, a bounded wait for the
 * cluster to converge, and the checks: the history linearizable per key, no acknowledged write lost,
 * every slot owned once in every view, every shard at its replication factor.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster } from 'ioredis';
import { checkLinearizability, checkLostWrites, type RegisterOperation } from '../sim/linearizability.js';
import { TestCluster, waitUntil } from '../support/cluster.js';
import { layoutProblems } from './checks.js';
import { FAULT_KINDS, Nemesis, type FaultEvent, type FaultKind } from './faults.js';
import { History, type Outcome } from './history.js';
import { COUNTER_KEY_NAMES, Load, nemesisClient, REGISTER_KEY_NAMES } from './load.js';

/** The pilot's default replicas per shard. */
const REPLICATION_FACTOR = 3;
const PILOTS = 3;
const CLIENTS_DEFAULT = 4;
/** Longest wait for the fresh cluster to place every shard on its replicas. */
const START_WAIT_MS = 120_000;
/** Longest wait, after the faults, for the cluster to converge again. */
const CONVERGE_WAIT_MS = 180_000;
/** Longest wait for the final reads of all keys together. */
const FINAL_READS_WAIT_MS = 120_000;
/** Search budget per key of the linearizability check. */
const LINEARIZABILITY_STEPS_MAX = 2_000_000;
/** Starts tried: a free port can be taken by another process before the node binds it. */
const START_ATTEMPTS = 3;
const TERMINAL_SPLIT_STATUSES = ['completed', 'failed', 'cancelled'];

export interface NemesisOptions {
  readonly seconds: number;
  readonly faults: ReadonlySet<FaultKind>;
  readonly seed: number;
  readonly nodes: number;
  readonly clients?: number;
  /** Progress lines (faults as they happen are in the result's events). */
  readonly progress?: (line: string) => void;
}

export interface NemesisResult {
  readonly ok: boolean;
  readonly faults: Record<FaultKind, number>;
  readonly refused: number;
  readonly outcomes: Record<Outcome, number>;
  /** Safety violations and failures to converge; none on a good run. */
  readonly anomalies: readonly string[];
  /** Keys the linearizability search could not decide within its budget (the lost-write check covers them). */
  readonly undecided: string | undefined;
  readonly events: readonly FaultEvent[];
  readonly summary: string;
  /** The command that replays the run's schedule. */
  readonly replay: string;
  /** Where a failing run left its history and fault log (JSON), for a closer look. */
  readonly historyFile: string | undefined;
}

export async function runNemesis(options: NemesisOptions): Promise<NemesisResult> {
  const progress = options.progress ?? (() => undefined);
  const factor = Math.min(REPLICATION_FACTOR, options.nodes);
  progress(`starting ${PILOTS} pilots and ${options.nodes} nodes`);
  const cluster = await startCluster(options.nodes, progress);
  let nemesis: Nemesis | undefined;
  try {
    await waitUntil('every shard on its replicas', async () => (await layoutProblems(cluster, factor)).length === 0, undefined, START_WAIT_MS);
    const nodeIds = await nodeIdsOf(cluster);
    const history = new History();
    const load = new Load(history, cluster.startupNodes, options.clients ?? CLIENTS_DEFAULT, options.seed);
    nemesis = new Nemesis(cluster, nodeIds, options.faults, factor, options.seed, () => history.now());
    progress(`faults and load for ${options.seconds} s`);
    try {
      await nemesis.run(history.now() + options.seconds * 1000);
    } finally {
      await nemesis.healAll();
      await load.stop();
    }
    progress('healed; waiting for the cluster to converge');
    const anomalies: string[] = [];
    const converged = await converge(cluster, nemesis, factor);
    anomalies.push(...converged.map((p) => `not converged after ${CONVERGE_WAIT_MS / 1000} s: ${p}`));
    progress('final reads and checks');
    const finals = await finalReads(cluster, history);
    anomalies.push(...finals.unreadable.map((key) => `${key}: no final read within ${FINAL_READS_WAIT_MS / 1000} s`));
    const lin = checkLinearizability(history.ops, { stepsMax: LINEARIZABILITY_STEPS_MAX });
    if (lin.ok === false) anomalies.push(`not linearizable: ${lin.explanation}`);
    const readable = history.ops.filter((op) => finals.values.has(op.key));
    for (const problem of checkLostWrites(readable, finals.values)) anomalies.push(`${problem.kind}: ${problem.explanation}`);
    const faults = nemesis.counts();
    const refused = nemesis.events.filter((e) => e.phase === 'refused').length;
    const undecided = lin.ok === 'unknown' ? lin.explanation : undefined;
    const replay = `npm run nemesis -- --seconds ${options.seconds} --faults ${[...options.faults].join(',')} --seed ${options.seed} --nodes ${options.nodes}${options.clients === undefined ? '' : ` --clients ${options.clients}`}`;
    const summary = [
      `seed ${options.seed}, ${options.seconds} s, ${PILOTS} pilots, ${options.nodes} nodes, ${options.clients ?? CLIENTS_DEFAULT} clients`,
      `faults: ${FAULT_KINDS.map((k) => `${k} ${faults[k]}`).join(', ')} (refused or skipped: ${refused})`,
      `operations: ok ${history.outcomes.ok}, fail ${history.outcomes.fail}, unknown ${history.outcomes.unknown} (${history.size} in the history, ${finals.values.size} keys read at the end)`,
      `linearizability: ${lin.ok === true ? 'ok' : lin.ok === 'unknown' ? `undecided (${lin.explanation}); lost-write check covers it` : 'FAILED'}`,
      `anomalies: ${anomalies.length}`,
    ].join('\n');
    const ok = anomalies.length === 0;
    const historyFile = ok ? undefined : join(tmpdir(), `cleave-nemesis-${options.seed}-${Date.now()}.json`);
    if (historyFile !== undefined) {
      // +Infinity (an unknown outcome's return time) has no JSON form: written as null.
      writeFileSync(
        historyFile,
        JSON.stringify({ replay, anomalies, events: nemesis.events, history: history.annotated() }, (_, v) => (v === Number.POSITIVE_INFINITY ? null : v)),
      );
    }
    return { ok, faults, refused, outcomes: { ...history.outcomes }, anomalies, undecided, events: nemesis.events, summary, replay, historyFile };
  } finally {
    await nemesis?.healAll();
    await cluster.stop();
  }
}

async function startCluster(nodes: number, progress: (line: string) => void): Promise<TestCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestCluster.start({ pilots: PILOTS, nodes, extraNodeArgs: ['--enable-debug-command'] });
    } catch (err) {
      if (attempt >= START_ATTEMPTS) throw err;
      progress(`start failed (${(err as Error).message.split('\n')[0]}); starting again`);
    }
  }
}

async function nodeIdsOf(cluster: TestCluster): Promise<string[]> {
  const { json } = await cluster.api('GET', '/api/v1/nodes');
  const byAddress = new Map((json as { nodes: { id: string; address: string }[] }).nodes.map((n) => [n.address, n.id]));
  return cluster.nodes.map((node) => {
    const id = byAddress.get(`127.0.0.1:${node.port}`);
    if (id === undefined) throw new Error(`${node.name} is not among the pilot's nodes`);
    return id;
  });
}

/** Waits until no split runs and the layout checks pass; returns the problems still seen at the deadline. */
async function converge(cluster: TestCluster, nemesis: Nemesis, factor: number): Promise<string[]> {
  let problems: string[] = ['the pilot API never answered'];
  let converged = false;
  await waitUntil(
    'the cluster to converge',
    async () => {
      // A heal sent while a node was still starting is lost: send it again.
      await nemesis.healAll();
      const splits = await cluster.api('GET', '/api/v1/splits');
      if (splits.status !== 200) {
        problems = [`GET /api/v1/splits answered ${splits.status}`];
        return false;
      }
      const running = (splits.json as { splits: { task_id: string; status: string }[] }).splits.filter((t) => !TERMINAL_SPLIT_STATUSES.includes(t.status));
      problems = [...running.map((t) => `split ${t.task_id} still ${t.status}`), ...(await layoutProblems(cluster, factor))];
      converged = problems.length === 0;
      return converged;
    },
    undefined,
    CONVERGE_WAIT_MS,
  ).catch(() => undefined);
  return converged ? [] : problems;
}

/** Reads every key the history touched, once no client writes; each read joins the history too. */
async function finalReads(cluster: TestCluster, history: History): Promise<{ values: Map<string, string | null>; unreadable: string[] }> {
  const client: Cluster = nemesisClient(cluster.startupNodes);
  const values = new Map<string, string | null>();
  const unreadable: string[] = [];
  const keys = [...REGISTER_KEY_NAMES, ...COUNTER_KEY_NAMES].filter((key) => history.ops.some((op: RegisterOperation) => op.key === key));
  const deadline = Date.now() + FINAL_READS_WAIT_MS;
  try {
    for (const key of keys) {
      const read = history.invoke(-1, key, { kind: 'get' });
      let value: string | null | undefined;
      await waitUntil(
        `final read of ${key}`,
        async () => {
          value = await client.get(key);
          return true;
        },
        undefined,
        Math.max(0, deadline - Date.now()),
      ).catch(() => undefined);
      if (value === undefined) unreadable.push(key);
      else {
        values.set(key, value);
        history.ok(read, value);
      }
    }
  } finally {
    client.disconnect();
  }
  return { values, unreadable };
}

/**
 * `npm run bench:split`: an online split of one shard under a concurrent write load, measured in one run.
 * For each scenario `<keys>x<elsewhere>` a fresh 3-node cluster gets `keys` keys in shard_0001 and
 * `elsewhere × keys` keys spread over its other shards; then, while ioredis Cluster clients write and read
 * the shard's keys, `POST /api/v1/shards/shard_0001/split` splits it. Reported: total and per-phase time,
 * snapshot MB/s, write latency during the switch (the write pause) against before, and the errors the
 * clients saw (must be 0); afterwards every acknowledged write is read back. Comparing `100000x1` with
 * `100000x10` shows whether split time depends on the shard's size alone (seed 001).
 * Beside it, Redis Cluster's own resharding: `redis-cli --cluster reshard` of the same number of keys from
 * one Debian redis-server master to another under the same client load.
 * Prints a report and appends it to docs/BENCHMARKS.md (--no-write: print only).
 */
import { performance } from 'node:perf_hooks';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import { LatencyHistogram } from '../src/bench/latency-histogram.js';
import { classifyError } from '../src/bench/op-stats.js';
import { startRedisCluster } from '../src/bench/redis-cluster.js';
import { keyHashSlot } from '../src/common/slots.js';
import { appendSection, buildDescription, machineFacts, machineSummary, median, positiveIntFlag, requireCommand, runScript } from './bench-common.js';
import { CleaveCluster, pollUntil } from './bench-clusters.js';

const SCRIPT = 'bench:split';
const SOURCE_SHARD = 'shard_0001';
/** Keys written per pipeline while loading. */
const LOAD_BATCH = 1000;
const LOAD_BATCHES_IN_FLIGHT = 4;
/** Load before the split starts, to measure "before". */
const BASELINE_MS = 3000;

interface Scenario {
  readonly keys: number;
  readonly elsewhere: number;
}

interface Options {
  scenarios: Scenario[];
  valueBytes: number;
  writers: number;
  readers: number;
  replicas: number;
  redis: boolean;
  write: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { scenarios: [{ keys: 100_000, elsewhere: 1 }, { keys: 100_000, elsewhere: 10 }, { keys: 1_000_000, elsewhere: 1 }], valueBytes: 100, writers: 16, readers: 4, replicas: 3, redis: true, write: true };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    switch (flag) {
      case '--scenarios':
        o.scenarios = (value ?? '').split(',').map((s) => {
          const m = /^(\d+)x(\d+)$/.exec(s.trim());
          if (m === null) {
            console.error(`${SCRIPT}: --scenarios takes <keys>x<elsewhere>,... e.g. 100000x1,100000x10, got '${s}'`);
            process.exit(2);
          }
          return { keys: Number(m[1]), elsewhere: Number(m[2]) };
        });
        i++;
        break;
      case '--value-bytes':
        o.valueBytes = positiveIntFlag(SCRIPT, flag, value);
        i++;
        break;
      case '--writers':
        o.writers = positiveIntFlag(SCRIPT, flag, value);
        i++;
        break;
      case '--readers':
        o.readers = positiveIntFlag(SCRIPT, flag, value);
        i++;
        break;
      case '--replicas':
        o.replicas = positiveIntFlag(SCRIPT, flag, value);
        i++;
        break;
      case '--no-redis':
        o.redis = false;
        break;
      case '--no-write':
        o.write = false;
        break;
      default:
        console.error(`${SCRIPT}: unknown flag ${flag}\nusage: npm run bench:split -- [--scenarios 100000x1,100000x10,1000000x1] [--value-bytes N] [--writers N] [--readers N] [--replicas N] [--no-redis] [--no-write]`);
        process.exit(2);
    }
  }
  return o;
}

/** `count` keys whose slots fall in [fromSlot, endSlot), named after `prefix`. */
function keysInSlots(prefix: string, count: number, fromSlot: number, endSlot: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `${prefix}:${i}`;
    const slot = keyHashSlot(Buffer.from(key));
    if (slot >= fromSlot && slot < endSlot) keys.push(key);
  }
  return keys;
}

/** Writes `keys` with pipelines straight to the nodes that lead their slots (`leaderOf(slot)` → port). */
async function load(keys: readonly string[], value: string, leaderOf: (slot: number) => number): Promise<void> {
  const byPort = new Map<number, string[]>();
  for (const key of keys) {
    const port = leaderOf(keyHashSlot(Buffer.from(key)));
    let list = byPort.get(port);
    if (list === undefined) byPort.set(port, (list = []));
    list.push(key);
  }
  await Promise.all(
    [...byPort].map(async ([port, list]) => {
      const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 3 });
      await client.connect();
      try {
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < list.length) {
            const batch = list.slice(next, (next += LOAD_BATCH));
            const pipeline = client.pipeline();
            for (const key of batch) pipeline.set(key, value);
            const results = (await pipeline.exec()) ?? [];
            const failed = results.find(([error]) => error !== null);
            if (failed !== undefined) throw new Error(`loading on port ${port}: ${String(failed[0])}`);
          }
        };
        await Promise.all(Array.from({ length: LOAD_BATCHES_IN_FLIGHT }, worker));
      } finally {
        client.disconnect();
      }
    }),
  );
}

/** One write or read the load made: when it started (performance.now ms), how long it took, how it ended. */
interface Op {
  readonly startMs: number;
  readonly latencyMs: number;
  readonly error?: string;
}

/**
 * Writers set keys of `keys` to increasing values and readers get them until `stop()`; the last value each
 * writer had acknowledged per key is kept, to check afterwards that no acknowledged write was lost.
 */
class Load {
  readonly writes: Op[] = [];
  readonly reads: Op[] = [];
  /** The value of each key's last acknowledged write, and of a write whose outcome is unknown. */
  readonly acked = new Map<string, number>();
  readonly pending = new Map<string, number>();
  private running = true;
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly client: Cluster,
    keys: readonly string[],
    writers: number,
    readers: number,
  ) {
    // Each writer owns its keys, so the last acknowledged value of a key is well defined.
    for (let w = 0; w < writers; w++) this.loops.push(this.writeLoop(keys.filter((_, i) => i % writers === w)));
    for (let r = 0; r < readers; r++) this.loops.push(this.readLoop(keys));
  }

  private async writeLoop(keys: readonly string[]): Promise<void> {
    let n = 0;
    while (this.running) {
      const key = keys[n % keys.length]!;
      const value = ++n;
      this.pending.set(key, value);
      const startMs = performance.now();
      try {
        await this.client.set(key, String(value));
        this.acked.set(key, value);
        this.pending.delete(key);
        this.writes.push({ startMs, latencyMs: performance.now() - startMs });
      } catch (error) {
        this.writes.push({ startMs, latencyMs: performance.now() - startMs, error: classifyError(error) });
      }
    }
  }

  private async readLoop(keys: readonly string[]): Promise<void> {
    while (this.running) {
      const key = keys[Math.floor(Math.random() * keys.length)]!;
      const startMs = performance.now();
      try {
        await this.client.get(key);
        this.reads.push({ startMs, latencyMs: performance.now() - startMs });
      } catch (error) {
        this.reads.push({ startMs, latencyMs: performance.now() - startMs, error: classifyError(error) });
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Keys whose value now is neither the last acknowledged one nor a later write's (lost writes). */
  async lostWrites(): Promise<string[]> {
    const lost: string[] = [];
    for (const [key, value] of this.acked) {
      const now = Number(await this.client.get(key));
      const later = this.pending.get(key);
      if (now !== value && !(later !== undefined && now === later)) lost.push(key);
    }
    return lost;
  }
}

/** A cluster client that rides out redirects as the README recommends. */
function clusterClient(nodes: { host: string; port: number }[]): Cluster {
  return new Cluster(nodes, {
    maxRedirections: 100,
    retryDelayOnTryAgain: 20,
    retryDelayOnClusterDown: 50,
    retryDelayOnFailover: 50,
    redisOptions: { commandTimeout: 10_000 },
  });
}

function errorsIn(ops: readonly Op[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const op of ops) if (op.error !== undefined) counts.set(op.error, (counts.get(op.error) ?? 0) + 1);
  return counts;
}

function formatErrors(counts: Map<string, number>): string {
  return counts.size === 0 ? '0' : [...counts].map(([kind, n]) => `${n} ${kind}`).join(', ');
}

function percentileMs(ops: readonly Op[], p: number): number {
  const h = new LatencyHistogram();
  for (const op of ops) if (op.error === undefined) h.record(Math.max(1, Math.round(op.latencyMs * 1000)));
  return h.count === 0 ? 0 : h.percentileUs(p) / 1000;
}

function maxMs(ops: readonly Op[]): number {
  return ops.reduce((m, op) => Math.max(m, op.latencyMs), 0);
}

interface SplitTaskBody {
  readonly task_id: string;
  readonly status: string;
  readonly reason?: string | null;
  readonly phases?: Record<string, number | string>;
  readonly progress?: { snapshot_bytes_total?: number; snapshot_bytes_sent?: number };
}

const ms = (t: number | string | undefined): number | undefined => (t === undefined ? undefined : typeof t === 'number' ? t : Date.parse(t));

interface CleaveResult {
  readonly scenario: Scenario;
  readonly status: string;
  readonly reason: string;
  readonly totalMs: number;
  readonly phaseMs: Record<string, number>;
  readonly snapshotMBps: number;
  readonly writesBefore: Op[];
  readonly writesDuring: Op[];
  readonly writesSwitch: Op[];
  readonly errors: Map<string, number>;
  readonly lost: number;
  readonly checked: number;
}

const PHASES = ['preparing', 'snapshot_transfer', 'catching_up', 'buffering', 'switching', 'cleanup'] as const;

async function cleaveScenario(o: Options, scenario: Scenario): Promise<CleaveResult> {
  const cluster = await CleaveCluster.start({ nodes: 3, replicas: o.replicas, shardsPerNode: 2, electionTimeoutMs: 1000, startTimeoutMs: 60_000 });
  try {
    const ranges = await cluster.servingRanges();
    const leaderOf = (slot: number): number => ranges.find((r) => r.start <= slot && slot <= r.end)!.leader;
    const source = ranges.find((r) => r.start === 0)!;
    const value = 'v'.repeat(o.valueBytes);
    const shardKeys = keysInSlots('split', scenario.keys, source.start, source.end + 1);
    const otherKeys = keysInSlots('other', scenario.keys * scenario.elsewhere, source.end + 1, 16384);
    const loadStart = performance.now();
    await load([...shardKeys, ...otherKeys], value, leaderOf);
    console.log(`  loaded ${shardKeys.length.toLocaleString('en-US')} keys into ${SOURCE_SHARD} and ${otherKeys.length.toLocaleString('en-US')} elsewhere in ${((performance.now() - loadStart) / 1000).toFixed(1)} s`);

    const client = clusterClient(cluster.startupNodes);
    // The load works on a sample of the shard's keys, spread over its slots, so some move and some stay.
    const loadKeys = shardKeys.filter((_, i) => i % Math.max(1, Math.floor(shardKeys.length / 20_000)) === 0);
    const runLoad = new Load(client, loadKeys, o.writers, o.readers);
    await sleep(BASELINE_MS);
    const splitStartWall = Date.now();
    const splitStart = performance.now();
    const response = await fetch(`${cluster.pilotUrl}/api/v1/shards/${SOURCE_SHARD}/split`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const created = (await response.json()) as { split_task_id?: string; error?: unknown };
    if (created.split_task_id === undefined) throw new Error(`POST split answered ${response.status}: ${JSON.stringify(created)}`);
    let task: SplitTaskBody | undefined;
    await pollUntil(
      `split ${created.split_task_id} to finish`,
      async () => {
        task = (await (await fetch(`${cluster.pilotUrl}/api/v1/splits/${created.split_task_id}`)).json()) as SplitTaskBody;
        return ['completed', 'failed', 'cancelled'].includes(task.status);
      },
      30 * 60_000,
    );
    const splitEnd = performance.now();
    await sleep(1000);
    await runLoad.stop();
    const lost = await runLoad.lostWrites();
    client.disconnect();

    // Phase times are the pilot's wall clock; the load's are this process's monotonic clock.
    const toLocal = (wall: number): number => splitStart + (wall - splitStartWall);
    const phases = task!.phases ?? {};
    const phaseMs: Record<string, number> = {};
    const marks = [...PHASES.map((p) => ms(phases[p])), ms(phases['completed'])];
    PHASES.forEach((phase, i) => {
      const start = marks[i];
      const end = marks.slice(i + 1).find((t) => t !== undefined);
      if (start !== undefined && end !== undefined) phaseMs[phase] = end - start;
    });
    const bufferingAt = ms(phases['buffering']);
    const cleanupAt = ms(phases['cleanup']) ?? ms(phases['completed']);
    const switchWindow = bufferingAt === undefined || cleanupAt === undefined ? [splitStart, splitEnd] : [toLocal(bufferingAt), toLocal(cleanupAt)];
    const snapshotSeconds = (phaseMs['snapshot_transfer'] ?? 0) / 1000;
    return {
      scenario,
      status: task!.status,
      reason: task!.reason ?? '',
      totalMs: splitEnd - splitStart,
      phaseMs,
      snapshotMBps: snapshotSeconds > 0 ? (task!.progress?.snapshot_bytes_total ?? 0) / 1e6 / snapshotSeconds : 0,
      writesBefore: runLoad.writes.filter((w) => w.startMs < splitStart),
      writesDuring: runLoad.writes.filter((w) => w.startMs >= splitStart && w.startMs <= splitEnd),
      // A write held in the buffer started before the switch window ends and finished inside it or after.
      writesSwitch: runLoad.writes.filter((w) => w.startMs <= switchWindow[1]! && w.startMs + w.latencyMs >= switchWindow[0]!),
      errors: errorsIn([...runLoad.writes, ...runLoad.reads]),
      lost: lost.length,
      checked: runLoad.acked.size,
    };
  } finally {
    await cluster.stop();
  }
}

interface RedisResult {
  readonly keys: number;
  readonly slots: number;
  readonly seconds: number;
  readonly errors: Map<string, number>;
  readonly maxWriteMs: number;
  readonly p99BeforeMs: number;
  readonly p99DuringMs: number;
  readonly lost: number;
}

function runRedisCli(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`redis-cli ${args.join(' ')} exited ${code}:\n${output.slice(-2000)}`))));
  });
}

/** Moves the slots holding `keys` keys from the master of slot 0 to another master, under the same load. */
async function redisReshard(o: Options, keys: number): Promise<RedisResult> {
  const redis = await startRedisCluster({ masters: 3, persistence: 'off' });
  try {
    const [first, second] = redis.ports;
    const nodeId = async (port: number): Promise<string> => (await runRedisCli(['-p', String(port), 'cluster', 'myid'])).trim();
    const [fromId, toId] = [await nodeId(first!), await nodeId(second!)];
    // redis-cli --cluster create gives the first master slots 0-5460; half of them move.
    const movedSlots = 2730;
    const movingKeys = keysInSlots('split', keys, 0, movedSlots);
    const value = 'v'.repeat(o.valueBytes);
    await load(movingKeys, value, () => first!);
    const client = clusterClient(redis.ports.map((port) => ({ host: redis.host, port })));
    const loadKeys = movingKeys.filter((_, i) => i % Math.max(1, Math.floor(movingKeys.length / 20_000)) === 0);
    const runLoad = new Load(client, loadKeys, o.writers, o.readers);
    await sleep(BASELINE_MS);
    const start = performance.now();
    await runRedisCli(['--cluster', 'reshard', `${redis.host}:${first}`, '--cluster-from', fromId, '--cluster-to', toId, '--cluster-slots', String(movedSlots), '--cluster-yes', '--cluster-pipeline', '100']);
    const end = performance.now();
    await sleep(1000);
    await runLoad.stop();
    const lost = await runLoad.lostWrites();
    client.disconnect();
    const during = runLoad.writes.filter((w) => w.startMs >= start && w.startMs <= end);
    return {
      keys: movingKeys.length,
      slots: movedSlots,
      seconds: (end - start) / 1000,
      errors: errorsIn([...runLoad.writes, ...runLoad.reads]),
      maxWriteMs: maxMs(during),
      p99BeforeMs: percentileMs(runLoad.writes.filter((w) => w.startMs < start), 99),
      p99DuringMs: percentileMs(during, 99),
      lost: lost.length,
    };
  } finally {
    await redis.stop();
  }
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function report(o: Options, results: readonly CleaveResult[], redisResults: readonly RedisResult[], commandLine: string, build: string): string {
  const facts = machineFacts();
  const lines = [
    `### Online split under load (${facts.date})`,
    '',
    `Command: \`${commandLine}\`, cleave built from ${build}. Machine: ${machineSummary(facts)}; 1-minute load average ${facts.load1.toFixed(2)} at the end (shared machine). Each scenario is a fresh 3-node cleave cluster (RF ${o.replicas}, 6 shards); \`<keys>x<elsewhere>\` puts <keys> keys of ${o.valueBytes} B into ${SOURCE_SHARD} and <elsewhere> × as many into the other shards, then splits ${SOURCE_SHARD} with \`POST /api/v1/shards/${SOURCE_SHARD}/split {}\` (the pilot picks the slot) while one ioredis Cluster client runs ${o.writers} writers (one SET in flight each, each on its own keys) and ${o.readers} readers on a sample of the shard's keys. "Pause" is the longest write whose wait overlapped buffering and switching; p99 is over all writes started before / during the split. Afterwards every key's last acknowledged value is read back ("lost").`,
    '',
    '| scenario | status | total s | ' + PHASES.join(' ms | ') + ' ms | snapshot MB/s | pause (max write ms) | p99 before ms | p99 during ms | client errors | lost / checked |',
    '| --- | --- | --- | ' + PHASES.map(() => '---').join(' | ') + ' | --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${fmt(r.scenario.keys)} keys, ${r.scenario.elsewhere}× elsewhere | ${r.status}${r.reason ? ` (${r.reason})` : ''} | ${fmt(r.totalMs / 1000, 2)} | ${PHASES.map((p) => (r.phaseMs[p] === undefined ? '-' : fmt(r.phaseMs[p]!))).join(' | ')} | ${fmt(r.snapshotMBps, 1)} | ${fmt(maxMs(r.writesSwitch), 1)} | ${fmt(percentileMs(r.writesBefore, 99), 1)} | ${fmt(percentileMs(r.writesDuring, 99), 1)} | ${formatErrors(r.errors)} | ${r.lost} / ${fmt(r.checked)} |`,
    ),
  ];
  if (redisResults.length > 0) {
    lines.push(
      '',
      `Redis Cluster beside it: three Debian redis-server masters (persistence off); the given number of keys loaded into slots 0-2729 of the first master, then \`redis-cli --cluster reshard --cluster-from <first> --cluster-to <second> --cluster-slots 2730 --cluster-yes --cluster-pipeline 100\` under the same client load.`,
      '',
      '| keys moved | slots | seconds | keys/s | max write ms | p99 before ms | p99 during ms | client errors | lost |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...redisResults.map((r) => `| ${fmt(r.keys)} | ${r.slots} | ${fmt(r.seconds, 2)} | ${fmt(r.keys / r.seconds)} | ${fmt(r.maxWriteMs, 1)} | ${fmt(r.p99BeforeMs, 1)} | ${fmt(r.p99DuringMs, 1)} | ${formatErrors(r.errors)} | ${r.lost} |`),
    );
    const cleaveRates = results.filter((r) => r.status === 'completed').map((r) => r.scenario.keys / 2 / (r.totalMs / 1000));
    if (cleaveRates.length > 0) lines.push('', `cleave moved about half of each shard's keys; its median rate over the completed scenarios, keys moved per second of total split time: ${fmt(median(cleaveRates))}.`);
  }
  return lines.join('\n') + '\n';
}

runScript(SCRIPT, async () => {
  const o = parseArgs(process.argv.slice(2));
  requireCommand('redis-cli', 'redis-tools', SCRIPT);
  if (o.redis) requireCommand('redis-server', 'redis-server', SCRIPT);
  const build = buildDescription();
  const commandLine = `npm run bench:split -- ${process.argv.slice(2).join(' ')}`.trim();
  console.log(`${SCRIPT}: ${machineSummary()}`);
  const results: CleaveResult[] = [];
  const redisResults: RedisResult[] = [];
  for (const scenario of o.scenarios) {
    console.log(`\ncleave: ${fmt(scenario.keys)} keys in ${SOURCE_SHARD}, ${scenario.elsewhere}× elsewhere`);
    const r = await cleaveScenario(o, scenario);
    results.push(r);
    console.log(`  ${r.status}${r.reason ? ` (${r.reason})` : ''} in ${fmt(r.totalMs / 1000, 2)} s; pause ${fmt(maxMs(r.writesSwitch), 1)} ms; errors ${formatErrors(r.errors)}; lost ${r.lost}/${r.checked}`);
    if (o.redis && scenario.elsewhere === 1) {
      console.log(`redis-cli --cluster reshard of ${fmt(scenario.keys / 2)} keys`);
      const rr = await redisReshard(o, Math.round(scenario.keys / 2));
      redisResults.push(rr);
      console.log(`  ${fmt(rr.keys)} keys in ${fmt(rr.seconds, 2)} s (${fmt(rr.keys / rr.seconds)} keys/s); errors ${formatErrors(rr.errors)}; lost ${rr.lost}`);
    }
  }
  const section = report(o, results, redisResults, commandLine, build);
  console.log('\n' + section);
  if (o.write) appendSection(section);
});

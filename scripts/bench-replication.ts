/**
 * `npm run bench:replication`: what replication costs and buys, measured in one run on this machine.
 *  1. redis-benchmark --cluster SET/GET against cleave with replication factor 1, cleave with factor 3,
 *     and a three-master redis-server cluster (persistence off), alternating, medians of --runs.
 *  2. The latency of one replicated SET with 16 in flight (HDR histogram), against cleave RF1 and RF3 and
 *     redis-server with `appendfsync always` and with persistence off.
 *  3. Failover: kill -9 of the node leading slot 0 under write load, time until every range it led
 *     acknowledges a write issued after the kill, and the errors the client saw; --failover-runs times.
 *  4. If etcd is installed: a 3-member etcd cluster's put throughput and latency through its JSON gateway
 *     at 50 in flight, next to cleave RF3's SET at the same concurrency.
 * Prints a report and appends it to docs/BENCHMARKS.md (--no-write: print only; --output FILE: append there).
 */
import { spawnSync } from 'node:child_process';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, type ClusterOptions } from 'ioredis';
import { LatencyHistogram } from '../src/bench/latency-histogram.js';
import { classifyError } from '../src/bench/op-stats.js';
import { startRedisCluster, type RedisClusterHandle, type RedisPersistence } from '../src/bench/redis-cluster.js';
import { exitedOf } from '../src/cluster/local-cluster.js';
import { pollUntil } from '../src/common/poll.js';
import { keyHashSlot } from '../src/common/slots.js';
import {
  appendSection,
  buildDescription,
  BENCHMARKS_FILE,
  machineFacts,
  machineSummary,
  median,
  onCleanup,
  positiveIntFlag,
  redisBenchmark,
  type RedisBenchmarkTest,
  requireCommand,
  runScript,
  withTimeout,
} from './bench-common.js';
import { CleaveCluster, startEtcdCluster, type SlotRange } from './bench-clusters.js';

const SCRIPT = 'bench:replication';
const PARTS = ['throughput', 'latency', 'failover', 'etcd'] as const;
type Part = (typeof PARTS)[number];

interface Options {
  runs: number;
  requests: number;
  clients: number;
  pipelines: number[];
  minRunSeconds: number;
  latencySeconds: number;
  latencyConcurrency: number;
  failoverRuns: number;
  writersPerRange: number;
  etcdSeconds: number;
  etcdConcurrency: number;
  valueBytes: number;
  keys: number;
  electionTimeoutMs: number;
  skip: Set<Part>;
  write: boolean;
  output: string;
}

const USAGE = `flags: --runs N (3) --requests N (100000) --clients N (50) --pipelines 1,16 --min-run-seconds S (5)
  --latency-seconds S (20)
  --latency-concurrency N (16) --failover-runs K (5) --writers-per-range N (4) --etcd-seconds S (20)
  --etcd-concurrency N (50) --value-bytes N (100) --keys N (100000) --election-timeout-ms MS (1000)
  --skip throughput,latency,failover,etcd --no-write --output FILE`;

function parseArgs(argv: string[]): Options {
  const o: Options = {
    runs: 3,
    requests: 100_000,
    clients: 50,
    pipelines: [1, 16],
    minRunSeconds: 5,
    latencySeconds: 20,
    latencyConcurrency: 16,
    failoverRuns: 5,
    writersPerRange: 4,
    etcdSeconds: 20,
    etcdConcurrency: 50,
    valueBytes: 100,
    keys: 100_000,
    electionTimeoutMs: 1000,
    skip: new Set(),
    write: true,
    output: BENCHMARKS_FILE,
  };
  const ints: Record<string, keyof Options> = {
    '--runs': 'runs',
    '--requests': 'requests',
    '--clients': 'clients',
    '--min-run-seconds': 'minRunSeconds',
    '--latency-seconds': 'latencySeconds',
    '--latency-concurrency': 'latencyConcurrency',
    '--failover-runs': 'failoverRuns',
    '--writers-per-range': 'writersPerRange',
    '--etcd-seconds': 'etcdSeconds',
    '--etcd-concurrency': 'etcdConcurrency',
    '--value-bytes': 'valueBytes',
    '--keys': 'keys',
    '--election-timeout-ms': 'electionTimeoutMs',
  };
  const fail = (message: string): never => {
    console.error(`${SCRIPT}: ${message}\n${USAGE}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i]!, argv[i + 1]];
    const field = ints[flag];
    if (field !== undefined) (o as unknown as Record<string, number>)[field] = positiveIntFlag(SCRIPT, flag, value);
    else if (flag === '--pipelines') o.pipelines = (value ?? '').split(',').map((p) => positiveIntFlag(SCRIPT, flag, p));
    else if (flag === '--skip') {
      for (const part of (value ?? '').split(',')) {
        if (!(PARTS as readonly string[]).includes(part)) fail(`--skip takes parts among ${PARTS.join(',')}, got '${part}'`);
        o.skip.add(part as Part);
      }
    } else if (flag === '--output' && value) o.output = value;
    else if (flag === '--no-write') {
      o.write = false;
      continue;
    } else fail(`unknown or incomplete flag ${flag}`);
    i++;
  }
  return o;
}

/** The command that reproduces this run, every setting spelled out. */
function commandLine(o: Options): string {
  const flags = [
    `--runs ${o.runs}`,
    `--requests ${o.requests}`,
    `--clients ${o.clients}`,
    `--pipelines ${o.pipelines.join(',')}`,
    `--min-run-seconds ${o.minRunSeconds}`,
    `--latency-seconds ${o.latencySeconds}`,
    `--latency-concurrency ${o.latencyConcurrency}`,
    `--failover-runs ${o.failoverRuns}`,
    `--writers-per-range ${o.writersPerRange}`,
    `--etcd-seconds ${o.etcdSeconds}`,
    `--etcd-concurrency ${o.etcdConcurrency}`,
    `--value-bytes ${o.valueBytes}`,
    `--keys ${o.keys}`,
    `--election-timeout-ms ${o.electionTimeoutMs}`,
    ...(o.skip.size > 0 ? [`--skip ${[...o.skip].join(',')}`] : []),
  ];
  return `npm run bench:replication -- ${flags.join(' ')}`;
}

const CLUSTER_START_TIMEOUT_MS = 90_000;

function startCleave(o: Options, replicas: number): Promise<CleaveCluster> {
  return CleaveCluster.start({ nodes: 3, replicas, shardsPerNode: 2, electionTimeoutMs: o.electionTimeoutMs, startTimeoutMs: CLUSTER_START_TIMEOUT_MS });
}

async function startRedis(persistence: RedisPersistence): Promise<RedisClusterHandle> {
  const redis = await startRedisCluster({ masters: 3, persistence, startTimeoutMs: CLUSTER_START_TIMEOUT_MS });
  const stop = onCleanup(() => redis.stop());
  return { ...redis, stop };
}

/** Leaders per node, e.g. `2/2/2`: a skewed placement would load one node more than the others. */
async function leaderSpread(cluster: CleaveCluster, known?: readonly SlotRange[]): Promise<string> {
  const ranges = known ?? (await cluster.servingRanges());
  return cluster.nodes.map((n) => ranges.filter((r) => r.leader === n.port).length).join('/');
}

async function connectCluster(startupNodes: { host: string; port: number }[], extra: ClusterOptions = {}): Promise<Cluster> {
  const client = new Cluster(startupNodes, { scaleReads: 'master', lazyConnect: true, redisOptions: { commandTimeout: 10_000 }, ...extra });
  // Failures surface through the commands, which are counted.
  client.on('error', () => undefined);
  await withTimeout(client.connect(), 30_000, 'ioredis cluster client connecting');
  return client;
}

// ---------------------------------------------------------------------------------------------------
// Closed-loop load: `concurrency` loops, each with one request in flight.

interface LoadSample {
  readonly histogram: LatencyHistogram;
  readonly ops: number;
  readonly errors: Map<string, number>;
  readonly elapsedSec: number;
}

async function closedLoops(concurrency: number, durationMs: number, op: (loop: number) => Promise<void>): Promise<LoadSample> {
  const histogram = new LatencyHistogram();
  const errors = new Map<string, number>();
  let ops = 0;
  const start = performance.now();
  const end = start + durationMs;
  const loop = async (index: number): Promise<void> => {
    while (performance.now() < end) {
      const sent = performance.now();
      try {
        await op(index);
        histogram.record((performance.now() - sent) * 1000);
        ops++;
      } catch (error) {
        const kind = classifyError(error);
        errors.set(kind, (errors.get(kind) ?? 0) + 1);
        // Do not spin on a failing server.
        await sleep(10);
      }
    }
  };
  await withTimeout(Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i))), durationMs + 60_000, `${concurrency} request loops of ${durationMs / 1000} s`);
  return { histogram, ops, errors, elapsedSec: (performance.now() - start) / 1000 };
}

/** Several alternating slices of one system's load, merged. */
class LoadTotals {
  readonly histogram = new LatencyHistogram();
  readonly rates: number[] = [];
  readonly errors = new Map<string, number>();

  add(sample: LoadSample): void {
    this.histogram.add(sample.histogram);
    this.rates.push(sample.ops / sample.elapsedSec);
    for (const [kind, n] of sample.errors) this.errors.set(kind, (this.errors.get(kind) ?? 0) + n);
  }

  get errorText(): string {
    return this.errors.size === 0 ? '0' : [...this.errors].map(([k, n]) => `${n} ${k}`).join(', ');
  }
}

function randomKey(o: Options, prefix: string): string {
  return `${prefix}:${Math.floor(Math.random() * o.keys)}`;
}

/** A latency in µs as milliseconds with 3 significant digits. */
function ms(us: number): string {
  const value = us / 1000;
  return value >= 1000 ? String(Math.round(value)) : value.toPrecision(3);
}

function rate(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function ratio(a: number, b: number): string {
  return b > 0 ? (a / b).toFixed(2) : 'n/a';
}

function elapsedText(startMs: number): string {
  return `${Math.round((performance.now() - startMs) / 1000)} s`;
}

// ---------------------------------------------------------------------------------------------------
// Parts 1 and 2: redis-benchmark and SET latency.

interface Target {
  readonly label: string;
  readonly port: number;
  readonly startupNodes: { host: string; port: number }[];
}

/** A redis-benchmark figure and the request count it took to measure it. */
interface Rate {
  readonly rps: number;
  readonly requests: number;
}

/**
 * redis-benchmark's requests/s for one test, from a run of at least --requests requests that lasted at
 * least --min-run-seconds by redis-benchmark's 250 ms clock: a shorter run is repeated with
 * proportionally more requests (remembered in `sizes` for the next rounds), so the clock's step costs
 * at most 250 ms / --min-run-seconds of the figure.
 */
async function measuredRate(o: Options, port: number, test: RedisBenchmarkTest, pipeline: number, sizes: Map<string, number>, sizeKey: string): Promise<Rate> {
  let requests = sizes.get(sizeKey) ?? o.requests;
  for (let attempt = 1; ; attempt++) {
    const rps = (await redisBenchmark({ port, requests, clients: o.clients, pipeline, tests: [test], timeoutMs: 300_000 }))[test];
    const seconds = requests / rps;
    if (seconds >= o.minRunSeconds || attempt === 5) return { rps, requests };
    // The reported time is rounded up, so the real rate is higher still: aim a quarter above the minimum.
    requests = Math.ceil((requests * (o.minRunSeconds * 1.25)) / seconds / 10_000) * 10_000;
    sizes.set(sizeKey, requests);
  }
}

async function throughputPart(o: Options, targets: readonly Target[]): Promise<string[]> {
  const rows: string[] = [];
  const sizes = new Map<string, number>();
  for (const pipeline of o.pipelines) {
    const samples = targets.map(() => ({ set: [] as Rate[], get: [] as Rate[] }));
    for (let r = 0; r < o.runs; r++) {
      for (const [i, target] of targets.entries()) {
        const line: string[] = [];
        for (const test of ['set', 'get'] as const) {
          const sample = await measuredRate(o, target.port, test, pipeline, sizes, `${target.label}/${test}/${pipeline}`);
          samples[i]![test].push(sample);
          line.push(`${test.toUpperCase()} ${rate(sample.rps)}/s (-n ${sample.requests})`);
        }
        console.log(`  -P ${pipeline} run ${r + 1}/${o.runs} ${target.label.padEnd(20)} ${line.join('  ')}`);
      }
    }
    for (const op of ['set', 'get'] as const) {
      const medians = samples.map((s) => median(s[op].map((x) => x.rps)));
      const [rf1, rf3, redis] = medians as [number, number, number];
      // Where a cell needed more requests than --requests, say how many its runs used.
      const cell = (i: number): string => {
        const counts = [...new Set(samples[i]![op].map((x) => x.requests))].filter((n) => n !== o.requests);
        return `${rate(medians[i]!)}${counts.length > 0 ? ` (-n ${counts.map((n) => n.toLocaleString('en-US')).join('/')})` : ''}`;
      };
      rows.push(`| ${op.toUpperCase()} | ${pipeline} | ${cell(0)} | ${cell(1)} | ${cell(2)} | ${ratio(rf3, rf1)} | ${ratio(rf1, redis)} | ${ratio(rf3, redis)} |`);
    }
  }
  return rows;
}

async function latencyPart(o: Options, targets: readonly Target[]): Promise<string[]> {
  const clients = await Promise.all(targets.map((t) => connectCluster(t.startupNodes)));
  const value = 'v'.repeat(o.valueBytes);
  const totals = targets.map(() => new LoadTotals());
  const sliceMs = (o.latencySeconds * 1000) / o.runs;
  try {
    // Warm-up, not counted: connections, slot maps, JIT.
    for (const client of clients) await closedLoops(o.latencyConcurrency, 1000, () => client.set(randomKey(o, 'lat'), value).then(() => undefined));
    for (let r = 0; r < o.runs; r++) {
      for (const [i, client] of clients.entries()) {
        const sample = await closedLoops(o.latencyConcurrency, sliceMs, () => client.set(randomKey(o, 'lat'), value).then(() => undefined));
        totals[i]!.add(sample);
        const s = sample.histogram.summary();
        console.log(
          `  slice ${r + 1}/${o.runs} ${targets[i]!.label.padEnd(33)} ${rate(sample.ops / sample.elapsedSec)} SET/s p50 ${ms(s.p50Us)} p99 ${ms(s.p99Us)} ms, errors ${sample.errors.size === 0 ? 0 : [...sample.errors].join(' ')}`,
        );
      }
    }
  } finally {
    for (const client of clients) client.disconnect();
  }
  return targets.map((t, i) => {
    const total = totals[i]!;
    const s = total.histogram.summary();
    return `| ${t.label} | ${rate(median(total.rates))} | ${ms(s.p50Us)} | ${ms(s.p99Us)} | ${ms(s.p999Us)} | ${ms(s.maxUs)} | ${rate(s.count)} | ${total.errorText} |`;
  });
}

// ---------------------------------------------------------------------------------------------------
// Part 3: failover.

/** `count` keys whose slot lies in `range`. */
function keysInRange(range: SlotRange, count: number): string[] {
  const keys: string[] = [];
  for (let n = 0; keys.length < count; n++) {
    const candidate = `fo:${range.start}:${n}`;
    const slot = keyHashSlot(Buffer.from(candidate));
    if (slot >= range.start && slot <= range.end) keys.push(candidate);
  }
  return keys;
}

/** Per-range write loops that note, once the kill time is set, each range's first acknowledgement of a write sent after it. */
class FailoverLoad {
  killedAt: number | undefined;
  /** Per range: ms from the kill to the first acknowledged write sent after it. */
  readonly recoveredMs: (number | undefined)[];
  readonly acksBeforeKill: number[];
  readonly errorsBeforeKill = new Map<string, number>();
  readonly errorsAfterKill = new Map<string, number>();
  private running = true;
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly client: Cluster,
    ranges: readonly SlotRange[],
    writersPerRange: number,
  ) {
    this.recoveredMs = ranges.map(() => undefined);
    this.acksBeforeKill = ranges.map(() => 0);
    ranges.forEach((range, r) => {
      const keys = keysInRange(range, writersPerRange * 8);
      for (let w = 0; w < writersPerRange; w++) this.loops.push(this.loop(r, keys.slice(w * 8, w * 8 + 8)));
    });
  }

  private async loop(range: number, keys: readonly string[]): Promise<void> {
    for (let n = 0; this.running; n++) {
      const sent = performance.now();
      try {
        // With its leader gone a range's commands can sit in the client's retry queue; bound each one
        // so a loop moves on to fresh writes (the stuck one counts as an error).
        await withTimeout(this.client.set(keys[n % keys.length]!, String(n)), 3000, 'SET');
        if (this.killedAt === undefined) this.acksBeforeKill[range]!++;
        else if (sent >= this.killedAt && this.recoveredMs[range] === undefined) this.recoveredMs[range] = performance.now() - this.killedAt;
      } catch (error) {
        const errors = this.killedAt === undefined ? this.errorsBeforeKill : this.errorsAfterKill;
        const kind = classifyError(error);
        errors.set(kind, (errors.get(kind) ?? 0) + 1);
        await sleep(20);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await withTimeout(Promise.all(this.loops), 15_000, 'failover write loops to stop');
  }
}

interface FailoverRun {
  readonly victimRanges: number;
  readonly ranges: number;
  /** Slowest range the victim led, ms; undefined if one never recovered within the limit. */
  readonly victimMaxMs: number | undefined;
  readonly victimEachMs: (number | undefined)[];
  /** Slowest of the other ranges (their leader lived; only routing had to be refreshed). */
  readonly othersMaxMs: number | undefined;
  readonly errorsAfterKill: Map<string, number>;
  readonly errorsBeforeKill: number;
  readonly leaders: string;
}

const FAILOVER_LIMIT_MS = 30_000;

/** How long the failover client waits before retrying a redirected, TRYAGAIN or CLUSTERDOWN command. */
const FAILOVER_RETRY_DELAY_MS = 50;

function failoverClientOptions(): ClusterOptions {
  // The settings of test/integration/replication.test.ts: the client follows redirects, TRYAGAIN and
  // CLUSTERDOWN and refreshes its slot map itself, so only what it gives up on reaches the application.
  const retryDelay = FAILOVER_RETRY_DELAY_MS;
  return {
    redisOptions: { connectTimeout: 500, maxRetriesPerRequest: 5 },
    slotsRefreshTimeout: 500,
    maxRedirections: 200,
    retryDelayOnFailover: retryDelay,
    retryDelayOnTryAgain: retryDelay,
    retryDelayOnClusterDown: retryDelay,
  };
}

async function failoverRun(o: Options, run: number): Promise<FailoverRun> {
  const cluster = await startCleave(o, 3);
  try {
    const ranges = await cluster.servingRanges();
    const client = await connectCluster(cluster.startupNodes, failoverClientOptions());
    const load = new FailoverLoad(client, ranges, o.writersPerRange);
    try {
      await sleep(1500);
      await pollUntil(async () => load.acksBeforeKill.every((n) => n > 0), {
        what: 'every range to acknowledge writes before the kill',
        timeoutMs: 20_000,
        hopeless: exitedOf(cluster.nodes),
      });
      // The leaders right before the kill: a range may have changed hands since the cluster came up.
      const now = await cluster.servingRanges();
      const leaders = await leaderSpread(cluster, now);
      const victimPort = now.find((r) => r.start <= 0 && 0 <= r.end)!.leader;
      const victim = cluster.nodes.find((n) => n.port === victimPort);
      if (victim === undefined) throw new Error(`CLUSTER SLOTS names leader port ${victimPort} for slot 0, which is none of the cluster's nodes`);
      const led = ranges.map((range) => now.some((r) => r.leader === victimPort && r.start <= range.end && range.start <= r.end));
      // Slot 0's leader leads slot 0's range, so it led at least one of ours unless the ranges changed under us.
      if (!led.some(Boolean)) throw new Error(`the ranges changed between the start and the kill: ${JSON.stringify(ranges)} then ${JSON.stringify(now)}`);
      load.killedAt = performance.now();
      await victim.kill('SIGKILL');
      // A range still down at the limit is reported as such below.
      await pollUntil(() => load.recoveredMs.every((t) => t !== undefined), { what: 'every range to recover', timeoutMs: FAILOVER_LIMIT_MS, intervalMs: 20 }).catch(
        () => undefined,
      );
      // A little longer under load, so errors that trail the recovery are counted too.
      await sleep(1000);
      await load.stop();
      const victimEachMs = load.recoveredMs.filter((_, r) => led[r]);
      const others = load.recoveredMs.filter((_, r) => !led[r]);
      const maxOf = (values: (number | undefined)[]): number | undefined =>
        values.length === 0 || values.some((v) => v === undefined) ? undefined : Math.max(...(values as number[]));
      const result: FailoverRun = {
        victimRanges: victimEachMs.length,
        ranges: ranges.length,
        victimMaxMs: maxOf(victimEachMs),
        victimEachMs,
        othersMaxMs: maxOf(others),
        errorsAfterKill: load.errorsAfterKill,
        errorsBeforeKill: [...load.errorsBeforeKill.values()].reduce((a, b) => a + b, 0),
        leaders,
      };
      const errorCount = [...result.errorsAfterKill.values()].reduce((a, b) => a + b, 0);
      console.log(
        `  run ${run}: killed ${victim.name} (led ${result.victimRanges} of ${result.ranges} ranges; leaders ${leaders}); ` +
          `its ranges writable after ${victimEachMs.map((t) => (t === undefined ? `>${FAILOVER_LIMIT_MS}` : Math.round(t))).join(', ')} ms; ` +
          `other ranges ${result.othersMaxMs === undefined ? 'n/a' : Math.round(result.othersMaxMs)} ms; client errors after the kill ${errorCount} ${[...result.errorsAfterKill].map(([k, n]) => `${k}:${n}`).join(' ')}`,
      );
      return result;
    } finally {
      await load.stop().catch(() => undefined);
      client.disconnect();
    }
  } finally {
    await cluster.stop();
  }
}

function failoverRows(runs: readonly FailoverRun[]): { perRun: string[]; summary: string } {
  const errorsOf = (run: FailoverRun): number => [...run.errorsAfterKill.values()].reduce((a, b) => a + b, 0);
  const perRun = runs.map((run, i) => {
    const kinds = run.errorsAfterKill.size === 0 ? '' : ` (${[...run.errorsAfterKill].map(([k, n]) => `${n} ${k}`).join(', ')})`;
    const each = run.victimEachMs.map((t) => (t === undefined ? `>${FAILOVER_LIMIT_MS}` : String(Math.round(t)))).join(', ');
    return `| ${i + 1} | ${run.leaders} | ${run.victimRanges} of ${run.ranges} | ${each} | **${run.victimMaxMs === undefined ? `>${FAILOVER_LIMIT_MS}` : Math.round(run.victimMaxMs)}** | ${run.othersMaxMs === undefined ? 'n/a' : Math.round(run.othersMaxMs)} | ${errorsOf(run)}${kinds} |`;
  });
  const recovered = runs.map((r) => r.victimMaxMs).filter((t): t is number => t !== undefined);
  const failed = runs.length - recovered.length;
  const errors = runs.map(errorsOf);
  const summary =
    recovered.length === 0
      ? `No run recovered within ${FAILOVER_LIMIT_MS / 1000} s.`
      : `Slowest range of the killed leader, over ${runs.length} runs: median **${Math.round(median(recovered))} ms**, min ${Math.round(Math.min(...recovered))} ms, max ${Math.round(Math.max(...recovered))} ms` +
        `${failed > 0 ? ` (${failed} run(s) did not recover within ${FAILOVER_LIMIT_MS / 1000} s and are left out)` : ''}. ` +
        `Client-visible errors after the kill per run: median ${median(errors)}, min ${Math.min(...errors)}, max ${Math.max(...errors)}; ` +
        `before the kill: ${runs.reduce((a, r) => a + r.errorsBeforeKill, 0)} in all runs.`;
  return { perRun, summary };
}

// ---------------------------------------------------------------------------------------------------
// Part 4: etcd.

/** One put through etcd's v3 JSON gateway; rejects on anything but a 200 with a response header. */
function etcdPut(agent: Agent, url: URL, key: string, value: string): Promise<void> {
  const body = JSON.stringify({ key: Buffer.from(key).toString('base64'), value: Buffer.from(value).toString('base64') });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: '/v3/kv/put',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => (res.statusCode === 200 && text.includes('"header"') ? resolve() : reject(new Error(`ETCD_${res.statusCode} ${text.slice(0, 200)}`))));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('etcd put timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

async function etcdPart(o: Options): Promise<{ rows: string[]; version: string; leaders: string }> {
  const etcd = await startEtcdCluster(3, CLUSTER_START_TIMEOUT_MS);
  const cleave = await startCleave(o, 3).catch(async (error: unknown) => {
    await etcd.stop();
    throw error;
  });
  const urls = etcd.clientUrls.map((u) => new URL(u));
  // Keep-alive connections, as many per member as loops use it, so no request waits for a socket.
  const agents = urls.map(() => new Agent({ keepAlive: true, maxSockets: o.etcdConcurrency }));
  const value = 'v'.repeat(o.valueBytes);
  const totals = { etcd: new LoadTotals(), cleave: new LoadTotals() };
  let client: Cluster | undefined;
  try {
    const leaders = await leaderSpread(cleave);
    client = await connectCluster(cleave.startupNodes);
    const c = client;
    // Loop i talks to member i mod 3, as a client balancing over the endpoints would.
    const etcdOp = (loop: number): Promise<void> => etcdPut(agents[loop % urls.length]!, urls[loop % urls.length]!, randomKey(o, 'etcd'), value);
    const cleaveOp = (): Promise<void> => c.set(randomKey(o, 'etcd'), value).then(() => undefined);
    await closedLoops(o.etcdConcurrency, 1000, etcdOp);
    await closedLoops(o.etcdConcurrency, 1000, cleaveOp);
    const sliceMs = (o.etcdSeconds * 1000) / o.runs;
    for (let r = 0; r < o.runs; r++) {
      for (const [name, op] of [
        ['etcd', etcdOp],
        ['cleave', cleaveOp],
      ] as const) {
        const sample = await closedLoops(o.etcdConcurrency, sliceMs, op);
        totals[name].add(sample);
        const s = sample.histogram.summary();
        console.log(
          `  slice ${r + 1}/${o.runs} ${name.padEnd(7)} ${rate(sample.ops / sample.elapsedSec)} writes/s p50 ${ms(s.p50Us)} p99 ${ms(s.p99Us)} ms, errors ${sample.errors.size === 0 ? 0 : [...sample.errors].join(' ')}`,
        );
      }
    }
    const row = (label: string, t: LoadTotals): string => {
      const s = t.histogram.summary();
      return `| ${label} | ${rate(median(t.rates))} | ${ms(s.p50Us)} | ${ms(s.p99Us)} | ${ms(s.p999Us)} | ${rate(s.count)} | ${t.errorText} |`;
    };
    return {
      rows: [
        row(`etcd ${etcd.version}, 3 members: PUT via /v3/kv/put (HTTP/JSON)`, totals.etcd),
        row('cleave RF3, 3 nodes: SET via ioredis Cluster (RESP)', totals.cleave),
        `| ratio cleave / etcd | ${ratio(median(totals.cleave.rates), median(totals.etcd.rates))} | | | | | |`,
      ],
      version: etcd.version,
      leaders,
    };
  } finally {
    client?.disconnect();
    for (const agent of agents) agent.destroy();
    await Promise.all([cleave.stop(), etcd.stop()]);
  }
}

// ---------------------------------------------------------------------------------------------------

function versionOf(command: string, args: string[], pattern: RegExp): string {
  const out = spawnSync(command, args, { encoding: 'utf8' });
  return pattern.exec(`${out.stdout ?? ''}${out.stderr ?? ''}`)?.[1] ?? 'not installed';
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  requireCommand('redis-benchmark', 'redis-tools', SCRIPT);
  requireCommand('redis-server', 'redis-server', SCRIPT);
  const started = performance.now();
  const factsAtStart = machineFacts();
  const build = buildDescription();
  const redisVersion = versionOf('redis-server', ['--version'], /v=(\S+)/);
  const etcdVersion = versionOf('etcd', ['--version'], /etcd Version: (\S+)/);
  const etcdInstalled = etcdVersion !== 'not installed';
  console.log(`${SCRIPT}: ${machineSummary(factsAtStart)}, load ${factsAtStart.load1.toFixed(2)}; redis-server ${redisVersion}; etcd ${etcdVersion}`);
  console.log(commandLine(o));

  const sections: string[] = [];
  let rf3Leaders = '';
  if (!o.skip.has('throughput') || !o.skip.has('latency')) {
    console.log('\nstarting cleave RF1, cleave RF3, redis-server (persistence off) and redis-server (appendfsync always)...');
    const startStart = performance.now();
    const rf1 = await startCleave(o, 1);
    const rf3 = await startCleave(o, 3);
    const redisOff = await startRedis('off');
    const redisAof = o.skip.has('latency') ? undefined : await startRedis('aof-fsync-always');
    rf3Leaders = await leaderSpread(rf3);
    console.log(`  (${elapsedText(startStart)})`);
    const redisTarget = (label: string, r: RedisClusterHandle): Target => ({ label, port: r.ports[0]!, startupNodes: r.ports.map((port) => ({ host: r.host, port })) });
    const cleaveTarget = (label: string, c: CleaveCluster): Target => ({ label, port: c.nodes[0]!.port, startupNodes: c.startupNodes });
    try {
      if (!o.skip.has('throughput')) {
        console.log(`\n[1/4] redis-benchmark --cluster -t set,get -n ${o.requests} -c ${o.clients}, pipelines ${o.pipelines.join(',')}, ${o.runs} alternating runs`);
        const partStart = performance.now();
        const rows = await throughputPart(o, [cleaveTarget('cleave RF1', rf1), cleaveTarget('cleave RF3', rf3), redisTarget('redis-server (off)', redisOff)]);
        console.log(`  (${elapsedText(partStart)})`);
        sections.push(
          [
            '#### Throughput: redis-benchmark --cluster',
            '',
            `\`redis-benchmark --cluster -p <first node> -t <set|get> -n ${o.requests} -c ${o.clients} -P <pipeline> -q\` against each cluster in turn (cleave RF1, cleave RF3, redis-server; SET then GET), ${o.runs} round(s); each figure is the median of the ${o.runs} run(s), in requests/s. The redis-server cluster has persistence off (\`--save '' --appendonly no\`), as in \`bench:redis\`. RF3 leaders per node: ${rf3Leaders}.`,
            '',
            `In cluster mode redis-benchmark runs one thread per master and its main thread checks every 250 ms whether they are done, so a test's time is counted in whole 250 ms steps and a short run under-reports its rate. A run shorter than ${o.minRunSeconds} s by that clock was therefore repeated with proportionally more requests, so the step costs at most ${Math.round(25 / o.minRunSeconds)}% of a figure; cells show the \`-n\` their runs used where it differs from ${o.requests.toLocaleString('en-US')}.`,
            '',
            '| op | pipeline | cleave RF1 | cleave RF3 | redis-server | RF3 / RF1 | RF1 / redis | RF3 / redis |',
            '| --- | --- | --- | --- | --- | --- | --- | --- |',
            ...rows,
          ].join('\n'),
        );
      }
      if (!o.skip.has('latency') && redisAof !== undefined) {
        console.log(`\n[2/4] SET latency, ${o.latencyConcurrency} in flight, ${o.latencySeconds} s per system in ${o.runs} alternating slices`);
        const partStart = performance.now();
        const rows = await latencyPart(o, [
          cleaveTarget('cleave RF1', rf1),
          cleaveTarget('cleave RF3', rf3),
          redisTarget('redis-server, appendfsync always', redisAof),
          redisTarget('redis-server, persistence off', redisOff),
        ]);
        console.log(`  (${elapsedText(partStart)})`);
        sections.push(
          [
            `#### Latency of one SET, ${o.latencyConcurrency} in flight`,
            '',
            `One ioredis \`Cluster\` client per system (no auto-pipelining) runs ${o.latencyConcurrency} loops, each with one \`SET\` of a ${o.valueBytes}-byte value in flight, on keys drawn uniformly from ${o.keys.toLocaleString('en-US')}; ${o.latencySeconds} s per system, in ${o.runs} slice(s) alternating between the systems after 1 s of unrecorded warm-up each. Latency is from the call to the reply, in an HDR histogram (3 significant digits); SET/s is the median of the slices. \`appendfsync always\` is redis-server's durability-matched setting (\`--appendonly yes --appendfsync always\`: fsync before the reply, as cleave acknowledges only fsync'd writes); with RF3 a cleave write is also on disk on at least one other node (a Raft majority) before the reply.`,
            '',
            '| system | SET/s | p50 ms | p99 ms | p99.9 ms | max ms | SETs measured | errors |',
            '| --- | --- | --- | --- | --- | --- | --- | --- |',
            ...rows,
          ].join('\n'),
        );
      }
    } finally {
      await Promise.all([rf1.stop(), rf3.stop(), redisOff.stop(), redisAof?.stop()]);
    }
  }

  if (!o.skip.has('failover')) {
    console.log(`\n[3/4] failover: ${o.failoverRuns} runs, each a fresh RF3 cluster, kill -9 of slot 0's leader under write load`);
    const partStart = performance.now();
    const runs: FailoverRun[] = [];
    for (let i = 1; i <= o.failoverRuns; i++) runs.push(await withTimeout(failoverRun(o, i), 180_000, `failover run ${i}`));
    console.log(`  (${elapsedText(partStart)})`);
    const { perRun, summary } = failoverRows(runs);
    sections.push(
      [
        '#### Failover: kill -9 of a leader under write load',
        '',
        `Each run starts a fresh 3-node cluster with RF3 (2 shards per node, so 6 slot ranges, each a Raft group on all 3 nodes; \`--election-timeout-ms ${o.electionTimeoutMs}\`), then one ioredis \`Cluster\` client configured as in \`test/integration/replication.test.ts\` (it follows MOVED, TRYAGAIN and CLUSTERDOWN and refreshes its slot map itself) runs ${o.writersPerRange} write loops per range, each writing its own 8 keys one \`SET\` at a time (a SET unanswered after 3 s is abandoned and counted as an error). After 1.5 s, and once every range has acknowledged writes, the node that CLUSTER SLOTS names as leader of slot 0 is killed with SIGKILL. For each range, the time from the kill to the first acknowledged SET that was sent after the kill is recorded; a run's figure is the slowest of the ranges the killed node led (they needed an election; the other ranges only a refreshed route). Errors are what reached the application from the kill until 1 s after the last range recovered. The times include the client's own part: noticing the dead connection, refreshing its slot map, and its 50 ms retry delays.`,
        '',
        '| run | leaders per node before | ranges the victim led | each of them writable after (ms) | slowest (ms) | other ranges, slowest (ms) | client errors after the kill |',
        '| --- | --- | --- | --- | --- | --- | --- |',
        ...perRun,
        '',
        summary,
      ].join('\n'),
    );
  }

  let etcdNote = '';
  if (!o.skip.has('etcd')) {
    if (!etcdInstalled) {
      console.log('\n[4/4] etcd: not installed (apt-get install -y etcd-server), skipped');
      etcdNote = 'etcd was not installed on this machine, so the etcd comparison was not measured.';
    } else {
      console.log(`\n[4/4] etcd 3 members vs cleave RF3: ${o.etcdConcurrency} in flight, ${o.etcdSeconds} s each in ${o.runs} alternating slices`);
      const partStart = performance.now();
      const { rows, version, leaders } = await etcdPart(o);
      console.log(`  (${elapsedText(partStart)})`);
      sections.push(
        [
          `#### etcd ${version} beside cleave RF3, ${o.etcdConcurrency} writes in flight`,
          '',
          `A 3-member etcd cluster on loopback (\`etcd\` from Debian's etcd-server, one data dir per member in a temp dir, every other setting etcd's default: WAL fsync'd before a proposal commits, default snapshot count, 100 ms heartbeat, 1000 ms election timeout) and a fresh 3-node cleave cluster with RF3 (leaders per node ${leaders}) ran on this machine at the same time, measured in ${o.runs} alternating slice(s) of ${Number((o.etcdSeconds / o.runs).toFixed(1))} s each after 1 s of unrecorded warm-up. etcd: ${o.etcdConcurrency} loops in this Node.js process, each with one \`POST /v3/kv/put\` in flight (base64 key and ${o.valueBytes}-byte value in JSON) over keep-alive HTTP/1.1 connections (\`http.Agent\`), loop i sending to member i mod 3 as a client balancing over the endpoints would (a follower forwards the proposal to the leader). cleave: ${o.etcdConcurrency} loops of \`SET\` on one ioredis \`Cluster\` client, which sends each to the leader of the key's range. Keys are drawn uniformly from ${o.keys.toLocaleString('en-US')} on both.`,
          '',
          '| system | writes/s | p50 ms | p99 ms | p99.9 ms | writes measured | errors |',
          '| --- | --- | --- | --- | --- | --- | --- |',
          ...rows,
          '',
          "How comparable this is: both acknowledge a write once a majority of 3 replicas has it fsync'd, on the same disk and cores. But etcd orders every write through one Raft group, whose leader does all the ordering work, while cleave spreads the keyspace over 6 Raft groups whose leaders are spread over the 3 nodes; etcd keeps an MVCC history (each put is a new revision) and serves it over HTTP/JSON through its gRPC gateway, which costs both the servers and this client more CPU per write than RESP; etcd's Go servers can use both cores each, a cleave node runs on one Node.js thread. So this compares two systems as clients use them, not two Raft implementations.",
        ].join('\n'),
      );
    }
  }

  const factsAtEnd = machineFacts();
  const total = elapsedText(started);
  const header = [
    `### Replication: cleave RF1 vs RF3, redis-server, failover${etcdInstalled && !o.skip.has('etcd') ? ', etcd' : ''} (${factsAtStart.date})`,
    '',
    `Command: \`${commandLine(o)}\` (took ${total}). Machine: \`nproc\` ${factsAtStart.cpus}, ${factsAtStart.model}, ${factsAtStart.memoryGiB} GiB, Node ${factsAtStart.node}; redis-server ${redisVersion}; etcd ${etcdVersion}; 1-minute load average ${factsAtStart.load1.toFixed(2)} at the start and ${factsAtEnd.load1.toFixed(2)} at the end (the machine is shared). Every cluster, and the load generators, ran on this machine. Each cleave cluster is 3 nodes, 2 shards per node, started fresh from \`dist/src/cli/main.js\` in a temp dir; RF is the pilot's \`--replicas\`. cleave was built from ${build}.`,
  ];
  const skipped = [...o.skip].map((p) => `${p} was skipped (--skip).`);
  const section = [...header, '', ...sections.flatMap((s) => [s, '']), ...(etcdNote ? [etcdNote, ''] : []), ...(skipped.length > 0 ? [skipped.join(' '), ''] : [])].join('\n');
  console.log(`\n${section}`);
  console.log(`${SCRIPT}: done in ${total}`);
  if (o.write) appendSection(section, o.output);
  else console.log('(--no-write: nothing appended)');
}

runScript(SCRIPT, main);

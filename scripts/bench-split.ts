/**
 * `npm run bench:split`: an online split of one shard under a concurrent write load, measured in one run.
 * For each scenario `<keys>x<elsewhere>` a fresh 3-node cluster gets `keys` keys in shard_0001 and
 * `elsewhere × keys` keys spread over its other shards; then, while ioredis Cluster clients write and read
 * the shard's keys, `POST /api/v1/shards/shard_0001/split` splits it. Reported: total and per-phase time,
 * snapshot MB/s, the write pause — the longest a write sat in the source's split buffer (the node's own
 * figure, from its `split: switched` log line) and the latency clients saw for writes to the moving slots
 * during buffering and switching — against write latency before, and the errors the clients saw (must
 * be 0); afterwards every acknowledged write is read back. Comparing `100000x1` with
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
import { pollUntil } from '../src/common/poll.js';
import { keyHashSlot } from '../src/common/slots.js';
import { appendSection, buildDescription, logRecords, machineFacts, machineSummary, median, positiveIntFlag, requireCommand, runScript } from './bench-common.js';
import { CleaveCluster } from './bench-clusters.js';

const SCRIPT = 'bench:split';
const SOURCE_SHARD = 'shard_0001';
/** Keys written per pipeline while loading. */
const LOAD_BATCH = 1000;
const LOAD_BATCHES_IN_FLIGHT = 4;
/**
 * Tries per key while loading (about 7 s of backoff in all): on a busy machine a write may time out before
 * a quorum confirmed it, or find its shard between leaders; a SET of the same value is safe to repeat.
 */
const LOAD_ATTEMPTS = 10;
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
  const o: Options = {
    scenarios: [
      { keys: 100_000, elsewhere: 1 },
      { keys: 100_000, elsewhere: 10 },
      { keys: 1_000_000, elsewhere: 1 },
    ],
    valueBytes: 100,
    writers: 16,
    readers: 4,
    replicas: 3,
    redis: true,
    write: true,
  };
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
        console.error(
          `${SCRIPT}: unknown flag ${flag}\nusage: npm run bench:split -- [--scenarios 100000x1,100000x10,1000000x1] [--value-bytes N] [--writers N] [--readers N] [--replicas N] [--no-redis] [--no-write]`,
        );
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
  // One connection per port, shared by every batch sent there, including retries after a MOVED.
  const clients = new Map<number, Promise<Redis>>();
  const clientFor = (port: number): Promise<Redis> => {
    let client = clients.get(port);
    if (client === undefined) {
      const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 3 });
      clients.set(port, (client = redis.connect().then(() => redis)));
    }
    return client;
  };
  const setBatch = async (port: number, batch: readonly string[], attempt: number): Promise<void> => {
    const pipeline = (await clientFor(port)).pipeline();
    for (const key of batch) pipeline.set(key, value);
    const results = (await pipeline.exec()) ?? [];
    // Failed keys go again: to the new leader after a MOVED (leadership moved under load), else to the same node.
    const retry = new Map<number, string[]>();
    let lastError: Error | undefined;
    batch.forEach((key, i) => {
      const error = results[i]?.[0];
      if (error === null || error === undefined) return;
      lastError = error;
      const moved = /^MOVED \d+ [^ ]+:(\d+)/.exec(error.message);
      const to = moved === null ? port : Number(moved[1]);
      let list = retry.get(to);
      if (list === undefined) retry.set(to, (list = []));
      list.push(key);
    });
    if (lastError === undefined) return;
    if (attempt >= LOAD_ATTEMPTS) throw new Error(`loading on port ${port}, attempt ${attempt}: ${String(lastError)}`);
    await sleep(Math.min(1000, 200 * attempt));
    await Promise.all([...retry].map(([to, keys]) => setBatch(to, keys, attempt + 1)));
  };
  try {
    await Promise.all(
      [...byPort].map(async ([port, list]) => {
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < list.length) await setBatch(port, list.slice(next, (next += LOAD_BATCH)), 1);
        };
        await Promise.all(Array.from({ length: LOAD_BATCHES_IN_FLIGHT }, worker));
      }),
    );
  } finally {
    for (const client of clients.values())
      void client.then(
        (c) => c.disconnect(),
        () => undefined,
      );
  }
}

/** One write or read the load made: its key's slot, when it started (performance.now ms), how long it took, how it ended. */
interface Op {
  readonly slot: number;
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
    // Slots once, up front: which writes hit the moving slots is sorted out afterwards.
    const slotted = keys.map((key) => ({ key, slot: keyHashSlot(Buffer.from(key)) }));
    // Each writer owns its keys, so the last acknowledged value of a key is well defined.
    for (let w = 0; w < writers; w++) this.loops.push(this.writeLoop(slotted.filter((_, i) => i % writers === w)));
    for (let r = 0; r < readers; r++) this.loops.push(this.readLoop(slotted));
  }

  private async writeLoop(keys: readonly { key: string; slot: number }[]): Promise<void> {
    let n = 0;
    while (this.running) {
      const { key, slot } = keys[n % keys.length]!;
      const value = ++n;
      this.pending.set(key, value);
      const startMs = performance.now();
      try {
        await this.client.set(key, String(value));
        this.acked.set(key, value);
        this.pending.delete(key);
        this.writes.push({ slot, startMs, latencyMs: performance.now() - startMs });
      } catch (error) {
        this.writes.push({ slot, startMs, latencyMs: performance.now() - startMs, error: classifyError(error) });
      }
    }
  }

  private async readLoop(keys: readonly { key: string; slot: number }[]): Promise<void> {
    while (this.running) {
      const { key, slot } = keys[Math.floor(Math.random() * keys.length)]!;
      const startMs = performance.now();
      try {
        await this.client.get(key);
        this.reads.push({ slot, startMs, latencyMs: performance.now() - startMs });
      } catch (error) {
        this.reads.push({ slot, startMs, latencyMs: performance.now() - startMs, error: classifyError(error) });
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

/** Nearest-rank percentile of the successful ops, exact: for the few writes of a handover, where the histogram's rounding would show a p99 above the max. */
function exactPercentileMs(ops: readonly Op[], p: number): number | undefined {
  const sorted = ops
    .filter((op) => op.error === undefined)
    .map((op) => op.latencyMs)
    .sort((a, b) => a - b);
  return sorted.length === 0 ? undefined : sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

function maxMs(ops: readonly Op[]): number {
  return ops.reduce((m, op) => Math.max(m, op.latencyMs), 0);
}

interface SplitTaskBody {
  readonly task_id: string;
  readonly status: string;
  readonly reason?: string | null;
  readonly split_slot?: number | null;
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
  /** Writes to any slot whose wait overlapped buffering and switching: mostly ordinary slow writes under load. */
  readonly writesHandover: Op[];
  /** The slots that moved, [first, last]; undefined when the source never chose them. */
  readonly movingSlots: readonly [number, number] | undefined;
  /** The writes of `writesHandover` to the moving slots: the ones the buffer held, or could have. */
  readonly movingHandover: Op[];
  /** The longest a write waited in the source's split buffer, as the source's leader measured it; undefined without a switch. */
  readonly longestHeldMs: number | undefined;
  readonly errors: Map<string, number>;
  readonly lost: number;
  readonly checked: number;
}

const PHASES = ['preparing', 'snapshot_transfer', 'catching_up', 'buffering', 'switching', 'cleanup'] as const;

async function cleaveScenario(o: Options, scenario: Scenario): Promise<CleaveResult> {
  // Info level for the 'split: switched' line and its longest_buffered_ms: a handful of lines per split.
  const cluster = await CleaveCluster.start({ nodes: 3, replicas: o.replicas, shardsPerNode: 2, electionTimeoutMs: 1000, startTimeoutMs: 60_000, nodeLogLevel: 'info' });
  try {
    const ranges = await cluster.servingRanges();
    const leaderOf = (slot: number): number => ranges.find((r) => r.start <= slot && slot <= r.end)!.leader;
    const source = ranges.find((r) => r.start === 0)!;
    const value = 'v'.repeat(o.valueBytes);
    const shardKeys = keysInSlots('split', scenario.keys, source.start, source.end + 1);
    const otherKeys = keysInSlots('other', scenario.keys * scenario.elsewhere, source.end + 1, 16384);
    const loadStart = performance.now();
    await load([...shardKeys, ...otherKeys], value, leaderOf);
    console.log(
      `  loaded ${shardKeys.length.toLocaleString('en-US')} keys into ${SOURCE_SHARD} and ${otherKeys.length.toLocaleString('en-US')} elsewhere in ${((performance.now() - loadStart) / 1000).toFixed(1)} s`,
    );

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
      async () => {
        task = (await (await fetch(`${cluster.pilotUrl}/api/v1/splits/${created.split_task_id}`)).json()) as SplitTaskBody;
        return ['completed', 'failed', 'cancelled'].includes(task.status);
      },
      { what: `split ${created.split_task_id} to finish`, timeoutMs: 30 * 60_000 },
    );
    const splitEnd = performance.now();
    await sleep(1000);
    await runLoad.stop();
    const lost = await runLoad.lostWrites();
    client.disconnect();
    // Read before stop() removes the logs. A source leader that changed mid-split logs its own switch,
    // and only one switch releases held writes; the max covers either.
    const held = cluster.nodes
      .flatMap((n) => (n.logFile === undefined ? [] : logRecords(n.logFile, 'split: switched')))
      .map((r) => r['longest_buffered_ms'])
      .filter((v): v is number => typeof v === 'number');

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
    // A write held in the buffer started before the switch window ends and finished inside it or after.
    const writesHandover = runLoad.writes.filter((w) => w.startMs <= switchWindow[1]! && w.startMs + w.latencyMs >= switchWindow[0]!);
    const splitSlot = task!.split_slot ?? undefined;
    const movingSlots = splitSlot === undefined ? undefined : ([splitSlot, source.end] as const);
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
      writesHandover,
      movingSlots,
      movingHandover: movingSlots === undefined ? [] : writesHandover.filter((w) => w.slot >= movingSlots[0] && w.slot <= movingSlots[1]),
      longestHeldMs: held.length === 0 ? undefined : Math.max(...held),
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
    await runRedisCli([
      '--cluster',
      'reshard',
      `${redis.host}:${first}`,
      '--cluster-from',
      fromId,
      '--cluster-to',
      toId,
      '--cluster-slots',
      String(movedSlots),
      '--cluster-yes',
      '--cluster-pipeline',
      '100',
    ]);
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
      p99BeforeMs: percentileMs(
        runLoad.writes.filter((w) => w.startMs < start),
        99,
      ),
      p99DuringMs: percentileMs(during, 99),
      lost: lost.length,
    };
  } finally {
    await redis.stop();
  }
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
/** A figure, or '-' when there is nothing to measure it on. */
const fmtOr = (n: number | undefined, digits = 0): string => (n === undefined ? '-' : fmt(n, digits));

/** The write-pause figures of one scenario, as the table and the progress line show them. */
function pauseFigures(r: CleaveResult): { held: string; moving: string; movingMax: string; movingP99: string; anySlot: string; p99Before: string } {
  const none = r.movingHandover.length === 0;
  return {
    held: fmtOr(r.longestHeldMs),
    moving: r.movingSlots === undefined ? '-' : fmt(r.movingHandover.length),
    movingMax: none ? '-' : fmt(maxMs(r.movingHandover), 1),
    movingP99: fmtOr(exactPercentileMs(r.movingHandover, 99), 1),
    anySlot: fmt(maxMs(r.writesHandover), 1),
    p99Before: fmt(percentileMs(r.writesBefore, 99), 1),
  };
}

function report(o: Options, results: readonly CleaveResult[], redisResults: readonly RedisResult[], commandLine: string, build: string): string {
  const facts = machineFacts();
  const lines = [
    `### Online split under load (${facts.date})`,
    '',
    `Command: \`${commandLine}\`, cleave built from ${build}. Machine: ${machineSummary(facts)}; 1-minute load average ${facts.load1.toFixed(2)} at the end (shared machine). Each scenario is a fresh 3-node cleave cluster (RF ${o.replicas}, 6 shards); \`<keys>x<elsewhere>\` puts <keys> keys of ${o.valueBytes} B into ${SOURCE_SHARD} and <elsewhere> × as many into the other shards, then splits ${SOURCE_SHARD} with \`POST /api/v1/shards/${SOURCE_SHARD}/split {}\` (the pilot picks the slot) while one ioredis Cluster client runs ${o.writers} writers (one SET in flight each, each on its own keys) and ${o.readers} readers on a sample of the shard's keys. The write pause, aimed under 50 ms: "longest held" is the longest a write waited in the source leader's split buffer, as that node measured it (\`longest_buffered_ms\` of its \`split: switched\` log line); "moving-slot writes in handover" are the client's writes to the slots that moved whose wait overlapped buffering and switching (the pilot's phase times), with their longest and p99 latency as the client saw it, MOVED retry included — against "p99 before", over all writes started before the split. "Slowest write in handover, any slot" is the longest write of any slot overlapping the same window: on a busy machine mostly ordinary slow writes, not the pause. "p99 during" is over all writes started during the split. Afterwards every key's last acknowledged value is read back ("lost").`,
    '',
    '| scenario | status | total s | ' +
      PHASES.join(' ms | ') +
      ' ms | snapshot MB/s | longest held ms (node) | moving-slot writes in handover | their max ms | their p99 ms | p99 before ms | slowest write in handover, any slot ms | p99 during ms | client errors | lost / checked |',
    `| --- | --- | --- | ${PHASES.map(() => '---').join(' | ')} | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |`,
    ...results.map((r) => {
      const f = pauseFigures(r);
      return `| ${fmt(r.scenario.keys)} keys, ${r.scenario.elsewhere}× elsewhere | ${r.status}${r.reason ? ` (${r.reason})` : ''} | ${fmt(r.totalMs / 1000, 2)} | ${PHASES.map((p) => (r.phaseMs[p] === undefined ? '-' : fmt(r.phaseMs[p]!))).join(' | ')} | ${fmt(r.snapshotMBps, 1)} | ${f.held} | ${f.moving} | ${f.movingMax} | ${f.movingP99} | ${f.p99Before} | ${f.anySlot} | ${fmt(percentileMs(r.writesDuring, 99), 1)} | ${formatErrors(r.errors)} | ${r.lost} / ${fmt(r.checked)} |`;
    }),
  ];
  if (redisResults.length > 0) {
    lines.push(
      '',
      `Redis Cluster beside it: three Debian redis-server masters (persistence off); the given number of keys loaded into slots 0-2729 of the first master, then \`redis-cli --cluster reshard --cluster-from <first> --cluster-to <second> --cluster-slots 2730 --cluster-yes --cluster-pipeline 100\` under the same client load.`,
      '',
      '| keys moved | slots | seconds | keys/s | max write ms | p99 before ms | p99 during ms | client errors | lost |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...redisResults.map(
        (r) =>
          `| ${fmt(r.keys)} | ${r.slots} | ${fmt(r.seconds, 2)} | ${fmt(r.keys / r.seconds)} | ${fmt(r.maxWriteMs, 1)} | ${fmt(r.p99BeforeMs, 1)} | ${fmt(r.p99DuringMs, 1)} | ${formatErrors(r.errors)} | ${r.lost} |`,
      ),
    );
    const cleaveRates = results.filter((r) => r.status === 'completed').map((r) => r.scenario.keys / 2 / (r.totalMs / 1000));
    if (cleaveRates.length > 0)
      lines.push(
        '',
        `cleave moved about half of each shard's keys; its median rate over the completed scenarios, keys moved per second of total split time: ${fmt(median(cleaveRates))}.`,
      );
  }
  return `${lines.join('\n')}\n`;
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
    const f = pauseFigures(r);
    console.log(
      `  ${r.status}${r.reason ? ` (${r.reason})` : ''} in ${fmt(r.totalMs / 1000, 2)} s; longest held ${f.held} ms; ${f.moving} moving-slot writes in handover, max ${f.movingMax} ms, p99 ${f.movingP99} ms (p99 before ${f.p99Before} ms); slowest any-slot write in handover ${f.anySlot} ms; errors ${formatErrors(r.errors)}; lost ${r.lost}/${r.checked}`,
    );
    if (o.redis && scenario.elsewhere === 1) {
      console.log(`redis-cli --cluster reshard of ${fmt(scenario.keys / 2)} keys`);
      const rr = await redisReshard(o, Math.round(scenario.keys / 2));
      redisResults.push(rr);
      console.log(`  ${fmt(rr.keys)} keys in ${fmt(rr.seconds, 2)} s (${fmt(rr.keys / rr.seconds)} keys/s); errors ${formatErrors(rr.errors)}; lost ${rr.lost}`);
    }
  }
  const section = report(o, results, redisResults, commandLine, build);
  console.log(`\n${section}`);
  if (o.write) appendSection(section);
});

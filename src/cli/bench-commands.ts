import { readFileSync, writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { ADMIN_TOKEN, withSecretFile, type SecretFlag } from './secret-flags.js';
import { UsageError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { PilotEventPoller } from '../bench/pilot-events.js';
import { REDIS_PERSISTENCE_MODES, startRedisCluster, type RedisPersistence } from '../bench/redis-cluster.js';
import { compareRuns, formatComparison, formatResult } from '../bench/report.js';
import type { Phase } from '../bench/runner.js';
import { renderTimelineSvg } from '../bench/svg-plot.js';
import { parseTimeline } from '../bench/timeline.js';
import { TimelineFile } from '../bench/timeline-file.js';
import { runYcsb, type YcsbOptions, type YcsbResult } from '../bench/ycsb.js';
import { workloadSpec, type RequestDistribution } from '../bench/workload.js';

interface YcsbFlags {
  workload: string;
  records: number;
  operations: number;
  threads: number;
  host: string;
  port: number;
  distribution?: RequestDistribution;
  fieldcount: number;
  fieldlength: number;
  target?: number;
  duration?: number;
  pipeline: number;
  connections?: number;
  workers: number;
  timeline?: string;
  pilot?: string;
  /** From --pilot-token-file or the environment. */
  pilotToken?: string;
  compareRedis: boolean;
  redisMasters: number;
  redisPersistence: RedisPersistence;
  json: boolean;
  load: boolean;
  progress: boolean;
  seed?: number;
}

function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || !Number.isSafeInteger(n)) throw new UsageError(`${flag} must be a whole number of at least 1, got '${value}'`);
    return n;
  };
}

function positiveNumber(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, got '${value}'`);
    return n;
  };
}

/** The admin token of the pilot whose events go on the timeline, when it has one. */
const PILOT_TOKEN: SecretFlag = { ...ADMIN_TOKEN, flag: '--pilot-token', what: "the pilot's admin token" };

/**
 * Adds `bench ycsb` (YCSB core workloads A-F against any Redis Cluster endpoint, optionally side by
 * side with a local redis-server cluster) and `bench plot` (timeline CSV to SVG) to `program`.
 */
export function registerBenchCommands(program: Command): void {
  const bench = program.command('bench').description('Benchmark a Redis Cluster endpoint (cleave or redis-server)');

  const ycsb = bench
    .command('ycsb')
    .description('Load then run a YCSB core workload; print ops/s and latency percentiles per operation type')
    .option('--workload <name>', 'YCSB core workload: a (50/50 read/update), b (95/5), c (read only), d (read latest), e (short scans), f (read-modify-write)', 'a')
    .option('--records <n>', 'records to load (YCSB recordcount)', positiveInt('--records'), 10_000)
    .option('--operations <n>', 'operations in the run phase (YCSB operationcount)', positiveInt('--operations'), 100_000)
    .option('--threads <n>', 'concurrent client loops', positiveInt('--threads'), 16)
    .option('--host <host>', 'any node of the cluster', '127.0.0.1')
    .option('--port <port>', 'its client port', positiveInt('--port'), 7001)
    .addOption(new Option('--distribution <name>', "request distribution (default: the workload's)").choices(['zipfian', 'uniform', 'latest']))
    .option('--fieldcount <n>', 'fields per record', positiveInt('--fieldcount'), 10)
    .option('--fieldlength <bytes>', 'bytes per field', positiveInt('--fieldlength'), 100)
    .option('--target <ops/s>', 'throttle to this rate; latencies then count from the intended send time', positiveNumber('--target'))
    .option('--duration <sec>', 'stop the run phase after this many seconds', positiveNumber('--duration'))
    .option('--pipeline <n>', 'requests each thread keeps outstanding', positiveInt('--pipeline'), 1)
    .option('--connections <n>', 'cluster clients (one socket per master each), shared by the threads (default: min(threads, 4))', positiveInt('--connections'))
    .option('--workers <n>', 'client processes the threads are spread over', positiveInt('--workers'), 1)
    .option('--timeline <file>', 'write per-second throughput, latency percentiles, errors and pilot events to this CSV')
    .option('--pilot <url>', "poll the pilot's events (nodes down and up, routing versions, split phases) into the timeline");
  withSecretFile(ycsb, PILOT_TOKEN)
    .option('--compare-redis', 'also run the workload against a local redis-server cluster of the same shape and print the ratios', false)
    .option('--redis-masters <n>', 'masters of the --compare-redis cluster', positiveInt('--redis-masters'), 3)
    .addOption(
      new Option('--redis-persistence <mode>', 'persistence of the --compare-redis cluster: off, or aof-fsync-always (an fsync before every write is acknowledged, as cleave does)')
        .choices(REDIS_PERSISTENCE_MODES)
        .default('off'),
    )
    .option('--json', 'print the results as JSON', false)
    .option('--no-load', 'skip the load phase (records are already there)')
    .option('--no-progress', 'no progress bar')
    .option('--seed <n>', 'seed of the workload random source (default: time-based)', positiveInt('--seed'))
    .action(async (flags: YcsbFlags) => {
      await benchYcsb(flags);
    });

  bench
    .command('plot')
    .description('Draw throughput and p99 over time (with pilot events) from a --timeline CSV as SVG')
    .argument('<file>', 'timeline CSV written by bench ycsb --timeline')
    .requiredOption('-o, --output <file>', 'SVG file to write')
    .option('--title <text>', 'chart title')
    .action((file: string, flags: { output: string; title?: string }) => {
      if (!flags.output.endsWith('.svg')) throw new UsageError(`-o must name an .svg file (PNG output is not supported), got '${flags.output}'`);
      const rows = parseTimeline(readFileSync(file, 'utf8'));
      writeFileSync(flags.output, renderTimelineSvg(rows, { title: flags.title ?? `cleave bench: ${file}` }));
    });
}

async function benchYcsb(flags: YcsbFlags): Promise<void> {
  if (flags.workers > flags.threads) throw new UsageError(`--workers (${flags.workers}) cannot exceed --threads (${flags.threads})`);
  const options: YcsbOptions = {
    host: flags.host,
    port: flags.port,
    workload: workloadSpec(flags.workload, flags.distribution),
    recordCount: flags.records,
    operationCount: flags.operations,
    threads: flags.threads,
    pipelineDepth: flags.pipeline,
    connections: Math.max(flags.workers, flags.connections ?? Math.min(flags.threads, 4)),
    workers: flags.workers,
    fieldCount: flags.fieldcount,
    fieldLengthBytes: flags.fieldlength,
    seed: flags.seed ?? Date.now() % 2 ** 31,
    skipLoad: !flags.load,
    ...(flags.target === undefined ? {} : { targetOpsPerSec: flags.target }),
    ...(flags.duration === undefined ? {} : { durationSec: flags.duration }),
  };
  const cleave = await benchOne(options, flags, flags.timeline, 'target');
  if (!flags.compareRedis) {
    process.stdout.write(flags.json ? `${JSON.stringify(cleave, null, 2)}\n` : `${formatResult(cleave, 'target')}\n`);
    return;
  }
  const redis = await startRedisCluster({ masters: flags.redisMasters, persistence: flags.redisPersistence, logger: createLogger('bench') });
  let redisResult: YcsbResult;
  try {
    // The redis run gets its own timeline next to the first: run.csv → run.redis.csv.
    const redisTimeline = flags.timeline?.replace(/(\.csv)?$/, '.redis$1');
    redisResult = await benchOne({ ...options, host: redis.host, port: redis.ports[0]! }, { ...flags, pilot: undefined }, redisTimeline, 'redis');
  } finally {
    await redis.stop();
  }
  const comparison = compareRuns(cleave, redisResult);
  const redisLabel = flags.redisPersistence === 'off' ? 'redis-server' : `redis-server (${flags.redisPersistence})`;
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ target: cleave, redis: redisResult, redisPersistence: flags.redisPersistence, ratios: comparison }, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatResult(cleave, 'target')}\n\n${formatResult(redisResult, redisLabel)}\n\n${formatComparison(comparison)}\n`);
  }
}

async function benchOne(options: YcsbOptions, flags: YcsbFlags, timelinePath: string | undefined, label: string): Promise<YcsbResult> {
  const startMs = Date.now();
  const timeline = timelinePath === undefined ? undefined : new TimelineFile(timelinePath, startMs);
  const poller =
    flags.pilot === undefined
      ? undefined
      : new PilotEventPoller(
          // An empty token (an unset variable) means none.
          { url: flags.pilot.replace(/\/+$/, ''), ...(flags.pilotToken ? { adminToken: flags.pilotToken } : {}) },
          startMs,
          (event) => timeline?.writeEvent(event),
          (reason) => process.stderr.write(`cleave bench: ${reason}\n`),
        );
  const bar =
    flags.progress && process.stderr.isTTY
      ? new cliProgress.SingleBar({ format: `${label} {phase} [{bar}] {percentage}% | {value}/{total} ops | {rate} ops/s`, hideCursor: true }, cliProgress.Presets.shades_classic)
      : undefined;
  let phaseStartMs = 0;
  let currentPhase: Phase = 'load';
  poller?.start();
  try {
    return await runYcsb(options, {
      onPhaseStart: (phase, total) => {
        bar?.stop();
        currentPhase = phase;
        phaseStartMs = Date.now();
        bar?.start(total, 0, { phase, rate: 0 });
      },
      onProgress: (phase, completed) => {
        if (phase !== currentPhase) return;
        bar?.update(completed, { phase, rate: Math.round(completed / Math.max(1e-3, (Date.now() - phaseStartMs) / 1000)) });
      },
      onInterval: (snapshot) => timeline?.writeInterval(snapshot),
    });
  } finally {
    bar?.stop();
    await poller?.stop();
    timeline?.close();
  }
}

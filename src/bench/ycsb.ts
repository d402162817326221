import { fork, type ChildProcess } from 'node:child_process';
import { assert } from '../common/errors.js';
import type { KvDriver } from './kv-driver.js';
import type { LatencySummary } from './latency-histogram.js';
import { OpStats, type OpTypeReport, type SerializedOpStats } from './op-stats.js';
import { seededRandom } from './random-source.js';
import { RedisClusterDriver } from './redis-cluster-driver.js';
import { runPhase, type IntervalSnapshot, type Phase, type PhaseConfig, type PhaseResult } from './runner.js';
import { CoreWorkload, type WorkloadSpec } from './workload.js';

/** One YCSB benchmark against one Redis Cluster endpoint. */
export interface YcsbOptions {
  readonly host: string;
  readonly port: number;
  readonly workload: WorkloadSpec;
  readonly recordCount: number;
  readonly operationCount: number;
  /** Client loops in total, spread over the workers. */
  readonly threads: number;
  readonly pipelineDepth: number;
  /** Cluster client instances (each one socket per master) in total, spread over the workers. */
  readonly connections: number;
  /** Client processes; 1 runs in this process. */
  readonly workers: number;
  readonly fieldCount: number;
  readonly fieldLengthBytes: number;
  readonly targetOpsPerSec?: number;
  /** Caps the run phase. */
  readonly durationSec?: number;
  /** Skip the load phase (the records are already there). */
  readonly skipLoad?: boolean;
  readonly seed: number;
  readonly intervalMs?: number;
}

/** Progress and timeline callbacks. */
export interface YcsbHooks {
  onPhaseStart?(phase: Phase, operationCount: number): void;
  onProgress?(phase: Phase, completedOps: number): void;
  /** One interval of all workers together. */
  onInterval?(snapshot: IntervalSnapshot): void;
}

/** The client's own CPU use, to tell whether the client rather than the server was the bottleneck. */
export interface ClientCpu {
  readonly userSec: number;
  readonly systemSec: number;
  /** CPU time of all client processes over wall time: 100 = one core busy all the time. */
  readonly percentOfOneCore: number;
  /** The busiest client process's share of one core; near 100 means that process saturated. */
  readonly busiestProcessPercent: number;
  readonly processes: number;
}

/** What one phase measured, over all workers. */
export interface PhaseReport {
  readonly phase: Phase;
  readonly elapsedSec: number;
  /** Successful operations. */
  readonly operations: number;
  readonly opsPerSec: number;
  readonly errorCount: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly overall: LatencySummary;
  readonly byType: readonly OpTypeReport[];
  readonly clientCpu: ClientCpu;
}

/** The benchmark's result. */
export interface YcsbResult {
  readonly target: string;
  readonly workload: string;
  readonly distribution: string;
  readonly recordCount: number;
  readonly threads: number;
  readonly pipelineDepth: number;
  readonly connections: number;
  readonly workers: number;
  readonly targetOpsPerSec: number | null;
  /** True when latencies are measured from intended send times (with a target rate). */
  readonly latencyFromIntendedTime: boolean;
  readonly load: PhaseReport | null;
  readonly run: PhaseReport;
}

/** A worker's share of the options. */
export interface WorkerShare {
  readonly workerIndex: number;
  readonly workerCount: number;
  readonly threads: number;
  readonly connections: number;
  readonly operationCount: number;
  readonly targetOpsPerSec?: number;
}

/** Splits `total` into `parts` near-equal whole shares. */
function share(total: number, parts: number, index: number): number {
  return Math.floor((total * (index + 1)) / parts) - Math.floor((total * index) / parts);
}

/** The options worker `index` of `workerCount` runs with. */
export function workerShare(options: YcsbOptions, index: number): WorkerShare {
  const n = options.workers;
  return {
    workerIndex: index,
    workerCount: n,
    threads: Math.max(1, share(options.threads, n, index)),
    connections: Math.max(1, share(options.connections, n, index)),
    operationCount: share(options.operationCount, n, index),
    ...(options.targetOpsPerSec === undefined ? {} : { targetOpsPerSec: options.targetOpsPerSec / n }),
  };
}

/** The workload one process drives. */
export function createWorkload(options: YcsbOptions, worker: WorkerShare): CoreWorkload {
  return new CoreWorkload(
    {
      spec: options.workload,
      recordCount: options.recordCount,
      operationCount: options.operationCount,
      fieldCount: options.fieldCount,
      fieldLengthBytes: options.fieldLengthBytes,
      workerIndex: worker.workerIndex,
      workerCount: worker.workerCount,
    },
    seededRandom(options.seed + worker.workerIndex),
  );
}

/** Opens `count` cluster clients. */
export async function connectDrivers(options: YcsbOptions, count: number): Promise<KvDriver[]> {
  const drivers: KvDriver[] = [];
  try {
    for (let i = 0; i < count; i++) drivers.push(await RedisClusterDriver.connect({ host: options.host, port: options.port }));
  } catch (error) {
    await Promise.all(drivers.map((d) => d.close()));
    throw error;
  }
  return drivers;
}

/** The phase config of one worker. */
export function phaseConfig(options: YcsbOptions, worker: WorkerShare, phase: Phase): PhaseConfig {
  const base = { phase, threads: worker.threads, pipelineDepth: options.pipelineDepth, ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }) };
  const throttle = worker.targetOpsPerSec === undefined ? {} : { targetOpsPerSec: worker.targetOpsPerSec };
  if (phase === 'load') return { ...base, ...throttle, operationCount: options.recordCount };
  return { ...base, ...throttle, operationCount: worker.operationCount, ...(options.durationSec === undefined ? {} : { durationSec: options.durationSec }) };
}

/** A phase result as plain data, the form workers send it in. */
export interface SerializedPhaseResult {
  readonly phase: Phase;
  readonly stats: SerializedOpStats;
  readonly startMs: number;
  readonly elapsedSec: number;
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
}

/** Messages between the coordinator and a worker process. */
export type ToWorker =
  | { readonly type: 'init'; readonly options: YcsbOptions; readonly worker: WorkerShare }
  | { readonly type: 'phase'; readonly phase: Phase }
  | { readonly type: 'exit' };
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'progress'; readonly completed: number }
  | { readonly type: 'interval'; readonly phase: Phase; readonly index: number; readonly startMs: number; readonly endMs: number; readonly stats: SerializedOpStats }
  | { readonly type: 'phase-done'; readonly result: SerializedPhaseResult }
  | { readonly type: 'error'; readonly message: string };

/**
 * Loads then runs a YCSB workload against the endpoint and measures it. With one worker everything
 * runs in this process; with more, each worker process runs its share and this one merges their
 * histograms interval by interval.
 */
export async function runYcsb(options: YcsbOptions, hooks: YcsbHooks = {}): Promise<YcsbResult> {
  assert(options.workers >= 1 && options.threads >= options.workers, 'at least one thread per worker');
  const runner = options.workers === 1 ? await InProcessRunner.start(options) : await WorkerPool.start(options);
  try {
    let load: PhaseReport | null = null;
    if (options.skipLoad !== true) {
      hooks.onPhaseStart?.('load', options.recordCount);
      load = phaseReport(await runner.runPhase('load', hooks));
    }
    hooks.onPhaseStart?.('run', options.operationCount);
    const run = phaseReport(await runner.runPhase('run', hooks));
    return {
      target: `${options.host}:${options.port}`,
      workload: options.workload.name,
      distribution: options.workload.requestDistribution,
      recordCount: options.recordCount,
      threads: options.threads,
      pipelineDepth: options.pipelineDepth,
      connections: options.connections,
      workers: options.workers,
      targetOpsPerSec: options.targetOpsPerSec ?? null,
      latencyFromIntendedTime: options.targetOpsPerSec !== undefined,
      load,
      run,
    };
  } finally {
    await runner.close();
  }
}

interface PhaseRunner {
  runPhase(phase: Phase, hooks: YcsbHooks): Promise<PhaseResult[]>;
  close(): Promise<void>;
}

class InProcessRunner implements PhaseRunner {
  private constructor(
    private readonly options: YcsbOptions,
    private readonly worker: WorkerShare,
    private readonly workload: CoreWorkload,
    private readonly drivers: KvDriver[],
  ) {}

  static async start(options: YcsbOptions): Promise<InProcessRunner> {
    const worker = workerShare(options, 0);
    return new InProcessRunner(options, worker, createWorkload(options, worker), await connectDrivers(options, worker.connections));
  }

  async runPhase(phase: Phase, hooks: YcsbHooks): Promise<PhaseResult[]> {
    const result = await runPhase(this.workload, this.drivers, phaseConfig(this.options, this.worker, phase), {
      onInterval: (snapshot) => hooks.onInterval?.(snapshot),
      onProgress: (completed) => hooks.onProgress?.(phase, completed),
    });
    return [result];
  }

  async close(): Promise<void> {
    await Promise.all(this.drivers.map((d) => d.close()));
  }
}

/** Intervals of several workers, merged by index and handed on once every worker has sent one. */
class IntervalMerger {
  private readonly pending = new Map<number, { snapshot: IntervalSnapshot; sources: number }>();

  constructor(
    private readonly sourceCount: number,
    private readonly emit: (snapshot: IntervalSnapshot) => void,
  ) {}

  add(snapshot: IntervalSnapshot): void {
    const entry = this.pending.get(snapshot.index);
    if (entry === undefined) {
      this.pending.set(snapshot.index, { snapshot, sources: 1 });
    } else {
      entry.snapshot.stats.add(snapshot.stats);
      entry.snapshot = { ...entry.snapshot, startMs: Math.min(entry.snapshot.startMs, snapshot.startMs), endMs: Math.max(entry.snapshot.endMs, snapshot.endMs) };
      entry.sources++;
    }
    this.drain(false);
  }

  /** Hands on the intervals still waiting (workers that finished early send no more). */
  flush(): void {
    this.drain(true);
  }

  private drain(all: boolean): void {
    for (const index of [...this.pending.keys()].sort((a, b) => a - b)) {
      const entry = this.pending.get(index)!;
      if (!all && entry.sources < this.sourceCount) return;
      this.pending.delete(index);
      this.emit(entry.snapshot);
    }
  }
}

class WorkerPool implements PhaseRunner {
  private constructor(private readonly children: ChildProcess[]) {}

  static async start(options: YcsbOptions): Promise<WorkerPool> {
    const entry = new URL('./worker-main.js', import.meta.url);
    const children = Array.from({ length: options.workers }, () => fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const pool = new WorkerPool(children);
    try {
      await Promise.all(
        children.map((child, i) => {
          const ready = pool.next(child, 'ready');
          send(child, { type: 'init', options, worker: workerShare(options, i) });
          return ready;
        }),
      );
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  async runPhase(phase: Phase, hooks: YcsbHooks): Promise<PhaseResult[]> {
    const completed = new Array<number>(this.children.length).fill(0);
    const merger = new IntervalMerger(this.children.length, (snapshot) => hooks.onInterval?.(snapshot));
    const listeners = this.children.map((child, i) => {
      const listener = (message: FromWorker): void => {
        if (message.type === 'progress') {
          completed[i] = message.completed;
          hooks.onProgress?.(
            phase,
            completed.reduce((a, b) => a + b, 0),
          );
        } else if (message.type === 'interval') {
          merger.add({ phase: message.phase, index: message.index, startMs: message.startMs, endMs: message.endMs, stats: OpStats.deserialize(message.stats) });
        }
      };
      child.on('message', listener);
      return listener;
    });
    try {
      const results = await Promise.all(
        this.children.map((child) => {
          const done = this.next(child, 'phase-done');
          send(child, { type: 'phase', phase });
          return done;
        }),
      );
      merger.flush();
      return results.map((message) => {
        assert(message.type === 'phase-done', 'phase-done message');
        return { ...message.result, stats: OpStats.deserialize(message.result.stats) };
      });
    } finally {
      for (const [i, child] of this.children.entries()) child.off('message', listeners[i]!);
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      this.children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        if (child.connected) send(child, { type: 'exit' });
        else child.kill();
        await exited;
      }),
    );
  }

  /** The next message of `type` from `child`; rejects on a worker error or exit. */
  private next(child: ChildProcess, type: FromWorker['type']): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: FromWorker): void => {
        if (message.type === type) {
          cleanup();
          resolve(message);
        } else if (message.type === 'error') {
          cleanup();
          reject(new Error(`bench worker failed: ${message.message}`));
        }
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new Error(`bench worker exited with code ${code} before '${type}'`));
      };
      const cleanup = (): void => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
    });
  }
}

function send(child: ChildProcess, message: ToWorker): void {
  child.send(message);
}

/** Merges the results of every process of one phase into the report figures. */
export function phaseReport(results: readonly PhaseResult[]): PhaseReport {
  assert(results.length > 0, 'at least one phase result');
  const stats = new OpStats();
  for (const r of results) stats.add(r.stats);
  const elapsedSec = Math.max(...results.map((r) => r.elapsedSec));
  const userSec = results.reduce((a, r) => a + r.cpuUserUs, 0) / 1e6;
  const systemSec = results.reduce((a, r) => a + r.cpuSystemUs, 0) / 1e6;
  const busiest = Math.max(...results.map((r) => (r.cpuUserUs + r.cpuSystemUs) / 1e6 / Math.max(1e-9, r.elapsedSec)));
  const byType: OpTypeReport[] = stats.types().map((type) => {
    const t = stats.byType.get(type)!;
    return { type, opsPerSec: t.histogram.count / elapsedSec, errors: Object.fromEntries(t.errors), ...t.histogram.summary() };
  });
  const operations = stats.successCount;
  return {
    phase: results[0]!.phase,
    elapsedSec,
    operations,
    opsPerSec: operations / elapsedSec,
    errorCount: stats.errorCount,
    errors: Object.fromEntries(stats.errors),
    overall: stats.all.summary(),
    byType,
    clientCpu: {
      userSec,
      systemSec,
      percentOfOneCore: ((userSec + systemSec) / elapsedSec) * 100,
      busiestProcessPercent: busiest * 100,
      processes: results.length,
    },
  };
}

import { setTimeout as sleep } from 'node:timers/promises';
import { assert } from '../common/errors.js';
import type { KvDriver } from './kv-driver.js';
import { OpStats, classifyError } from './op-stats.js';
import type { CoreWorkload, Operation } from './workload.js';

/** YCSB's two phases: load inserts the records, run performs the workload's operation mix. */
export type Phase = 'load' | 'run';

/** How one process drives one phase. */
export interface PhaseConfig {
  readonly phase: Phase;
  /** Concurrent client loops (YCSB's threads), spread round-robin over the drivers (connections). */
  readonly threads: number;
  /** Requests each thread keeps outstanding; ioredis pipelines them per node connection. */
  readonly pipelineDepth: number;
  /** Operations to perform (the load phase stops earlier when the workload's share is loaded). */
  readonly operationCount: number;
  /**
   * Throttle to this rate. Latencies are then measured from each operation's intended send time on
   * the schedule, not from when it was sent, so a stall is charged to every operation it delayed
   * (no coordinated omission).
   */
  readonly targetOpsPerSec?: number;
  /** Stop after this long even if operations remain. */
  readonly durationSec?: number;
  /** Length of a timeline interval (1 s in reports; shorter in tests). */
  readonly intervalMs?: number;
}

/** The stats of one timeline interval. */
export interface IntervalSnapshot {
  readonly phase: Phase;
  /** 1 for the interval ending `intervalMs` after the phase started, and so on. */
  readonly index: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly stats: OpStats;
}

/** Progress and timeline callbacks. */
export interface PhaseHooks {
  onInterval?(snapshot: IntervalSnapshot): void;
  /** Called about four times a second with the operations completed so far (ok or failed). */
  onProgress?(completedOps: number): void;
}

/** What one process measured in one phase. */
export interface PhaseResult {
  readonly phase: Phase;
  readonly stats: OpStats;
  readonly startMs: number;
  readonly elapsedSec: number;
  /** This process's CPU time during the phase: user and system microseconds. */
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
}

const PROGRESS_INTERVAL_MS = 250;

/**
 * Runs one phase of `workload` over `drivers` and measures it. The loops share one workload (one
 * JavaScript thread, so no locking), and each thread's pipeline is a group of loops on one driver.
 */
export async function runPhase(workload: CoreWorkload, drivers: readonly KvDriver[], config: PhaseConfig, hooks: PhaseHooks = {}): Promise<PhaseResult> {
  assert(drivers.length > 0 && config.threads > 0 && config.pipelineDepth > 0, 'drivers, threads and pipeline depth');
  const intervalMs = config.intervalMs ?? 1000;
  const operationCount = config.phase === 'load' ? Math.min(config.operationCount, workload.loadCount) : config.operationCount;
  const total = new OpStats();
  let interval = new OpStats();
  let issued = 0;
  let completed = 0;
  let intervalIndex = 0;
  const cpuStart = process.cpuUsage();
  const startMs = Date.now();
  const startPerf = performance.now();
  const deadlinePerf = config.durationSec === undefined ? Infinity : startPerf + config.durationSec * 1000;
  let intervalStartMs = startMs;

  const flushInterval = (): void => {
    const endMs = Date.now();
    intervalIndex++;
    const snapshot: IntervalSnapshot = { phase: config.phase, index: intervalIndex, startMs: intervalStartMs, endMs, stats: interval };
    interval = new OpStats();
    intervalStartMs = endMs;
    hooks.onInterval?.(snapshot);
  };
  const intervalTimer = setInterval(flushInterval, intervalMs);
  const progressTimer = setInterval(() => hooks.onProgress?.(completed), PROGRESS_INTERVAL_MS);

  const record = (type: Operation['type'], sinceMs: number, error: unknown, topLevel: boolean): void => {
    if (error === undefined) {
      const latencyUs = (performance.now() - sinceMs) * 1000;
      total.recordSuccess(type, latencyUs, topLevel);
      interval.recordSuccess(type, latencyUs, topLevel);
    } else {
      const kind = classifyError(error);
      total.recordError(type, kind, topLevel);
      interval.recordError(type, kind, topLevel);
    }
  };

  const execute = async (driver: KvDriver, op: Operation, sinceMs: number): Promise<void> => {
    try {
      switch (op.type) {
        case 'READ':
          await driver.read(op.key);
          break;
        case 'UPDATE':
          await driver.update(op.key, op.values);
          break;
        case 'INSERT':
          try {
            await driver.insert(op.key, op.values);
          } finally {
            if (config.phase === 'run') workload.acknowledgeInsert(op.keynum);
          }
          break;
        case 'SCAN':
          await driver.scan(op.startKey, op.length);
          break;
        case 'READ-MODIFY-WRITE': {
          // YCSB measures the parts as READ and UPDATE too, and the whole as READ-MODIFY-WRITE.
          const readStart = performance.now();
          try {
            await driver.read(op.key);
          } catch (error) {
            record('READ', readStart, error, false);
            throw error;
          }
          record('READ', readStart, undefined, false);
          const updateStart = performance.now();
          try {
            await driver.update(op.key, op.values);
          } catch (error) {
            record('UPDATE', updateStart, error, false);
            throw error;
          }
          record('UPDATE', updateStart, undefined, false);
          break;
        }
      }
      record(op.type, sinceMs, undefined, true);
    } catch (error) {
      record(op.type, sinceMs, error, true);
    }
    completed++;
  };

  const loopCount = config.threads * config.pipelineDepth;
  const opIntervalMs = config.targetOpsPerSec === undefined ? 0 : 1000 / config.targetOpsPerSec;
  const loop = async (loopIndex: number): Promise<void> => {
    const driver = drivers[Math.floor(loopIndex / config.pipelineDepth) % drivers.length]!;
    for (let k = 0; ; k++) {
      if (issued >= operationCount || performance.now() >= deadlinePerf) return;
      let sinceMs = performance.now();
      if (opIntervalMs > 0) {
        // Loop i owns schedule slots i, i + loopCount, ...: together they tick at the target rate.
        const intendedMs = startPerf + (k * loopCount + loopIndex) * opIntervalMs;
        if (intendedMs > sinceMs) await sleep(intendedMs - sinceMs);
        if (performance.now() >= deadlinePerf) return;
        sinceMs = intendedMs;
      }
      const op = config.phase === 'load' ? workload.nextLoadOperation() : workload.nextTransaction();
      if (op === undefined) return;
      issued++;
      await execute(driver, op, sinceMs);
    }
  };

  try {
    await Promise.all(Array.from({ length: loopCount }, (_, i) => loop(i)));
  } finally {
    clearInterval(intervalTimer);
    clearInterval(progressTimer);
  }
  if (interval.successCount + interval.errorCount > 0) flushInterval();
  hooks.onProgress?.(completed);
  const cpu = process.cpuUsage(cpuStart);
  return {
    phase: config.phase,
    stats: total,
    startMs,
    elapsedSec: (performance.now() - startPerf) / 1000,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
  };
}

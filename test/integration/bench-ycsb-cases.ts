/**
 * What the YCSB integration tests share, whichever Redis Cluster they run against: the options of a short
 * run and the checks every workload's result must pass.
 */
import assert from 'node:assert/strict';
import type { YcsbOptions, YcsbResult } from '../../src/bench/ycsb.js';
import { workloadSpec, type OpType } from '../../src/bench/workload.js';

/** The op types each workload must have performed, in report order. */
export const EXPECTED_OP_TYPES: Readonly<Record<string, readonly OpType[]>> = {
  a: ['READ', 'UPDATE'],
  b: ['READ', 'UPDATE'],
  c: ['READ'],
  d: ['READ', 'INSERT'],
  e: ['INSERT', 'SCAN'],
  f: ['READ', 'UPDATE', 'READ-MODIFY-WRITE'],
};

/** Records every short run loads (or finds loaded). */
export const TEST_RECORDS = 2000;

/** A run of `workload` against `host:port` capped at `durationSec`, small enough for a test. */
export function shortRunOptions(host: string, port: number, workload: string, durationSec = 2): YcsbOptions {
  return {
    host,
    port,
    workload: workloadSpec(workload),
    recordCount: TEST_RECORDS,
    operationCount: 10_000_000,
    durationSec,
    threads: 4,
    pipelineDepth: 2,
    connections: 2,
    workers: 1,
    fieldCount: 10,
    fieldLengthBytes: 100,
    seed: 42,
  };
}

/** No application errors, and every op type the workload mixes was performed and timed. */
export function assertCleanRun(result: YcsbResult, workload: string): void {
  if (result.load !== null) {
    assert.equal(result.load.operations, TEST_RECORDS);
    assert.equal(result.load.errorCount, 0, JSON.stringify(result.load.errors));
  }
  assert.equal(result.run.errorCount, 0, JSON.stringify(result.run.errors));
  assert.ok(result.run.elapsedSec < 4, `run capped by durationSec: ${result.run.elapsedSec}`);
  assert.deepEqual(
    result.run.byType.map((t) => t.type),
    EXPECTED_OP_TYPES[workload],
  );
  for (const t of result.run.byType) assert.ok(t.count > 0 && t.p99Us > 0, `${workload} ${t.type}: ${t.count} ops, p99 ${t.p99Us} µs`);
  assert.ok(result.run.clientCpu.percentOfOneCore > 0);
}

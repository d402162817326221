import type { LatencySummary } from './latency-histogram.js';
import type { PhaseReport, YcsbResult } from './ycsb.js';

/** Above this share of one core the busiest client process was likely the bottleneck. */
const CLIENT_SATURATED_PERCENT = 90;

function ms(us: number): string {
  return (us / 1000).toFixed(us < 10_000 ? 3 : 1);
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function latencyCells(s: LatencySummary): string[] {
  return [ms(s.p50Us), ms(s.p95Us), ms(s.p99Us), ms(s.p999Us), ms(s.maxUs)];
}

const COLUMNS = ['op', 'ops', 'ops/s', 'p50 ms', 'p95 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'errors'];
const WIDTHS = [19, 10, 10, 9, 9, 9, 9, 9, 8];

function tableLine(cells: string[]): string {
  return cells.map((c, i) => pad(c, WIDTHS[i]!, i > 0)).join(' ');
}

/** The human-readable report of one phase. */
export function formatPhase(report: PhaseReport): string {
  const lines = [
    `[${report.phase.toUpperCase()}] ${report.elapsedSec.toFixed(2)} s, ${report.operations} ops, ${report.opsPerSec.toFixed(0)} ops/s, ${report.errorCount} errors`,
    tableLine(COLUMNS),
  ];
  for (const t of report.byType) {
    const errors = Object.values(t.errors).reduce((a, b) => a + b, 0);
    lines.push(tableLine([t.type, String(t.count), t.opsPerSec.toFixed(0), ...latencyCells(t), String(errors)]));
  }
  lines.push(tableLine(['ALL', String(report.operations), report.opsPerSec.toFixed(0), ...latencyCells(report.overall), String(report.errorCount)]));
  for (const [kind, n] of Object.entries(report.errors)) lines.push(`  error ${kind}: ${n}`);
  const cpu = report.clientCpu;
  const saturated = cpu.busiestProcessPercent >= CLIENT_SATURATED_PERCENT ? ' (client saturated: add --workers or machines)' : '';
  lines.push(
    `  client CPU: ${cpu.percentOfOneCore.toFixed(0)}% of one core over ${cpu.processes} process(es) (user ${cpu.userSec.toFixed(1)} s, system ${cpu.systemSec.toFixed(1)} s), busiest process ${cpu.busiestProcessPercent.toFixed(0)}%${saturated}`,
  );
  return lines.join('\n');
}

/** The human-readable report of a whole benchmark. */
export function formatResult(result: YcsbResult, label: string): string {
  const throttle = result.targetOpsPerSec === null ? 'unthrottled' : `target ${result.targetOpsPerSec} ops/s, latency from intended send time`;
  const head =
    `${label} ${result.target}: YCSB workload ${result.workload.toUpperCase()} (${result.distribution}), ${result.recordCount} records, ` +
    `${result.threads} threads × pipeline ${result.pipelineDepth}, ${result.connections} connection(s), ${result.workers} worker(s), ${throttle}`;
  return [head, ...(result.load === null ? [] : [formatPhase(result.load)]), formatPhase(result.run)].join('\n');
}

/** Ratios of cleave's run phase to redis's: throughput and latency per op type. */
export interface Comparison {
  readonly opsPerSecRatio: number;
  readonly byType: readonly { readonly type: string; readonly opsPerSecRatio: number; readonly p50Ratio: number; readonly p99Ratio: number }[];
}

/** cleave ÷ redis for the run phase (throughput above 1 and latency below 1 favour cleave). */
export function compareRuns(cleave: YcsbResult, redis: YcsbResult): Comparison {
  const ratio = (a: number, b: number): number => (b === 0 ? NaN : a / b);
  return {
    opsPerSecRatio: ratio(cleave.run.opsPerSec, redis.run.opsPerSec),
    byType: cleave.run.byType.flatMap((c) => {
      const r = redis.run.byType.find((t) => t.type === c.type);
      return r === undefined ? [] : [{ type: c.type, opsPerSecRatio: ratio(c.opsPerSec, r.opsPerSec), p50Ratio: ratio(c.p50Us, r.p50Us), p99Ratio: ratio(c.p99Us, r.p99Us) }];
    }),
  };
}

/** The comparison as text. */
export function formatComparison(comparison: Comparison): string {
  const lines = [`cleave ÷ redis (run phase): throughput ×${comparison.opsPerSecRatio.toFixed(2)}`];
  for (const t of comparison.byType) {
    lines.push(`  ${pad(t.type, 18)} ops/s ×${t.opsPerSecRatio.toFixed(2)}  p50 ×${t.p50Ratio.toFixed(2)}  p99 ×${t.p99Ratio.toFixed(2)}`);
  }
  return lines.join('\n');
}

/**
 * `cleave split <shard>` starts an online split (and with `--wait` follows it phase by phase with a
 * progress bar); `cleave splits` lists split tasks, `cleave splits show <task>` shows one, `cleave splits
 * cancel <task>` cancels one before it switches.
 */
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { isFinalStatus, SPLIT_PHASES, type SplitStatus } from '../split/phases.js';
import type { SplitProgress } from '../split/types.js';
import { callPilot, printTable, reportingFailures, withPilotOptions, type PilotFlags } from './admin-commands.js';
import { parseIntInRange } from './flags.js';

interface SplitTaskBody {
  task_id: string;
  source_shard: string;
  target_shard: string;
  split_slot: number | null;
  status: SplitStatus;
  reason: string | null;
  cancel_requested: boolean;
  created_at_ms: number;
  phases: Partial<Record<SplitStatus, number>>;
  progress: SplitProgress | null;
}

interface SplitFlags extends PilotFlags {
  slot?: number;
  targetNodes?: string;
  targetShard?: string;
  wait?: boolean;
}

const POLL_MS = 500;

const task = async (flags: PilotFlags, id: string): Promise<SplitTaskBody> => (await callPilot(flags, 'GET', `/api/v1/splits/${encodeURIComponent(id)}`)) as SplitTaskBody;

function summaryRow(t: SplitTaskBody): (string | number)[] {
  const ageS = Math.round((Date.now() - t.created_at_ms) / 1000);
  return [
    t.task_id,
    t.source_shard,
    t.target_shard,
    t.split_slot ?? '-',
    t.status + (t.cancel_requested && !isFinalStatus(t.status) ? ' (cancel asked)' : ''),
    t.progress?.delay ?? '-',
    `${ageS}s`,
    t.reason ?? '',
  ];
}
const SUMMARY_HEADERS = ['TASK', 'SOURCE', 'TARGET', 'SLOT', 'STATUS', 'DELAY', 'AGE', 'REASON'];

/** What a phase's bar counts: snapshot bytes while transferring, entries caught up while catching up. */
function barValues(t: SplitTaskBody): { value: number; total: number } {
  const p = t.progress;
  if (p === null) return { value: 0, total: 1 };
  switch (SPLIT_PHASES[t.status].progress) {
    case 'snapshot-bytes':
      return { value: p.snapshot_bytes_sent, total: Math.max(1, p.snapshot_bytes_total) };
    case 'entries-applied':
      return { value: p.target_applied_index, total: Math.max(1, p.source_last_index) };
    case null:
      return { value: 1, total: 1 };
  }
}

/** Polls the task until it ends; one line per phase, and a bar for the phase on a terminal. Exit 1 unless completed. */
async function follow(flags: PilotFlags, id: string): Promise<void> {
  const tty = process.stderr.isTTY;
  let bar: cliProgress.SingleBar | undefined;
  let phase: SplitStatus | undefined;
  for (;;) {
    const t = await task(flags, id);
    if (t.status !== phase) {
      bar?.stop();
      bar = undefined;
      phase = t.status;
      console.log(`${id}: ${t.status}${t.reason ? ` (${t.reason})` : ''}`);
      if (tty && SPLIT_PHASES[t.status].progress !== null) {
        bar = new cliProgress.SingleBar(
          { format: `  ${t.status} [{bar}] {percentage}% | delay {delay} | buffered {buffered}`, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        const { value, total } = barValues(t);
        bar.start(total, value, { delay: t.progress?.delay ?? '-', buffered: t.progress?.buffered_requests ?? 0 });
      }
    } else if (bar !== undefined) {
      const { value, total } = barValues(t);
      bar.setTotal(total);
      bar.update(value, { delay: t.progress?.delay ?? '-', buffered: t.progress?.buffered_requests ?? 0 });
    }
    if (isFinalStatus(t.status)) {
      bar?.stop();
      const took = ((t.phases[t.status] ?? Date.now()) - t.created_at_ms) / 1000;
      console.log(`${id}: ${t.status} after ${took.toFixed(2)} s${t.split_slot === null ? '' : `; ${t.target_shard} owns slots from ${t.split_slot}`}`);
      if (t.status !== 'completed') process.exitCode = 1;
      return;
    }
    await sleep(POLL_MS);
  }
}

export function registerSplitCommands(program: Command): void {
  withPilotOptions(program.command('split').description('split a shard online: the slots from --slot on move to a new shard'))
    .argument('<shard>', 'the shard to split, e.g. shard_0001')
    .option('--slot <n>', "the first slot that moves (default: the slot that halves the shard's bytes)", parseIntInRange('--slot', 1, 16383))
    .option('--target-nodes <ids>', 'nodes for the new shard, e.g. node2,node3 (default: the least loaded)')
    .option('--target-shard <id>', 'id of the new shard (default: the next shard_NNNN)')
    .option('--wait', 'follow the split until it ends, with a progress bar per phase')
    .action(
      reportingFailures(async (shardId: string, flags: SplitFlags) => {
        const body = {
          ...(flags.slot === undefined ? {} : { split_slot: flags.slot }),
          ...(flags.targetNodes === undefined
            ? {}
            : {
                target_nodes: flags.targetNodes
                  .split(',')
                  .map((n) => n.trim())
                  .filter((n) => n !== ''),
              }),
          ...(flags.targetShard === undefined ? {} : { target_shard_id: flags.targetShard }),
        };
        const created = (await callPilot(flags, 'POST', `/api/v1/shards/${encodeURIComponent(shardId)}/split`, body)) as { split_task_id: string; target_shard: string };
        if (flags.json && !flags.wait) return console.log(JSON.stringify(created, null, 2));
        console.log(`split ${created.split_task_id}: ${shardId} → ${created.target_shard}`);
        if (flags.wait) await follow(flags, created.split_task_id);
      }),
    );

  const splits = withPilotOptions(program.command('splits').description('list split tasks, newest first')).action(
    reportingFailures(async (flags: PilotFlags) => {
      const body = (await callPilot(flags, 'GET', '/api/v1/splits')) as { splits: SplitTaskBody[] };
      if (flags.json) return console.log(JSON.stringify(body, null, 2));
      printTable(SUMMARY_HEADERS, body.splits.map(summaryRow));
    }),
  );
  splits
    .command('show')
    .description('one split task: status, phases and progress')
    .argument('<task>', 'task id, e.g. split_1')
    .action(
      reportingFailures(async (id: string, _options: unknown, command: Command) => {
        const flags = command.optsWithGlobals<PilotFlags>();
        const t = await task(flags, id);
        if (flags.json) return console.log(JSON.stringify(t, null, 2));
        printTable(SUMMARY_HEADERS, [summaryRow(t)]);
        for (const [phase, atMs] of Object.entries(t.phases)) console.log(`  ${phase.padEnd(18)} ${new Date(atMs).toISOString()}`);
        if (t.progress !== null) console.log(`  progress: ${JSON.stringify(t.progress)}`);
      }),
    );
  splits
    .command('cancel')
    .description('cancel a split before it switches')
    .argument('<task>', 'task id, e.g. split_1')
    .action(
      reportingFailures(async (id: string, _options: unknown, command: Command) => {
        const flags = command.optsWithGlobals<PilotFlags>();
        const t = (await callPilot(flags, 'DELETE', `/api/v1/splits/${encodeURIComponent(id)}`)) as SplitTaskBody;
        if (flags.json) return console.log(JSON.stringify(t, null, 2));
        console.log(`cancel of ${id} accepted; the source's leader rolls it back`);
      }),
    );
}

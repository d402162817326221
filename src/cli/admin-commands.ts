/**
 * Commands that ask a running cluster's pilot: `cleave cluster`, `cleave nodes`, `cleave shards`, and
 * `cleave shards replicas` to change a shard's replicas or leader.
 */
import type { Command } from 'commander';
import { UsageError } from '../common/errors.js';
import { parseIntInRange, parseUrl } from './flags.js';

interface PilotFlags {
  pilot: string;
  token?: string;
  json?: boolean;
}

/** The pilot could not be reached or refused the request: exit code 1, with the pilot's own message. */
class PilotRequestError extends Error {
  override readonly name = 'PilotRequestError';
}

async function callPilot(flags: PilotFlags, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const headers: Record<string, string> = flags.token ? { authorization: `Bearer ${flags.token}` } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(flags.pilot + path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  } catch (err) {
    throw new PilotRequestError(`cannot reach the pilot at ${flags.pilot}: ${(err as Error).message}`);
  }
  const text = await response.text();
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = text;
  }
  if (!response.ok) {
    const message = (answer as { error?: { message?: unknown } } | undefined)?.error?.message;
    throw new PilotRequestError(`the pilot answered ${response.status}: ${typeof message === 'string' ? message : text}`);
  }
  return answer;
}

const getJson = (flags: PilotFlags, path: string): Promise<unknown> => callPilot(flags, 'GET', path);

/** Runs an action, turning a failed pilot request into one line on stderr and exit code 1. */
function reportingFailures<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await action(...args);
    } catch (err) {
      if (!(err instanceof PilotRequestError)) throw err;
      process.stderr.write(`cleave: ${err.message}\n`);
      process.exitCode = 1;
    }
  };
}

/** Prints rows as aligned columns. */
function printTable(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: readonly (string | number)[]): string => cells.map((c, i) => String(c).padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(line(headers));
  for (const row of rows) console.log(line(row));
}

function withPilotOptions(command: Command): Command {
  return command
    .option('--pilot <url>', 'the pilot', parseUrl('--pilot'), process.env.CLEAVE_PILOT ?? 'http://127.0.0.1:7000')
    .option('--token <token>', 'admin API token (env CLEAVE_ADMIN_TOKEN)', process.env.CLEAVE_ADMIN_TOKEN)
    .option('--json', 'print the API response as JSON');
}

interface NodeRow {
  id: string;
  address: string;
  state: string;
  pid: number;
  shard_count: number;
  leader_count: number;
}
interface ShardRow {
  id: string;
  keyspace: string;
  slots: string;
  epoch: number;
  leader: string | null;
  replicas: string[];
  /** Absent from pilots older than replication. */
  followers?: string[];
  transfer_to?: string;
  keys: number;
  bytes: number;
  ops_per_sec: number;
}

const SHARD_HEADERS = ['ID', 'KEYSPACE', 'SLOTS', 'EPOCH', 'LEADER', 'FOLLOWERS', 'KEYS', 'BYTES', 'OPS/S'] as const;

function shardCells(s: ShardRow): (string | number)[] {
  const followers = s.followers ?? s.replicas.filter((id) => id !== s.leader);
  // A pending transfer shows where leadership is headed.
  const leader = `${s.leader ?? '-'}${s.transfer_to === undefined ? '' : ` (→${s.transfer_to})`}`;
  return [s.id, s.keyspace, s.slots, s.epoch, leader, followers.length > 0 ? followers.join(',') : '-', s.keys, s.bytes, s.ops_per_sec];
}

/** The API lists either a bare array or `{ <key>: [...] }`; accept both. */
function listOf<T>(body: unknown, key: string): T[] {
  if (Array.isArray(body)) return body as T[];
  return ((body as Record<string, unknown>)[key] as T[] | undefined) ?? [];
}

/** The words `cleave shards replicas` takes for each API action. */
const REPLICA_ACTIONS: Readonly<Record<string, 'add' | 'remove' | 'transfer_leader'>> = {
  add: 'add',
  remove: 'remove',
  transfer: 'transfer_leader',
  transfer_leader: 'transfer_leader',
};

interface ReplicaChangeFlags extends PilotFlags {
  epoch?: number;
}

export function registerAdminCommands(program: Command): void {
  withPilotOptions(program.command('cluster').description('show the cluster summary')).action(
    reportingFailures(async (flags: PilotFlags) => {
      console.log(JSON.stringify(await getJson(flags, '/api/v1/cluster'), null, 2));
    }),
  );
  withPilotOptions(program.command('nodes').description('list the nodes')).action(
    reportingFailures(async (flags: PilotFlags) => {
      const body = await getJson(flags, '/api/v1/nodes');
      if (flags.json) return console.log(JSON.stringify(body, null, 2));
      printTable(
        ['ID', 'ADDRESS', 'STATE', 'PID', 'SHARDS', 'LEADS'],
        listOf<NodeRow>(body, 'nodes').map((n) => [n.id, n.address, n.state, n.pid, n.shard_count, n.leader_count]),
      );
    }),
  );
  const shards = withPilotOptions(program.command('shards').description('list the shards; `shards replicas` changes one'));
  shards.action(
    reportingFailures(async (flags: PilotFlags) => {
      const body = await getJson(flags, '/api/v1/shards');
      if (flags.json) return console.log(JSON.stringify(body, null, 2));
      printTable(SHARD_HEADERS, listOf<ShardRow>(body, 'shards').map(shardCells));
    }),
  );
  // --pilot, --token and --json belong to `shards`, which reads them on either side of `replicas`.
  shards
    .command('replicas')
    .description("add or remove one of a shard's replicas, or hand its leadership to a replica")
    .argument('<shard>', 'shard id, e.g. shard_0001')
    .argument('<action>', 'add, remove or transfer')
    .argument('<node>', 'node id, e.g. node4')
    .option('--epoch <n>', 'refuse unless the shard is still at this epoch', parseIntInRange('--epoch', 0, Number.MAX_SAFE_INTEGER))
    .action(
      reportingFailures(async (shardId: string, actionWord: string, nodeId: string, _options: unknown, command: Command) => {
        const flags = command.optsWithGlobals<ReplicaChangeFlags>();
        const action = REPLICA_ACTIONS[actionWord];
        if (action === undefined) throw new UsageError(`the action must be add, remove or transfer, got '${actionWord}'`);
        const body = { action, node_id: nodeId, ...(flags.epoch === undefined ? {} : { epoch: flags.epoch }) };
        const shard = (await callPilot(flags, 'POST', `/api/v1/shards/${encodeURIComponent(shardId)}/replicas`, body)) as ShardRow;
        if (flags.json) return console.log(JSON.stringify(shard, null, 2));
        const what = action === 'transfer_leader' ? `leadership of ${shard.id} to ${nodeId}` : `${action} ${nodeId} ${action === 'add' ? 'to' : 'from'} ${shard.id}`;
        console.log(`accepted: ${what}; the shard's leader carries it out`);
        printTable(SHARD_HEADERS, [shardCells(shard)]);
      }),
    );
}

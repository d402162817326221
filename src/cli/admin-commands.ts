/** Commands that ask a running cluster's pilot: `cleave cluster`, `cleave nodes`, `cleave shards`. */
import type { Command } from 'commander';
import { parseUrl } from './flags.js';

interface PilotFlags {
  pilot: string;
  token?: string;
  json?: boolean;
}

async function getJson(flags: PilotFlags, path: string): Promise<unknown> {
  const headers: Record<string, string> = flags.token ? { authorization: `Bearer ${flags.token}` } : {};
  let response: Response;
  try {
    response = await fetch(flags.pilot + path, { headers });
  } catch (err) {
    throw new Error(`cannot reach the pilot at ${flags.pilot}: ${(err as Error).message}`);
  }
  const body = (await response.json()) as unknown;
  if (!response.ok) throw new Error(`the pilot answered ${response.status}: ${JSON.stringify(body)}`);
  return body;
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
  keys: number;
  bytes: number;
  ops_per_sec: number;
}

/** The API lists either a bare array or `{ <key>: [...] }`; accept both. */
function listOf<T>(body: unknown, key: string): T[] {
  if (Array.isArray(body)) return body as T[];
  return ((body as Record<string, unknown>)[key] as T[] | undefined) ?? [];
}

export function registerAdminCommands(program: Command): void {
  withPilotOptions(program.command('cluster').description('show the cluster summary')).action(async (flags: PilotFlags) => {
    console.log(JSON.stringify(await getJson(flags, '/api/v1/cluster'), null, 2));
  });
  withPilotOptions(program.command('nodes').description('list the nodes')).action(async (flags: PilotFlags) => {
    const body = await getJson(flags, '/api/v1/nodes');
    if (flags.json) return console.log(JSON.stringify(body, null, 2));
    printTable(
      ['ID', 'ADDRESS', 'STATE', 'PID', 'SHARDS', 'LEADS'],
      listOf<NodeRow>(body, 'nodes').map((n) => [n.id, n.address, n.state, n.pid, n.shard_count, n.leader_count]),
    );
  });
  withPilotOptions(program.command('shards').description('list the shards')).action(async (flags: PilotFlags) => {
    const body = await getJson(flags, '/api/v1/shards');
    if (flags.json) return console.log(JSON.stringify(body, null, 2));
    printTable(
      ['ID', 'KEYSPACE', 'SLOTS', 'EPOCH', 'LEADER', 'REPLICAS', 'KEYS', 'BYTES', 'OPS/S'],
      listOf<ShardRow>(body, 'shards').map((s) => [s.id, s.keyspace, s.slots, s.epoch, s.leader ?? '-', s.replicas.join(','), s.keys, s.bytes, s.ops_per_sec]),
    );
  });
}

/**
 * Commands that ask a running cluster's pilot: `cleave cluster`, `cleave nodes`, `cleave shards`,
 * `cleave shards replicas` to change a shard's replicas or leader, and `cleave pilots` for the pilot's own
 * replicas. `--pilot` may list several replicas; requests find the leader among them.
 */
import type { Command } from 'commander';
import { UsageError } from '../common/errors.js';
import { type PilotAnswer, PilotReplicas, PilotUnreachableError } from '../common/pilot-replicas.js';
import { parseIntInRange, parseUrls } from './flags.js';
import { ADMIN_TOKEN, withSecretFile, type SecretFlag } from './secret-flags.js';

export interface PilotFlags {
  pilot: string;
  /** From --token-file or the environment. */
  token?: string;
  json?: boolean;
}

/** The pilot could not be reached or refused the request: exit code 1, with the pilot's own message. */
export class PilotRequestError extends Error {
  override readonly name = 'PilotRequestError';
}

/** How long one pilot replica has to answer before the next one is asked. */
const REQUEST_TIMEOUT_MS = 10_000;

export async function callPilot(flags: PilotFlags, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
  const headers: Record<string, string> = flags.token ? { authorization: `Bearer ${flags.token}` } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const replicas = new PilotReplicas(flags.pilot);
  let answer: PilotAnswer;
  try {
    answer = await replicas.request(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }), timeoutMs: REQUEST_TIMEOUT_MS });
  } catch (err) {
    if (!(err instanceof PilotUnreachableError)) throw err;
    throw new PilotRequestError(`cannot reach the pilot at ${replicas.urls.join(', ')}: ${err.message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.text);
  } catch {
    parsed = answer.text;
  }
  if (answer.status < 200 || answer.status >= 300) {
    const message = (parsed as { error?: { message?: unknown } } | undefined)?.error?.message;
    throw new PilotRequestError(`the pilot answered ${answer.status}: ${typeof message === 'string' ? message : answer.text}`);
  }
  return parsed;
}

const getJson = (flags: PilotFlags, path: string): Promise<unknown> => callPilot(flags, 'GET', path);

/** Runs an action, turning a failed pilot request into one line on stderr and exit code 1. */
export function reportingFailures<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
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
export function printTable(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: readonly (string | number)[]): string =>
    cells
      .map((c, i) => String(c).padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  console.log(line(headers));
  for (const row of rows) console.log(line(row));
}

/** The admin token, as the commands that ask the pilot take it. */
const TOKEN: SecretFlag = { ...ADMIN_TOKEN, flag: '--token' };

export function withPilotOptions(command: Command): Command {
  command.option(
    '--pilot <urls>',
    "the pilot: its URL, or its replicas' URLs separated by commas (env CLEAVE_PILOT)",
    parseUrls('--pilot'),
    process.env.CLEAVE_PILOT ?? 'http://127.0.0.1:7000',
  );
  return withSecretFile(command, TOKEN).option('--json', 'print the API response as JSON');
}

interface PilotReplicaRow {
  id: string;
  url: string;
  bus_address: string;
  role: string | null;
  match_index: number | null;
  recently_active: boolean | null;
}
interface PilotReplicationBody {
  id: string;
  leader: string | null;
  term: number;
  commit_index: number;
  applied_index: number;
  replicas: PilotReplicaRow[];
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

/** The pilot group as its leader sees it, or as `body`'s replica does when the leader does not answer. */
async function leaderView(flags: PilotFlags, body: PilotReplicationBody): Promise<PilotReplicationBody> {
  const url = body.replicas.find((r) => r.id === body.leader)?.url;
  if (url === undefined) return body;
  try {
    return (await getJson({ ...flags, pilot: url }, '/api/v1/pilot')) as PilotReplicationBody;
  } catch {
    return body;
  }
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
  withPilotOptions(program.command('pilots').description("list the pilot's replicas: which one leads, and how far each has replicated")).action(
    reportingFailures(async (flags: PilotFlags) => {
      // The leader knows every replica's progress: ask it, not whichever replica is listed first.
      const body = (await getJson(flags, '/api/v1/pilot')) as PilotReplicationBody;
      const fromLeader = body.leader !== null && body.leader !== body.id ? await leaderView(flags, body) : body;
      if (flags.json) return console.log(JSON.stringify(fromLeader, null, 2));
      console.log(`term ${fromLeader.term}, commit index ${fromLeader.commit_index}, asked ${fromLeader.id}`);
      printTable(
        ['ID', 'URL', 'BUS', 'ROLE', 'MATCH', 'ACTIVE'],
        fromLeader.replicas.map((r) => [r.id, r.url, r.bus_address, r.role ?? '-', r.match_index ?? '-', r.recently_active === null ? '-' : r.recently_active ? 'yes' : 'no']),
      );
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
  // --pilot, --token-file and --json belong to `shards`, which reads them on either side of `replicas`.
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

/**
 * `npm run bench:large`: one huge command against a running cluster, on a 3-node cleave cluster (RF3) and a
 * 3-master redis-server cluster started side by side and measured alternately, --repeat times each: a SET
 * of a --value-bytes value, then a DEL of --keys keys in one command. Meanwhile a second client writes a
 * small key of another shard every 20 ms: its slowest write and its errors show whether the cluster kept
 * serving; for cleave, the shards whose leader or term changed across the command (pilot's routing table)
 * show whether leaders lost their leaderships. Prints a table and appends it to docs/BENCHMARKS.md.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { classifyError } from '../src/bench/op-stats.js';
import { startRedisCluster } from '../src/bench/redis-cluster.js';
import { keyHashSlot, SLOT_COUNT } from '../src/common/slots.js';
import { appendSection, buildDescription, machineFacts, machineSummary, median, onCleanup, positiveIntFlag, requireCommand, runScript } from './bench-common.js';
import { CleaveCluster } from './bench-clusters.js';

const SCRIPT = 'bench:large';
/** Every big key shares this hash tag, so one DEL may name them all. */
const BIG_TAG = '{big}';
/** Pairs per MSET while filling the keys the DEL removes. */
const FILL_PAIRS = 10_000;
/** An MSET of the fill that failed (a timeout on a busy machine) is sent again, up to this many times in all. */
const FILL_ATTEMPTS = 3;
/** The small writer's pause between one write's reply and the next write. */
const WRITER_INTERVAL_MS = 20;
/** Quiet time before a big command, and time after its reply still watched: an election it caused may come late. */
const SETTLE_MS = 3000;
const BIG_COMMAND_TIMEOUT_MS = 120_000;
const WRITER_COMMAND_TIMEOUT_MS = 20_000;
/** A failed command's message is cut to this in the table. */
const REPLY_CHARS_MAX = 100;
/** `cleave local --nodes 3`'s cluster: its default shards per node, replicas and election timeout. */
const CLEAVE_SHARDS_PER_NODE = 2;
const CLEAVE_REPLICAS = 3;
const CLEAVE_ELECTION_TIMEOUT_MS = 1000;

interface Options {
  repeat: number;
  keys: number;
  valueBytes: number;
  write: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { repeat: 3, keys: 1_000_000, valueBytes: 100_000_000, write: true };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    switch (flag) {
      case '--repeat':
        o.repeat = positiveIntFlag(SCRIPT, flag, value);
        i++;
        break;
      case '--keys':
        o.keys = positiveIntFlag(SCRIPT, flag, value);
        i++;
        break;
      case '--value-bytes':
        o.valueBytes = positiveIntFlag(SCRIPT, flag, value);
        i++;
        break;
      case '--no-write':
        o.write = false;
        break;
      default:
        console.error(`${SCRIPT}: unknown flag ${flag}; usage: npm run bench:large -- [--repeat N] [--keys N] [--value-bytes N] [--no-write]`);
        process.exit(2);
    }
  }
  return o;
}

type Command = 'set' | 'del';
const COMMANDS: readonly Command[] = ['set', 'del'];

/** One big command, measured. */
interface Run {
  readonly durationMs: number;
  /** OK, the DEL's count, or the error's text. */
  readonly reply: string;
  readonly writerMaxMs: number;
  /** classifyError's kind of each failed small write. */
  readonly writerErrors: readonly string[];
  /** Shards whose leader@term changed; undefined for a system without a routing table. */
  readonly leaderChanges: number | undefined;
}

/** A cluster under test: a client for the big commands, one for the small writes, and its shards' leaders. */
interface System {
  readonly name: string;
  readonly big: Cluster;
  readonly writer: Cluster;
  /** `leader@term` per shard, or undefined when the system has no such table. */
  readonly leaders: () => Promise<Map<string, string> | undefined>;
}

function clusterClient(nodes: readonly { host: string; port: number }[], commandTimeoutMs: number): Cluster {
  return new Cluster([...nodes], { maxRedirections: 50, retryDelayOnTryAgain: 100, retryDelayOnClusterDown: 100, redisOptions: { commandTimeout: commandTimeoutMs } });
}

/** The first `<prefix><i>` whose hash slot is `slot`. */
function keyInSlot(prefix: string, slot: number): string {
  for (let i = 0; ; i++) {
    const key = `${prefix}${i}`;
    if (keyHashSlot(Buffer.from(key)) === slot) return key;
  }
}

/** Sets `key` every WRITER_INTERVAL_MS until stopped, keeping its slowest write and its errors. */
class SmallWriter {
  maxMs = 0;
  readonly errors: string[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(client: Cluster, key: string) {
    this.loop = this.run(client, key);
  }

  private async run(client: Cluster, key: string): Promise<void> {
    for (let n = 0; this.running; n++) {
      const start = performance.now();
      try {
        await client.set(key, String(n));
      } catch (error) {
        this.errors.push(classifyError(error));
      }
      this.maxMs = Math.max(this.maxMs, performance.now() - start);
      await sleep(WRITER_INTERVAL_MS);
    }
  }

  /** Resolves once the write in flight, if any, has ended. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/** The shards of `before` whose `leader@term` differs in `after` (or that are gone from it). */
function changedLeaders(before: Map<string, string>, after: Map<string, string>): number {
  return [...before].filter(([shard, leader]) => after.get(shard) !== leader).length;
}

/** Runs `command` with the small writer going and the leaders read SETTLE_MS before and after it. */
async function measure(system: System, writerKey: string, command: () => Promise<string>): Promise<Run> {
  await sleep(SETTLE_MS);
  const before = await system.leaders();
  const writer = new SmallWriter(system.writer, writerKey);
  const start = performance.now();
  const reply = await command().catch((error: unknown) => (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').slice(0, REPLY_CHARS_MAX));
  const durationMs = performance.now() - start;
  await sleep(SETTLE_MS);
  const after = await system.leaders();
  await writer.stop();
  return {
    durationMs,
    reply,
    writerMaxMs: writer.maxMs,
    writerErrors: writer.errors,
    leaderChanges: before === undefined || after === undefined ? undefined : changedLeaders(before, after),
  };
}

/** Writes every key of `keys` with MSETs of FILL_PAIRS pairs. */
async function fill(client: Cluster, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += FILL_PAIRS) {
    const pairs = keys.slice(i, i + FILL_PAIRS).flatMap((key) => [key, 'v']);
    for (let attempt = 1; ; attempt++) {
      try {
        await client.mset(pairs);
        break;
      } catch (error) {
        if (attempt >= FILL_ATTEMPTS) throw new Error(`filling the keys from ${keys[i]}: ${(error as Error).message}`);
      }
    }
  }
}

/** The pilot's routing table as `leader@term` per shard. */
async function cleaveLeaders(pilotUrl: string): Promise<Map<string, string>> {
  // The pilot takes the admin token from the same environment, when one is set there.
  const token = process.env.CLEAVE_ADMIN_TOKEN;
  const response = await fetch(`${pilotUrl}/api/v1/routing`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`GET ${pilotUrl}/api/v1/routing answered ${response.status}: ${await response.text()}`);
  const table = (await response.json()) as { shards: { id: string; leader: string | null; leaderTerm?: number }[] };
  return new Map(table.shards.map((s) => [s.id, `${s.leader ?? 'none'}@${s.leaderTerm ?? 0}`]));
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** `median (min–max)` of `values`, or the one value. */
function spread(values: readonly number[]): string {
  const [min, max] = [Math.min(...values), Math.max(...values)];
  return min === max ? fmt(min) : `${fmt(median(values))} (${fmt(min)}–${fmt(max)})`;
}

/** Each distinct reply with how many runs gave it: `OK ×3`. */
function replies(runs: readonly Run[]): string {
  const counts = new Map<string, number>();
  for (const run of runs) counts.set(run.reply, (counts.get(run.reply) ?? 0) + 1);
  return [...counts].map(([reply, n]) => `${reply.replaceAll('|', '\\|')} ×${n}`).join('; ');
}

function commandLabel(command: Command, o: Options): string {
  return command === 'set' ? `SET of ${fmt(o.valueBytes)} B` : `DEL of ${fmt(o.keys)} keys`;
}

function progressLine(system: string, command: Command, o: Options, run: Run): string {
  const errors = run.writerErrors.length === 0 ? '0' : `${run.writerErrors.length} (${[...new Set(run.writerErrors)].join(', ')})`;
  const leaders = run.leaderChanges === undefined ? '' : `, shards with a new leader or term ${run.leaderChanges}`;
  return `  ${system.padEnd(6)} ${commandLabel(command, o)}: ${run.reply} in ${fmt(run.durationMs)} ms; writer max ${fmt(run.writerMaxMs)} ms, errors ${errors}${leaders}`;
}

interface Report {
  readonly options: Options;
  readonly commandLine: string;
  readonly build: string;
  readonly load1Start: number;
  readonly shards: number;
  readonly bigSlot: number;
  readonly writerSlot: number;
  readonly runs: ReadonlyMap<string, Record<Command, Run[]>>;
}

function report(r: Report): string {
  const o = r.options;
  const facts = machineFacts();
  const rows = [...r.runs].flatMap(([system, byCommand]) =>
    COMMANDS.map((command) => {
      const runs = byCommand[command];
      const changes = runs.map((run) => run.leaderChanges).filter((n): n is number => n !== undefined);
      return `| ${system} | ${commandLabel(command, o)} | ${spread(runs.map((run) => run.durationMs))} | ${spread(runs.map((run) => run.writerMaxMs))} | ${spread(runs.map((run) => run.writerErrors.length))} | ${changes.length === 0 ? '-' : spread(changes)} | ${replies(runs)} |`;
    }),
  );
  return [
    `### One huge command under load: cleave vs redis-server (${facts.date})`,
    '',
    `Command: \`${r.commandLine}\`, cleave built from ${r.build}. Machine: ${machineSummary(facts)}; 1-minute load average ${r.load1Start.toFixed(2)} at the start and ${facts.load1.toFixed(2)} at the end (shared machine). cleave: 3 nodes, ${CLEAVE_REPLICAS} replicas per shard, ${r.shards} shards, ${CLEAVE_ELECTION_TIMEOUT_MS} ms election timeout (the cluster \`cleave local --nodes 3\` starts); beside it 3 Debian redis-server masters, persistence off. Both clusters ran during the whole run and were measured alternately, ${o.repeat} run${o.repeat === 1 ? '' : 's'} each. Per run, through an ioredis Cluster client (commandTimeout ${BIG_COMMAND_TIMEOUT_MS / 1000} s, maxRedirections 50, TRYAGAIN and CLUSTERDOWN retried after 100 ms): one \`SET ${BIG_TAG}huge\` of ${fmt(o.valueBytes)} B, then ${fmt(o.keys)} keys \`${BIG_TAG}k<i>\` written with MSETs of ${fmt(FILL_PAIRS)} pairs (not timed) and one \`DEL\` of all of them. From each big command's start until ${SETTLE_MS / 1000} s after its reply, a second client (commandTimeout ${WRITER_COMMAND_TIMEOUT_MS / 1000} s) SETs a key of slot ${r.writerSlot} (another shard than slot ${r.bigSlot} of the big keys) every ${WRITER_INTERVAL_MS} ms: its slowest write and its failed writes. For cleave, the shards whose \`leader@leaderTerm\` in the pilot's \`/api/v1/routing\` differs between ${SETTLE_MS / 1000} s before the command and ${SETTLE_MS / 1000} s after its reply. Figures: median (min–max) over the runs; the duration includes the client's retries.`,
    '',
    `| system | command | duration ms | writer's slowest write ms | writer errors | shards with a new leader or term (of ${r.shards}) | replies |`,
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

runScript(SCRIPT, async () => {
  const o = parseArgs(process.argv.slice(2));
  requireCommand('redis-server', 'redis-server', SCRIPT);
  const build = buildDescription();
  const commandLine = `npm run bench:large -- ${process.argv.slice(2).join(' ')}`.trim();
  const load1Start = machineFacts().load1;
  console.log(`${SCRIPT}: ${machineSummary()}; load average ${load1Start.toFixed(2)}`);

  // Both at once; a cluster that did start is stopped by the cleanup if the other did not.
  const [cleaveStart, redisStart] = await Promise.allSettled([
    CleaveCluster.start({ nodes: 3, replicas: CLEAVE_REPLICAS, shardsPerNode: CLEAVE_SHARDS_PER_NODE, electionTimeoutMs: CLEAVE_ELECTION_TIMEOUT_MS, startTimeoutMs: 60_000 }),
    startRedisCluster({ masters: 3 }).then((redis) => ({ ...redis, stop: onCleanup(() => redis.stop()) })),
  ]);
  if (cleaveStart.status === 'rejected') throw cleaveStart.reason;
  if (redisStart.status === 'rejected') throw redisStart.reason;
  const [cleave, redis] = [cleaveStart.value, redisStart.value];

  const systems: System[] = [
    { name: 'cleave', nodes: cleave.startupNodes, leaders: () => cleaveLeaders(cleave.pilotUrl) },
    { name: 'redis', nodes: redis.ports.map((port) => ({ host: redis.host, port })), leaders: () => Promise.resolve(undefined) },
  ].map(({ name, nodes, leaders }) => ({ name, big: clusterClient(nodes, BIG_COMMAND_TIMEOUT_MS), writer: clusterClient(nodes, WRITER_COMMAND_TIMEOUT_MS), leaders }));
  const bigSlot = keyHashSlot(Buffer.from(BIG_TAG));
  // Half the slot space away: no shard of either cluster spans 8192 slots, so this is another shard.
  const writerSlot = (bigSlot + SLOT_COUNT / 2) % SLOT_COUNT;
  const writerKey = keyInSlot('writer:', writerSlot);
  const value = Buffer.alloc(o.valueBytes, 'b');
  const keys = Array.from({ length: o.keys }, (_, i) => `${BIG_TAG}k${i}`);
  const runs = new Map(systems.map((s) => [s.name, { set: [] as Run[], del: [] as Run[] }]));
  try {
    for (let r = 1; r <= o.repeat; r++) {
      console.log(`run ${r}/${o.repeat}`);
      for (const system of systems) {
        const set = await measure(system, writerKey, async () => String(await system.big.set(`${BIG_TAG}huge`, value)));
        runs.get(system.name)!.set.push(set);
        console.log(progressLine(system.name, 'set', o, set));
        const fillStart = performance.now();
        await fill(system.big, keys);
        console.log(`  ${system.name.padEnd(6)} filled ${fmt(o.keys)} keys in ${fmt(performance.now() - fillStart)} ms`);
        // One command with every key: an array argument, since spreading a million of them overflows the stack.
        const del = await measure(system, writerKey, async () => String(await system.big.del(keys)));
        runs.get(system.name)!.del.push(del);
        console.log(progressLine(system.name, 'del', o, del));
      }
    }
  } finally {
    for (const system of systems) {
      system.big.disconnect();
      system.writer.disconnect();
    }
  }
  const shards = (await cleaveLeaders(cleave.pilotUrl)).size;
  await cleave.stop();
  await redis.stop();
  const section = report({ options: o, commandLine, build, load1Start, shards, bigSlot, writerSlot, runs });
  console.log(`\n${section}`);
  if (o.write) appendSection(section);
});

/**
 * Local clusters for the replication benchmark: cleave (a pilot and N node processes started one by one,
 * so that any node can be killed with SIGKILL) and etcd, each in its own temporary directory with free
 * ports. Every process logs to a file in that directory; a failed start shows the log's tail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { respRequest, RespErrorValue, type RespValue } from '../src/client/resp-request.js';
import { freePort } from '../src/common/free-ports.js';
import { onCleanup, trackChild, trackTempDir } from './bench-common.js';

const CLI_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const HOST = '127.0.0.1';

/** A child process whose output goes to `logFile`. */
export class LoggedProcess {
  private child: ChildProcess | undefined;
  private spawnFailed = false;
  private stopped = false;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: readonly string[],
    readonly logFile: string,
    private readonly logLevel = 'warn',
    /** Secrets for the process, kept off its command line. */
    private readonly secretEnv: Readonly<Record<string, string>> = {},
  ) {}

  start(): void {
    this.stopped = false;
    const log = openSync(this.logFile, 'a');
    this.spawnFailed = false;
    // Warnings and errors only by default, as the integration tests run the nodes: the CPU is for serving.
    this.child = spawn(this.command, this.args, { stdio: ['ignore', log, log], env: { ...process.env, CLEAVE_LOG_LEVEL: this.logLevel, ...this.secretEnv } });
    closeSync(log);
    // A process that could not be started counts as exited; the startup wait then reports it.
    this.child.once('error', () => (this.spawnFailed = true));
    trackChild(this.child);
  }

  get running(): boolean {
    return this.child !== undefined && !this.spawnFailed && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal`; resolves once the process is gone (SIGKILL after `graceMs` if it lingers). */
  async kill(signal: NodeJS.Signals, graceMs = 10_000): Promise<void> {
    const child = this.child;
    this.stopped = true;
    if (child === undefined || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    if (signal !== 'SIGKILL' && !(await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]))) child.kill('SIGKILL');
    await exited;
  }

  /** Whether the process died without being told to (a crash); says so on stderr with its log's tail. */
  reportCrash(): boolean {
    if (this.child === undefined || this.stopped || this.running) return false;
    console.error(`${this.name} (pid ${this.child.pid}) died on its own (${this.child.signalCode ?? `exit code ${this.child.exitCode}`}); the end of its log:\n${this.logTail()}`);
    return true;
  }

  /** The last `bytes` of the log, for error messages. */
  logTail(bytes = 3000): string {
    try {
      return readFileSync(this.logFile, 'utf8').slice(-bytes);
    } catch {
      return '(no log)';
    }
  }
}

/**
 * A GET that gives up after 2 s: a server that accepts connections before it serves (etcd until its
 * cluster has formed) would otherwise hold a poll for fetch's default 300 s.
 */
function getWithTimeout(url: string): Promise<Response> {
  return fetch(url, { signal: AbortSignal.timeout(2000) });
}

/**
 * Polls `check` every 100 ms until it returns true; throws naming `what` (and `log()`) after `timeoutMs`,
 * or at once when a process it waits for is gone (`watched`), since then waiting cannot help.
 */
export async function pollUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, log?: () => string, watched: readonly LoggedProcess[] = []): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    const dead = watched.find((p) => !p.running);
    if (dead !== undefined) throw new Error(`${dead.name} exited while waiting for ${what}\n--- ${dead.name} log tail ---\n${dead.logTail()}`);
    try {
      if (await check()) return;
    } catch (error) {
      lastError = ` (last error: ${(error as Error).message})`;
    }
    if (Date.now() >= deadline) break;
    await sleep(100);
  }
  throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${lastError}${log ? `\n--- log tail ---\n${log()}` : ''}`);
}

/** One slot range of CLUSTER SLOTS: its leader's port and its followers' ports. */
export interface SlotRange {
  readonly start: number;
  readonly end: number;
  readonly leader: number;
  readonly followers: readonly number[];
}

export interface CleaveClusterOptions {
  readonly nodes: number;
  /** The pilot's --replicas. */
  readonly replicas: number;
  readonly shardsPerNode: number;
  readonly electionTimeoutMs: number;
  /** Give up if the cluster is not serving (every range with all its replicas) by then. */
  readonly startTimeoutMs: number;
  /** More flags for the pilot (split parameters, say). */
  readonly pilotArgs?: readonly string[];
  /** The nodes' CLEAVE_LOG_LEVEL (default warn): 'info' logs the split's phases and its longest held write. */
  readonly nodeLogLevel?: string;
}

export interface CleaveNode extends LoggedProcess {
  readonly port: number;
}

/** A running cleave cluster; `stop()` stops every process and removes the directory. */
export class CleaveCluster {
  readonly nodes: CleaveNode[] = [];
  private pilot: LoggedProcess | undefined;
  /** The pilot's HTTP API, once started. */
  pilotUrl = '';
  readonly stop: () => Promise<void>;
  /** The cluster secret the pilot and the nodes share, fresh for each cluster. */
  private readonly secretEnv = { CLEAVE_CLUSTER_SECRET: randomBytes(32).toString('hex') };

  private constructor(
    readonly dir: string,
    private readonly options: CleaveClusterOptions,
  ) {
    this.stop = onCleanup(async () => {
      // Before the directory and its logs go: a crash is worth its log.
      for (const p of [this.pilot, ...this.nodes]) p?.reportCrash();
      await Promise.all(this.nodes.map((n) => n.kill('SIGTERM')));
      await this.pilot?.kill('SIGTERM');
      rmSync(this.dir, { recursive: true, force: true });
    });
  }

  static async start(options: CleaveClusterOptions): Promise<CleaveCluster> {
    const cluster = new CleaveCluster(trackTempDir(mkdtempSync(join(tmpdir(), 'cleave-bench-repl-'))), options);
    try {
      await cluster.boot();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get startupNodes(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: HOST, port: n.port }));
  }

  /** CLUSTER SLOTS as the node on `port` answers it. */
  private async slotsOf(port: number): Promise<SlotRange[]> {
    const [reply] = await respRequest(HOST, port, [['CLUSTER', 'SLOTS']], 2000);
    if (reply instanceof RespErrorValue || !Array.isArray(reply)) throw new Error(`CLUSTER SLOTS on port ${port}: ${reply instanceof RespErrorValue ? reply.message : String(reply)}`);
    return reply.map((entry) => parseSlotRange(entry as RespValue[]));
  }

  private async boot(): Promise<void> {
    const pilotPort = await freePort();
    const pilotUrl = `http://${HOST}:${pilotPort}`;
    this.pilotUrl = pilotUrl;
    const o = this.options;
    const pilotArgs = [CLI_MAIN, 'pilot', '--port', String(pilotPort), '--data-dir', join(this.dir, 'pilot'), '--expect-nodes', String(o.nodes), '--shards-per-node', String(o.shardsPerNode), '--replicas', String(o.replicas), ...(o.pilotArgs ?? [])];
    this.pilot = new LoggedProcess('pilot', process.execPath, pilotArgs, join(this.dir, 'pilot.log'), 'warn', this.secretEnv);
    this.pilot.start();
    const deadline = Date.now() + o.startTimeoutMs;
    const left = (): number => Math.max(1000, deadline - Date.now());
    await pollUntil('the cleave pilot', () => getWithTimeout(`${pilotUrl}/healthz`).then((r) => r.ok), left(), () => this.pilot!.logTail(), [this.pilot]);
    // One after another, so node i registers as node<i>, as `cleave local` does.
    for (let i = 1; i <= o.nodes; i++) {
      const [port, busPort] = [await freePort(), await freePort()];
      const args = [CLI_MAIN, 'node', '--port', String(port), '--bus-port', String(busPort), '--metrics-port', '0', '--data-dir', join(this.dir, `node${i}`), '--pilot', pilotUrl, '--election-timeout-ms', String(o.electionTimeoutMs)];
      const node = Object.assign(new LoggedProcess(`node${i}`, process.execPath, args, join(this.dir, `node${i}.log`), o.nodeLogLevel, this.secretEnv), { port });
      this.nodes.push(node);
      node.start();
      await pollUntil(
        `cleave node${i} to register with the pilot`,
        async () => {
          const body = (await (await getWithTimeout(`${pilotUrl}/api/v1/nodes`)).json()) as { nodes?: { address: string }[] } | { address: string }[];
          return (Array.isArray(body) ? body : (body.nodes ?? [])).some((n) => n.address === `${HOST}:${port}`);
        },
        left(),
        () => node.logTail(),
        [this.pilot, node],
      );
    }
    await this.servingRanges(left());
  }

  /**
   * The slot ranges once every live node has listed all 16384 slots, each range with its leader and
   * all its followers, in every poll for a second. A fresh cluster has been seen listing all of them
   * and then, a few ms later, none for a moment: one good answer is not enough.
   */
  async servingRanges(timeoutMs = 30_000): Promise<SlotRange[]> {
    const followers = Math.min(this.options.replicas, this.options.nodes) - 1;
    const live = this.nodes.filter((n) => n.running);
    let goodSince: number | undefined;
    let ranges: SlotRange[] = [];
    await pollUntil(
      `every live node to list every slot range with a leader and ${followers} follower(s) for 1 s`,
      async () => {
        const answers = await Promise.all(live.map((n) => this.slotsOf(n.port))).catch((error: unknown) => {
          // A node that cannot answer breaks the streak.
          goodSince = undefined;
          throw error;
        });
        const complete = answers.every((a) => a.reduce((n, r) => n + r.end - r.start + 1, 0) === 16384 && a.every((r) => r.followers.length === followers));
        goodSince = complete ? (goodSince ?? Date.now()) : undefined;
        ranges = answers[0] ?? [];
        return goodSince !== undefined && Date.now() - goodSince >= 1000;
      },
      timeoutMs,
      () => this.nodes.map((n) => `${n.name}: ${n.logTail(800)}`).join('\n'),
      [this.pilot!, ...live],
    );
    return ranges;
  }
}

function parseSlotRange(entry: RespValue[]): SlotRange {
  const [start, end, ...holders] = entry;
  const ports = (holders as RespValue[][]).map((holder) => Number(holder[1]));
  return { start: Number(start), end: Number(end), leader: ports[0]!, followers: ports.slice(1) };
}

/** A running etcd cluster; `stop()` stops every member and removes the directory. */
export interface EtcdCluster {
  /** Client URLs of the members. */
  readonly clientUrls: string[];
  readonly version: string;
  readonly stop: () => Promise<void>;
}

/**
 * Starts a `members`-member etcd cluster on loopback, each member with its own data dir, every other
 * setting etcd's default (WAL fsync'd before a proposal is acknowledged, default snapshot count).
 */
export async function startEtcdCluster(members: number, startTimeoutMs: number): Promise<EtcdCluster> {
  const dir = trackTempDir(mkdtempSync(join(tmpdir(), 'cleave-bench-etcd-')));
  const processes: LoggedProcess[] = [];
  const stop = onCleanup(async () => {
    for (const p of processes) p.reportCrash();
    await Promise.all(processes.map((p) => p.kill('SIGTERM')));
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    const ports = [];
    for (let i = 0; i < members; i++) ports.push({ client: await freePort(), peer: await freePort() });
    const initialCluster = ports.map((p, i) => `e${i + 1}=http://${HOST}:${p.peer}`).join(',');
    // One token for all members (they must agree on it), unique per cluster.
    const token = `bench-${process.pid}-${Date.now()}`;
    ports.forEach((p, i) => {
      const name = `e${i + 1}`;
      const args = [
        '--name', name,
        '--data-dir', join(dir, name),
        '--listen-client-urls', `http://${HOST}:${p.client}`,
        '--advertise-client-urls', `http://${HOST}:${p.client}`,
        '--listen-peer-urls', `http://${HOST}:${p.peer}`,
        '--initial-advertise-peer-urls', `http://${HOST}:${p.peer}`,
        '--initial-cluster', initialCluster,
        '--initial-cluster-token', token,
        '--initial-cluster-state', 'new',
        '--logger', 'zap',
        '--log-level', 'warn',
      ];
      const member = new LoggedProcess(name, 'etcd', args, join(dir, `${name}.log`));
      processes.push(member);
      member.start();
    });
    const clientUrls = ports.map((p) => `http://${HOST}:${p.client}`);
    for (const [i, url] of clientUrls.entries()) {
      await pollUntil(`etcd member e${i + 1} to report healthy`, async () => ((await (await getWithTimeout(`${url}/health`)).json()) as { health?: string }).health === 'true', startTimeoutMs, () => processes[i]!.logTail(), processes);
    }
    const version = ((await (await getWithTimeout(`${clientUrls[0]}/version`)).json()) as { etcdserver?: string }).etcdserver ?? 'unknown';
    return { clientUrls, version, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

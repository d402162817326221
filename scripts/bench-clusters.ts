/**
 * Local clusters for the benchmarks: cleave (the launcher's: a pilot and N node processes started one by
 * one, so that any node can be killed with SIGKILL) and etcd, each in its own temporary directory with free
 * ports. Every process logs to a file in that directory; a failed start shows the log's tail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { respRequest, RespErrorValue, type RespValue } from '../src/client/resp-request.js';
import { ClusterProcess } from '../src/cluster/cluster-process.js';
import { exitedOf, HOST_DEFAULT as HOST, LocalCluster, type LocalClusterOptions } from '../src/cluster/local-cluster.js';
import { freePort } from '../src/common/free-ports.js';
import { pollUntil } from '../src/common/poll.js';
import { onCleanup, trackChild, trackTempDir } from './bench-common.js';

/**
 * A GET that gives up after 2 s: a server that accepts connections before it serves (etcd until its
 * cluster has formed) would otherwise hold a poll for fetch's default 300 s.
 */
function getWithTimeout(url: string): Promise<Response> {
  return fetch(url, { signal: AbortSignal.timeout(2000) });
}

/** Says on stderr that `process` died without being told to, with its log's tail; whether it did. */
function reportCrash(process: ClusterProcess): boolean {
  if (!process.crashed) return false;
  console.error(`${process.name} (pid ${process.child?.pid}) died on its own (${process.exit}); the end of its log:\n${process.log.slice(-3000)}`);
  return true;
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
  /** Give up if a step of the start, or the cluster serving (every range with all its replicas), takes longer. */
  readonly startTimeoutMs: number;
  /** More flags for the pilot (split parameters, say). */
  readonly pilotArgs?: readonly string[];
  /** The nodes' CLEAVE_LOG_LEVEL (default warn): 'info' logs the split's phases and its longest held write. */
  readonly nodeLogLevel?: string;
}

/**
 * A running cleave cluster (the launcher's), its processes logging to files in its temporary directory;
 * `stop()` stops every process and removes the directory, and runs however the script ends.
 */
export class CleaveCluster extends LocalCluster {
  private readonly cleanup: () => Promise<void>;

  private constructor(options: LocalClusterOptions) {
    super(options);
    this.cleanup = onCleanup(async () => {
      // Before the directory and its logs go: a crash is worth its log.
      for (const p of [...this.pilots, ...this.nodes]) reportCrash(p);
      await super.stop();
      rmSync(options.dir, { recursive: true, force: true });
    });
  }

  static async start(o: CleaveClusterOptions): Promise<CleaveCluster> {
    const dir = trackTempDir(mkdtempSync(join(tmpdir(), 'cleave-bench-repl-')));
    const cluster = new CleaveCluster({
      dir,
      logDir: dir,
      nodes: o.nodes,
      replicas: o.replicas,
      shardsPerNode: o.shardsPerNode,
      electionTimeoutMs: o.electionTimeoutMs,
      pilotArgs: o.pilotArgs ?? [],
      // Warnings and errors only by default, as the integration tests run the nodes: the CPU is for serving.
      logLevel: 'warn',
      ...(o.nodeLogLevel === undefined ? {} : { nodeLogLevel: o.nodeLogLevel }),
      startStepTimeoutMs: o.startTimeoutMs,
      onSpawn: trackChild,
    });
    try {
      await cluster.start();
      await cluster.servingRanges(o.startTimeoutMs);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  override stop(): Promise<void> {
    return this.cleanup();
  }

  /** CLUSTER SLOTS as the node on `port` answers it. */
  private async slotsOf(port: number): Promise<SlotRange[]> {
    const [reply] = await respRequest(HOST, port, [['CLUSTER', 'SLOTS']], 2000);
    if (reply instanceof RespErrorValue || !Array.isArray(reply))
      throw new Error(`CLUSTER SLOTS on port ${port}: ${reply instanceof RespErrorValue ? reply.message : String(reply)}`);
    return reply.map((entry) => parseSlotRange(entry as RespValue[]));
  }

  /**
   * The slot ranges once every live node has listed all 16384 slots, each range with its leader and
   * all its followers, in every poll for a second. A fresh cluster has been seen listing all of them
   * and then, a few ms later, none for a moment: one good answer is not enough.
   */
  async servingRanges(timeoutMs = 30_000): Promise<SlotRange[]> {
    const o = this.options;
    const followers = Math.min(o.replicas ?? o.nodes, o.nodes) - 1;
    const live = this.nodes.filter((n) => n.running);
    let goodSince: number | undefined;
    let ranges: SlotRange[] = [];
    await pollUntil(
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
      {
        what: `every live node to list every slot range with a leader and ${followers} follower(s) for 1 s`,
        timeoutMs,
        detail: () => this.nodes.map((n) => `${n.name}: ${n.log.slice(-800)}`).join('\n'),
        hopeless: exitedOf([...this.pilots, ...live]),
      },
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
  const processes: ClusterProcess[] = [];
  const stop = onCleanup(async () => {
    for (const p of processes) reportCrash(p);
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
        '--name',
        name,
        '--data-dir',
        join(dir, name),
        '--listen-client-urls',
        `http://${HOST}:${p.client}`,
        '--advertise-client-urls',
        `http://${HOST}:${p.client}`,
        '--listen-peer-urls',
        `http://${HOST}:${p.peer}`,
        '--initial-advertise-peer-urls',
        `http://${HOST}:${p.peer}`,
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-token',
        token,
        '--initial-cluster-state',
        'new',
        '--logger',
        'zap',
        '--log-level',
        'warn',
      ];
      const member = new ClusterProcess(name, args, { command: 'etcd', env: {}, logFile: join(dir, `${name}.log`), onSpawn: trackChild });
      processes.push(member);
      member.start();
    });
    const clientUrls = ports.map((p) => `http://${HOST}:${p.client}`);
    for (const [i, url] of clientUrls.entries()) {
      await pollUntil(async () => ((await (await getWithTimeout(`${url}/health`)).json()) as { health?: string }).health === 'true', {
        what: `etcd member e${i + 1} to report healthy`,
        timeoutMs: startTimeoutMs,
        detail: () => processes[i]!.log.slice(-3000),
        hopeless: exitedOf(processes),
      });
    }
    const version = ((await (await getWithTimeout(`${clientUrls[0]}/version`)).json()) as { etcdserver?: string }).etcdserver ?? 'unknown';
    return { clientUrls, version, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

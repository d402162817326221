/**
 * A real cluster for integration tests: a pilot (or a Raft group of pilot replicas) and N node processes
 * from the built CLI, on free ports, in a temp dir, sharing a cluster secret of their own. Each process can
 * be killed (-9 included) and started again on its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { respRequest } from '../../src/client/resp-request.js';
import { freePort } from '../../src/common/free-ports.js';
import { PilotReplicas } from '../../src/common/pilot-replicas.js';

export const CLI_MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');

/** Environment variables a process reads its secrets from. */
export type SecretEnv = Readonly<Record<string, string>>;

/** A fresh random cluster secret, as the environment of a cluster's pilots and nodes. */
export function newClusterSecretEnv(): SecretEnv {
  return { CLEAVE_CLUSTER_SECRET: randomBytes(32).toString('hex') };
}

export class TestProcess {
  child: ChildProcess | undefined;
  private output = '';

  constructor(
    readonly name: string,
    readonly args: readonly string[],
    /** Secrets for the process, never on its command line. */
    readonly env: SecretEnv,
  ) {}

  start(): void {
    this.output = '';
    const child = spawn(process.execPath, [CLI_MAIN, ...this.args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CLEAVE_LOG_LEVEL: 'warn', ...this.env } });
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20000)));
    this.child = child;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What the process printed (the last 20 kB), for failure messages. */
  get log(): string {
    return this.output;
  }

  /** Sends `signal` and resolves once the process has exited. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }
}

export interface TestNode extends TestProcess {
  readonly port: number;
}

/** A pilot process and the URL of its HTTP API. */
export type TestPilot = TestProcess & { readonly url: string };

/** What `GET /api/v1/pilot` answers: one replica's view of the pilot group. */
export interface PilotView {
  id: string;
  serving: boolean;
  leader: string | null;
  term: number;
  commit_index: number;
  applied_index: number;
}

export async function pilotView(pilot: TestPilot): Promise<PilotView> {
  return (await (await fetch(`${pilot.url}/api/v1/pilot`, { signal: AbortSignal.timeout(2000) })).json()) as PilotView;
}

/** Index of the running pilot that serves as the leader; -1 while none does. */
export async function leadingPilot(pilots: readonly TestPilot[]): Promise<number> {
  for (const [i, pilot] of pilots.entries()) if (pilot.running && (await pilotView(pilot).catch(() => undefined))?.serving) return i;
  return -1;
}

/**
 * Starts `count` pilots under `dir`, each given `args` after its own and `env` (the cluster secret): a
 * single one (data in `pilot/`), or a Raft group of replicas pilot1..pilotN (data in `pilotN/`). Resolves
 * once every one answers and, for a group, one of them leads.
 */
export async function startPilots(dir: string, count: number, args: readonly string[], env: SecretEnv): Promise<TestPilot[]> {
  const pilots: TestPilot[] = [];
  if (count === 1) {
    const port = await freePort();
    pilots.push(Object.assign(new TestProcess('pilot', ['pilot', '--port', String(port), '--data-dir', join(dir, 'pilot'), ...args], env), { url: `http://127.0.0.1:${port}` }));
  } else {
    const ports: [number, number][] = [];
    for (let i = 1; i <= count; i++) ports.push([await freePort(), await freePort()]);
    const peers = ports.map(([port, busPort], i) => `pilot${i + 1}@127.0.0.1:${port}:${busPort}`).join(',');
    for (const [i, [port]] of ports.entries()) {
      const id = `pilot${i + 1}`;
      pilots.push(Object.assign(new TestProcess(id, ['pilot', '--pilot-id', id, '--peers', peers, '--data-dir', join(dir, id), ...args], env), { url: `http://127.0.0.1:${port}` }));
    }
  }
  for (const pilot of pilots) pilot.start();
  const logs = (): string => pilots.map((p) => p.log).join('\n');
  for (const pilot of pilots) await waitUntil(`${pilot.name} up`, () => fetch(`${pilot.url}/healthz`).then((r) => r.ok), logs);
  if (count > 1) await waitUntil('a pilot leader', async () => (await leadingPilot(pilots)) >= 0, logs);
  return pilots;
}

export interface ClusterOptions {
  nodes?: number;
  /** Pilot processes: 1 (the default), or the replicas of a pilot Raft group. */
  pilots?: number;
  shardsPerNode?: number;
  requirepass?: string;
  /** Replicas per shard (the pilot's --replicas); the pilot's default when absent. */
  replicas?: number;
  extraNodeArgs?: readonly string[];
  extraPilotArgs?: readonly string[];
}

export class TestCluster {
  readonly nodes: (TestProcess & { port: number })[] = [];
  pilots: TestPilot[] = [];
  /** The cluster secret every pilot and node of this cluster shares, and the client password if any. */
  readonly env: SecretEnv;
  /** Requests to whichever pilot leads. */
  private replicas!: PilotReplicas;

  private constructor(
    readonly dir: string,
    private readonly options: Required<Omit<ClusterOptions, 'requirepass' | 'replicas'>> & { requirepass?: string; replicas?: number },
  ) {
    this.env = { ...newClusterSecretEnv(), ...(options.requirepass ? { CLEAVE_REQUIREPASS: options.requirepass } : {}) };
  }

  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'cleave-test-'));
    const cluster = new TestCluster(dir, { nodes: 3, pilots: 1, shardsPerNode: 2, extraNodeArgs: [], extraPilotArgs: [], ...options });
    try {
      await cluster.boot();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private async boot(): Promise<void> {
    const { options } = this;
    const pilotArgs = ['--expect-nodes', String(options.nodes), '--shards-per-node', String(options.shardsPerNode), ...(options.replicas === undefined ? [] : ['--replicas', String(options.replicas)]), ...options.extraPilotArgs];
    this.pilots = await startPilots(this.dir, options.pilots, pilotArgs, this.env);
    this.replicas = new PilotReplicas(this.pilots.map((p) => p.url));
    const urls = this.pilots.map((p) => p.url);
    for (let i = 1; i <= options.nodes; i++) {
      const [port, busPort] = [await freePort(), await freePort()];
      // Each node lists the pilots starting from another one, so most ask a follower first.
      const pilotUrls = [...urls.slice((i - 1) % urls.length), ...urls.slice(0, (i - 1) % urls.length)].join(',');
      const args = ['node', '--port', String(port), '--bus-port', String(busPort), '--metrics-port', '0', '--data-dir', join(this.dir, `node${i}`), '--pilot', pilotUrls, ...options.extraNodeArgs];
      const node = Object.assign(new TestProcess(`node${i}`, args, this.env), { port });
      this.nodes.push(node);
      node.start();
      await waitUntil(`node${i} registered`, async () => {
        const list = (await this.api('GET', '/api/v1/nodes')).json as { nodes: { address: string }[] };
        return list.nodes.some((n) => n.address === `127.0.0.1:${port}`);
      }, () => node.log);
    }
    for (const node of this.nodes) await this.waitForNode(node);
  }

  /** The first pilot: the only one unless the cluster runs several. */
  get pilot(): TestPilot {
    return this.pilots[0]!;
  }

  get pilotUrl(): string {
    return this.pilot.url;
  }

  /** A request to the pilot's API, through whichever replica leads; `json` is undefined for a body that is not JSON. */
  async api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const answer = await this.replicas.request(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      timeoutMs: 5000,
    });
    let json: unknown;
    try {
      json = JSON.parse(answer.text);
    } catch {
      json = undefined;
    }
    return { status: answer.status, json };
  }

  /** Resolves once `node` answers CLUSTER INFO with cluster_state:ok. */
  async waitForNode(node: TestProcess & { port: number }): Promise<void> {
    const auth = this.options.requirepass ? [['AUTH', this.options.requirepass]] : [];
    await waitUntil(`${node.name} serving`, async () => {
      const replies = await respRequest('127.0.0.1', node.port, [...auth, ['CLUSTER', 'INFO']], 1000);
      return String(replies[replies.length - 1]).includes('cluster_state:ok');
    }, () => node.log);
  }

  /** Where a cluster client starts: every node. */
  get startupNodes(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill('SIGTERM')));
    await Promise.all(this.pilots.map((p) => p.kill('SIGTERM')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function waitUntil(what: string, check: () => Promise<boolean>, log?: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (${last})${log ? `\n--- log ---\n${log()}` : ''}`);
}

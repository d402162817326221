/**
 * A real cluster for integration tests: a pilot and N node processes from the built CLI, on free ports,
 * in a temp dir. Each process can be killed (-9 included) and started again on its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { respRequest } from '../../src/client/resp-request.js';
import { freePort } from '../../src/common/free-ports.js';

export const CLI_MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');

export class TestProcess {
  child: ChildProcess | undefined;
  private output = '';

  constructor(
    readonly name: string,
    readonly args: readonly string[],
  ) {}

  start(): void {
    this.output = '';
    const child = spawn(process.execPath, [CLI_MAIN, ...this.args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CLEAVE_LOG_LEVEL: 'warn' } });
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

export interface ClusterOptions {
  nodes?: number;
  shardsPerNode?: number;
  requirepass?: string;
  /** Replicas per shard (the pilot's --replicas); the pilot's default when absent. */
  replicas?: number;
  extraNodeArgs?: readonly string[];
  extraPilotArgs?: readonly string[];
}

export class TestCluster {
  readonly nodes: (TestProcess & { port: number })[] = [];
  pilot!: TestProcess;
  pilotUrl = '';

  private constructor(
    readonly dir: string,
    private readonly options: Required<Omit<ClusterOptions, 'requirepass' | 'replicas'>> & { requirepass?: string; replicas?: number },
  ) {}

  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'cleave-test-'));
    const cluster = new TestCluster(dir, { nodes: 3, shardsPerNode: 2, extraNodeArgs: [], extraPilotArgs: [], ...options });
    try {
      await cluster.boot();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private async boot(): Promise<void> {
    const pilotPort = await freePort();
    this.pilotUrl = `http://127.0.0.1:${pilotPort}`;
    this.pilot = new TestProcess('pilot', ['pilot', '--port', String(pilotPort), '--data-dir', join(this.dir, 'pilot'), '--expect-nodes', String(this.options.nodes), '--shards-per-node', String(this.options.shardsPerNode), ...(this.options.replicas === undefined ? [] : ['--replicas', String(this.options.replicas)]), ...this.options.extraPilotArgs]);
    this.pilot.start();
    await waitUntil('pilot up', () => fetch(`${this.pilotUrl}/healthz`).then((r) => r.ok), () => this.pilot.log);
    for (let i = 1; i <= this.options.nodes; i++) {
      const [port, busPort] = [await freePort(), await freePort()];
      const args = ['node', '--port', String(port), '--bus-port', String(busPort), '--metrics-port', '0', '--data-dir', join(this.dir, `node${i}`), '--pilot', this.pilotUrl, ...(this.options.requirepass ? ['--requirepass', this.options.requirepass] : []), ...this.options.extraNodeArgs];
      const node = Object.assign(new TestProcess(`node${i}`, args), { port });
      this.nodes.push(node);
      node.start();
      await waitUntil(`node${i} registered`, async () => {
        const list = (await (await fetch(`${this.pilotUrl}/api/v1/nodes`)).json()) as { nodes: { address: string }[] };
        return list.nodes.some((n) => n.address === `127.0.0.1:${port}`);
      }, () => node.log);
    }
    for (const node of this.nodes) await this.waitForNode(node);
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
    await this.pilot?.kill('SIGTERM');
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

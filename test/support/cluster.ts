/**
 * A real cluster for integration tests (the launcher's, src/cluster/local-cluster.ts): a pilot (or a Raft
 * group of pilot replicas) and N node processes from the built CLI, on free ports, in a temp dir, sharing a
 * cluster secret of their own, warnings and errors only in their logs. Each process can be killed (-9
 * included) and started again on its own.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterProcess } from '../../src/cluster/cluster-process.js';
import { HOST_DEFAULT, LocalCluster, pilotProcesses, startPilots as startPilotProcesses, type NodeProcess, type PilotProcess } from '../../src/cluster/local-cluster.js';
import { pollUntil } from '../../src/common/poll.js';

export { CLI_MAIN } from '../../src/cluster/cluster-process.js';
export { leadingPilot, pilotView, type PilotView } from '../../src/cluster/local-cluster.js';

/** The processes of a test cluster log warnings and errors only: the CPU is for the test. */
const TEST_LOG_LEVEL = 'warn';
const WAIT_MS_DEFAULT = 30_000;

/** Environment variables a process reads its secrets from. */
export type SecretEnv = Readonly<Record<string, string>>;
export type TestProcess = ClusterProcess;
export type TestNode = NodeProcess;
export type TestPilot = PilotProcess;

/** A fresh random cluster secret, as the environment of a cluster's pilots and nodes. */
export function newClusterSecretEnv(): SecretEnv {
  return { CLEAVE_CLUSTER_SECRET: randomBytes(32).toString('hex') };
}

/** A process of the CLI with `args` and the secrets in `env`, its output kept for failure messages; not started. */
export function testProcess(name: string, args: readonly string[], env: SecretEnv): TestProcess {
  return new ClusterProcess(name, args, { env: { CLEAVE_LOG_LEVEL: TEST_LOG_LEVEL, ...env } });
}

/**
 * Starts `count` pilots under `dir`, each given `args` after its own and `env` (the cluster secret): a
 * single one (data in `pilot/`), or a Raft group of replicas pilot1..pilotN (data in `pilotN/`). Resolves
 * once every one answers and, for a group, one of them leads.
 */
export async function startPilots(dir: string, count: number, args: readonly string[], env: SecretEnv): Promise<TestPilot[]> {
  const pilots = await pilotProcesses(dir, count, args, { host: HOST_DEFAULT, env: { CLEAVE_LOG_LEVEL: TEST_LOG_LEVEL, ...env } });
  await startPilotProcesses(pilots);
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

export class TestCluster extends LocalCluster {
  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    const cluster = new TestCluster({
      dir: mkdtempSync(join(tmpdir(), 'cleave-test-')),
      nodes: options.nodes ?? 3,
      pilots: options.pilots ?? 1,
      shardsPerNode: options.shardsPerNode ?? 2,
      ...(options.replicas === undefined ? {} : { replicas: options.replicas }),
      ...(options.requirepass === undefined ? {} : { requirepass: options.requirepass }),
      pilotArgs: options.extraPilotArgs ?? [],
      nodeArgs: options.extraNodeArgs ?? [],
      logLevel: TEST_LOG_LEVEL,
    });
    try {
      await cluster.start();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  get dir(): string {
    return this.options.dir;
  }

  /** A request to the pilot's API, through whichever replica leads; `json` is undefined for a body that is not JSON. */
  async api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const answer = await this.pilotRequest(path, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
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

  /** Stops every process and removes the cluster's directory. */
  override async stop(): Promise<void> {
    await super.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `check` until it holds; times out after `timeoutMs` naming `what`, with `log()` if given. */
export function waitUntil(what: string, check: () => Promise<boolean>, log?: () => string, timeoutMs = WAIT_MS_DEFAULT): Promise<void> {
  return pollUntil(check, { what, timeoutMs, ...(log === undefined ? {} : { detail: log }) });
}

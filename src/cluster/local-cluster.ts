/**
 * A whole cluster on this machine, each member its own process of the built CLI: a pilot (or a Raft
 * group of pilot replicas) and N nodes, on given or free ports, with a data dir each under one directory,
 * sharing a cluster secret (in a file or the environment, never on a command line). `cleave local`, the
 * integration tests and the benchmarks all start theirs here. Any member can be killed and started again
 * on its own (`ClusterProcess.kill`, `start`).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { respRequest } from '../client/resp-request.js';
import { freePort } from '../common/free-ports.js';
import { PilotReplicas, type PilotAnswer } from '../common/pilot-replicas.js';
import { pollUntil } from '../common/poll.js';
import { ClusterProcess, type ClusterProcessOptions } from './cluster-process.js';

export const HOST_DEFAULT = '127.0.0.1';
/** How long each step of a start may take: a pilot answering, a node registering, a node serving. */
export const START_STEP_TIMEOUT_MS_DEFAULT = 30_000;
/** One request of a startup wait; a server that accepts before it serves would otherwise hold it long. */
const REQUEST_TIMEOUT_MS = 2000;
const CLUSTER_SECRET_BYTES = 32;

/** A pilot replica and the URL of its HTTP API. */
export type PilotProcess = ClusterProcess & { readonly url: string };
/** A node and its RESP port. */
export type NodeProcess = ClusterProcess & { readonly port: number };

/** How each member process is run. */
export interface MemberSettings extends Omit<ClusterProcessOptions, 'logFile' | 'command'> {
  readonly host: string;
  /** Each process appends its output to <logDir>/<name>.log; without it the output is kept in memory. */
  readonly logDir?: string;
}

export interface LocalClusterOptions {
  /** Holds each member's data dir: pilot/ (or pilot1/, pilot2/, ...), node1/, node2/, ... */
  readonly dir: string;
  readonly nodes: number;
  /** Pilot processes: 1 (the default), or the replicas of a pilot Raft group. */
  readonly pilots?: number;
  readonly host?: string;
  /** The pilot's HTTP port; a free one when absent. Only for a single pilot. */
  readonly pilotPort?: number;
  /**
   * Node i's RESP port is firstNodePort + i - 1, its bus and metrics ports the node's defaults; when
   * absent every node gets free RESP and bus ports and no metrics port.
   */
  readonly firstNodePort?: number;
  /** The pilot's --shards-per-node and --replicas; its defaults when absent. */
  readonly shardsPerNode?: number;
  readonly replicas?: number;
  /** The nodes' --election-timeout-ms; theirs when absent. */
  readonly electionTimeoutMs?: number;
  /** More flags for every pilot, and for every node. */
  readonly pilotArgs?: readonly string[];
  readonly nodeArgs?: readonly string[];
  /** Where the cluster secret is (`cleave local` keeps one in its data dir); a fresh one through the environment when absent. */
  readonly clusterSecretFile?: string;
  /** The nodes' client password and the pilot's admin token, through the environment. */
  readonly requirepass?: string;
  readonly adminToken?: string;
  /** Every process's CLEAVE_LOG_LEVEL, and the nodes' if they need another; the caller's environment's when absent. */
  readonly logLevel?: string;
  readonly nodeLogLevel?: string;
  readonly logDir?: string;
  /** node's own flags for every member. */
  readonly execArgv?: readonly string[];
  readonly startStepTimeoutMs?: number;
  readonly onSpawn?: ClusterProcessOptions['onSpawn'];
  readonly onCrash?: ClusterProcessOptions['onCrash'];
}

/** Why waiting for `processes` can no longer help: the first of them that has exited (a PollOptions.hopeless). */
export function exitedOf(processes: readonly ClusterProcess[]): () => string | undefined {
  return () => {
    const gone = processes.find((p) => p.exit !== undefined);
    return gone === undefined ? undefined : `${gone.name} exited (${gone.exit})`;
  };
}

function logsOf(processes: readonly ClusterProcess[]): () => string {
  return () => processes.map((p) => (processes.length === 1 ? p.log : `${p.name}: ${p.log}`)).join('\n');
}

function member(name: string, args: readonly string[], settings: MemberSettings): ClusterProcess {
  const { host: _host, logDir, ...options } = settings;
  return new ClusterProcess(name, args, { ...options, ...(logDir === undefined ? {} : { logFile: join(logDir, `${name}.log`) }) });
}

/**
 * The pilot processes, not yet started: one alone (data in `dir`/pilot, on `port` or a free one), or
 * `count` replicas pilot1..pilotN of one Raft group (data in `dir`/pilotN, on free ports). Each gets `args`
 * after its own.
 */
export async function pilotProcesses(dir: string, count: number, args: readonly string[], settings: MemberSettings, port?: number): Promise<PilotProcess[]> {
  const { host } = settings;
  if (count === 1) {
    const httpPort = port ?? (await freePort());
    return [
      Object.assign(member('pilot', ['pilot', '--host', host, '--port', String(httpPort), '--data-dir', join(dir, 'pilot'), ...args], settings), {
        url: `http://${host}:${httpPort}`,
      }),
    ];
  }
  if (port !== undefined) throw new Error('assertion failed: a fixed pilot port is for a single pilot');
  const ports: [number, number][] = [];
  for (let i = 1; i <= count; i++) ports.push([await freePort(), await freePort()]);
  const peers = ports.map(([httpPort, busPort], i) => `pilot${i + 1}@${host}:${httpPort}:${busPort}`).join(',');
  return ports.map(([httpPort], i) => {
    const id = `pilot${i + 1}`;
    return Object.assign(member(id, ['pilot', '--host', host, '--pilot-id', id, '--peers', peers, '--data-dir', join(dir, id), ...args], settings), {
      url: `http://${host}:${httpPort}`,
    });
  });
}

/** What `GET /api/v1/pilot` answers: one replica's view of the pilot group. */
export interface PilotView {
  id: string;
  serving: boolean;
  leader: string | null;
  term: number;
  commit_index: number;
  applied_index: number;
}

export async function pilotView(pilot: PilotProcess): Promise<PilotView> {
  return (await (await fetch(`${pilot.url}/api/v1/pilot`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).json()) as PilotView;
}

/** Index of the running pilot that serves as the leader; -1 while none does. */
export async function leadingPilot(pilots: readonly PilotProcess[]): Promise<number> {
  for (const [i, pilot] of pilots.entries()) if (pilot.running && (await pilotView(pilot).catch(() => undefined))?.serving) return i;
  return -1;
}

/** Starts `pilots`; resolves once every one answers and, for a group, one of them leads. */
export async function startPilots(pilots: readonly PilotProcess[], timeoutMs = START_STEP_TIMEOUT_MS_DEFAULT): Promise<void> {
  for (const pilot of pilots) pilot.start();
  const waitFor = { timeoutMs, detail: logsOf(pilots), hopeless: exitedOf(pilots) };
  for (const pilot of pilots)
    await pollUntil(async () => (await fetch(`${pilot.url}/healthz`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).ok, { ...waitFor, what: `${pilot.name} to answer` });
  if (pilots.length > 1) await pollUntil(async () => (await leadingPilot(pilots)) >= 0, { ...waitFor, what: 'a pilot leader' });
}

export class LocalCluster {
  pilots: PilotProcess[] = [];
  readonly nodes: NodeProcess[] = [];
  /** The secrets every member got through its environment: the cluster secret (unless in a file), the client password and the admin token. */
  readonly env: Readonly<Record<string, string>>;
  private readonly settings: MemberSettings;
  private pilotReplicas: PilotReplicas | undefined;

  constructor(readonly options: LocalClusterOptions) {
    const { requirepass, adminToken, clusterSecretFile, logLevel } = options;
    this.env = {
      ...(clusterSecretFile === undefined ? { CLEAVE_CLUSTER_SECRET: randomBytes(CLUSTER_SECRET_BYTES).toString('hex') } : {}),
      ...(requirepass === undefined ? {} : { CLEAVE_REQUIREPASS: requirepass }),
      ...(adminToken === undefined ? {} : { CLEAVE_ADMIN_TOKEN: adminToken }),
    };
    // Secrets the caller's environment holds are not passed on: each member gets this cluster's only.
    const env = {
      CLEAVE_CLUSTER_SECRET: undefined,
      CLEAVE_REQUIREPASS: undefined,
      CLEAVE_ADMIN_TOKEN: undefined,
      ...(logLevel === undefined ? {} : { CLEAVE_LOG_LEVEL: logLevel }),
      ...this.env,
    };
    const { host = HOST_DEFAULT, logDir, execArgv, onSpawn, onCrash } = options;
    this.settings = {
      host,
      env,
      ...(logDir === undefined ? {} : { logDir }),
      ...(execArgv === undefined ? {} : { execArgv }),
      ...(onSpawn === undefined ? {} : { onSpawn }),
      ...(onCrash === undefined ? {} : { onCrash }),
    };
  }

  /**
   * Starts the pilots, then the nodes one after another (so that on a first start node i gets the id
   * node<i>), and resolves once every node serves. On a failure the caller stops what started.
   */
  async start(): Promise<void> {
    const o = this.options;
    const timeoutMs = o.startStepTimeoutMs ?? START_STEP_TIMEOUT_MS_DEFAULT;
    const secretFile = o.clusterSecretFile === undefined ? [] : ['--cluster-secret-file', o.clusterSecretFile];
    const pilotArgs = [
      '--expect-nodes',
      String(o.nodes),
      ...(o.shardsPerNode === undefined ? [] : ['--shards-per-node', String(o.shardsPerNode)]),
      ...(o.replicas === undefined ? [] : ['--replicas', String(o.replicas)]),
      ...secretFile,
      ...(o.pilotArgs ?? []),
    ];
    this.pilots = await pilotProcesses(o.dir, o.pilots ?? 1, pilotArgs, this.settings, o.pilotPort);
    this.pilotReplicas = new PilotReplicas(this.pilotUrls);
    await startPilots(this.pilots, timeoutMs);
    const urls = this.pilotUrls;
    for (let i = 1; i <= o.nodes; i++) {
      const ports =
        o.firstNodePort === undefined
          ? ['--port', String(await freePort()), '--bus-port', String(await freePort()), '--metrics-port', '0']
          : ['--port', String(o.firstNodePort + i - 1)];
      // Each node lists the pilots starting from another one, so most ask a follower first.
      const pilotList = [...urls.slice((i - 1) % urls.length), ...urls.slice(0, (i - 1) % urls.length)].join(',');
      const args = ['node', '--host', this.settings.host, ...ports, '--data-dir', join(o.dir, `node${i}`), '--pilot', pilotList, ...secretFile];
      if (o.electionTimeoutMs !== undefined) args.push('--election-timeout-ms', String(o.electionTimeoutMs));
      const settings = o.nodeLogLevel === undefined ? this.settings : { ...this.settings, env: { ...this.settings.env, CLEAVE_LOG_LEVEL: o.nodeLogLevel } };
      const node = Object.assign(member(`node${i}`, [...args, ...(o.nodeArgs ?? [])], settings), { port: Number(ports[1]) });
      this.nodes.push(node);
      node.start();
      const address = `${this.settings.host}:${node.port}`;
      await pollUntil(
        async () => {
          const answer = await this.pilotRequest('/api/v1/nodes');
          return answer.status === 200 && ((JSON.parse(answer.text) as { nodes?: { address: string }[] }).nodes ?? []).some((n) => n.address === address);
        },
        { what: `${node.name} to register with the pilot`, timeoutMs, detail: logsOf([node]), hopeless: exitedOf([node, ...this.pilots]) },
      );
    }
    for (const node of this.nodes) await this.waitForNode(node, timeoutMs);
  }

  /** The first pilot: the only one unless the cluster runs several. */
  get pilot(): PilotProcess {
    return this.pilots[0]!;
  }

  get pilotUrl(): string {
    return this.pilot.url;
  }

  get pilotUrls(): string[] {
    return this.pilots.map((p) => p.url);
  }

  /** Where a cluster client starts: every node. */
  get startupNodes(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: this.settings.host, port: n.port }));
  }

  /** A request to the pilot's API through whichever replica leads, with the admin token if there is one. */
  pilotRequest(path: string, init: { method?: string; body?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<PilotAnswer> {
    if (this.pilotReplicas === undefined) throw new Error('assertion failed: the pilots are started');
    const token = this.options.adminToken;
    return this.pilotReplicas.request(path, {
      method: init.method ?? 'GET',
      headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...init.headers },
      ...(init.body === undefined ? {} : { body: init.body }),
      timeoutMs: init.timeoutMs ?? REQUEST_TIMEOUT_MS,
    });
  }

  /** Resolves once `node` answers CLUSTER INFO with cluster_state:ok; fails at once if it exits. */
  async waitForNode(node: NodeProcess, timeoutMs = this.options.startStepTimeoutMs ?? START_STEP_TIMEOUT_MS_DEFAULT): Promise<void> {
    const { requirepass } = this.options;
    const auth = requirepass === undefined ? [] : [['AUTH', requirepass]];
    await pollUntil(
      async () => {
        const replies = await respRequest(this.settings.host, node.port, [...auth, ['CLUSTER', 'INFO']], REQUEST_TIMEOUT_MS);
        return String(replies[replies.length - 1]).includes('cluster_state:ok');
      },
      { what: `${node.name} to serve`, timeoutMs, detail: logsOf([node]), hopeless: exitedOf([node]) },
    );
  }

  /** Stops the nodes, then the pilots: SIGTERM, and SIGKILL for one that lingers. The data stays. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill('SIGTERM')));
    await Promise.all(this.pilots.map((p) => p.kill('SIGTERM')));
  }
}

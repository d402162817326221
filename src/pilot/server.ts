/**
 * `startPilot`: a pilot replica's entry point and the process's edge. Opens its share of the pilot group
 * under `dataDir` (one replica alone, or one of `peers`) on the real clock, timers and randomness, a TCP
 * bus and LMDB; serves the HTTP API — the leader answers, the other replicas point callers at it — and
 * sweeps node liveness on a timer while it leads.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { systemEnvironment } from '../common/environment.js';
import { UsageError } from '../common/errors.js';
import type { SplitParams } from '../common/routing.js';
import { SPLIT_PARAMS_DEFAULT } from '../split/types.js';
import { createLogger, type Logger } from '../common/logger.js';
import { ApiError } from './api-error.js';
import { createHttpApp } from './http-app.js';
import { Pilot } from './pilot.js';
import { createPilotMetrics } from './pilot-metrics.js';
import { BUS_PORT_OFFSET, PILOT_ID_DEFAULT, isPilotId, pilotUrlOf, validatePilotPeers, type PilotPeer } from './pilot-peers.js';
import { pilotRoutes } from './routes.js';
import { SCHEDULE_INTERVAL_MS, SCHEDULERS_ENABLED_DEFAULT, SchedulerDriver } from './scheduler-driver.js';
import { SCHEDULER_CONFIG_DEFAULT } from './schedulers/types.js';
import { lockDataDir } from '../common/data-dir-lock.js';
import { NodeStore } from '../storage/node-store.js';
import { Transport } from '../transport/transport.js';
import { recoverOldPilotLog } from './log-store.js';
import { LOG_ENTRIES_MAX_DEFAULT, type PilotBusOpener } from './state-driver.js';
import { SHARD_REPLICAS_MAX } from './state.js';

/** Options of `startPilot`; defaults as documented on each. */
export interface PilotOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly dataDir: string;
  /** Bootstrap the default keyspace once this many nodes have registered and it does not exist. Default 1. */
  readonly expectNodes?: number;
  /** Shards per node in the bootstrapped keyspace. Default 2. */
  readonly shardsPerNode?: number;
  /**
   * Replicas per shard, the leader included, in 1..7. The default keyspace gets as many as there are
   * registered nodes when those are fewer. Default 3.
   */
  readonly replicas?: number;
  /** When set, public routes require `Authorization: Bearer <adminToken>`. */
  readonly adminToken?: string;
  /**
   * Shared by the pilot replicas and the nodes: the internal routes require it in the header
   * `x-cleave-secret`, and the pilot replicas' bus handshake proves it. Required, not empty.
   */
  readonly clusterSecret: string;
  /** A node is down after this long without a heartbeat. Default 3000. */
  readonly nodeTimeoutMs?: number;
  /** Split parameters for new tasks, over seed 000's defaults. */
  readonly splitParams?: Partial<SplitParams>;
  /** Splits under way at once in the cluster, and per node (seed 003). Default 1 and 1. */
  readonly maxSplits?: number;
  readonly maxSplitsPerNode?: number;
  /** This replica's id, `pilotN`; one of `peers` when those are given. Default `pilot1`. */
  readonly pilotId?: string;
  /**
   * Every replica of the pilot group, this one included, the same list on each. Absent: this pilot is the
   * group's only replica and needs no bus.
   */
  readonly peers?: readonly PilotPeer[];
  /** Mean time a pilot replica waits without hearing from the leader before it campaigns. Default 1000. */
  readonly electionTimeoutMs?: number;
  /** Length of a Raft tick of the pilot group; the leader heartbeats every tick. Default 100. */
  readonly raftTickMs?: number;
  /** Applied log entries kept before the pilot group's log is compacted. Default 2000. */
  readonly logEntriesMax?: number;
  /** Run the schedulers (docs/SCHEDULING.md) while this replica serves: repair, drain, replica and leader rebalancing. Default false. */
  readonly schedulers?: boolean;
  /** How often a scheduling round runs. Default `SCHEDULE_INTERVAL_MS`. */
  readonly scheduleIntervalMs?: number;
  readonly logger?: Logger;
}

/** A listening pilot replica. */
export interface RunningPilot {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  /** The replica, for tests and embedders: its state, and its view of the pilot group. */
  readonly pilot: Pilot;
  /** Stops serving, releases long polls and closes the store. Idempotent. */
  close(): Promise<void>;
}

/** Replicas per shard unless told otherwise: a Raft group of 3 survives the loss of one node. */
export const REPLICAS_DEFAULT = 3;

/** Liveness sweeps are this many times more frequent than the node timeout, so a change is logged promptly. */
const SWEEPS_PER_TIMEOUT = 3;
const CLUSTER_ID_BYTES = 20;
/** The pilot's state is small: a few MiB of map is plenty, and the file grows only as written. */
const STORE_MAP_BYTES = 4 * 1024 ** 3;
/** The pilot group's log and the meta DB, with room to spare. */
const STORE_DATABASES_MAX = 4;
/**
 * How long a request to a leader's route waits while this replica is the new leader catching up, or while
 * no leader is known: an election takes about one election timeout, and callers time out after 5 s.
 */
const LEADER_WAIT_MS = 2500;

/** Starts a pilot; resolves once it listens. Throws `UsageError` for invalid options. */
export async function startPilot(options: PilotOptions): Promise<RunningPilot> {
  const config = {
    expectNodes: options.expectNodes ?? 1,
    shardsPerNode: options.shardsPerNode ?? 2,
    replicas: options.replicas ?? REPLICAS_DEFAULT,
    nodeTimeoutMs: options.nodeTimeoutMs ?? 3000,
  };
  for (const [name, value] of Object.entries(config)) {
    if (!Number.isInteger(value) || value < 1) throw new UsageError(`pilot option ${name} must be a positive integer, got ${value}`);
  }
  if (config.replicas > SHARD_REPLICAS_MAX) throw new UsageError(`pilot option replicas must be at most ${SHARD_REPLICAS_MAX}, got ${config.replicas}`);
  const pilotId = options.pilotId ?? PILOT_ID_DEFAULT;
  if (!isPilotId(pilotId)) throw new UsageError(`pilot id must be of the form pilotN (pilot1, pilot2, ...), got '${pilotId}'`);
  // A lone replica talks to nobody: its bus port is never opened.
  const peers = options.peers ?? [{ id: pilotId, host: options.host, port: options.port, busPort: options.port + BUS_PORT_OFFSET }];
  if (options.peers !== undefined) validatePilotPeers(peers);
  if (!peers.some((p) => p.id === pilotId)) throw new UsageError(`the peers do not name this pilot, ${pilotId}`);
  const raftTickMs = options.raftTickMs ?? 100;
  const electionTimeoutMs = options.electionTimeoutMs ?? 1000;
  const logEntriesMax = options.logEntriesMax ?? LOG_ENTRIES_MAX_DEFAULT;
  const scheduleIntervalMs = options.scheduleIntervalMs ?? SCHEDULE_INTERVAL_MS;
  for (const [name, value] of Object.entries({ raftTickMs, electionTimeoutMs, logEntriesMax, scheduleIntervalMs })) {
    if (!Number.isInteger(value) || value < 1) throw new UsageError(`pilot option ${name} must be a positive integer, got ${value}`);
  }
  const { clusterSecret } = options;
  if (clusterSecret === '') throw new UsageError('the pilot needs a cluster secret (CLEAVE_CLUSTER_SECRET or --cluster-secret-file): nodes present it on the internal routes');
  const logger = options.logger ?? createLogger('pilot');
  const split = { params: { ...SPLIT_PARAMS_DEFAULT, ...options.splitParams }, maxSplits: options.maxSplits ?? 1, maxSplitsPerNode: options.maxSplitsPerNode ?? 1 };
  for (const [name, value] of Object.entries({ ...split.params, maxSplits: split.maxSplits, maxSplitsPerNode: split.maxSplitsPerNode })) {
    if (!Number.isInteger(value) || value < 0) throw new UsageError(`pilot option ${name} must be a whole number, got ${value}`);
  }
  const dataDirLock = lockDataDir(options.dataDir);
  const busPort = peers.find((p) => p.id === pilotId)!.busPort;
  const openBus: PilotBusOpener = async (onUnreachable) => {
    const transport = new Transport({ nodeId: pilotId, clusterSecret, onUnreachable });
    try {
      await transport.listen(options.host, busPort);
    } catch (error) {
      await transport.close();
      throw error;
    }
    return transport;
  };
  const env = systemEnvironment();
  let pilot: Pilot;
  try {
    const store = NodeStore.open(join(options.dataDir, 'raft'), { mapBytes: STORE_MAP_BYTES, databasesMax: STORE_DATABASES_MAX });
    pilot = await Pilot.open(
      { ...config, split },
      {
        env,
        store,
        openBus,
        recoverOldLog: () => recoverOldPilotLog(options.dataDir),
        newClusterId: () => randomBytes(CLUSTER_ID_BYTES).toString('hex'),
        logger,
      },
      { selfId: pilotId, peers, tickMs: raftTickMs, electionTimeoutMs, logEntriesMax },
    );
  } catch (error) {
    dataDirLock.release();
    throw error;
  }
  const metrics = createPilotMetrics(pilot);
  const leaderGate = async (): Promise<ApiError | undefined> => {
    const leadership = await pilot.awaitLeadership(LEADER_WAIT_MS);
    switch (leadership.kind) {
      case 'serving':
        return undefined;
      case 'follower':
        return new ApiError('not_leader', `this pilot replica (${pilotId}) does not lead; ${leadership.leader.id} does: ask it`, undefined, pilotUrlOf(leadership.leader));
      case 'noLeader':
        return new ApiError('no_leader', 'the pilot replicas have no leader yet (an election is under way, or too few replicas are up); retry shortly', undefined, null);
      case 'refused':
        return new ApiError('no_leader', `${leadership.reason}; it serves nothing until its data is repaired: ask another pilot replica`, undefined, null);
    }
  };
  const app = createHttpApp(pilotRoutes(pilot, metrics), {
    adminToken: options.adminToken || undefined,
    clusterSecret,
    metrics,
    logger,
    leaderGate,
  });
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await pilot.close();
    dataDirLock.release();
    throw error;
  }
  const sweeper = setInterval(() => pilot.sweepLiveness(), Math.ceil(config.nodeTimeoutMs / SWEEPS_PER_TIMEOUT));
  sweeper.unref();
  const schedulerDriver =
    options.schedulers === true
      ? new SchedulerDriver(pilot, env, logger, { intervalMs: scheduleIntervalMs, enabled: SCHEDULERS_ENABLED_DEFAULT, scheduling: SCHEDULER_CONFIG_DEFAULT })
      : undefined;
  schedulerDriver?.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  if (options.peers === undefined) pilot.setOwnHttpPort(port);
  const url = pilotUrlOf({ host: options.host, port });
  logger.info(
    {
      url,
      pilot: pilotId,
      peers: peers.map((p) => p.id),
      expect_nodes: config.expectNodes,
      shards_per_node: config.shardsPerNode,
      replicas: config.replicas,
      schedule_interval_ms: schedulerDriver === undefined ? null : scheduleIntervalMs,
    },
    'pilot listening',
  );
  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    clearInterval(sweeper);
    schedulerDriver?.stop();
    // Long polls first: the HTTP server waits for in-flight requests before it closes.
    pilot.waiters.releaseAll();
    await app.close();
    await pilot.close();
    dataDirLock.release();
  };
  return { url, port, pilot, close: () => (closing ??= close()) };
}

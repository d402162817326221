/**
 * `startPilot`: the pilot process's entry point. Recovers the pilot's state from `<dataDir>/pilot`, serves
 * the HTTP API, and sweeps node liveness on a timer.
 */
import { randomBytes } from 'node:crypto';
import { UsageError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/logger.js';
import { createHttpApp } from './http-app.js';
import { Pilot } from './pilot.js';
import { createPilotMetrics } from './pilot-metrics.js';
import { pilotRoutes } from './routes.js';
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
  /** When set, node routes require the header `x-cleave-secret: <clusterSecret>`. */
  readonly clusterSecret?: string;
  /** A node is down after this long without a heartbeat. Default 3000. */
  readonly nodeTimeoutMs?: number;
  readonly logger?: Logger;
}

/** A listening pilot. */
export interface RunningPilot {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  /** Stops serving, releases long polls and closes the store. Idempotent. */
  close(): Promise<void>;
}

/** Replicas per shard unless told otherwise: a Raft group of 3 survives the loss of one node. */
export const REPLICAS_DEFAULT = 3;

/** Liveness sweeps are this many times more frequent than the node timeout, so a change is logged promptly. */
const SWEEPS_PER_TIMEOUT = 3;
const CLUSTER_ID_BYTES = 20;

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
  const logger = options.logger ?? createLogger('pilot');
  const pilot = await Pilot.open(options.dataDir, config, {
    clock: Date.now,
    newClusterId: () => randomBytes(CLUSTER_ID_BYTES).toString('hex'),
    logger,
  });
  const metrics = createPilotMetrics(pilot);
  const app = createHttpApp(pilotRoutes(pilot, metrics), {
    // An empty credential (an unset flag or variable) means none, not "the empty string".
    adminToken: options.adminToken || undefined,
    clusterSecret: options.clusterSecret || undefined,
    metrics,
    logger,
  });
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await pilot.close();
    throw error;
  }
  const sweeper = setInterval(() => pilot.sweepLiveness(), Math.ceil(config.nodeTimeoutMs / SWEEPS_PER_TIMEOUT));
  sweeper.unref();
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  logger.info({ url, expect_nodes: config.expectNodes, shards_per_node: config.shardsPerNode, replicas: config.replicas }, 'pilot listening');
  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    clearInterval(sweeper);
    // Long polls first: the HTTP server waits for in-flight requests before it closes.
    pilot.waiters.releaseAll();
    await app.close();
    await pilot.close();
  };
  return { url, port, close: () => (closing ??= close()) };
}

/** `cleave pilot` and `cleave node`: each role alone, for deployments across machines. */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { UsageError } from '../common/errors.js';
import { SPLIT_PARAMS_DEFAULT } from '../split/types.js';
import { createLogger } from '../common/logger.js';
import { PILOT_ID_DEFAULT, isPilotId, parsePilotPeers, type PilotPeer } from '../pilot/pilot-peers.js';
import { REPLICAS_DEFAULT, startPilot } from '../pilot/server.js';
import { SHARD_REPLICAS_MAX } from '../pilot/state.js';
import { SCHEDULE_INTERVAL_MS } from '../pilot/scheduler-driver.js';
import { CLIENT_INPUT_BYTES_MAX_DEFAULT, startNode } from '../node/node-server.js';
import { requireClusterSecret } from './cluster-secret.js';
import { isLoopback, parseHost, parseIntInRange, parsePort, parsePortOrZero, parseUrls } from './flags.js';
import { ADMIN_TOKEN, CLUSTER_SECRET, REQUIREPASS, fileFlag, withSecretFile } from './secret-flags.js';

/** Closes `service` on SIGINT/SIGTERM and exits 0 once it is closed. */
export function closeOnSignals(service: { close(): Promise<void> }): void {
  let closing = false;
  const stop = (): void => {
    if (closing) return;
    closing = true;
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`cleave: error while stopping: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

interface PilotFlags {
  host: string;
  port: number;
  pilotId: string;
  peers?: PilotPeer[];
  busPort?: number;
  electionTimeoutMs: number;
  dataDir: string;
  expectNodes: number;
  shardsPerNode: number;
  replicas: number;
  /** From --admin-token-file or the environment. */
  adminToken?: string;
  /** From --cluster-secret-file or the environment. */
  clusterSecret?: string;
  nodeTimeoutMs: number;
  schedulers: boolean;
  scheduleIntervalMs: number;
  maxSplits: number;
  maxSplitsPerNode: number;
  splitCatchUpThreshold: number;
  splitBufferTimeoutMs: number;
  splitBufferMaxSize: number;
  splitProgressIntervalMs: number;
  splitSnapshotChunkBytes: number;
  splitCatchUpDeadlineMs: number;
  splitCatchUpSlowDelay: number;
  splitTargetTimeoutMs: number;
}

export function registerPilotCommand(program: Command): void {
  const pilot = program
    .command('pilot')
    .description('run the pilot: cluster metadata, routing table, HTTP API and metrics')
    .option('--host <host>', 'address to listen on', parseHost('--host'), '127.0.0.1')
    .option('--port <port>', 'HTTP port (default: 7000, or the port --peers gives this replica)', parsePort('--port'), 7000)
    .option('--pilot-id <id>', 'this replica of the pilot: pilot1, pilot2, ...', parsePilotId, PILOT_ID_DEFAULT)
    .option(
      '--peers <list>',
      'every pilot replica, this one included, the same on each: id@host:port[:busport],... (bus port default: port + 10000); without it the pilot runs alone',
      (value: string) => parsePilotPeers(value),
    )
    .option('--bus-port <port>', 'port of the Raft bus between pilot replicas (default: the one --peers gives this replica)', parsePort('--bus-port'))
    .option('--election-timeout-ms <ms>', 'mean time without a leader before a pilot replica campaigns', parseIntInRange('--election-timeout-ms', 200, 60_000), 1000)
    .option('--data-dir <dir>', 'where the pilot keeps its state', './data/pilot')
    .option('--expect-nodes <n>', 'create the default keyspace once this many nodes have joined', parseIntInRange('--expect-nodes', 1, 1000), 1)
    .option('--shards-per-node <n>', 'shards of the default keyspace per node at creation', parseIntInRange('--shards-per-node', 1, 256), 2)
    .option(
      '--replicas <n>',
      'replicas per shard, the leader included (fewer while fewer nodes have joined)',
      parseIntInRange('--replicas', 1, SHARD_REPLICAS_MAX),
      REPLICAS_DEFAULT,
    );
  withSecretFile(withSecretFile(pilot, ADMIN_TOKEN), CLUSTER_SECRET)
    .option('--node-timeout-ms <ms>', 'a node is down after this long without a heartbeat', parseIntInRange('--node-timeout-ms', 100, 600_000), 3000)
    .option('--schedulers', 'rebalance leaders and replicas and repair shards by itself (repair, drain, replica and leader rebalancing)', false)
    .option('--schedule-interval-ms <ms>', 'how often the schedulers run, with --schedulers', parseIntInRange('--schedule-interval-ms', 100, 3_600_000), SCHEDULE_INTERVAL_MS)
    .option('--max-splits <n>', 'splits under way at once in the cluster', parseIntInRange('--max-splits', 1, 1000), 1)
    .option('--max-splits-per-node <n>', 'splits a node takes part in at once', parseIntInRange('--max-splits-per-node', 1, 1000), 1)
    .option(
      '--split-catch-up-threshold <entries>',
      'buffer writes once the target is fewer entries behind',
      parseIntInRange('--split-catch-up-threshold', 1, 1_000_000),
      SPLIT_PARAMS_DEFAULT.catchUpThreshold,
    )
    .option(
      '--split-buffer-timeout-ms <ms>',
      'roll back when buffered writes wait longer',
      parseIntInRange('--split-buffer-timeout-ms', 1, 600_000),
      SPLIT_PARAMS_DEFAULT.bufferTimeoutMs,
    )
    .option(
      '--split-buffer-max-size <n>',
      'roll back when more writes wait in the buffer',
      parseIntInRange('--split-buffer-max-size', 1, 10_000_000),
      SPLIT_PARAMS_DEFAULT.bufferMaxSize,
    )
    .option(
      '--split-progress-interval-ms <ms>',
      'how often a source leader reports progress',
      parseIntInRange('--split-progress-interval-ms', 10, 600_000),
      SPLIT_PARAMS_DEFAULT.progressIntervalMs,
    )
    .option(
      '--split-snapshot-chunk-bytes <bytes>',
      'bytes per snapshot chunk sent to the target',
      parseIntInRange('--split-snapshot-chunk-bytes', 1024, 64 * 1024 * 1024),
      SPLIT_PARAMS_DEFAULT.snapshotChunkBytes,
    )
    .option(
      '--split-catch-up-deadline-ms <ms>',
      'roll back when catch-up still lags this long after it began',
      parseIntInRange('--split-catch-up-deadline-ms', 1, 24 * 3_600_000),
      SPLIT_PARAMS_DEFAULT.catchUpDeadlineMs,
    )
    .option(
      '--split-catch-up-slow-delay <entries>',
      'catch-up past its deadline rolls back while more entries behind than this',
      parseIntInRange('--split-catch-up-slow-delay', 0, 100_000_000),
      SPLIT_PARAMS_DEFAULT.catchUpSlowDelay,
    )
    .option(
      '--split-target-timeout-ms <ms>',
      "roll back when the target's leader does not answer this long",
      parseIntInRange('--split-target-timeout-ms', 1, 3_600_000),
      SPLIT_PARAMS_DEFAULT.targetTimeoutMs,
    )
    .action(async (flags: PilotFlags, command: Command) => {
      const clusterSecret = requireClusterSecret('the pilot', flags.clusterSecret);
      if (!isLoopback(flags.host) && !flags.adminToken) {
        throw new UsageError(`listening on ${flags.host} (beyond loopback) needs an admin token: set ${ADMIN_TOKEN.env} or give ${fileFlag(ADMIN_TOKEN)} <path>`);
      }
      const port = pilotPeerPorts(flags, command.getOptionValueSource('port') !== 'default');
      const pilot = await startPilot({
        host: flags.host,
        port,
        pilotId: flags.pilotId,
        ...(flags.peers === undefined ? {} : { peers: flags.peers }),
        electionTimeoutMs: flags.electionTimeoutMs,
        dataDir: resolve(flags.dataDir),
        expectNodes: flags.expectNodes,
        shardsPerNode: flags.shardsPerNode,
        replicas: flags.replicas,
        adminToken: flags.adminToken,
        clusterSecret,
        nodeTimeoutMs: flags.nodeTimeoutMs,
        schedulers: flags.schedulers,
        scheduleIntervalMs: flags.scheduleIntervalMs,
        maxSplits: flags.maxSplits,
        maxSplitsPerNode: flags.maxSplitsPerNode,
        splitParams: {
          catchUpThreshold: flags.splitCatchUpThreshold,
          bufferTimeoutMs: flags.splitBufferTimeoutMs,
          bufferMaxSize: flags.splitBufferMaxSize,
          progressIntervalMs: flags.splitProgressIntervalMs,
          snapshotChunkBytes: flags.splitSnapshotChunkBytes,
          catchUpDeadlineMs: flags.splitCatchUpDeadlineMs,
          catchUpSlowDelay: flags.splitCatchUpSlowDelay,
          targetTimeoutMs: flags.splitTargetTimeoutMs,
        },
        logger: createLogger('pilot'),
      });
      closeOnSignals(pilot);
    });
}

function parsePilotId(value: string): string {
  if (!isPilotId(value)) throw new UsageError(`--pilot-id must be pilot1, pilot2, ..., got '${value}'`);
  return value;
}

/**
 * The HTTP port of this replica, checked against its entry in --peers (where the others reach it);
 * --bus-port may only repeat what --peers says.
 */
function pilotPeerPorts(flags: PilotFlags, portGiven: boolean): number {
  const peers = flags.peers;
  if (peers === undefined) {
    if (flags.busPort !== undefined) throw new UsageError('--bus-port is for pilot replicas: give --peers too');
    return flags.port;
  }
  const self = peers.find((p) => p.id === flags.pilotId);
  if (self === undefined) throw new UsageError(`--peers does not name this replica, ${flags.pilotId} (set --pilot-id)`);
  if (portGiven && self.port !== flags.port) throw new UsageError(`--peers gives ${self.id} the port ${self.port}, but --port is ${flags.port}`);
  if (flags.busPort !== undefined && flags.busPort !== self.busPort) {
    throw new UsageError(
      `--peers gives ${self.id} the bus port ${self.busPort}, but --bus-port is ${flags.busPort}; write it as ${self.id}@${self.host}:${self.port}:${flags.busPort}`,
    );
  }
  return self.port;
}

interface NodeFlags {
  host: string;
  port: number;
  busPort?: number;
  metricsPort?: number;
  dataDir: string;
  pilot: string;
  /** From --requirepass-file or the environment. */
  requirepass?: string;
  /** From --cluster-secret-file or the environment. */
  clusterSecret?: string;
  protoMaxBulkLen: number;
  clientInputBytesMax: number;
  electionTimeoutMs: number;
  raftTickMs: number;
  enableDebugCommand: boolean;
}

export function registerNodeCommand(program: Command): void {
  const node = program
    .command('node')
    .description('run a data node: RESP for clients, shard replicas on LMDB')
    .option('--host <host>', 'address to listen on and advertise', parseHost('--host'), '127.0.0.1')
    .option('--port <port>', 'RESP port for clients', parsePort('--port'), 7001)
    .option('--bus-port <port>', 'internal RPC port (default: port + 10000)', parsePort('--bus-port'))
    .option('--metrics-port <port>', 'port of /metrics, 0 to disable (default: port + 20000)', parsePortOrZero('--metrics-port'))
    .option('--data-dir <dir>', 'where the node keeps its data', './data/node')
    .option('--pilot <urls>', "the pilot to join: its URL, or its replicas' URLs separated by commas", parseUrls('--pilot'), 'http://127.0.0.1:7000');
  withSecretFile(withSecretFile(node, REQUIREPASS), CLUSTER_SECRET)
    .option('--proto-max-bulk-len <bytes>', 'largest bulk string a client may send', parseIntInRange('--proto-max-bulk-len', 1024, 512 * 1024 * 1024), 512 * 1024 * 1024)
    .option(
      '--client-input-bytes-max <bytes>',
      "what all clients' requests not yet run may hold together; past it, the connection that adds more is closed",
      parseIntInRange('--client-input-bytes-max', 1024 * 1024, Number.MAX_SAFE_INTEGER),
      CLIENT_INPUT_BYTES_MAX_DEFAULT,
    )
    .option('--election-timeout-ms <ms>', 'mean time without a leader before a shard replica campaigns', parseIntInRange('--election-timeout-ms', 200, 60_000), 1000)
    .option('--raft-tick-ms <ms>', 'Raft tick: leaders heartbeat every tick', parseIntInRange('--raft-tick-ms', 10, 1000), 100)
    .option('--enable-debug-command', 'serve DEBUG PARTITION/PARTITION-ONEWAY/HEAL, which cut this node off from others (failure tests)', false)
    .action(async (flags: NodeFlags) => {
      const clusterSecret = requireClusterSecret('a node', flags.clusterSecret);
      const busPort = flags.busPort ?? flags.port + 10000;
      const metricsPort = flags.metricsPort ?? flags.port + 20000;
      if (busPort > 65535 || metricsPort > 65535) throw new UsageError('--port is too high to derive the bus and metrics ports; give --bus-port and --metrics-port');
      const node = await startNode({
        host: flags.host,
        port: flags.port,
        busPort,
        metricsPort,
        dataDir: resolve(flags.dataDir),
        pilotUrl: flags.pilot,
        requirepass: flags.requirepass,
        clusterSecret,
        maxBulkBytes: flags.protoMaxBulkLen,
        clientInputBytesMax: flags.clientInputBytesMax,
        heartbeatIntervalMs: 1000,
        raftTickMs: flags.raftTickMs,
        electionTimeoutMs: flags.electionTimeoutMs,
        enableDebugCommand: flags.enableDebugCommand,
        logger: createLogger('node', { port: flags.port }),
      });
      closeOnSignals(node);
    });
}

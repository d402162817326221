/**
 * A data node: serves RESP to clients, hosts shard replicas in one LMDB environment, joins the pilot,
 * heartbeats its shards' statistics and follows the routing table the pilot publishes.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { RoutingTable } from '../common/routing.js';
import { EMPTY_ROUTING_TABLE } from '../common/routing.js';
import type { ShardStats } from '../common/protocol.js';
import { createLogger, type Logger } from '../common/logger.js';
import { expireIfDue } from '../commands/table.js';
import { ProtocolError, RespParser } from '../resp/parser.js';
import { ReplyWriter } from '../resp/writer.js';
import { error, type Reply } from '../resp/reply.js';
import { NodeStore } from '../storage/node-store.js';
import { ShardReplica } from '../shard/shard-replica.js';
import { ClientConnection } from './client-connection.js';
import { CommandDispatcher, type DispatchTarget } from './command-dispatcher.js';
import type { NodeStats } from './node-context.js';
import { NodeMetrics } from './node-metrics.js';
import { PilotClient, PilotError } from './pilot-client.js';
import { RoutingView } from './routing-view.js';

export interface NodeOptions {
  readonly host: string;
  readonly port: number;
  /** Internal RPC port; client port + 10000 by default. */
  readonly busPort: number;
  /** Port of the node's `/metrics`; 0 disables it. */
  readonly metricsPort: number;
  readonly dataDir: string;
  readonly pilotUrl: string;
  readonly requirepass?: string;
  readonly clusterSecret?: string;
  /** Largest bulk string a client may send (Redis's proto-max-bulk-len). */
  readonly maxBulkBytes: number;
  readonly heartbeatIntervalMs: number;
  readonly logger?: Logger;
}

export interface RunningNode {
  readonly port: number;
  /** The node's id once the pilot registered it. */
  nodeId(): string | undefined;
  close(): Promise<void>;
}

/** Open client connections a node accepts (Redis's default maxclients). */
const CLIENTS_MAX = 10_000;
/** Replies a client may owe before the node stops reading its requests: a bound on pipelining memory. */
const OWED_REPLIES_MAX = 10_000;
/** Bytes waiting in a socket's write buffer before the node stops reading that client's requests. */
const SOCKET_BUFFER_BYTES_MAX = 64 * 1024 * 1024;
/** Active expiry: how often, how many keys with a TTL a shard examines per batch (as Redis: 20), and the time budget. */
const EXPIRY_CYCLE_MS = 100;
const EXPIRY_KEYS_PER_CYCLE = 20;
const EXPIRY_CYCLE_BUDGET_MS = 10;
const ROUTING_POLL_WAIT_MS = 25_000;
const PILOT_RETRY_MS_MAX = 2_000;
const NO_CLUSTER_ID = '0'.repeat(40);

export async function startNode(options: NodeOptions): Promise<RunningNode> {
  const logger = options.logger ?? createLogger('node', { port: options.port });
  const store = NodeStore.open(options.dataDir);
  const pilot = new PilotClient(options.pilotUrl, options.clusterSecret);
  const metrics = new NodeMetrics();
  const replicas = new Map<string, ShardReplica>();
  const connections = new Map<number, ClientConnection>();
  const stats: NodeStats = { commandsProcessed: 0, connectionsReceived: 0, opsPerSec: 0 };
  const startedAtMs = Date.now();
  let selfId = store.getMeta('node_id') as string | undefined;
  let view = new RoutingView((store.getMeta('routing') as RoutingTable | undefined) ?? EMPTY_ROUTING_TABLE, selfId);
  let closed = false;
  let nextConnectionId = 1;

  const openReplica = (shardId: string): ShardReplica => {
    let replica = replicas.get(shardId);
    if (replica === undefined) {
      replica = new ShardReplica(shardId, store.openShard(shardId));
      replicas.set(shardId, replica);
    }
    return replica;
  };

  const applyRouting = (table: RoutingTable): void => {
    if (table.version <= view.version) return;
    view = new RoutingView(table, selfId);
    void store.putMeta('routing', table);
    for (const shard of view.hostedShards()) openReplica(shard.id);
    metrics.routingVersion.set(table.version);
    logger.info({ version: table.version, led: view.ledShards().map((s) => s.id) }, 'routing table updated');
  };
  for (const shard of view.hostedShards()) openReplica(shard.id);

  const target: DispatchTarget = {
    get selfId() {
      return selfId;
    },
    host: options.host,
    port: options.port,
    requirepass: options.requirepass,
    startedAtMs,
    stats,
    connections,
    routing: () => view,
    ledReplicas: () => view.ledShards().map((s) => openReplica(s.id)),
    clusterId: () => (selfId === undefined ? undefined : view.node(selfId)?.clusterId) ?? NO_CLUSTER_ID,
    replica: (shardId) => replicas.get(shardId) ?? (view.hostedShards().some((s) => s.id === shardId) ? openReplica(shardId) : undefined),
  };
  const dispatcher = new CommandDispatcher(target, metrics);
  metrics.trackShards(() => [...replicas.values()].map((r) => ({ id: r.id, keys: r.data.keyCount, bytes: r.data.byteCount })));

  const server: Server = createServer((socket) => serveClient(socket));
  const serveClient = (socket: Socket): void => {
    if (connections.size >= CLIENTS_MAX) {
      // As Redis's maxclients: say why, then close.
      socket.end('-ERR max number of clients reached\r\n');
      return;
    }
    socket.setNoDelay(true);
    const parser = new RespParser({ maxBulkBytes: options.maxBulkBytes });
    const writer = new ReplyWriter();
    const id = nextConnectionId++;
    const conn = new ClientConnection(id, socket, options.requirepass !== undefined, Date.now(), (reply, protocol) => writer.write(reply, protocol));
    connections.set(id, conn);
    stats.connectionsReceived++;
    metrics.connections.inc();
    let paused = false;
    const overLimit = (): boolean => conn.owed >= OWED_REPLIES_MAX || writer.pendingBytes + socket.writableLength >= SOCKET_BUFFER_BYTES_MAX;
    /** Runs the requests already read, until the client owes too much; the rest wait in the parser. */
    const pump = (): void => {
      try {
        let argv: Buffer[] | undefined;
        while (!conn.closing && !paused && (argv = parser.next()) !== undefined) {
          stats.commandsProcessed++;
          let result: Reply | Promise<Reply>;
          try {
            result = dispatcher.dispatch(conn, argv);
          } catch (err) {
            // A bug, not bad input: answer this request, keep the node up for everyone else.
            logger.error({ err, command: argv[0]?.toString() }, 'command failed');
            result = error('ERR internal error');
          }
          conn.reply(result);
          if (overLimit()) {
            paused = true;
            socket.pause();
          }
        }
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        // As Redis: say what was wrong, then close; other connections are untouched.
        conn.reply(error(`ERR ${err.message}`));
        conn.closing = true;
      }
    };
    const flush = (): void => {
      const out = writer.takeBuffers();
      if (out.length > 0 && !socket.destroyed) {
        socket.cork();
        for (const buffer of out) socket.write(buffer);
        socket.uncork();
      }
      if (conn.closing && conn.owed === 0) {
        socket.end();
        return;
      }
      if (paused && conn.owed < OWED_REPLIES_MAX / 2 && socket.writableLength < SOCKET_BUFFER_BYTES_MAX / 2) {
        paused = false;
        socket.resume();
        pump();
        if (writer.pendingBytes > 0) flush();
      }
    };
    conn.onDrained = flush;
    socket.on('drain', flush);
    socket.on('data', (chunk: Buffer) => {
      if (conn.closing) return;
      parser.feed(chunk);
      pump();
      flush();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      connections.delete(id);
      metrics.connections.dec();
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const metricsServer: HttpServer | undefined = options.metricsPort > 0 ? await metrics.serve(options.host, options.metricsPort) : undefined;

  /** Retries `fn` until it succeeds or the node closes, backing off up to PILOT_RETRY_MS_MAX. */
  const untilSuccess = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    let delayMs = 100;
    while (!closed) {
      try {
        return await fn();
      } catch (err) {
        logger.warn({ err: (err as Error).message }, `${what} failed; retrying`);
        await sleep(delayMs);
        delayMs = Math.min(delayMs * 2, PILOT_RETRY_MS_MAX);
      }
    }
    return undefined;
  };

  const joinOnce = async (): Promise<void> => {
    const response = await untilSuccess('join', () =>
      pilot.join({
        ...(selfId === undefined ? {} : { node_id: selfId }),
        host: options.host,
        port: options.port,
        bus_port: options.busPort,
        metrics_port: options.metricsPort,
        pid: process.pid,
      }),
    );
    if (response === undefined) return;
    if (selfId !== response.node_id) {
      selfId = response.node_id;
      await store.putMeta('node_id', selfId);
      view = new RoutingView(view.table, selfId);
    }
    logger.info({ nodeId: selfId }, 'joined the pilot');
    applyRouting(response.routing);
  };
  // Active expiry, as Redis's cycle: each shard walks its expiry index 20 keys at a time and keeps going
  // while a quarter or more of a batch was due, within a time budget per cycle.
  const expiryCursors = new Map<string, { slot: number; key: Buffer } | undefined>();
  const expiryTimer = setInterval(() => {
    const startedAtMs = Date.now();
    for (const shard of view.ledShards()) {
      const replica = openReplica(shard.id);
      let deleted = 0;
      for (;;) {
        const nowMs = Date.now();
        const batch = replica.data.scanExpiring(expiryCursors.get(shard.id), EXPIRY_KEYS_PER_CYCLE);
        let due = 0;
        for (const entry of batch) {
          if (entry.expireAtMs <= nowMs && expireIfDue({ data: replica.data, nowMs, random: Math.random }, entry.key)) due++;
        }
        deleted += due;
        expiryCursors.set(shard.id, batch.length < EXPIRY_KEYS_PER_CYCLE ? undefined : batch[batch.length - 1]);
        if (batch.length < EXPIRY_KEYS_PER_CYCLE || due * 4 < batch.length || Date.now() - startedAtMs >= EXPIRY_CYCLE_BUDGET_MS) break;
      }
      if (deleted > 0) void replica.commitSoon();
    }
  }, EXPIRY_CYCLE_MS);

  // One join at a time: every heartbeat refused while the pilot does not know us would start another.
  let joining: Promise<void> | undefined;
  const join = (): Promise<void> => (joining ??= joinOnce().finally(() => (joining = undefined)));
  await join();

  const shardStats = (intervalMs: number): ShardStats[] => {
    const out: ShardStats[] = [];
    let ops = 0;
    for (const replica of replicas.values()) {
      const taken = replica.takeOps();
      ops += taken;
      out.push({
        shard_id: replica.id,
        keys: replica.data.keyCount,
        bytes: replica.data.byteCount,
        ops_per_sec: Math.round((taken * 1000) / intervalMs),
        last_access_ms: replica.lastAccessMs,
      });
    }
    stats.opsPerSec = Math.round((ops * 1000) / intervalMs);
    return out;
  };

  const heartbeatTimer = setInterval(() => {
    if (selfId === undefined) return;
    pilot
      .heartbeat({ node_id: selfId, pid: process.pid, routing_version: view.version, shards: shardStats(options.heartbeatIntervalMs) })
      .then((response) => {
        if (response.routing !== undefined) applyRouting(response.routing);
      })
      .catch((err: unknown) => {
        // The pilot forgot us (its data was reset): join again to get an id and a place.
        if (err instanceof PilotError && err.status === 404) void join();
        else logger.warn({ err: (err as Error).message }, 'heartbeat failed');
      });
  }, options.heartbeatIntervalMs);

  // The long poll delivers a new routing version as soon as the pilot commits it.
  const followRouting = async (): Promise<void> => {
    while (!closed) {
      const table = await untilSuccess('routing poll', () => pilot.waitForRouting(view.version, ROUTING_POLL_WAIT_MS));
      if (table !== undefined) applyRouting(table);
    }
  };
  void followRouting();


  logger.info({ host: options.host, port: options.port, nodeId: selfId }, 'node serving');
  return {
    port: (server.address() as { port: number }).port,
    nodeId: () => selfId,
    close: async () => {
      closed = true;
      clearInterval(heartbeatTimer);
      clearInterval(expiryTimer);
      for (const conn of connections.values()) conn.socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (metricsServer !== undefined) await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      await Promise.all([...replicas.values()].map((r) => r.data.flushed()));
      await store.close();
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

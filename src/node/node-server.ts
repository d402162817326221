/**
 * A data node: serves RESP to clients, hosts shard replicas in one LMDB environment, joins the pilot,
 * heartbeats its shards' statistics and follows the routing table the pilot publishes.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { RoutingTable } from '../common/routing.js';
import { EMPTY_ROUTING_TABLE } from '../common/routing.js';
import type { JoinResponse, ShardStats } from '../common/protocol.js';
import { UsageError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/logger.js';
import { ProtocolError, RespParser } from '../resp/parser.js';
import { ReplyWriter } from '../resp/writer.js';
import { error, type Reply } from '../resp/reply.js';
import { NodeStore } from '../storage/node-store.js';
import { lockDataDir } from '../common/data-dir-lock.js';
import { flushPlan } from '../split/split-overlay.js';
import type { ShardReplica } from '../shard/shard-replica.js';
import { ClientConnection } from './client-connection.js';
import { CommandDispatcher, type DispatchTarget } from './command-dispatcher.js';
import type { NodeStats } from './node-context.js';
import { NodeMetrics } from './node-metrics.js';
import { PilotClient, PilotError } from './pilot-client.js';
import { RoutingView, withKnownLeaders } from './routing-view.js';
import { ShardGroups } from './shard-groups.js';
import { LeadershipWaits } from './leadership-waits.js';
import { SplitBuffer } from '../split/split-buffer.js';
import { SPLIT_TRYAGAIN, SplitRouting } from '../split/split-routing.js';

export interface NodeOptions {
  readonly host: string;
  readonly port: number;
  /** Internal RPC port; client port + 10000 by default. */
  readonly busPort: number;
  /** Port of the node's `/metrics`; 0 disables it. */
  readonly metricsPort: number;
  readonly dataDir: string;
  /** The pilot's URL, or its replicas' URLs separated by commas: requests find the leader among them. */
  readonly pilotUrl: string;
  readonly requirepass?: string;
  /** Shared with the pilot and the other nodes: presented on the pilot's internal routes, proven on the bus. */
  readonly clusterSecret: string;
  /** Largest bulk string a client may send (Redis's proto-max-bulk-len). */
  readonly maxBulkBytes: number;
  /** Bytes of requests not yet run that all client connections together may hold; CLIENT_INPUT_BYTES_MAX_DEFAULT when absent. */
  readonly clientInputBytesMax?: number;
  readonly heartbeatIntervalMs: number;
  /** Length of a Raft tick; heartbeats go out every tick. */
  readonly raftTickMs: number;
  /** Mean time a follower waits without hearing from its leader before it campaigns. */
  readonly electionTimeoutMs: number;
  /** Serve DEBUG PARTITION/HEAL, which cut this node's bus links (failure tests). */
  readonly enableDebugCommand?: boolean;
  readonly logger?: Logger;
}

export interface RunningNode {
  readonly port: number;
  /** The node's id once the pilot registered it. */
  nodeId(): string | undefined;
  close(): Promise<void>;
}

/**
 * What all clients' unrun requests may hold at once (each connection is held to one command of at most
 * Redis's client-query-buffer-limit, 1 GiB): beyond it the connection that pushes past is closed.
 */
export const CLIENT_INPUT_BYTES_MAX_DEFAULT = 2 * 1024 * 1024 * 1024;
const CLIENT_INPUT_FULL = error("ERR the node's input buffers for all clients are full; closing this connection");
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
/** How often a running node the pilot refused asks again (the operator may restore the pilot's data). */
const JOIN_REFUSED_RETRY_MS = 30_000;

export async function startNode(options: NodeOptions): Promise<RunningNode> {
  if (options.clusterSecret === '') throw new UsageError('a node needs a cluster secret (CLEAVE_CLUSTER_SECRET or --cluster-secret-file): the pilot and the other nodes ask for it');
  const logger = options.logger ?? createLogger('node', { port: options.port });
  const dataDirLock = lockDataDir(options.dataDir);
  const store = NodeStore.open(options.dataDir);
  const pilot = new PilotClient(options.pilotUrl, options.clusterSecret);
  const metrics = new NodeMetrics();
  const splitBuffer = new SplitBuffer((waitedMs) => metrics.splitWritePause.observe(waitedMs / 1000));
  metrics.trackSplitBuffer(() => splitBuffer.countAll());
  const connections = new Map<number, ClientConnection>();
  const stats: NodeStats = { commandsProcessed: 0, connectionsReceived: 0, opsPerSec: 0 };
  const startedAtMs = Date.now();
  let selfId = store.getMeta('node_id') as string | undefined;
  /** The pilot's newest table; the view overlays on it the leaders this node's Raft groups know. */
  let table = (store.getMeta('routing') as RoutingTable | undefined) ?? EMPTY_ROUTING_TABLE;
  let view = new RoutingView(table, selfId);
  /** When the view last changed: redirects are forwarded for a while after (forward-decision.ts). */
  let routingChangedAtMs = 0;
  let groups: ShardGroups | undefined;
  let closed = false;
  let nextConnectionId = 1;
  const clientInputBytesMax = options.clientInputBytesMax ?? CLIENT_INPUT_BYTES_MAX_DEFAULT;
  /** Bytes held by every connection's parser, summed as each connection's holding changes. */
  let clientInputBytes = 0;

  /** The pilot's table with each hosted shard's leader as this node's Raft group knows it. */
  const rebuildView = (): void => {
    const known = groups;
    view = new RoutingView(known === undefined || selfId === undefined ? table : withKnownLeaders(table, selfId, (shardId) => known.leaderOf(shardId)), selfId);
    routingChangedAtMs = Date.now();
    metrics.routingVersion.set(table.version);
  };

  /** Set once the heartbeat is ready to send (after the first join). */
  let heartbeatNow: (() => void) | undefined;
  let viewRebuildScheduled = false;
  /** Requests waiting for a leadership transfer away from this node to end; shards whose leader changed since the last rebuild. */
  const leadershipWaits = new LeadershipWaits();
  const leadersChanged = new Set<string>();
  const onLeaderChange = (shardId: string): void => {
    leadersChanged.add(shardId);
    if (viewRebuildScheduled) return;
    viewRebuildScheduled = true;
    setImmediate(() => {
      viewRebuildScheduled = false;
      rebuildView();
      // A leader stepping down knows no leader for a moment: the waits go on until one is known.
      for (const changed of leadersChanged) if (groups?.leaderOf(changed) !== null) leadershipWaits.changed(changed);
      leadersChanged.clear();
      // Tells the pilot at once when this node gains a shard's leadership, so other nodes redirect to it.
      if (groups !== undefined && groups.leaders().length > 0) heartbeatNow?.();
    });
  };

  const startGroups = async (): Promise<void> => {
    if (groups !== undefined || selfId === undefined) return;
    groups = await ShardGroups.start({
      store,
      selfId,
      host: options.host,
      busPort: options.busPort,
      clusterSecret: options.clusterSecret,
      logger,
      tickMs: options.raftTickMs,
      electionTimeoutMs: options.electionTimeoutMs,
      onLeaderChange,
      onRefused: (shardId) => metrics.refusedReplicas.labels(shardId).inc(),
      splits: {
        buffer: splitBuffer,
        report: (report) => pilot.reportSplit(report).catch((err: unknown) => {
          logger.warn({ err, task: report.task_id }, 'split report not delivered');
          return undefined;
        }),
        movedToTarget: (targetShard, slot) => splitRouting.movedTo(targetShard, slot),
        observer: {
          snapshotBytesSent: (bytes) => metrics.splitSnapshotBytes.inc(bytes),
          catchUpDelay: (sourceShard, delay) => metrics.splitCatchUpDelay(sourceShard, delay),
        },
      },
      serveForwarded: async (argv, protocol) => {
        try {
          return await dispatcher.dispatchForwarded(argv, protocol);
        } catch (err) {
          // A bug, not bad input: the sending node answers its client, this node serves on.
          logger.error({ err, command: argv[0]?.toString() }, 'forwarded command failed');
          return error('ERR internal error');
        }
      },
    });
    groups.sync(view);
    rebuildView();
  };

  const applyRouting = (next: RoutingTable): void => {
    if (next.version <= table.version) return;
    table = next;
    // Disk trouble: the table applies in memory all the same, and a restarted node gets it from the pilot.
    store.putMeta('routing', next).catch((err: unknown) => logger.error({ version: next.version, err }, 'storing the routing table failed'));
    rebuildView();
    groups?.sync(view);
    logger.info({ version: next.version, led: view.ledShards().map((s) => s.id) }, 'routing table updated');
  };

  const ledReplicas = (): ShardReplica[] => {
    const out: ShardReplica[] = [];
    for (const shard of view.ledShards()) {
      const replica = groups?.replicas.get(shard.id);
      if (replica !== undefined) out.push(replica);
    }
    return out;
  };

  const notRunning = (): Promise<never> => Promise.reject(new Error('shard replicas are not running yet'));
  const splitRouting = new SplitRouting({
    routing: () => view,
    replica: (shardId) => groups?.replicas.get(shardId),
    buffer: splitBuffer,
    now: () => Date.now(),
    splitTargetLeader: (shardId) => groups?.splitTargetLeader(shardId),
  });
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
    ledReplicas,
    clusterId: () => (selfId === undefined ? undefined : view.node(selfId)?.clusterId) ?? NO_CLUSTER_ID,
    replica: (shardId) => groups?.replicas.get(shardId),
    write: (shardId, argv, nowMs) => groups?.write(shardId, argv, nowMs) ?? notRunning(),
    readBarrier: (shardId) => groups?.readBarrier(shardId) ?? notRunning(),
    splitTargetOwning: (slot) => splitRouting.splitTargetOwning(slot),
    holdWrite: (shardId, slot) => splitRouting.holdWrite(shardId, slot),
    movedAway: (shardId, slot) => splitRouting.movedAway(shardId, slot),
    forward: (node, argv, protocol) => groups?.forward(node, argv, protocol) ?? Promise.resolve({ kind: 'not-sent' }),
    routingChangedAtMs: () => routingChangedAtMs,
    // Raft gives up a transfer after an election timeout; the wait is bounded a little beyond.
    leaderSettled: (shardId) => leadershipWaits.wait(shardId, 2 * options.electionTimeoutMs),
    leaderSilent: (shardId) => groups?.leaderSilent(shardId) ?? false,
    settled: () => store.commitAll(),
    debugFaults: () => (options.enableDebugCommand === true ? groups?.faults : undefined),
    flushLed: async () => {
      const known = groups;
      if (known === undefined) return 'flushed';
      const ledTargets = view.splitTargets.filter((t) => known.isLeader(t.id)).map((t) => t.id);
      const plan = flushPlan(view.ledShards().map((s) => s.id), ledTargets, (id) => known.replicas.get(id)?.splitState() ?? null);
      if (plan === 'switching') return plan;
      const nowMs = Date.now();
      await Promise.all(plan.map((id) => known.flush(id, nowMs)));
      return 'flushed';
    },
  };
  const dispatcher = new CommandDispatcher(target, metrics);
  metrics.trackShards(() => [...(groups?.replicas.values() ?? [])].map((r) => ({ id: r.id, keys: r.data.keyCount, bytes: r.data.byteCount })));
  metrics.trackBus(() => groups?.busCounters);

  const server: Server = createServer((socket) => serveClient(socket));
  const serveClient = (socket: Socket): void => {
    if (connections.size >= CLIENTS_MAX) {
      // As Redis's maxclients: say why, then close.
      socket.end('-ERR max number of clients reached\r\n');
      return;
    }
    socket.setNoDelay(true);
    const parser = new RespParser({ maxBulkBytes: options.maxBulkBytes });
    /** What this connection's parser held when last counted into `clientInputBytes`. */
    let inputBytes = 0;
    const countInput = (): void => {
      const held = parser.bufferedBytes;
      clientInputBytes += held - inputBytes;
      inputBytes = held;
    };
    const writer = new ReplyWriter();
    const id = nextConnectionId++;
    const conn = new ClientConnection(id, socket, options.requirepass !== undefined, Date.now(), (reply, protocol) => writer.write(reply, protocol));
    parser.authenticated = conn.authenticated;
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
          conn.requestsBehind = parser.bufferedBytes > 0;
          let result: Reply | Promise<Reply>;
          try {
            result = dispatcher.dispatch(conn, argv);
          } catch (err) {
            // A bug, not bad input: answer this request, keep the node up for everyone else.
            logger.error({ err, command: argv[0]?.toString() }, 'command failed');
            result = error('ERR internal error');
          }
          conn.reply(result);
          parser.authenticated = conn.authenticated;
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
        countInput();
        if (writer.pendingBytes > 0) flush();
      }
    };
    conn.onDrained = flush;
    socket.on('drain', flush);
    socket.on('data', (chunk: Buffer) => {
      if (conn.closing) return;
      parser.feed(chunk);
      pump();
      countInput();
      if (clientInputBytes > clientInputBytesMax && !conn.closing) {
        logger.warn({ client: id, held_bytes: inputBytes, all_clients_bytes: clientInputBytes }, 'client input buffers full: closing the connection');
        conn.reply(CLIENT_INPUT_FULL);
        conn.closing = true;
      }
      flush();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      parser.release();
      countInput();
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
        if (err instanceof UsageError) throw err;
        logger.warn({ err: (err as Error).message }, `${what} failed; retrying`);
        await sleep(delayMs);
        delayMs = Math.min(delayMs * 2, PILOT_RETRY_MS_MAX);
      }
    }
    return undefined;
  };

  /**
   * Joins the pilot. A refusal that retrying cannot change (the node's data belongs to another cluster, or
   * its id to another address) stops a starting node with the pilot's words; a running node says it and
   * asks again only every JOIN_REFUSED_RETRY_MS, in case the operator restores the pilot.
   */
  const joinOnce = async (starting: boolean): Promise<void> => {
    let incarnation = store.getMeta('cluster_incarnation') as string | undefined;
    const request = (): Promise<JoinResponse> =>
      pilot.join({
        ...(selfId === undefined ? {} : { node_id: selfId }),
        ...(incarnation === undefined ? {} : { cluster_incarnation: incarnation }),
        host: options.host,
        port: options.port,
        bus_port: options.busPort,
        metrics_port: options.metricsPort,
        pid: process.pid,
      });
    const response = await untilSuccess('join', async () => {
      try {
        return await request();
      } catch (err) {
        const refusal = err instanceof PilotError && err.status === 409 ? err.refusal : undefined;
        if (refusal === undefined) throw err;
        if (starting) throw new UsageError(`the pilot refused this node: ${refusal}`);
        logger.error({ refusal }, 'the pilot refused this node');
        await sleep(JOIN_REFUSED_RETRY_MS);
        throw err;
      }
    });
    if (response === undefined) return;
    if (selfId !== response.node_id) {
      selfId = response.node_id;
      await store.putMeta('node_id', selfId);
      rebuildView();
    }
    if (response.cluster_incarnation !== undefined && response.cluster_incarnation !== incarnation) {
      incarnation = response.cluster_incarnation;
      await store.putMeta('cluster_incarnation', incarnation);
    }
    logger.info({ nodeId: selfId }, 'joined the pilot');
    await startGroups();
    applyRouting(response.routing);
  };
  // Active expiry, as Redis's cycle: each led shard walks its expiry index 20 keys at a time and keeps
  // going while a quarter or more of a batch was due, within a time budget per cycle. The deletes go
  // through the log, proposed by the leader, so every replica deletes the same keys.
  const expiryCursors = new Map<string, { slot: number; key: Buffer } | undefined>();
  const expiryTimer = setInterval(() => {
    const startedAtMs = Date.now();
    // A write held by a split longer than its buffer timeout is answered: never applied, the client retries.
    splitBuffer.expire(startedAtMs, SPLIT_TRYAGAIN);
    for (const shard of view.ledShards()) {
      const replica = groups?.replicas.get(shard.id);
      if (replica === undefined) continue;
      const due: Buffer[] = [];
      for (;;) {
        const nowMs = replica.readNowMs(Date.now());
        const batch = replica.data.scanExpiring(expiryCursors.get(shard.id), EXPIRY_KEYS_PER_CYCLE);
        let dueInBatch = 0;
        for (const entry of batch) {
          if (entry.expireAtMs <= nowMs) {
            due.push(entry.key);
            dueInBatch++;
          }
        }
        expiryCursors.set(shard.id, batch.length < EXPIRY_KEYS_PER_CYCLE ? undefined : batch[batch.length - 1]);
        if (batch.length < EXPIRY_KEYS_PER_CYCLE || dueInBatch * 4 < batch.length || Date.now() - startedAtMs >= EXPIRY_CYCLE_BUDGET_MS) break;
      }
      groups!.expire(shard.id, Date.now(), due);
    }
  }, EXPIRY_CYCLE_MS);

  // One join at a time: every heartbeat refused while the pilot does not know us would start another.
  let joining: Promise<void> | undefined;
  const join = (starting = false): Promise<void> => (joining ??= joinOnce(starting).finally(() => (joining = undefined)));
  let heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  /** Stops everything started so far: on close, or when the pilot refuses the node at its start. */
  const shutdown = async (): Promise<void> => {
    closed = true;
    clearInterval(heartbeatTimer);
    clearInterval(expiryTimer);
    splitBuffer.releaseAll(Date.now(), SPLIT_TRYAGAIN);
    for (const conn of connections.values()) conn.socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (metricsServer !== undefined) await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
    await groups?.close();
    await store.close();
    dataDirLock.release();
  };
  await startGroups();
  try {
    await join(true);
  } catch (err) {
    await shutdown();
    throw err;
  }

  const shardStats = (intervalMs: number): ShardStats[] => {
    const out: ShardStats[] = [];
    let ops = 0;
    for (const replica of groups?.replicas.values() ?? []) {
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

  function heartbeat(): void {
    if (selfId === undefined) return;
    pilot
      .heartbeat({
        node_id: selfId,
        pid: process.pid,
        routing_version: table.version,
        shards: shardStats(options.heartbeatIntervalMs),
        leaders: groups?.leaders() ?? [],
      })
      .then((response) => {
        if (response.routing !== undefined) applyRouting(response.routing);
      })
      .catch((err: unknown) => {
        // The pilot forgot us (its data was reset): join again to get an id and a place.
        // The next heartbeat the pilot refuses starts another join: a failed one is told and left.
        if (err instanceof PilotError && err.status === 404) join().catch((joinErr: unknown) => logger.error({ err: joinErr }, 'joining the pilot again failed'));
        else logger.warn({ err: (err as Error).message }, 'heartbeat failed');
      });
  }
  heartbeatTimer = setInterval(heartbeat, options.heartbeatIntervalMs);
  heartbeatNow = heartbeat;

  // The long poll delivers a new routing version as soon as the pilot commits it.
  const followRouting = async (): Promise<void> => {
    while (!closed) {
      const next = await untilSuccess('routing poll', () => pilot.waitForRouting(table.version, ROUTING_POLL_WAIT_MS));
      if (next === undefined) continue;
      try {
        applyRouting(next);
      } catch (err) {
        // The node serves on with what it runs, and the poll follows newer tables.
        logger.error({ version: next.version, err }, 'applying the routing table failed');
      }
    }
  };
  void followRouting();


  logger.info({ host: options.host, port: options.port, nodeId: selfId }, 'node serving');
  return {
    port: (server.address() as { port: number }).port,
    nodeId: () => selfId,
    close: shutdown,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

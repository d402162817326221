/**
 * A data node: serves RESP to clients, hosts shard replicas in one LMDB environment, joins the pilot,
 * heartbeats its shards' statistics and follows the routing table the pilot publishes.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { JoinResponse } from '../common/protocol.js';
import { UsageError } from '../common/errors.js';
import { systemEnvironment } from '../common/environment.js';
import { createLogger, type Logger } from '../common/logger.js';
import { lockDataDir } from '../common/data-dir-lock.js';
import { isNodeId } from '../multiraft/peer-message.js';
import { ProtocolError, RespParser } from '../resp/parser.js';
import { ReplyWriter } from '../resp/writer.js';
import { error, type Reply } from '../resp/reply.js';
import { NodeStore } from '../storage/node-store.js';
import { Transport } from '../transport/transport.js';
import { ClientConnection } from './client-connection.js';
import { NodeCore } from './node-core.js';
import { NodeMetrics } from './node-metrics.js';
import { PilotClient, PilotError } from './pilot-client.js';
import { BUS_REQUESTS_OUTSTANDING_MAX } from './shard-groups.js';

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
const ROUTING_POLL_WAIT_MS = 25_000;
const PILOT_RETRY_MS_MAX = 2_000;
/** How often a running node the pilot refused asks again (the operator may restore the pilot's data). */
const JOIN_REFUSED_RETRY_MS = 30_000;

export async function startNode(options: NodeOptions): Promise<RunningNode> {
  if (options.clusterSecret === '')
    throw new UsageError('a node needs a cluster secret (CLEAVE_CLUSTER_SECRET or --cluster-secret-file): the pilot and the other nodes ask for it');
  const logger = options.logger ?? createLogger('node', { port: options.port });
  const env = systemEnvironment();
  const dataDirLock = lockDataDir(options.dataDir);
  const store = NodeStore.open(options.dataDir);
  const pilot = new PilotClient(options.pilotUrl, options.clusterSecret);
  const metrics = new NodeMetrics();
  let transport: Transport | undefined;
  /** Set once the heartbeat is ready to send (after the first join). */
  let heartbeatNow: (() => void) | undefined;
  let heartbeatScheduled = false;
  const core = new NodeCore(
    {
      host: options.host,
      port: options.port,
      requirepass: options.requirepass,
      logger,
      tickMs: options.raftTickMs,
      electionTimeoutMs: options.electionTimeoutMs,
      reportSplit: (report) =>
        pilot.reportSplit(report).catch((err: unknown) => {
          logger.warn({ err, task: report.task_id }, 'split report not delivered');
          return undefined;
        }),
      // Tells the pilot at once when this node gains a shard's leadership, so other nodes redirect to it.
      onLeaderChange: () => {
        if (heartbeatScheduled) return;
        heartbeatScheduled = true;
        setImmediate(() => {
          heartbeatScheduled = false;
          if (core.groups !== undefined && core.groups.leaders().length > 0) heartbeatNow?.();
        });
      },
      debugFaults: () => (options.enableDebugCommand === true ? transport?.faults : undefined),
    },
    env,
    store,
    metrics,
  );
  const { dispatcher, connections, stats } = core;
  metrics.trackSplitBuffer(() => core.splitBuffer.countAll());
  let closed = false;
  let nextConnectionId = 1;
  const clientInputBytesMax = options.clientInputBytesMax ?? CLIENT_INPUT_BYTES_MAX_DEFAULT;
  /** Bytes held by every connection's parser, summed as each connection's holding changes. */
  let clientInputBytes = 0;

  /** Starts the bus and the shard groups once the node has an id. */
  const startGroups = async (): Promise<void> => {
    const selfId = core.selfId;
    if (transport !== undefined || selfId === undefined) return;
    const bus = new Transport({
      nodeId: selfId,
      clusterSecret: options.clusterSecret,
      isNodeId,
      requestsOutstandingMax: BUS_REQUESTS_OUTSTANDING_MAX,
      onUnreachable: (peer) => core.groups?.reportUnreachable(peer),
    });
    transport = bus;
    await bus.listen(options.host, options.busPort);
    core.start(bus);
  };

  metrics.trackShards(() => [...(core.groups?.replicas.values() ?? [])].map((r) => ({ id: r.id, keys: r.data.keyCount, bytes: r.data.byteCount })));
  metrics.trackBus(() => transport?.counters);

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
    const selfId = core.selfId;
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
    await core.setSelfId(response.node_id);
    if (response.cluster_incarnation !== undefined && response.cluster_incarnation !== incarnation) {
      incarnation = response.cluster_incarnation;
      await store.putMeta('cluster_incarnation', incarnation);
    }
    logger.info({ nodeId: core.selfId }, 'joined the pilot');
    await startGroups();
    core.applyRouting(response.routing);
  };
  // One join at a time: every heartbeat refused while the pilot does not know us would start another.
  let joining: Promise<void> | undefined;
  const join = (starting = false): Promise<void> => (joining ??= joinOnce(starting).finally(() => (joining = undefined)));
  let heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  /** Stops everything started so far: on close, or when the pilot refuses the node at its start. */
  const shutdown = async (): Promise<void> => {
    closed = true;
    clearInterval(heartbeatTimer);
    core.close();
    for (const conn of connections.values()) conn.socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (metricsServer !== undefined) await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
    await transport?.close();
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

  function heartbeat(): void {
    const selfId = core.selfId;
    if (selfId === undefined) return;
    pilot
      .heartbeat({
        node_id: selfId,
        pid: process.pid,
        routing_version: core.routingVersion,
        shards: core.shardStats(options.heartbeatIntervalMs),
        leaders: core.groups?.leaders() ?? [],
      })
      .then((response) => {
        if (response.routing !== undefined) core.applyRouting(response.routing);
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
      const next = await untilSuccess('routing poll', () => pilot.waitForRouting(core.routingVersion, ROUTING_POLL_WAIT_MS));
      if (next === undefined) continue;
      try {
        core.applyRouting(next);
      } catch (err) {
        // The node serves on with what it runs, and the poll follows newer tables.
        logger.error({ version: next.version, err }, 'applying the routing table failed');
      }
    }
  };
  void followRouting();

  logger.info({ host: options.host, port: options.port, nodeId: core.selfId }, 'node serving');
  return {
    port: (server.address() as { port: number }).port,
    nodeId: () => core.selfId,
    close: shutdown,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

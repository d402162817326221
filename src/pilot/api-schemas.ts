/**
 * The zod schemas of the pilot's HTTP API: request validation, response types and the OpenAPI document all
 * come from here. Every schema that is a whole request or response body is registered in `apiSchemas` under
 * the name the OpenAPI document gives it.
 */
import { z } from 'zod/v4';
import type { HeartbeatRequest, HeartbeatResponse, JoinRequest, JoinResponse, ShardStats } from '../common/protocol.js';
import type { RoutingTable } from '../common/routing.js';
import { SPLIT_STATUSES } from '../split/phases.js';
import { PILOT_EVENTS_MAX, type PilotEvent } from './event-log.js';
import { ROUTING_WAIT_MS_MAX } from './routing-waiters.js';

/** Named schemas: the `components/schemas` of the OpenAPI document. */
export const apiSchemas = z.registry<{ id: string }>();

/** Shard reports in one heartbeat: far above any sane shards-per-node count, and still under the body limit. */
export const HEARTBEAT_SHARDS_MAX = 8192;
const HOST_LENGTH_MAX = 255;
const ID_LENGTH_MAX = 64;

const port = z.number().int().min(1).max(65535);
const count = z.number().int().min(0);
const nodeId = z.string().min(1).max(ID_LENGTH_MAX);

/** The body of every error answer. */
export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.enum([
        'invalid_request',
        'unauthorized',
        'forbidden',
        'not_found',
        'method_not_allowed',
        'conflict',
        'payload_too_large',
        'unsupported_media_type',
        'header_fields_too_large',
        'overloaded',
        'not_leader',
        'no_leader',
        'unavailable',
        'internal',
      ]),
      message: z.string(),
      field: z.string().optional().describe('The offending input, e.g. `body.port` or `query.wait_ms`.'),
    }),
    leader: z
      .string()
      .nullable()
      .optional()
      .describe('With `not_leader` (421): the URL of the pilot replica that leads, to send the request to instead. With `no_leader` (503): null, an election is under way.'),
  })
  .register(apiSchemas, { id: 'Error' });
/** An error answer's body. */
export type ErrorBody = z.infer<typeof errorBodySchema>;
/** The closed set of error codes. */
export type ApiErrorCode = ErrorBody['error']['code'];

const keyspaceSchema = z.object({
  name: z.string(),
  kind: z.enum(['hash']),
  shard_count: count,
  created_at_ms: count,
});

/** `GET /api/v1/cluster`. */
export const clusterSchema = z
  .object({
    state: z.enum(['bootstrapping', 'ok', 'degraded']).describe('`bootstrapping` until the default keyspace exists, `degraded` while a node is down.'),
    routing_version: count,
    nodes: z.object({ total: count, up: count, down: count }),
    shards: z.object({ total: count }),
    keyspaces: z.array(keyspaceSchema),
  })
  .register(apiSchemas, { id: 'Cluster' });
/** The cluster summary. */
export type ClusterView = z.infer<typeof clusterSchema>;

/** One node, as `GET /api/v1/nodes/{id}` shows it. */
export const nodeSchema = z
  .object({
    id: z.string(),
    cluster_id: z.string().describe('40 hex characters: the node id Redis Cluster clients see.'),
    pid: count,
    address: z.string().describe('`host:port` clients connect to.'),
    bus_port: port,
    metrics_port: z.number().int().min(0).max(65535),
    state: z.enum(['up', 'down']),
    shard_count: count.describe('Shard replicas on this node, leaders included.'),
    leader_count: count,
    last_heartbeat_ms_ago: count.nullable().describe('null when the node has not been heard from since the pilot started.'),
    registered_at_ms: count,
    joined_at_ms: count,
  })
  .register(apiSchemas, { id: 'Node' });
/** One node's view. */
export type NodeView = z.infer<typeof nodeSchema>;

/** `GET /api/v1/nodes`. */
export const nodeListSchema = z.object({ nodes: z.array(nodeSchema) }).register(apiSchemas, { id: 'NodeList' });

/** One shard, as `GET /api/v1/shards/{id}` shows it. */
export const shardSchema = z
  .object({
    id: z.string(),
    keyspace: z.string(),
    slot_range: z.object({ start: count, end: count.describe('Exclusive.') }),
    slots: z.string().describe('Redis-style inclusive range, e.g. `0-2730`.'),
    epoch: count.describe('Bumped whenever the range or the desired replicas change.'),
    leader: z.string().nullable().describe('The node last reported leading the shard (the Redis master); null while none is known.'),
    leader_term: count.describe('Raft term in which `leader` was reported leading; 0 for the leader placed at creation.'),
    replicas: z.array(z.string()).describe('The desired replicas, the leader included; the leader moves the Raft group to them one change at a time.'),
    replica_ids: z.record(z.string(), count).describe("Each replica's Raft replica id, by node: its node's number for a founding replica, a new id each time the node is added."),
    followers: z.array(z.string()).describe('`replicas` without the leader.'),
    transfer_to: z.string().optional().describe('Present while the leader is asked to hand leadership to this replica.'),
    keys: count,
    bytes: count,
    ops_per_sec: z.number().min(0),
    last_access_ms: count.describe('Unix time of the last command served, 0 if none.'),
    stats_age_ms: count.nullable().describe('Age of the statistics above; null while no replica has reported the shard.'),
  })
  .register(apiSchemas, { id: 'Shard' });
/** One shard's view. */
export type ShardView = z.infer<typeof shardSchema>;

/** `GET /api/v1/shards`. */
export const shardListSchema = z.object({ shards: z.array(shardSchema) }).register(apiSchemas, { id: 'ShardList' });

/** What `POST /api/v1/shards/{id}/replicas` asks of a shard. */
export const SHARD_REPLICA_ACTIONS = ['add', 'remove', 'transfer_leader'] as const;

/** Body of `POST /api/v1/shards/{id}/replicas`. */
export const shardReplicasRequestSchema = z
  .object({
    action: z.enum(SHARD_REPLICA_ACTIONS).describe('`add` or `remove` a desired replica, or `transfer_leader` to one of the replicas.'),
    node_id: nodeId.describe('The node to add, remove or hand leadership to.'),
    epoch: count.optional().describe('The shard epoch the caller saw; a shard at another epoch refuses with 409.'),
  })
  .register(apiSchemas, { id: 'ShardReplicasRequest' });
/** A validated replica change request. */
export type ShardReplicasRequest = z.infer<typeof shardReplicasRequestSchema>;

/** Answer (202) of `POST /api/v1/shards/{id}/replicas`: the shard as changed. */
export const shardChangeAcceptedSchema = z
  .object({
    ...shardSchema.shape,
    pending: z.literal(true).describe('The nodes have yet to carry the change out: watch `leader` and `replicas` of the shard.'),
  })
  .register(apiSchemas, { id: 'ShardChangeAccepted' });

/** The parameters of a split (seed 000's, and its deadlines). */
export const splitParamsSchema = z
  .object({
    catchUpThreshold: count,
    bufferTimeoutMs: count,
    bufferMaxSize: count,
    progressIntervalMs: count,
    snapshotChunkBytes: count,
    catchUpDeadlineMs: count,
    catchUpSlowDelay: count,
    targetTimeoutMs: count,
  })
  .register(apiSchemas, { id: 'SplitParams' });

/** The marker a splitting shard carries in the routing table (`RoutingSplit` of common/routing). */
const splitMarkerSchema = z.object({
  taskId: z.string(),
  role: z.enum(['source', 'target']),
  peer: z.string(),
  splitSlot: count.nullable(),
  params: splitParamsSchema,
  cancelRequested: z.boolean().optional(),
});

/** The routing table (`RoutingTable` of common/routing). */
export const routingTableSchema = z
  .object({
    version: count,
    nodes: z.array(z.object({ id: z.string(), clusterId: z.string(), host: z.string(), port, busPort: port })),
    shards: z.array(
      z.object({
        id: z.string(),
        keyspace: z.string(),
        start: count,
        end: count,
        epoch: count,
        leader: z.string().nullable(),
        replicas: z.array(z.string()),
        replicaIds: z.record(z.string(), count).optional(),
        leaderTerm: count.optional(),
        transferTo: z.string().optional(),
        split: splitMarkerSchema.optional(),
      }),
    ),
  })
  .register(apiSchemas, { id: 'RoutingTable' }) satisfies z.ZodType<RoutingTable>;

/** Body of `POST /api/v1/internal/join`. */
export const joinRequestSchema = z
  .object({
    node_id: nodeId.optional().describe('The id from an earlier join; absent on the first start.'),
    host: z.string().min(1).max(HOST_LENGTH_MAX),
    port,
    bus_port: port,
    metrics_port: z.number().int().min(0).max(65535),
    pid: z.number().int().min(1),
    cluster_incarnation: z
      .string()
      .regex(/^[0-9a-f]{40}$/)
      .optional()
      .describe('The cluster the node belongs to, from an earlier join.'),
  })
  .register(apiSchemas, { id: 'JoinRequest' }) satisfies z.ZodType<JoinRequest>;

/** Answer of `POST /api/v1/internal/join`. */
export const joinResponseSchema = z
  .object({ node_id: z.string(), routing: routingTableSchema, cluster_incarnation: z.string().optional() })
  .register(apiSchemas, { id: 'JoinResponse' }) satisfies z.ZodType<JoinResponse>;

const shardStatsSchema = z.object({
  shard_id: z.string().min(1).max(ID_LENGTH_MAX),
  keys: count,
  bytes: count,
  ops_per_sec: z.number().min(0),
  last_access_ms: count,
}) satisfies z.ZodType<ShardStats>;

/** Body of `POST /api/v1/internal/heartbeat`. */
export const heartbeatRequestSchema = z
  .object({
    node_id: nodeId,
    pid: z.number().int().min(1),
    routing_version: count,
    shards: z.array(shardStatsSchema).max(HEARTBEAT_SHARDS_MAX),
    leaders: z
      .array(z.object({ shard_id: z.string().min(1).max(ID_LENGTH_MAX), term: count }))
      .max(HEARTBEAT_SHARDS_MAX)
      .optional()
      .describe('Shards this node leads, with the Raft term of its leadership.'),
  })
  .register(apiSchemas, { id: 'HeartbeatRequest' }) satisfies z.ZodType<HeartbeatRequest>;

/** Answer of `POST /api/v1/internal/heartbeat`. */
export const heartbeatResponseSchema = z
  .object({ routing: routingTableSchema.optional().describe("Present when the node's routing version is older.") })
  .register(apiSchemas, { id: 'HeartbeatResponse' }) satisfies z.ZodType<HeartbeatResponse>;

/** Path parameters of the `/{id}` routes. */
export const idParamsSchema = z.object({ id: z.string().min(1).max(ID_LENGTH_MAX) });

/** `POST /api/v1/shards/{id}/split`: every field optional (seed 000's TriggerSplit). */
export const splitRequestSchema = z
  .object({
    split_slot: z.number().int().min(1).max(16383).optional().describe("The first slot that moves to the new shard; default: the slot that halves the shard's bytes."),
    target_shard_id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .optional()
      .describe('Id of the new shard; default: the next shard_NNNN.'),
    target_nodes: z
      .array(nodeId)
      .min(1)
      .max(7)
      .optional()
      .describe("Nodes for the new shard's replicas, the first its first leader; default: the least loaded, as many as the source has replicas."),
  })
  .strict()
  .register(apiSchemas, { id: 'SplitRequest' });

/** Answer (202) of `POST /api/v1/shards/{id}/split`. */
export const splitCreatedSchema = z
  .object({ split_task_id: z.string(), source_shard: z.string(), target_shard: z.string(), status: z.literal('preparing') })
  .register(apiSchemas, { id: 'SplitCreated' });

/** Seed 000's SplitProgress, as the source's leader last reported it. */
export const splitProgressSchema = z
  .object({
    snapshot_done: z.boolean(),
    snapshot_index: count,
    snapshot_bytes_sent: count,
    snapshot_bytes_total: count,
    source_last_index: count,
    target_applied_index: count,
    delay: count,
    buffered_requests: count,
    eta_seconds: z.number().min(0).nullable(),
  })
  .register(apiSchemas, { id: 'SplitProgress' });

/** A split task. */
export const splitTaskSchema = z
  .object({
    task_id: z.string(),
    source_shard: z.string(),
    target_shard: z.string(),
    split_slot: count.nullable().describe("Null until the source's leader has chosen it."),
    target_nodes: z.array(z.string()),
    status: z.enum(SPLIT_STATUSES),
    reason: z.string().nullable().describe('Why it failed.'),
    cancel_requested: z.boolean(),
    created_at_ms: count,
    updated_at_ms: count,
    phases: z.record(z.string(), count).describe('When each status was reached (Unix ms).'),
    progress: splitProgressSchema.nullable().describe("Null until the source's leader has reported."),
    params: splitParamsSchema,
  })
  .register(apiSchemas, { id: 'SplitTask' });

/** A split task as the API shows it. */
export type SplitTaskView = z.infer<typeof splitTaskSchema>;

export const splitListSchema = z.object({ splits: z.array(splitTaskSchema).describe('Newest first.') }).register(apiSchemas, { id: 'SplitList' });

export const taskIdParamsSchema = z.object({ task_id: z.string().min(1).max(ID_LENGTH_MAX) });

/** Body of `POST /api/v1/internal/splits/{task_id}/report` (`SplitReport` of split/types). */
export const splitReportSchema = z
  .object({
    task_id: z.string().min(1).max(ID_LENGTH_MAX),
    node_id: nodeId,
    term: count,
    status: z.enum(SPLIT_STATUSES),
    split_slot: z.number().int().min(1).max(16383).optional(),
    reason: z.string().max(1000).optional(),
    progress: splitProgressSchema,
  })
  .register(apiSchemas, { id: 'SplitReport' });

export const splitReportResponseSchema = z.object({ status: z.enum(SPLIT_STATUSES), cancel_requested: z.boolean() }).register(apiSchemas, { id: 'SplitReportResponse' });

/** Query of the routing long poll. */
export const routingPollQuerySchema = z.object({
  after: z.coerce.number().int().min(0).optional().describe('The routing version the caller has; absent: answer at once.'),
  wait_ms: z.coerce.number().int().min(0).max(ROUTING_WAIT_MS_MAX).default(ROUTING_WAIT_MS_MAX).describe('Longest wait for a newer version.'),
});

/** Events one `GET /api/v1/events` answers with when the caller sets no `limit`. */
const EVENTS_LIMIT_DEFAULT = 1000;

const eventBase = {
  seq: count.describe('Numbers the events of one pilot process from 1; a tie-breaker for events of the same millisecond.'),
  at_ms: count.describe('Unix time in milliseconds when the pilot recorded the event.'),
};
const eventAddress = z.string().describe('`host:port` clients connect to.');

/** One cluster event (`PilotEvent` of event-log.ts), discriminated by `kind`; the OpenAPI document follows. */
export const pilotEventSchema = z
  .discriminatedUnion('kind', [
    z.object({ ...eventBase, kind: z.literal('node-registered'), node_id: z.string(), address: eventAddress }),
    z.object({ ...eventBase, kind: z.literal('node-rejoined'), node_id: z.string(), address: eventAddress, pid: count }),
    z.object({ ...eventBase, kind: z.literal('node-up'), node_id: z.string() }),
    z.object({ ...eventBase, kind: z.literal('node-down'), node_id: z.string(), timeout_ms: count.describe('Silence after which the node counted as down.') }),
    z.object({ ...eventBase, kind: z.literal('keyspace-bootstrapped'), keyspace: z.string(), shard_count: count }),
    z.object({
      ...eventBase,
      kind: z.literal('routing-version-changed'),
      routing_version: count,
      previous_version: count,
      cause: z.string().describe('The kind of the pilot command that changed the routing table, e.g. `register-node`.'),
    }),
    z.object({
      ...eventBase,
      kind: z.literal('shard-leader-changed'),
      shard_id: z.string(),
      from: z.string().nullable().describe('The leader recorded before; null if none was.'),
      to: z.string(),
      term: count.describe('Raft term of the new leader.'),
    }),
    z.object({
      ...eventBase,
      kind: z.literal('shard-replicas-changed'),
      shard_id: z.string(),
      action: z.enum(['add', 'remove']),
      node_id: z.string(),
      replicas: z.array(z.string()).describe('The desired replicas after the change.'),
      epoch: count.describe('The shard epoch after the change.'),
    }),
    z.object({ ...eventBase, kind: z.literal('shard-leader-transfer-requested'), shard_id: z.string(), node_id: z.string().describe('The replica to lead next.') }),
    z.object({
      ...eventBase,
      kind: z.literal('scheduler-operator'),
      scheduler: z.enum(['repair', 'drain', 'size-split', 'load-split', 'merge', 'replica-rebalance', 'leader-rebalance']).describe('The scheduler that proposed it.'),
      operator: z.enum(['split', 'merge', 'add-replica', 'remove-replica', 'transfer-leader']),
      shard_id: z.string(),
      node_id: z.string().nullable().describe('The node an add, remove or leadership transfer names; null for a split or merge.'),
      reason: z.string().describe('Why the scheduler proposed it, with the figures.'),
      outcome: z.enum(['executed', 'refused', 'skipped']).describe('Proposed and accepted, refused by the pilot (a stale epoch, say), or not carried out (merges cannot be yet).'),
      detail: z.string().nullable().describe('The refusal or skip message, or the split task id.'),
    }),
    z.object({
      ...eventBase,
      kind: z.literal('split-status-changed'),
      task_id: z.string(),
      source_shard: z.string(),
      target_shard: z.string(),
      status: z.enum(SPLIT_STATUSES),
      reason: z.string().nullable().describe('Why it failed, with status failed.'),
    }),
  ])
  .register(apiSchemas, { id: 'PilotEvent' }) satisfies z.ZodType<PilotEvent>;

/** `GET /api/v1/events`. */
export const pilotEventListSchema = z
  .object({
    events: z.array(pilotEventSchema).describe('Oldest first, newest last.'),
    truncated: z.boolean().describe('True when older events matching `since` were left out to honour `limit`.'),
  })
  .register(apiSchemas, { id: 'PilotEventList' });
/** The answer of `GET /api/v1/events`. */
export type PilotEventList = z.infer<typeof pilotEventListSchema>;

/** Query of `GET /api/v1/events`. */
export const pilotEventsQuerySchema = z.object({
  since: z.coerce.number().int().min(0).default(0).describe('Only events recorded at or after this Unix time in milliseconds.'),
  limit: z.coerce.number().int().min(1).max(PILOT_EVENTS_MAX).default(EVENTS_LIMIT_DEFAULT).describe('At most this many events: the newest of those matching `since`.'),
});

const pilotRoleSchema = z.enum(['leader', 'follower', 'candidate', 'pre-candidate']);

/** `GET /api/v1/pilot`: the pilot's replicas as the answering replica sees them. */
export const pilotReplicationSchema = z
  .object({
    id: z.string().describe('The replica that answered, e.g. `pilot2`.'),
    role: pilotRoleSchema,
    serving: z.boolean().describe('True on the leader once it has applied everything committed: the replica that takes requests.'),
    leader: z.string().nullable().describe('Id of the leading replica; null while an election is under way.'),
    leader_url: z.string().nullable(),
    term: count.describe('Raft term of the pilot group.'),
    commit_index: count,
    applied_index: count.describe('Last log index whose effects this replica shows.'),
    replicas: z.array(
      z.object({
        id: z.string(),
        url: z.string().describe('HTTP address of the replica.'),
        bus_address: z.string().describe('`host:port` of its Raft bus.'),
        role: z.enum(['leader', 'follower']).nullable().describe('As the answering replica knows it; null while no leader is known.'),
        match_index: count.nullable().describe('Log index known replicated there; only the leader knows, null elsewhere.'),
        recently_active: z.boolean().nullable().describe('Heard from within an election timeout; only the leader knows, null elsewhere.'),
      }),
    ),
  })
  .register(apiSchemas, { id: 'PilotReplication' });
/** The answer of `GET /api/v1/pilot`. */
export type PilotReplicationView = z.infer<typeof pilotReplicationSchema>;

/** `GET /healthz`. */
export const healthSchema = z.object({ status: z.enum(['ok']) }).register(apiSchemas, { id: 'Health' });

/** `GET /api/v1/openapi.json`, described loosely: the document describing itself. */
export const openApiDocumentSchema = z.record(z.string(), z.unknown()).describe('An OpenAPI 3.1 document.').register(apiSchemas, { id: 'OpenApiDocument' });

/** `GET /metrics`. */
export const metricsTextSchema = z.string().describe('Prometheus text exposition format.').register(apiSchemas, { id: 'MetricsText' });

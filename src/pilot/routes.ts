/**
 * The pilot's HTTP routes: the public API for operators (admin token) and the internal API for nodes
 * (cluster secret). Handlers are thin: they call the pilot and shape its answers with the views. Only the
 * serving leader of the pilot replicas answers most routes; health, metrics, the OpenAPI document and the
 * replicas' own view of the group (`/api/v1/pilot`) are answered by every replica.
 */
import { Registry } from 'prom-client';
import type { PilotRejection } from './commands.js';
import { ApiError } from './api-error.js';
import { defineRoute, type RouteDefinition } from './api-route.js';
import {
  clusterSchema,
  healthSchema,
  heartbeatRequestSchema,
  heartbeatResponseSchema,
  idParamsSchema,
  joinRequestSchema,
  joinResponseSchema,
  metricsTextSchema,
  nodeListSchema,
  nodeSchema,
  openApiDocumentSchema,
  pilotEventListSchema,
  pilotReplicationSchema,
  pilotEventsQuerySchema,
  routingPollQuerySchema,
  routingTableSchema,
  shardChangeAcceptedSchema,
  shardListSchema,
  shardReplicasRequestSchema,
  shardSchema,
  splitCreatedSchema,
  splitListSchema,
  splitReportResponseSchema,
  splitReportSchema,
  splitRequestSchema,
  splitTaskSchema,
  taskIdParamsSchema,
} from './api-schemas.js';
import { buildOpenApiDocument } from './openapi.js';
import type { Pilot } from './pilot.js';
import type { PilotMetrics } from './pilot-metrics.js';
import type { DriverRefusal } from './state-driver.js';
import { routingTable } from './state.js';
import { clusterView, nodeView, pilotReplicationView, shardView, splitTaskView } from './views.js';

/** Version of the HTTP API, as the OpenAPI document states it. */
export const API_VERSION = '1.0.0';

/** Every route of the pilot, the OpenAPI document's own route last. */
export function pilotRoutes(pilot: Pilot, metrics: PilotMetrics): RouteDefinition[] {
  const routes: RouteDefinition[] = [
    defineRoute({
      method: 'GET',
      path: '/api/v1/cluster',
      operationId: 'getCluster',
      summary: 'Cluster state, routing version and counts.',
      access: 'admin',
      response: clusterSchema,
      handle: () => clusterView(pilot.state, pilot.liveness, pilot.now()),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/nodes',
      operationId: 'listNodes',
      summary: 'Every registered node with its liveness and shard counts.',
      access: 'admin',
      response: nodeListSchema,
      handle: () => {
        const now = pilot.now();
        return { nodes: pilot.state.nodes.map((n) => nodeView(pilot.state, n, pilot.liveness, now)) };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/nodes/{id}',
      operationId: 'getNode',
      summary: 'One node.',
      access: 'admin',
      params: idParamsSchema,
      response: nodeSchema,
      errorCodes: ['not_found'],
      handle: ({ params }) => {
        const node = pilot.state.nodes.find((n) => n.id === params.id);
        return node === undefined ? new ApiError('not_found', `no node ${params.id}`, 'params.id') : nodeView(pilot.state, node, pilot.liveness, pilot.now());
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/shards',
      operationId: 'listShards',
      summary: 'Every shard with its range, replicas and latest reported statistics.',
      access: 'admin',
      response: shardListSchema,
      handle: () => {
        const now = pilot.now();
        return { shards: pilot.state.shards.map((s) => shardView(s, pilot.liveness, now)) };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/shards/{id}',
      operationId: 'getShard',
      summary: 'One shard.',
      access: 'admin',
      params: idParamsSchema,
      response: shardSchema,
      errorCodes: ['not_found'],
      handle: ({ params }) => {
        const shard = pilot.state.shards.find((s) => s.id === params.id);
        return shard === undefined ? new ApiError('not_found', `no shard ${params.id}`, 'params.id') : shardView(shard, pilot.liveness, pilot.now());
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/shards/{id}/replicas',
      operationId: 'changeShardReplicas',
      summary:
        "Adds or removes one of a shard's desired replicas (bumping its epoch), or asks its leader to hand leadership to a replica. The shard's Raft leader carries the change out one step at a time; the answer (202) is the shard as the routing table now describes it.",
      access: 'admin',
      params: idParamsSchema,
      body: shardReplicasRequestSchema,
      response: shardChangeAcceptedSchema,
      status: 202,
      errorCodes: ['not_found', 'conflict', 'overloaded', 'unavailable'],
      handle: async ({ params, body }) => {
        const answer = await pilot.changeShardReplicas(params.id, body.action, body.node_id, body.epoch);
        if (!answer.ok) return rejectionError(answer);
        return { ...shardView(answer.shard, pilot.liveness, pilot.now()), pending: true as const };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/shards/{id}/split',
      operationId: 'splitShard',
      summary:
        'Splits a shard online: the slots from split_slot on move to a new shard while clients keep reading and writing. Every field is optional. The answer (202) names the split task; follow it at /api/v1/splits/{task_id}.',
      access: 'admin',
      params: idParamsSchema,
      body: splitRequestSchema,
      response: splitCreatedSchema,
      status: 202,
      errorCodes: ['not_found', 'conflict', 'overloaded', 'unavailable'],
      handle: async ({ params, body }) => {
        const task = await pilot.createSplit({
          sourceShard: params.id,
          ...(body.split_slot === undefined ? {} : { splitSlot: body.split_slot }),
          ...(body.target_shard_id === undefined ? {} : { targetShardId: body.target_shard_id }),
          ...(body.target_nodes === undefined ? {} : { targetNodes: body.target_nodes }),
        });
        if ('ok' in task) return task.reason === 'unknown-node' ? new ApiError('invalid_request', task.message, 'body.target_nodes') : rejectionError(task);
        return { split_task_id: task.id, source_shard: task.sourceShard, target_shard: task.targetShard, status: 'preparing' as const };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/splits',
      operationId: 'listSplits',
      summary: 'Split tasks, newest first: every outstanding one and the last finished ones.',
      access: 'admin',
      response: splitListSchema,
      handle: () => ({ splits: [...(pilot.state.splitTasks ?? [])].reverse().map((t) => splitTaskView(t, pilot.splitProgress(t.id))) }),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/splits/{task_id}',
      operationId: 'getSplit',
      summary: 'A split task: its status (with the failure reason), phase times and progress.',
      access: 'admin',
      params: taskIdParamsSchema,
      response: splitTaskSchema,
      errorCodes: ['not_found'],
      handle: ({ params }) => {
        const task = pilot.splitTask(params.task_id);
        return task === undefined ? new ApiError('not_found', `no split task ${params.task_id}`, 'params.task_id') : splitTaskView(task, pilot.splitProgress(task.id));
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/api/v1/splits/{task_id}',
      operationId: 'cancelSplit',
      summary: "Cancels a split before it switches: the source's leader rolls it back. 409 once the switch is logged.",
      access: 'admin',
      params: taskIdParamsSchema,
      response: splitTaskSchema,
      status: 202,
      errorCodes: ['not_found', 'conflict', 'overloaded', 'unavailable'],
      handle: async ({ params }) => {
        const task = await pilot.cancelSplit(params.task_id);
        return 'ok' in task ? rejectionError(task) : splitTaskView(task, pilot.splitProgress(task.id));
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/internal/splits/{task_id}/report',
      operationId: 'reportSplit',
      summary: "A source shard's leader reports a split's phase and progress; answered with the task's recorded status and whether a cancel was asked for.",
      access: 'cluster',
      params: taskIdParamsSchema,
      body: splitReportSchema,
      response: splitReportResponseSchema,
      errorCodes: ['not_found', 'invalid_request', 'overloaded', 'unavailable'],
      handle: async ({ params, body }) => {
        if (body.task_id !== params.task_id) return new ApiError('invalid_request', 'task_id differs from the path', 'body.task_id');
        const answer = await pilot.reportSplit(body);
        return 'ok' in answer ? rejectionError(answer) : answer;
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/routing',
      operationId: 'getRouting',
      summary: 'The current routing table.',
      access: 'admin',
      response: routingTableSchema,
      handle: () => routingTable(pilot.state),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/events',
      operationId: 'listEvents',
      summary:
        'Recent cluster events (nodes registering, rejoining, going down or up; keyspace bootstrap; shard leader and replica changes; routing versions; scheduler operators), newest last.',
      access: 'admin',
      query: pilotEventsQuerySchema,
      response: pilotEventListSchema,
      handle: ({ query }) => pilot.events.since(query.since, query.limit),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/pilot',
      operationId: 'getPilotReplication',
      summary:
        "The pilot's replicas as the answering replica sees them: which one leads, the Raft term, commit and applied index, and on the leader how far each replica has replicated. Every replica answers.",
      access: 'admin',
      replica: 'any',
      response: pilotReplicationSchema,
      handle: () => pilotReplicationView(pilot.replication()),
    }),
    defineRoute({
      method: 'GET',
      path: '/metrics',
      operationId: 'getMetrics',
      summary: 'Prometheus metrics of the answering pilot replica.',
      access: 'admin',
      replica: 'any',
      response: metricsTextSchema,
      contentType: Registry.PROMETHEUS_CONTENT_TYPE,
      handle: () => metrics.registry.metrics(),
    }),
    defineRoute({
      method: 'GET',
      path: '/healthz',
      operationId: 'getHealth',
      summary: 'Answers while the pilot process runs, on every replica, leader or not; open to probes without credentials.',
      access: 'open',
      replica: 'any',
      response: healthSchema,
      handle: () => ({ status: 'ok' as const }),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/internal/join',
      operationId: 'joinNode',
      summary:
        'A node starts: registers (no node_id) or rejoins (with node_id); answers its id and the routing table. A node id keeps the address (host, port, bus port) it registered with: a rejoin from another address is refused with 409.',
      access: 'cluster',
      body: joinRequestSchema,
      response: joinResponseSchema,
      errorCodes: ['not_found', 'conflict', 'overloaded', 'unavailable'],
      handle: async ({ body }) => {
        const answer = await pilot.join(body);
        return 'ok' in answer ? rejectionError(answer) : answer;
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/internal/heartbeat',
      operationId: 'heartbeat',
      summary: "A node's liveness, shard statistics and the shards it leads; answered with the routing table when the node's is older.",
      access: 'cluster',
      body: heartbeatRequestSchema,
      response: heartbeatResponseSchema,
      errorCodes: ['not_found'],
      handle: async ({ body }) => (await pilot.heartbeat(body)) ?? new ApiError('not_found', `no node ${body.node_id}; join again`, 'body.node_id'),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/internal/routing',
      operationId: 'pollRouting',
      summary: 'Long poll: the routing table as soon as its version exceeds `after`, or the current one after `wait_ms`.',
      access: 'cluster',
      query: routingPollQuerySchema,
      response: routingTableSchema,
      errorCodes: ['overloaded'],
      handle: async ({ query, signal }) =>
        (await pilot.pollRouting(query.after, query.wait_ms, signal)) ?? new ApiError('overloaded', 'too many routing polls are waiting; retry later'),
    }),
  ];
  let document: Record<string, unknown> | undefined;
  routes.push(
    defineRoute({
      method: 'GET',
      path: '/api/v1/openapi.json',
      operationId: 'getOpenApi',
      summary: 'This API as an OpenAPI 3.1 document.',
      access: 'admin',
      replica: 'any',
      response: openApiDocumentSchema,
      handle: () => (document ??= buildOpenApiDocument(routes, API_VERSION)),
    }),
  );
  return routes;
}

function rejectionError(rejection: PilotRejection | DriverRefusal): ApiError {
  switch (rejection.reason) {
    case 'notLeader':
      // Leadership moved between the leader check and the proposal.
      return rejection.leaderUrl === null
        ? new ApiError('no_leader', rejection.message, undefined, null)
        : new ApiError('not_leader', rejection.message, undefined, rejection.leaderUrl);
    case 'unavailable':
      return new ApiError('unavailable', rejection.message);
    case 'unknown-node':
      return new ApiError('not_found', rejection.message, 'body.node_id');
    case 'unknown-shard':
      return new ApiError('not_found', rejection.message, 'params.id');
    case 'invalid-argument':
      return new ApiError('invalid_request', rejection.message);
    case 'overloaded':
      return new ApiError('overloaded', rejection.message);
    case 'stale-epoch':
      return new ApiError('conflict', rejection.message, 'body.epoch');
    case 'already-replica':
    case 'not-a-replica':
    case 'last-replica':
    case 'too-many-replicas':
    case 'already-leader':
      return new ApiError('conflict', rejection.message, 'body.node_id');
    case 'address-bound':
      return new ApiError('conflict', rejection.message, 'body.node_id');
    case 'other-cluster':
      return new ApiError('conflict', rejection.message, 'body.cluster_incarnation');
    case 'address-in-use':
    case 'cluster-id-taken':
    case 'keyspace-exists':
    case 'not-enough-nodes':
    case 'state-not-empty':
    case 'already-splitting':
    case 'too-many-splits':
    case 'split-switched':
      return new ApiError('conflict', rejection.message);
    case 'shard-exists':
      return new ApiError('conflict', rejection.message, 'body.target_shard_id');
    case 'unknown-split':
      return new ApiError('not_found', rejection.message, 'params.task_id');
  }
}

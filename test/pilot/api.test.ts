import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import type { HeartbeatRequest, JoinRequest } from '../../src/common/protocol.js';
import {
  clusterSchema,
  errorBodySchema,
  heartbeatResponseSchema,
  joinResponseSchema,
  nodeListSchema,
  pilotEventListSchema,
  routingTableSchema,
  shardChangeAcceptedSchema,
  shardListSchema,
  shardSchema,
} from '../../src/pilot/api-schemas.js';
import type { PilotEvent } from '../../src/pilot/event-log.js';
import { startPilot, type PilotOptions, type RunningPilot } from '../../src/pilot/server.js';

const ADMIN_TOKEN = 'admin-token-for-tests';
const CLUSTER_SECRET = 'cluster-secret-for-tests';

interface TestPilot {
  readonly pilot: RunningPilot;
  readonly dataDir: string;
  /** A request with the right credentials unless `headers` says otherwise. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any; headers: Headers }>;
  join(request: Partial<JoinRequest> & { port: number }): Promise<any>;
  heartbeat(request: HeartbeatRequest): Promise<any>;
}

async function startTestPilot(t: TestContext, options: Partial<PilotOptions> = {}, dataDir?: string): Promise<TestPilot> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'cleave-pilot-api-'));
  if (dataDir === undefined) t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pilot = await startPilot({
    host: '127.0.0.1',
    port: 0,
    dataDir: dir,
    adminToken: ADMIN_TOKEN,
    clusterSecret: CLUSTER_SECRET,
    logger: pino({ level: 'silent' }),
    ...options,
  });
  t.after(() => pilot.close());
  const call: TestPilot['call'] = async (method, path, body, headers) => {
    const response = await fetch(`${pilot.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        'x-cleave-secret': CLUSTER_SECRET,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    const isJson = response.headers.get('content-type')?.startsWith('application/json') ?? false;
    return { status: response.status, json: isJson ? JSON.parse(text) : text, headers: response.headers };
  };
  return {
    pilot,
    dataDir: dir,
    call,
    async join(request) {
      const { status, json } = await call('POST', '/api/v1/internal/join', { host: '127.0.0.1', bus_port: request.port + 10000, metrics_port: 0, pid: 4000, ...request });
      assert.equal(status, 200, JSON.stringify(json));
      return joinResponseSchema.parse(json);
    },
    async heartbeat(request) {
      const { status, json } = await call('POST', '/api/v1/internal/heartbeat', request);
      assert.equal(status, 200, JSON.stringify(json));
      return heartbeatResponseSchema.parse(json);
    },
  };
}

test('join → heartbeat: the routing table is delivered once, stats show up per shard', async (t) => {
  const p = await startTestPilot(t);
  const joined = await p.join({ port: 17101 });
  assert.equal(joined.node_id, 'node1');
  assert.equal(joined.routing.version, 2, 'register + bootstrap');
  assert.equal(joined.routing.shards.length, 2);
  assert.match(joined.routing.nodes[0].clusterId, /^[0-9a-f]{40}$/);

  const stats = [{ shard_id: 'shard_0001', keys: 10, bytes: 2048, ops_per_sec: 5.5, last_access_ms: 1234 }];
  const first = await p.heartbeat({ node_id: 'node1', pid: 4000, routing_version: 0, shards: stats });
  assert.equal(first.routing?.version, 2);
  const second = await p.heartbeat({ node_id: 'node1', pid: 4000, routing_version: 2, shards: stats });
  assert.deepEqual(second, {});

  const shard = shardSchema.parse((await p.call('GET', '/api/v1/shards/shard_0001')).json);
  assert.deepEqual(
    { keys: shard.keys, bytes: shard.bytes, ops: shard.ops_per_sec, last: shard.last_access_ms, slots: shard.slots, range: shard.slot_range },
    { keys: 10, bytes: 2048, ops: 5.5, last: 1234, slots: '0-8191', range: { start: 0, end: 8192 } },
  );
  const shards = shardListSchema.parse((await p.call('GET', '/api/v1/shards')).json).shards;
  assert.deepEqual(
    shards.map((s) => [s.id, s.slots, s.leader, s.epoch]),
    [
      ['shard_0001', '0-8191', 'node1', 1],
      ['shard_0002', '8192-16383', 'node1', 1],
    ],
  );

  const routing = routingTableSchema.parse((await p.call('GET', '/api/v1/routing')).json);
  assert.deepEqual(routing, joined.routing);
  const node = (await p.call('GET', '/api/v1/nodes/node1')).json;
  assert.equal(node.state, 'up');
  assert.equal(node.address, '127.0.0.1:17101');
  assert.equal(node.leader_count, 2);
  assert.ok(node.last_heartbeat_ms_ago >= 0);
});

test('unknown ids: 404 JSON for shards, nodes, heartbeats and rejoins', async (t) => {
  const p = await startTestPilot(t);
  for (const [method, path, body] of [
    ['GET', '/api/v1/shards/shard_9999', undefined],
    ['GET', '/api/v1/nodes/node9', undefined],
    ['POST', '/api/v1/internal/heartbeat', { node_id: 'node9', pid: 1, routing_version: 0, shards: [] }],
    ['POST', '/api/v1/internal/join', { node_id: 'node9', host: '127.0.0.1', port: 17102, bus_port: 27102, metrics_port: 0, pid: 1 }],
    ['GET', '/api/v1/no-such-route', undefined],
  ] as const) {
    const { status, json } = await p.call(method, path, body);
    assert.equal(status, 404, `${method} ${path}`);
    assert.equal(errorBodySchema.parse(json).error.code, 'not_found');
  }
});

test('expectNodes: the default keyspace is bootstrapped when the last expected node joins', async (t) => {
  const p = await startTestPilot(t, { expectNodes: 3, shardsPerNode: 2, replicas: 3 });
  await p.join({ port: 17201 });
  await p.join({ port: 17202 });
  let cluster = clusterSchema.parse((await p.call('GET', '/api/v1/cluster')).json);
  assert.equal(cluster.state, 'bootstrapping');
  assert.equal(cluster.shards.total, 0);

  const third = await p.join({ port: 17203 });
  assert.equal(third.node_id, 'node3');
  assert.equal(third.routing.shards.length, 6, 'the completing join answers with the bootstrapped table');
  assert.equal(third.routing.version, 4);
  cluster = clusterSchema.parse((await p.call('GET', '/api/v1/cluster')).json);
  assert.deepEqual(
    {
      state: cluster.state,
      version: cluster.routing_version,
      nodes: cluster.nodes,
      shards: cluster.shards.total,
      keyspaces: cluster.keyspaces.map((k) => [k.name, k.shard_count]),
    },
    { state: 'ok', version: 4, nodes: { total: 3, up: 3, down: 0 }, shards: 6, keyspaces: [['default', 6]] },
  );
  const nodes = nodeListSchema.parse((await p.call('GET', '/api/v1/nodes')).json).nodes;
  assert.deepEqual(
    nodes.map((n) => [n.id, n.shard_count, n.leader_count]),
    [
      ['node1', 6, 2],
      ['node2', 6, 2],
      ['node3', 6, 2],
    ],
  );

  const fourth = await p.join({ port: 17204 });
  assert.equal(fourth.routing.shards.length, 6, 'no second bootstrap');
});

test('concurrent first joins get distinct ids in order and one bootstrap', async (t) => {
  const p = await startTestPilot(t, { expectNodes: 5 });
  const answers = await Promise.all([1, 2, 3, 4, 5].map((i) => p.join({ port: 17250 + i })));
  assert.deepEqual(answers.map((a) => a.node_id).sort(), ['node1', 'node2', 'node3', 'node4', 'node5']);
  const cluster = clusterSchema.parse((await p.call('GET', '/api/v1/cluster')).json);
  assert.deepEqual([cluster.routing_version, cluster.shards.total], [6, 10]);
});

test('long poll: answers at once when behind, wakes on a version change, else waits wait_ms', async (t) => {
  const p = await startTestPilot(t, { expectNodes: 2 });
  await p.join({ port: 17301 });

  const immediate = await p.call('GET', '/api/v1/internal/routing?after=0&wait_ms=10000');
  assert.equal(immediate.json.version, 1);

  const started = Date.now();
  const timedOut = await p.call('GET', '/api/v1/internal/routing?after=1&wait_ms=100');
  assert.equal(timedOut.json.version, 1);
  assert.ok(Date.now() - started >= 90, 'held for wait_ms');

  const waiting = p.call('GET', '/api/v1/internal/routing?after=1&wait_ms=20000');
  let answered = false;
  void waiting.then(() => (answered = true));
  await sleep(100);
  assert.equal(answered, false, 'the poll is held while nothing changes');
  const wakeStart = Date.now();
  await p.join({ port: 17302 });
  const woken = await waiting;
  assert.ok(Date.now() - wakeStart < 5000);
  assert.equal(woken.status, 200);
  assert.ok(woken.json.version >= 2, `woke with version ${woken.json.version}`);
});

test('close releases held long polls at once', async (t) => {
  const p = await startTestPilot(t);
  await p.join({ port: 17351 });
  const waiting = p.call('GET', '/api/v1/internal/routing?after=2&wait_ms=30000');
  await sleep(50);
  const started = Date.now();
  await p.pilot.close();
  assert.equal((await waiting).status, 200);
  assert.ok(Date.now() - started < 5000);
});

const invalidCases: { name: string; method: string; path: string; body?: unknown; field: string }[] = [
  { name: 'port of the wrong type', method: 'POST', path: '/api/v1/internal/join', body: { host: 'h', port: 'x', bus_port: 2, metrics_port: 0, pid: 1 }, field: 'body.port' },
  { name: 'missing host', method: 'POST', path: '/api/v1/internal/join', body: { port: 1, bus_port: 2, metrics_port: 0, pid: 1 }, field: 'body.host' },
  { name: 'port out of range', method: 'POST', path: '/api/v1/internal/join', body: { host: 'h', port: 70000, bus_port: 2, metrics_port: 0, pid: 1 }, field: 'body.port' },
  {
    name: 'negative key count in a shard report',
    method: 'POST',
    path: '/api/v1/internal/heartbeat',
    body: { node_id: 'node1', pid: 1, routing_version: 0, shards: [{ shard_id: 's', keys: -1, bytes: 0, ops_per_sec: 0, last_access_ms: 0 }] },
    field: 'body.shards.0.keys',
  },
  { name: 'body that is not an object', method: 'POST', path: '/api/v1/internal/heartbeat', body: '[1,2]', field: 'body' },
  { name: 'malformed JSON', method: 'POST', path: '/api/v1/internal/join', body: '{"host":', field: 'body' },
  { name: 'no body at all', method: 'POST', path: '/api/v1/internal/join', field: 'body' },
  { name: 'wait_ms above the maximum', method: 'GET', path: '/api/v1/internal/routing?after=0&wait_ms=99999', field: 'query.wait_ms' },
  { name: 'after that is not a number', method: 'GET', path: '/api/v1/internal/routing?after=abc', field: 'query.after' },
  { name: 'id too long', method: 'GET', path: `/api/v1/shards/${'x'.repeat(100)}`, field: 'params.id' },
];

for (const { name, method, path, body, field } of invalidCases) {
  test(`400 naming ${field} for ${name}`, async (t) => {
    const p = await startTestPilot(t);
    const { status, json } = await p.call(method, path, body);
    assert.equal(status, 400, JSON.stringify(json));
    const { error } = errorBodySchema.parse(json);
    assert.equal(error.code, 'invalid_request');
    assert.equal(error.field, field);
    assert.ok(error.message.length > 0);
  });
}

test('bodies over the limit get 413, other media types 415, both as JSON', async (t) => {
  const p = await startTestPilot(t);
  const huge = await p.call('POST', '/api/v1/internal/join', JSON.stringify({ host: 'x'.repeat(2 * 1024 * 1024) }));
  assert.equal(huge.status, 413);
  assert.equal(errorBodySchema.parse(huge.json).error.code, 'payload_too_large');
  const xml = await p.call('POST', '/api/v1/internal/join', '<join/>', { 'content-type': 'application/xml' });
  assert.equal(xml.status, 415);
  assert.equal(errorBodySchema.parse(xml.json).error.code, 'unsupported_media_type');
});

test('a second node at the address of the first is refused with 409', async (t) => {
  const p = await startTestPilot(t);
  await p.join({ port: 17401 });
  const { status, json } = await p.call('POST', '/api/v1/internal/join', { host: '127.0.0.1', port: 17401, bus_port: 27401, metrics_port: 0, pid: 9 });
  assert.equal(status, 409);
  assert.equal(errorBodySchema.parse(json).error.code, 'conflict');
});

test('admin token: public routes answer 401 JSON without it, /healthz stays open', async (t) => {
  const p = await startTestPilot(t);
  for (const path of ['/api/v1/cluster', '/api/v1/nodes', '/api/v1/shards', '/api/v1/routing', '/api/v1/openapi.json', '/metrics']) {
    for (const authorization of ['', 'Bearer wrong', `Basic ${ADMIN_TOKEN}`]) {
      const { status, json, headers } = await p.call('GET', path, undefined, { authorization });
      assert.equal(status, 401, `${path} with "${authorization}"`);
      assert.equal(errorBodySchema.parse(json).error.code, 'unauthorized');
      assert.equal(headers.get('www-authenticate'), 'Bearer');
    }
    assert.equal((await p.call('GET', path)).status, 200, path);
  }
  assert.equal((await p.call('GET', '/healthz', undefined, { authorization: '' })).status, 200);
});

test('cluster secret: every internal route answers 401 JSON without it and 403 with a wrong one, even with the admin token', async (t) => {
  const p = await startTestPilot(t, { shardsPerNode: 1, replicas: 1 });
  await p.join({ port: 17501 });
  assert.equal((await p.call('POST', '/api/v1/shards/shard_0001/split', {})).status, 202);
  const progress = {
    snapshot_done: false,
    snapshot_index: 0,
    snapshot_bytes_sent: 0,
    snapshot_bytes_total: 0,
    source_last_index: 0,
    target_applied_index: 0,
    delay: 0,
    buffered_requests: 0,
    eta_seconds: 0,
  };
  const internal = [
    ['POST', '/api/v1/internal/join', { host: '127.0.0.1', port: 17502, bus_port: 27502, metrics_port: 0, pid: 1 }],
    ['POST', '/api/v1/internal/heartbeat', { node_id: 'node1', pid: 1, routing_version: 0, shards: [], leaders: [{ shard_id: 'shard_0001', term: 7 }] }],
    ['GET', '/api/v1/internal/routing?after=0&wait_ms=0', undefined],
    ['POST', '/api/v1/internal/splits/split_1/report', { task_id: 'split_1', node_id: 'node1', term: 1, status: 'failed', reason: 'forged', progress }],
  ] as const;
  for (const [method, path, body] of internal) {
    for (const [secret, status, code] of [
      [undefined, 401, 'unauthorized'],
      ['', 401, 'unauthorized'],
      ['wrong', 403, 'forbidden'],
    ] as const) {
      const headers: Record<string, string> = {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(secret === undefined ? {} : { 'x-cleave-secret': secret }),
      };
      const response = await fetch(`${p.pilot.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      assert.equal(response.status, status, `${method} ${path} with secret ${JSON.stringify(secret)}`);
      assert.equal(errorBodySchema.parse(await response.json()).error.code, code);
    }
  }
  // Nothing the refused requests carried took effect.
  const nodes = nodeListSchema.parse((await p.call('GET', '/api/v1/nodes')).json).nodes;
  assert.deepEqual(
    nodes.map((n) => n.address),
    ['127.0.0.1:17501'],
  );
  assert.equal(shardSchema.parse((await p.call('GET', '/api/v1/shards/shard_0001')).json).leader_term, 0);
  assert.equal((await p.call('GET', '/api/v1/splits/split_1')).json.status, 'preparing');
  for (const [method, path, body] of internal) assert.equal((await p.call(method, path, body)).status, 200, `${method} ${path} with the secret`);
});

test('a pilot without a cluster secret refuses to start; without an admin token the public routes are open, not the internal ones', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cleave-pilot-api-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await assert.rejects(startPilot({ host: '127.0.0.1', port: 0, dataDir: dir, clusterSecret: '', logger: pino({ level: 'silent' }) }), /cluster secret/);
  const p = await startTestPilot(t, { adminToken: undefined });
  assert.equal((await p.call('GET', '/api/v1/cluster', undefined, { authorization: '' })).status, 200);
  const joinRequest = { host: 'h', port: 1, bus_port: 2, metrics_port: 0, pid: 1 };
  assert.equal((await p.call('POST', '/api/v1/internal/join', joinRequest, { authorization: '', 'x-cleave-secret': '' })).status, 401);
  assert.equal((await p.call('POST', '/api/v1/internal/join', joinRequest, { authorization: '' })).status, 200);
});

test('openapi.json: an OpenAPI 3.1 document listing every route, every $ref resolving', async (t) => {
  const p = await startTestPilot(t);
  const { status, json: doc } = await p.call('GET', '/api/v1/openapi.json');
  assert.equal(status, 200);
  assert.equal(doc.openapi, '3.1.0');
  const expected: [string, string][] = [
    ['/api/v1/cluster', 'get'],
    ['/api/v1/nodes', 'get'],
    ['/api/v1/nodes/{id}', 'get'],
    ['/api/v1/shards', 'get'],
    ['/api/v1/shards/{id}', 'get'],
    ['/api/v1/shards/{id}/replicas', 'post'],
    ['/api/v1/routing', 'get'],
    ['/api/v1/events', 'get'],
    ['/api/v1/pilot', 'get'],
    ['/api/v1/openapi.json', 'get'],
    ['/metrics', 'get'],
    ['/healthz', 'get'],
    ['/api/v1/internal/join', 'post'],
    ['/api/v1/internal/heartbeat', 'post'],
    ['/api/v1/internal/routing', 'get'],
    ['/api/v1/shards/{id}/split', 'post'],
    ['/api/v1/splits', 'get'],
    ['/api/v1/splits/{task_id}', 'get'],
    ['/api/v1/splits/{task_id}', 'delete'],
    ['/api/v1/internal/splits/{task_id}/report', 'post'],
  ];
  const listed = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => [path, m]));
  assert.deepEqual(listed.sort(), expected.sort());
  const operationIds = new Set<string>();
  for (const [path, method] of expected) {
    const op = doc.paths[path][method];
    assert.ok(op.operationId && !operationIds.has(op.operationId), `unique operationId on ${path}`);
    operationIds.add(op.operationId);
    assert.ok((op.responses['200'] ?? op.responses['202']).content, `${path} documents its answer`);
    for (const param of path.match(/\{(\w+)\}/g) ?? []) {
      assert.ok(
        op.parameters.some((x: any) => x.in === 'path' && `{${x.name}}` === param && x.required),
        `${path} documents ${param}`,
      );
    }
  }
  assert.ok(doc.paths['/api/v1/internal/routing'].get.parameters.some((x: any) => x.name === 'wait_ms' && x.in === 'query' && x.schema.maximum === 30000));
  assert.equal(doc.paths['/api/v1/internal/join'].post.requestBody.content['application/json'].schema.$ref, '#/components/schemas/JoinRequest');
  assert.deepEqual(doc.components.schemas.JoinRequest.required.sort(), ['bus_port', 'host', 'metrics_port', 'pid', 'port']);
  const change = doc.paths['/api/v1/shards/{id}/replicas'].post;
  assert.deepEqual(Object.keys(change.responses).sort(), ['202', '400', '401', '404', '409', '413', '415', '421', '500', '503']);
  assert.equal(change.responses['503'].description, 'overloaded, unavailable, no_leader');
  assert.equal(doc.paths['/healthz'].get.responses['421'], undefined, 'every replica answers /healthz');
  assert.equal(change.responses['202'].content['application/json'].schema.$ref, '#/components/schemas/ShardChangeAccepted');
  assert.deepEqual(change.security, [{ adminToken: [] }]);
  assert.deepEqual(doc.components.schemas.ShardReplicasRequest.properties.action.enum, ['add', 'remove', 'transfer_leader']);
  assert.deepEqual(doc.components.schemas.ShardReplicasRequest.required.sort(), ['action', 'node_id']);
  assert.ok(doc.components.schemas.HeartbeatRequest.properties.leaders, 'heartbeats document their leader reports');

  const refs: string[] = [];
  (function collect(value: unknown): void {
    if (Array.isArray(value)) value.forEach(collect);
    else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if (key === '$ref') refs.push(inner as string);
        else collect(inner);
      }
    }
  })(doc);
  assert.ok(refs.length > 10);
  for (const ref of refs) {
    const name = ref.replace('#/components/schemas/', '');
    assert.ok(ref.startsWith('#/components/schemas/') && doc.components.schemas[name], `${ref} resolves`);
  }
});

test('/metrics: default, HTTP and cluster metrics in Prometheus text format', async (t) => {
  const p = await startTestPilot(t);
  await p.join({ port: 17601 });
  await p.heartbeat({ node_id: 'node1', pid: 4000, routing_version: 2, shards: [{ shard_id: 'shard_0002', keys: 7, bytes: 70, ops_per_sec: 1, last_access_ms: 0 }] });
  const { status, json: text, headers } = await p.call('GET', '/metrics');
  assert.equal(status, 200);
  assert.match(headers.get('content-type') ?? '', /^text\/plain/);
  for (const line of [
    'process_cpu_user_seconds_total',
    'nodejs_eventloop_lag_seconds',
    'cleave_pilot_http_requests_total{method="POST",route="/api/v1/internal/join",status="200"} 1',
    'cleave_pilot_http_request_duration_seconds_bucket',
    'cleave_pilot_nodes{state="up"} 1',
    'cleave_pilot_nodes{state="down"} 0',
    'cleave_pilot_shards{keyspace="default"} 2',
    'cleave_pilot_routing_version 2',
    'cleave_pilot_shard_keys{keyspace="default",shard="shard_0002"} 7',
    'cleave_pilot_shard_bytes{keyspace="default",shard="shard_0002"} 70',
    'cleave_pilot_shard_ops_per_second{keyspace="default",shard="shard_0002"} 1',
  ]) {
    assert.ok((text as string).includes(line), `metrics include ${line}`);
  }
});

test('a node without heartbeats for nodeTimeoutMs is down and the cluster degraded; a heartbeat brings it back', async (t) => {
  const p = await startTestPilot(t, { nodeTimeoutMs: 150 });
  await p.join({ port: 17701 });
  await sleep(300);
  assert.equal((await p.call('GET', '/api/v1/nodes/node1')).json.state, 'down');
  const cluster = clusterSchema.parse((await p.call('GET', '/api/v1/cluster')).json);
  assert.equal(cluster.state, 'degraded');
  assert.deepEqual(cluster.nodes, { total: 1, up: 0, down: 1 });
  await p.heartbeat({ node_id: 'node1', pid: 4000, routing_version: 2, shards: [] });
  assert.equal((await p.call('GET', '/api/v1/nodes/node1')).json.state, 'up');
  assert.equal(clusterSchema.parse((await p.call('GET', '/api/v1/cluster')).json).state, 'ok');
});

test('restart with the same dataDir restores nodes, shards and routing version', async (t) => {
  const first = await startTestPilot(t, { expectNodes: 2, replicas: 2 });
  await first.join({ port: 17801 });
  await first.join({ port: 17802, pid: 5000 });
  const before = {
    routing: (await first.call('GET', '/api/v1/routing')).json,
    nodes: (await first.call('GET', '/api/v1/nodes')).json.nodes.map((n: any) => [n.id, n.cluster_id, n.address, n.pid]),
    shards: (await first.call('GET', '/api/v1/shards')).json.shards.map((s: any) => [s.id, s.slots, s.leader, s.replicas]),
  };
  await first.pilot.close();

  // Bootstrap options that differ after a restart must not re-bootstrap or change anything.
  const second = await startTestPilot(t, { expectNodes: 1, shardsPerNode: 5 }, first.dataDir);
  const after = {
    routing: (await second.call('GET', '/api/v1/routing')).json,
    nodes: (await second.call('GET', '/api/v1/nodes')).json.nodes.map((n: any) => [n.id, n.cluster_id, n.address, n.pid]),
    shards: (await second.call('GET', '/api/v1/shards')).json.shards.map((s: any) => [s.id, s.slots, s.leader, s.replicas]),
  };
  assert.deepEqual(after, before);
  assert.equal(after.routing.version, 3);

  const rejoined = await second.join({ node_id: 'node2', port: 17802, pid: 5001 });
  assert.equal(rejoined.node_id, 'node2');
  assert.equal(rejoined.routing.version, 3, 'same address: no new routing version');
  assert.equal((await second.join({ port: 17803 })).node_id, 'node3');
  const node2 = (await second.call('GET', '/api/v1/nodes/node2')).json;
  assert.deepEqual([node2.address, node2.pid], ['127.0.0.1:17802', 5001]);
});

test("a node's id is bound to the address it registered with: a rejoin from another address is refused with 409", async (t) => {
  const p = await startTestPilot(t, { expectNodes: 2, replicas: 2 });
  await p.join({ port: 17821 });
  await p.join({ port: 17822 });
  const before = routingTableSchema.parse((await p.call('GET', '/api/v1/routing')).json);
  for (const moved of [{ port: 17829 }, { port: 17821, bus_port: 27829 }, { port: 17821, host: '127.0.0.9' }]) {
    const { status, json } = await p.call('POST', '/api/v1/internal/join', { node_id: 'node1', host: '127.0.0.1', bus_port: 27821, metrics_port: 0, pid: 6666, ...moved });
    assert.equal(status, 409, JSON.stringify(moved));
    const error = errorBodySchema.parse(json).error;
    assert.equal(error.code, 'conflict');
    assert.match(error.message, /node1 is registered at 127\.0\.0\.1:17821 \(bus 27821\)/);
    assert.match(error.message, /remove/);
  }
  const after = routingTableSchema.parse((await p.call('GET', '/api/v1/routing')).json);
  assert.deepEqual(after, before, 'the routing table still names the true addresses');
  const node1 = (await p.call('GET', '/api/v1/nodes/node1')).json;
  assert.deepEqual([node1.address, node1.pid], ['127.0.0.1:17821', 4000]);
  // The node itself restarting on its address (another pid, another metrics port) still rejoins.
  assert.equal((await p.join({ node_id: 'node1', port: 17821, metrics_port: 37821, pid: 4001 })).node_id, 'node1');
});

test('replicas: the default keyspace gets min(--replicas, nodes) per shard; more than 7 is a usage error', async (t) => {
  const two = await startTestPilot(t, { expectNodes: 2 });
  await two.join({ port: 17901 });
  const { routing } = await two.join({ port: 17902 });
  assert.deepEqual(
    routing.shards.map((s: any) => s.replicas),
    [
      ['node1', 'node2'],
      ['node2', 'node1'],
      ['node1', 'node2'],
      ['node2', 'node1'],
    ],
  );
  const dir = mkdtempSync(join(tmpdir(), 'cleave-pilot-api-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await assert.rejects(startPilot({ host: '127.0.0.1', port: 0, dataDir: dir, replicas: 8, clusterSecret: CLUSTER_SECRET, logger: pino({ level: 'silent' }) }), {
    name: 'UsageError',
    message: /at most 7/,
  });
});

/** The events recorded at or after `sinceMs`, as compact strings, routing versions included. */
async function eventsSince(p: TestPilot, sinceMs: number): Promise<string[]> {
  const { status, json } = await p.call('GET', `/api/v1/events?since=${sinceMs}`);
  assert.equal(status, 200);
  return pilotEventListSchema.parse(json).events.map((e: PilotEvent) => {
    switch (e.kind) {
      case 'shard-leader-changed':
        return `${e.kind} ${e.shard_id} ${e.from}→${e.to} term ${e.term}`;
      case 'shard-replicas-changed':
        return `${e.kind} ${e.shard_id} ${e.action} ${e.node_id} [${e.replicas.join(',')}] epoch ${e.epoch}`;
      case 'shard-leader-transfer-requested':
        return `${e.kind} ${e.shard_id} ${e.node_id}`;
      case 'routing-version-changed':
        return `${e.kind} ${e.previous_version}→${e.routing_version} ${e.cause}`;
      default:
        return e.kind;
    }
  });
}

async function routingVersion(p: TestPilot): Promise<number> {
  return routingTableSchema.parse((await p.call('GET', '/api/v1/routing')).json).version;
}

test('heartbeat leader reports: a newer term names the leader, in the answer, the shard view and the events; stale ones change nothing', async (t) => {
  const p = await startTestPilot(t, { expectNodes: 3, shardsPerNode: 1 });
  for (const port of [17911, 17912, 17913]) await p.join({ port });
  assert.equal(await routingVersion(p), 4);
  const sinceMs = Date.now();

  const answer = await p.heartbeat({ node_id: 'node2', pid: 4000, routing_version: 4, shards: [], leaders: [{ shard_id: 'shard_0001', term: 2 }] });
  assert.equal(answer.routing?.version, 5, 'the answer carries the table naming the new leader');
  assert.deepEqual(
    answer.routing?.shards.map((s: any) => [s.id, s.leader, s.leaderTerm ?? 0]),
    [
      ['shard_0001', 'node2', 2],
      ['shard_0002', 'node2', 0],
      ['shard_0003', 'node3', 0],
    ],
  );
  const shard = shardSchema.parse((await p.call('GET', '/api/v1/shards/shard_0001')).json);
  assert.deepEqual(
    { leader: shard.leader, term: shard.leader_term, replicas: shard.replicas, followers: shard.followers, epoch: shard.epoch, transfer: shard.transfer_to },
    { leader: 'node2', term: 2, replicas: ['node1', 'node2', 'node3'], followers: ['node1', 'node3'], epoch: 1, transfer: undefined },
  );
  assert.deepEqual(await eventsSince(p, sinceMs), ['shard-leader-changed shard_0001 node1→node2 term 2', 'routing-version-changed 4→5 set-shard-leaders']);

  // An older term, the same report again, an unknown shard, a term no newer than the recorded 0.
  for (const [nodeId, leaders] of [
    ['node1', [{ shard_id: 'shard_0001', term: 1 }]],
    ['node2', [{ shard_id: 'shard_0001', term: 2 }]],
    [
      'node3',
      [
        { shard_id: 'shard_9999', term: 3 },
        { shard_id: 'shard_0003', term: 0 },
      ],
    ],
  ] as const) {
    assert.deepEqual(await p.heartbeat({ node_id: nodeId, pid: 4000, routing_version: 5, shards: [], leaders }), {});
  }
  assert.equal(await routingVersion(p), 5);
  const nodes = nodeListSchema.parse((await p.call('GET', '/api/v1/nodes')).json).nodes;
  assert.deepEqual(
    nodes.map((n) => [n.id, n.leader_count]),
    [
      ['node1', 0],
      ['node2', 2],
      ['node3', 1],
    ],
  );

  // Forged terms: far beyond the highest known one, or from a node that holds no replica of the shard.
  await p.heartbeat({ node_id: 'node1', pid: 4000, routing_version: 5, shards: [], leaders: [{ shard_id: 'shard_0001', term: 1e12 }] });
  assert.equal(await routingVersion(p), 5, 'a term far beyond the highest known one changes nothing');
  const real = await p.heartbeat({ node_id: 'node3', pid: 4000, routing_version: 5, shards: [], leaders: [{ shard_id: 'shard_0001', term: 3 }] });
  assert.deepEqual(real.routing?.shards.map((s: any) => [s.id, s.leader, s.leaderTerm ?? 0])[0], ['shard_0001', 'node3', 3], 'the next real term still names the leader');

  const invalid = await p.call('POST', '/api/v1/internal/heartbeat', { node_id: 'node1', pid: 1, routing_version: 0, shards: [], leaders: [{ shard_id: 'shard_0001', term: -1 }] });
  assert.equal(invalid.status, 400);
  assert.equal(errorBodySchema.parse(invalid.json).error.field, 'body.leaders.0.term');
});

test('heartbeat leader reports of a node that holds no replica of the shard change nothing', async (t) => {
  const p = await startTestPilot(t, { expectNodes: 3, shardsPerNode: 1, replicas: 2 });
  for (const port of [17941, 17942, 17943]) await p.join({ port });
  const before = routingTableSchema.parse((await p.call('GET', '/api/v1/routing')).json);
  assert.deepEqual(before.shards[0]!.replicas, ['node1', 'node2']);
  assert.deepEqual(await p.heartbeat({ node_id: 'node3', pid: 4000, routing_version: before.version, shards: [], leaders: [{ shard_id: 'shard_0001', term: 2 }] }), {});
  assert.deepEqual(routingTableSchema.parse((await p.call('GET', '/api/v1/routing')).json), before);
  const real = await p.heartbeat({ node_id: 'node2', pid: 4000, routing_version: before.version, shards: [], leaders: [{ shard_id: 'shard_0001', term: 2 }] });
  assert.deepEqual([real.routing?.shards[0].leader, real.routing?.shards[0].leaderTerm], ['node2', 2]);
});

test('POST /shards/{id}/replicas: add, remove and transfer_leader answer 202 with the changed shard; versions, epochs and events follow', async (t) => {
  const p = await startTestPilot(t, { expectNodes: 4, shardsPerNode: 1, replicas: 2 });
  for (const port of [17921, 17922, 17923, 17924]) await p.join({ port });
  // Replicas change once a shard's group has had a leader.
  await p.heartbeat({ node_id: 'node1', pid: 4000, routing_version: 5, shards: [], leaders: [{ shard_id: 'shard_0001', term: 1 }] });
  await p.heartbeat({ node_id: 'node2', pid: 4000, routing_version: 6, shards: [], leaders: [{ shard_id: 'shard_0002', term: 1 }] });
  assert.equal(await routingVersion(p), 7);
  const sinceMs = Date.now();
  const post = async (shardId: string, body: unknown): Promise<{ status: number; json: any }> => p.call('POST', `/api/v1/shards/${shardId}/replicas`, body);

  const added = await post('shard_0001', { action: 'add', node_id: 'node3' });
  assert.equal(added.status, 202, JSON.stringify(added.json));
  const addedShard = shardChangeAcceptedSchema.parse(added.json);
  assert.deepEqual(
    { pending: addedShard.pending, epoch: addedShard.epoch, leader: addedShard.leader, replicas: addedShard.replicas, followers: addedShard.followers, slots: addedShard.slots },
    { pending: true, epoch: 2, leader: 'node1', replicas: ['node1', 'node2', 'node3'], followers: ['node2', 'node3'], slots: '0-4095' },
  );
  // Founding replicas are Raft members under their node's number; an added one under a new replica id.
  assert.deepEqual(addedShard.replica_ids, { node1: 1, node2: 2, node3: 1_000_003 });
  const { pending: _pending, ...view } = added.json;
  assert.deepEqual((await p.call('GET', '/api/v1/shards/shard_0001')).json, view, 'the same shape GET answers');
  assert.equal(await routingVersion(p), 8);

  const removed = await post('shard_0001', { action: 'remove', node_id: 'node2', epoch: 2 });
  assert.equal(removed.status, 202);
  assert.deepEqual([removed.json.epoch, removed.json.replicas, removed.json.followers], [3, ['node1', 'node3'], ['node3']]);

  const transfer = await post('shard_0001', { action: 'transfer_leader', node_id: 'node3' });
  assert.equal(transfer.status, 202);
  assert.deepEqual([transfer.json.epoch, transfer.json.leader, transfer.json.transfer_to, transfer.json.pending], [3, 'node1', 'node3', true]);
  assert.equal(await routingVersion(p), 10);
  const routed = routingTableSchema.parse((await p.call('GET', '/api/v1/routing')).json).shards[0]!;
  assert.deepEqual([routed.transferTo, routed.epoch], ['node3', 3], 'nodes see the transfer in the routing table');

  // The target reports its leadership: the transfer is done.
  await p.heartbeat({ node_id: 'node3', pid: 4000, routing_version: 10, shards: [], leaders: [{ shard_id: 'shard_0001', term: 2 }] });
  const done = shardSchema.parse((await p.call('GET', '/api/v1/shards/shard_0001')).json);
  assert.deepEqual([done.leader, done.leader_term, done.followers, 'transfer_to' in done], ['node3', 2, ['node1'], false]);

  assert.deepEqual(await eventsSince(p, sinceMs), [
    'shard-replicas-changed shard_0001 add node3 [node1,node2,node3] epoch 2',
    'routing-version-changed 7→8 change-shard-replicas',
    'shard-replicas-changed shard_0001 remove node2 [node1,node3] epoch 3',
    'routing-version-changed 8→9 change-shard-replicas',
    'shard-leader-transfer-requested shard_0001 node3',
    'routing-version-changed 9→10 transfer-shard-leader',
    'shard-leader-changed shard_0001 node1→node3 term 2',
    'routing-version-changed 10→11 set-shard-leaders',
  ]);

  // shard_0002 is on node2 and node3; its last replica cannot go.
  assert.equal((await post('shard_0002', { action: 'remove', node_id: 'node2' })).status, 202);
  const refusals: [shardId: string, body: unknown, status: number, code: string, field: string][] = [
    ['shard_0002', { action: 'remove', node_id: 'node3' }, 409, 'conflict', 'body.node_id'],
    ['shard_0001', { action: 'add', node_id: 'node3' }, 409, 'conflict', 'body.node_id'],
    ['shard_0001', { action: 'remove', node_id: 'node4' }, 409, 'conflict', 'body.node_id'],
    ['shard_0001', { action: 'add', node_id: 'node4', epoch: 2 }, 409, 'conflict', 'body.epoch'],
    ['shard_0001', { action: 'transfer_leader', node_id: 'node3' }, 409, 'conflict', 'body.node_id'],
    ['shard_0001', { action: 'transfer_leader', node_id: 'node2' }, 409, 'conflict', 'body.node_id'],
    ['shard_9999', { action: 'add', node_id: 'node1' }, 404, 'not_found', 'params.id'],
    ['shard_0001', { action: 'add', node_id: 'node9' }, 404, 'not_found', 'body.node_id'],
    ['shard_0001', { action: 'move', node_id: 'node4' }, 400, 'invalid_request', 'body.action'],
    ['shard_0001', { action: 'add' }, 400, 'invalid_request', 'body.node_id'],
    ['shard_0001', { action: 'add', node_id: 'node4', epoch: -1 }, 400, 'invalid_request', 'body.epoch'],
    ['shard_0001', 'add node4', 400, 'invalid_request', 'body'],
  ];
  const versionBefore = await routingVersion(p);
  for (const [shardId, body, status, code, field] of refusals) {
    const answer = await post(shardId, body);
    assert.equal(answer.status, status, `${shardId} ${JSON.stringify(body)}: ${JSON.stringify(answer.json)}`);
    const { error } = errorBodySchema.parse(answer.json);
    assert.deepEqual([error.code, error.field], [code, field], JSON.stringify(body));
    assert.ok(error.message.length > 0);
  }
  assert.equal(await routingVersion(p), versionBefore, 'a refused change is no new routing version');

  const anonymous = await p.call('POST', '/api/v1/shards/shard_0001/replicas', { action: 'add', node_id: 'node4' }, { authorization: '' });
  assert.equal(anonymous.status, 401);
  assert.equal(errorBodySchema.parse(anonymous.json).error.code, 'unauthorized');
});

test('POST /shards/{id}/replicas waits for the shard to elect its first leader: 503 until a node reports one', async (t) => {
  // A founding replica that first sees its shard after a change starts empty and never bootstraps it:
  // a change before the group ever had a leader could leave it with no member able to start it.
  const p = await startTestPilot(t, { expectNodes: 3, shardsPerNode: 1, replicas: 1 });
  for (const port of [17951, 17952, 17953]) await p.join({ port });
  const version = await routingVersion(p);
  for (const body of [
    { action: 'add', node_id: 'node2' },
    { action: 'remove', node_id: 'node1' },
  ]) {
    const refused = await p.call('POST', '/api/v1/shards/shard_0001/replicas', body);
    assert.equal(refused.status, 503, JSON.stringify(refused.json));
    const { error } = errorBodySchema.parse(refused.json);
    assert.equal(error.code, 'unavailable');
    assert.match(error.message, /shard_0001 has not elected its first leader/);
  }
  assert.equal(await routingVersion(p), version, 'a refused change is no new routing version');
  await p.heartbeat({ node_id: 'node1', pid: 4000, routing_version: version, shards: [], leaders: [{ shard_id: 'shard_0001', term: 2 }] });
  const added = await p.call('POST', '/api/v1/shards/shard_0001/replicas', { action: 'add', node_id: 'node2' });
  assert.equal(added.status, 202, JSON.stringify(added.json));
});

test('POST /shards/{id}/replicas refuses an eighth replica with 409', async (t) => {
  const p = await startTestPilot(t, { expectNodes: 8, shardsPerNode: 1, replicas: 7 });
  for (let i = 1; i <= 8; i++) await p.join({ port: 17930 + i });
  const shard = shardSchema.parse((await p.call('GET', '/api/v1/shards/shard_0001')).json);
  assert.deepEqual(shard.replicas, ['node1', 'node2', 'node3', 'node4', 'node5', 'node6', 'node7']);
  await p.heartbeat({ node_id: 'node1', pid: 4000, routing_version: 0, shards: [], leaders: [{ shard_id: 'shard_0001', term: 1 }] });
  const { status, json } = await p.call('POST', '/api/v1/shards/shard_0001/replicas', { action: 'add', node_id: 'node8' });
  assert.equal(status, 409);
  assert.match(errorBodySchema.parse(json).error.message, /7 replicas/);
});

test('split API: POST starts a task, reports move it and show progress, DELETE cancels before the switch', async (t) => {
  const p = await startTestPilot(t, { shardsPerNode: 2, replicas: 1 });
  await p.join({ port: 17401 });

  const bad = await p.call('POST', '/api/v1/shards/shard_0001/split', { split_slot: 'half' });
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(bad.json), /split_slot/);
  assert.equal((await p.call('POST', '/api/v1/shards/shard_0001/split', { unknown_field: 1 })).status, 400);
  assert.equal((await p.call('POST', '/api/v1/shards/shard_9999/split', {})).status, 404);
  assert.equal((await p.call('POST', '/api/v1/shards/shard_0001/split', { split_slot: 9000 })).status, 400, 'outside the shard');

  const created = await p.call('POST', '/api/v1/shards/shard_0001/split', {});
  assert.equal(created.status, 202, JSON.stringify(created.json));
  assert.deepEqual(created.json, { split_task_id: 'split_1', source_shard: 'shard_0001', target_shard: 'shard_0003', status: 'preparing' });
  assert.equal((await p.call('POST', '/api/v1/shards/shard_0002/split', {})).status, 409, 'one split at a time by default');

  const progress = {
    snapshot_done: false,
    snapshot_index: 40,
    snapshot_bytes_sent: 1000,
    snapshot_bytes_total: 4000,
    source_last_index: 45,
    target_applied_index: 40,
    delay: 5,
    buffered_requests: 0,
    eta_seconds: 2,
  };
  const report = (body: Record<string, unknown>): Promise<{ status: number; json: any }> =>
    p.call('POST', '/api/v1/internal/splits/split_1/report', { task_id: 'split_1', node_id: 'node1', term: 3, progress, ...body });
  const reported = await report({ status: 'snapshot_transfer', split_slot: 4000 });
  assert.equal(reported.status, 200, JSON.stringify(reported.json));
  assert.deepEqual(reported.json, { status: 'snapshot_transfer', cancel_requested: false });
  const shown = await p.call('GET', '/api/v1/splits/split_1');
  assert.equal(shown.json.status, 'snapshot_transfer');
  assert.equal(shown.json.split_slot, 4000);
  assert.deepEqual(shown.json.progress, progress);
  assert.deepEqual(Object.keys(shown.json.phases), ['preparing', 'snapshot_transfer']);
  assert.equal(shown.json.params.catchUpThreshold, 100, "seed 000's default");

  const cancel = await p.call('DELETE', '/api/v1/splits/split_1');
  assert.equal(cancel.status, 202);
  assert.equal(cancel.json.cancel_requested, true);
  const routing = await p.call('GET', '/api/v1/routing');
  assert.equal(routing.json.shards.find((s: any) => s.id === 'shard_0001').split.cancelRequested, true);
  assert.deepEqual((await report({ status: 'catching_up' })).json, { status: 'catching_up', cancel_requested: true }, 'the reporter learns of the cancel');
  assert.equal((await report({ status: 'cancelled', term: 2 })).json.status, 'catching_up', 'a report of an older term is ignored');
  assert.equal((await report({ status: 'cancelled' })).json.status, 'cancelled');
  const after = await p.call('GET', '/api/v1/routing');
  assert.equal(
    after.json.shards.some((s: any) => s.id === 'shard_0003'),
    false,
    'the rolled-back target leaves the routing table',
  );
  assert.equal((await p.call('DELETE', '/api/v1/splits/split_1')).status, 409);
  assert.equal((await p.call('GET', '/api/v1/splits/split_9')).status, 404);

  assert.equal((await p.call('POST', '/api/v1/shards/shard_0002/split', { target_nodes: ['node1'] })).status, 202);
  const list = await p.call('GET', '/api/v1/splits');
  assert.deepEqual(
    list.json.splits.map((s: any) => [s.task_id, s.status]),
    [
      ['split_2', 'preparing'],
      ['split_1', 'cancelled'],
    ],
    'newest first',
  );
  const failed = await p.call('POST', '/api/v1/internal/splits/split_2/report', {
    task_id: 'split_2',
    node_id: 'node1',
    term: 1,
    status: 'failed',
    reason: 'buffer timeout: writes held for more than 5000 ms',
    progress,
  });
  assert.equal(failed.json.status, 'failed');
  const metrics = String((await p.call('GET', '/metrics')).json);
  assert.match(metrics, /cleave_split_phase_seconds_count\{phase="snapshot_transfer"\} 1/);
  assert.match(metrics, /cleave_split_failures_total\{reason="buffer timeout"\} 1/);
  const openapi = await p.call('GET', '/api/v1/openapi.json');
  for (const path of ['/api/v1/shards/{id}/split', '/api/v1/splits', '/api/v1/splits/{task_id}']) assert.ok(openapi.json.paths[path], path);
  assert.ok(openapi.json.paths['/api/v1/splits/{task_id}'].delete);
});

test('split API: a completed split keeps the figures of its transfer, not the zeros of the cleanup reports', async (t) => {
  const p = await startTestPilot(t, { shardsPerNode: 2, replicas: 1 });
  await p.join({ port: 17402 });
  assert.equal((await p.call('POST', '/api/v1/shards/shard_0001/split', {})).status, 202);
  const transfer = {
    snapshot_done: true,
    snapshot_index: 40,
    snapshot_bytes_sent: 4000,
    snapshot_bytes_total: 4000,
    source_last_index: 45,
    target_applied_index: 44,
    delay: 1,
    buffered_requests: 3,
    eta_seconds: 0,
  };
  // A leader that took over during cleanup knows none of the transfer's figures.
  const none = {
    snapshot_done: false,
    snapshot_index: 0,
    snapshot_bytes_sent: 0,
    snapshot_bytes_total: 0,
    source_last_index: 0,
    target_applied_index: 0,
    delay: 0,
    buffered_requests: 0,
    eta_seconds: null,
  };
  const report = (status: string, progress: object, extra: object = {}): Promise<{ status: number; json: any }> =>
    p.call('POST', '/api/v1/internal/splits/split_1/report', { task_id: 'split_1', node_id: 'node1', term: 3, status, progress, ...extra });
  for (const status of ['snapshot_transfer', 'catching_up', 'buffering']) assert.equal((await report(status, transfer, { split_slot: 4000 })).status, 200);
  assert.equal((await report('cleanup', none, { term: 4 })).json.status, 'cleanup');
  assert.equal((await report('completed', none, { term: 4 })).json.status, 'completed');
  const shown = await p.call('GET', '/api/v1/splits/split_1');
  assert.equal(shown.json.status, 'completed');
  assert.deepEqual(shown.json.progress, { ...transfer, delay: 0, buffered_requests: 0 });
});

/** Sends raw bytes to the pilot; resolves with the whole answer once the server closes or 2 s pass. */
function rawHttp(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let text = '';
    const done = (): void => {
      socket.destroy();
      resolve(text);
    };
    const timer = setTimeout(done, 2000);
    socket.on('data', (d) => (text += d.toString()));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.on('error', () => undefined);
    socket.write(request);
  });
}

/** The status and the JSON body of a raw HTTP answer. */
function parseRawAnswer(text: string): { status: number; json: unknown } {
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  return { status, json: JSON.parse(body) };
}

test('every HTTP error has the JSON shape of the API: a wrong method (405, with Allow), a bad URL (400), headers too large (431)', async (t) => {
  const p = await startTestPilot(t);
  const wrongMethod = await p.call('PUT', '/api/v1/shards');
  assert.equal(wrongMethod.status, 405);
  assert.equal(errorBodySchema.parse(wrongMethod.json).error.code, 'method_not_allowed');
  assert.match(errorBodySchema.parse(wrongMethod.json).error.message, /GET/);
  assert.equal((await p.call('DELETE', '/api/v1/cluster')).status, 405);
  assert.equal((await p.call('PATCH', '/api/v1/shards/shard_0001')).status, 405);

  const badUrl = parseRawAnswer(await rawHttp(p.pilot.url, 'GET /api/v1/shards/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
  assert.equal(badUrl.status, 400);
  assert.equal(errorBodySchema.parse(badUrl.json).error.code, 'invalid_request');

  const bigHeaders = parseRawAnswer(await rawHttp(p.pilot.url, `GET /api/v1/cluster HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
  assert.equal(bigHeaders.status, 431);
  assert.equal(errorBodySchema.parse(bigHeaders.json).error.code, 'header_fields_too_large');
});

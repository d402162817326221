import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { parsePilotEvents } from '../../src/bench/pilot-events.js';
import { pollUntil } from '../../src/common/poll.js';
import { errorBodySchema, pilotEventListSchema, type PilotEventList } from '../../src/pilot/api-schemas.js';
import { PilotEventLog, type PilotEvent } from '../../src/pilot/event-log.js';
import { startPilot, type PilotOptions } from '../../src/pilot/server.js';

const ADMIN_TOKEN = 'admin-token-for-event-tests';
const CLUSTER_SECRET = 'cluster-secret-for-event-tests';

describe('PilotEventLog', () => {
  const record = (log: PilotEventLog, atMs: number): void => log.record({ kind: 'node-up', at_ms: atMs, node_id: `node${atMs}` });

  it('numbers events from 1 and keeps only the newest `capacity`, oldest first', () => {
    const log = new PilotEventLog(3);
    for (const atMs of [10, 20, 30, 40, 50]) record(log, atMs);
    assert.equal(log.size, 3);
    const { events, truncated } = log.since(0, 10);
    assert.deepEqual(
      events.map((e) => [e.seq, e.at_ms]),
      [
        [3, 30],
        [4, 40],
        [5, 50],
      ],
    );
    assert.equal(truncated, false);
  });

  it('`since` is inclusive; `limit` keeps the newest matches and says it left some out', () => {
    const log = new PilotEventLog(10);
    for (const atMs of [10, 20, 20, 30]) record(log, atMs);
    assert.deepEqual(
      log.since(20, 10).events.map((e) => e.seq),
      [2, 3, 4],
    );
    assert.deepEqual(log.since(31, 10), { events: [], truncated: false });
    const limited = log.since(0, 2);
    assert.deepEqual(
      limited.events.map((e) => e.seq),
      [3, 4],
    );
    assert.equal(limited.truncated, true);
  });

  it('filters by time, not position, so a clock step backwards hides nothing recorded after it', () => {
    const log = new PilotEventLog(10);
    for (const atMs of [100, 50, 120]) record(log, atMs);
    assert.deepEqual(
      log.since(60, 10).events.map((e) => e.seq),
      [1, 3],
    );
  });
});

interface EventsPilot {
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; json: any }>;
  join(port: number, nodeId?: string): Promise<string>;
  heartbeat(nodeId: string): Promise<void>;
  events(query?: string): Promise<PilotEventList>;
}

/** A real pilot on a free port with an admin token, and calls to it. */
async function startEventsPilot(t: TestContext, options: Partial<PilotOptions> = {}): Promise<EventsPilot> {
  const dir = mkdtempSync(join(tmpdir(), 'cleave-pilot-events-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
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
  const request = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-cleave-secret': CLUSTER_SECRET },
  ): Promise<{ status: number; json: any }> => {
    const response = await fetch(`${pilot.url}${path}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: await response.json() };
  };
  const post = async (path: string, body: unknown): Promise<any> => {
    const { status, json } = await request('POST', path, body);
    assert.equal(status, 200, JSON.stringify(json));
    return json;
  };
  return {
    get: (path, headers) => request('GET', path, undefined, headers),
    join: async (port, nodeId) =>
      (await post('/api/v1/internal/join', { ...(nodeId === undefined ? {} : { node_id: nodeId }), host: '127.0.0.1', port, bus_port: port + 1, metrics_port: 0, pid: 4242 }))
        .node_id,
    heartbeat: async (nodeId) => {
      await post('/api/v1/internal/heartbeat', { node_id: nodeId, pid: 4242, routing_version: 0, shards: [] });
    },
    events: async (query = '') => {
      const { status, json } = await request('GET', `/api/v1/events${query}`);
      assert.equal(status, 200, JSON.stringify(json));
      return pilotEventListSchema.parse(json);
    },
  };
}

/** `kind` with the field that says what it is about, for compact assertions. */
function summary(event: PilotEvent): string {
  switch (event.kind) {
    case 'node-registered':
    case 'node-rejoined':
      return `${event.kind} ${event.node_id} ${event.address}`;
    case 'node-up':
    case 'node-down':
      return `${event.kind} ${event.node_id}`;
    case 'keyspace-bootstrapped':
      return `${event.kind} ${event.keyspace} ${event.shard_count}`;
    case 'routing-version-changed':
      return `${event.kind} ${event.previous_version}→${event.routing_version} ${event.cause}`;
    case 'shard-leader-changed':
      return `${event.kind} ${event.shard_id} ${event.from}→${event.to} term ${event.term}`;
    case 'shard-replicas-changed':
      return `${event.kind} ${event.shard_id} ${event.action} ${event.node_id} [${event.replicas.join(',')}] epoch ${event.epoch}`;
    case 'shard-leader-transfer-requested':
      return `${event.kind} ${event.shard_id} ${event.node_id}`;
    case 'split-status-changed':
      return `${event.kind} ${event.task_id} ${event.status}`;
    case 'scheduler-operator':
      return `${event.kind} ${event.scheduler} ${event.operator} ${event.shard_id} ${event.node_id} ${event.outcome}`;
  }
}

test('a node joins: registered, routing version, bootstrap, routing version — in order, numbered, newest last', async (t) => {
  const p = await startEventsPilot(t, { shardsPerNode: 2 });
  const beforeMs = Date.now();
  await p.join(17801);
  const { events, truncated } = await p.events();
  assert.equal(truncated, false);
  assert.deepEqual(events.map(summary), [
    'node-registered node1 127.0.0.1:17801',
    'routing-version-changed 0→1 register-node',
    'keyspace-bootstrapped default 2',
    'routing-version-changed 1→2 bootstrap-keyspace',
  ]);
  assert.deepEqual(
    events.map((e) => e.seq),
    [1, 2, 3, 4],
  );
  for (const event of events) assert.ok(event.at_ms >= beforeMs && event.at_ms <= Date.now(), `at_ms ${event.at_ms} is the time it happened`);

  // The bench's poller reads this very answer.
  assert.deepEqual(
    parsePilotEvents({ events, truncated }).map((e) => e.label),
    ['node-registered node1', 'routing-version-changed v1', 'keyspace-bootstrapped default', 'routing-version-changed v2'],
  );
});

test('`since` keeps only later events, `limit` the newest ones; a rejoin is an event', async (t) => {
  const p = await startEventsPilot(t);
  const nodeId = await p.join(17811);
  const first = await p.events();
  const lastMs = first.events[first.events.length - 1]!.at_ms;
  assert.deepEqual((await p.events(`?since=${lastMs + 1}`)).events, []);

  await sleep(2);
  await p.join(17811, nodeId);
  const later = await p.events(`?since=${lastMs + 1}`);
  assert.deepEqual(later.events.map(summary), ['node-rejoined node1 127.0.0.1:17811']);
  assert.equal(later.events[0]!.kind === 'node-rejoined' && later.events[0]!.pid, 4242);

  const newest = await p.events('?limit=2');
  assert.equal(newest.truncated, true);
  assert.deepEqual(
    newest.events.map((e) => e.seq),
    [4, 5],
  );
});

test('liveness: a silent node is reported down, and up again after a heartbeat', async (t) => {
  const p = await startEventsPilot(t, { nodeTimeoutMs: 150 });
  const nodeId = await p.join(17821);
  const kinds = async (): Promise<string[]> => (await p.events()).events.filter((e) => e.kind === 'node-down' || e.kind === 'node-up').map(summary);
  const waitFor = { timeoutMs: 5000, intervalMs: 50 };
  await pollUntil(async () => (await kinds()).length > 0, { ...waitFor, what: 'a node-down event' });
  assert.deepEqual(await kinds(), ['node-down node1']);
  const down = (await p.events()).events.find((e) => e.kind === 'node-down');
  assert.equal(down?.kind === 'node-down' && down.timeout_ms, 150);

  await p.heartbeat(nodeId);
  await pollUntil(async () => (await kinds()).length > 1, { ...waitFor, what: 'a node-up event' });
  assert.deepEqual((await kinds()).slice(0, 2), ['node-down node1', 'node-up node1']);
});

test('the route checks the admin token and its query, and is in the OpenAPI document', async (t) => {
  const p = await startEventsPilot(t);
  const anonymous = await p.get('/api/v1/events', {});
  assert.equal(anonymous.status, 401);
  assert.equal(errorBodySchema.parse(anonymous.json).error.code, 'unauthorized');
  for (const query of ['?since=-1', '?since=abc', '?limit=0', '?limit=10001']) {
    const { status, json } = await p.get(`/api/v1/events${query}`);
    assert.equal(status, 400, query);
    assert.equal(errorBodySchema.parse(json).error.code, 'invalid_request');
  }

  const document = (await p.get('/api/v1/openapi.json')).json;
  const operation = document.paths['/api/v1/events'].get;
  assert.equal(operation.operationId, 'listEvents');
  assert.deepEqual(operation.security, [{ adminToken: [] }]);
  assert.deepEqual(
    operation.parameters.map((q: { name: string; in: string; required: boolean }) => [q.name, q.in, q.required]),
    [
      ['since', 'query', false],
      ['limit', 'query', false],
    ],
  );
  assert.equal(operation.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/PilotEventList');
  const kinds = document.components.schemas.PilotEvent.anyOf.map((member: { properties: { kind: { const: string } } }) => member.properties.kind.const);
  assert.deepEqual(kinds, [
    'node-registered',
    'node-rejoined',
    'node-up',
    'node-down',
    'keyspace-bootstrapped',
    'routing-version-changed',
    'shard-leader-changed',
    'shard-replicas-changed',
    'shard-leader-transfer-requested',
    'scheduler-operator',
    'split-status-changed',
  ]);
});

/** `cleave shards` and `cleave shards replicas` against a real pilot: output, exit codes, the pilot's messages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startPilot } from '../../src/pilot/server.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ADMIN_TOKEN = 'admin-token-for-cli-tests';
const CLUSTER_SECRET = 'cluster-secret-for-cli-tests';

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function cleave(args: readonly string[]): Promise<CliResult> {
  return new Promise((done) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, CLEAVE_ADMIN_TOKEN: ADMIN_TOKEN } }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
}

test('cleave shards lists leaders and followers; cleave shards replicas changes them, exit 1 with the pilot message on refusal, 2 on usage', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cleave-pilot-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pilot = await startPilot({
    host: '127.0.0.1',
    port: 0,
    dataDir: dir,
    expectNodes: 3,
    shardsPerNode: 1,
    replicas: 2,
    adminToken: ADMIN_TOKEN,
    clusterSecret: CLUSTER_SECRET,
    logger: pino({ level: 'silent' }),
  });
  t.after(() => pilot.close());
  for (const port of [17961, 17962, 17963]) {
    const response = await fetch(`${pilot.url}/api/v1/internal/join`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-cleave-secret': CLUSTER_SECRET },
      body: JSON.stringify({ host: '127.0.0.1', port, bus_port: port + 10000, metrics_port: 0, pid: 1 }),
    });
    assert.equal(response.status, 200);
  }
  const at = ['--pilot', pilot.url];

  const listed = await cleave(['shards', ...at]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(
    listed.stdout
      .trimEnd()
      .split('\n')
      .map((l) => l.split(/\s+/).slice(0, 6)),
    [
      ['ID', 'KEYSPACE', 'SLOTS', 'EPOCH', 'LEADER', 'FOLLOWERS'],
      ['shard_0001', 'default', '0-5461', '1', 'node1', 'node2'],
      ['shard_0002', 'default', '5462-10922', '1', 'node2', 'node3'],
      ['shard_0003', 'default', '10923-16383', '1', 'node3', 'node1'],
    ],
  );

  // Replicas change once the shard's group has had a leader: node1 reports leading it.
  const beat = await fetch(`${pilot.url}/api/v1/internal/heartbeat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-cleave-secret': CLUSTER_SECRET },
    body: JSON.stringify({ node_id: 'node1', pid: 1, routing_version: 0, shards: [], leaders: [{ shard_id: 'shard_0001', term: 1 }] }),
  });
  assert.equal(beat.status, 200);
  const added = await cleave(['shards', 'replicas', 'shard_0001', 'add', 'node3', ...at]);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /^accepted: add node3 to shard_0001/);
  assert.match(added.stdout, /shard_0001\s+default\s+0-5461\s+2\s+node1\s+node2,node3\s/);

  const transfer = await cleave(['shards', ...at, 'replicas', 'shard_0001', 'transfer', 'node2', '--epoch', '2', '--json']);
  assert.equal(transfer.code, 0, transfer.stderr);
  const shard = JSON.parse(transfer.stdout);
  assert.deepEqual([shard.leader, shard.transfer_to, shard.epoch, shard.pending], ['node1', 'node2', 2, true]);

  const refused = await cleave(['shards', 'replicas', 'shard_0001', 'add', 'node2', ...at]);
  assert.deepEqual([refused.code, refused.stdout], [1, '']);
  assert.equal(refused.stderr, 'cleave: the pilot answered 409: node2 is already a replica of shard_0001\n');

  for (const args of [
    ['shards', 'replicas', 'shard_0001', 'swap', 'node2'],
    ['shards', 'replicas', 'shard_0001', 'add'],
    ['shards', 'replicas', 'shard_0001', 'add', 'node2', '--epoch', 'x'],
  ]) {
    const usage = await cleave([...args, ...at]);
    assert.equal(usage.code, 2, `${args.join(' ')}: ${usage.stderr}`);
    assert.equal(usage.stderr.trimEnd().split('\n').length, 1, 'one line');
  }
});

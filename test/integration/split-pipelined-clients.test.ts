/**
 * Pipelining clients see no error while slots change hands. ioredis retries a pipeline only when every
 * failed command got the same error and every other command was a read, so one `MOVED` in a batch of
 * writes over several slots reaches the application. Here ioredis runs with auto-pipelining plus
 * explicit pipelines of writes over many slots while a shard splits and then hands its leadership to
 * another replica: not one command may fail, and every acknowledged write must read back afterwards.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import type { RoutingTable } from '../../src/common/routing.js';
import { keyHashSlot } from '../../src/common/slots.js';
import { TestCluster, waitUntil } from '../support/cluster.js';
import { startSplit, waitForStatus } from '../support/splits.js';
import { clusterSlots, failoverClient, keysInSlots, keysPerRange, Writers } from '../support/writers.js';

/** Keys each explicit pipeline writes, drawn across every slot. */
const PIPELINE_KEYS = 24;

/**
 * Writes batches of keys as explicit pipelines: through a cluster client, one per node as its slot map
 * groups them (a cluster pipeline must stay on one node); through a client of one node, all to that node.
 * Tracks per key the last value acknowledged and attempted.
 */
class PipelineWriter {
  readonly acked = new Map<string, number>();
  readonly attempted = new Map<string, number>();
  errors: string[] = [];
  pipelines = 0;
  regrouped = 0;
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly client: Cluster | Redis,
    private readonly keys: readonly string[],
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    for (let round = 0; this.running; round++) {
      const batch = Array.from({ length: PIPELINE_KEYS }, (_, i) => this.keys[(round * PIPELINE_KEYS + i) % this.keys.length]!);
      const byNode = new Map<string, string[]>();
      // ioredis checks a pipeline's slots against its own groups of nodes (a private field): group alike.
      const groups = this.client instanceof Cluster ? (this.client as unknown as { _groupsBySlot: (number | undefined)[] })._groupsBySlot : [];
      for (const key of new Set(batch)) {
        const group = String(groups[keyHashSlot(Buffer.from(key))]);
        byNode.set(group, [...(byNode.get(group) ?? []), key]);
      }
      await Promise.all([...byNode.values()].map((keys) => this.write(keys)));
    }
  }

  private async write(keys: readonly string[]): Promise<void> {
    const values = keys.map((key) => {
      const value = (this.attempted.get(key) ?? 0) + 1;
      this.attempted.set(key, value);
      return value;
    });
    const pipeline = this.client.pipeline(keys.map((key, i) => ['set', key, String(values[i])]));
    this.pipelines++;
    try {
      const results = (await pipeline.exec()) ?? [];
      results.forEach(([err, reply], i) => {
        if (err === null && reply === 'OK') this.acked.set(keys[i]!, values[i]!);
        else this.errors.push(String(err ?? reply));
      });
    } catch (err) {
      // ioredis refuses, before sending anything, a pipeline whose slots its map no longer groups on one
      // node (its map changed since the batch was grouped): the client's own check, regrouped next round.
      if (String(err).includes('same slots allocation group')) this.regrouped++;
      else this.errors.push(String(err));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** Auto-pipelining, with ioredis's own connection settings (a queued command is retried as it defaults to). */
const PIPELINING: ClusterOptions = { enableAutoPipelining: true, redisOptions: {} };

/** Every acknowledged write of `p` reads back (a later attempted value may have landed too). */
async function verifyPipelineWrites(client: Cluster, p: PipelineWriter): Promise<void> {
  for (const [key, attempted] of p.attempted) {
    const stored = Number((await client.get(key)) ?? 0);
    const acked = p.acked.get(key) ?? 0;
    assert.ok(stored >= acked && stored <= attempted, `${key}: stored ${stored}, acknowledged ${acked}, attempted ${attempted}`);
  }
}

/** A redirect or a refusal to retry: what a node must never answer while another one can serve the slot. */
const ROUTING_ERROR = /MOVED|ASK|TRYAGAIN|CLUSTERDOWN/;

/**
 * What a command in flight to a killed node may get: its connection closed under it, or a forwarded write
 * whose answer never came (it may have run, so it must not be retried as if it had not).
 */
const IN_FLIGHT_ERROR = /Connection is closed|aborted due to connection close|not confirmed|timeout/;

/**
 * ioredis's own refusal, before sending, of an auto-pipelined batch whose slots its map no longer groups on
 * one set of nodes: the kill closes its connections, it reloads the slot map, and the shards the killed
 * node led now list other leaders. No server answer avoids it (docs/ARCHITECTURE.md, request path).
 */
const CLIENT_REGROUPED = /same slots allocation group/;

/** At most this many commands may fail for being in flight to the killed node, or refused by the client. */
const KILL_ERRORS_MAX = 200;

describe('pipelining clients across a split and a leader transfer (3 nodes, 3 replicas)', () => {
  it('auto-pipelined and explicit pipelines of writes over many slots: no error, no acknowledged write lost', async (t) => {
    const cluster = await TestCluster.start({ nodes: 3, replicas: 3 });
    const client = failoverClient(cluster, PIPELINING);
    try {
      const ranges = await clusterSlots(cluster.nodes[0]!.port);
      // Many writers at once: auto-pipelining sends each node's share of them as one batch over many slots.
      const writers = new Writers(client, keysPerRange(ranges, 48, 'auto'), 8);
      const pipelines = [0, 1].map((w) => new PipelineWriter(client, keysInSlots(`pipe${w}`, 600, 0, 16383)));
      const stopAll = async (): Promise<void> => {
        await writers.stop();
        for (const p of pipelines) await p.stop();
      };
      try {
        await new Promise((r) => setTimeout(r, 500));
        const table = (await cluster.api('GET', '/api/v1/routing')).json as RoutingTable;
        const source = table.shards.find((s) => s.start === 0)!;
        const task = await waitForStatus(cluster, await startSplit(cluster, source.id), ['completed', 'failed', 'cancelled']);
        assert.equal(task.status, 'completed', JSON.stringify(task));
        t.diagnostic(`split done: ${writers.acked.size} keys auto-pipelined, ${pipelines[0]!.pipelines + pipelines[1]!.pipelines} pipelines`);

        // Hand the split target's leadership to another replica under the same load.
        const after = (await cluster.api('GET', '/api/v1/routing')).json as RoutingTable;
        const moved = after.shards.find((s) => s.id === task.target_shard)!;
        const to = moved.replicas.find((n) => n !== moved.leader)!;
        const transfer = await cluster.api('POST', `/api/v1/shards/${moved.id}/replicas`, { action: 'transfer_leader', node_id: to });
        assert.ok(transfer.status < 300, JSON.stringify(transfer.json));
        await waitUntil(`${to} to lead ${moved.id}`, async () => {
          const now = (await cluster.api('GET', '/api/v1/routing')).json as RoutingTable;
          return now.shards.find((s) => s.id === moved.id)?.leader === to;
        });
        t.diagnostic(`${moved.id}: leadership moved from ${moved.leader} to ${to}`);
        await new Promise((r) => setTimeout(r, 1000));
      } finally {
        await stopAll();
      }

      const pipelineErrors = pipelines.flatMap((p) => p.errors);
      assert.deepEqual(pipelineErrors.slice(0, 5), [], `${pipelineErrors.length} pipelined writes failed`);
      assert.equal(writers.errors, 0, 'no auto-pipelined write failed');
      assert.ok(writers.acked.size > 0 && pipelines.every((p) => p.acked.size > 0), 'writes were acknowledged');
      await writers.verify((key) => client.get(key));
      for (const p of pipelines) await verifyPipelineWrites(client, p);
    } finally {
      client.disconnect();
      await cluster.stop();
    }
  });
});

describe('pipelining clients across a kill -9 of a shard leader (3 nodes, 3 replicas)', () => {
  it('only commands in flight to the killed node fail, never with a redirect; no acknowledged write lost', async (t) => {
    const cluster = await TestCluster.start({ nodes: 3, replicas: 3 });
    const client = failoverClient(cluster, PIPELINING);
    // The seed node follows the victim's shard: it forwards this client's pipelines to the victim.
    const seedClient = new Redis({ host: '127.0.0.1', port: cluster.nodes[0]!.port });
    seedClient.on('error', () => undefined);
    try {
      const ranges = await clusterSlots(cluster.nodes[0]!.port);
      // The victim leads a shard and is not the seed, which every client here may connect to.
      const table = (await cluster.api('GET', '/api/v1/routing')).json as RoutingTable;
      const seed = table.nodes.find((n) => n.port === cluster.nodes[0]!.port)!.id;
      const led = table.shards.find((s) => s.leader !== null && s.leader !== seed)!;
      const victimPort = table.nodes.find((n) => n.id === led.leader)!.port;
      const victim = cluster.nodes.find((n) => n.port === victimPort)!;
      const writers = new Writers(client, keysPerRange(ranges, 48, 'auto'), 8);
      const pipelines = [
        ...[0, 1].map((w) => new PipelineWriter(client, keysInSlots(`pipe${w}`, 600, 0, 16383))),
        new PipelineWriter(seedClient, keysInSlots('seed', 200, led.start, led.end - 1)),
      ];
      try {
        await new Promise((r) => setTimeout(r, 500));
        await victim.kill('SIGKILL');
        await waitUntil(`${led.id} led by a live node`, async () => {
          const now = (await cluster.api('GET', '/api/v1/routing')).json as RoutingTable;
          return now.shards.every((s) => s.leader !== null && s.leader !== led.leader);
        });
        t.diagnostic(`${victim.name} killed: ${led.id} now led elsewhere`);
        await new Promise((r) => setTimeout(r, 1000));
        victim.start();
        await cluster.waitForNode(victim);
        await new Promise((r) => setTimeout(r, 1000));
      } finally {
        await writers.stop();
        for (const p of pipelines) await p.stop();
      }

      const errors = [...writers.errorMessages, ...pipelines.flatMap((p) => p.errors)];
      const routing = errors.filter((e) => ROUTING_ERROR.test(e));
      const inFlight = errors.filter((e) => IN_FLIGHT_ERROR.test(e)).length;
      const regrouped = errors.filter((e) => CLIENT_REGROUPED.test(e)).length;
      const other = errors.filter((e) => !ROUTING_ERROR.test(e) && !IN_FLIGHT_ERROR.test(e) && !CLIENT_REGROUPED.test(e));
      t.diagnostic(`${errors.length} errors: ${inFlight} in flight to the killed node, ${regrouped} auto-pipelined batches refused by the client`);
      assert.deepEqual(routing.slice(0, 5), [], `${routing.length} commands got a redirect or a refusal`);
      assert.deepEqual(other.slice(0, 5), [], `${other.length} commands failed otherwise`);
      assert.ok(inFlight + regrouped <= KILL_ERRORS_MAX, `${inFlight} commands in flight to the killed node failed, ${regrouped} refused by the client`);
      assert.ok(writers.acked.size > 0 && pipelines.every((p) => p.acked.size > 0), 'writes were acknowledged');
      await writers.verify((key) => client.get(key));
      for (const p of pipelines) await verifyPipelineWrites(client, p);
    } finally {
      client.disconnect();
      seedClient.disconnect();
      await cluster.stop();
    }
  });
});

/**
 * What the integration tests that write under faults share: the slot ranges CLUSTER SLOTS reports, keys
 * in each range, an ioredis Cluster client that rides out failovers and splits on its own, and writers
 * whose history shows whether an acknowledged write was lost.
 */
import assert from 'node:assert/strict';
import { Cluster, type ClusterOptions } from 'ioredis';
import { keyHashSlot } from '../../src/common/slots.js';
import { respRequest } from '../../src/client/resp-request.js';
import type { TestCluster } from './cluster.js';

/** What CLUSTER SLOTS says: each range's master port and replica ports. */
export interface SlotRange {
  readonly start: number;
  readonly end: number;
  readonly master: number;
  readonly replicas: readonly number[];
}

export async function clusterSlots(port: number): Promise<SlotRange[]> {
  const [reply] = (await respRequest('127.0.0.1', port, [['CLUSTER', 'SLOTS']], 2000)) as unknown[][][];
  return (reply ?? []).map((range) => {
    const nodes = range.slice(2) as unknown[][];
    return { start: Number(range[0]), end: Number(range[1]), master: Number(nodes[0]![1]), replicas: nodes.slice(1).map((n) => Number(n[1])) };
  });
}

/** `perRange` keys in each slot range, so every shard gets written; `prefix` keeps tests on one cluster apart. */
export function keysPerRange(ranges: readonly SlotRange[], perRange: number, prefix = 'r'): string[][] {
  return ranges.map((range) => {
    const keys: string[] = [];
    for (let i = 0; keys.length < perRange; i++) {
      const key = `${prefix}${range.start}:${i}`;
      const slot = keyHashSlot(Buffer.from(key));
      if (slot >= range.start && slot <= range.end) keys.push(key);
    }
    return keys;
  });
}

/** `count` keys in slots [from, end]. */
export function keysInSlots(prefix: string, count: number, from: number, end: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `${prefix}:${i}`;
    const slot = keyHashSlot(Buffer.from(key));
    if (slot >= from && slot <= end) keys.push(key);
  }
  return keys;
}

/** Writes `value(key)` to every key, 200 at a time. */
export async function setAll(client: Cluster, keys: readonly string[], value: (key: string) => string): Promise<void> {
  for (let i = 0; i < keys.length; i += 200) await Promise.all(keys.slice(i, i + 200).map((key) => client.set(key, value(key))));
}

/** Checks that every key reads `value(key)`, 200 at a time. */
export async function assertAllReadable(client: Cluster, keys: readonly string[], value: (key: string) => string): Promise<void> {
  for (let i = 0; i < keys.length; i += 200) {
    const batch = keys.slice(i, i + 200);
    const values = await Promise.all(batch.map((key) => client.get(key)));
    for (const [j, key] of batch.entries()) assert.equal(values[j], value(key), `${key} after the split`);
  }
}

/**
 * A client that follows failovers on its own: redirects, TRYAGAIN and lost connections are retried.
 * `options` adds to or replaces its settings.
 */
export function failoverClient(cluster: TestCluster, options: ClusterOptions = {}): Cluster {
  const client = new Cluster(cluster.startupNodes, {
    scaleReads: 'master',
    maxRedirections: 200,
    retryDelayOnFailover: 50,
    retryDelayOnTryAgain: 50,
    retryDelayOnClusterDown: 50,
    slotsRefreshTimeout: 500,
    redisOptions: { connectTimeout: 500, maxRetriesPerRequest: 5 },
    ...options,
  });
  // While every node is down the client reports failed slot refreshes; the writes themselves fail.
  client.on('error', () => undefined);
  return client;
}

/**
 * Writers that each own some keys and write increasing values to them one at a time. Per key they track
 * the last value acknowledged and the last value attempted: afterwards the stored value must lie between
 * the two (an unacknowledged write may or may not have happened; an acknowledged one must not vanish).
 */
export class Writers {
  readonly acked = new Map<string, number>();
  readonly attempted = new Map<string, number>();
  /** Per range, times (ms) of acknowledged writes. */
  readonly ackTimes: number[][];
  errors = 0;
  /** The message of each failed write. */
  readonly errorMessages: string[] = [];
  private running = true;
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly client: Cluster,
    keys: readonly string[][],
    writersPerRange: number,
  ) {
    this.ackTimes = keys.map(() => []);
    keys.forEach((rangeKeys, range) => {
      for (let w = 0; w < writersPerRange; w++) {
        const own = rangeKeys.filter((_, i) => i % writersPerRange === w);
        this.loops.push(this.loop(range, own));
      }
    });
  }

  private async loop(range: number, keys: readonly string[]): Promise<void> {
    let n = 0;
    while (this.running) {
      const key = keys[n % keys.length]!;
      const value = (this.attempted.get(key) ?? 0) + 1;
      this.attempted.set(key, value);
      n++;
      try {
        // A client with every node down queues commands forever: give up on one after a while (its
        // outcome stays unknown, which the check allows).
        const reply = await Promise.race([this.client.set(key, String(value)), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 3000))]);
        assert.equal(reply, 'OK');
        this.acked.set(key, value);
        this.ackTimes[range]!.push(Date.now());
      } catch (err) {
        this.errors++;
        this.errorMessages.push(String(err));
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Checks every key against what a reader sees now; returns the number of keys checked. */
  async verify(read: (key: string) => Promise<string | null>): Promise<number> {
    for (const [key, attempted] of this.attempted) {
      const stored = Number((await read(key)) ?? 0);
      const acked = this.acked.get(key) ?? 0;
      assert.ok(stored >= acked && stored <= attempted, `${key}: stored ${stored}, acknowledged ${acked}, attempted ${attempted}`);
    }
    return this.attempted.size;
  }
}

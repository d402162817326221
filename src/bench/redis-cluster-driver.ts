import { Cluster, type Redis } from 'ioredis';
import { SLOT_COUNT, keyHashSlot } from '../common/slots.js';
import { RecordNotFoundError, type KvDriver } from './kv-driver.js';

/** Where the cluster is and how patient the client is. */
export interface RedisClusterDriverOptions {
  readonly host: string;
  readonly port: number;
  /** A command still unanswered after this long fails as `TIMEOUT` instead of stalling its loop. */
  readonly commandTimeoutMs?: number;
}

/** At most this many slots are asked for their keys in one round of a scan, bounding its fan-out. */
const SCAN_SLOTS_PER_ROUND_MAX = 512;

/**
 * A `KvDriver` over any Redis Cluster endpoint through ioredis's cluster client, which follows MOVED
 * and ASK itself (so they never surface as errors) and auto-pipelines commands issued in the same
 * tick into one write per node.
 *
 * Records are hashes, as YCSB's redis binding stores them: insert and update are HSET, read is
 * HGETALL. Scans do not use the binding's single `_indices` sorted set: on a cluster that is one key on
 * one shard that every insert and scan would hit, so the benchmark would measure that shard. Instead a
 * scan walks the default keyspace in its routing order (slot order from the start key's slot, each
 * slot's keys as CLUSTER GETKEYSINSLOT lists them, asked of the master owning the slot) and reads each
 * record with HGETALL: the same work as YCSB's range scan (find the start, read `length` neighbouring
 * records) over a keyspace that has no key order. Range keyspaces will let scans use KS.SCAN instead.
 */
export class RedisClusterDriver implements KvDriver {
  private readonly cluster: Cluster;
  /** Running estimate of keys per slot, so a scan asks for about as many slots as it needs at once. */
  private keysPerSlot = 1;

  private constructor(cluster: Cluster) {
    this.cluster = cluster;
  }

  /** Connects and waits until the slot map is known. */
  static async connect(options: RedisClusterDriverOptions): Promise<RedisClusterDriver> {
    const cluster = new Cluster([{ host: options.host, port: options.port }], {
      enableAutoPipelining: true,
      scaleReads: 'master',
      enableReadyCheck: true,
      lazyConnect: true,
      redisOptions: { commandTimeout: options.commandTimeoutMs ?? 10_000, maxRetriesPerRequest: 2 },
    });
    // Connection errors surface through failed commands, which are counted; the event only needs a listener.
    cluster.on('error', () => {});
    await cluster.connect();
    return new RedisClusterDriver(cluster);
  }

  async read(key: string): Promise<void> {
    const record = await this.cluster.hgetall(key);
    if (Object.keys(record).length === 0) throw new RecordNotFoundError(key);
  }

  async update(key: string, values: readonly string[]): Promise<void> {
    await this.cluster.hset(key, ...values);
  }

  async insert(key: string, values: readonly string[]): Promise<void> {
    await this.cluster.hset(key, ...values);
  }

  async scan(startKey: string, length: number): Promise<void> {
    const keys = await this.keysFrom(keyHashSlot(Buffer.from(startKey)), length);
    // Records deleted between listing and reading are skipped, as YCSB's scan tolerates.
    await Promise.all(keys.map((key) => this.cluster.hgetall(key)));
  }

  async close(): Promise<void> {
    await this.cluster.quit().catch(() => this.cluster.disconnect());
  }

  private async keysFrom(firstSlot: number, length: number): Promise<string[]> {
    const keys: string[] = [];
    let slot = firstSlot;
    let slotsVisited = 0;
    while (keys.length < length && slotsVisited < SLOT_COUNT) {
      const wanted = length - keys.length;
      const slotCount = Math.min(SCAN_SLOTS_PER_ROUND_MAX, SLOT_COUNT - slotsVisited, Math.ceil(wanted / this.keysPerSlot));
      const nodes = this.nodesByKey();
      const replies = await Promise.all(
        Array.from({ length: slotCount }, (_, i) => {
          const s = (slot + i) % SLOT_COUNT;
          const node = nodes.get(this.cluster.slots[s]?.[0] ?? '');
          // A slot no node claims (mid-reconfiguration) simply holds no keys for this scan.
          return node === undefined ? Promise.resolve([] as string[]) : (node.call('CLUSTER', 'GETKEYSINSLOT', s, wanted) as Promise<string[]>);
        }),
      );
      let found = 0;
      for (const reply of replies) {
        found += reply.length;
        for (const key of reply) if (keys.length < length) keys.push(key);
      }
      // Smoothed so one empty or crowded round does not swing the next round's size wildly.
      this.keysPerSlot = Math.max(1 / 64, 0.5 * this.keysPerSlot + 0.5 * (found / slotCount));
      slot = (slot + slotCount) % SLOT_COUNT;
      slotsVisited += slotCount;
    }
    return keys;
  }

  private nodesByKey(): Map<string, Redis> {
    const result = new Map<string, Redis>();
    for (const node of this.cluster.nodes('master')) result.set(`${node.options.host}:${node.options.port}`, node);
    return result;
  }
}

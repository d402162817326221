/**
 * A simulated node's disk: the real NodeStore over an in-memory LMDB environment (fake-lmdb.ts) whose
 * transactions land one fsync delay later on the simulation's clock. `crash()` keeps what landed and
 * returns the image a restarted node's store opens on; see fake-lmdb.ts for what survives.
 */
import type { Environment } from '../../src/common/environment.js';
import { NodeStore } from '../../src/storage/node-store.js';
import { emptyFakeLmdbImage, openFakeLmdb, type FakeLmdbEnvironment, type FakeLmdbImage } from './fake-lmdb.js';
import { Scheduler } from './scheduler.js';

export { emptyFakeLmdbImage, type FakeLmdbImage } from './fake-lmdb.js';

export interface SimStoreOptions {
  /** The clock fsyncs are scheduled on: the simulation's scheduler, or any `after` (real timers in a unit test). */
  readonly timers: Scheduler | Pick<Environment, 'after'>;
  /** Ms from a transaction's first write to its fsync, or a function drawing it per transaction. Default 1. */
  readonly fsyncDelayMs?: number | (() => number);
  /** What the disk holds: a crashed node's image; a new, empty disk by default. */
  readonly image?: FakeLmdbImage;
  /** Most named DBs open at once, as NodeStoreOptions.databasesMax. */
  readonly databasesMax?: number;
}

/** One node's store and the environment under it. */
export interface SimStore {
  readonly store: NodeStore;
  readonly environment: FakeLmdbEnvironment;
  /**
   * The power goes out: everything not landed is lost and its commits never settle; returns what is on
   * disk. From now on whatever reaches LMDB throws, but a shard or log still answers from memory what its
   * overlay or cache holds: the simulation stops the dead node's code.
   */
  crash(): FakeLmdbImage;
  /** A clean stop: closes the store (which commits what is pending and waits for it), then returns what is on disk. */
  stop(): Promise<FakeLmdbImage>;
}

/** Opens a NodeStore over a fake environment on `options.image` (or an empty disk). */
export function openSimStore(options: SimStoreOptions): SimStore {
  const delay = options.fsyncDelayMs ?? 1;
  const environment = openFakeLmdb(options.image ?? emptyFakeLmdbImage(), {
    timers: options.timers instanceof Scheduler ? schedulerTimers(options.timers) : options.timers,
    fsyncDelayMs: typeof delay === 'number' ? () => delay : delay,
    ...(options.databasesMax === undefined ? {} : { databasesMax: options.databasesMax }),
  });
  const store = NodeStore.over(environment.asRoot());
  return {
    store,
    environment,
    crash: () => environment.crash(),
    stop: async () => {
      await store.close();
      return environment.crash();
    },
  };
}

function schedulerTimers(scheduler: Scheduler): Pick<Environment, 'after'> {
  return {
    after: (ms, fn) => {
      const id = scheduler.after(ms, fn);
      return () => void scheduler.cancel(id);
    },
  };
}

/**
 * A store over `image` for reading what a restarted node would find. The image is copied and the copy is
 * dropped; nothing it writes lands (a log's background deletion, say), so it schedules nothing.
 */
export function storeOnImage(image: FakeLmdbImage): NodeStore {
  return openSimStore({ timers: { after: () => () => {} }, image }).store;
}

/** What a disk image says each Raft group had applied: the checker's floor for the node's next incarnation. */
export function appliedIndexes(image: FakeLmdbImage): Map<string, number> {
  const store = storeOnImage(image);
  return new Map(store.raftGroupIds().map((groupId) => [groupId, store.openRaftLog(groupId).appliedIndex()]));
}

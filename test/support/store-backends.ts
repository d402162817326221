/**
 * The environments the storage tests run NodeStore on: real LMDB in a temporary directory, and the
 * simulation's in-memory fake (test/sim/fake-lmdb.ts) on real timers. Every storage behaviour test runs on
 * both, which is what shows the fake behaves as LMDB does.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as lmdbOpen } from 'lmdb';
import type { Environment } from '../../src/common/environment.js';
import { NodeStore, type NodeStoreOptions } from '../../src/storage/node-store.js';
import { emptyFakeLmdbImage, openFakeLmdb, type FakeLmdbEnvironment, type FakeLmdbImage } from '../sim/fake-lmdb.js';

/** One node's disk: stores opened on it one after another see what the previous ones made durable. */
export interface StoreDisk {
  /** A store on the disk; the previous one must be closed first. Every store is closed after the test. */
  open(): NodeStore;
  /** The keys of named DB `dbName` as stored; the store must be closed. */
  storedKeys(dbName: string): Promise<Buffer[]>;
}

export interface StoreBackend {
  readonly name: string;
  /** A new, empty disk, removed after the test. */
  disk(t: TestContext, options?: NodeStoreOptions): StoreDisk;
}

const BINARY_DB_OPTIONS = { keyEncoding: 'binary', encoding: 'binary', create: false } as const;

const LMDB_BACKEND: StoreBackend = {
  name: 'LMDB',
  disk: (t, options = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'cleave-store-'));
    const stores: NodeStore[] = [];
    t.after(async () => {
      for (const store of stores) await store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return {
      open: () => {
        const store = NodeStore.open(dir, options);
        stores.push(store);
        return store;
      },
      storedKeys: async (dbName) => {
        const env = lmdbOpen({ path: dir, maxDbs: options.databasesMax ?? 64 });
        const db = env.openDB<Buffer, Buffer>(dbName, BINARY_DB_OPTIONS);
        const keys = db === undefined ? [] : [...db.getKeys()];
        await env.close();
        return keys;
      },
    };
  },
};

/** Real timers: a fsync delay of 0 lands the transaction after the current event turn, as LMDB's write thread would. */
export const REAL_TIMERS: Pick<Environment, 'after'> = {
  after: (ms, fn) => {
    if (ms === 0) {
      const immediate = setImmediate(fn);
      return () => clearImmediate(immediate);
    }
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

const FAKE_BACKEND: StoreBackend = {
  name: 'fake LMDB',
  disk: (t, options = {}) => {
    let image: FakeLmdbImage = emptyFakeLmdbImage();
    let environment: FakeLmdbEnvironment | undefined;
    const stores: NodeStore[] = [];
    t.after(async () => {
      for (const store of stores) await store.close();
    });
    /** What the disk holds once the current environment is closed. */
    const imageNow = (): FakeLmdbImage => {
      if (environment !== undefined) {
        assert.ok(!environment.isOpen, 'close the store before opening another on its disk');
        image = environment.crash();
        environment = undefined;
      }
      return image;
    };
    return {
      open: () => {
        const current = imageNow();
        environment = openFakeLmdb(current, {
          timers: REAL_TIMERS,
          fsyncDelayMs: () => 0,
          ...(options.databasesMax === undefined ? {} : { databasesMax: options.databasesMax }),
        });
        const store = NodeStore.over(environment.asRoot());
        stores.push(store);
        return store;
      },
      storedKeys: async (dbName) => {
        const reader = openFakeLmdb(imageNow(), { timers: REAL_TIMERS, fsyncDelayMs: () => 0 });
        const db = reader.openDB(dbName, BINARY_DB_OPTIONS);
        const keys = db === undefined ? [] : [...db.getKeys()].map((key) => key as Buffer);
        await reader.close();
        return keys;
      },
    };
  },
};

export const STORE_BACKENDS: readonly StoreBackend[] = [LMDB_BACKEND, FAKE_BACKEND];

/** Registers the test once per backend, named `name [backend]`. */
export function testOnEachBackend(name: string, body: (t: TestContext, backend: StoreBackend) => Promise<void>): void {
  for (const backend of STORE_BACKENDS) test(`${name} [${backend.name}]`, (t) => body(t, backend));
}

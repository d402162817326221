/**
 * What the shard-layer tests share: the shard data kinds they run over (real LMDB and the in-memory
 * double), a replica fed its log one entry after another, and a helper that reads a snapshot to its end.
 */
import type { TestContext } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveCommand } from '../../src/commands/table.js';
import { runToEnd, SlicedApply } from '../../src/common/sliced-apply.js';
import type { Entry } from '../../src/raft/index.js';
import type { Reply } from '../../src/resp/reply.js';
import { encodeShardCommand, type ShardCommand } from '../../src/shard/shard-command.js';
import type { ShardReplica } from '../../src/shard/shard-replica.js';
import type { SplitApplyResult } from '../../src/shard/split-state.js';
import { NodeStore } from '../../src/storage/node-store.js';
import type { ShardData, ShardSnapshotChunk, ShardSnapshotReader } from '../../src/storage/types.js';
import { MemoryShardData } from './memory-shard-data.js';

/** LMDB map size for a test's node store: the tests write a few keys. */
const TEST_MAP_BYTES = 64 * 1024 ** 2;

export interface ShardStorage {
  readonly name: string;
  /** A fresh shard's data; `reopen` gives the same shard after a restart (null when the kind has no restart). */
  open(t: TestContext, shardId: string): { data: ShardData; reopen: (() => Promise<ShardData>) | null };
}

export const SHARD_STORAGES: readonly ShardStorage[] = [
  { name: 'in memory', open: (_t, shardId) => ({ data: new MemoryShardData(shardId), reopen: null }) },
  {
    name: 'LMDB',
    open: (t, shardId) => {
      const dir = mkdtempSync(join(tmpdir(), 'cleave-shard-'));
      let store = NodeStore.open(dir, { mapBytes: TEST_MAP_BYTES });
      t.after(async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      });
      return {
        data: store.openShard(shardId),
        reopen: async () => {
          await store.close();
          store = NodeStore.open(dir, { mapBytes: TEST_MAP_BYTES });
          return store.openShard(shardId);
        },
      };
    },
  },
];

/** Every chunk of `reader`, `maxBytes` at a time; closes it. */
export function readChunks(reader: ShardSnapshotReader, maxBytes: number): ShardSnapshotChunk[] {
  const chunks: ShardSnapshotChunk[] = [];
  try {
    let cursor: Uint8Array | null = null;
    do {
      const chunk = reader.chunk(cursor, maxBytes);
      chunks.push(chunk);
      cursor = chunk.next;
    } while (cursor !== null);
  } finally {
    reader.close();
  }
  return chunks;
}

/** A replica fed entries of its log one index after another. */
export class LogFedReplica {
  private index = 0;
  constructor(readonly replica: ShardReplica) {}

  apply(command: ShardCommand): Reply | SplitApplyResult {
    this.index++;
    const entry: Entry = { term: 1, index: this.index, type: 'normal', data: encodeShardCommand(command) };
    const result = this.replica.apply(entry);
    return result instanceof SlicedApply ? (runToEnd(result.slices) as Reply) : result;
  }

  split(command: ShardCommand): SplitApplyResult {
    return this.apply(command) as SplitApplyResult;
  }

  /** A key command proposed by a leader whose clock read `nowMs`. */
  write(nowMs: number, command: string): Reply {
    return this.apply({ kind: 'command', nowMs, argv: command.split(' ').map((a) => Buffer.from(a)) }) as Reply;
  }

  set(key: string, value: string): Reply {
    return this.apply({ kind: 'command', nowMs: 1, argv: [Buffer.from('SET'), Buffer.from(key), Buffer.from(value)] }) as Reply;
  }

  /** A read served here while the local clock reads `localMs`. */
  read(localMs: number, command: string): Reply {
    const argv = command.split(' ').map((a) => Buffer.from(a));
    const resolved = resolveCommand(argv);
    if ('error' in resolved) return resolved.error;
    return this.replica.read(resolved.spec, argv, localMs, () => 0, 2);
  }

  /** The string stored under `key`, read straight from the data. */
  get(key: string): string | undefined {
    const stored = this.replica.data.get(Buffer.from(key));
    return stored?.type === 'string' ? stored.value.toString() : undefined;
  }

  expireAtMs(key: string): number | undefined {
    return this.replica.data.get(Buffer.from(key))?.expireAtMs;
  }

  get lastIndex(): number {
    return this.index;
  }
}

/**
 * A group whose log holds an entry the node cannot decode — a command its state machine rejects, or
 * stored bytes that are not an entry — is stopped alone: the other groups of the node keep serving, and
 * the stopped group's durable state stays as of the last entry it applied. One-member groups on LMDB.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as lmdbOpen } from 'lmdb';
import { pollUntil } from '../../src/common/poll.js';
import { type GroupFaultError, MultiRaft, RaftRequestError } from '../../src/multiraft/multi-raft.js';
import { OK } from '../../src/resp/reply.js';
import { encodeShardCommand } from '../../src/shard/shard-command.js';
import { ShardReplica } from '../../src/shard/shard-replica.js';
import { NodeStore } from '../../src/storage/node-store.js';
import { testMultiRaftConfig } from '../support/test-multi-raft-config.js';
import { raftLogDbName } from '../../src/storage/raft-group-ids.js';
import { encodeIndexKey } from '../../src/storage/raft-log-encoding.js';

const GROUPS = ['a', 'b'] as const;
/** MessagePack for [99]: an array whose kind code no shard command has. */
const UNKNOWN_COMMAND = Buffer.from([0x91, 0x63]);

function set(key: string, value: string): Uint8Array {
  return encodeShardCommand({ kind: 'command', nowMs: 0, argv: [Buffer.from('SET'), Buffer.from(key), Buffer.from(value)] });
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'cleave-fault-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs until `done()` holds, or fails after `timeoutMs`. */
function until(what: string, done: () => boolean, timeoutMs = 5_000): Promise<void> {
  return pollUntil(done, { what, timeoutMs, intervalMs: 2 });
}

/** A node's groups on the store in `dir`, each the only member of its group; the host closes a refused group's storage, as ShardGroups does. */
async function startNode(t: TestContext, dir: string) {
  const store = NodeStore.open(dir, { mapBytes: 64 * 1024 ** 2, databasesMax: 16 });
  const faults: GroupFaultError[] = [];
  const multiRaft = new MultiRaft(testMultiRaftConfig(1), {
    send: () => {},
    persist: () => store.commitAll(),
    schedule: (fn) => void setImmediate(fn),
    onGroupFault: (groupId, fault) => {
      faults.push(fault);
      store.closeShard(groupId, 'was refused');
    },
    onFatal: (error) => assert.fail(String(error)),
  });
  const ticker = setInterval(() => multiRaft.tick(), 2);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    clearInterval(ticker);
    multiRaft.close();
    await store.close();
  };
  t.after(stop);
  const replicas = new Map<string, ShardReplica>();
  for (const id of GROUPS) {
    const log = store.openRaftLog(id);
    if (log.lastIndex() === 0) log.bootstrap([1]);
    const replica = new ShardReplica(id, store.openShard(id));
    replicas.set(id, replica);
    multiRaft.addGroup(id, log, replica);
    multiRaft.campaign(id);
  }
  await until('both groups lead, or one is refused', () => GROUPS.every((id) => multiRaft.leadership(id)?.role === 'leader' || faults.some((f) => f.groupId === id)));
  return { store, multiRaft, replicas, faults, stop };
}

/** The string stored under `key` in a replica's data, if any. */
function read(replica: ShardReplica, key: string): string | undefined {
  const value = replica.data.get(Buffer.from(key));
  return value?.type === 'string' ? value.value.toString() : undefined;
}

describe('MultiRaft: a group that cannot decode an entry', () => {
  it('is stopped at that entry, with nothing of the failed turn durable, while the other group serves', async (t) => {
    const dir = tempDir(t);
    const node = await startNode(t, dir);
    assert.deepEqual(await node.multiRaft.propose('a', set('k1', 'v1')), OK);
    assert.deepEqual(await node.multiRaft.propose('b', set('k1', 'v1')), OK);
    const badIndex = node.multiRaft.status('a')!.lastIndex + 1;
    // Proposed together: the entry after the bad one is committed in the same Ready, and never applied.
    const bad = node.multiRaft.propose('a', UNKNOWN_COMMAND);
    const after = node.multiRaft.propose('a', set('k2', 'v2'));
    await assert.rejects(bad, (err) => err instanceof RaftRequestError && err.reason === 'timeout');
    await assert.rejects(after, (err) => err instanceof RaftRequestError && err.reason === 'timeout');
    assert.deepEqual(
      node.faults.map((f) => [f.groupId, f.index]),
      [['a', badIndex]],
    );
    assert.match(node.faults[0]!.message, /unknown shard command code 99/);
    assert.deepEqual(node.multiRaft.groupIds(), ['b']);
    await assert.rejects(node.multiRaft.propose('a', set('k3', 'v3')), (err) => err instanceof RaftRequestError && err.reason === 'removed');
    assert.deepEqual(await node.multiRaft.propose('b', set('k2', 'v2')), OK);
    await node.multiRaft.readBarrier('b');
    assert.deepEqual([read(node.replicas.get('b')!, 'k1'), read(node.replicas.get('b')!, 'k2')], ['v1', 'v2']);
    assert.throws(() => node.store.openShard('a'), /was refused/);
    await node.stop();

    // What the group staged in the failed turn is discarded: a one-member group commits on append, so
    // the bad entry never became durable, and neither did anything applied with it.
    const store = NodeStore.open(dir, { mapBytes: 64 * 1024 ** 2, databasesMax: 16 });
    t.after(() => store.close());
    const log = store.openRaftLog('a');
    assert.deepEqual([log.appliedIndex(), log.lastIndex()], [badIndex - 1, badIndex - 1]);
    const data = store.openShard('a');
    assert.deepEqual([data.get(Buffer.from('k1'))?.type, data.get(Buffer.from('k2'))], ['string', undefined]);
  });

  it('is stopped when a stored log entry is not an entry, while the other group serves', async (t) => {
    const dir = tempDir(t);
    let node = await startNode(t, dir);
    for (const id of GROUPS) for (let i = 0; i < 3; i++) assert.deepEqual(await node.multiRaft.propose(id, set(`k${i}`, `v${i}`)), OK);
    const corruptIndex = node.multiRaft.status('a')!.lastIndex - 1;
    await node.stop();
    const env = lmdbOpen({ path: dir, maxDbs: 16 });
    await env.openDB(raftLogDbName('a'), { keyEncoding: 'binary', encoding: 'binary' }).put(encodeIndexKey(corruptIndex), Buffer.from([0]));
    await env.close();

    node = await startNode(t, dir);
    assert.deepEqual(
      node.faults.map((f) => [f.groupId, f.index]),
      [['a', undefined]],
    );
    assert.match(node.faults[0]!.message, new RegExp(`log entry ${corruptIndex} is too short`));
    assert.deepEqual(node.multiRaft.groupIds(), ['b']);
    assert.deepEqual(await node.multiRaft.propose('b', set('k9', 'v9')), OK);
    await node.multiRaft.readBarrier('b');
    assert.equal(read(node.replicas.get('b')!, 'k9'), 'v9');
  });
});

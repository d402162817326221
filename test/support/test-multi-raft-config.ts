import type { MultiRaftConfig } from '../../src/multiraft/multi-raft.js';
import type { NodeId } from '../../src/raft/index.js';

/**
 * The MultiRaft settings the driver's tests share: 10-tick elections, a heartbeat every tick, a fixed
 * random draw (so the lone campaigner wins at once) and no compaction; `overrides` for what a test varies.
 */
export function testMultiRaftConfig(id: NodeId, overrides: Partial<MultiRaftConfig> = {}): MultiRaftConfig {
  return {
    id,
    electionTicks: 10,
    heartbeatTicks: 1,
    random: () => 0.5,
    requestTimeoutTicks: 1000,
    snapshotChunkBytes: 1024,
    snapshotIdleTicks: 100,
    compactAfterEntries: 1_000_000,
    compactKeepEntries: 0,
    ...overrides,
  };
}

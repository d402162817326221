/**
 * Durable storage for the whole-cluster simulation, with crashes: what a simulated node keeps on disk.
 *
 * A node's `SimDisk` stands in for its NodeStore (one LMDB environment): it opens a `CrashableRaftLog`
 * per Raft group (LmdbRaftLogStorage's methods) and a `CrashableShardData` per shard (ShardData, as
 * LmdbShardData behaves), and keeps node metadata. Writes are visible at once and become durable only
 * when a commit's batch is fsync'd, at a virtual time the scheduler decides; `crash()` drops, atomically,
 * everything not yet fsync'd and returns the `DiskImage` a restarted node's SimDisk is built from.
 *
 * The driver commits a whole loop turn of one node — every group's log entries, hard state, applied data
 * and applied index — with one `SimDisk.commitAll()`, and lets nothing out (messages, replies) before it
 * resolves: that is what keeps applied data and applied index together across a crash, exactly as
 * NodeStore.commitAll does on LMDB.
 */
export { CrashableRaftLog, type SnapshotSource } from './crashable-raft-log.js';
export { CrashableShardData } from './crashable-shard-data.js';
export { copyDiskImage, DurableShard, emptyDiskImage, type DiskImage, type DurableRaftLog, type DurableShardEntry } from './disk-image.js';
export { SimDisk, type DurableWrites, type SimDiskOptions } from './sim-disk.js';

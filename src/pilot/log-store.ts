/**
 * The durable form of the pilot's state before the state became a Raft group: the applied commands, in
 * order, in an LMDB environment under `<dataDir>/pilot`, plus a snapshot record that replaces the log's head
 * once the log grows past `compactEntriesMax` entries. Recovery loads the snapshot and replays the commands
 * after it. The pilot no longer writes it; a data dir's old log is recovered once (`recoverOldPilotLog`, at
 * the process's edge), for the state driver to import it into the group (see state-driver.ts).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { assert } from '../common/errors.js';
import type { PilotCommand } from './commands.js';
import { applyPilotCommand, INITIAL_PILOT_STATE, isInitialPilotState, type PilotState } from './state.js';

/** Entries kept before they are folded into the snapshot: replay stays short, the file stays small. */
export const COMPACT_ENTRIES_MAX_DEFAULT = 1000;

/** Bumped when the stored layout changes incompatibly; a store of another format is refused. */
const FORMAT_VERSION = 1;
const SNAPSHOT_KEY = 'snapshot';

interface SnapshotRecord {
  readonly format: number;
  /** Index of the last command folded into `state`; 0 for none. */
  readonly index: number;
  readonly state: PilotState;
}

/** State rebuilt from disk, and the index of the last command it includes. */
export interface RecoveredState {
  readonly state: PilotState;
  readonly lastIndex: number;
}

/** The state of a single-process pilot's command log, waiting to be imported into the group. */
export interface OldPilotLog {
  readonly state: PilotState;
  /** Where the log is, for the logs. */
  readonly path: string;
}

/** The pilot's command log and snapshot in LMDB; one writer (the state driver) at a time. */
export class PilotLogStore {
  private entriesSinceSnapshot = 0;

  private constructor(
    private readonly env: RootDatabase,
    private readonly log: Database<PilotCommand, number>,
    private readonly meta: Database<SnapshotRecord, string>,
    private readonly compactEntriesMax: number,
  ) {}

  /** Opens (creating if needed) the store under `<dataDir>/pilot`. */
  static open(dataDir: string, compactEntriesMax = COMPACT_ENTRIES_MAX_DEFAULT): PilotLogStore {
    assert(Number.isInteger(compactEntriesMax) && compactEntriesMax >= 1, 'compactEntriesMax must be a positive integer');
    const dir = join(dataDir, 'pilot');
    mkdirSync(dir, { recursive: true });
    // Without overlappingSync a write's promise resolves only once it is flushed to disk: an answer to a
    // node must never announce a state that a crash could take back.
    const env = open({ path: join(dir, 'pilot.mdb'), overlappingSync: false, maxDbs: 4 });
    const log = env.openDB<PilotCommand, number>({ name: 'log', keyEncoding: 'uint32' });
    const meta = env.openDB<SnapshotRecord, string>({ name: 'meta' });
    return new PilotLogStore(env, log, meta, compactEntriesMax);
  }

  /** Loads the snapshot and replays the commands after it, which must follow it without a gap. */
  recover(): RecoveredState {
    const snapshot = this.meta.get(SNAPSHOT_KEY);
    if (snapshot !== undefined) assert(snapshot.format === FORMAT_VERSION, `pilot store format ${snapshot.format}, expected ${FORMAT_VERSION}`);
    let state = snapshot?.state ?? INITIAL_PILOT_STATE;
    let lastIndex = snapshot?.index ?? 0;
    this.entriesSinceSnapshot = 0;
    for (const { key, value } of this.log.getRange({ start: lastIndex + 1 })) {
      assert(key === lastIndex + 1, `pilot log gap: entry ${key} after ${lastIndex}`);
      state = applyPilotCommand(state, value).state;
      lastIndex = key;
      this.entriesSinceSnapshot++;
    }
    return { state, lastIndex };
  }

  /**
   * Makes `command` durable as entry `index`; resolves once it is on disk. `stateAfter` is the state with
   * the command applied: when the log is long enough it becomes the snapshot, in the same transaction that
   * drops the entries it covers, so a crash never loses or doubles one.
   */
  async append(index: number, command: PilotCommand, stateAfter: PilotState): Promise<void> {
    if (this.entriesSinceSnapshot + 1 < this.compactEntriesMax) {
      await this.log.put(index, command);
      this.entriesSinceSnapshot++;
      return;
    }
    await this.env.transaction(() => {
      const snapshot: SnapshotRecord = { format: FORMAT_VERSION, index, state: stateAfter };
      this.meta.put(SNAPSHOT_KEY, snapshot);
      // Collected first: removing under a live cursor would move it.
      for (const key of [...this.log.getKeys({ end: index })]) this.log.remove(key);
    });
    this.entriesSinceSnapshot = 0;
  }

  /** Number of log entries after the snapshot. */
  get entryCount(): number {
    return this.entriesSinceSnapshot;
  }

  /** Closes the LMDB environment; writes already resolved are on disk. */
  async close(): Promise<void> {
    await this.env.close();
  }
}

/** The state in a single-process pilot's command log under `<dataDir>/pilot`, if one exists and holds anything. */
export async function recoverOldPilotLog(dataDir: string): Promise<OldPilotLog | undefined> {
  const path = join(dataDir, 'pilot', 'pilot.mdb');
  if (!existsSync(path)) return undefined;
  const old = PilotLogStore.open(dataDir);
  try {
    const { state } = old.recover();
    return isInitialPilotState(state) ? undefined : { state, path };
  } finally {
    await old.close();
  }
}

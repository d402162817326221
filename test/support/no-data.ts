/** A group state machine of no data, for MultiRaft tests: apply answers the entry's index, a snapshot carries nothing. */
import type { GroupStateMachine } from '../../src/multiraft/multi-raft.js';
import type { Entry } from '../../src/raft/index.js';
import type { ShardSnapshotReader } from '../../src/storage/types.js';

export class NoData implements GroupStateMachine {
  apply(entry: Entry): unknown {
    return entry.index;
  }
  openSnapshot(): ShardSnapshotReader {
    return { chunk: () => ({ entries: [], next: null }), close: () => undefined };
  }
  restore(): void {}
}

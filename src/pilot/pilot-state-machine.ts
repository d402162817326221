/**
 * The pilot group's state machine as the multi-raft driver sees it: entries carry PilotCommands (JSON),
 * `apply` runs `applyPilotCommand`, a snapshot is the whole PilotState in one chunk.
 *
 * Two states are kept. `applied` follows every committed entry as the driver applies it; `published` is
 * what callers see, and it catches up only once the persist that holds the applied state has completed
 * (`publish`). A single-replica group applies an entry before its own fsync, and a state announced then
 * (a routing version a node already acted on) could be taken back by a crash.
 */
import { assert } from '../common/errors.js';
import type { Entry } from '../raft/index.js';
import type { GroupStateMachine } from '../multiraft/multi-raft.js';
import type { ShardSnapshotChunk, ShardSnapshotReader } from '../storage/types.js';
import type { PilotCommand, PilotCommandResult } from './commands.js';
import { applyPilotCommand, type PilotState } from './state.js';

/** What `apply` returns to the proposer: the command's result, and the index to wait for. */
export interface AppliedPilotCommand {
  readonly index: number;
  readonly result: PilotCommandResult;
}

/** A change of the applied state since the last persist, in apply order. */
export type PilotTransition =
  | { readonly kind: 'command'; readonly command: PilotCommand; readonly before: PilotState; readonly after: PilotState }
  | { readonly kind: 'snapshot'; readonly before: PilotState; readonly after: PilotState };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodePilotCommand(command: PilotCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

/** Every command kind this version applies; the Record type makes the list complete. */
const COMMAND_KINDS: Readonly<Record<PilotCommand['kind'], true>> = {
  'register-node': true,
  'update-node': true,
  'bootstrap-keyspace': true,
  'set-shard-leaders': true,
  'change-shard-replicas': true,
  'transfer-shard-leader': true,
  'import-state': true,
  'create-split': true,
  'split-progress': true,
  'cancel-split': true,
};

/** The command in a log entry; throws when the entry holds none this version knows (another version wrote it, or it is corrupt). */
export function decodePilotCommand(data: Uint8Array): PilotCommand {
  const command = JSON.parse(decoder.decode(data)) as PilotCommand;
  assert(typeof command === 'object' && command !== null && typeof command.kind === 'string', 'a pilot log entry holds a command');
  if (!Object.hasOwn(COMMAND_KINDS, command.kind)) throw new Error(`a pilot log entry holds an unknown command kind '${command.kind}'`);
  return command;
}

export function encodePilotState(state: PilotState): Uint8Array {
  return encoder.encode(JSON.stringify(state));
}

export function decodePilotState(data: Uint8Array): PilotState {
  const state = JSON.parse(decoder.decode(data)) as PilotState;
  assert(typeof state === 'object' && state !== null && Number.isSafeInteger(state.routingVersion), 'a pilot snapshot holds a state');
  return state;
}

/** The pilot's state as a Raft group's state machine; see the module comment. */
export class PilotStateMachine implements GroupStateMachine {
  private appliedState: PilotState;
  private publishedState: PilotState;
  private transitions: PilotTransition[] = [];
  /** Whether `applied` changed since it was last taken for persisting. */
  private dirty = false;

  constructor(recovered: PilotState) {
    this.appliedState = recovered;
    this.publishedState = recovered;
  }

  /** The state as of the last completed persist: what callers may see and act on. */
  get published(): PilotState {
    return this.publishedState;
  }

  /** The state after every entry applied so far, durable or not. */
  get applied(): PilotState {
    return this.appliedState;
  }

  apply(entry: Entry): AppliedPilotCommand {
    const command = decodePilotCommand(entry.data);
    const before = this.appliedState;
    const { state, result } = applyPilotCommand(before, command);
    if (state !== before) {
      this.appliedState = state;
      this.dirty = true;
      this.transitions.push({ kind: 'command', command, before, after: state });
    }
    return { index: entry.index, result };
  }

  openSnapshot(): ShardSnapshotReader {
    const data = encodePilotState(this.appliedState);
    let closed = false;
    return {
      chunk: (cursor) => {
        assert(!closed, 'the pilot snapshot reader is closed');
        // The whole state is one chunk: there is never a cursor after it.
        assert(cursor === null, 'the pilot snapshot has a single chunk');
        return { entries: [data], next: null };
      },
      close: () => {
        closed = true;
      },
    };
  }

  restore(chunks: readonly ShardSnapshotChunk[]): void {
    const data = chunks[0]?.entries[0];
    assert(chunks.length === 1 && chunks[0]!.entries.length === 1 && data !== undefined, 'a pilot snapshot is one chunk of one entry');
    const before = this.appliedState;
    this.appliedState = decodePilotState(data);
    this.dirty = true;
    this.transitions.push({ kind: 'snapshot', before, after: this.appliedState });
  }

  /**
   * The applied state to write with the coming persist (undefined when unchanged since the last one), and
   * the transitions that persist makes durable.
   */
  takeStaged(): { readonly state: PilotState | undefined; readonly transitions: readonly PilotTransition[] } {
    const staged = { state: this.dirty ? this.appliedState : undefined, transitions: this.transitions };
    this.dirty = false;
    this.transitions = [];
    return staged;
  }

  /** The persist that wrote `state` completed: it becomes what callers see. */
  publish(state: PilotState): void {
    this.publishedState = state;
  }
}

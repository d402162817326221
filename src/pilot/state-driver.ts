/**
 * Drives the pilot's state machine in one process: proposals are applied one at a time, in order, and an
 * accepted command is durable before its result is returned or its state is visible. This is the seam the
 * Raft step replaces (propose → commit → apply), so callers only see `state`, `propose` and `onApplied`.
 */
import type { PilotCommand, PilotCommandResult } from './commands.js';
import { PilotLogStore } from './log-store.js';
import { applyPilotCommand, type PilotState } from './state.js';

/** Proposals waiting for their turn; beyond this the driver answers `overloaded` at once. */
export const PROPOSALS_PENDING_MAX = 1024;

/** The driver's own refusal: too many proposals are waiting. */
export interface Overloaded {
  readonly ok: false;
  readonly reason: 'overloaded';
  readonly message: string;
}

/** Called after each accepted command is durable and visible, with the states around it. */
export type AppliedListener = (command: PilotCommand, before: PilotState, after: PilotState) => void;

/** Serialises proposals, persists accepted commands, then publishes the new state. */
export class PilotStateDriver {
  private current: PilotState;
  private lastIndex: number;
  /** The last queued proposal; the next one starts after it settles. */
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  private constructor(
    private readonly store: PilotLogStore,
    private readonly onApplied: AppliedListener,
  ) {
    const recovered = store.recover();
    this.current = recovered.state;
    this.lastIndex = recovered.lastIndex;
  }

  /** Opens the store under `<dataDir>/pilot` and rebuilds the state from it. */
  static open(dataDir: string, onApplied: AppliedListener, compactEntriesMax?: number): PilotStateDriver {
    return new PilotStateDriver(PilotLogStore.open(dataDir, compactEntriesMax), onApplied);
  }

  /** The state after the last durable command. */
  get state(): PilotState {
    return this.current;
  }

  /**
   * Applies `command` after every earlier proposal. A rejected command is not logged: it would change
   * nothing on replay. Rejects only if the disk write fails; the state then stays as it was.
   */
  propose<C extends PilotCommand>(command: C): Promise<PilotCommandResult<C> | Overloaded> {
    if (this.pending >= PROPOSALS_PENDING_MAX) {
      return Promise.resolve({ ok: false, reason: 'overloaded', message: `${this.pending} proposals are waiting` });
    }
    this.pending++;
    const run = async (): Promise<PilotCommandResult<C>> => {
      const before = this.current;
      const { state, result } = applyPilotCommand(before, command);
      if (state === before) return result;
      await this.store.append(this.lastIndex + 1, command, state);
      this.lastIndex++;
      this.current = state;
      this.onApplied(command, before, state);
      return result;
    };
    const outcome = this.tail.then(run).finally(() => this.pending--);
    // A failed write must not wedge later proposals' chain; the failure itself reaches this caller.
    this.tail = outcome.catch(() => undefined);
    return outcome;
  }

  /** Waits for queued proposals, then closes the store. */
  async close(): Promise<void> {
    await this.tail;
    await this.store.close();
  }
}

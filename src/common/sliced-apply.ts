/**
 * An entry applied over several turns of the event loop. A state machine's `apply` returns one for an
 * entry too large to apply at once (a DEL of a million keys takes seconds): each `slices.next()` applies
 * one slice, and the last returns the entry's result. The Raft driver runs one slice per turn, so ticks,
 * heartbeats and the other shards go on meanwhile; the entry counts as applied only once the last slice
 * ran, and nothing of it is durable or visible to reads before.
 */
export class SlicedApply {
  constructor(readonly slices: Iterator<void, unknown, void>) {}
}

/** Runs slices (or any steps) to their end at once; returns what the last gives. */
export function runToEnd<T>(steps: Iterator<void, T, void>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/** Stepped key handlers (types.ts) run to their end at once. */
import type { KeyHandler, SteppedKeyHandler } from './types.js';

export function allSteps(handler: SteppedKeyHandler): KeyHandler {
  return (ctx, argv) => {
    const steps = handler(ctx, argv);
    for (;;) {
      const step = steps.next();
      if (step.done === true) return step.value;
    }
  };
}

/** Stepped key handlers (types.ts) run to their end at once. */
import { runToEnd } from '../common/sliced-apply.js';
import type { KeyHandler, SteppedKeyHandler } from './types.js';

export function allSteps(handler: SteppedKeyHandler): KeyHandler {
  return (ctx, argv) => runToEnd(handler(ctx, argv));
}

/**
 * Two kinds of module the simulation depends on, checked by their text:
 * - pure decisions (the Raft core, the shard's apply, the split's and membership's steps, routing, the
 *   pilot's state, commands and schedulers, the Redis commands): no clock, timers, randomness or I/O of any kind, and
 *   no import of the environment or the bus: what they decide follows from their arguments alone;
 * - process cores (the node's shard groups and core, the split drivers, multi-raft, the pilot's driver,
 *   the bus's frame routing): they reach the clock, timers, randomness, the bus and the disk only through
 *   what they are given, so the simulation can give them its own.
 * Comments are left out: a comment may name what the code must not do.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

const SRC = join(process.cwd(), 'src');

/** Reaching for the world: what neither kind may do. */
const AMBIENT = [
  /Date\.now/,
  /new Date\(/,
  /Math\.random/,
  /setTimeout/,
  /setInterval/,
  /setImmediate/,
  /performance\.now/,
  /process\./,
  /from 'node:/,
  /from 'lmdb'/,
  /new Transport\b/,
  /NodeStore\.open/,
];
/** What only a core may import (types aside): a pure decision takes no environment and sends nothing. */
const CORE_ONLY = [
  /^import (?!type\b)[^;]*common\/environment\.js'/m,
  /^import (?!type\b)[^;]*\/transport\//m,
  /^import (?!type\b)[^;]*\/storage\/node-store\.js'/m,
  /^import (?!type\b)[^;]*\/multiraft\//m,
];

const PURE = [
  'raft/',
  'shard/',
  'split/split-step.ts',
  'split/phases.ts',
  'split/split-overlay.ts',
  'node/membership-step.ts',
  'node/forward-decision.ts',
  'node/routing-view.ts',
  'common/routing.ts',
  'common/slots.ts',
  'commands/',
  'pilot/state.ts',
  'pilot/pilot-state.ts',
  'pilot/split-tasks.ts',
  'pilot/commands.ts',
  'pilot/presplit.ts',
  'pilot/liveness.ts',
  'pilot/pilot-state-machine.ts',
  'pilot/schedulers/',
];

const CORES = [
  'multiraft/',
  'node/node-core.ts',
  'node/shard-groups.ts',
  'node/leadership-waits.ts',
  'split/split-source.ts',
  'split/split-target.ts',
  'split/split-buffer.ts',
  'split/split-routing.ts',
  'pilot/pilot.ts',
  'pilot/state-driver.ts',
  'pilot/routing-waiters.ts',
  'transport/frame-router.ts',
  'transport/pending-requests.ts',
];

function filesOf(entries: readonly string[]): string[] {
  return entries.flatMap((entry) => {
    const path = join(SRC, entry);
    return entry.endsWith('/') ? walk(path) : [path];
  });
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Code without its comments. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

function offencesIn(name: string, text: string, patterns: readonly RegExp[]): string[] {
  const code = withoutComments(text);
  return patterns.filter((p) => p.test(code)).map((p) => `${name} uses ${p}`);
}

function offences(files: readonly string[], patterns: readonly RegExp[]): string[] {
  return files.flatMap((file) => offencesIn(relative(SRC, file), readFileSync(file, 'utf8'), patterns));
}

describe('purity', () => {
  it('pure decisions reach for no clock, timer, randomness or I/O, and import no environment or bus', () => {
    const files = filesOf(PURE);
    assert.ok(files.length > 40, `${files.length} pure modules found`);
    assert.deepEqual(offences(files, [...AMBIENT, ...CORE_ONLY]), []);
  });

  it('process cores reach the clock, timers, randomness, bus and disk only through what they are given', () => {
    const files = filesOf(CORES);
    assert.ok(files.length >= 15, `${files.length} core modules found`);
    assert.deepEqual(offences(files, AMBIENT), []);
  });

  it('the check finds a clock in code, and not in a comment', () => {
    assert.deepEqual(offencesIn('a.ts', "/** Unlike Date.now, ... */\n// process.exit is the edge's\nconst t = clock.now();", AMBIENT), []);
    assert.deepEqual(offencesIn('b.ts', 'const t = Date.now(); // the clock', AMBIENT), ['b.ts uses /Date\\.now/']);
    assert.equal(offencesIn('c.ts', "import { Transport } from '../transport/transport.js';", CORE_ONLY).length, 1);
    assert.deepEqual(offencesIn('d.ts', "import type { TransportErrorCode } from '../transport/transport-error.js';", CORE_ONLY), []);
  });
});

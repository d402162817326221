#!/usr/bin/env node
// Runs the compiled test suite with node's built-in runner. Arguments narrow it: a folder name under
// test/ (`raft`, `split`, `integration`: the folders mirror src/) or any part of a test file's path, e.g. `npm test -- resp`.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = join(process.cwd(), 'dist', 'test');
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.js')) files.push(path);
  }
})(root);
const filters = process.argv.slice(2);
const chosen = files.filter((f) => filters.length === 0 || filters.some((p) => relative(root, f).includes(p))).sort();
if (chosen.length === 0) {
  console.error(`no test file matches ${filters.join(' ')}`);
  process.exit(1);
}
// A test file that hangs (a child process left running, a wait without end) fails by name after this
// long instead of holding the run until CI gives up silently; the slowest file takes about 5 minutes on
// 2 busy cores. Node 20 applies the timeout to each file, later versions to each test.
const TEST_FILE_TIME_MAX_MS = 20 * 60 * 1000;
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', `--test-timeout=${TEST_FILE_TIME_MAX_MS}`, ...chosen], { stdio: 'inherit' });
process.exit(result.status ?? 1);

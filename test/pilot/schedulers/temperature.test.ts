/** A shard's temperature from its load over the window, and frozen after 30 days untouched. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shardTemperature, type Temperature } from '../../../src/pilot/schedulers/temperature.js';
import { SCHEDULER_CONFIG_DEFAULT, TEMPERATURE_WINDOW_MS } from '../../../src/pilot/schedulers/types.js';
import { NOW_MS, shard, steady } from './cluster-fixture.js';

const DAY_MS = 24 * 3_600_000;

const CASES: readonly { name: string; init: Parameters<typeof shard>[1]; expected: Temperature }[] = [
  { name: 'a mean of 1000 ops/s over the window is hot', init: { opsSamples: steady(1000, TEMPERATURE_WINDOW_MS) }, expected: 'hot' },
  { name: 'a mean of 999 ops/s is warm', init: { opsSamples: steady(999, TEMPERATURE_WINDOW_MS) }, expected: 'warm' },
  { name: 'no sample above 10 ops/s over a whole window is cold', init: { opsSamples: steady(10, TEMPERATURE_WINDOW_MS) }, expected: 'cold' },
  {
    name: 'one sample above 10 ops/s in the window is warm',
    init: { opsSamples: steady(0, TEMPERATURE_WINDOW_MS).map((s, i) => (i === 3 ? { ...s, opsPerSec: 11 } : s)) },
    expected: 'warm',
  },
  { name: 'a shard watched for less than the window is warm, not cold', init: { opsSamples: steady(0, TEMPERATURE_WINDOW_MS / 2) }, expected: 'warm' },
  { name: 'a shard untouched for 30 days is frozen', init: { lastAccessMs: NOW_MS - 30 * DAY_MS }, expected: 'frozen' },
  {
    name: 'a shard untouched for 29 days and idle over the window is cold',
    init: { lastAccessMs: NOW_MS - 29 * DAY_MS, opsSamples: steady(0, TEMPERATURE_WINDOW_MS) },
    expected: 'cold',
  },
];

describe('shard temperature', () => {
  for (const c of CASES) {
    it(c.name, () => assert.equal(shardTemperature(shard('shard_01', c.init), NOW_MS, SCHEDULER_CONFIG_DEFAULT), c.expected));
  }
});

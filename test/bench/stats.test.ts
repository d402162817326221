import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecordNotFoundError } from '../../src/bench/kv-driver.js';
import { LatencyHistogram } from '../../src/bench/latency-histogram.js';
import { OpStats, classifyError } from '../../src/bench/op-stats.js';

describe('LatencyHistogram', () => {
  it('reports percentiles within HDR precision', () => {
    const h = new LatencyHistogram();
    for (let us = 1; us <= 10_000; us++) h.record(us);
    const s = h.summary();
    assert.equal(s.count, 10_000);
    const near = (actual: number, expected: number): void => assert.ok(Math.abs(actual - expected) / expected <= 0.001 + 1e-9, `${actual} vs ${expected}`);
    near(s.p50Us, 5000);
    near(s.p95Us, 9500);
    near(s.p99Us, 9900);
    near(s.p999Us, 9990);
    near(s.maxUs, 10_000);
    near(s.meanUs, 5000.5);
  });

  it('survives encoding and merging', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (let i = 0; i < 100; i++) a.record(100);
    for (let i = 0; i < 100; i++) b.record(300);
    const merged = LatencyHistogram.decode(a.encode());
    merged.add(b);
    assert.equal(merged.count, 200);
    assert.equal(merged.percentileUs(25), 100);
    assert.equal(merged.percentileUs(75), 300);
    assert.equal(new LatencyHistogram().summary().p99Us, 0);
  });
});

describe('OpStats', () => {
  it('counts composite parts per type but not in the overall figures', () => {
    const stats = new OpStats();
    stats.recordSuccess('READ', 10, false);
    stats.recordSuccess('UPDATE', 10, false);
    stats.recordSuccess('READ-MODIFY-WRITE', 20);
    stats.recordSuccess('READ', 5);
    stats.recordError('READ', 'CLUSTERDOWN');
    assert.equal(stats.successCount, 2);
    assert.equal(stats.errorCount, 1);
    assert.equal(stats.byType.get('READ')!.histogram.count, 2);
    const copy = OpStats.deserialize(JSON.parse(JSON.stringify(stats.serialize())));
    assert.equal(copy.successCount, 2);
    assert.deepEqual(Object.fromEntries(copy.errors), { CLUSTERDOWN: 1 });
    assert.deepEqual(copy.types(), ['READ', 'UPDATE', 'READ-MODIFY-WRITE']);
  });
});

describe('classifyError', () => {
  it('uses the Redis error prefix, or a name for client-side failures', () => {
    assert.equal(classifyError(new Error('CLUSTERDOWN The cluster is down')), 'CLUSTERDOWN');
    assert.equal(classifyError(new Error('TRYAGAIN Multiple keys request during rehashing of slot')), 'TRYAGAIN');
    assert.equal(classifyError(new Error('ERR unknown command')), 'ERR');
    assert.equal(classifyError(new Error('Too many Cluster redirections. Last error: ReplyError: MOVED 12 127.0.0.1:7002')), 'MOVED(redirections exhausted)');
    assert.equal(classifyError(new Error('Command timed out')), 'TIMEOUT');
    assert.equal(classifyError(new Error('Connection is closed.')), 'CONNECTION');
    assert.equal(classifyError(new RecordNotFoundError('user1')), 'NOT_FOUND');
    assert.equal(classifyError('weird'), 'OTHER');
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { KvDriver } from '../../src/bench/kv-driver.js';
import { OpStats } from '../../src/bench/op-stats.js';
import { parsePilotEvents } from '../../src/bench/pilot-events.js';
import { seededRandom } from '../../src/bench/random-source.js';
import { runPhase } from '../../src/bench/runner.js';
import { renderTimelineSvg } from '../../src/bench/svg-plot.js';
import { TIMELINE_COLUMNS, csvHeader, csvLine, eventRow, intervalRows, parseTimeline } from '../../src/bench/timeline.js';
import { TimelineFile } from '../../src/bench/timeline-file.js';
import { CoreWorkload, workloadSpec } from '../../src/bench/workload.js';

/** A driver that answers after a short delay, failing every 50th update. */
function fakeDriver(): KvDriver {
  let updates = 0;
  const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));
  return {
    read: pause,
    insert: pause,
    scan: pause,
    update: async () => {
      await pause();
      if (++updates % 50 === 0) throw new Error('TRYAGAIN slot is moving');
    },
    close: async () => {},
  };
}

/**
 * Checks that `xml` is well-formed in the ways our writer could get wrong: every tag closed in
 * order, attributes quoted, no bare `&` or `<` in text. Returns the element names seen.
 */
function checkWellFormedXml(xml: string): string[] {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const names: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < body.length) {
    const lt = body.indexOf('<', i);
    const text = body.slice(i, lt === -1 ? body.length : lt);
    assert.doesNotMatch(text, /&(?!(amp|lt|gt|quot|apos);)/, 'bare & in text');
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(body);
    assert.ok(m !== null, `malformed tag at ${lt}: ${body.slice(lt, lt + 60)}`);
    const [, closing, name, , selfClosing] = m;
    if (closing === '/') assert.equal(stack.pop(), name, `closing </${name}>`);
    else if (selfClosing !== '/') stack.push(name!);
    names.push(name!);
    i = tag.lastIndex;
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  return names;
}

describe('timeline CSV', () => {
  it('has the documented columns and one ALL row, one row per op type and error rows per interval', () => {
    assert.equal(csvHeader(), 'kind,phase,time_ms,elapsed_sec,op,count,ops_per_sec,p50_us,p95_us,p99_us,p999_us,max_us,error_kind,detail');
    const stats = new OpStats();
    for (let i = 0; i < 10; i++) stats.recordSuccess('READ', 100 + i);
    stats.recordSuccess('UPDATE', 300);
    stats.recordError('UPDATE', 'CLUSTERDOWN');
    const rows = intervalRows({ phase: 'run', index: 1, startMs: 10_000, endMs: 12_000, stats }, 9_000);
    assert.deepEqual(
      rows.map((r) => [r.kind, r.op]),
      [
        ['interval', 'ALL'],
        ['interval', 'READ'],
        ['interval', 'UPDATE'],
        ['error', 'UPDATE'],
      ],
    );
    assert.equal(rows[0]!.count, '11');
    assert.equal(rows[0]!.ops_per_sec, '5.5');
    assert.equal(rows[0]!.elapsed_sec, '3.000');
    assert.equal(rows[1]!.p50_us, '104');
    assert.equal(rows[3]!.error_kind, 'CLUSTERDOWN');
    for (const row of rows) assert.equal(csvLine(row).split(',').length, TIMELINE_COLUMNS.length);
  });

  it('quotes event details and parses back what it wrote', () => {
    const event = { timeMs: 5_000, label: 'split:Switching', detail: '{"kind":"split","note":"a, \\"b\\""}' };
    const text = `${csvHeader()}\n${csvLine(eventRow(event, 1_000))}\n`;
    const [row] = parseTimeline(text);
    assert.equal(row!.kind, 'event');
    assert.equal(row!.op, 'split:Switching');
    assert.equal(row!.detail, event.detail);
    assert.equal(row!.elapsed_sec, '4.000');
  });

  it("reads the pilot's event list, labels each event by kind and subject, and keeps unknown kinds", () => {
    const events = parsePilotEvents({
      events: [
        { seq: 3, at_ms: 20, kind: 'routing-version-changed', routing_version: 5, previous_version: 4, cause: 'register-node' },
        { seq: 2, at_ms: 20, kind: 'node-registered', node_id: 'node3', address: '127.0.0.1:1' },
        { seq: 1, at_ms: 10, kind: 'split', phase: 'Buffering', shard: 'shard_0001' },
        { seq: 4, kind: 'no-time' },
      ],
      truncated: false,
    });
    assert.deepEqual(
      events.map((e) => [e.label, e.timeMs, e.seq]),
      [
        ['split:Buffering', 10, 1],
        ['node-registered node3', 20, 2],
        ['routing-version-changed v5', 20, 3],
      ],
    );
    assert.deepEqual(parsePilotEvents('not json'), []);
    assert.deepEqual(parsePilotEvents([{ seq: 1, at_ms: 1, kind: 'node-up' }]), [], 'a bare array is not the answer');
  });
});

describe('a small run, its timeline and its SVG', () => {
  it('writes per-interval rows and draws throughput and p99 with event marks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-timeline-'));
    try {
      const startMs = Date.now();
      const path = join(dir, 'run.csv');
      const file = new TimelineFile(path, startMs);
      const workload = new CoreWorkload({ spec: workloadSpec('a'), recordCount: 100, operationCount: 100_000, fieldCount: 2, fieldLengthBytes: 10 }, seededRandom(1));
      const hooks = { onInterval: (s: Parameters<TimelineFile['writeInterval']>[0]) => file.writeInterval(s) };
      await runPhase(workload, [fakeDriver()], { phase: 'load', threads: 2, pipelineDepth: 1, operationCount: 100, intervalMs: 50 }, hooks);
      const run = await runPhase(workload, [fakeDriver()], { phase: 'run', threads: 4, pipelineDepth: 2, operationCount: 100_000, durationSec: 0.3, intervalMs: 50 }, hooks);
      file.writeEvent({ timeMs: Date.now() - 100, label: 'split:Switching', detail: '{"shard":3}' });
      file.writeEvent({ timeMs: Date.now() - 50, label: 'leader-change', detail: '{"shard":3,"leader":"n2"}' });
      file.close();

      assert.ok(run.stats.byType.get('UPDATE')!.errors.get('TRYAGAIN')! > 0, 'injected errors counted');
      const rows = parseTimeline(readFileSync(path, 'utf8'));
      const all = rows.filter((r) => r.kind === 'interval' && r.op === 'ALL');
      assert.ok(all.some((r) => r.phase === 'load') && all.filter((r) => r.phase === 'run').length >= 4, 'load and several run intervals');
      assert.ok(rows.some((r) => r.kind === 'error' && r.error_kind === 'TRYAGAIN'));
      assert.equal(rows.filter((r) => r.kind === 'event').length, 2);

      const svg = renderTimelineSvg(rows, { title: 'test <run> & more' });
      const names = checkWellFormedXml(svg);
      assert.equal(names[0], 'svg');
      const series = [...svg.matchAll(/<path class="series" data-series="([\w-]+)" d="([^"]+)"/g)].map((m) => [m[1], m[2]!.split(' ').length]);
      assert.deepEqual(
        series.map(([name]) => name),
        ['throughput', 'p99'],
      );
      for (const [, points] of series) assert.equal(points, all.length);
      assert.equal(svg.match(/<line class="event-mark"/g)?.length, 2);
      const labelXs = [...svg.matchAll(/<g class="event-label"><title>[^<]*<\/title>\s*<text transform="translate\(([\d.]+),/g)].map((m) => Number(m[1]));
      assert.equal(labelXs.length, 2, 'one label per event, drawn after every line');
      assert.ok(labelXs[1]! - labelXs[0]! >= 14, `labels of events 50 ms apart do not overlap: ${labelXs}`);
      assert.match(svg, /p99 latency \(ms, log scale\)/);
      assert.match(svg, /split:Switching/);
      assert.match(svg, /class="error-mark"/);
      assert.match(svg, /test &lt;run&gt; &amp; more/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

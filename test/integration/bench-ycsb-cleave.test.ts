import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { parseTimeline } from '../../src/bench/timeline.js';
import { runYcsb } from '../../src/bench/ycsb.js';
import { CLI_MAIN, TestCluster } from '../support/cluster.js';
import { assertCleanRun, EXPECTED_OP_TYPES, shortRunOptions, TEST_RECORDS } from './bench-ycsb-cases.js';

/** The timeline run's length: a node's restart and rejoin must fit in it with room on loaded cores. */
const TIMELINE_RUN_S = 8;

/** Runs the built CLI to completion; rejects with its output if it fails. */
function cli(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`cleave ${args.join(' ')} exited ${code}:\n${output}`))));
  });
}

describe('bench ycsb against a 3-node cleave cluster', () => {
  let cluster: TestCluster;

  before(async () => {
    cluster = await TestCluster.start({ nodes: 3 });
  });

  after(async () => {
    await cluster?.stop();
  });

  const options = (workload: string) => shortRunOptions('127.0.0.1', cluster.nodes[0]!.port, workload);

  // The first workload loads the records; the others reuse them, which keeps the file well under 40 s.
  for (const [i, workload] of Object.keys(EXPECTED_OP_TYPES).entries()) {
    it(`runs workload ${workload.toUpperCase()} for ~2 s with no application errors`, async () => {
      const result = await runYcsb({ ...options(workload), skipLoad: i > 0 });
      assertCleanRun(result, workload);
    });
  }

  it('--timeline with --pilot marks a node restart on the timeline, and bench plot draws it', async () => {
    const csv = join(cluster.dir, 'timeline.csv');
    const svg = join(cluster.dir, 'timeline.svg');
    const bench = cli([
      'bench',
      'ycsb',
      '--workload',
      'a',
      '--records',
      String(TEST_RECORDS),
      '--no-load',
      '--operations',
      '10000000',
      '--duration',
      String(TIMELINE_RUN_S),
      '--threads',
      '4',
      '--port',
      String(cluster.nodes[0]!.port),
      '--timeline',
      csv,
      '--pilot',
      cluster.pilotUrl,
      '--no-progress',
    ]);
    // A restart early in the run: the pilot records the node's rejoin, which the bench must see before it
    // ends; a restart on two loaded cores has taken over 2.5 s.
    await sleep(1000);
    const node3 = cluster.nodes[2]!;
    await node3.kill('SIGKILL');
    node3.start();
    await cluster.waitForNode(node3);
    const report = await bench;
    assert.match(report, /\[RUN\]/);

    const rows = parseTimeline(readFileSync(csv, 'utf8'));
    assert.ok(
      rows.some((r) => r.kind === 'interval' && r.phase === 'run' && r.op === 'ALL' && Number(r.count) > 0),
      'run intervals',
    );
    const events = rows.filter((r) => r.kind === 'event');
    assert.ok(
      events.some((r) => r.op === 'node-rejoined node3'),
      `a node-rejoined event row, got ${JSON.stringify(events.map((r) => r.op))}`,
    );
    const rejoined = JSON.parse(events.find((r) => r.op === 'node-rejoined node3')!.detail) as { kind: string; pid: number };
    assert.equal(rejoined.pid, node3.child!.pid, 'the event names the new process');

    await cli(['bench', 'plot', csv, '-o', svg]);
    const image = readFileSync(svg, 'utf8');
    assert.match(image, /^<\?xml/);
    for (const series of ['throughput', 'p99']) assert.match(image, new RegExp(`<path class="series" data-series="${series}" d="M`), `${series} series drawn`);
    assert.match(image, /<line class="event-mark"/);
    assert.match(image, /<g class="event-label">[\s\S]*?node-rejoined node3<\/text>/);
    assert.match(image, /p99 latency \(ms, log scale\)/);
  });
});

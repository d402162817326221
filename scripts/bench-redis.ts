/**
 * `npm run bench:redis`: redis-benchmark --cluster SET/GET against a three-node cleave cluster and a
 * three-master Debian redis-server cluster, side by side in one run, with and without pipelining.
 * Runs alternate between the two systems and each figure is the median of --repeat runs, because this
 * machine is small and noisy. Prints a table and appends it to docs/BENCHMARKS.md.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisCluster } from '../src/bench/redis-cluster.js';
import { LocalCluster } from '../src/cluster/local-cluster.js';
import { appendSection, machineSummary, median, redisBenchmark, requireCommand } from './bench-common.js';

interface Options {
  requests: number;
  clients: number;
  repeat: number;
  pipelines: number[];
  write: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { requests: 200_000, clients: 50, repeat: 3, pipelines: [1, 16], write: true };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    const n = Number(value);
    if (flag === '--requests' && n > 0) options.requests = n;
    else if (flag === '--clients' && n > 0) options.clients = n;
    else if (flag === '--repeat' && n > 0) options.repeat = n;
    else if (flag === '--pipelines' && value) options.pipelines = value.split(',').map(Number);
    else if (flag === '--no-write') {
      options.write = false;
      continue;
    } else {
      console.error(`bench:redis: unknown or bad flag ${flag} ${value ?? ''} (flags: --requests N --clients N --repeat N --pipelines 1,16 --no-write)`);
      process.exit(2);
    }
    i++;
  }
  return options;
}

/** A cluster as `cleave local` runs it (3 nodes, its shard and replica defaults, logs in `dir`), on free ports. */
async function startCleave(dir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  mkdirSync(dir, { recursive: true });
  const cluster = new LocalCluster({ dir, nodes: 3, shardsPerNode: 2, logDir: dir, startStepTimeoutMs: 60_000 });
  try {
    await cluster.start();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return { port: cluster.nodes[0]!.port, stop: () => cluster.stop() };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  requireCommand('redis-benchmark', 'redis-tools', 'bench:redis');
  const dir = mkdtempSync(join(tmpdir(), 'cleave-bench-'));
  const cleave = await startCleave(join(dir, 'cleave'));
  const redis = await startRedisCluster({ masters: 3, dir: join(dir, 'redis') });
  const rows: string[] = [];
  try {
    for (const pipeline of options.pipelines) {
      const samples = { cleave: { set: [] as number[], get: [] as number[] }, redis: { set: [] as number[], get: [] as number[] } };
      for (let r = 0; r < options.repeat; r++) {
        for (const [name, port] of [
          ['cleave', cleave.port],
          ['redis', redis.ports[0]!],
        ] as const) {
          const { set, get } = await redisBenchmark({ port, requests: options.requests, clients: options.clients, pipeline });
          samples[name].set.push(set);
          samples[name].get.push(get);
          console.log(`-P ${pipeline} run ${r + 1}/${options.repeat} ${name.padEnd(6)} SET ${Math.round(set)}/s GET ${Math.round(get)}/s`);
        }
      }
      for (const op of ['set', 'get'] as const) {
        const c = median(samples.cleave[op]);
        const s = median(samples.redis[op]);
        rows.push(`| ${op.toUpperCase()} | ${pipeline} | ${Math.round(c).toLocaleString('en-US')} | ${Math.round(s).toLocaleString('en-US')} | ${(c / s).toFixed(2)} |`);
      }
    }
  } finally {
    await cleave.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const command = `npm run bench:redis -- --requests ${options.requests} --clients ${options.clients} --repeat ${options.repeat} --pipelines ${options.pipelines.join(',')}`;
  const machine = machineSummary();
  const table = [
    `### redis-benchmark --cluster, 3 nodes: cleave vs redis-server (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Command: \`${command}\` — machine: ${machine}. redis-benchmark \`-t set,get -n ${options.requests} -c ${options.clients} -P <pipeline>\`; figures are requests/s, the median of ${options.repeat} alternating runs; both clusters ran on this same machine, the load generator too.`,
    '',
    '| op | pipeline | cleave (req/s) | redis-server cluster (req/s) | cleave / redis |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
  console.log(`\n${table}`);
  if (options.write) appendSection(table);
}

await main();

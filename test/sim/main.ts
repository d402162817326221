/**
 * `npm run sim -- --seed N`: runs the seeded whole-cluster simulation (cluster-sim.ts) for one
 * seed, or for `--seeds M` consecutive seeds from N, and prints one line per seed. A failing seed prints
 * what failed, the last lines of its trace and the command that replays it; `--verbose` prints the whole
 * trace as it happens. The other flags fix what the seed would otherwise draw.
 */
import { runSimulation, type SimRunOptions } from './cluster-sim.js';

const USAGE =
  'usage: npm run sim -- [--seed N] [--seeds M] [--nodes N] [--shards N] [--duration-ms N] [--liveness-ms N] [--clients N] ' +
  '[--membership | --no-membership] [--small-compaction | --no-small-compaction] [--splits | --no-splits] [--verbose]';

interface Args {
  readonly first: number;
  readonly count: number;
  readonly verbose: boolean;
  readonly fixed: Omit<SimRunOptions, 'seed' | 'trace'>;
}

function parseArgs(argv: readonly string[]): Args {
  let first = 1;
  let count = 1;
  let verbose = false;
  const fixed: { -readonly [K in keyof Args['fixed']]: Args['fixed'][K] } = {};
  const numberAfter = (i: number, flag: string, min: number): number => {
    const value = Number(argv[i + 1]);
    if (!Number.isSafeInteger(value) || value < min) usage(`${flag} needs an integer ≥ ${min}`);
    return value;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    switch (flag) {
      case '--seed':
        first = numberAfter(i++, flag, 0);
        break;
      case '--seeds':
        count = numberAfter(i++, flag, 1);
        break;
      case '--nodes':
        fixed.nodes = numberAfter(i++, flag, 1);
        break;
      case '--shards':
        fixed.shards = numberAfter(i++, flag, 1);
        break;
      case '--duration-ms':
        fixed.durationMs = numberAfter(i++, flag, 1);
        break;
      case '--liveness-ms':
        fixed.livenessMs = numberAfter(i++, flag, 1);
        break;
      case '--clients':
        fixed.clients = numberAfter(i++, flag, 0);
        break;
      case '--membership':
      case '--no-membership':
        fixed.membership = flag === '--membership';
        break;
      case '--small-compaction':
      case '--no-small-compaction':
        fixed.smallCompaction = flag === '--small-compaction';
        break;
      case '--splits':
      case '--no-splits':
        fixed.splits = flag === '--splits';
        break;
      case '--verbose':
        verbose = true;
        break;
      default:
        usage(`unknown flag ${flag}`);
    }
  }
  if (fixed.nodes !== undefined && fixed.nodes < 2) usage('--nodes must be at least 2 (a fault plan needs two nodes)');
  return { first, count, verbose, fixed };
}

function usage(problem: string): never {
  console.error(`sim: ${problem}\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const failed: number[] = [];
  const startedMs = performance.now();
  for (let seed = args.first; seed < args.first + args.count; seed++) {
    const result = await runSimulation({ seed, ...args.fixed, ...(args.verbose ? { trace: (line: string) => console.log(line) } : {}) });
    console.log(`${result.ok ? 'ok  ' : 'FAIL'} ${result.summary} [${result.digest}]`);
    if (result.ok) continue;
    failed.push(seed);
    if (!args.verbose) console.log(`--- last trace lines of seed ${seed}:\n${result.traceTail.join('\n')}\n---`);
    console.log(result.failure);
  }
  const seconds = ((performance.now() - startedMs) / 1000).toFixed(1);
  console.log(`${args.count - failed.length}/${args.count} seeds passed in ${seconds} s${failed.length > 0 ? `; failed: ${failed.join(' ')}` : ''}`);
  if (failed.length > 0) process.exitCode = 1;
}

await main();

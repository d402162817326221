/**
 * `npm run nemesis -- --seconds N --faults kill,stop,partition,split,transfer,move,pilot-kill [--seed S]
 * [--nodes 3..5] [--clients N]`: runs a real cluster under client load and seeded faults, then checks the
 * history and the cluster (run.ts). Prints the faults as they happen and a summary; exits 1
 * on any anomaly, printing the command that replays the schedule.
 */
import { FAULT_KINDS, type FaultKind } from './faults.js';
import { runNemesis, type NemesisOptions } from './run.js';

const USAGE = `usage: npm run nemesis -- [--seconds N] [--faults ${FAULT_KINDS.join(',')}] [--seed S] [--nodes 3..5] [--clients N]`;
const SECONDS_MAX = 3600;

function parseArgs(argv: readonly string[]): NemesisOptions {
  let seconds = 60;
  let faults = new Set<FaultKind>(FAULT_KINDS);
  let seed = Date.now() % 1_000_000;
  let nodes = 3;
  let clients: number | undefined;
  const numberAfter = (i: number, flag: string, min: number, max: number): number => {
    const value = Number(argv[i + 1]);
    if (!Number.isSafeInteger(value) || value < min || value > max) usage(`${flag} needs an integer in [${min}, ${max}]`);
    return value;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    switch (flag) {
      case '--seconds':
        seconds = numberAfter(i++, flag, 1, SECONDS_MAX);
        break;
      case '--seed':
        seed = numberAfter(i++, flag, 0, 2 ** 32 - 1);
        break;
      case '--nodes':
        nodes = numberAfter(i++, flag, 3, 5);
        break;
      case '--clients':
        clients = numberAfter(i++, flag, 1, 64);
        break;
      case '--faults': {
        const names = (argv[++i] ?? '').split(',').filter((s) => s !== '');
        const unknown = names.filter((n) => !(FAULT_KINDS as readonly string[]).includes(n));
        if (names.length === 0 || unknown.length > 0)
          usage(`--faults takes a comma-separated list of ${FAULT_KINDS.join(', ')}${unknown.length > 0 ? `; not ${unknown.join(', ')}` : ''}`);
        faults = new Set(names as FaultKind[]);
        break;
      }
      default:
        usage(`unknown flag ${flag}`);
    }
  }
  return { seconds, faults, seed, nodes, ...(clients === undefined ? {} : { clients }) };
}

function usage(problem: string): never {
  console.error(`nemesis: ${problem}\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const result = await runNemesis({ ...options, progress: (line) => console.log(`# ${line}`) });
  console.log('--- faults');
  for (const e of result.events) console.log(`${(e.atMs / 1000).toFixed(1).padStart(7)} s  ${e.kind.padEnd(10)} ${e.phase.padEnd(7)} ${e.detail}`);
  console.log(`--- summary\n${result.summary}`);
  for (const anomaly of result.anomalies) console.log(`ANOMALY ${anomaly}`);
  if (!result.ok) {
    console.log(`replay: ${result.replay}`);
    if (result.historyFile !== undefined) console.log(`history and fault log: ${result.historyFile}`);
    process.exitCode = 1;
  }
}

await main();

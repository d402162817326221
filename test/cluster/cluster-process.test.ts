import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ClusterProcess } from '../../src/cluster/cluster-process.js';
import { pollUntil } from '../../src/common/poll.js';

/** A node process running `source`, as the launcher runs any command. */
function script(name: string, source: string, options: Partial<ConstructorParameters<typeof ClusterProcess>[2]> = {}): ClusterProcess {
  return new ClusterProcess(name, ['-e', source], { env: {}, command: process.execPath, ...options });
}

describe('ClusterProcess', () => {
  it('passes the given variables, removes those set to undefined, and keeps the output', async () => {
    process.env.CLUSTER_PROCESS_TEST_INHERITED = 'from the parent';
    try {
      const p = script('env', 'console.log(process.env.CLUSTER_PROCESS_TEST_GIVEN, process.env.CLUSTER_PROCESS_TEST_INHERITED ?? "removed")', {
        env: { CLUSTER_PROCESS_TEST_GIVEN: 'given', CLUSTER_PROCESS_TEST_INHERITED: undefined },
      });
      p.start();
      // The output may arrive after the exit: wait for both.
      await pollUntil(() => p.exit !== undefined && p.log.endsWith('\n'), { what: 'the script to print and end', timeoutMs: 10_000 });
      assert.equal(p.log, 'given removed\n');
      assert.equal(p.exit, 'code 0');
    } finally {
      delete process.env.CLUSTER_PROCESS_TEST_INHERITED;
    }
  });

  it('tells a crash from a kill, and reports a crash to onCrash', async () => {
    const crashed: string[] = [];
    const dying = script('dying', 'process.exit(3)', { onCrash: (p) => crashed.push(`${p.name} ${p.exit}`) });
    dying.start();
    await pollUntil(() => dying.exit !== undefined, { what: 'the script to exit', timeoutMs: 10_000 });
    assert.equal(dying.crashed, true);
    assert.deepEqual(crashed, ['dying code 3']);

    const sleeping = script('sleeping', 'setTimeout(() => {}, 60_000)', { onCrash: (p) => crashed.push(p.name) });
    sleeping.start();
    assert.equal(sleeping.running, true);
    await sleeping.kill('SIGKILL');
    assert.equal(sleeping.exit, 'SIGKILL');
    assert.equal(sleeping.crashed, false);
    assert.deepEqual(crashed, ['dying code 3'], 'a kill is no crash');
  });

  it('kills a process that ignores SIGTERM once the grace time is over', async () => {
    const stubborn = script('stubborn', 'process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000)');
    stubborn.start();
    await pollUntil(() => stubborn.log.includes('ready'), { what: 'the script to be ready', timeoutMs: 10_000 });
    await stubborn.kill('SIGTERM', 200);
    assert.equal(stubborn.exit, 'SIGKILL');
  });

  it('appends to its log file across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cleave-cluster-process-'));
    try {
      const p = script('logged', 'console.log("run")', { logFile: join(dir, 'logged.log') });
      for (let run = 0; run < 2; run++) {
        p.start();
        await pollUntil(() => p.exit !== undefined, { what: 'the script to end', timeoutMs: 10_000 });
      }
      assert.equal(readFileSync(join(dir, 'logged.log'), 'utf8'), 'run\nrun\n');
      assert.equal(p.log, 'run\nrun\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

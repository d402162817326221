/**
 * Runs a child that writes rounds and prints each round number once it is durable, kills it with SIGKILL
 * mid-stream, and returns the last round it reported: the storage crash tests check what survived.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

export async function runUntilKilled(childSource: string, args: readonly string[], roundsBeforeKill: number, timeoutMs: number): Promise<number> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', childSource, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  let lastDurableRound = -1;
  const exited = new Promise<NodeJS.Signals | null>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the child did not reach the kill point in time')), timeoutMs);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve(signal);
    });
  });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    output += chunk;
    const lines = output.split('\n');
    output = lines.pop()!;
    for (const line of lines) lastDurableRound = Number(line);
    // Kill in the middle of the write stream: the next round's commit is likely in flight.
    if (lastDurableRound >= roundsBeforeKill && !child.killed) child.kill('SIGKILL');
  });
  assert.equal(await exited, 'SIGKILL');
  assert.ok(lastDurableRound >= roundsBeforeKill);
  return lastDurableRound;
}

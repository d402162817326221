/** Split tasks through the pilot's API, as the integration tests start and follow them. */
import assert from 'node:assert/strict';
import { waitUntil, type TestCluster } from './cluster.js';

/** What `GET /api/v1/splits/{task_id}` answers, as far as the tests read it. */
export interface SplitTask {
  task_id: string;
  status: string;
  reason: string | null;
  split_slot: number | null;
  source_shard: string;
  target_shard: string;
  phases: Record<string, number>;
}

/** Every phase of a split that completes, in order. */
export const SPLIT_PHASES = ['preparing', 'snapshot_transfer', 'catching_up', 'buffering', 'switching', 'cleanup', 'completed'];

/** Starts a split of `shard`; returns its task id. */
export async function startSplit(cluster: TestCluster, shard: string, body: Record<string, unknown> = {}): Promise<string> {
  const { status, json } = await cluster.api('POST', `/api/v1/shards/${shard}/split`, body);
  assert.equal(status, 202, JSON.stringify(json));
  return json.split_task_id as string;
}

/** Resolves with the task once its status is one of `statuses`; times out with the last status seen and the processes' logs. */
export async function waitForStatus(cluster: TestCluster, taskId: string, statuses: readonly string[], timeoutMs = 60_000): Promise<SplitTask> {
  let task: SplitTask | undefined;
  await waitUntil(
    `split ${taskId} to reach ${statuses.join(' or ')}`,
    async () => {
      const answer = await cluster.api('GET', `/api/v1/splits/${taskId}`);
      // A pilot between leaders answers with an error: asked again on the next turn.
      if (answer.status !== 200) return false;
      task = answer.json as SplitTask;
      return statuses.includes(task.status);
    },
    () => `last seen: ${JSON.stringify(task)}\n${[...cluster.pilots, ...cluster.nodes].map((p) => `--- ${p.name}\n${p.log.slice(-1500)}`).join('\n')}`,
    timeoutMs,
  );
  return task!;
}

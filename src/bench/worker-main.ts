/**
 * Entry of a benchmark worker process (`--workers N`): runs its share of the client loops on its own
 * CPU and reports intervals, progress and results to the coordinator over IPC.
 */
import type { KvDriver } from './kv-driver.js';
import { runPhase } from './runner.js';
import { connectDrivers, createWorkload, phaseConfig, type FromWorker, type ToWorker, type WorkerShare, type YcsbOptions } from './ycsb.js';
import type { CoreWorkload } from './workload.js';

let state: { options: YcsbOptions; worker: WorkerShare; workload: CoreWorkload; drivers: KvDriver[] } | undefined;

function reply(message: FromWorker): void {
  process.send?.(message);
}

async function onMessage(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'init': {
      const drivers = await connectDrivers(message.options, message.worker.connections);
      state = { options: message.options, worker: message.worker, workload: createWorkload(message.options, message.worker), drivers };
      reply({ type: 'ready' });
      return;
    }
    case 'phase': {
      if (state === undefined) throw new Error('phase before init');
      const result = await runPhase(state.workload, state.drivers, phaseConfig(state.options, state.worker, message.phase), {
        onInterval: (s) => reply({ type: 'interval', phase: s.phase, index: s.index, startMs: s.startMs, endMs: s.endMs, stats: s.stats.serialize() }),
        onProgress: (completed) => reply({ type: 'progress', completed }),
      });
      reply({ type: 'phase-done', result: { ...result, stats: result.stats.serialize() } });
      return;
    }
    case 'exit':
      await Promise.all(state?.drivers.map((d) => d.close()) ?? []);
      process.disconnect();
      return;
  }
}

process.on('message', (message: ToWorker) => {
  onMessage(message).catch((error: unknown) => {
    reply({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    process.exitCode = 1;
    process.disconnect();
  });
});

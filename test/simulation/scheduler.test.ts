import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from '../sim/scheduler.js';

test('events run in time order, and in insertion order at equal times', async () => {
  const scheduler = new Scheduler();
  const ran: string[] = [];
  scheduler.at(20, () => ran.push('b@20'));
  scheduler.at(10, () => ran.push('a@10'));
  scheduler.at(20, () => ran.push('c@20'));
  scheduler.after(0, () => ran.push('d@0'));
  scheduler.at(20, () => {
    ran.push('e@20');
    // Scheduled during the run for the same instant: after everything already queued for it.
    scheduler.after(0, () => ran.push('g@20'));
  });
  scheduler.at(20, () => ran.push('f@20'));
  assert.equal(await scheduler.runUntil(100), 7);
  assert.deepEqual(ran, ['d@0', 'a@10', 'b@20', 'c@20', 'e@20', 'f@20', 'g@20']);
  assert.equal(scheduler.now(), 100);
});

test('now() is the event time during a callback; runUntil stops at its bound and leaves later events', async () => {
  const scheduler = new Scheduler(1_000);
  const seen: number[] = [];
  scheduler.after(5, () => seen.push(scheduler.now()));
  scheduler.after(15, () => seen.push(scheduler.now()));
  await scheduler.runUntil(1_010);
  assert.deepEqual(seen, [1_005]);
  assert.equal(scheduler.now(), 1_010);
  assert.equal(scheduler.nextEventMs(), 1_015);
  await scheduler.runUntil(1_015);
  assert.deepEqual(seen, [1_005, 1_015]);
  assert.throws(() => scheduler.at(1_000, () => undefined), /in the past/);
});

test('a cancelled event never runs; cancel answers whether there was something to cancel', async () => {
  const scheduler = new Scheduler();
  const ran: number[] = [];
  const a = scheduler.at(1, () => ran.push(1));
  scheduler.at(2, () => ran.push(2));
  const c = scheduler.at(3, () => ran.push(3));
  assert.equal(scheduler.cancel(a), true);
  assert.equal(scheduler.cancel(a), false);
  assert.equal(scheduler.pendingCount, 2);
  scheduler.at(2, () => scheduler.cancel(c));
  await scheduler.runUntil(10);
  assert.deepEqual(ran, [2]);
  assert.equal(scheduler.cancel(c), false);
});

test('many cancelled timers do not pile up in the queue', async () => {
  const scheduler = new Scheduler();
  let fired = 0;
  for (let i = 0; i < 100_000; i++) {
    const id = scheduler.after(1_000_000 + i, () => fired++);
    scheduler.cancel(id);
  }
  scheduler.after(5, () => fired++);
  assert.equal(scheduler.pendingCount, 1);
  assert.equal(await scheduler.runUntilIdle(10), 'idle');
  assert.equal(fired, 1);
  assert.equal(scheduler.now(), 5);
});

test('every promise continuation of an event runs before the next event, at that event time', async () => {
  const scheduler = new Scheduler();
  const log: string[] = [];
  const deep = async (depth: number): Promise<void> => {
    for (let i = 0; i < depth; i++) await Promise.resolve();
  };
  scheduler.at(10, async () => {
    log.push(`start@${scheduler.now()}`);
    await deep(50);
    log.push(`continued@${scheduler.now()}`);
    await new Promise<void>((resolve) => process.nextTick(resolve));
    log.push(`after nextTick@${scheduler.now()}`);
  });
  // Same time, scheduled later: it must see the first event's continuations done.
  scheduler.at(10, () => log.push(`second@${scheduler.now()}`));
  await scheduler.runUntil(10);
  assert.deepEqual(log, ['start@10', 'continued@10', 'after nextTick@10', 'second@10']);
});

test('sleep() suspends simulated async code on virtual time', async () => {
  const scheduler = new Scheduler();
  const log: string[] = [];
  const worker = async (name: string, periodMs: number): Promise<void> => {
    for (let i = 0; i < 3; i++) {
      await scheduler.sleep(periodMs);
      log.push(`${name}@${scheduler.now()}`);
    }
  };
  void worker('fast', 10);
  void worker('slow', 25);
  await scheduler.runUntil(100);
  assert.deepEqual(log, ['fast@10', 'fast@20', 'slow@25', 'fast@30', 'slow@50', 'slow@75']);
});

test('a throwing or rejecting event fails the run', async () => {
  const scheduler = new Scheduler();
  scheduler.at(1, () => {
    throw new Error('boom');
  });
  await assert.rejects(scheduler.runUntil(5), /boom/);
  scheduler.at(6, async () => {
    await Promise.resolve();
    throw new Error('async boom');
  });
  await assert.rejects(scheduler.runUntil(10), /async boom/);
});

test('runUntilIdle reports a queue that never empties; runUntil refuses a livelock at one instant', async () => {
  const scheduler = new Scheduler();
  const tick = (): void => {
    scheduler.after(1, tick);
  };
  tick();
  assert.equal(await scheduler.runUntilIdle(100), 'limit');
  assert.equal(scheduler.now(), 100);

  const spinning = new Scheduler();
  const spin = (): void => {
    spinning.after(0, spin);
  };
  spin();
  await assert.rejects(spinning.runUntil(1, 1_000), /more than 1000 events/);
});

test('a run cannot start from inside an event', async () => {
  const scheduler = new Scheduler();
  let nestedError: unknown;
  scheduler.at(1, () => {
    scheduler.runUntil(2).catch((error: unknown) => (nestedError = error));
  });
  await scheduler.runUntil(1);
  assert.match(String(nestedError), /already running/);
});

test('the same schedule of timers gives the same trace twice', async () => {
  const trace = async (): Promise<string[]> => {
    const scheduler = new Scheduler();
    const out: string[] = [];
    let state = 7;
    const next = (): number => (state = (state * 48271) % 2147483647);
    for (let i = 0; i < 50; i++) {
      scheduler.at(next() % 100, async () => {
        await Promise.resolve();
        out.push(`${i}@${scheduler.now()}`);
        if (i % 3 === 0) scheduler.after(next() % 10, () => out.push(`child${i}@${scheduler.now()}`));
      });
    }
    await scheduler.runUntil(200);
    return out;
  };
  assert.deepEqual(await trace(), await trace());
});

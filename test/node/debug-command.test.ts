/**
 * DEBUG, the node's fault hook for failure tests: PARTITION cuts both directions of this node's links to
 * the nodes named, PARTITION-ONEWAY only what this node sends to them, HEAL restores every link; all of
 * it refused unless the node runs with --enable-debug-command.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientConnection } from '../../src/node/client-connection.js';
import type { NodeContext } from '../../src/node/node-context.js';
import { SERVER_COMMANDS } from '../../src/node/server-commands.js';
import type { Reply } from '../../src/resp/reply.js';
import { FaultInjector } from '../../src/transport/fault-injector.js';

const debug = SERVER_COMMANDS.get('debug')!;
const conn = {} as ClientConnection;

function context(faults: FaultInjector | undefined): NodeContext {
  return { selfId: 'node1', debugFaults: () => faults } as unknown as NodeContext;
}

function run(ctx: NodeContext, ...args: string[]): Reply {
  return debug(
    ctx,
    conn,
    ['DEBUG', ...args].map((a) => Buffer.from(a)),
  ) as Reply;
}

/** Every blocked link among node1..node3, as "from>to". */
function blocked(faults: FaultInjector): string[] {
  const links: string[] = [];
  for (const from of ['node1', 'node2', 'node3']) for (const to of ['node1', 'node2', 'node3']) if (from !== to && faults.isBlocked(from, to)) links.push(`${from}>${to}`);
  return links;
}

describe('DEBUG fault hook', () => {
  it('PARTITION cuts both directions between this node and the nodes named', () => {
    const faults = new FaultInjector();
    assert.deepEqual(run(context(faults), 'PARTITION', 'node2'), { kind: 'simple', value: 'OK' });
    assert.deepEqual(blocked(faults), ['node1>node2', 'node2>node1']);
  });

  it('PARTITION-ONEWAY cuts only what this node sends to the nodes named', () => {
    const faults = new FaultInjector();
    assert.deepEqual(run(context(faults), 'partition-oneway', 'node2', 'node3'), { kind: 'simple', value: 'OK' });
    assert.deepEqual(blocked(faults), ['node1>node2', 'node1>node3']);
    assert.deepEqual(run(context(faults), 'HEAL'), { kind: 'simple', value: 'OK' });
    assert.deepEqual(blocked(faults), []);
    assert.equal(faults.active, false);
  });

  it('PARTITION-ONEWAY without a node is refused and cuts nothing', () => {
    const faults = new FaultInjector();
    const reply = run(context(faults), 'PARTITION-ONEWAY');
    assert.equal(reply.kind, 'error');
    assert.deepEqual(blocked(faults), []);
  });

  it('is refused without --enable-debug-command', () => {
    const reply = run(context(undefined), 'PARTITION-ONEWAY', 'node2');
    assert.equal(reply.kind, 'error');
    assert.match((reply as { message: string }).message, /DEBUG command not allowed/);
  });
});

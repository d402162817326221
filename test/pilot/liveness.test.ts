/** Node liveness as the leading pilot judges it from heartbeats, and the grace a new leader gives. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PILOT_REQUEST_TIMEOUT_MS } from '../../src/common/protocol.js';
import { NodeLiveness } from '../../src/pilot/liveness.js';

const TIMEOUT_MS = 3000;

describe('NodeLiveness', () => {
  it('a node is down once a node timeout passes after its last heartbeat', () => {
    const liveness = new NodeLiveness(TIMEOUT_MS, 0);
    liveness.recordHeartbeat('node1', [], 10_000);
    assert.equal(liveness.isUp('node1', 13_000), true);
    assert.equal(liveness.isUp('node1', 13_001), false);
  });

  it('after taking the lead it waits for nodes still blocked on a request to the old leader before calling them down', () => {
    const liveness = new NodeLiveness(TIMEOUT_MS, 0);
    liveness.recordHeartbeat('node1', [], 1000);
    liveness.reset(50_000);
    // The nodes' heartbeats hang on the paused old leader until their request times out, then find this one.
    const grace = TIMEOUT_MS + PILOT_REQUEST_TIMEOUT_MS;
    assert.equal(liveness.isUp('node1', 50_000 + TIMEOUT_MS + 200), true);
    assert.equal(liveness.isUp('node1', 50_000 + grace), true);
    assert.equal(liveness.isUp('node1', 50_000 + grace + 1), false);
    assert.deepEqual(liveness.sweep(['node1'], 50_000 + TIMEOUT_MS + 200), []);
    liveness.recordHeartbeat('node1', [], 50_000 + grace - 100);
    assert.equal(liveness.isUp('node1', 50_000 + grace + 1), true);
  });
});

/** Free TCP ports for tests and benchmarks, so they never collide with a running cluster or each other. */
import { createServer } from 'node:net';

function isFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * Ports `freePort` has handed out in this process. The kernel may offer a port again once its probe is
 * closed, and two users of one port (a pilot's client and bus ports) then collide.
 */
const handedOut = new Set<number>();
/** Kernel offers `freePort` skips, at most, before it gives up. */
const REOFFERED_PORTS_MAX = 100;

/** A free port chosen by the kernel, never one this process was given before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt <= REOFFERED_PORTS_MAX; attempt++) {
    const port = await kernelPort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`the kernel offered only ports already handed out, ${REOFFERED_PORTS_MAX + 1} times`);
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A base port such that base .. base+count-1, and the same plus each of `offsets`, are all free:
 * `cleave local` derives node i's ports from one base (port, port + 10000, port + 20000).
 */
export async function freePortBlock(count: number, offsets: readonly number[] = [0, 10000, 20000]): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 11000 + Math.floor(Math.random() * 20000);
    let ok = true;
    for (let i = 0; i < count && ok; i++) for (const offset of offsets) if (!(await isFree(base + i + offset))) ok = false;
    if (ok) return base;
  }
  throw new Error('no free block of ports found');
}

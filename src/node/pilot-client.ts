/**
 * The node's side of the node ↔ pilot protocol: join, heartbeat, and a long poll for new routing
 * versions. Plain HTTP/JSON to the pilot's internal endpoints; the cluster secret rides in a header.
 */
import type { HeartbeatRequest, HeartbeatResponse, JoinRequest, JoinResponse } from '../common/protocol.js';
import type { RoutingTable } from '../common/routing.js';

/** An answer from the pilot that is not a success; `status` 0 means the pilot was not reached. */
export class PilotError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class PilotClient {
  constructor(
    private readonly baseUrl: string,
    private readonly clusterSecret: string | undefined,
    private readonly requestTimeoutMs = 5000,
  ) {}

  join(request: JoinRequest): Promise<JoinResponse> {
    return this.call<JoinResponse>('POST', '/api/v1/internal/join', request);
  }

  heartbeat(request: HeartbeatRequest): Promise<HeartbeatResponse> {
    return this.call<HeartbeatResponse>('POST', '/api/v1/internal/heartbeat', request);
  }

  /** Resolves with the routing table once its version exceeds `after`, or after `waitMs` anyway. */
  waitForRouting(after: number, waitMs: number): Promise<RoutingTable> {
    return this.call<RoutingTable>('GET', `/api/v1/internal/routing?after=${after}&wait_ms=${waitMs}`, undefined, waitMs + this.requestTimeoutMs);
  }

  private async call<T>(method: string, path: string, body: unknown, timeoutMs = this.requestTimeoutMs): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.clusterSecret !== undefined) headers['x-cleave-secret'] = this.clusterSecret;
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new PilotError(0, `pilot ${this.baseUrl} unreachable: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await response.text();
    if (!response.ok) throw new PilotError(response.status, `pilot answered ${response.status} to ${method} ${path}: ${text}`);
    return JSON.parse(text) as T;
  }
}

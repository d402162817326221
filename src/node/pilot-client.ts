/**
 * The node's side of the node ↔ pilot protocol: join, heartbeat, and a long poll for new routing
 * versions. Plain HTTP/JSON to the pilot's internal endpoints; the cluster secret rides in a header. With
 * several pilot replicas, each request finds the leader (see PilotReplicas): the one that answered last
 * first, then the leader a follower names, then the other replicas in turn.
 */
import { PILOT_REQUEST_TIMEOUT_MS, type HeartbeatRequest, type HeartbeatResponse, type JoinRequest, type JoinResponse } from '../common/protocol.js';
import type { RoutingTable } from '../common/routing.js';
import type { SplitReport, SplitReportResponse } from '../split/types.js';
import { type PilotAnswer, PilotReplicas, PilotUnreachableError } from '../common/pilot-replicas.js';

/** An answer from the pilot that is not a success; `status` 0 means no pilot replica was reached. */
export class PilotError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The pilot's own words, from its JSON error body, when it gave any. */
    readonly refusal?: string,
  ) {
    super(message);
  }
}

export class PilotClient {
  private readonly replicas: PilotReplicas;

  /** @param pilotUrls one pilot URL, or the URLs of the pilot's replicas (an array, or separated by commas). */
  constructor(
    pilotUrls: string | readonly string[],
    private readonly clusterSecret: string,
    private readonly requestTimeoutMs = PILOT_REQUEST_TIMEOUT_MS,
  ) {
    this.replicas = new PilotReplicas(pilotUrls);
  }

  /** The pilot replica asked first: the one that answered last. */
  get currentUrl(): string {
    return this.replicas.current;
  }

  join(request: JoinRequest): Promise<JoinResponse> {
    return this.call<JoinResponse>('POST', '/api/v1/internal/join', request);
  }

  heartbeat(request: HeartbeatRequest): Promise<HeartbeatResponse> {
    return this.call<HeartbeatResponse>('POST', '/api/v1/internal/heartbeat', request);
  }

  /** A split source leader's report; answered with the task's recorded status. */
  reportSplit(report: SplitReport): Promise<SplitReportResponse> {
    return this.call<SplitReportResponse>('POST', `/api/v1/internal/splits/${encodeURIComponent(report.task_id)}/report`, report);
  }

  /** Resolves with the routing table once its version exceeds `after`, or after `waitMs` anyway. */
  waitForRouting(after: number, waitMs: number): Promise<RoutingTable> {
    return this.call<RoutingTable>('GET', `/api/v1/internal/routing?after=${after}&wait_ms=${waitMs}`, undefined, waitMs + this.requestTimeoutMs);
  }

  private async call<T>(method: string, path: string, body: unknown, timeoutMs = this.requestTimeoutMs): Promise<T> {
    const headers: Record<string, string> = { 'x-cleave-secret': this.clusterSecret };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let answer: PilotAnswer;
    try {
      answer = await this.replicas.request(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }), timeoutMs });
    } catch (err) {
      if (err instanceof PilotUnreachableError) throw new PilotError(0, `pilot unreachable: ${err.message}`);
      throw err;
    }
    if (answer.status < 200 || answer.status >= 300)
      throw new PilotError(answer.status, `pilot ${answer.url} answered ${answer.status} to ${method} ${path}: ${answer.text}`, errorMessageOf(answer.text));
    return JSON.parse(answer.text) as T;
  }
}

/** `error.message` of a JSON error body; undefined for anything else. */
function errorMessageOf(text: string): string | undefined {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    return typeof message === 'string' ? message : undefined;
  } catch {
    return undefined;
  }
}

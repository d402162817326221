/**
 * HTTP requests to whichever pilot replica leads. Only the leader answers most of the pilot's routes; the
 * others answer 421 with the leader's URL in the error body (`{"error": ..., "leader": "http://..."}`), or
 * 503 `no_leader` during an election. A caller lists the replicas it knows; a request goes to the one that
 * answered last, follows a leader hint, and moves on to the next replica when one is unreachable or knows
 * no leader. Nodes and the CLI share this.
 */

/** A replica's answer: its status and body, and which replica gave it. */
export interface PilotAnswer {
  readonly status: number;
  readonly text: string;
  /** The replica that answered. */
  readonly url: string;
}

/** What one request carries; the body is sent as is. */
export interface PilotRequestInit {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly timeoutMs: number;
}

/** No pilot replica could be reached; `message` says what the last attempt met. */
export class PilotUnreachableError extends Error {
  override readonly name = 'PilotUnreachableError';
}

/** Leader hints followed in one request beyond the listed replicas, so two confused replicas cannot ping-pong forever. */
const HINTS_FOLLOWED_MAX = 3;

/** Parses `--pilot`-style lists: URLs separated by commas, trailing slashes dropped. */
export function splitPilotUrls(urls: string | readonly string[]): string[] {
  const list = (typeof urls === 'string' ? urls.split(',') : urls).map((u) => u.trim().replace(/\/+$/, '')).filter((u) => u !== '');
  if (list.length === 0) throw new Error('assertion failed: at least one pilot URL');
  return [...new Set(list)];
}

/** The pilot replicas one caller knows, and the one it asks first. */
export class PilotReplicas {
  readonly urls: readonly string[];
  private preferred: string;

  constructor(urls: string | readonly string[]) {
    this.urls = splitPilotUrls(urls);
    this.preferred = this.urls[0]!;
  }

  /** The replica asked first: the last one that answered, or the first listed. */
  get current(): string {
    return this.preferred;
  }

  /**
   * Sends the request to the leading replica as far as the answers tell; returns the first answer that is
   * not a redirection (any status, for the caller to judge), else the last one. Throws
   * PilotUnreachableError when no replica answered at all.
   */
  async request(path: string, init: PilotRequestInit): Promise<PilotAnswer> {
    const tried = new Set<string>();
    let url: string | undefined = this.preferred;
    let hints = 0;
    let last: PilotAnswer | undefined;
    let failure = '';
    while (url !== undefined) {
      tried.add(url);
      let answer: PilotAnswer | undefined;
      try {
        const response = await fetch(url + path, {
          method: init.method,
          headers: init.headers,
          ...(init.body === undefined ? {} : { body: init.body }),
          signal: AbortSignal.timeout(init.timeoutMs),
        });
        answer = { status: response.status, text: await response.text(), url };
      } catch (err) {
        failure = `${url}: ${err instanceof Error ? err.message : String(err)}`;
      }
      if (answer !== undefined) {
        last = answer;
        const redirect = redirectionOf(answer);
        if (redirect === undefined) {
          this.preferred = url;
          return answer;
        }
        if (redirect.leader !== undefined && !tried.has(redirect.leader) && hints < HINTS_FOLLOWED_MAX) {
          hints++;
          url = redirect.leader;
          continue;
        }
      }
      url = this.urls.find((u) => !tried.has(u));
    }
    if (last !== undefined) return last;
    throw new PilotUnreachableError(`no pilot replica answered (${this.urls.join(', ')}); last: ${failure}`);
  }
}

/** Whether an answer sends the caller elsewhere: 421 (with the leader's URL if known) or 503 `no_leader`. */
function redirectionOf(answer: PilotAnswer): { readonly leader: string | undefined } | undefined {
  if (answer.status !== 421 && answer.status !== 503) return undefined;
  let body: { error?: { code?: unknown }; leader?: unknown } | undefined;
  try {
    body = JSON.parse(answer.text) as typeof body;
  } catch {
    body = undefined;
  }
  if (answer.status === 503 && body?.error?.code !== 'no_leader') return undefined;
  return { leader: typeof body?.leader === 'string' ? body.leader.replace(/\/+$/, '') : undefined };
}

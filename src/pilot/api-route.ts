/**
 * One HTTP route as data: method, path, who may call it, zod schemas of its inputs and answer, and its
 * handler. The server registers routes from these definitions and the OpenAPI document is derived from the
 * same ones, so the document cannot miss a route or disagree with the validation.
 */
import type { z } from 'zod/v4';
import type { ApiError } from './api-error.js';

/** Who may call a route: the operator (admin token), the cluster's nodes (cluster secret), or anyone. */
export type RouteAccess = 'admin' | 'cluster' | 'open';

/**
 * Which pilot replica answers: only the serving leader (the others answer 421 naming it, or 503 while
 * there is none), or any replica, from what it knows itself (health, metrics, its view of the group).
 */
export type RouteReplica = 'leader' | 'any';

/** A zod object schema, whose fields become OpenAPI parameters. */
export type ObjectSchema<T> = z.ZodType<T> & { readonly shape: Readonly<Record<string, z.ZodType>> };

/** A route's validated inputs. */
export interface RouteInput<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  /** Aborts when the client goes away before the answer. */
  readonly signal: AbortSignal;
}

export interface RouteDefinition<P = unknown, Q = unknown, B = unknown, R = unknown> {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** OpenAPI-style path: `/api/v1/nodes/{id}`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly access: RouteAccess;
  /** Default 'leader'. */
  readonly replica?: RouteReplica;
  readonly params?: ObjectSchema<P>;
  readonly query?: ObjectSchema<Q>;
  readonly body?: z.ZodType<B>;
  /** The successful answer; must be registered in `apiSchemas`. */
  readonly response: z.ZodType<R>;
  /** Status of the successful answer: 202 for a change accepted but not yet carried out. Default 200. */
  readonly status?: 200 | 202;
  /** Content type of the 200 answer when it is not JSON. */
  readonly contentType?: string;
  /** Error statuses the handler itself can return, besides the ones validation and access checks add. */
  readonly errorCodes?: readonly ApiError['code'][];
  handle(input: RouteInput<P, Q, B>): R | ApiError | Promise<R | ApiError>;
}

/** Type-checks a route's handler against its schemas, then erases the types so routes fit in one list. */
export function defineRoute<P, Q, B, R>(route: RouteDefinition<P, Q, B, R>): RouteDefinition {
  return route as RouteDefinition;
}

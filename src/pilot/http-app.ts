/**
 * The fastify application around the route definitions: access checks, zod validation of every input,
 * JSON errors for every failure (validation, unknown routes, oversized bodies, handler bugs) and request
 * metrics.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type RawServerDefault } from 'fastify';
import type { z } from 'zod/v4';
import type { Logger } from '../common/logger.js';
import { ApiError, invalidInput, type InputLocation } from './api-error.js';
import type { RouteAccess, RouteDefinition } from './api-route.js';
import { UNMATCHED_ROUTE, type PilotMetrics } from './pilot-metrics.js';

/** Largest request body accepted: a heartbeat of thousands of shards fits many times over. */
export const BODY_BYTES_MAX = 1024 * 1024;
/** How much of an unknown URL an error message repeats. */
const URL_ECHO_LENGTH_MAX = 200;
const CLUSTER_SECRET_HEADER = 'x-cleave-secret';

/** Credentials, metrics and logger of the HTTP app, and the check of routes only the leader answers. */
export interface HttpAppOptions {
  /** Required as `Authorization: Bearer <token>` on admin routes when set. */
  readonly adminToken?: string;
  /** Required in `x-cleave-secret` on cluster routes, always: they change the routing table. */
  readonly clusterSecret: string;
  readonly metrics: PilotMetrics;
  readonly logger: Logger;
  /** Undefined when this replica may answer a leader's route now; else the error that points elsewhere. */
  readonly leaderGate?: () => Promise<ApiError | undefined>;
}

/** The pilot's fastify instance, logging through the pilot's pino logger. */
export type HttpApp = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

/** A fastify app serving `routes`; not yet listening. */
export function createHttpApp(routes: readonly RouteDefinition[], options: HttpAppOptions): HttpApp {
  // Request logging is off: heartbeats would drown the log; the pilot logs the events that matter.
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_BYTES_MAX,
    // Errors fastify and Node raise before any route runs get the API's JSON shape too.
    frameworkErrors: (error, _request, reply) => send(reply, new ApiError('invalid_request', error.message)),
    clientErrorHandler: answerClientError,
  });
  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.path.replace(/\{(\w+)\}/g, ':$1'),
      handler: (request, reply) => handle(route, options, request, reply),
    });
  }
  const methodsByPath = routes.map((route) => ({ pattern: pathPattern(route.path), method: route.method }));
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed = [...new Set(methodsByPath.filter((r) => r.pattern.test(path)).map((r) => r.method))];
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return send(reply, new ApiError('method_not_allowed', `${request.method} is not allowed on ${path.slice(0, URL_ECHO_LENGTH_MAX)}; use ${allowed.join(' or ')}`));
    }
    return send(reply, new ApiError('not_found', `no route ${request.method} ${path.slice(0, URL_ECHO_LENGTH_MAX)}`));
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const apiError = fromFastifyError(error);
    if (apiError.code === 'internal') request.log.error({ err: error, url: request.url }, 'request failed');
    return send(reply, apiError);
  });
  app.addHook('onResponse', async (request, reply) => {
    options.metrics.observeRequest(request.method, request.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime / 1000);
  });
  return app;
}

async function handle(route: RouteDefinition, options: HttpAppOptions, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const denied = accessError(route.access, request, options);
  if (denied !== undefined) {
    if (denied.code === 'unauthorized' && route.access === 'admin') reply.header('www-authenticate', 'Bearer');
    return send(reply, denied);
  }
  if ((route.replica ?? 'leader') === 'leader' && options.leaderGate !== undefined) {
    const elsewhere = await options.leaderGate();
    if (elsewhere !== undefined) return send(reply, elsewhere);
  }
  const params = parse('params', route.params, request.params);
  if (params instanceof ApiError) return send(reply, params);
  const query = parse('query', route.query, request.query);
  if (query instanceof ApiError) return send(reply, query);
  const body = parse('body', route.body, request.body);
  if (body instanceof ApiError) return send(reply, body);
  const gone = new AbortController();
  reply.raw.once('close', () => gone.abort());
  const answer = await route.handle({ params, query, body, signal: gone.signal });
  if (answer instanceof ApiError) return send(reply, answer);
  return reply
    .code(route.status ?? 200)
    .type(route.contentType ?? 'application/json; charset=utf-8')
    .send(answer);
}

function parse(location: InputLocation, schema: z.ZodType | undefined, input: unknown): unknown {
  if (schema === undefined) return undefined;
  const parsed = schema.safeParse(input);
  return parsed.success ? parsed.data : invalidInput(location, parsed.error);
}

function accessError(access: RouteAccess, request: FastifyRequest, options: HttpAppOptions): ApiError | undefined {
  if (access === 'admin' && options.adminToken !== undefined) {
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
    if (token === undefined || !secretsEqual(token, options.adminToken)) return new ApiError('unauthorized', 'a valid admin token is required: Authorization: Bearer <token>');
  }
  if (access === 'cluster') {
    const secret = request.headers[CLUSTER_SECRET_HEADER];
    if (typeof secret !== 'string' || secret === '') return new ApiError('unauthorized', `the cluster secret is required in ${CLUSTER_SECRET_HEADER}`);
    if (!secretsEqual(secret, options.clusterSecret)) return new ApiError('forbidden', 'wrong cluster secret');
  }
  return undefined;
}

/** Compares digests so the time taken tells nothing about the secret, not even its length. */
function secretsEqual(given: string, expected: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function fromFastifyError(error: FastifyError): ApiError {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('payload_too_large', `request body exceeds ${BODY_BYTES_MAX} bytes`, 'body');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('unsupported_media_type', 'request bodies must be application/json', 'body');
  }
  // Other client errors from fastify are about the body: malformed JSON, an empty JSON body, a bad length.
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) return new ApiError('invalid_request', error.message, 'body');
  return new ApiError('internal', 'internal error');
}

/** A route's path as a regex over concrete paths: each `{param}` is one non-empty segment. */
function pathPattern(path: string): RegExp {
  const escaped = path.split(/\{\w+\}/).map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('[^/]+')}$`);
}

/**
 * A request Node's HTTP parser refused (headers too large, malformed): answered in the API's JSON shape
 * and the connection closed, as Node itself would do with an empty body.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const apiError =
    error.code === 'HPE_HEADER_OVERFLOW' ? new ApiError('header_fields_too_large', 'request headers are too large') : new ApiError('invalid_request', 'malformed HTTP request');
  const body = JSON.stringify(apiError.toBody());
  socket.end(
    `HTTP/1.1 ${apiError.status} ${STATUS_CODES[apiError.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function send(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply.code(error.status).type('application/json; charset=utf-8').send(error.toBody());
}

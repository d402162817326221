/**
 * The OpenAPI 3.1 document of the pilot's HTTP API, derived from the route definitions and their zod
 * schemas. OpenAPI 3.1 schemas are JSON Schema 2020-12, which is what zod emits, so schemas are used as
 * they come; named schemas go to `components/schemas` and are referenced.
 */
import { z } from 'zod/v4';
import { assert } from '../common/errors.js';
import { STATUS_BY_CODE } from './api-error.js';
import type { RouteAccess, RouteDefinition } from './api-route.js';
import { apiSchemas, errorBodySchema } from './api-schemas.js';

type JsonObject = Record<string, unknown>;

const SCHEMA_REF_PREFIX = '#/components/schemas/';
const SECURITY_BY_ACCESS: Readonly<Record<RouteAccess, JsonObject[]>> = {
  admin: [{ adminToken: [] }],
  cluster: [{ clusterSecret: [] }],
  open: [],
};

/** Builds the document for `routes`; `version` is the API's version. */
export function buildOpenApiDocument(routes: readonly RouteDefinition[], version: string): JsonObject {
  const paths: Record<string, JsonObject> = {};
  for (const route of routes) {
    const operations = (paths[route.path] ??= {});
    operations[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: { title: 'cleave pilot', version, description: 'Control plane of cleave: cluster metadata, routing table, node registration.' },
    paths,
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: "The pilot's admin token, when one is set." },
        clusterSecret: {
          type: 'apiKey',
          in: 'header',
          name: 'x-cleave-secret',
          description: 'The cluster secret the pilot and its nodes share; every internal route requires it.',
        },
      },
    },
  };
}

function operation(route: RouteDefinition): JsonObject {
  const parameters = [...parametersOf('path', route.params), ...parametersOf('query', route.query)];
  const errors = new Set(route.errorCodes ?? []);
  if (parameters.length > 0 || route.body !== undefined) errors.add('invalid_request');
  if (route.access === 'admin') errors.add('unauthorized');
  if (route.access === 'cluster') errors.add('unauthorized').add('forbidden');
  if (route.body !== undefined) errors.add('payload_too_large').add('unsupported_media_type');
  if ((route.replica ?? 'leader') === 'leader') errors.add('not_leader').add('no_leader');
  errors.add('internal');
  const status = route.status ?? 200;
  const responses: JsonObject = {
    [String(status)]: { description: status === 202 ? 'Accepted' : 'OK', content: { [route.contentType ?? 'application/json']: { schema: schemaRef(route.response) } } },
  };
  for (const code of errors) {
    // Codes sharing a status share its entry: 503 is `overloaded, no_leader`.
    const errorStatus = String(STATUS_BY_CODE[code]);
    const description = responses[errorStatus] === undefined ? code : `${(responses[errorStatus] as { description: string }).description}, ${code}`;
    responses[errorStatus] = { description, content: { 'application/json': { schema: schemaRef(errorBodySchema) } } };
  }
  return {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.access === 'cluster' ? 'internal' : 'public'],
    security: SECURITY_BY_ACCESS[route.access],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body === undefined ? {} : { requestBody: { required: true, content: { 'application/json': { schema: schemaRef(route.body) } } } }),
    responses,
  };
}

function parametersOf(location: 'path' | 'query', schema: RouteDefinition['params']): JsonObject[] {
  if (schema === undefined) return [];
  return Object.entries(schema.shape).map(([name, field]) => {
    const { description, ...fieldSchema } = inlineSchema(field);
    return {
      name,
      in: location,
      required: location === 'path' || !field.safeParse(undefined).success,
      ...(description === undefined ? {} : { description }),
      schema: fieldSchema,
    };
  });
}

function schemaRef(schema: z.ZodType): JsonObject {
  const id = apiSchemas.get(schema)?.id;
  assert(id !== undefined, 'request and response bodies must be registered in apiSchemas');
  return { $ref: `${SCHEMA_REF_PREFIX}${id}` };
}

function componentSchemas(): JsonObject {
  // As accepted on input: a field with a default is optional. Response schemas have no defaults, so for
  // them the input and output forms agree.
  const { schemas } = z.toJSONSchema(apiSchemas, { uri: (id) => `${SCHEMA_REF_PREFIX}${id}`, io: 'input' });
  const components: JsonObject = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _dialect, $id: _id, ...rest } = schema as JsonObject;
    components[id] = rest;
  }
  return components;
}

function inlineSchema(schema: z.ZodType): JsonObject {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input' }) as JsonObject;
  return rest;
}

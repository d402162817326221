/** An HTTP API error as a value: handlers return it, the server turns it into a JSON error body. */
import type { z } from 'zod/v4';
import type { ApiErrorCode, ErrorBody } from './api-schemas.js';

/** The HTTP status of each error code. */
export const STATUS_BY_CODE: Readonly<Record<ApiErrorCode, number>> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  header_fields_too_large: 431,
  overloaded: 503,
  not_leader: 421,
  no_leader: 503,
  unavailable: 503,
  internal: 500,
};

/**
 * An error answer: `code` fixes the HTTP status, `field` names the offending input if any, `leader` the
 * pilot replica to ask instead (null while the replicas have no leader).
 */
export class ApiError {
  constructor(
    readonly code: ApiErrorCode,
    readonly message: string,
    /** The offending input, `body.port`-style. */
    readonly field?: string,
    /** `http://host:port` of the leading pilot replica, for `not_leader` and `no_leader`. */
    readonly leader?: string | null,
  ) {}

  /** The HTTP status of `code`. */
  get status(): number {
    return STATUS_BY_CODE[this.code];
  }

  /** The JSON body every error answer has. */
  toBody(): ErrorBody {
    const error = this.field === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, field: this.field };
    return this.leader === undefined ? { error } : { error, leader: this.leader };
  }
}

/** Where a request input came from, as the prefix of `field`. */
export type InputLocation = 'params' | 'query' | 'body';

/** A 400 naming the first field zod refused, e.g. `body.shards.0.keys`. */
export function invalidInput(location: InputLocation, error: z.ZodError): ApiError {
  const issue = error.issues[0];
  if (issue === undefined) return new ApiError('invalid_request', `invalid ${location}`, location);
  const field = [location, ...issue.path.map(String)].join('.');
  return new ApiError('invalid_request', `${field}: ${issue.message}`, field);
}

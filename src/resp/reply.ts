/**
 * The reply model: what a command answers, independent of protocol version. The writer encodes it as
 * RESP2 or RESP3 (a map becomes a flat array in RESP2, a double a bulk string, null a null bulk).
 */
export type Reply =
  | { readonly kind: 'simple'; readonly value: string }
  /** `message` is the whole error line without the leading '-', e.g. `ERR wrong number of arguments`. */
  | { readonly kind: 'error'; readonly message: string }
  | { readonly kind: 'int'; readonly value: number | bigint }
  | { readonly kind: 'bulk'; readonly value: Buffer | string }
  | { readonly kind: 'null' }
  /** A null array (`*-1` in RESP2, `_` in RESP3). */
  | { readonly kind: 'null-array' }
  | { readonly kind: 'array'; readonly items: readonly Reply[] }
  | { readonly kind: 'set'; readonly items: readonly Reply[] }
  | { readonly kind: 'map'; readonly entries: readonly (readonly [Reply, Reply])[] }
  | { readonly kind: 'double'; readonly value: number }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'verbatim'; readonly format: string; readonly text: string };

export const OK: Reply = { kind: 'simple', value: 'OK' };
export const NULL: Reply = { kind: 'null' };
export const NULL_ARRAY: Reply = { kind: 'null-array' };
export const EMPTY_ARRAY: Reply = { kind: 'array', items: [] };
export const ZERO: Reply = { kind: 'int', value: 0 };
export const ONE: Reply = { kind: 'int', value: 1 };

export const simple = (value: string): Reply => ({ kind: 'simple', value });
export const error = (message: string): Reply => ({ kind: 'error', message });
export const int = (value: number | bigint): Reply => ({ kind: 'int', value });
export const bulk = (value: Buffer | string): Reply => ({ kind: 'bulk', value });
export const bulkOrNull = (value: Buffer | string | undefined | null): Reply => (value === undefined || value === null ? NULL : { kind: 'bulk', value });
export const array = (items: readonly Reply[]): Reply => ({ kind: 'array', items });
export const map = (entries: readonly (readonly [Reply, Reply])[]): Reply => ({ kind: 'map', entries });
export const double = (value: number): Reply => ({ kind: 'double', value });
export const bulkArray = (values: readonly (Buffer | string)[]): Reply => ({
  kind: 'array',
  items: values.map((v) => ({ kind: 'bulk', value: v }) as Reply),
});

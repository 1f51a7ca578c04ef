/**
 * Conversion between JSON-shaped data and CEL values.
 *
 * CEL distinguishes `int` (a JS bigint here) from `double` (a JS number). Kubernetes
 * decodes an integral JSON number as an int, so `object.spec.replicas + 1` type-checks
 * and yields an int; `fromJson` does the same. Integers beyond 2^53 lose precision in
 * JSON.parse before they reach us; `parseJson` keeps them exact.
 */
import { Optional, UnsignedInt, Duration, isCelType } from './adapter.js';

export type CelValue = unknown;

export function fromJson(value: unknown): CelValue {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = fromJson(value[i]);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = fromJson((value as Record<string, unknown>)[key]);
  return out;
}

/** JSON.parse that turns integral numbers into bigints, exactly, whatever their size. */
export function parseJson(text: string): CelValue {
  return JSON.parse(text, (_key, v, context?: { source?: string }) => {
    if (typeof v !== 'number') return v;
    const source = context?.source;
    if (source !== undefined) return /^-?\d+$/.test(source) ? BigInt(source) : v;
    return Number.isInteger(v) ? BigInt(v) : v;
  });
}

/** The CEL type name of a runtime value, as `type(x)` would print it. */
export function celTypeName(value: CelValue): string {
  switch (typeof value) {
    case 'bigint':
      return 'int';
    case 'number':
      return 'double';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'undefined':
      return 'null_type';
    default:
  }
  if (value === null) return 'null_type';
  if (value instanceof UnsignedInt) return 'uint';
  if (value instanceof Uint8Array) return 'bytes';
  if (Array.isArray(value)) return 'list';
  if (value instanceof Date) return 'google.protobuf.Timestamp';
  if (value instanceof Duration) return 'google.protobuf.Duration';
  if (value instanceof Optional) return 'optional_type';
  if (isCelType(value)) return 'type';
  if (value instanceof Map) return 'map';
  const ctor = (value as object).constructor;
  if (ctor === Object || ctor === undefined) return 'map';
  return (value as { celTypeName?: string }).celTypeName ?? ctor.name;
}

export interface JsonOptions {
  /** Write ints that do not fit a JS number as decimal strings (default true). */
  readonly bigIntsAsStrings?: boolean;
}

/** A JSON-safe rendering of a CEL value: ints become numbers (or decimal strings when too large). */
export function toJson(value: CelValue): unknown {
  switch (typeof value) {
    case 'bigint':
      return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'undefined':
      return null;
    case 'string':
    case 'boolean':
      return value;
    default:
  }
  if (value === null) return null;
  if (value instanceof UnsignedInt) return toJson(value.valueOf());
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Duration) return value.toString();
  if (value instanceof Optional) return value.hasValue() ? toJson(value.value()) : null;
  if (isCelType(value)) return String((value as { name?: string }).name ?? value);
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(toJson(k))] = toJson(v);
    return out;
  }
  const toJSONable = value as { toJSON?: () => unknown };
  if (typeof toJSONable.toJSON === 'function') return toJSONable.toJSON();
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value as object)) out[key] = toJson((value as Record<string, unknown>)[key]);
  return out;
}

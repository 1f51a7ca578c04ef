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
  const keys = Object.keys(value);
  if (keys.some(isReservedKey)) return new Map(keys.map((key) => [key, fromJson((value as Record<string, unknown>)[key])]));
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = fromJson((value as Record<string, unknown>)[key]);
  return out;
}

/**
 * Keys a plain object cannot hold as data: assigning `__proto__` swaps the prototype,
 * and a `constructor` entry hides what the evaluator uses to tell a map from a message.
 * Objects with such keys (a label named `constructor` is legal) become Maps instead.
 */
function isReservedKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor';
}

/** A JSON object with string keys: the key `__proto__` is written as data, never as the prototype. */
function jsonObject(entries: Iterable<[string, unknown]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of entries) {
    if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    else out[key] = v;
  }
  return out;
}

/** JSON.parse that turns integral numbers into bigints, exactly, whatever their size. */
export function parseJson(text: string): CelValue {
  return JSON.parse(text, (_key, v, context?: { source?: string }) => {
    if (typeof v !== 'number') return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).some(isReservedKey) ? new Map(Object.entries(v)) : v;
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
  if (value instanceof Map) return jsonObject([...value].map(([k, v]) => [String(toJson(k)), toJson(v)]));
  const toJSONable = value as { toJSON?: () => unknown };
  if (typeof toJSONable.toJSON === 'function') return toJSONable.toJSON();
  return jsonObject(Object.keys(value as object).map((key) => [key, toJson((value as Record<string, unknown>)[key])]));
}

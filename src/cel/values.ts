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
  // Strings first: they are most of what Kubernetes objects hold.
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = fromJson(value[i]);
    return out;
  }
  const source = value as Record<string, unknown>;
  const keys = Object.keys(source);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (isReservedKey(key)) return mapFrom(source, keys, out, i);
    out[key] = fromJson(source[key]);
  }
  return out;
}

/** The Map form of an object with a reserved key: entries before `from` are already converted in `done`. */
function mapFrom(source: Record<string, unknown>, keys: readonly string[], done: Record<string, unknown>, from: number): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (let i = 0; i < from; i++) map.set(keys[i]!, done[keys[i]!]);
  for (let i = from; i < keys.length; i++) map.set(keys[i]!, fromJson(source[keys[i]!]));
  return map;
}

/**
 * Keys a plain object cannot hold as data: assigning `__proto__` swaps the prototype,
 * and a `constructor` entry hides what the evaluator uses to tell a map from a message.
 * Objects with such keys (a label named `constructor` is legal) become Maps instead.
 */
function isReservedKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor';
}

/** Sets `key` on a JSON object: the key `__proto__` is written as data, never as the prototype. */
function setJsonKey(out: Record<string, unknown>, key: string, v: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  else out[key] = v;
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
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) setJsonKey(out, String(toJson(k)), toJson(v));
    return out;
  }
  const toJSONable = value as { toJSON?: () => unknown };
  if (typeof toJSONable.toJSON === 'function') return toJSONable.toJSON();
  const source = value as Record<string, unknown>;
  const keys = Object.keys(source);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) setJsonKey(out, keys[i]!, toJson(source[keys[i]!]));
  return out;
}

/** Both forms of JSON data as it comes back from CEL: `json` is toJson(fromJson(value)), `cel` is fromJson(json). */
export interface RoundTrip {
  readonly json: unknown;
  readonly cel: CelValue;
}

/**
 * `toJson(fromJson(value))` and its CEL form, in one walk instead of three (the mutating
 * phase needs both for every request). Data other than JSON values, bigints and plain
 * objects (a function, a symbol) takes the three-walk path, so the result is the same.
 */
export function roundTripJson(value: unknown): RoundTrip {
  try {
    const json = roundTrip(value);
    return { json, cel: roundTripCel };
  } catch (error) {
    if (error !== NOT_DATA) throw error;
    const json = toJson(fromJson(value));
    return { json, cel: fromJson(json) };
  }
}

const NOT_DATA: unique symbol = Symbol('not JSON data');
/** The CEL form of the value roundTrip last returned (a second return value, without allocating a pair per node). */
let roundTripCel: CelValue;

function roundTrip(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      roundTripCel = value;
      return value;
    case 'number':
      if (Number.isSafeInteger(value)) {
        roundTripCel = BigInt(value);
        return value === 0 ? 0 : value; // -0 goes through 0n
      }
      // An integer beyond 2^53 becomes a decimal string, and so does a non-finite double.
      roundTripCel = Number.isInteger(value) ? BigInt(value).toString() : Number.isFinite(value) ? value : String(value);
      return roundTripCel;
    case 'bigint':
      if (Number.isSafeInteger(Number(value))) {
        roundTripCel = value;
        return Number(value);
      }
      roundTripCel = value.toString();
      return roundTripCel;
    case 'undefined':
      roundTripCel = null;
      return null;
    case 'object':
      break;
    default:
      throw NOT_DATA;
  }
  if (value === null) {
    roundTripCel = null;
    return null;
  }
  if (Array.isArray(value)) {
    const json = new Array(value.length);
    const cel = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      json[i] = roundTrip(value[i]);
      cel[i] = roundTripCel;
    }
    roundTripCel = cel;
    return json;
  }
  // fromJson reads any other object as a map of its own enumerable keys, whatever its prototype.
  const source = value as Record<string, unknown>;
  const keys = Object.keys(source);
  const json: Record<string, unknown> = {};
  const cel: Record<string, unknown> = {};
  // The CEL form becomes a Map from the first reserved key on (as fromJson's does).
  let map: Map<string, unknown> | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const item = roundTrip(source[key]);
    if (key === '__proto__') setJsonKey(json, key, item);
    else json[key] = item;
    if (map !== undefined) map.set(key, roundTripCel);
    else if (isReservedKey(key)) {
      map = new Map<string, unknown>();
      for (let j = 0; j < i; j++) map.set(keys[j]!, cel[keys[j]!]);
      map.set(key, roundTripCel);
    } else cel[key] = roundTripCel;
  }
  roundTripCel = map ?? cel;
  return json;
}

/**
 * `fromJson(next)`, reusing the CEL form of every part `next` shares (by identity) with
 * `previous`, whose CEL form is `previousCel` (= fromJson(previous)). Both JSON values must
 * not have been modified since: a mutated object that keeps most of its parent converts only
 * what changed.
 */
export function fromJsonReusing(next: unknown, previous: unknown, previousCel: CelValue): CelValue {
  if (next === previous) return previousCel;
  if (typeof next !== 'object' || next === null || typeof previous !== 'object' || previous === null) return fromJson(next);
  if (Array.isArray(next)) {
    if (!Array.isArray(previous)) return fromJson(next);
    const cel = previousCel as unknown[];
    const out = new Array(next.length);
    for (let i = 0; i < next.length; i++) out[i] = i < previous.length ? fromJsonReusing(next[i], previous[i], cel[i]) : fromJson(next[i]);
    return out;
  }
  if (Array.isArray(previous)) return fromJson(next);
  const source = next as Record<string, unknown>;
  const before = previous as Record<string, unknown>;
  const keys = Object.keys(source);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (isReservedKey(key)) return mapFrom(source, keys, out, i);
    out[key] = Object.prototype.hasOwnProperty.call(before, key) ? fromJsonReusing(source[key], before[key], celField(previousCel, key)) : fromJson(source[key]);
  }
  return out;
}

function celField(cel: CelValue, key: string): CelValue {
  return cel instanceof Map ? cel.get(key) : (cel as Record<string, unknown>)[key];
}

/** Keys a plain object cannot hold as ordinary entries (the evaluator reads `constructor`). */
const OBJECT_UNSAFE_KEYS: ReadonlySet<unknown> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * A CEL map of these entries (keys already checked for type and repetition): a plain
 * object when every key is a string a plain object can hold, else a Map (non-string keys
 * stay what they are). `stringKeys` may be passed when the caller already knows.
 */
export function celMap(entries: ReadonlyArray<readonly [unknown, unknown]>, stringKeys = entries.every(([key]) => typeof key === 'string')): CelValue {
  if (!stringKeys || entries.some(([key]) => OBJECT_UNSAFE_KEYS.has(key))) return new Map(entries);
  const out: Record<string, unknown> = {};
  for (const [key, value] of entries) out[key as string] = value;
  return out as CelValue;
}

/**
 * Result comparison for conformance cases, as simple.proto defines it: proto equality of
 * the values, except that maps are order-agnostic and a NaN matches any NaN. So int,
 * uint and double are distinct (`1` is not `1u` is not `1.0`), and -0.0 equals 0.0 (the
 * spec's reference runner compares doubles with `==`).
 */
import { Duration, Optional, UnsignedInt, isCelType } from '../adapter.js';
import { ExpectedType } from './values.js';

export function sameResult(actual: unknown, expected: unknown): boolean {
  if (expected instanceof ExpectedType) return isCelType(actual) && typeNameOf(actual) === expected.name;
  switch (typeof expected) {
    case 'bigint':
    case 'string':
    case 'boolean':
      return actual === expected;
    case 'number':
      return typeof actual === 'number' && (actual === expected || (Number.isNaN(actual) && Number.isNaN(expected)));
    default:
  }
  if (expected === null) return actual === null;
  if (expected instanceof UnsignedInt) return actual instanceof UnsignedInt && actual.valueOf() === expected.valueOf();
  if (expected instanceof Uint8Array) return actual instanceof Uint8Array && sameBytes(actual, expected);
  if (expected instanceof Date) return actual instanceof Date && actual.getTime() === expected.getTime();
  if (expected instanceof Duration) {
    return actual instanceof Duration && actual.seconds === expected.seconds && actual.nanos === expected.nanos;
  }
  if (Array.isArray(expected)) return Array.isArray(actual) && sameList(actual, expected);
  if (isMap(expected)) return isMap(actual) && sameMap(entriesOf(actual), entriesOf(expected));
  return false;
}

/** The name `type(x)` gives, spelled as the spec spells it (`null_type`, not `null`). */
function typeNameOf(type: unknown): string {
  const name = String((type as { name?: unknown }).name);
  return name === 'null' ? 'null_type' : name;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function sameList(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((element, i) => sameResult(element, b[i]));
}

function isMap(value: unknown): value is Map<unknown, unknown> | Record<string, unknown> {
  if (value instanceof Map) return true;
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function entriesOf(map: Map<unknown, unknown> | Record<string, unknown>): Array<[unknown, unknown]> {
  return map instanceof Map ? [...map.entries()] : Object.entries(map);
}

/** Order-agnostic: every expected entry has exactly one actual entry with an equal key. */
function sameMap(actual: Array<[unknown, unknown]>, expected: Array<[unknown, unknown]>): boolean {
  if (actual.length !== expected.length) return false;
  return expected.every(([key, value]) => {
    const match = actual.find(([k]) => sameResult(k, key));
    return match !== undefined && sameResult(match[1], value);
  });
}

/** A short rendering of a CEL value for failure messages. */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'bigint':
      return `${value}`;
    case 'number':
      return Object.is(value, -0) ? '-0.0' : Number.isInteger(value) ? `${value}.0` : `${value}`;
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return String(value);
    case 'undefined':
      return 'undefined';
    default:
  }
  if (value === null) return 'null';
  if (value instanceof UnsignedInt) return `${value.valueOf()}u`;
  if (value instanceof Uint8Array) return `b"${[...value].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}"`;
  if (value instanceof Date) return `timestamp(${value.toISOString()})`;
  if (value instanceof Duration) return `duration(${value.toString()})`;
  if (value instanceof Optional) return value.hasValue() ? `optional.of(${describeValue(value.value())})` : 'optional.none()';
  if (value instanceof ExpectedType) return value.toString();
  if (isCelType(value)) return `type(${typeNameOf(value)})`;
  if (Array.isArray(value)) return `[${value.map(describeValue).join(', ')}]`;
  if (isMap(value)) return `{${entriesOf(value).map(([k, v]) => `${describeValue(k)}: ${describeValue(v)}`).join(', ')}}`;
  return `${(value as object).constructor?.name ?? 'object'} ${String(value)}`;
}

/**
 * cel-go's sets extension (`sets.contains`, `sets.equivalent`, `sets.intersects`), which
 * treats lists as sets under CEL equality: `1`, `1u` and `1.0` are the same element.
 *
 * Also home of that equality (`celEquals`) and of `EqualitySet`, a membership index that
 * hashes scalars and compares the rest one by one; the lists library reuses both.
 */
import { Duration, Optional, UnsignedInt, isCelType } from '../adapter.js';
import { charge } from '../cost.js';
import type { CelLibrary } from '../library.js';

type CelMap = Map<unknown, unknown> | Record<string, unknown>;

/** CEL's heterogeneous equality: numbers compare by value across int, uint and double. */
export function celEquals(a: unknown, b: unknown): boolean {
  // Identical scalars are equal (NaN is never identical); containers are compared element-wise.
  if (a === b && (typeof a !== 'object' || a === null)) return true;
  const x = numericValue(a);
  if (x !== undefined) {
    const y = numericValue(b);
    return y !== undefined && numbersEqual(x, y);
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (a instanceof Uint8Array) return b instanceof Uint8Array && bytesEqual(a, b);
  if (Array.isArray(a)) return Array.isArray(b) && listsEqual(a, b);
  if (a instanceof Date) return b instanceof Date && a.getTime() === b.getTime();
  if (a instanceof Duration) return b instanceof Duration && totalNanos(a) === totalNanos(b);
  if (a instanceof Optional) return b instanceof Optional && optionalsEqual(a, b);
  if (isCelType(a)) return isCelType(b) && (a as { name: string }).name === (b as { name: string }).name;
  if (isCelMap(a)) return isCelMap(b) && mapsEqual(a, b);
  return false;
}

/** The exact value of an int (bigint), uint (bigint) or double (number); undefined otherwise. */
function numericValue(value: unknown): bigint | number | undefined {
  if (typeof value === 'bigint' || typeof value === 'number') return value;
  if (value instanceof UnsignedInt) return value.valueOf();
  return undefined;
}

function numbersEqual(x: bigint | number, y: bigint | number): boolean {
  if (typeof x === typeof y) return x === y;
  const double = (typeof x === 'number' ? x : y) as number;
  const integer = (typeof x === 'bigint' ? x : y) as bigint;
  return Number.isInteger(double) && BigInt(double) === integer;
}

function totalNanos(d: Duration): bigint {
  return d.seconds * 1_000_000_000n + BigInt(d.nanos);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function listsEqual(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!celEquals(a[i], b[i])) return false;
  return true;
}

function optionalsEqual(a: Optional, b: Optional): boolean {
  if (!a.hasValue() || !b.hasValue()) return a.hasValue() === b.hasValue();
  return celEquals(a.value(), b.value());
}

export function isCelMap(value: unknown): value is CelMap {
  if (value instanceof Map) return true;
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function mapSize(map: CelMap): number {
  return map instanceof Map ? map.size : Object.keys(map).length;
}

function mapEntries(map: CelMap): Iterable<[unknown, unknown]> {
  return map instanceof Map ? map.entries() : Object.entries(map);
}

/** Looks a key up the way CEL does: `m[1]`, `m[1u]` and `m[1.0]` find the same entry. */
function lookup(map: CelMap, key: unknown): { found: boolean; value?: unknown } {
  if (!(map instanceof Map)) {
    return typeof key === 'string' && Object.hasOwn(map, key) ? { found: true, value: map[key] } : { found: false };
  }
  if (map.has(key)) return { found: true, value: map.get(key) };
  if (numericValue(key) === undefined) return { found: false };
  for (const [candidate, value] of map) if (celEquals(candidate, key)) return { found: true, value };
  return { found: false };
}

function mapsEqual(a: CelMap, b: CelMap): boolean {
  if (mapSize(a) !== mapSize(b)) return false;
  for (const [key, value] of mapEntries(a)) {
    const other = lookup(b, key);
    if (!other.found || !celEquals(value, other.value)) return false;
  }
  return true;
}

/**
 * A key that two scalars share exactly when they are CEL-equal, so membership among
 * scalars is a hash lookup. Undefined for values that need a full comparison (lists,
 * maps, bytes, ...) and for NaN, which equals nothing.
 */
function scalarKey(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return `s${value}`;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return `n${value}`;
    case 'number':
      if (Number.isNaN(value)) return undefined;
      // Integral doubles share the key of the equal int; -0.0 and 0.0 both become "n0".
      return Number.isInteger(value) ? `n${BigInt(value)}` : `d${value}`;
    default:
  }
  if (value === null) return 'null';
  if (value instanceof UnsignedInt) return `n${value.valueOf()}`;
  return undefined;
}

/** Membership under CEL equality; scalars hash, everything else is compared pairwise. */
export class EqualitySet {
  readonly #scalars = new Set<string>();
  readonly #others: unknown[] = [];

  constructor(values: Iterable<unknown> = []) {
    for (const value of values) this.add(value);
  }

  add(value: unknown): void {
    const key = scalarKey(value);
    if (key !== undefined) this.#scalars.add(key);
    else this.#others.push(value);
  }

  has(value: unknown): boolean {
    const key = scalarKey(value);
    if (key !== undefined) return this.#scalars.has(key);
    if (typeof value === 'number') return false; // NaN
    charge(this.#others.length);
    for (const other of this.#others) if (celEquals(value, other)) return true;
    return false;
  }
}

/** Every element of `subset` is in `superset` (cel-go: true when `subset` is empty). */
function containsAll(superset: readonly unknown[], subset: readonly unknown[]): boolean {
  if (subset.length === 0) return true;
  charge(superset.length + subset.length);
  const index = new EqualitySet(superset);
  return subset.every((element) => index.has(element));
}

function intersects(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length === 0 || b.length === 0) return false;
  charge(a.length + b.length);
  const index = new EqualitySet(b);
  return a.some((element) => index.has(element));
}

export const setsLibrary: CelLibrary = {
  name: 'sets',
  register(r) {
    r.namespace('sets');
    // `list`, not `list<A>`: a dyn list's run-time type comes from its first element, so
    // JSON lists such as [1, 2.5] and [2.5] must not be required to share an element type.
    r.fn('sets.contains(list, list): bool', (a: unknown[], b: unknown[]) => containsAll(a, b));
    r.fn('sets.equivalent(list, list): bool', (a: unknown[], b: unknown[]) => containsAll(a, b) && containsAll(b, a));
    r.fn('sets.intersects(list, list): bool', (a: unknown[], b: unknown[]) => intersects(a, b));
  },
};

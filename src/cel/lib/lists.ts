/**
 * List functions:
 * - Kubernetes' list library (k8s.io/apiserver/pkg/cel/library/lists.go): `isSorted`,
 *   `sum`, `min`, `max`, `indexOf`, `lastIndexOf`;
 * - cel-go's lists extension as Kubernetes 1.34+ enables it (`ext.ListsVersion(3)`):
 *   `slice`, `flatten`, `distinct`, `reverse`, `sort` and `lists.range`. Its `sortBy`
 *   macro is in ../macros.ts (the registrar cannot declare macros).
 */
import { Duration, UnsignedInt } from '../adapter.js';
import { CelFunctionError } from '../errors.js';
import { charge } from '../cost.js';
import type { CelLibrary, LibraryRegistrar } from '../library.js';
import { celTypeName } from '../values.js';
import { noSuchOverload } from './arguments.js';
import { compareNumbers, isCelNumber } from './math.js';
import { EqualitySet, celEquals } from './sets.js';

const DURATION = 'google.protobuf.Duration';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const NANOS_PER_SECOND = 1_000_000_000n;

const unsupported = (fn: string, value: unknown) => noSuchOverload(fn, `on ${celTypeName(value)}`);

// ---------------------------------------------------------------------------------------
// Ordering of comparable values

type Order = -1 | 0 | 1 | undefined;

function isComparable(value: unknown): boolean {
  return (
    isCelNumber(value) ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    value instanceof Uint8Array ||
    value instanceof Date ||
    value instanceof Duration
  );
}

/** Orders by code point, as Go compares UTF-8 strings (JS `<` compares UTF-16 units). */
function compareStrings(a: string, b: string): -1 | 0 | 1 {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) < codePointRank(y) ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** Moves surrogates above the rest of the BMP, so UTF-16 units sort like code points. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

function compareBytes(a: Uint8Array, b: Uint8Array): -1 | 0 | 1 {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

const sign = (n: bigint | number): -1 | 0 | 1 => (n < 0 ? -1 : n > 0 ? 1 : 0);

function durationNanos(d: Duration): bigint {
  return d.seconds * NANOS_PER_SECOND + BigInt(d.nanos);
}

/**
 * CEL ordering of two comparable values; undefined when CEL cannot order them (values of
 * different kinds, or NaN). Kubernetes' list functions skip such pairs rather than fail.
 */
export function compareValues(a: unknown, b: unknown): Order {
  if (isCelNumber(a)) return isCelNumber(b) ? compareNumbers(a, b) : undefined;
  if (typeof a === 'string') return typeof b === 'string' ? compareStrings(a, b) : undefined;
  if (typeof a === 'boolean') return typeof b === 'boolean' ? sign(Number(a) - Number(b)) : undefined;
  if (a instanceof Uint8Array) return b instanceof Uint8Array ? compareBytes(a, b) : undefined;
  if (a instanceof Date) return b instanceof Date ? sign(a.getTime() - b.getTime()) : undefined;
  if (a instanceof Duration) return b instanceof Duration ? sign(durationNanos(a) - durationNanos(b)) : undefined;
  return undefined;
}

function requireComparable(value: unknown, fn: string): void {
  if (!isComparable(value)) throw unsupported(fn, value);
}

// ---------------------------------------------------------------------------------------
// Kubernetes list library

function isSorted(list: readonly unknown[]): boolean {
  charge(list.length);
  for (let i = 0; i < list.length; i++) {
    requireComparable(list[i], 'isSorted');
    if (i > 0 && compareValues(list[i - 1], list[i]) === 1) return false;
  }
  return true;
}

/** `min` keeps the current result unless it is greater than the next element; `max` mirrors. */
function extreme(list: readonly unknown[], fn: 'min' | 'max'): unknown {
  if (list.length === 0) throw new CelFunctionError(`${fn} called on empty list`);
  charge(list.length);
  const replaceWhen = fn === 'min' ? 1 : -1;
  let result = list[0];
  requireComparable(result, fn);
  for (let i = 1; i < list.length; i++) {
    requireComparable(list[i], fn);
    if (compareValues(result, list[i]) === replaceWhen) result = list[i];
  }
  return result;
}

function checkedInt(value: bigint): bigint {
  if (value < INT64_MIN || value > INT64_MAX) throw new CelFunctionError('integer overflow', 'numeric_overflow');
  return value;
}

interface Summable {
  readonly type: string;
  readonly zero: () => unknown;
  /** Whether the element belongs to this type (all elements must, as for CEL `+`). */
  readonly accepts: (value: unknown) => boolean;
  readonly add: (a: never, b: never) => unknown;
}

const SUMMABLE: readonly Summable[] = [
  { type: 'int', zero: () => 0n, accepts: (v) => typeof v === 'bigint', add: addInts },
  { type: 'uint', zero: () => new UnsignedInt(0n), accepts: (v) => v instanceof UnsignedInt, add: addUints },
  { type: 'double', zero: () => 0, accepts: (v) => typeof v === 'number', add: (a: number, b: number) => a + b },
  { type: DURATION, zero: () => new Duration(0n, 0), accepts: (v) => v instanceof Duration, add: addDurations },
];

/**
 * Sums by the elements' own type: a list typed `list<dyn>` (e.g. `items.map(x, x.weight)`)
 * is bound to the first overload at compile time whatever it holds at run time. Only an
 * empty list takes the zero of the overload it was checked against.
 */
function sum(list: readonly unknown[], declared: Summable): unknown {
  if (list.length === 0) return declared.zero();
  charge(list.length);
  const kind = SUMMABLE.find((s) => s.accepts(list[0]));
  if (!kind) throw unsupported('sum', list[0]);
  const add = kind.add as (a: unknown, b: unknown) => unknown;
  let total = list[0];
  for (let i = 1; i < list.length; i++) {
    if (!kind.accepts(list[i])) throw unsupported('sum', list[i]);
    total = add(total, list[i]);
  }
  return total;
}

function addInts(a: bigint, b: bigint): bigint {
  return checkedInt(a + b);
}

function addUints(a: UnsignedInt, b: UnsignedInt): UnsignedInt {
  const total = a.valueOf() + b.valueOf();
  if (total > UINT64_MAX) throw new CelFunctionError('unsigned integer overflow', 'numeric_overflow');
  return new UnsignedInt(total);
}

/** Durations are int64 nanoseconds in Kubernetes; a sum beyond that overflows. */
function addDurations(a: Duration, b: Duration): Duration {
  const total = checkedInt(durationNanos(a) + durationNanos(b));
  return new Duration(total / NANOS_PER_SECOND, Number(total % NANOS_PER_SECOND));
}

export function listIndexOf(list: readonly unknown[], element: unknown): bigint {
  charge(list.length);
  for (let i = 0; i < list.length; i++) if (celEquals(list[i], element)) return BigInt(i);
  return -1n;
}

export function listLastIndexOf(list: readonly unknown[], element: unknown): bigint {
  charge(list.length);
  for (let i = list.length - 1; i >= 0; i--) if (celEquals(list[i], element)) return BigInt(i);
  return -1n;
}

function registerKubernetesLists(r: LibraryRegistrar): void {
  // Kubernetes declares one overload per comparable type. The evaluator binds a list<dyn>
  // receiver (`items.map(x, x.name)`) to the first overload whatever it holds, which would
  // type `.max()` of strings as int; a type parameter keeps the element type instead, and
  // incomparable elements are refused at run time rather than at compile time.
  r.fn('list<A>.isSorted(): bool', isSorted);
  r.fn('list<A>.min(): A', (list: unknown[]) => extreme(list, 'min'));
  r.fn('list<A>.max(): A', (list: unknown[]) => extreme(list, 'max'));
  // Typed overloads, so an empty list sums to the zero of its declared element type
  // (`[].sum()` picks int's). A list<dyn> receiver type-checks as int but sums its elements.
  for (const s of SUMMABLE) r.fn(`list<${s.type}>.sum(): ${s.type}`, (list: unknown[]) => sum(list, s));
  r.fn('list<A>.indexOf(A): int', listIndexOf);
  r.fn('list<A>.lastIndexOf(A): int', listLastIndexOf);
}

// ---------------------------------------------------------------------------------------
// cel-go lists extension

function slice(list: readonly unknown[], start: bigint, end: bigint): unknown[] {
  const refuse = (reason: string) => new CelFunctionError(`cannot slice(${start}, ${end}), ${reason}`);
  if (start < 0n || end < 0n) throw refuse('negative indexes not supported');
  if (start > end) throw refuse('start index must be less than or equal to end index');
  if (BigInt(list.length) < end) throw refuse(`list is length ${list.length}`);
  charge(Number(end - start));
  return list.slice(Number(start), Number(end));
}

function flatten(list: readonly unknown[], depth: bigint): unknown[] {
  if (depth < 0n) throw new CelFunctionError('level must be non-negative');
  charge(list.length);
  const out: unknown[] = [];
  for (const element of list) {
    if (!Array.isArray(element) || depth === 0n) out.push(element);
    else for (const inner of flatten(element, depth - 1n)) out.push(inner); // no spread: lists may be long
  }
  return out;
}

function distinct(list: readonly unknown[]): unknown[] {
  charge(list.length);
  const seen = new EqualitySet();
  const out: unknown[] = [];
  for (const element of list) {
    if (seen.has(element)) continue;
    seen.add(element);
    out.push(element);
  }
  return out;
}

/** cel-go's sort: one comparable element type throughout (int, uint and double differ). */
function sortList(list: readonly unknown[]): unknown[] {
  return sortByKeys(list, list);
}

/**
 * `list` ordered by `keys` (one per element, same order; the list itself for `sort()`): the
 * keys must be comparable and of one type. Stable, as cel-go's `sortBy` is.
 */
export function sortByKeys(list: readonly unknown[], keys: readonly unknown[]): unknown[] {
  if (list.length === 0) return [];
  const first = keys[0];
  if (!isComparable(first)) throw new CelFunctionError('list elements must be comparable');
  const type = celTypeName(first);
  for (const key of keys) {
    if (celTypeName(key) !== type) throw new CelFunctionError('list elements must have the same type');
  }
  charge(list.length * Math.max(1, Math.ceil(Math.log2(list.length))));
  const order = list.map((_, i) => i).sort((a, b) => compareValues(keys[a], keys[b]) ?? 0);
  return order.map((i) => list[i]);
}

function range(n: bigint): bigint[] {
  if (n <= 0n) return [];
  charge(Number(n));
  return Array.from({ length: Number(n) }, (_, i) => BigInt(i));
}

function registerListsExtension(r: LibraryRegistrar): void {
  r.namespace('lists');
  r.fn('list<A>.slice(int, int): list<A>', slice);
  r.fn('list<list<A>>.flatten(): list<A>', (list: unknown[]) => flatten(list, 1n));
  // A dyn list's run-time type comes from its first element ([1, [2]] is a list<int>).
  r.fn('list.flatten(): list', (list: unknown[]) => flatten(list, 1n));
  r.fn('list.flatten(int): list', flatten);
  r.fn('list<A>.distinct(): list<A>', distinct);
  r.fn('list<A>.reverse(): list<A>', (list: unknown[]) => {
    charge(list.length);
    return [...list].reverse();
  });
  r.fn('list<A>.sort(): list<A>', sortList); // one overload, for the reason given for min/max
  r.fn('lists.range(int): list<int>', range);
}

export const listsLibrary: CelLibrary = {
  name: 'lists',
  register(r) {
    registerKubernetesLists(r);
    registerListsExtension(r);
  },
};

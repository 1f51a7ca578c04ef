/**
 * Corrections to CEL's standard library where the evaluator differs from the
 * specification (and so from cel-go, which Kubernetes runs). Numbers first, then what
 * depends on them: equality and conversions.
 *
 * - int, uint and double compare with each other (`1 == 1.0`, `1u < 2`, `2 in [1.0, 2.0]`),
 *   also inside list and map equality and membership; int and uint against double
 *   compare as doubles, the way cel-go does, so `9223372036854775807 < 9223372036854775808.0`
 *   is false;
 * - int64 overflow is an error for negation, division and modulo too
 *   (`-(-9223372036854775808)`, `-9223372036854775808 / -1`);
 * - `int(double)` and `uint(double)` reject values out of range, `int(uint)` exists and
 *   checks its range, `string(bytes)` rejects invalid UTF-8;
 * - bytes are ordered (`b'a' < b'b'`), optionals compare (`optional.of(1) == optional.of(1)`);
 * - time (timestamps and durations) is corrected in time.ts.
 *
 * Implementations for operand types the evaluator already handles replace its own
 * (see adapter.ts); they return NOT_HANDLED for values they do not know, such as a
 * library's own types inside a list, and the evaluator then decides.
 */
import { Duration, NOT_HANDLED, Optional, UnsignedInt, isCelType } from '../adapter.js';
import { charge } from '../cost.js';
import { CelFunctionError } from '../errors.js';
import type { CelLibrary, LibraryRegistrar } from '../library.js';
import { INT64_MAX as MAX_INT, INT64_MIN as MIN_INT } from './int64.js';
import { nanosOfDuration } from './time.js';

/** 2^63 and 2^64 as doubles: the first doubles past the int and uint ranges. */
const INT_LIMIT = 2 ** 63;
const UINT_LIMIT = 2 ** 64;

const overflow = (what: string): CelFunctionError => new CelFunctionError(`integer overflow: ${what}`, 'numeric_overflow');
const outOfRange = (fn: string, value: unknown): CelFunctionError =>
  new CelFunctionError(`${fn} conversion error: ${String(value)} is out of range`, 'numeric_overflow');

// ---------------------------------------------------------------------------------------
// Integer arithmetic

function checkedInt(value: bigint, what: string): bigint {
  if (value > MAX_INT || value < MIN_INT) throw overflow(what);
  return value;
}

function negateInt(a: bigint): bigint {
  return checkedInt(-a, `-(${a})`);
}

function divideInt(a: bigint, b: bigint): bigint {
  if (b === 0n) throw new CelFunctionError('division by zero', 'division_by_zero');
  return checkedInt(a / b, `${a} / ${b}`);
}

function moduloInt(a: bigint, b: bigint): bigint {
  if (b === 0n) throw new CelFunctionError('modulus by zero', 'modulo_by_zero');
  // cel-go reports MIN % -1 as overflow, like the division it would need.
  if (a === MIN_INT && b === -1n) throw overflow(`${a} % ${b}`);
  return a % b;
}

// ---------------------------------------------------------------------------------------
// Comparing numbers across int, uint and double

/** int and uint as bigint, double as number; undefined for anything else. */
function numericValue(value: unknown): bigint | number | undefined {
  if (typeof value === 'bigint' || typeof value === 'number') return value;
  if (value instanceof UnsignedInt) return value.valueOf();
  return undefined;
}

function isNumber(value: unknown): boolean {
  return numericValue(value) !== undefined;
}

/**
 * -1, 0 or 1, or undefined when a NaN is involved. Integers compare exactly; an integer
 * against a double is converted to double first, as cel-go does.
 */
function compareNumbers(a: unknown, b: unknown): number | undefined {
  const x = numericValue(a)!;
  const y = numericValue(b)!;
  if (typeof x === 'bigint' && typeof y === 'bigint') return x < y ? -1 : x > y ? 1 : 0;
  const fx = Number(x);
  const fy = Number(y);
  if (Number.isNaN(fx) || Number.isNaN(fy)) return undefined;
  return fx < fy ? -1 : fx > fy ? 1 : 0;
}

const RELATIONS: ReadonlyArray<readonly [string, (order: number) => boolean]> = [
  ['<', (o) => o < 0],
  ['<=', (o) => o <= 0],
  ['>', (o) => o > 0],
  ['>=', (o) => o >= 0],
];

function relation(holds: (order: number) => boolean) {
  return (a: unknown, b: unknown): boolean => {
    const order = compareNumbers(a, b);
    return order !== undefined && holds(order);
  };
}

const numbersEqual = (a: unknown, b: unknown): boolean => compareNumbers(a, b) === 0;

// ---------------------------------------------------------------------------------------
// Equality and membership with CEL semantics

type Verdict = boolean | typeof NOT_HANDLED;

function isMapValue(value: unknown): value is Map<unknown, unknown> | Record<string, unknown> {
  if (value instanceof Map) return true;
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isListValue(value: unknown): value is unknown[] | Set<unknown> {
  return Array.isArray(value) || value instanceof Set;
}

/** The values whose equality this library decides; others are a library type's business. */
function isKnownValue(value: unknown): boolean {
  return (
    value === null ||
    typeof value !== 'object' ||
    value instanceof UnsignedInt ||
    value instanceof Uint8Array ||
    value instanceof Date ||
    value instanceof Duration ||
    value instanceof Optional ||
    isCelType(value) ||
    isListValue(value) ||
    isMapValue(value)
  );
}

/** CEL `==`: numbers across kinds, lists and maps element by element, otherwise same type and value. */
function celEquals(a: unknown, b: unknown): Verdict {
  if (!isKnownValue(a) || !isKnownValue(b)) return a === b ? true : NOT_HANDLED;
  if (isNumber(a) || isNumber(b)) return isNumber(a) && isNumber(b) && numbersEqual(a, b);
  if (a === null || typeof a !== 'object') return a === b;
  if (a instanceof Uint8Array) return b instanceof Uint8Array && compareBytes(a, b) === 0;
  if (a instanceof Date) return b instanceof Date && a.getTime() === b.getTime();
  if (a instanceof Duration) return b instanceof Duration && nanosOfDuration(a) === nanosOfDuration(b);
  if (a instanceof Optional) return b instanceof Optional && optionalsEqual(a, b);
  if (isCelType(a)) return isCelType(b) && typeName(a) === typeName(b);
  if (isListValue(a)) return isListValue(b) && listsEqual(a, b);
  if (isMapValue(a)) return isMapValue(b) && mapsEqual(a, b);
  return NOT_HANDLED;
}

const typeName = (type: unknown): string => String((type as { name?: unknown }).name);

function optionalsEqual(a: Optional<unknown>, b: Optional<unknown>): Verdict {
  if (!a.hasValue() || !b.hasValue()) return a.hasValue() === b.hasValue();
  return celEquals(a.value(), b.value());
}

const elementsOf = (list: unknown[] | Set<unknown>): unknown[] => (Array.isArray(list) ? list : [...list]);

function listsEqual(a: unknown[] | Set<unknown>, b: unknown[] | Set<unknown>): Verdict {
  const x = elementsOf(a);
  const y = elementsOf(b);
  if (x.length !== y.length) return false;
  charge(x.length);
  let verdict: Verdict = true;
  for (let i = 0; i < x.length; i++) {
    const equal = celEquals(x[i], y[i]);
    if (equal === false) return false;
    if (equal === NOT_HANDLED) verdict = NOT_HANDLED;
  }
  return verdict;
}

type CelMap = Map<unknown, unknown> | Record<string, unknown>;

function mapSize(map: CelMap): number {
  return map instanceof Map ? map.size : Object.keys(map).length;
}

function mapEntries(map: CelMap): Array<[unknown, unknown]> {
  return map instanceof Map ? [...map.entries()] : Object.entries(map);
}

const NO_ENTRY = Symbol('no entry');

/** The value under a key, CEL-style: numeric keys match across int, uint and double. */
function mapLookup(map: CelMap, key: unknown): unknown {
  if (!(map instanceof Map)) {
    return typeof key === 'string' && Object.prototype.hasOwnProperty.call(map, key) ? map[key] : NO_ENTRY;
  }
  if (map.has(key)) return map.get(key);
  if (!isNumber(key)) return NO_ENTRY;
  charge(map.size);
  for (const [k, v] of map) if (isNumber(k) && numbersEqual(k, key)) return v;
  return NO_ENTRY;
}

function mapsEqual(a: CelMap, b: CelMap): Verdict {
  if (mapSize(a) !== mapSize(b)) return false;
  const entries = mapEntries(a);
  charge(entries.length);
  let verdict: Verdict = true;
  for (const [key, value] of entries) {
    const other = mapLookup(b, key);
    if (other === NO_ENTRY) return false;
    const equal = celEquals(value, other);
    if (equal === false) return false;
    if (equal === NOT_HANDLED) verdict = NOT_HANDLED;
  }
  return verdict;
}

function listContains(value: unknown, list: unknown[] | Set<unknown>): Verdict {
  const elements = elementsOf(list);
  charge(elements.length);
  // A string or bool equals only the identical primitive: no per-element CEL equality needed.
  if (typeof value === 'string' || typeof value === 'boolean') return elements.includes(value);
  let verdict: Verdict = false;
  for (const element of elements) {
    const equal = celEquals(value, element);
    if (equal === true) return true;
    if (equal === NOT_HANDLED) verdict = NOT_HANDLED;
  }
  return verdict;
}

function mapContains(key: unknown, map: CelMap): Verdict {
  if (!isKnownValue(key)) return NOT_HANDLED;
  return mapLookup(map, key) !== NO_ENTRY;
}

// ---------------------------------------------------------------------------------------
// Bytes ordering

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

// ---------------------------------------------------------------------------------------
// Conversions

function intOfDouble(value: number): bigint {
  // Open at both ends, as in cel-go, which rejects -2^63 as well as 2^63.
  if (!Number.isFinite(value) || value <= -INT_LIMIT || value >= INT_LIMIT) throw outOfRange('int()', value);
  return BigInt(Math.trunc(value));
}

function uintOfDouble(value: number): UnsignedInt {
  if (!Number.isFinite(value) || value < 0 || value >= UINT_LIMIT) throw outOfRange('uint()', value);
  return new UnsignedInt(BigInt(Math.trunc(value)));
}

function intOfUint(value: UnsignedInt): bigint {
  if (value.valueOf() > MAX_INT) throw outOfRange('int()', `${value.valueOf()}u`);
  return value.valueOf();
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function stringOfBytes(bytes: Uint8Array): string {
  charge(bytes.length);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new CelFunctionError('string() conversion error: bytes are not valid UTF-8', 'invalid_argument');
  }
}

// ---------------------------------------------------------------------------------------

const NUMERIC_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['int', 'uint'],
  ['int', 'double'],
  ['uint', 'int'],
  ['uint', 'double'],
  ['double', 'int'],
  ['double', 'uint'],
];

function registerArithmetic(r: LibraryRegistrar): void {
  r.operator('-int', negateInt);
  r.operator('int / int', divideInt);
  r.operator('int % int', moduloInt);
}

function registerComparisons(r: LibraryRegistrar): void {
  // `==` also declares `!=` and the swapped operand order, so three pairs cover six.
  for (const [left, right] of [['int', 'uint'], ['int', 'double'], ['uint', 'double']] as const) {
    r.operator(`${left} == ${right}`, numbersEqual);
  }
  for (const [left, right] of NUMERIC_PAIRS) {
    for (const [op, holds] of RELATIONS) r.operator(`${left} ${op} ${right}`, relation(holds));
  }
  for (const [op, holds] of RELATIONS) {
    r.operator(`bytes ${op} bytes`, (a: Uint8Array, b: Uint8Array) => holds(compareBytes(a, b)));
  }
  r.operator('list<V> == list<V>', listsEqual);
  r.operator('map<K, V> == map<K, V>', mapsEqual);
  r.operator('optional<T> == optional<T>', optionalsEqual);
  r.operator('V in list<V>', listContains);
  r.operator('K in map<K, V>', mapContains);
}

function registerConversions(r: LibraryRegistrar): void {
  r.fn('int(double): int', intOfDouble);
  r.fn('uint(double): uint', uintOfDouble);
  r.fn('int(uint): int', intOfUint);
  r.fn('string(bytes): string', stringOfBytes);
}

export const numbersLibrary: CelLibrary = {
  name: 'numbers',
  register(r) {
    registerArithmetic(r);
    registerComparisons(r);
    registerConversions(r);
  },
};

/**
 * Corrections to CEL's standard library where the evaluator differs from the
 * specification (and so from cel-go, which Kubernetes runs). Numbers first, then what
 * depends on them: equality, conversions, and time arithmetic.
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
 * - the conversions between timestamps, durations, ints and strings the evaluator lacks
 *   (`int(timestamp)`, `string(timestamp)`, `string(duration)`, and the identities);
 * - durations are int64 nanoseconds and timestamps stay within years 1-9999: arithmetic
 *   and `duration(string)` beyond that are errors, like int overflow; `t1 - t2` is exact;
 * - timestamp getters take fixed-offset time zones (`'+11:00'`) besides IANA names and do
 *   not depend on the process's time zone; `duration.getMilliseconds()` is the
 *   millisecond part, not the total.
 *
 * Implementations for operand types the evaluator already handles replace its own
 * (see adapter.ts); they return NOT_HANDLED for values they do not know, such as a
 * library's own types inside a list, and the evaluator then decides.
 */
import { Duration, NOT_HANDLED, Optional, UnsignedInt, isCelType } from '../adapter.js';
import { charge } from '../cost.js';
import { CelFunctionError } from '../errors.js';
import type { CelLibrary, LibraryRegistrar } from '../library.js';

const MAX_INT = 2n ** 63n - 1n;
const MIN_INT = -(2n ** 63n);
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

/** Seconds since the Unix epoch, rounded down like Go's Time.Unix. */
function intOfTimestamp(timestamp: Date): bigint {
  return BigInt(Math.floor(timestamp.getTime() / 1000));
}

/** RFC 3339 in UTC with only the fractional digits needed, as cel-go prints timestamps. */
function stringOfTimestamp(timestamp: Date): string {
  return timestamp.toISOString().replace(/\.000Z$/, 'Z').replace(/(\.\d*?)0+Z$/, '$1Z');
}

// ---------------------------------------------------------------------------------------
// Time: durations are int64 nanoseconds, timestamps lie in years 1 to 9999 (as in cel-go)

const NANOS_PER_SECOND = 1_000_000_000n;
const NANOS_PER_MILLI = 1_000_000n;
const MIN_TIMESTAMP_NANOS = -62_135_596_800n * NANOS_PER_SECOND; // 0001-01-01T00:00:00Z
const MAX_TIMESTAMP_NANOS = 253_402_300_800n * NANOS_PER_SECOND - 1n; // 9999-12-31T23:59:59.999999999Z

const timeOutOfRange = (what: string): CelFunctionError => new CelFunctionError(`${what} out of range`, 'range_error');

function nanosOfDuration(d: Duration): bigint {
  return d.seconds * NANOS_PER_SECOND + BigInt(d.nanos);
}

/** A duration from nanoseconds; seconds and nanos carry the same sign, as protobuf's do. */
function durationOfNanos(nanos: bigint): Duration {
  if (nanos > MAX_INT || nanos < MIN_INT) throw timeOutOfRange('duration');
  return new Duration(nanos / NANOS_PER_SECOND, Number(nanos % NANOS_PER_SECOND));
}

const nanosOfTimestamp = (t: Date): bigint => BigInt(t.getTime()) * NANOS_PER_MILLI;

/** Range-checked in nanoseconds, then rounded down to the millisecond a Date can hold. */
function timestampOfNanos(nanos: bigint): Date {
  if (nanos < MIN_TIMESTAMP_NANOS || nanos > MAX_TIMESTAMP_NANOS) throw timeOutOfRange('timestamp');
  const millis = nanos / NANOS_PER_MILLI - (nanos % NANOS_PER_MILLI < 0n ? 1n : 0n);
  return new Date(Number(millis));
}

const DURATION_UNITS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  μs: 1_000n,
  ms: NANOS_PER_MILLI,
  s: NANOS_PER_SECOND,
  m: 60n * NANOS_PER_SECOND,
  h: 3600n * NANOS_PER_SECOND,
};

/** Go's time.ParseDuration, which CEL's `duration(string)` is defined by: `1h30m`, `-1.5s`, `0`. */
function parseDuration(text: string): Duration {
  const invalid = (): CelFunctionError =>
    new CelFunctionError(`duration() conversion error: invalid duration ${JSON.stringify(text)}`, 'invalid_argument');
  let rest = text;
  const negative = rest.startsWith('-');
  if (negative || rest.startsWith('+')) rest = rest.slice(1);
  if (rest === '0') return new Duration(0);
  if (rest === '') throw invalid();
  let total = 0n;
  while (rest !== '') {
    const part = /^(\d*)(?:\.(\d*))?([^\d.]+)/.exec(rest);
    const unit = part && DURATION_UNITS[part[3]!];
    if (!part || !unit || (part[1] === '' && !part[2])) throw invalid();
    const fraction = part[2] ?? '';
    total += BigInt(part[1] || '0') * unit + (BigInt(fraction || '0') * unit) / 10n ** BigInt(fraction.length);
    if (total > 2n ** 63n) throw timeOutOfRange('duration');
    rest = rest.slice(part[0].length);
  }
  return durationOfNanos(negative ? -total : total);
}

/** protobuf's JSON form, as cel-go prints durations: `1000000s`, `1.5s`, `-0.000000001s`. */
function stringOfDuration(d: Duration): string {
  const nanos = nanosOfDuration(d);
  const magnitude = nanos < 0n ? -nanos : nanos;
  const fraction = (magnitude % NANOS_PER_SECOND).toString().padStart(9, '0').replace(/0+$/, '');
  return `${nanos < 0n ? '-' : ''}${magnitude / NANOS_PER_SECOND}${fraction ? `.${fraction}` : ''}s`;
}

function registerTimeArithmetic(r: LibraryRegistrar): void {
  const T = 'google.protobuf.Timestamp';
  const D = 'google.protobuf.Duration';
  r.operator(`${T} + ${D}`, (t: Date, d: Duration) => timestampOfNanos(nanosOfTimestamp(t) + nanosOfDuration(d)));
  r.operator(`${D} + ${T}`, (d: Duration, t: Date) => timestampOfNanos(nanosOfTimestamp(t) + nanosOfDuration(d)));
  r.operator(`${T} - ${D}`, (t: Date, d: Duration) => timestampOfNanos(nanosOfTimestamp(t) - nanosOfDuration(d)));
  r.operator(`${T} - ${T}`, (a: Date, b: Date) => durationOfNanos(nanosOfTimestamp(a) - nanosOfTimestamp(b)));
  r.operator(`${D} + ${D}`, (a: Duration, b: Duration) => durationOfNanos(nanosOfDuration(a) + nanosOfDuration(b)));
  r.operator(`${D} - ${D}`, (a: Duration, b: Duration) => durationOfNanos(nanosOfDuration(a) - nanosOfDuration(b)));
  r.fn(`duration(string): ${D}`, parseDuration);
}

// Calendar fields in a time zone: an IANA name (`America/St_Johns`, `UTC`) or a fixed
// offset (`+11:00`, `-02:30`, `02:00`). The evaluator accepts only names, and reads
// day-of-year in the process's local time zone.

interface CivilTime {
  readonly year: number;
  /** 0-based, as CEL's getMonth. */
  readonly month: number;
  readonly day: number;
  readonly hours: number;
  readonly minutes: number;
  readonly seconds: number;
}

const OFFSET_ZONE = /^([+-])?(\d{2}):(\d{2})$/;
const zoneFormats = new Map<string, Intl.DateTimeFormat>();

function zoneFormat(zone: string): Intl.DateTimeFormat {
  let format = zoneFormats.get(zone);
  if (!format) {
    try {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new CelFunctionError(`invalid time zone ${JSON.stringify(zone)}`, 'invalid_argument');
    }
    zoneFormats.set(zone, format);
  }
  return format;
}

function civilTime(t: Date, zone: string | undefined): CivilTime {
  const offset = zone === undefined ? undefined : OFFSET_ZONE.exec(zone);
  if (zone === undefined || offset) {
    const minutes = offset ? (offset[1] === '-' ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3])) : 0;
    const shifted = new Date(t.getTime() + minutes * 60_000);
    return {
      year: shifted.getUTCFullYear(),
      month: shifted.getUTCMonth(),
      day: shifted.getUTCDate(),
      hours: shifted.getUTCHours(),
      minutes: shifted.getUTCMinutes(),
      seconds: shifted.getUTCSeconds(),
    };
  }
  const parts: Record<string, number> = {};
  for (const p of zoneFormat(zone).formatToParts(t)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return {
    year: parts.year!,
    month: parts.month! - 1,
    day: parts.day!,
    hours: parts.hour!,
    minutes: parts.minute!,
    seconds: parts.second!,
  };
}

/** Midnight UTC of the civil date, for weekday and day-of-year arithmetic. */
function civilDate(c: CivilTime, month = c.month, day = c.day): Date {
  const date = new Date(Date.UTC(2000, month, day));
  date.setUTCFullYear(c.year);
  return date;
}

const TIMESTAMP_GETTERS: Readonly<Record<string, (c: CivilTime, t: Date) => number>> = {
  getFullYear: (c) => c.year,
  getMonth: (c) => c.month,
  getDate: (c) => c.day,
  getDayOfMonth: (c) => c.day - 1,
  getDayOfWeek: (c) => civilDate(c).getUTCDay(),
  getDayOfYear: (c) => Math.round((civilDate(c).getTime() - civilDate(c, 0, 1).getTime()) / 86_400_000),
  getHours: (c) => c.hours,
  getMinutes: (c) => c.minutes,
  getSeconds: (c) => c.seconds,
  getMilliseconds: (_c, t) => t.getUTCMilliseconds(),
};

/** Duration getters: whole hours, minutes, seconds; milliseconds is the sub-second part. */
const DURATION_GETTERS: Readonly<Record<string, (nanos: bigint) => bigint>> = {
  getHours: (n) => n / (3600n * NANOS_PER_SECOND),
  getMinutes: (n) => n / (60n * NANOS_PER_SECOND),
  getSeconds: (n) => n / NANOS_PER_SECOND,
  getMilliseconds: (n) => (n % NANOS_PER_SECOND) / NANOS_PER_MILLI,
};

function timeGetter(name: string) {
  return (receiver: unknown, zone?: unknown): bigint => {
    const ofDuration = DURATION_GETTERS[name];
    if (receiver instanceof Duration && ofDuration && zone === undefined) return ofDuration(nanosOfDuration(receiver));
    if (!(receiver instanceof Date) || (zone !== undefined && typeof zone !== 'string')) {
      const expected = 'expects a timestamp (and a time zone string)';
      throw new CelFunctionError(`no such overload: ${name} ${expected}`, 'no_such_overload');
    }
    return BigInt(TIMESTAMP_GETTERS[name]!(civilTime(receiver, zone), receiver));
  };
}

function registerTimeGetters(r: LibraryRegistrar): void {
  for (const name of Object.keys(TIMESTAMP_GETTERS)) {
    r.replaceMethod(name, 0, timeGetter(name));
    r.replaceMethod(name, 1, timeGetter(name));
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
  const TIMESTAMP = 'google.protobuf.Timestamp';
  const DURATION = 'google.protobuf.Duration';
  r.fn('int(double): int', intOfDouble);
  r.fn('uint(double): uint', uintOfDouble);
  r.fn('int(uint): int', intOfUint);
  r.fn('string(bytes): string', stringOfBytes);
  r.fn(`int(${TIMESTAMP}): int`, intOfTimestamp);
  r.fn(`string(${TIMESTAMP}): string`, stringOfTimestamp);
  r.fn(`string(${DURATION}): string`, stringOfDuration);
  r.fn(`timestamp(${TIMESTAMP}): ${TIMESTAMP}`, (t: Date) => t);
  r.fn(`duration(${DURATION}): ${DURATION}`, (d: Duration) => d);
}

export const numbersLibrary: CelLibrary = {
  name: 'numbers',
  register(r) {
    registerArithmetic(r);
    registerComparisons(r);
    registerConversions(r);
    registerTimeArithmetic(r);
    registerTimeGetters(r);
  },
};

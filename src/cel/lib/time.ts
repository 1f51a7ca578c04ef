/**
 * Corrections to CEL's time types where the evaluator differs from the specification
 * (and so from cel-go, which Kubernetes runs):
 *
 * - the conversions between timestamps, durations, ints and strings the evaluator lacks
 *   (`int(timestamp)`, `string(timestamp)`, `string(duration)`, and the identities);
 * - durations are int64 nanoseconds and timestamps stay within years 1-9999: arithmetic
 *   and `duration(string)` beyond that are errors, like int overflow; `t1 - t2` is exact;
 * - timestamp getters take fixed-offset time zones (`'+11:00'`) besides IANA names and do
 *   not depend on the process's time zone; `duration.getMilliseconds()` is the
 *   millisecond part, not the total.
 */
import { Duration } from '../adapter.js';
import { CelFunctionError } from '../errors.js';
import type { CelLibrary, LibraryRegistrar } from '../library.js';
import { INT64_MAX, INT64_MIN } from './int64.js';

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

export function nanosOfDuration(d: Duration): bigint {
  return d.seconds * NANOS_PER_SECOND + BigInt(d.nanos);
}

/** A duration from nanoseconds; seconds and nanos carry the same sign, as protobuf's do. */
function durationOfNanos(nanos: bigint): Duration {
  if (nanos > INT64_MAX || nanos < INT64_MIN) throw timeOutOfRange('duration');
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

function registerConversions(r: LibraryRegistrar): void {
  const TIMESTAMP = 'google.protobuf.Timestamp';
  const DURATION = 'google.protobuf.Duration';
  r.fn(`int(${TIMESTAMP}): int`, intOfTimestamp);
  r.fn(`string(${TIMESTAMP}): string`, stringOfTimestamp);
  r.fn(`string(${DURATION}): string`, stringOfDuration);
  r.fn(`timestamp(${TIMESTAMP}): ${TIMESTAMP}`, (t: Date) => t);
  r.fn(`duration(${DURATION}): ${DURATION}`, (d: Duration) => d);
}

export const timeLibrary: CelLibrary = {
  name: 'time',
  register(r) {
    registerConversions(r);
    registerTimeArithmetic(r);
    registerTimeGetters(r);
  },
};

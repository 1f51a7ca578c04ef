/**
 * Istio durations: Go duration strings as Istio accepts them ("1.5s", "300ms", "5m", "1h30m",
 * and protobuf JSON's "0.250s"), converted to milliseconds.
 */
import type { FieldPath, FieldReader } from './fields.js';

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (text === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const m = PART.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return total;
}

/**
 * Reads a duration field; `minMs` is Istio's lower bound (most durations "MUST BE >=1ms").
 */
export function readDuration(reader: FieldReader, value: unknown, path: FieldPath, minMs = 1): number | undefined {
  const text = reader.string(value, path);
  if (text === undefined) return undefined;
  const ms = parseDuration(text.trim());
  if (ms === undefined) {
    reader.report(path, `invalid duration '${text}'; use a number with a unit, e.g. 300ms, 1.5s, 5m or 1h`);
    return undefined;
  }
  if (ms < minMs) {
    reader.report(path, `duration '${text}' must be at least ${minMs}ms`);
    return undefined;
  }
  return ms;
}

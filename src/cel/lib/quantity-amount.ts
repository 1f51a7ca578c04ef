/**
 * The numeric value behind a Kubernetes resource.Quantity, with the arithmetic of
 * k8s.io/apimachinery/pkg/api/resource.
 *
 * Kubernetes keeps a quantity in one of two forms, and the form is visible from CEL:
 * `asInteger()` only succeeds on the int64 form, and `asApproximateFloat()` multiplies
 * the stored digits by a power of ten. So we track the form as Kubernetes does:
 * - `int64`: a 64-bit integer times 10^scale (its fast path);
 * - `decimal`: an arbitrary-precision decimal (its inf.Dec fallback).
 * Every other observable (comparison, sign, equality) is exact, whatever the form.
 */
import { CelFunctionError } from '../errors.js';
import { charge } from '../cost.js';

import { INT64_MAX, INT64_MIN } from './int64.js';

/** `value` × 10^`scale`, with `value` within int64. */
export interface Int64Amount {
  readonly kind: 'int64';
  readonly value: bigint;
  readonly scale: number;
}

/**
 * `coefficient` × 10^`exponent`. `storedExponent` (≤ `exponent`) is the exponent
 * Kubernetes' decimal keeps for the same value: it pads the coefficient with zeros
 * (e.g. to nanos after parsing), which changes nothing but the float conversion. We
 * keep the padding implicit so that huge exponents never materialise huge numbers.
 */
export interface DecimalAmount {
  readonly kind: 'decimal';
  readonly coefficient: bigint;
  readonly exponent: number;
  readonly storedExponent: number;
}

export type Amount = Int64Amount | DecimalAmount;

/** An exact value: coefficient × 10^exponent. */
export interface Exact {
  readonly coefficient: bigint;
  readonly exponent: number;
}

/** Beyond this many digits of alignment, exact arithmetic is refused rather than risked. */
const MAX_ALIGNMENT_DIGITS = 10_000;

export function int64Amount(value: bigint, scale = 0): Int64Amount {
  return { kind: 'int64', value, scale };
}

export function decimalAmount(coefficient: bigint, exponent: number, storedExponent = exponent): DecimalAmount {
  return { kind: 'decimal', coefficient, exponent, storedExponent };
}

const fitsInt64 = (n: bigint): boolean => n >= INT64_MIN && n <= INT64_MAX;
const abs = (n: bigint): bigint => (n < 0n ? -n : n);
const signOfBigint = (n: bigint): -1 | 0 | 1 => (n > 0n ? 1 : n < 0n ? -1 : 0);
const digitCount = (n: bigint): number => (n === 0n ? 0 : abs(n).toString().length);

export function exactOf(amount: Amount): Exact {
  return amount.kind === 'int64'
    ? { coefficient: amount.value, exponent: amount.scale }
    : { coefficient: amount.coefficient, exponent: amount.exponent };
}

function storedExponentOf(amount: Amount): number {
  return amount.kind === 'int64' ? amount.scale : amount.storedExponent;
}

export function signOf(amount: Amount): -1 | 0 | 1 {
  return signOfBigint(exactOf(amount).coefficient);
}

/**
 * 10^digits. Sums refuse alignments that no real quantity needs (Kubernetes itself
 * would stall on them); comparisons only align numbers of equal magnitude, whose
 * exponents differ by no more than the digits they already have.
 */
function powerOfTen(digits: number, limited: boolean): bigint {
  if (limited && digits > MAX_ALIGNMENT_DIGITS) {
    throw new CelFunctionError(
      `quantity arithmetic needs ${digits} digits of precision; the limit is ${MAX_ALIGNMENT_DIGITS}`,
      'numeric_overflow',
    );
  }
  charge(Math.ceil(digits / 10));
  return 10n ** BigInt(digits);
}

/** Exact comparison; decides by order of magnitude first so distant exponents stay cheap. */
export function compareExact(a: Exact, b: Exact): -1 | 0 | 1 {
  const signA = signOfBigint(a.coefficient);
  const signB = signOfBigint(b.coefficient);
  if (signA !== signB) return signA > signB ? 1 : -1;
  if (signA === 0) return 0;
  const magnitudeA = digitCount(a.coefficient) + a.exponent;
  const magnitudeB = digitCount(b.coefficient) + b.exponent;
  if (magnitudeA !== magnitudeB) return magnitudeA > magnitudeB ? signA : ((-signA) as -1 | 1);
  // Same order of magnitude: the exponents differ by at most the coefficients' lengths.
  const [left, right] = align(a, b, false);
  return left === right ? 0 : left > right ? 1 : -1;
}

/** Both coefficients expressed at the smaller of the two exponents. */
function align(a: Exact, b: Exact, limited: boolean): [bigint, bigint] {
  if (a.exponent === b.exponent) return [a.coefficient, b.coefficient];
  if (a.exponent > b.exponent) return [a.coefficient * powerOfTen(a.exponent - b.exponent, limited), b.coefficient];
  return [a.coefficient, b.coefficient * powerOfTen(b.exponent - a.exponent, limited)];
}

function exactSum(a: Exact, b: Exact): Exact {
  if (a.coefficient === 0n) return b;
  if (b.coefficient === 0n) return a;
  const [left, right] = align(a, b, true);
  return { coefficient: left + right, exponent: Math.min(a.exponent, b.exponent) };
}

export function compareAmounts(a: Amount, b: Amount): -1 | 0 | 1 {
  return compareExact(exactOf(a), exactOf(b));
}

/** value × 10^shift if it fits int64 (Kubernetes' positiveScaleInt64). */
function scaleUpInt64(value: bigint, shift: number): bigint | undefined {
  if (value === 0n || shift === 0) return value;
  if (shift > 18) return undefined;
  const scaled = value * 10n ** BigInt(shift);
  return fitsInt64(scaled) ? scaled : undefined;
}

/** Kubernetes' int64Amount.Add: the fast path, or undefined when it would overflow. */
function addInt64(a: Int64Amount, b: Int64Amount): Int64Amount | undefined {
  if (b.value === 0n) return a;
  if (a.value === 0n) return b;
  const scale = Math.min(a.scale, b.scale);
  const left = scaleUpInt64(a.value, a.scale - scale);
  const right = scaleUpInt64(b.value, b.scale - scale);
  if (left === undefined || right === undefined) return undefined;
  const sum = left + right;
  return fitsInt64(sum) ? int64Amount(sum, scale) : undefined;
}

function toDecimal(exact: Exact, storedExponent: number): DecimalAmount {
  return decimalAmount(exact.coefficient, exact.exponent, Math.min(storedExponent, exact.exponent));
}

/** Quantity.Add: stays int64 while it can, otherwise becomes an exact decimal. */
export function addAmounts(a: Amount, b: Amount): Amount {
  if (a.kind === 'int64' && b.kind === 'int64') {
    const fast = addInt64(a, b);
    if (fast) return fast;
  }
  const stored = Math.min(storedExponentOf(a), storedExponentOf(b));
  return toDecimal(exactSum(exactOf(a), exactOf(b)), stored);
}

/** Quantity.Sub: like Add with the operand negated; -(int64 min) leaves the fast path. */
export function subtractAmounts(a: Amount, b: Amount): Amount {
  if (a.kind === 'int64' && b.kind === 'int64' && b.value !== INT64_MIN) {
    const fast = addInt64(a, int64Amount(-b.value, b.scale));
    if (fast) return fast;
  }
  const negated = exactOf(b);
  const stored = Math.min(storedExponentOf(a), storedExponentOf(b));
  return toDecimal(exactSum(exactOf(a), { coefficient: -negated.coefficient, exponent: negated.exponent }), stored);
}

/**
 * Quantity.AsInt64: only the int64 form converts, and only at a non-negative scale
 * (so `1.000` does not, while `1k` does), as Kubernetes' asInteger() behaves.
 */
export function asInt64(amount: Amount): bigint | undefined {
  if (amount.kind === 'decimal' || amount.scale < 0) return undefined;
  return scaleUpInt64(amount.value, amount.scale);
}

/** Quantity.AsApproximateFloat64: the stored digits as a float64 times Go's math.Pow10. */
export function approximateFloat(amount: Amount): number {
  if (amount.kind === 'int64') return scaleFloat(Number(amount.value), amount.scale);
  const padding = amount.exponent - amount.storedExponent;
  return scaleFloat(paddedToFloat(amount.coefficient, padding), amount.storedExponent);
}

function scaleFloat(base: number, exponent: number): number {
  return exponent === 0 ? base : base * goPow10(exponent);
}

/** coefficient × 10^padding as the nearest float64, without building numbers past float range. */
function paddedToFloat(coefficient: bigint, padding: number): number {
  if (coefficient === 0n) return 0;
  if (digitCount(coefficient) + padding > 400) return coefficient > 0n ? Infinity : -Infinity;
  return Number(coefficient * 10n ** BigInt(padding));
}

// Go's math.Pow10 multiplies or divides table entries; reproducing its tables gives the
// same float64 results bit for bit (JavaScript number literals round like Go constants).
const POW10_SMALL = Array.from({ length: 32 }, (_, i) => Number(`1e${i}`));
const POW10_POSITIVE_32 = Array.from({ length: 10 }, (_, i) => Number(`1e${32 * i}`));
const POW10_NEGATIVE_32 = Array.from({ length: 11 }, (_, i) => Number(`1e-${32 * i}`));

function goPow10(n: number): number {
  if (n >= 0 && n <= 308) return POW10_POSITIVE_32[Math.floor(n / 32)]! * POW10_SMALL[n % 32]!;
  if (n < 0 && n >= -323) return POW10_NEGATIVE_32[Math.floor(-n / 32)]! / POW10_SMALL[-n % 32]!;
  return n > 0 ? Infinity : 0;
}

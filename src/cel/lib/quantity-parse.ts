/**
 * Parsing quantity strings exactly as k8s.io/apimachinery's resource.ParseQuantity:
 *
 *   <quantity> ::= <sign>? <digits>? ('.' <digits>?)? <suffix>
 *   <suffix>   ::= Ki | Mi | Gi | Ti | Pi | Ei | n | u | m | "" | k | M | G | T | P | E
 *                | (e | E) <signed int>
 *
 * including its quirks: leading zeros and an empty number are accepted (`.` is zero),
 * values below a nano round up (away from zero) to a nano, binary quantities above
 * 2^63-1 are capped, and which inputs stay on the int64 fast path (see quantity-amount.ts).
 */
import { INT64_MAX, INT64_MIN } from './int64.js';
import { compareExact, decimalAmount, int64Amount, type Amount, type Int64Amount } from './quantity-amount.js';

export const QUANTITY_FORMAT_ERROR =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
export const QUANTITY_NUMERIC_ERROR = 'unable to parse numeric part of quantity';
export const QUANTITY_SUFFIX_ERROR = "unable to parse quantity's suffix";

/** How a quantity prints (resource.Format): chosen by the suffix it was written with. */
export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

type ParsedAmount = { readonly amount: Amount; readonly error?: undefined } | { readonly amount?: undefined; readonly error: string };

export type ParsedQuantity =
  | {
      readonly amount: Amount;
      readonly format: QuantityFormat;
      /**
       * ParseQuantity keeps the text it was given as the quantity's printed form when its fast
       * path judges that text canonical (see keepsText); otherwise the form is computed.
       */
      readonly keepsText: boolean;
      readonly error?: undefined;
    }
  | { readonly amount?: undefined; readonly error: string };

/** The pieces of a quantity string, as Kubernetes' scanner splits them. */
interface Scanned {
  readonly negative: boolean;
  /** The signed number as written, e.g. `-01.50` (what the decimal path parses). */
  readonly number: string;
  /** Integer digits without leading zeros ("0" when none are left). */
  readonly integerDigits: string;
  readonly fractionDigits: string;
  readonly suffix: string;
}

interface Suffix {
  readonly base: 2 | 10;
  readonly exponent: number;
}

const NANO = -9;
/** Kubernetes' maxInt64Factors: decimal digits that always fit an int64. */
const INT64_DIGITS = 18;
const INT32_MAX = 2 ** 31 - 1;

/** Suffix -> power of ten (DecimalSI) and suffix -> power of two (BinarySI), as suffix.go lists them. */
export const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
export const BINARY_SUFFIXES: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const SUFFIX_CHARACTERS = 'eEinumkKMGTP';

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

export function parseQuantity(text: string): ParsedQuantity {
  if (text === '') return { error: QUANTITY_FORMAT_ERROR };
  const scanned = scan(text);
  if (!scanned) return { error: QUANTITY_FORMAT_ERROR };
  const suffix = interpretSuffix(scanned.suffix);
  if (!suffix) return { error: QUANTITY_SUFFIX_ERROR };
  const format: QuantityFormat = suffix.base === 2 ? 'BinarySI' : Object.hasOwn(DECIMAL_SUFFIXES, scanned.suffix) ? 'DecimalSI' : 'DecimalExponent';
  const fast = int64FastPath(scanned, suffix);
  if (fast) return { amount: fast, format, keepsText: keepsText(scanned, suffix, fast) };
  const slow = decimalPath(scanned, suffix);
  return slow.error === undefined ? { amount: slow.amount, format, keepsText: false } : slow;
}

/**
 * ParseQuantity's test on its fast path for "the number is in canonical form, reuse the
 * string": binary quantities whose digits are not a multiple of 8, decimal ones whose scale is
 * a multiple of 3 and whose digits neither end in 000 nor start with 0. The test looks at the
 * digits only, so a sign or leading zeros written in the text are kept too ("+1" stays "+1").
 */
function keepsText(scanned: Scanned, suffix: Suffix, amount: Int64Amount): boolean {
  // Go's `num + denom`: the integer digits without leading zeros ("0" when none are left), then the fraction's.
  const digits = scanned.integerDigits + scanned.fractionDigits;
  if (suffix.base === 2) return BigInt(digits) % 8n !== 0n;
  return amount.scale % 3 === 0 && !digits.endsWith('000') && digits[0] !== '0';
}

/** Splits sign, number and suffix; undefined when characters follow a valid suffix. */
function scan(text: string): Scanned | undefined {
  let pos = 0;
  const negative = text[0] === '-';
  if (negative || text[0] === '+') pos++;
  while (text[pos] === '0') pos++;
  if (pos === text.length) return { negative, number: '0', integerDigits: '0', fractionDigits: '', suffix: '' };
  const integerStart = pos;
  while (isDigit(text[pos])) pos++;
  const integerDigits = text.slice(integerStart, pos) || '0';
  let fractionDigits = '';
  if (text[pos] === '.') {
    const fractionStart = ++pos;
    while (isDigit(text[pos])) pos++;
    fractionDigits = text.slice(fractionStart, pos);
  }
  const number = text.slice(0, pos);
  const suffixStart = pos;
  while (pos < text.length && SUFFIX_CHARACTERS.includes(text[pos]!)) pos++;
  if (text[pos] === '+' || text[pos] === '-') pos++;
  while (isDigit(text[pos])) pos++;
  if (pos !== text.length) return undefined;
  return { negative, number, integerDigits, fractionDigits, suffix: text.slice(suffixStart) };
}

function interpretSuffix(suffix: string): Suffix | undefined {
  if (Object.hasOwn(DECIMAL_SUFFIXES, suffix)) return { base: 10, exponent: DECIMAL_SUFFIXES[suffix]! };
  if (Object.hasOwn(BINARY_SUFFIXES, suffix)) return { base: 2, exponent: BINARY_SUFFIXES[suffix]! };
  if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E')) {
    const exponent = parseGoInt64(suffix.slice(1));
    // Exponents beyond int32 cannot be represented (Kubernetes rejects them too).
    if (exponent === undefined || exponent > INT32_MAX || exponent < -INT32_MAX) return undefined;
    return { base: 10, exponent: Number(exponent) };
  }
  return undefined;
}

/** Go's strconv.ParseInt(s, 10, 64): optional sign, at least one digit, within int64. */
function parseGoInt64(text: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const value = BigInt(text);
  return value >= INT64_MIN && value <= INT64_MAX ? value : undefined;
}

/** Kubernetes keeps short numbers at nano or coarser scale as int64 × 10^scale. */
function int64FastPath(scanned: Scanned, suffix: Suffix): Int64Amount | undefined {
  const { integerDigits, fractionDigits } = scanned;
  let multiplier = 1n;
  let scale = 0;
  let precision: number;
  if (suffix.base === 10) {
    scale = suffix.exponent;
    precision = INT64_DIGITS - (integerDigits.length + fractionDigits.length);
  } else if (fractionDigits === '') {
    multiplier = 1n << BigInt(suffix.exponent);
    // Kubernetes' estimate of the decimal digits a binary suffix adds (2^10 ≈ 10^3).
    precision = 15 - integerDigits.length - (suffix.exponent * 3) / 10 - 1;
  } else {
    return undefined;
  }
  if (precision < 0) return undefined;
  scale -= fractionDigits.length;
  if (scale < NANO) return undefined;
  const magnitude = BigInt(integerDigits + fractionDigits) * multiplier;
  if (magnitude > INT64_MAX) return undefined;
  return int64Amount(scanned.negative ? -magnitude : magnitude, scale);
}

/** The arbitrary-precision path: exact value, rounded up to nanos, binary capped at 2^63-1. */
function decimalPath(scanned: Scanned, suffix: Suffix): ParsedAmount {
  const match = /^[+-]?(\d*)(?:\.(\d*))?$/.exec(scanned.number);
  const integer = match?.[1] ?? '';
  const fraction = match?.[2] ?? '';
  if (integer === '' && fraction === '') return { error: QUANTITY_NUMERIC_ERROR };
  let magnitude = BigInt(integer + fraction);
  let exponent = -fraction.length;
  if (suffix.base === 10) exponent += suffix.exponent;
  else magnitude <<= BigInt(suffix.exponent);
  const negative = scanned.negative;
  if (magnitude === 0n) return { amount: decimalAmount(0n, exponent) };
  [magnitude, exponent] = roundUpToNano(magnitude, exponent);
  if (suffix.base === 2 && compareExact({ coefficient: magnitude, exponent }, { coefficient: INT64_MAX, exponent: 0 }) > 0) {
    return { amount: decimalAmount(negative ? -INT64_MAX : INT64_MAX, 0) };
  }
  return { amount: decimalAmount(negative ? -magnitude : magnitude, exponent, NANO) };
}

/** Rounds a positive magnitude up to a whole number of nanos (so 0.1n becomes 1n). */
function roundUpToNano(magnitude: bigint, exponent: number): [bigint, number] {
  if (exponent >= NANO) return [magnitude, exponent];
  const dropped = NANO - exponent;
  if (dropped >= magnitude.toString().length) return [1n, NANO];
  const divisor = 10n ** BigInt(dropped);
  const quotient = magnitude / divisor;
  return [magnitude % divisor === 0n ? quotient : quotient + 1n, NANO];
}

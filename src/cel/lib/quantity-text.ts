/**
 * The text kube-apiserver writes for a resource.Quantity field it decoded (UnmarshalJSON then
 * MarshalJSON, k8s.io/apimachinery/pkg/api/resource): what admission policies see in
 * `object.spec.containers[0].resources.limits.cpu` however the manifest wrote it. A JSON number
 * becomes a string (`3` -> "3", `0.5` -> "500m"), and text ParseQuantity does not judge
 * canonical is rewritten in the canonical form of its format ("1000m" -> "1", "2048Mi" -> "2Gi",
 * "2000" -> "2k"); text it judges canonical is kept as written.
 */
import { exactOf, type Amount } from './quantity-amount.js';
import { BINARY_SUFFIXES, DECIMAL_SUFFIXES, parseQuantity, type QuantityFormat } from './quantity-parse.js';

/** Suffix by power of ten, and by power of 1024. */
const DECIMAL_SUFFIX_BY_POWER: ReadonlyMap<number, string> = new Map(Object.entries(DECIMAL_SUFFIXES).map(([suffix, power]) => [power, suffix]));
const BINARY_SUFFIX_BY_POWER: ReadonlyMap<number, string> = new Map([[0, ''], ...Object.entries(BINARY_SUFFIXES).map(([suffix, bits]) => [bits / 10, suffix] as const)]);

/**
 * Decoded forms by written text. Objects repeat a handful of quantities ("100m", "128Mi"), and
 * the defaults re-check every one after each mutation; bounded so odd inputs cannot grow it.
 */
const decodedTexts = new Map<string, string | undefined>();
const MAX_REMEMBERED = 1024;

/** The decoded form of a quantity written as `written` (text or a JSON number); undefined when it is no quantity. */
export function quantityText(written: string | number): string | undefined {
  // A JSON number reaches UnmarshalJSON as its literal text; a string has its whitespace trimmed.
  const text = typeof written === 'number' ? String(written) : written.trim();
  if (decodedTexts.has(text)) return decodedTexts.get(text);
  const parsed = parseQuantity(text);
  const decoded = parsed.error !== undefined ? undefined : parsed.keepsText ? text : canonicalText(parsed.amount, parsed.format);
  if (decodedTexts.size >= MAX_REMEMBERED) decodedTexts.clear();
  decodedTexts.set(text, decoded);
  return decoded;
}

/** Quantity.CanonicalizeBytes: the number and suffix of `amount` printed in `format`. */
export function canonicalText(amount: Amount, format: QuantityFormat): string {
  const { coefficient, exponent } = exactOf(amount);
  if (coefficient === 0n) return '0';
  if (format === 'BinarySI') {
    // Binary only for whole numbers of at least 1024 in magnitude; anything else prints as DecimalSI.
    const whole = wholeNumber(coefficient, exponent);
    if (whole !== undefined && (whole >= 1024n || whole <= -1024n)) {
      const [mantissa, powers] = removeFactors(whole, 1024n);
      return `${mantissa}${BINARY_SUFFIX_BY_POWER.get(powers)}`;
    }
    return canonicalText(amount, 'DecimalSI');
  }
  let [mantissa, powers] = removeFactors(coefficient, 10n);
  let power = exponent + powers;
  // The exponent is brought to a multiple of 3 by growing the mantissa (Go's % keeps the sign).
  const offset = power % 3;
  if (offset === 1 || offset === -2) {
    mantissa *= 10n;
    power -= 1;
  } else if (offset === 2 || offset === -1) {
    mantissa *= 100n;
    power -= 2;
  }
  if (format === 'DecimalExponent') return power === 0 ? `${mantissa}` : `${mantissa}e${power}`;
  // Beyond E (10^18) DecimalSI has no suffix, and Kubernetes then prints the mantissa alone.
  return `${mantissa}${DECIMAL_SUFFIX_BY_POWER.get(power) ?? ''}`;
}

function wholeNumber(coefficient: bigint, exponent: number): bigint | undefined {
  if (exponent >= 0) return coefficient * 10n ** BigInt(exponent);
  const divisor = 10n ** BigInt(-exponent);
  return coefficient % divisor === 0n ? coefficient / divisor : undefined;
}

/** `value` without its factors of `base`, and how many were removed (removeInt64Factors). */
function removeFactors(value: bigint, base: bigint): [bigint, number] {
  let result = value < 0n ? -value : value;
  let times = 0;
  while (result >= base && result % base === 0n) {
    result /= base;
    times++;
  }
  return [value < 0n ? -result : result, times];
}

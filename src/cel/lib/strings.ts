/**
 * cel-go's strings extension as Kubernetes enables it (`ext.Strings(ext.StringsVersion(2))`:
 * charAt, indexOf, lastIndexOf, lowerAscii, upperAscii, replace, split, substring, trim,
 * join, format, strings.quote), plus `reverse` from version 3.
 *
 * CEL strings are sequences of code points, so every index here counts code points, not
 * the UTF-16 units JS strings are made of. The evaluator's built-in versions of several of
 * these functions count UTF-16 units or use JS semantics (Unicode case mapping, JS
 * whitespace); they are replaced by `replaceMethod`. A replacement catches every method
 * call of that name and arity, so `indexOf`/`lastIndexOf` with one argument also serve
 * the list library's `list.indexOf(x)`.
 *
 * `format` follows the cel-spec conformance suite (string_ext.textproto): `%d`, `%f` and
 * `%e` accept ints, uints and doubles, and `%s` prints lists and maps without quoting.
 */
import { Duration, UnsignedInt, isCelType } from '../adapter.js';
import { CelFunctionError } from '../errors.js';
import { charge } from '../cost.js';
import type { CelLibrary, LibraryRegistrar } from '../library.js';
import { celTypeName } from '../values.js';
import { noSuchOverload, requireInt, requireString } from './arguments.js';
import { listIndexOf, listLastIndexOf } from './lists.js';
import { isCelMap } from './sets.js';


const indexOutOfRange = (index: bigint | number) =>
  new CelFunctionError(`index out of range: ${index}`, 'index_out_of_range');

// ---------------------------------------------------------------------------------------
// Code point indexing

const HAS_SURROGATES = /[\uD800-\uDFFF]/;

function codePointLength(s: string): number {
  if (!HAS_SURROGATES.test(s)) return s.length;
  let count = 0;
  for (const _ of s) count++;
  return count;
}

/** The UTF-16 offset at which code point number `index` starts (`index` <= length). */
function unitOffset(s: string, index: number): number {
  if (!HAS_SURROGATES.test(s)) return index;
  let unit = 0;
  for (let i = 0; i < index && unit < s.length; i++) unit += (s.codePointAt(unit) ?? 0) > 0xffff ? 2 : 1;
  return unit;
}

/** How many code points precede UTF-16 offset `unit`. */
function codePointIndex(s: string, unit: number): number {
  return HAS_SURROGATES.test(s) ? codePointLength(s.slice(0, unit)) : unit;
}

function toCodePointResult(s: string, unit: number): bigint {
  return unit < 0 ? -1n : BigInt(codePointIndex(s, unit));
}

// ---------------------------------------------------------------------------------------
// Searching and slicing

function indexOf(s: string, search: string): bigint {
  charge(s.length);
  return search === '' ? 0n : toCodePointResult(s, s.indexOf(search));
}

/** From a code point offset; like cel-go, an empty search returns the offset unchecked. */
function indexOfFrom(s: string, search: string, offset: bigint): bigint {
  if (search === '') return offset;
  charge(s.length);
  if (offset < 0n || offset >= BigInt(codePointLength(s))) throw indexOutOfRange(offset);
  return toCodePointResult(s, s.indexOf(search, unitOffset(s, Number(offset))));
}

function lastIndexOf(s: string, search: string): bigint {
  charge(s.length);
  if (search === '') return BigInt(codePointLength(s));
  return toCodePointResult(s, s.lastIndexOf(search));
}

/** The last match starting at or before code point `offset`. */
function lastIndexOfFrom(s: string, search: string, offset: bigint): bigint {
  if (search === '') return offset;
  charge(s.length);
  if (offset < 0n || offset >= BigInt(codePointLength(s))) throw indexOutOfRange(offset);
  return toCodePointResult(s, s.lastIndexOf(search, unitOffset(s, Number(offset))));
}

function charAt(s: string, index: bigint): string {
  charge(s.length);
  const length = BigInt(codePointLength(s));
  if (index < 0n || index > length) throw indexOutOfRange(index);
  if (index === length) return '';
  return String.fromCodePoint(s.codePointAt(unitOffset(s, Number(index)))!);
}

function substringFrom(s: string, start: bigint): string {
  charge(s.length);
  if (start < 0n || start > BigInt(codePointLength(s))) throw indexOutOfRange(start);
  return s.slice(unitOffset(s, Number(start)));
}

function substringRange(s: string, start: bigint, end: bigint): string {
  charge(s.length);
  if (start > end) {
    throw new CelFunctionError(`invalid substring range. start: ${start}, end: ${end}`, 'index_out_of_range');
  }
  const length = BigInt(codePointLength(s));
  if (start < 0n || start > length) throw indexOutOfRange(start);
  if (end < 0n || end > length) throw indexOutOfRange(end);
  return s.slice(unitOffset(s, Number(start)), unitOffset(s, Number(end)));
}

// ---------------------------------------------------------------------------------------
// Case, whitespace, reversal

/** ASCII letters only: 'Æ' stays 'Æ' (JS toLowerCase would map it). */
function lowerAscii(s: string): string {
  charge(s.length);
  return s.replace(/[A-Z]+/g, (run) => run.toLowerCase());
}

function upperAscii(s: string): string {
  charge(s.length);
  return s.replace(/[a-z]+/g, (run) => run.toUpperCase());
}

/** Go's unicode.IsSpace: includes U+0085 and U+00A0, excludes U+FEFF (JS trim differs on both). */
function isGoSpace(unit: number): boolean {
  switch (unit) {
    case 0x09:
    case 0x0a:
    case 0x0b:
    case 0x0c:
    case 0x0d:
    case 0x20:
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
      return true;
    default:
      return unit >= 0x2000 && unit <= 0x200a;
  }
}

function trim(s: string): string {
  charge(s.length);
  let start = 0;
  let end = s.length;
  while (start < end && isGoSpace(s.charCodeAt(start))) start++;
  while (end > start && isGoSpace(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

function reverse(s: string): string {
  charge(s.length);
  return Array.from(s).reverse().join('');
}

// ---------------------------------------------------------------------------------------
// Split, replace, join (Go's strings.SplitN / strings.Replace semantics)

/** A limit as a JS number; negative means "no limit". */
function limitOf(n: bigint): number {
  return n < 0n || n > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(n);
}

function split(s: string, separator: string, n: bigint = -1n): string[] {
  charge(s.length);
  const limit = limitOf(n);
  if (limit === 0) return [];
  if (separator === '') return splitCodePoints(s, limit);
  const parts: string[] = [];
  let from = 0;
  while (limit < 0 || parts.length < limit - 1) {
    const at = s.indexOf(separator, from);
    if (at < 0) break;
    parts.push(s.slice(from, at));
    from = at + separator.length;
  }
  parts.push(s.slice(from));
  return parts;
}

/** Go splits on "" between code points (a JS split('') would cut surrogate pairs). */
function splitCodePoints(s: string, limit: number): string[] {
  const points = Array.from(s);
  if (limit < 0 || limit >= points.length) return points;
  return [...points.slice(0, limit - 1), points.slice(limit - 1).join('')];
}

function replace(s: string, search: string, replacement: string, n: bigint = -1n): string {
  charge(s.length);
  const limit = limitOf(n);
  if (limit === 0 || search === replacement) return s;
  if (search === '') return insertBetweenCodePoints(s, replacement, limit);
  let out = '';
  let from = 0;
  for (let done = 0; limit < 0 || done < limit; done++) {
    const at = s.indexOf(search, from);
    if (at < 0) break;
    out += s.slice(from, at) + replacement;
    from = at + search.length;
  }
  charge(out.length);
  return out + s.slice(from);
}

/** Go's Replace with an empty search inserts before each code point and at the end. */
function insertBetweenCodePoints(s: string, insert: string, limit: number): string {
  const points = Array.from(s);
  let out = '';
  for (let i = 0; i <= points.length; i++) {
    if (limit < 0 || i < limit) out += insert;
    if (i < points.length) out += points[i];
  }
  charge(out.length);
  return out;
}

function join(list: unknown, separator = ''): string {
  if (!Array.isArray(list)) throw noSuchOverload('join', `expects a list, got ${celTypeName(list)}`);
  charge(list.length);
  for (const element of list) {
    if (typeof element !== 'string') throw new CelFunctionError(`join: invalid input: ${celTypeName(element)}`);
  }
  const out = list.join(separator);
  charge(out.length);
  return out;
}

// ---------------------------------------------------------------------------------------
// strings.quote

const QUOTE_ESCAPES: Readonly<Record<string, string>> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '\\': '\\\\',
  '"': '\\"',
};

/** Double-quotes `s`, escaping CEL's escape sequences; a lone surrogate becomes U+FFFD. */
function quote(s: string): string {
  charge(s.length);
  let out = '"';
  for (const point of s) {
    const code = point.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff) out += '\uFFFD';
    else out += QUOTE_ESCAPES[point] ?? point;
  }
  return `${out}"`;
}

// ---------------------------------------------------------------------------------------
// format

const DEFAULT_PRECISION = 6;
/** Go has no limit; one keeps a single clause from building a megabyte of digits. */
const MAX_PRECISION = 1000;

class FormatError extends Error {}

/** cel-go's wording for a clause given a value of the wrong type. */
function wrongType(expectation: string, value: unknown): FormatError {
  return new FormatError(`${expectation}, was given ${celTypeName(value)}`);
}

function formatError(message: string): CelFunctionError {
  return new CelFunctionError(message, 'invalid_argument');
}

function format(template: string, args: unknown): string {
  if (!Array.isArray(args)) throw noSuchOverload('format', `expects a list, got ${celTypeName(args)}`);
  charge(template.length);
  let out = '';
  let argIndex = 0;
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    if (c !== '%') {
      out += c;
      i++;
      continue;
    }
    if (template[i + 1] === '%') {
      out += '%';
      i += 2;
      continue;
    }
    if (argIndex >= args.length) throw formatError(`index ${argIndex} out of range`);
    if (i + 1 >= template.length) throw formatError('unexpected end of string');
    const clause = parseClause(template, i + 1);
    const piece = applyClause(clause, args[argIndex]);
    charge(piece.length);
    out += piece;
    i = clause.end;
    argIndex++;
  }
  return out;
}

interface Clause {
  readonly verb: string;
  readonly precision: number;
  /** Index just after the clause. */
  readonly end: number;
}

function parseClause(template: string, start: number): Clause {
  try {
    let i = start;
    let precision = DEFAULT_PRECISION;
    if (template[i] === '.') {
      i++;
      const digitsStart = i;
      while (i < template.length && template[i]! >= '0' && template[i]! <= '9') i++;
      if (i >= template.length) {
        throw new FormatError('error while parsing precision: could not find end of precision specifier');
      }
      precision = parsePrecision(template.slice(digitsStart, i));
    }
    const verb = String.fromCodePoint(template.codePointAt(i)!);
    if (!'sdfebxXo'.includes(verb)) throw new FormatError(`unrecognized formatting clause "${verb}"`);
    return { verb, precision, end: i + verb.length };
  } catch (error) {
    if (error instanceof FormatError) throw formatError(`could not parse formatting clause: ${error.message}`);
    throw error;
  }
}

function parsePrecision(digits: string): number {
  const prefix = 'error while parsing precision: error while converting precision to integer: ';
  if (digits === '') throw new FormatError(`${prefix}strconv.Atoi: parsing "": invalid syntax`);
  const precision = Number(digits);
  if (precision > MAX_PRECISION) {
    const limit = `exceeds maximum allowed precision ${MAX_PRECISION}`;
    throw new FormatError(`error while parsing precision: precision ${digits} ${limit}`);
  }
  return precision;
}

function applyClause(clause: Clause, value: unknown): string {
  try {
    switch (clause.verb) {
      case 's':
        return formatString(value);
      case 'd':
        return formatDecimal(value);
      case 'f':
        return formatFixed(value, clause.precision);
      case 'e':
        return formatScientific(value, clause.precision);
      case 'b':
        return formatBinary(value);
      case 'o':
        return formatOctal(value);
      default:
        return formatHex(value, clause.verb === 'X');
    }
  } catch (error) {
    if (error instanceof FormatError) throw formatError(`error during formatting: ${error.message}`);
    throw error;
  }
}

/** An int or uint as a bigint, a double as a number, anything else undefined. */
function numberOf(value: unknown): bigint | number | undefined {
  if (typeof value === 'bigint' || typeof value === 'number') return value;
  if (value instanceof UnsignedInt) return value.valueOf();
  return undefined;
}

function nonFinite(x: number): string | undefined {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return undefined;
}

const STRING_CLAUSE_TYPES = 'strings, bools, bytes, ints, doubles, maps, lists, types, durations, and timestamps';

const bufferOf = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function formatString(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'number':
      return nonFinite(value) ?? shortestFixed(value);
    default:
  }
  if (value === null) return 'null';
  const n = numberOf(value);
  if (n !== undefined) return String(n);
  if (value instanceof Uint8Array) return bufferOf(value).toString('utf8');
  if (value instanceof Duration) return `${shortestFixed(Number(value.seconds) + value.nanos / 1e9)}s`;
  if (value instanceof Date) return rfc3339(value);
  if (isCelType(value)) return typeName(value);
  if (Array.isArray(value)) return `[${value.map(formatString).join(', ')}]`;
  if (isCelMap(value)) return formatMap(value);
  throw wrongType(`string clause can only be used on ${STRING_CLAUSE_TYPES}`, value);
}

function formatMap(map: Map<unknown, unknown> | Record<string, unknown>): string {
  const entries = map instanceof Map ? [...map.entries()] : Object.entries(map);
  const formatted = entries.map(([k, v]) => [formatString(k), formatString(v)] as const);
  formatted.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${formatted.map(([k, v]) => `${k}: ${v}`).join(', ')}}`;
}

/** The name `type(x)` has in CEL; the evaluator calls the null type just "null". */
function typeName(type: unknown): string {
  const name = String((type as { name?: unknown }).name);
  return name === 'null' ? 'null_type' : name;
}

/** RFC 3339 in UTC with trailing fractional zeros dropped, as Go's RFC3339Nano. */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.(\d*?)0*Z$/, (_, fraction: string) => (fraction ? `.${fraction}Z` : 'Z'));
}

function formatDecimal(value: unknown): string {
  const n = numberOf(value);
  if (n === undefined) throw wrongType('decimal clause can only be used on integers', value);
  return typeof n === 'bigint' ? n.toString() : (nonFinite(n) ?? shortestFixed(n));
}

function formatFixed(value: unknown, precision: number): string {
  const n = numberOf(value);
  if (n === undefined) throw wrongType('fixed-point clause can only be used on doubles', value);
  const x = Number(n);
  return nonFinite(x) ?? fixed(x, precision);
}

function formatScientific(value: unknown, precision: number): string {
  const n = numberOf(value);
  if (n === undefined) throw wrongType('scientific clause can only be used on doubles', value);
  const x = Number(n);
  return nonFinite(x) ?? scientific(x, precision);
}

function formatBinary(value: unknown): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  const n = numberOf(value);
  if (typeof n !== 'bigint') throw wrongType('only integers and bools can be formatted as binary', value);
  return n.toString(2);
}

function formatOctal(value: unknown): string {
  const n = numberOf(value);
  if (typeof n !== 'bigint') throw wrongType('octal clause can only be used on integers', value);
  return n.toString(8);
}

function formatHex(value: unknown, upper: boolean): string {
  const n = numberOf(value);
  let hex: string;
  if (typeof n === 'bigint') hex = n.toString(16);
  else if (typeof value === 'string') hex = Buffer.from(value, 'utf8').toString('hex');
  else if (value instanceof Uint8Array) hex = bufferOf(value).toString('hex');
  else throw wrongType('only integers, byte buffers, and strings can be formatted as hex', value);
  return upper ? hex.toUpperCase() : hex;
}

// Decimal rendering of doubles, exactly as Go's strconv: the exact binary value is rounded
// half-to-even (JS toFixed rounds exact halves up: (2.5).toFixed(0) is "3", Go says "2").

/** |x| = mantissa * 2^exponent, exactly. */
function decompose(x: number): { mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const high = view.getUint32(0);
  const biased = (high >>> 20) & 0x7ff;
  const fraction = (BigInt(high & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  if (biased === 0) return { mantissa: fraction, exponent: -1074 };
  return { mantissa: fraction | (1n << 52n), exponent: biased - 1075 };
}

/** numerator / denominator rounded half-to-even. */
function divideRounded(numerator: bigint, denominator: bigint): bigint {
  const quotient = numerator / denominator;
  const twiceRemainder = (numerator % denominator) * 2n;
  if (twiceRemainder > denominator || (twiceRemainder === denominator && (quotient & 1n) === 1n)) return quotient + 1n;
  return quotient;
}

const isNegative = (x: number) => x < 0 || Object.is(x, -0);

/** Go's %.{precision}f. */
function fixed(x: number, precision: number): string {
  const { mantissa, exponent } = decompose(x);
  const scale = 10n ** BigInt(precision);
  const scaled =
    exponent >= 0 ? (mantissa << BigInt(exponent)) * scale : divideRounded(mantissa * scale, 1n << BigInt(-exponent));
  const digits = scaled.toString().padStart(precision + 1, '0');
  const whole = digits.slice(0, digits.length - precision);
  const fraction = precision > 0 ? `.${digits.slice(digits.length - precision)}` : '';
  return `${isNegative(x) ? '-' : ''}${whole}${fraction}`;
}

/** Go's %.{precision}e: one digit, the fraction, and an exponent of at least two digits. */
function scientific(x: number, precision: number): string {
  const { mantissa, exponent } = decompose(x);
  let digits: string;
  let power = 0;
  if (mantissa === 0n) {
    digits = '0'.repeat(precision + 1);
  } else {
    const numerator = exponent >= 0 ? mantissa << BigInt(exponent) : mantissa;
    const denominator = exponent >= 0 ? 1n : 1n << BigInt(-exponent);
    power = decimalExponent(numerator, denominator, Math.floor(Math.log10(Math.abs(x))));
    const shift = precision - power;
    let rounded =
      shift >= 0
        ? divideRounded(numerator * 10n ** BigInt(shift), denominator)
        : divideRounded(numerator, denominator * 10n ** BigInt(-shift));
    if (rounded === 10n ** BigInt(precision + 1)) {
      rounded /= 10n;
      power++;
    }
    digits = rounded.toString();
  }
  const fraction = precision > 0 ? `.${digits.slice(1)}` : '';
  const exp = `${power < 0 ? '-' : '+'}${String(Math.abs(power)).padStart(2, '0')}`;
  return `${isNegative(x) ? '-' : ''}${digits[0]}${fraction}e${exp}`;
}

/** The E with 10^E <= n/d < 10^(E+1), starting from a floating-point estimate. */
function decimalExponent(n: bigint, d: bigint, estimate: number): number {
  const atLeast = (e: number) => (e >= 0 ? n >= d * 10n ** BigInt(e) : n * 10n ** BigInt(-e) >= d);
  let e = estimate;
  while (!atLeast(e)) e--;
  while (atLeast(e + 1)) e++;
  return e;
}

/** Go's strconv 'f' with precision -1: the shortest round-tripping digits, never an exponent. */
function shortestFixed(x: number): string {
  if (x === 0) return isNegative(x) ? '-0' : '0';
  const [significand, exp] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = significand.replace('.', '');
  const power = Number(exp);
  let body: string;
  if (power >= digits.length - 1) body = digits + '0'.repeat(power - digits.length + 1);
  else if (power >= 0) body = `${digits.slice(0, power + 1)}.${digits.slice(power + 1)}`;
  else body = `0.${'0'.repeat(-power - 1)}${digits}`;
  return `${x < 0 ? '-' : ''}${body}`;
}

// ---------------------------------------------------------------------------------------
// Registration

/**
 * Replaces the evaluator's built-ins whose indices or semantics differ from cel-go's.
 * Replacements receive unchecked run-time values (`dyn` receivers included).
 */
function replaceBuiltins(r: LibraryRegistrar): void {
  const text = requireString;
  const int = requireInt;
  r.replaceMethod('indexOf', 1, (target: unknown, x: unknown) =>
    Array.isArray(target) ? listIndexOf(target, x) : indexOf(text(target, 'indexOf'), text(x, 'indexOf')),
  );
  r.replaceMethod('lastIndexOf', 1, (target: unknown, x: unknown) =>
    Array.isArray(target)
      ? listLastIndexOf(target, x)
      : lastIndexOf(text(target, 'lastIndexOf'), text(x, 'lastIndexOf')),
  );
  r.replaceMethod('indexOf', 2, (s: unknown, x: unknown, from: unknown) =>
    indexOfFrom(text(s, 'indexOf'), text(x, 'indexOf'), int(from, 'indexOf')),
  );
  r.replaceMethod('lastIndexOf', 2, (s: unknown, x: unknown, from: unknown) =>
    lastIndexOfFrom(text(s, 'lastIndexOf'), text(x, 'lastIndexOf'), int(from, 'lastIndexOf')),
  );
  r.replaceMethod('lowerAscii', 0, (s: unknown) => lowerAscii(text(s, 'lowerAscii')));
  r.replaceMethod('upperAscii', 0, (s: unknown) => upperAscii(text(s, 'upperAscii')));
  r.replaceMethod('trim', 0, (s: unknown) => trim(text(s, 'trim')));
  r.replaceMethod('substring', 1, (s: unknown, start: unknown) =>
    substringFrom(text(s, 'substring'), int(start, 'substring')),
  );
  r.replaceMethod('substring', 2, (s: unknown, start: unknown, end: unknown) =>
    substringRange(text(s, 'substring'), int(start, 'substring'), int(end, 'substring')),
  );
  r.replaceMethod('split', 1, (s: unknown, sep: unknown) => split(text(s, 'split'), text(sep, 'split')));
  r.replaceMethod('split', 2, (s: unknown, sep: unknown, n: unknown) =>
    split(text(s, 'split'), text(sep, 'split'), int(n, 'split')),
  );
  r.replaceMethod('join', 0, (list: unknown) => join(list));
  r.replaceMethod('join', 1, (list: unknown, sep: unknown) => join(list, text(sep, 'join')));
}

export const stringsLibrary: CelLibrary = {
  name: 'strings',
  register(r) {
    replaceBuiltins(r);
    r.fn('string.charAt(int): string', charAt);
    r.fn('string.replace(string, string): string', (s: string, a: string, b: string) => replace(s, a, b));
    r.fn('string.replace(string, string, int): string', replace);
    r.fn('string.format(list): string', format);
    r.fn('string.reverse(): string', reverse);
    r.namespace('strings');
    r.fn('strings.quote(string): string', quote);
  },
};

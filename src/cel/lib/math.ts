/**
 * cel-go's math extension (the `math.*` functions of ext/math.go, version 2): greatest and
 * least over any mix of int, uint and double, rounding, sign and bit operations on 64-bit
 * integers, floating-point predicates and square roots.
 *
 * cel-go implements `math.greatest`/`math.least` as macros over any number of arguments;
 * here they are overloads for one argument (a number or a list), two typed arguments,
 * and 3..MAX_VARIADIC_ARGS arguments of any type checked at run time.
 */
import { UnsignedInt } from '../adapter.js';
import { CelFunctionError } from '../errors.js';
import { charge } from '../cost.js';
import type { CelLibrary, LibraryRegistrar } from '../library.js';

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
/** Largest argument count for `math.greatest(a, b, c, ...)`; matches the compile limit. */
const MAX_VARIADIC_ARGS = 32;

export type CelNumber = bigint | number | UnsignedInt;

export function isCelNumber(value: unknown): value is CelNumber {
  return typeof value === 'bigint' || typeof value === 'number' || value instanceof UnsignedInt;
}

/** The exact value: bigint for int and uint, number for double. */
function exact(value: CelNumber): bigint | number {
  return value instanceof UnsignedInt ? value.valueOf() : value;
}

/**
 * Orders two numbers of any numeric types exactly (no rounding of large ints to doubles).
 * Undefined when either is NaN, which CEL cannot order.
 */
export function compareNumbers(a: CelNumber, b: CelNumber): -1 | 0 | 1 | undefined {
  const x = exact(a);
  const y = exact(b);
  if (typeof x === 'bigint' && typeof y === 'bigint') return x < y ? -1 : x > y ? 1 : 0;
  if (typeof x === 'number' && typeof y === 'number') {
    if (Number.isNaN(x) || Number.isNaN(y)) return undefined;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof x === 'bigint') return compareIntToDouble(x, y as number);
  const flipped = compareIntToDouble(y as bigint, x);
  return flipped === undefined ? undefined : ((-flipped || 0) as -1 | 0 | 1);
}

function compareIntToDouble(i: bigint, d: number): -1 | 0 | 1 | undefined {
  if (Number.isNaN(d)) return undefined;
  if (!Number.isFinite(d)) return d > 0 ? -1 : 1;
  const whole = Math.trunc(d);
  const truncated = BigInt(whole);
  if (i !== truncated) return i < truncated ? -1 : 1;
  return d > whole ? -1 : d < whole ? 1 : 0;
}

// ---------------------------------------------------------------------------------------
// greatest / least

type Extreme = 'max' | 'min';

/** cel-go's pair rule: keep the first argument unless the second is strictly better. */
function better(current: CelNumber, candidate: CelNumber, extreme: Extreme): CelNumber {
  const order = compareNumbers(current, candidate);
  if (order === undefined) throw new CelFunctionError(`NaN values cannot be ordered: math.@${extreme}`);
  const candidateWins = extreme === 'max' ? order < 0 : order > 0;
  return candidateWins ? candidate : current;
}

function extremeOfList(values: readonly unknown[], extreme: Extreme): CelNumber {
  if (values.length === 0) throw new CelFunctionError(`math.@${extreme}(list) argument must not be empty`);
  charge(values.length);
  const noOverload = () => new CelFunctionError(`no such overload: math.@${extreme}`, 'no_such_overload');
  const first = values[0];
  if (!isCelNumber(first)) throw noOverload();
  let result: CelNumber = first;
  for (let i = 1; i < values.length; i++) {
    const next = values[i];
    if (!isCelNumber(next)) throw noOverload();
    const order = compareNumbers(result, next);
    if (order === undefined) throw noOverload(); // cel-go reports a NaN inside a list this way
    if (extreme === 'max' ? order < 0 : order > 0) result = next;
  }
  return result;
}

const NUMERIC_TYPES = ['int', 'uint', 'double'] as const;

function registerExtreme(r: LibraryRegistrar, name: 'greatest' | 'least', extreme: Extreme): void {
  // The list overload comes first so that a `dyn` argument type-checks to `dyn`.
  r.fn(`math.${name}(list<A>): A`, (values: unknown[]) => extremeOfList(values, extreme));
  for (const t of NUMERIC_TYPES) r.fn(`math.${name}(${t}): ${t}`, (value: CelNumber) => value);
  // Mixed pairs first (they return dyn), so `dyn` arguments do not pin the result type.
  const pairs = NUMERIC_TYPES.flatMap((a) => NUMERIC_TYPES.map((b) => [a, b] as const));
  const mixedFirst = [...pairs.filter(([a, b]) => a !== b), ...pairs.filter(([a, b]) => a === b)];
  for (const [a, b] of mixedFirst) {
    const result = a === b ? a : 'dyn';
    r.fn(`math.${name}(${a}, ${b}): ${result}`, (x: CelNumber, y: CelNumber) => better(x, y, extreme));
  }
  for (let arity = 3; arity <= MAX_VARIADIC_ARGS; arity++) {
    const params = Array.from({ length: arity }, () => 'dyn').join(', ');
    r.fn(`math.${name}(${params}): dyn`, (...values: unknown[]) => extremeOfList(values, extreme));
    // Like cel-go's macro: a literal that is not a number is a compile-time error.
    r.specializeMethod(name, arity, (literals) => {
      if (literals.some((l) => l !== undefined && !isCelNumber(l))) {
        throw new CelFunctionError(`math.${name}() simple literal arguments must be numeric`);
      }
      return undefined;
    });
  }
}

// ---------------------------------------------------------------------------------------
// rounding, signs and floating-point predicates

/** Go's math.Round: halves round away from zero (JS Math.round rounds them up). */
function roundHalfAwayFromZero(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

function absInt(x: bigint): bigint {
  if (x === INT64_MIN) throw new CelFunctionError('integer overflow', 'numeric_overflow');
  return x < 0n ? -x : x;
}

function signDouble(x: number): number {
  if (Number.isNaN(x)) return x;
  return x > 0 ? 1 : x < 0 ? -1 : 0;
}

// ---------------------------------------------------------------------------------------
// bit operations on 64-bit two's-complement ints and unsigned uints

const uint = (value: bigint): UnsignedInt => new UnsignedInt(BigInt.asUintN(64, value));

function shiftCount(bits: bigint, fn: string): number {
  if (bits < 0n) throw new CelFunctionError(`math.${fn}() negative offset: ${bits}`);
  return bits >= 64n ? 64 : Number(bits);
}

function shiftLeft(value: bigint, bits: bigint, signed: boolean): bigint {
  const count = shiftCount(bits, 'bitShiftLeft');
  if (count >= 64) return 0n;
  const shifted = value << BigInt(count);
  return signed ? BigInt.asIntN(64, shifted) : BigInt.asUintN(64, shifted);
}

/** A logical shift: vacated bits are zero, also for negative ints (cel-go's documented rule). */
function shiftRight(value: bigint, bits: bigint, signed: boolean): bigint {
  const count = shiftCount(bits, 'bitShiftRight');
  if (count >= 64) return 0n;
  const shifted = BigInt.asUintN(64, value) >> BigInt(count);
  return signed ? BigInt.asIntN(64, shifted) : shifted;
}

function registerBitOperations(r: LibraryRegistrar): void {
  const u = (value: UnsignedInt) => value.valueOf();
  r.fn('math.bitAnd(int, int): int', (a: bigint, b: bigint) => a & b);
  r.fn('math.bitAnd(uint, uint): uint', (a: UnsignedInt, b: UnsignedInt) => uint(u(a) & u(b)));
  r.fn('math.bitOr(int, int): int', (a: bigint, b: bigint) => a | b);
  r.fn('math.bitOr(uint, uint): uint', (a: UnsignedInt, b: UnsignedInt) => uint(u(a) | u(b)));
  r.fn('math.bitXor(int, int): int', (a: bigint, b: bigint) => a ^ b);
  r.fn('math.bitXor(uint, uint): uint', (a: UnsignedInt, b: UnsignedInt) => uint(u(a) ^ u(b)));
  r.fn('math.bitNot(int): int', (a: bigint) => ~a);
  r.fn('math.bitNot(uint): uint', (a: UnsignedInt) => uint(UINT64_MAX ^ u(a)));
  r.fn('math.bitShiftLeft(int, int): int', (a: bigint, n: bigint) => shiftLeft(a, n, true));
  r.fn('math.bitShiftLeft(uint, int): uint', (a: UnsignedInt, n: bigint) => uint(shiftLeft(u(a), n, false)));
  r.fn('math.bitShiftRight(int, int): int', (a: bigint, n: bigint) => shiftRight(a, n, true));
  r.fn('math.bitShiftRight(uint, int): uint', (a: UnsignedInt, n: bigint) => uint(shiftRight(u(a), n, false)));
}

export const mathLibrary: CelLibrary = {
  name: 'math',
  register(r) {
    r.namespace('math');
    registerExtreme(r, 'greatest', 'max');
    registerExtreme(r, 'least', 'min');

    r.fn('math.ceil(double): double', (x: number) => Math.ceil(x));
    r.fn('math.floor(double): double', (x: number) => Math.floor(x));
    r.fn('math.round(double): double', roundHalfAwayFromZero);
    r.fn('math.trunc(double): double', (x: number) => Math.trunc(x));

    r.fn('math.isInf(double): bool', (x: number) => x === Infinity || x === -Infinity);
    r.fn('math.isNaN(double): bool', (x: number) => Number.isNaN(x));
    r.fn('math.isFinite(double): bool', (x: number) => Number.isFinite(x));

    r.fn('math.abs(int): int', absInt);
    r.fn('math.abs(uint): uint', (x: UnsignedInt) => x);
    r.fn('math.abs(double): double', (x: number) => Math.abs(x));
    r.fn('math.sign(int): int', (x: bigint) => (x > 0n ? 1n : x < 0n ? -1n : 0n));
    r.fn('math.sign(uint): uint', (x: UnsignedInt) => new UnsignedInt(x.valueOf() === 0n ? 0n : 1n));
    r.fn('math.sign(double): double', signDouble);

    r.fn('math.sqrt(double): double', (x: number) => Math.sqrt(x));
    r.fn('math.sqrt(int): double', (x: bigint) => Math.sqrt(Number(x)));
    r.fn('math.sqrt(uint): double', (x: UnsignedInt) => Math.sqrt(Number(x.valueOf())));

    registerBitOperations(r);
  },
};

/**
 * The math extension. Expected values come from the cel-go docs (ext/README.md, "Math")
 * and the cel-spec conformance file math_ext.textproto.
 */
import { CelError, fromJson } from '../../../src/cel/index.js';
import { celHarness } from '../harness.js';
import { UnsignedInt } from '../../../src/cel/adapter.js';

const { env, run, failure } = celHarness({ object: 'dyn', values: 'list<double>' });
const u = (n: bigint) => new UnsignedInt(n);

describe('math.greatest and math.least', () => {
  it('take one number, a list, or many numbers (README: Math.Greatest, Math.Least)', () => {
    expect(run('math.greatest(1)')).toBe(1n);
    expect(run('math.greatest(1u, 2u)')).toEqual(u(2n));
    expect(run('math.greatest(-42.0, -21.5, -100.0)')).toBe(-21.5);
    expect(run('math.greatest([-42.0, -21.5, -100.0])')).toBe(-21.5);
    expect(run('math.least(1)')).toBe(1n);
    expect(run('math.least(1u, 2u)')).toEqual(u(1n));
    expect(run('math.least(-42.0, -21.5, -100.0)')).toBe(-100.0);
    expect(run('math.least([-42.0, -21.5, -100.0])')).toBe(-100.0);
    expect(run('math.greatest(values)', { values: [1.5, 3.5, 2.5] })).toBe(3.5);
  });

  it('mix int, uint and double and keep the winner type (math_ext.textproto)', () => {
    expect(run('math.greatest(5u, -7)')).toEqual(u(5n));
    expect(run('math.greatest(-3, 3u)')).toEqual(u(3n));
    expect(run('math.greatest(5.4, 10, 3u, -5.0, 9223372036854775807)')).toBe(9223372036854775807n);
    expect(run('math.greatest([5.4, 10u, 3u, -5.0, 3.5])')).toEqual(u(10n));
    expect(run('math.greatest([dyn(5.4), dyn(10.5), dyn(3u), dyn(-5.0), dyn(3.5)])')).toBe(10.5);
    expect(run('math.least(5.4, 10, 3u, -5.0, 9223372036854775807)')).toBe(-5.0);
    expect(run('math.least(-9223372036854775808, 1)')).toBe(-9223372036854775808n);
    expect(run('math.least(1u, 18446744073709551615u)')).toEqual(u(1n));
    expect(run('math.greatest(1.797693e308, 1)')).toBe(1.797693e308);
  });

  it('compare large ints exactly against doubles', () => {
    // 2^53 + 1 is not a double; a float comparison would call these equal.
    expect(run('math.greatest(9007199254740993, 9007199254740992.0)')).toBe(9007199254740993n);
    expect(run('math.least(9007199254740993, 9007199254740992.0)')).toBe(9007199254740992);
  });

  it('keep the first argument on a tie', () => {
    expect(run('math.greatest(1, 1.0)')).toBe(1n);
    expect(run('math.greatest(1.0, 1)')).toBe(1.0);
  });

  it('work on dyn JSON lists', () => {
    const object = fromJson({ scores: [3, 7.5, 2] });
    expect(run('math.greatest(object.scores)', { object })).toBe(7.5);
    expect(run('math.least(object.scores)', { object })).toBe(2n);
  });

  it('reject empty lists, non-numbers and NaN (README; cel-go math.go errors)', () => {
    expect(failure('math.greatest(values)', { values: [] }).summary).toBe('math.@max(list) argument must not be empty');
    expect(failure('math.least(values)', { values: [] }).summary).toBe('math.@min(list) argument must not be empty');
    expect(failure('math.greatest(object)', { object: ['a', 'b'] }).summary).toBe('no such overload: math.@max');
    expect(failure('math.greatest(1.0, 0.0/0.0)').summary).toBe('NaN values cannot be ordered: math.@max');
    expect(() => env.compile("math.greatest('string')")).toThrow(/no matching overload/);
    expect(() => env.compile("math.greatest(1, 'a')")).toThrow(/no matching overload/);
    expect(() => env.compile("math.least(1, 2, 'a')")).toThrow(/math.least\(\) simple literal arguments must be numeric/);
    expect(() => run("math.greatest(dyn('string'))")).toThrow(CelError);
  });
});

describe('rounding', () => {
  it('ceil, floor, round and trunc doubles (README: Math.Ceil .. Math.Trunc)', () => {
    expect(run('math.ceil(1.2)')).toBe(2.0);
    expect(run('math.ceil(-1.2)')).toBe(-1.0);
    expect(run('math.floor(1.2)')).toBe(1.0);
    expect(run('math.floor(-1.2)')).toBe(-2.0);
    expect(run('math.round(1.2)')).toBe(1.0);
    expect(run('math.round(1.5)')).toBe(2.0);
    expect(run('math.round(-1.5)')).toBe(-2.0);
    expect(run('math.round(-1.4)')).toBe(-1.0);
    expect(run('math.trunc(-1.3)')).toBe(-1.0);
    expect(run('math.trunc(1.3)')).toBe(1.0);
    expect(run('math.isNaN(math.round(0.0/0.0))')).toBe(true);
  });

  it('accept only doubles (math_ext.textproto dyn_error)', () => {
    expect(() => env.compile('math.ceil(1)')).toThrow(/no matching overload/);
    expect(() => run('math.floor(dyn(1))')).toThrow(CelError);
  });
});

describe('abs and sign', () => {
  it('abs of int, uint and double (README: Math.Abs)', () => {
    expect(run('math.abs(-1)')).toBe(1n);
    expect(run('math.abs(1)')).toBe(1n);
    expect(run('math.abs(1u)')).toEqual(u(1n));
    expect(run('math.abs(-11.5)')).toBe(11.5);
  });

  it('abs of the smallest int overflows (README: overflow error)', () => {
    expect(failure('math.abs(-9223372036854775808)').summary).toBe('integer overflow');
  });

  it('sign of int, uint and double (README: Math.Sign)', () => {
    expect(run('math.sign(-42)')).toBe(-1n);
    expect(run('math.sign(0)')).toBe(0n);
    expect(run('math.sign(42)')).toBe(1n);
    expect(run('math.sign(100u)')).toEqual(u(1n));
    expect(run('math.sign(0u)')).toEqual(u(0n));
    expect(run('math.sign(-32.0)')).toBe(-1.0);
    expect(run('math.sign(0.0)')).toBe(0.0);
    expect(run('math.isNaN(math.sign(0.0/0.0))')).toBe(true);
  });
});

describe('floating-point predicates and sqrt', () => {
  it('isInf, isNaN, isFinite (README)', () => {
    expect(run('math.isInf(1.0/0.0)')).toBe(true);
    expect(run('math.isInf(1.2)')).toBe(false);
    expect(run('math.isNaN(0.0/0.0)')).toBe(true);
    expect(run('math.isNaN(1.2)')).toBe(false);
    expect(run('math.isFinite(0.0/0.0)')).toBe(false);
    expect(run('math.isFinite(-1.0/0.0)')).toBe(false);
    expect(run('math.isFinite(1.2)')).toBe(true);
    expect(() => env.compile('math.isNaN(true)')).toThrow(/no matching overload/);
  });

  it('sqrt of any number (README: Math.Sqrt)', () => {
    expect(run('math.sqrt(81)')).toBe(9.0);
    expect(run('math.sqrt(4u)')).toBe(2.0);
    expect(run('math.sqrt(985.25)')).toBe(31.388692231439016);
    expect(Number.isNaN(run('math.sqrt(-15)'))).toBe(true);
  });
});

describe('bit operations', () => {
  it('and, or, xor, not (README; math_ext.textproto)', () => {
    expect(run('math.bitAnd(3u, 2u)')).toEqual(u(2n));
    expect(run('math.bitAnd(3, 5)')).toBe(1n);
    expect(run('math.bitAnd(-3, -5)')).toBe(-7n);
    expect(run('math.bitOr(1u, 2u)')).toEqual(u(3n));
    expect(run('math.bitOr(-2, -4)')).toBe(-2n);
    expect(run('math.bitXor(3u, 5u)')).toEqual(u(6n));
    expect(run('math.bitXor(4, -2)')).toBe(-6n);
    expect(run('math.bitNot(1)')).toBe(-2n);
    expect(run('math.bitNot(-1)')).toBe(0n);
    expect(run('math.bitNot(0u)')).toEqual(u(18446744073709551615n));
    expect(run('math.bitNot(1u)')).toEqual(u(18446744073709551614n));
  });

  it('shifts, with 64 or more bits giving 0 and right shifts filling with zeros (README)', () => {
    expect(run('math.bitShiftLeft(1, 2)')).toBe(4n);
    expect(run('math.bitShiftLeft(-1, 2)')).toBe(-4n);
    expect(run('math.bitShiftLeft(1u, 2)')).toEqual(u(4n));
    expect(run('math.bitShiftLeft(1u, 200)')).toEqual(u(0n));
    expect(run('math.bitShiftLeft(-1, 200)')).toBe(0n);
    expect(run('math.bitShiftLeft(1, 63)')).toBe(-9223372036854775808n);
    expect(run('math.bitShiftRight(1024, 2)')).toBe(256n);
    expect(run('math.bitShiftRight(1024u, 64)')).toEqual(u(0n));
    expect(run('math.bitShiftRight(-1024, 3)')).toBe(2305843009213693824n);
    expect(run('math.bitShiftRight(-1024, 64)')).toBe(0n);
  });

  it('reject negative shifts and mixed operand types (math_ext.textproto bad_shift)', () => {
    expect(failure('math.bitShiftLeft(1u, -1)').summary).toBe('math.bitShiftLeft() negative offset: -1');
    expect(failure('math.bitShiftRight(1, -2)').summary).toBe('math.bitShiftRight() negative offset: -2');
    expect(() => env.compile('math.bitAnd(1, 2u)')).toThrow(/no matching overload/);
    expect(() => run("math.bitAnd(2u, dyn(''))")).toThrow(CelError);
  });
});

// Standard-library corrections (src/cel/lib/numbers.ts and the adapter hooks it relies on).
// Expected values are the CEL specification's, cited by conformance file and case:
// - [cmp]  cel-spec tests/simple/testdata/comparisons.textproto
// - [conv] conversions.textproto     - [int] integer_math.textproto
// - [list] lists.textproto           - [mac] macros.textproto
// - [fld]  fields.textproto          - [ts]  timestamps.textproto
// - [opt]  optionals.textproto       - [bas] basic.textproto
// - [lang] cel-spec doc/langdef.md (heterogeneous equality; int64 overflow is an error;
//          durations and timestamps have fixed ranges).
import { CelEnvironment, CelError } from '../../../src/cel/index.js';
import { Duration, UnsignedInt } from '../../../src/cel/adapter.js';

const env = new CelEnvironment({ variables: { x: 'dyn', ts: 'google.protobuf.Timestamp' } });
const run = (expr: string, activation: Record<string, unknown> = {}): unknown => env.compile(expr).evaluate(activation);

function failure(expr: string, activation: Record<string, unknown> = {}): CelError {
  try {
    run(expr, activation);
  } catch (error) {
    expect(error).toBeInstanceOf(CelError);
    return error as CelError;
  }
  throw new Error(`expected ${expr} to fail`);
}

describe('equality and ordering across int, uint and double', () => {
  it.each([
    ['1.0 == 1', true], // [cmp] eq_mixed_types
    ['2u != 2', false], // [cmp] ne_mixed_types
    ['1 == 1u', true],
    ['dyn(1) == 0.0/0.0', false], // [cmp] not_eq_int_double_nan
    ['dyn(1u) != 0.0/0.0', true], // [cmp] not_ne_uint_double_nan
    ['1 < 1.5', true],
    ['dyn(1) < 9223372036854775808u', true], // [cmp] lt_dyn_int_big_uint
    // int against double compares as double, as cel-go does [cmp]:
    ['dyn(9223372036854775807) < 9223372036854775808.0', false], // not_lt_dyn_int_big_lossy_double
    ['dyn(9223372036854775807) < 9223372036854777857.0', true], // lt_dyn_int_big_lossy_double
    ['dyn(-9223372036854775808) <= -9223372036854775809.0', true], // lte_dyn_int_small_lossy_double
    ['dyn(18446744073709553665.0) > 18446744073709551615u', true], // gt_dyn_big_double_uint
  ])('%s is %s', (expr, expected) => {
    expect(run(expr)).toBe(expected);
  });

  it('applies inside list and map equality and membership', () => {
    expect(run('[1.0, 2.0, 3] == [1u, 2, 3u]')).toBe(true); // [cmp] eq_list_mixed_type_numbers
    expect(run('{1: 1.0, 2u: 3u} == {1u: 1, 2: 3.0}')).toBe(true); // [cmp] eq_map_mixed_type_numbers
    expect(run('[1] == [1.0]')).toBe(true); // [cmp] eq_list_elem_mixed_types
    expect(run("['one'] == [2, 3]")).toBe(false); // [cmp] not_eq_list_length
    expect(run('dyn(3u) in [5, 4, 3, 2, 1]')).toBe(true); // [list] uint_in_ints
    expect(run('dyn(3.0) in [5u, 4u, 3u, 2u, 1u]')).toBe(true); // [list] double_in_uints
    expect(run('dyn(2u) in {1: "a", 2: "b"}')).toBe(true);
    expect(run("'a' in {'a': 1}")).toBe(true);
  });

  it('works on values from the activation (dyn)', () => {
    expect(run('x == 1', { x: 1.0 })).toBe(true);
    expect(run('x < 2', { x: new UnsignedInt(1n) })).toBe(true);
    expect(run('x == [1u]', { x: [1n] })).toBe(true);
  });

  it('orders bytes', () => {
    expect(run("b'a' < b'b'")).toBe(true); // [cmp] lt_bytes
    expect(run("b'abc' < b'abc'")).toBe(false); // [cmp] not_lt_bytes_same
    expect(run("b'' >= b' '")).toBe(false); // [cmp] not_gte_bytes_empty_to_nonempty
  });

  it('compares optionals', () => {
    expect(run('optional.none() == optional.none()')).toBe(true); // [opt] optional_eq_none_none
    expect(run('optional.of(1) != optional.none()')).toBe(true); // [opt] optional_ne_int_none
    expect(run('optional.of(1) == optional.of(1)')).toBe(true); // [opt] optional_eq_int_int
  });
});

describe('int64 overflow', () => {
  it.each([
    ['-(-9223372036854775808)'], // [int] int64_min_negate
    ['(-9223372036854775808)/-1'], // [int] int64_min_negate_div
    ['(-9223372036854775808) % -1'],
    ['9223372036854775807 + 1'],
  ])('%s is an error', (expr) => {
    expect(failure(expr).summary).toMatch(/overflow/);
  });

  it('accepts int literals only within int64', () => {
    expect(run('-9223372036854775808')).toBe(-9223372036854775808n); // [bas] self_eval_int_negative_min
    const error = (() => {
      try {
        env.compile('9223372036854775808');
      } catch (e) {
        return e as CelError;
      }
      throw new Error('expected a compile error');
    })();
    expect(error.kind).toBe('syntax');
    expect(error.summary).toMatch(/out of the int64 range/);
  });

  it('keeps division and modulo semantics', () => {
    expect(run('-7 / 2')).toBe(-3n);
    expect(run('43 % (-5)')).toBe(3n); // [int] int64_modulo (positive_negative)
    expect(failure('34 % 0').summary).toMatch(/modulus by zero/); // [int] modulus by zero
    expect(failure('1 / 0').summary).toMatch(/division by zero/);
  });
});

describe('conversions', () => {
  it('range-checks int(double) and uint(double), open at both ends', () => {
    expect(run('int(-123.456)')).toBe(-123n); // [conv] double_round_neg
    expect(run('int(double(36028797018963969))')).toBe(36028797018963968n); // [conv] double_big_precision
    for (const expr of ['int(9223372036854775807.0)', 'int(-9223372036854775808.0)', 'int(1e99)', "int(double('NaN'))"]) {
      expect(failure(expr).summary).toMatch(/out of range/); // [conv] double_int_max_range, double_int_min_range, double_range
    }
    expect(run('uint(1.5)')).toEqual(new UnsignedInt(1n));
    expect(failure('uint(-0.5)').summary).toMatch(/out of range/);
    expect(failure('uint(18446744073709551616.0)').summary).toMatch(/out of range/);
  });

  it('converts uint to int within range', () => {
    expect(run('int(9223372036854775807u)')).toBe(9223372036854775807n); // [conv] uint_max_exact
    expect(failure('int(18446744073709551615u)').summary).toMatch(/out of range/); // [conv] uint_range
  });

  it('rejects invalid UTF-8 in string(bytes)', () => {
    expect(run("string(b'\\303\\277')")).toBe('ÿ');
    expect(failure("string(b'\\000\\xff')").summary).toMatch(/UTF-8/); // [conv] bytes_invalid
  });

  it('converts timestamps and durations', () => {
    expect(run("int(timestamp('2009-02-13T23:31:30Z'))")).toBe(1234567890n); // [ts] toInt_timestamp
    expect(run("string(timestamp('2009-02-13T23:31:30Z'))")).toBe('2009-02-13T23:31:30Z'); // [ts] toString_timestamp
    expect(run("string(timestamp('2009-02-13T23:31:30.5Z'))")).toBe('2009-02-13T23:31:30.5Z');
    expect(run("string(duration('1000000s'))")).toBe('1000000s'); // [ts] toString_duration
    expect(run("string(duration('-1.5s'))")).toBe('-1.5s');
    expect(run("duration(duration('100s')) == duration('100s')")).toBe(true); // [conv] identity duration
    expect(run('timestamp(timestamp(1000000000)) == timestamp(1000000000)')).toBe(true); // [conv] identity timestamp
  });
});

describe('time ranges and getters', () => {
  it.each([
    ["timestamp('0001-01-01T00:00:00Z') + duration('-1s')"], // [ts] add_duration_under
    ["timestamp('9999-12-31T23:59:59Z') + duration('1s')"], // [ts] add_duration_over
    ["timestamp('9999-12-31T23:59:59Z') - timestamp('0001-01-01T00:00:00Z')"], // [ts] sub_time_duration_over
    ["duration('320000000000s')"], // [ts] duration_range from_string_over
    ["duration('-200000000000s') - duration('200000000000s')"], // [ts] duration_range sub_under
  ])('%s is out of range', (expr) => {
    expect(failure(expr).summary).toMatch(/out of range/);
  });

  it('parses Go durations', () => {
    expect(run("duration('1h30m').getMinutes()")).toBe(90n);
    expect(run("duration('-1.5h') == duration('-90m')")).toBe(true);
    expect(run("duration('0') == duration('0s')")).toBe(true);
    expect(failure("duration('1x')").summary).toMatch(/invalid duration/);
    expect(failure("duration('')").summary).toMatch(/invalid duration/);
  });

  it('subtracts timestamps exactly', () => {
    expect(run("timestamp('2009-02-13T23:31:30Z') - timestamp('1970-01-01T00:00:00Z')")).toEqual(new Duration(1234567890n, 0));
  });

  it('reads calendar fields in IANA and fixed-offset time zones', () => {
    const t = "timestamp('2009-02-13T23:31:30Z')";
    expect(run(`${t}.getDate('Australia/Sydney')`)).toBe(14n); // [ts] timestamp_selectors_tz getDate
    expect(run(`${t}.getDayOfMonth('+11:00')`)).toBe(13n); // [ts] getDayOfMonth_numerical_pos
    expect(run("timestamp('2009-02-13T02:00:00Z').getDayOfMonth('-02:30')")).toBe(11n); // [ts] getDayOfMonth_numerical_neg
    expect(run(`${t}.getHours('02:00')`)).toBe(1n); // [ts] getHours
    expect(run(`${t}.getMinutes('Asia/Kathmandu')`)).toBe(16n); // [ts] getMinutes
    expect(run(`${t}.getDayOfYear('US/Central')`)).toBe(43n); // [ts] getDayOfYear
    expect(failure(`${t}.getHours('Not/AZone')`).summary).toMatch(/invalid time zone/);
  });

  it('reads day-of-year in UTC whatever the process time zone', () => {
    expect(run("timestamp('2009-07-13T23:31:30Z').getDayOfYear()")).toBe(193n);
    expect(run('ts.getDayOfWeek()', { ts: new Date('2009-02-13T23:31:30Z') })).toBe(5n);
  });

  it('gives the millisecond part of a duration', () => {
    // [ts] duration_converters get_milliseconds: 123s 321456789ns → 321
    expect(run('x.getMilliseconds()', { x: new Duration(123n, 321456789) })).toBe(321n);
    expect(run("duration('10000s').getHours()")).toBe(2n); // [ts] get_hours
  });
});

describe('evaluator deviations fixed in the adapter', () => {
  it('checks [].all(x, x > 0) on an empty literal', () => {
    expect(run('[].all(e, e > 0)')).toBe(true); // [mac] all list_empty
    expect(run('{}.exists(k, k > 0)')).toBe(false);
  });

  it('keeps map literal keys as CEL values', () => {
    expect(run("{6: 'six', 7: 'seven', 8: 'eight'}.exists_one(foo, foo % 5 == 2)")).toBe(true); // [mac] exists_one map_one
    expect(run("{0u: 1u, 2u: 'happy'}[2u]")).toBe('happy'); // [fld] map_key_uint64
    expect(run('{1u: 1.0, 2: 2.0, 3u: 3.0}[3.0]')).toBe(3); // [fld] map_key_mixed_numbers_double_key
    expect(run('[7, 8, 9][dyn(0u)]')).toBe(7n); // [list] zero_based_uint
    expect(run("{'constructor': 1}.constructor")).toBe(1n);
  });

  it('rejects invalid and repeated map keys', () => {
    expect(failure('{3.3: 15.15, 1.0: 5}[1.0]').summary).toMatch(/unsupported map key type/); // [fld] map_key_float
    expect(failure('{true: 1, false: 2, true: 3}[true]').summary).toMatch(/repeated key/); // [fld] map_value_repeat_key
    expect(failure('{0: 1, 0u: 2}[0.0]').summary).toMatch(/repeated key/); // [fld] map_value_repeat_key_heterogeneous
  });

  it('lets has() test a field of any expression', () => {
    expect(run("has({'a': 1, 'b': 2}.a)")).toBe(true); // [fld] map_has has
    expect(run('has({}.a)')).toBe(false); // [fld] map_has has_empty
    expect(run('has(x.items[0].name)', { x: { items: [{ name: 'n' }] } })).toBe(true);
    expect(run("has({'foo': optional.none()}.foo)")).toBe(true); // [opt] map_optional_has
    expect(run("has({'foo': optional.none()}.foo.bar)")).toBe(false); // [opt] map_optional_select_has
    expect(failure('has(x.a.b)', { x: {} }).summary).toMatch(/No such key: a/);
  });

  it('encodes bytes literals as UTF-8', () => {
    expect(run("b'ÿ' == b'\\303\\277'")).toBe(true); // [cmp] eq_bytes, [bas] self_eval_bytes_escape
    expect(run("b'\\xff'")).toEqual(Uint8Array.from([0xff]));
  });
});

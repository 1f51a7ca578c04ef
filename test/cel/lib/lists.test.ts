/**
 * List functions. Expected values come from Kubernetes' list library (godoc of
 * k8s.io/apiserver/pkg/cel/library Lists, and the "Kubernetes list library" section of
 * "Common Expression Language in Kubernetes") and from cel-go's lists extension
 * (ext/README.md, "Lists"), which Kubernetes 1.34 enables at ListsVersion(3).
 */
import { CelEnvironment, CelError, CostMeter, fromJson } from '../../../src/cel/index.js';
import { Duration, UnsignedInt } from '../../../src/cel/adapter.js';

const env = new CelEnvironment({
  variables: { object: 'dyn', emptyIntList: 'list<int>', emptyDoubleList: 'list<double>', names: 'list<string>' },
});
const run = (expr: string, activation: Record<string, unknown> = {}) => env.compile(expr).evaluate(activation);
const u = (n: bigint) => new UnsignedInt(n);

function failure(expr: string, activation: Record<string, unknown> = {}): CelError {
  try {
    run(expr, activation);
  } catch (error) {
    expect(error).toBeInstanceOf(CelError);
    return error as CelError;
  }
  throw new Error(`expected ${expr} to fail`);
}

describe('isSorted (Kubernetes)', () => {
  it('checks ascending order of comparable elements (godoc examples)', () => {
    expect(run('[1, 2, 3].isSorted()')).toBe(true);
    expect(run("['a', 'b', 'b', 'c'].isSorted()")).toBe(true);
    expect(run('[2.0, 1.0].isSorted()')).toBe(false);
    expect(run('[1].isSorted()')).toBe(true);
    expect(run('[].isSorted()')).toBe(true);
  });

  it('orders every comparable type', () => {
    expect(run('[false, true].isSorted()')).toBe(true);
    expect(run("[b'a', b'ab', b'b'].isSorted()")).toBe(true);
    expect(run("[duration('1s'), duration('1m')].isSorted()")).toBe(true);
    expect(run("[timestamp('2024-01-02T00:00:00Z'), timestamp('2024-01-01T00:00:00Z')].isSorted()")).toBe(false);
    expect(run('[1u, 2u].isSorted()')).toBe(true);
    // Code point order, as Go compares strings: U+1F600 sorts after U+FFFD.
    expect(run("['\\uFFFD', '😀'].isSorted()")).toBe(true);
  });

  it('on names, as in the Kubernetes docs table', () => {
    expect(run('names.isSorted()', { names: ['a', 'b', 'c'] })).toBe(true);
    expect(run('names.isSorted()', { names: ['b', 'a'] })).toBe(false);
  });

  it('rejects incomparable elements at run time', () => {
    expect(failure('[[1], [2]].isSorted()').summary).toMatch(/no such overload/);
    expect(failure('object.isSorted()', { object: fromJson([1, { a: 1 }]) }).summary).toMatch(/no such overload/);
  });

  it('keeps the element type of a mapped dyn list (items.map(x, x.name).max() is a string)', () => {
    const object = fromJson({ items: [{ name: 'b' }, { name: 'c' }, { name: 'a' }] });
    expect(run("object.items.map(x, x.name).max().startsWith('c')", { object })).toBe(true);
    expect(run('object.items.map(x, x.name).sort()[0]', { object })).toBe('a');
    expect(env.compile("['a'].min()").resultType).toBe('string');
  });
});

describe('sum (Kubernetes)', () => {
  it('adds numbers and durations (godoc examples)', () => {
    expect(run('[1, 3].sum()')).toBe(4n);
    expect(run('[1.0, 3.0].sum()')).toBe(4.0);
    expect(run('[1u, 3u].sum()')).toEqual(u(4n));
    expect(run("[duration('1m'), duration('1s')].sum()")).toEqual(new Duration(61n, 0));
    expect(run("[duration('1.5s'), duration('0.75s')].sum()")).toEqual(new Duration(2n, 250_000_000));
  });

  it('returns the zero of the element type for empty lists (godoc: [].sum() returns 0)', () => {
    expect(run('emptyIntList.sum()', { emptyIntList: [] })).toBe(0n);
    expect(run('emptyDoubleList.sum()', { emptyDoubleList: [] })).toBe(0);
    expect(run('[].sum()')).toBe(0n);
    expect(env.compile('emptyDoubleList.sum()').resultType).toBe('double');
  });

  it('sums JSON weights, as in the Kubernetes docs table (items.map(x, x.weight).sum() == 1.0)', () => {
    const object = fromJson({ items: [{ weight: 0.25 }, { weight: 0.75 }] });
    expect(run('object.items.map(x, x.weight).sum() == 1.0', { object })).toBe(true);
  });

  it('overflows like CEL arithmetic (KEP-2876: sum overflow raises the arithmetic error)', () => {
    expect(failure('[9223372036854775807, 1].sum()').summary).toBe('integer overflow');
    expect(failure('[18446744073709551615u, 1u].sum()').summary).toBe('unsigned integer overflow');
  });

  it('rejects mixed element types in dyn lists', () => {
    expect(failure('object.sum()', { object: fromJson([1, 2.5]) }).summary).toMatch(/no such overload/);
    expect(() => env.compile("['a'].sum()")).toThrow(/no matching overload/);
  });
});

describe('min and max (Kubernetes)', () => {
  it('return the extreme element (godoc examples)', () => {
    expect(run('[1, 3].min()')).toBe(1n);
    expect(run('[1, 3].max()')).toBe(3n);
    expect(run('[1].min()')).toBe(1n);
    expect(run('([0] + emptyIntList).min()', { emptyIntList: [] })).toBe(0n);
    expect(run("['b', 'a', 'c'].max()")).toBe('c');
    expect(run("[timestamp('2024-01-02T00:00:00Z'), timestamp('2024-01-01T00:00:00Z')].min()")).toEqual(
      new Date('2024-01-01T00:00:00Z'),
    );
  });

  it('compare across numeric types in dyn lists', () => {
    expect(run('object.max()', { object: fromJson([1, 7.5, 3]) })).toBe(7.5);
  });

  it('fail on an empty list (godoc: [].min() // error)', () => {
    expect(failure('[].min()').summary).toBe('min called on empty list');
    expect(failure('emptyIntList.max()', { emptyIntList: [] }).summary).toBe('max called on empty list');
  });

  it('separate priorities, as in the Kubernetes docs table', () => {
    const object = fromJson({ low: [{ priority: 1 }, { priority: 3 }], high: [{ priority: 5 }, { priority: 4 }] });
    expect(run('object.low.map(x, x.priority).max() < object.high.map(x, x.priority).min()', { object })).toBe(true);
  });
});

describe('indexOf and lastIndexOf (Kubernetes)', () => {
  it('find elements with CEL equality (godoc examples)', () => {
    expect(run('[1, 2, 2, 3].indexOf(2)')).toBe(1n);
    expect(run("['a', 'b', 'b', 'c'].lastIndexOf('b')")).toBe(2n);
    expect(run('[1.0].indexOf(1.1)')).toBe(-1n);
    expect(run("[].indexOf('string')")).toBe(-1n);
    expect(run("names.indexOf('should-be-first') == 1", { names: ['x', 'should-be-first'] })).toBe(true);
  });

  it('compare numbers across types and structures deeply', () => {
    expect(run('object.indexOf(2)', { object: fromJson([1, 2.0]) })).toBe(1n);
    expect(run("[[1], {'a': 1}].lastIndexOf({'a': 1u})")).toBe(1n);
  });

  it('reject an element of another type at compile time', () => {
    expect(() => env.compile("[1, 2].indexOf('a')")).toThrow(/no matching overload/);
  });
});

describe('slice, flatten, reverse, distinct (cel-go lists extension)', () => {
  it('slice (README: Slice)', () => {
    expect(run('[1,2,3,4].slice(1, 3)')).toEqual([2n, 3n]);
    expect(run('[1,2,3,4].slice(2, 4)')).toEqual([3n, 4n]);
    expect(run('[1,2,3,4].slice(0, 0)')).toEqual([]);
    expect(failure('[1,2].slice(-1, 1)').summary).toBe('cannot slice(-1, 1), negative indexes not supported');
    expect(failure('[1,2].slice(2, 1)').summary).toBe('cannot slice(2, 1), start index must be less than or equal to end index');
    expect(failure('[1,2].slice(0, 3)').summary).toBe('cannot slice(0, 3), list is length 2');
  });

  it('flatten (README: Flatten)', () => {
    expect(run('[1,[2,3],[4]].flatten()')).toEqual([1n, 2n, 3n, 4n]);
    expect(run('[1,[2,[3,4]]].flatten()')).toEqual([1n, 2n, [3n, 4n]]);
    expect(run('[1,2,[],[],[3,4]].flatten()')).toEqual([1n, 2n, 3n, 4n]);
    expect(run('[1,[2,[3,[4]]]].flatten(2)')).toEqual([1n, 2n, 3n, [4n]]);
    expect(failure('[1,[2,[3,[4]]]].flatten(-1)').summary).toBe('level must be non-negative');
    expect(env.compile('[[1], [2]].flatten()').resultType).toBe('list<int>');
    expect(run('object.flatten()', { object: fromJson([1, [2, 3]]) })).toEqual([1n, 2n, 3n]);
  });

  it('reverse (README: Reverse)', () => {
    expect(run('[5, 3, 1, 2].reverse()')).toEqual([2n, 1n, 3n, 5n]);
    expect(run('[].reverse()')).toEqual([]);
  });

  it('distinct with CEL equality (README: Distinct)', () => {
    expect(run('[1, 2, 2, 3, 3, 3].distinct()')).toEqual([1n, 2n, 3n]);
    expect(run('["b", "b", "c", "a", "c"].distinct()')).toEqual(['b', 'c', 'a']);
    expect(run('[1, "b", 2, "b"].distinct()')).toEqual([1n, 'b', 2n]);
    expect(run('[1, 1.0, 1u, [1], [1.0]].distinct()')).toEqual([1n, [1n]]);
  });
});

describe('sort and lists.range (cel-go lists extension)', () => {
  it('sort (README: Sort)', () => {
    expect(run('[3, 2, 1].sort()')).toEqual([1n, 2n, 3n]);
    expect(run('["b", "c", "a"].sort()')).toEqual(['a', 'b', 'c']);
    expect(run('[].sort()')).toEqual([]);
    expect(run("[duration('1m'), duration('1s')].sort()")).toEqual([new Duration(1n, 0), new Duration(60n, 0)]);
  });

  it('sort rejects mixed or incomparable elements (README: [1, "b"].sort() // error)', () => {
    expect(failure('[1, "b"].sort()').summary).toBe('list elements must have the same type');
    expect(failure('[1, 2.0].sort()').summary).toBe('list elements must have the same type');
    expect(failure('[[1, 2, 3]].sort()').summary).toBe('list elements must be comparable');
    expect(failure('object.sort()', { object: fromJson([{ a: 1 }]) }).summary).toBe('list elements must be comparable');
  });

  it('lists.range (README: Range)', () => {
    expect(run('lists.range(5)')).toEqual([0n, 1n, 2n, 3n, 4n]);
    expect(run('lists.range(0)')).toEqual([]);
    expect(run('lists.range(-3)')).toEqual([]);
  });
});

describe('cost', () => {
  it('charges list scans by length', () => {
    const names = Array.from({ length: 10_000 }, (_, i) => `n${i}`);
    const meter = new CostMeter();
    env.compile("names.indexOf('missing')").evaluate({ names }, { meter });
    expect(meter.spent).toBeGreaterThanOrEqual(10_000);
  });

  it('refuses a huge range instead of allocating it', () => {
    expect(() => run('lists.range(1000000000000)')).toThrow(/cost budget exceeded/);
  });
});

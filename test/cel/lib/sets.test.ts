/**
 * The sets extension. Expected values come from the cel-go docs (ext/README.md, "Sets"),
 * which Kubernetes enables from 1.29 (Kubernetes docs: "CEL options, language features,
 * and libraries").
 */
import { CelEnvironment, CelError, CostMeter, fromJson } from '../../../src/cel/index.js';

const env = new CelEnvironment({ variables: { object: 'dyn', a: 'list<int>', b: 'list<int>' } });
const run = (expr: string, activation: Record<string, unknown> = {}) => env.compile(expr).evaluate(activation);

describe('sets.contains', () => {
  it('is true when the first list holds every element of the second (README: Sets.Contains)', () => {
    expect(run('sets.contains([], [])')).toBe(true);
    expect(run('sets.contains([], [1])')).toBe(false);
    expect(run('sets.contains([1, 2, 3, 4], [2, 3])')).toBe(true);
    expect(run('sets.contains([1, 2.0, 3u], [1.0, 2u, 3])')).toBe(true);
    expect(run('sets.contains([1, 2], [2, 5])')).toBe(false);
  });

  it('compares nested lists and maps with CEL equality', () => {
    expect(run("sets.contains([[1], {'a': 2u}], [[1.0], {'a': 2}])")).toBe(true);
    expect(run("sets.contains([[1, 2]], [[2, 1]])")).toBe(false);
    expect(run("sets.contains([b'ab', null, true], [null, b'ab'])")).toBe(true);
    expect(run("sets.contains([timestamp('2024-01-01T00:00:00Z')], [timestamp('2024-01-01T00:00:00Z')])")).toBe(true);
  });

  it('never finds NaN, which equals nothing', () => {
    expect(run('sets.contains([0.0/0.0], [0.0/0.0])')).toBe(false);
  });

  it('works on dyn JSON lists of different element types', () => {
    const object = fromJson({ allowed: [1, 2.5, 'x'], requested: [2.5, 'x'] });
    expect(run('sets.contains(object.allowed, object.requested)', { object })).toBe(true);
  });
});

describe('sets.equivalent', () => {
  it('ignores order and duplicates (README: Sets.Equivalent)', () => {
    expect(run('sets.equivalent([], [])')).toBe(true);
    expect(run('sets.equivalent([1], [1, 1])')).toBe(true);
    expect(run('sets.equivalent([1], [1u, 1.0])')).toBe(true);
    expect(run('sets.equivalent([1, 2, 3], [3u, 2.0, 1])')).toBe(true);
    expect(run('sets.equivalent([1, 2], [1])')).toBe(false);
  });
});

describe('sets.intersects', () => {
  it('is true when the lists share an element (README: Sets.Intersects)', () => {
    expect(run('sets.intersects([1], [])')).toBe(false);
    expect(run('sets.intersects([], [1])')).toBe(false);
    expect(run('sets.intersects([1], [1, 2])')).toBe(true);
    expect(run('sets.intersects([[1], [2, 3]], [[1, 2], [2, 3.0]])')).toBe(true);
    expect(run("sets.intersects(['a'], ['b'])")).toBe(false);
  });
});

describe('errors and cost', () => {
  it('rejects arguments that are not lists', () => {
    expect(() => env.compile('sets.contains(1, [1])')).toThrow(/no matching overload/);
    expect(() => run('sets.contains(object, [1])', { object: 'x' })).toThrow(CelError);
  });

  it('charges for the elements it indexes', () => {
    const a = Array.from({ length: 5000 }, (_, i) => BigInt(i));
    const meter = new CostMeter();
    expect(env.compile('sets.contains(a, b)').evaluate({ a, b: a }, { meter })).toBe(true);
    expect(meter.spent).toBeGreaterThanOrEqual(10_000);
  });
});

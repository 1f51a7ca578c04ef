/**
 * Two-variable comprehensions, as cel-go's ext.TwoVarComprehensions documents them (and as
 * Kubernetes' CEL environment offers them since 1.32): index and element over a list, key
 * and value over a map. cel-spec's macros2.textproto (46 cases) passes in the conformance
 * runner; these are the shapes admission policies use, plus errors and the cost budget.
 */
import { CelEnvironment, CelError, fromJson } from '../../src/cel/index.js';

const env = new CelEnvironment({ variables: { object: 'dyn', items: 'list<int>', labels: 'map<string, string>' } });
const object = fromJson({ metadata: { labels: { app: 'web', team: 'payments' } }, spec: { containers: [{ name: 'a', image: 'r/a:1' }, { name: 'b', image: 'r/b:2' }] } });
const run = (text: string, activation: Record<string, unknown> = {}): unknown => env.compile(text).evaluate({ object, items: [1n, 2n, 3n], labels: { app: 'web' }, ...activation });

describe('two-variable comprehensions', () => {
  it.each([
    // cel-go docs: `[1, 2, 3].all(i, j, i < j)` is true; `{'hello': 'world', 'taco': 'taco'}.all(k, v, k != v)` is false.
    ['[1, 2, 3].all(i, j, i < j)', true],
    ["{'hello': 'world', 'taco': 'taco'}.all(k, v, k != v)", false],
    ["object.metadata.labels.all(k, v, k.size() < 64 && v.size() < 64)", true],
    ["object.metadata.labels.exists(k, v, k == 'team' && v == 'payments')", true],
    ['items.exists(i, v, i == 2 && v == 3)', true],
    ['items.existsOne(i, v, v > 2)', true],
    ['items.exists_one(i, v, v > 1)', false],
    ['items.transformList(i, v, i * v)', [0n, 2n, 6n]],
    ['items.transformList(i, v, v > 1, v * 10)', [20n, 30n]],
    ["object.spec.containers.transformMap(i, c, c.name)", new Map([[0n, 'a'], [1n, 'b']])],
    ["object.spec.containers.transformMapEntry(i, c, {c.name: c.image})", { a: 'r/a:1', b: 'r/b:2' }],
    ["labels.transformMap(k, v, v + '-1')", { app: 'web-1' }],
    ["object.metadata.labels.transformMap(k, v, k != 'team', v.upperAscii())", { app: 'WEB' }],
    // As for one-variable `all`: a false iteration decides even after another failed.
    ['[1, 2, 3].all(i, v, 6 / (2 - v) == i)', false],
    ['[].all(i, v, i > -1 || v > 0)', true],
  ])('%s', (text, expected) => {
    expect(run(text)).toEqual(expected);
  });

  it('fails when no iteration decides and one failed, and on a key made twice', () => {
    expect(() => run('[2, 1].all(i, v, 6 / (2 - v) > 0)')).toThrow(/division by zero/);
    expect(() => run("{'a': 1, 'b': 1}.transformMapEntry(k, v, {v: k})")).toThrow('insert failed: key 1 already exists');
  });

  it('rejects malformed calls when compiling', () => {
    expect(() => env.compile('items.all(i, i, true)')).toThrow("the two variables must have different names, got 'i' twice");
    expect(() => env.compile('1.all(i, v, true)')).toThrow("receiver must be a list or a map, got 'int'");
    expect(() => env.compile("items.all(i, v, 'yes')")).toThrow("predicate must be a bool, got 'string'");
    expect(() => env.compile('items.transformMapEntry(i, v, v)')).toThrow("expression must return a map, got 'int'");
  });

  it('charges every iteration to the cost budget', () => {
    const big = Array.from({ length: 3000 }, (_, i) => BigInt(i));
    // 9 million iterations of the inner loop: stopped by the per-expression limit.
    const error = (() => {
      try {
        run('items.all(i, v, items.all(j, w, i + j >= 0))', { items: big });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CelError);
    expect((error as CelError).kind).toBe('cost');
  });
});

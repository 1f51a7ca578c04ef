/**
 * The macros the evaluator lacks: optMap, optFlatMap (with optional.ofNonZeroValue), as
 * cel-spec's optional types define them (cel-spec tests/simple/testdata/optionals.textproto;
 * cel-go's OptionalTypes, which Kubernetes enables), and sortBy from cel-go's lists extension
 * (ext.Lists; Kubernetes 1.34+ enables ListsVersion(3)) — a VAP that uses them must compile and
 * decide as in the cluster.
 */
import { CelError } from '../../src/cel/index.js';
import { Optional } from '../../src/cel/adapter.js';
import { celHarness } from './harness.js';

const { env, run, failure } = celHarness({ object: 'dyn' });

const pod = { metadata: { labels: { team: 'payments' } }, spec: { containers: [{ name: 'app' }] } };

test('optMap binds the value and wraps the result; an empty optional stays empty', () => {
  expect(run("object.metadata.?labels.?team.optMap(t, 'team-' + t).orValue('none')", { object: pod })).toBe('team-payments');
  expect(run("object.metadata.?annotations.?owner.optMap(o, 'owner-' + o).orValue('none')", { object: pod })).toBe('none');
  expect(run('optional.of(2).optMap(x, x * 21).value()')).toBe(42n);
  expect(run('optional.none().optMap(x, x).hasValue()')).toBe(false);
});

test('optFlatMap takes the optional its expression returns', () => {
  expect(run('optional.of(3).optFlatMap(x, x > 2 ? optional.of(x) : optional.none()).value()')).toBe(3n);
  expect(run('optional.of(1).optFlatMap(x, x > 2 ? optional.of(x) : optional.none()).hasValue()')).toBe(false);
  expect(run('optional.none().optFlatMap(x, optional.of(x)).hasValue()')).toBe(false);
});

test('the bound variable is scoped to the macro', () => {
  expect(run('optional.of(1).optMap(object, object + 1).value() + object', { object: 10n })).toBe(12n);
});

test('misuse is a compile error naming the macro', () => {
  expect(() => env.compile('optional.of(1).optFlatMap(x, x)')).toThrow(/optFlatMap\(var, expr\) expression must return an optional, got 'int'/);
  expect(() => env.compile("'a'.optMap(x, x)")).toThrow(/optMap\(var, expr\) receiver must be optional, got 'string'/);
  expect(() => env.compile('optional.of(1).optMap(1, 2)')).toThrow(CelError);
  // At run time a dyn receiver that is not optional fails the evaluation.
  expect(failure('object.optMap(x, x)', { object: 1n }).message).toMatch(/receiver must be optional/);
});

test('optional.ofNonZeroValue is empty for every zero value, and holds anything else', () => {
  for (const zero of ['0', '0u', '0.0', "''", "b''", 'false', 'null', '[]', '{}', "duration('0s')", 'timestamp(0)']) {
    expect([zero, run(`optional.ofNonZeroValue(${zero}).hasValue()`)]).toEqual([zero, false]);
  }
  for (const value of ['1', '1u', '0.5', "'a'", "b'a'", 'true', '[0]', "{'a': 1}", "duration('1s')"]) {
    expect([value, run(`optional.ofNonZeroValue(${value}).hasValue()`)]).toEqual([value, true]);
  }
  expect(run("optional.ofNonZeroValue('x')")).toBeInstanceOf(Optional);
});

test('sortBy orders a list by a key computed per element, keeping equal keys in order', () => {
  const containers = [
    { name: 'b', resources: { requests: { cpu: 2n } } },
    { name: 'a', resources: { requests: { cpu: 1n } } },
    { name: 'c', resources: { requests: { cpu: 1n } } },
  ];
  expect(run('object.sortBy(c, c.resources.requests.cpu).map(c, c.name)', { object: containers })).toEqual(['a', 'c', 'b']);
  expect(run("['bb', 'a', 'ccc'].sortBy(s, -size(s))")).toEqual(['ccc', 'bb', 'a']);
  expect(run('[].sortBy(x, x)')).toEqual([]);
  expect(run("['B', 'a'].sortBy(s, s.matches('(?i)a') ? 0 : 1)")).toEqual(['a', 'B']); // RE2 inside the key, as everywhere
});

test('sortBy keys must be comparable and of one type; the receiver must be a list', () => {
  expect(failure("[1, 'a'].sortBy(x, x)").message).toMatch(/list elements must have the same type/);
  expect(failure('[[1], [2]].sortBy(x, x)').message).toMatch(/list elements must be comparable/);
  expect(() => env.compile('1.sortBy(x, x)')).toThrow(/sortBy\(var, key\) receiver must be a list, got 'int'/);
});

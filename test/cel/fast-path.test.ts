/**
 * The fast path (src/cel/fast-path.ts) must give the evaluator's exact values, costs and
 * errors. Every expression here runs three ways: fast path on, off, and in the differential
 * mode (both run; any difference in value or cost throws).
 */
import { CelEnvironment, CelError, CostMeter, fromJson } from '../../src/cel/index.js';
import { fastPathCounters, sameCelValue } from '../../src/cel/fast-path.js';
import { LAZY_FIELDS, NO_FIELD } from '../../src/cel/lazy-fields.js';

const VARIABLES = { object: 'dyn', variables: 'dyn', names: 'list<string>', n: 'int' };

/** A fresh environment per mode: compile() reads the switches, and programs are cached per environment. */
function environment(mode: 'on' | 'off' | 'check'): CelEnvironment {
  const saved = { fast: process.env.CELGATE_CEL_FASTPATH, check: process.env.CELGATE_CEL_FASTPATH_CHECK };
  process.env.CELGATE_CEL_FASTPATH = mode === 'off' ? '0' : '1';
  process.env.CELGATE_CEL_FASTPATH_CHECK = mode === 'check' ? '1' : '0';
  try {
    // Limits differ per mode only to keep the environments' caches apart.
    return new CelEnvironment({ variables: VARIABLES, limits: { maxAstNodes: mode === 'on' ? 10_000 : mode === 'off' ? 10_001 : 10_002 } });
  } finally {
    process.env.CELGATE_CEL_FASTPATH = saved.fast;
    process.env.CELGATE_CEL_FASTPATH_CHECK = saved.check;
  }
}

const withFast = environment('on');
const withoutFast = environment('off');
const differential = environment('check');

const pod = fromJson({
  kind: 'Pod',
  metadata: { name: 'web', labels: { app: 'web', team: 'a' } },
  spec: {
    containers: [
      { name: 'app', image: 'registry.example/app:1.2', resources: { limits: { memory: '1Gi' } } },
      { name: 'sidecar', image: 'proxy:latest' },
    ],
    replicas: 3,
    ratio: 0.5,
  },
});

/** A `variables` object like the admission engine's: lazily computed getters. */
function lazyVariables(): Record<string, unknown> {
  const values = { required: ['app', 'team', 'tier'] as unknown[] };
  const out = {};
  Object.defineProperty(out, 'required', { enumerable: true, get: () => values.required });
  return out;
}

/** Runs `compile` with CELGATE_CEL_FASTPATH_CHECK off (compile() reads it). */
function withoutCheck<T>(compile: () => T): T {
  const saved = process.env.CELGATE_CEL_FASTPATH_CHECK;
  process.env.CELGATE_CEL_FASTPATH_CHECK = '0';
  try {
    return compile();
  } finally {
    process.env.CELGATE_CEL_FASTPATH_CHECK = saved;
  }
}

type Outcome = { value: unknown; cost: number } | { error: string };

function outcome(env: CelEnvironment, text: string, activation: Record<string, unknown>, costLimit?: number): Outcome {
  const meter = new CostMeter();
  try {
    const value = env.compile(text).evaluate(activation, { meter, ...(costLimit === undefined ? {} : { costLimit }) });
    return { value, cost: meter.spent };
  } catch (error) {
    expect(error).toBeInstanceOf(CelError);
    return { error: (error as CelError).message };
  }
}

function expectSameEverywhere(text: string, activation: Record<string, unknown>, costLimit?: number): Outcome {
  const reference = outcome(withoutFast, text, activation, costLimit);
  for (const env of [withFast, differential]) {
    const got = outcome(env, text, activation, costLimit);
    if ('error' in reference) {
      expect(got).toEqual(reference);
    } else {
      expect('value' in got && sameCelValue(got.value, reference.value)).toBe(true);
      expect(got).toEqual(reference);
    }
  }
  return reference;
}

const activation = () => ({ object: pod, variables: lazyVariables(), names: ['a', 'b'], n: 7n });

// Shapes the admission policies use; each must take the fast path and give the evaluator's value.
const SUPPORTED: readonly [string, unknown][] = [
  ["object.kind == 'Pod'", true],
  ["object.kind != 'Pod'", false],
  ['object.spec.replicas + 1', 4n],
  ['object.spec.ratio * 2.0', 1],
  ['object.spec.replicas > 2 && object.spec.ratio < 1.0', true],
  ['object.spec.replicas > 5 || size(object.spec.containers) == 2', true],
  ["object.metadata.?labels.orValue({})", fromJson({ app: 'web', team: 'a' })],
  ["object.metadata.?annotations.orValue({}).size()", 0n],
  ["object.metadata.?annotations.hasValue()", false],
  ["has(object.metadata.labels) && !has(object.metadata.annotations)", true],
  ["'team' in object.metadata.labels", true],
  ["'b' in names", true],
  ["object.spec.containers.all(c, c.image.contains(':'))", true],
  ["object.spec.containers.exists(c, c.image.endsWith(':latest'))", true],
  ["object.spec.containers.exists_one(c, c.name.startsWith('s'))", true],
  ["object.spec.containers.map(c, c.name)", ['app', 'sidecar']],
  ["object.spec.containers.map(c, c.name.startsWith('a'), c.image)", ['registry.example/app:1.2']],
  ["object.spec.containers.filter(c, !has(c.resources)).map(c, 'container ' + c.name)", ['container sidecar']],
  ["variables.required.filter(l, !(l in object.metadata.?labels.orValue({})))", ['tier']],
  ["object.spec.containers.map(c, cel.bind(last, c.image.split('/'), last[size(last) - 1])).join(', ')", 'app:1.2, proxy:latest'],
  ["object.kind == 'Pod' ? object.spec : object.spec.template.spec", pod && (pod as { spec: unknown }).spec],
  ["[object.metadata.name, 'x'] + ['y']", ['web', 'x', 'y']],
  ['size(object.metadata.name) == 3 && n == 7', true],
  ["object.metadata.labels.all(k, k in ['app', 'team'])", true],
  ['[1, 2, 3].map(x, [x, x * 2].filter(y, y > 2)).size()', 3n],
  // Operators and functions computed directly on primitives (cel-js' built-ins).
  ["object.metadata.name < 'x' && object.metadata.name >= 'web' && !(object.kind <= 'Deployment')", true],
  ['object.spec.replicas > 2 && object.spec.replicas <= 3 && object.spec.ratio >= 0.5 && object.spec.ratio != 0.25', true],
  ["dyn(0.0 / 0.0) == dyn(0.0 / 0.0) || dyn(0.0 / 0.0) < 1.0", false],
  ["object.metadata.name + '-' + object.kind", 'web-Pod'],
  ['object.spec.replicas + object.spec.replicas + -9223372036854775807', -9223372036854775801n],
  ['object.spec.ratio + object.spec.ratio', 1],
  ["size(object.metadata.name) + size(dyn('hé😀')) + object.metadata.name.size()", 9n],
  ['size(object.metadata.labels) + object.metadata.labels.size() + object.spec.containers.size()', 6n],
  ["object.spec.containers.filter(c, c.image.startsWith('registry.') || c.name.endsWith('car')).size()", 2n],
  ["!object.metadata.name.contains('e') || !(object.kind == 'Pod')", false],
  ['object.spec.replicas == 3.0 || object.spec.replicas < 2.5', true],
  ["object.spec.replicas == object.metadata.name || 1 == 1", true],
];

describe('fast path values', () => {
  it.each(SUPPORTED)('%s', (text, expected) => {
    const compiledBefore = fastPathCounters.compiled;
    withFast.compile(text);
    expect(fastPathCounters.compiled).toBe(compiledBefore + 1);
    const returnedBefore = fastPathCounters.returned;
    const result = expectSameEverywhere(text, activation());
    // The fast path itself produced the value (not a bail-out to the evaluator).
    expect(fastPathCounters.returned).toBeGreaterThan(returnedBefore);
    expect('value' in result && sameCelValue(result.value, expected)).toBe(true);
  });
});

describe('fast path bail-outs keep the evaluator errors and values', () => {
  it.each([
    ['object.metadata.missing', 'No such key: missing'],
    ["object.kind + 1", 'no such overload'],
    ['1 / 0', 'division by zero'],
    ["object.spec.containers.all(c, c.missing == 'x')", 'No such key: missing'],
    ['object.spec.replicas + 9223372036854775807', 'overflow'],
    ['object.kind ? 1 : 2', 'Ternary condition must be bool'],
  ])('%s', (text, message) => {
    const result = expectSameEverywhere(text, activation());
    expect('error' in result && result.error).toContain(message);
  });

  it('absorbs errors in && and || as the evaluator does (via the bail-out)', () => {
    const result = expectSameEverywhere("object.metadata.missing == 'x' || object.kind == 'Pod'", activation());
    expect(result).toMatchObject({ value: true });
    expect(expectSameEverywhere("object.spec.containers.exists(c, c.missing == 'x' || c.name == 'app')", activation())).toMatchObject({ value: true });
  });

  it('reports the cost budget in a big nested all exactly as the evaluator', () => {
    const object = fromJson({ items: Array.from({ length: 300 }, (_, i) => i) });
    const text = 'object.items.all(x, object.items.all(y, x + y >= 0))';
    const result = expectSameEverywhere(text, { object, variables: {}, names: [], n: 0n }, 20_000);
    expect('error' in result && result.error).toContain('cost budget exceeded');
    // Under the limit both produce the value with the same cost.
    const small = fromJson({ items: Array.from({ length: 20 }, (_, i) => i) });
    expect(expectSameEverywhere(text, { object: small, variables: {}, names: [], n: 0n })).toMatchObject({ value: true });
  });

  it('gives no fast path to unsupported shapes, which still evaluate', () => {
    const before = fastPathCounters.unsupported;
    withFast.compile("{'a': object.kind}");
    expect(fastPathCounters.unsupported).toBe(before + 1);
    expect(expectSameEverywhere("{'a': object.kind}", activation())).toEqual(outcome(withoutFast, "{'a': object.kind}", activation()));
  });
});

describe('activation variables with a LAZY_FIELDS reader', () => {
  /**
   * An activation whose `variables` has getters (for the evaluator) and a reader under
   * LAZY_FIELDS (for the fast path); both log the names they compute.
   */
  function lazyActivation(entries: Record<string, () => unknown>, log: string[]): Record<string, unknown> {
    const variables: Record<string, unknown> = {};
    const compute = (name: string): unknown => (log.push(name), entries[name]!());
    for (const name of Object.keys(entries)) Object.defineProperty(variables, name, { enumerable: true, get: () => compute(name) });
    const read = (name: string) => (Object.hasOwn(entries, name) ? compute(name) : NO_FIELD);
    return { ...activation(), variables, [LAZY_FIELDS]: { variables: read } };
  }
  const entries = {
    required: () => ['app', 'team'],
    count: () => 2n,
    failing: () => {
      throw new CelError('evaluation', 'variable failing: boom');
    },
    nothing: () => undefined,
  };

  it.each([
    ["variables.required.all(l, l in object.metadata.labels) && variables.count == 2", true, ['required', 'count']],
    ['variables.required.map(r, variables.count)', [2n, 2n], ['required', 'count', 'count']],
  ])('%s reads each entry once per selection', (text, expected, reads) => {
    const log: string[] = [];
    const before = fastPathCounters.returned;
    // Compiled without the differential mode (which also runs the evaluator) even when the suite runs with it.
    const value = withoutCheck(() => withFast.compile(text)).evaluate(lazyActivation(entries, log));
    expect(fastPathCounters.returned).toBe(before + 1);
    expect(sameCelValue(value, expected)).toBe(true);
    expect(log).toEqual(reads);
    expect(expectSameEverywhere(text, lazyActivation(entries, []))).toEqual(outcome(withoutFast, text, lazyActivation(entries, [])));
  });

  it('reads a loop variable of the same name as an ordinary value, not through the reader', () => {
    const text = 'object.spec.containers.map(variables, variables.name)';
    const log: string[] = [];
    const before = fastPathCounters.returned;
    const value = withoutCheck(() => withFast.compile(text)).evaluate({ ...lazyActivation(entries, log), object: pod });
    expect(fastPathCounters.returned).toBe(before + 1);
    expect(value).toEqual(['app', 'sidecar']);
    expect(log).toEqual([]);
  });

  it.each([
    ['variables.missing', 'No such key: missing'],
    ['variables.failing', 'variable failing: boom'],
    ['variables.nothing', 'No such key: nothing'],
  ])('%s fails as in the evaluator', (text, message) => {
    const result = expectSameEverywhere(text, lazyActivation(entries, []));
    expect('error' in result && result.error).toContain(message);
  });
});

describe('sameCelValue', () => {
  it('tells int from double and compares lists, maps and optionals deeply', () => {
    expect(sameCelValue(1n, 1)).toBe(false);
    expect(sameCelValue([1n, 'a'], [1n, 'a'])).toBe(true);
    expect(sameCelValue(new Map([['a', 1n]]), new Map([['a', 1]]))).toBe(false);
    expect(sameCelValue({ a: [1n] }, { a: [1n] })).toBe(true);
    expect(sameCelValue({ a: 1n }, new Map([['a', 1n]]))).toBe(false);
  });
});

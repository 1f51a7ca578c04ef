/**
 * Admission's `variables` object comes with a reader its activation offers the CEL fast
 * path under LAZY_FIELDS (src/cel/lazy-fields.ts), so `variables.NAME` costs one call
 * instead of three Proxy traps. The reader must answer what the Proxy answers, with one
 * `variable()` per read.
 */
import { CelEnvironment, CelError, CostMeter } from '../../../src/cel/index.js';
import { fastPathCounters } from '../../../src/cel/fast-path.js';
import { LAZY_FIELDS, NO_FIELD } from '../../../src/cel/lazy-fields.js';
import { layoutOf, type VariableOwner } from '../../../src/engine/admission/variables.js';
import type { NamedExpression } from '../../../src/engine/admission/policies.js';

const definitions: NamedExpression[] = ['labels', 'broken'].map((name) => ({
  name,
  expression: { text: `'${name}'`, field: `spec.variables[${name}]`, file: 'policy.yaml', line: 1 },
}));

/** An owner like the admission Evaluation: values by index, a failing variable throws its CelError. */
function owner(calls: number[]): VariableOwner {
  return {
    variable(index) {
      calls.push(index);
      if (index === 1) throw new CelError('evaluation', 'variable broken failed');
      return { app: 'web' };
    },
  };
}

describe('admission variables LAZY_FIELDS reader', () => {
  it('reads a defined variable through owner.variable once, and NO_FIELD for other names', () => {
    const calls: number[] = [];
    const { values, read } = layoutOf(definitions).valuesFor(owner(calls));
    expect(read('labels')).toEqual({ app: 'web' });
    expect(calls).toEqual([0]);
    expect(read('missing')).toBe(NO_FIELD);
    expect(() => read('broken')).toThrow('variable broken failed');
    expect(calls).toEqual([0, 1]);
    expect(Object.keys(values)).toEqual(['labels', 'broken']);
  });

  it('gives CEL the same values and errors with the fast path taken', () => {
    const env = new CelEnvironment({ variables: { variables: 'dyn' } });
    // Compiled without the differential mode (which also runs the evaluator) even when the suite runs with it.
    const saved = process.env.CELGATE_CEL_FASTPATH_CHECK;
    process.env.CELGATE_CEL_FASTPATH_CHECK = '0';
    const program = env.compile("variables.labels.app == 'web'");
    process.env.CELGATE_CEL_FASTPATH_CHECK = saved;
    const calls: number[] = [];
    const { values, read } = layoutOf(definitions).valuesFor(owner(calls));
    const activation = { variables: values, [LAZY_FIELDS]: { variables: read } };
    const returned = fastPathCounters.returned;
    expect(program.evaluate(activation, { meter: new CostMeter() })).toBe(true);
    expect(fastPathCounters.returned).toBe(returned + 1);
    expect(calls).toEqual([0]);
    // Unknown names and failing variables: the evaluator's errors (via a bail-out).
    expect(() => env.compile('variables.missing').evaluate(activation)).toThrow('No such key: missing');
    expect(() => env.compile('variables.broken').evaluate(activation)).toThrow('variable broken failed');
  });
});

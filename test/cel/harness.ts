/** Shared by the CEL library tests: evaluate through a real CelEnvironment, or expect a CelError. */
import { CelEnvironment, CelError } from '../../src/cel/index.js';

type Activation = Record<string, unknown>;

export function celHarness(variables: Record<string, string>) {
  const env = new CelEnvironment({ variables });
  const run = (expr: string, activation: Activation = {}) => env.compile(expr).evaluate(activation);
  const failure = (expr: string, activation: Activation = {}): CelError => {
    try {
      run(expr, activation);
    } catch (error) {
      expect(error).toBeInstanceOf(CelError);
      return error as CelError;
    }
    throw new Error(`expected ${expr} to fail`);
  };
  return { env, run, failure };
}

/**
 * The cost budget. Compile-time limits reject expressions whose shape alone is too
 * large; at run time a meter charges every comprehension iteration (weighted by the
 * size of the loop body) and every size-proportional library call, and stops the
 * evaluation with "cost budget exceeded" once the budget is spent.
 *
 * The units follow Kubernetes' intent: roughly one unit per AST node visited, so the
 * Kubernetes numbers can be used as they are.
 */

export interface CompileLimits {
  /** Longest accepted expression text, in UTF-16 code units. */
  readonly maxExpressionLength: number;
  readonly maxAstNodes: number;
  /** Deepest nesting of the parse tree. */
  readonly maxDepth: number;
  readonly maxListElements: number;
  readonly maxMapEntries: number;
  readonly maxCallArguments: number;
}

export const DEFAULT_COMPILE_LIMITS: CompileLimits = Object.freeze({
  maxExpressionLength: 100_000,
  maxAstNodes: 10_000,
  maxDepth: 100,
  maxListElements: 1_000,
  maxMapEntries: 1_000,
  maxCallArguments: 32,
});

/** Kubernetes' runtime limit for one expression (apiserver `PerCallLimit`). */
export const PER_EXPRESSION_COST_LIMIT = 1_000_000;
/** Kubernetes' runtime budget for all expressions of one admission evaluation. */
export const PER_EVALUATION_COST_BUDGET = 10_000_000;

/**
 * A budget shared by every evaluation that is handed the same meter, so one policy
 * evaluation can spend at most `PER_EVALUATION_COST_BUDGET` across its expressions.
 */
export class CostMeter {
  spent = 0;
  constructor(readonly budget: number = PER_EVALUATION_COST_BUDGET) {}
  get remaining(): number {
    return this.budget - this.spent;
  }
}

/**
 * The meter of the evaluation that is running. Evaluation is synchronous, so one
 * module-level record suffices; `Program.evaluate` saves and restores it around a run.
 */
export const activeMeter = { spent: 0, limit: Number.POSITIVE_INFINITY };

/**
 * One preallocated signal, thrown again and again once the budget is spent: the
 * evaluator may catch and retry per element (as `exists` does), so every later charge
 * must fail fast and cheaply. `Program.evaluate` reports the real error at the end.
 */
export const COST_EXCEEDED: Error = Object.freeze(Object.assign(new Error('cost budget exceeded'), { stack: '' })) as Error;

/** Charges `units` to the running evaluation; throws once the budget is spent. */
export function charge(units: number): void {
  if ((activeMeter.spent += units) > activeMeter.limit) throw COST_EXCEEDED;
}

/** Throws if the running evaluation has already spent its budget. */
export function assertBudgetLeft(): void {
  if (activeMeter.spent > activeMeter.limit) throw COST_EXCEEDED;
}

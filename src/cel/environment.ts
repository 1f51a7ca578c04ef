/**
 * `CelEnvironment`: declared variables plus every library, compiling expression text
 * into immutable `Program`s. Compile once per policy load, evaluate many times.
 */
import { EvaluatorBase, costExceeded, toCelError, type CheckedProgram, type EvaluatorScope } from './adapter.js';
import { CelError, type ExpressionOrigin } from './errors.js';
import {
  DEFAULT_COMPILE_LIMITS,
  PER_EXPRESSION_COST_LIMIT,
  activeMeter,
  type CompileLimits,
  type CostMeter,
} from './cost.js';
import { STANDARD_LIBRARIES } from './lib/index.js';
import type { CelLibrary } from './library.js';
import type { CelValue } from './values.js';

export interface EnvironmentOptions {
  /** Variable name → CEL type (`dyn`, `map`, `string`, `list<string>`, ...). */
  readonly variables: Readonly<Record<string, string>>;
  readonly limits?: Partial<CompileLimits>;
  /** Defaults to every library Kubernetes' CEL environment offers. */
  readonly libraries?: readonly CelLibrary[];
}

export interface EvaluateOptions {
  /** Shared budget across the expressions of one decision (Kubernetes: 10,000,000). */
  readonly meter?: CostMeter;
  /** Limit for this one expression (Kubernetes: 1,000,000). */
  readonly costLimit?: number;
}

const MAX_CACHED_PROGRAMS = 20_000;
const bases = new Map<string, EvaluatorBase>();

function baseFor(libraries: readonly CelLibrary[], limits: CompileLimits): EvaluatorBase {
  const key = `${libraries.map((l) => l.name).join(',')}|${JSON.stringify(limits)}`;
  let base = bases.get(key);
  if (!base) {
    base = new EvaluatorBase(libraries, limits);
    bases.set(key, base);
  }
  return base;
}

export class CelEnvironment {
  readonly #scope: EvaluatorScope;
  readonly #cache = new Map<string, CheckedProgram>();
  readonly limits: CompileLimits;
  readonly variables: Readonly<Record<string, string>>;

  constructor(options: EnvironmentOptions) {
    this.limits = { ...DEFAULT_COMPILE_LIMITS, ...options.limits };
    this.variables = { ...options.variables };
    this.#scope = baseFor(options.libraries ?? STANDARD_LIBRARIES, this.limits).withVariables(this.variables);
  }

  /** Compiles (or reuses) `text`; throws CelError positioned within the text and origin. */
  compile(text: string, origin?: ExpressionOrigin): Program {
    let checked = this.#cache.get(text);
    if (!checked) {
      try {
        checked = this.#compileUncached(text);
      } catch (error) {
        const cel = toCelError(error, text, 'syntax');
        throw origin ? cel.withOrigin(origin) : cel;
      }
      if (this.#cache.size >= MAX_CACHED_PROGRAMS) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(text, checked);
    }
    return new Program(text, checked, origin);
  }

  /** Like compile, but returns the error instead of throwing it. */
  tryCompile(text: string, origin?: ExpressionOrigin): { program: Program; error?: undefined } | { program?: undefined; error: CelError } {
    try {
      return { program: this.compile(text, origin) };
    } catch (error) {
      return { error: error as CelError };
    }
  }

  #compileUncached(text: string): CheckedProgram {
    if (text.length > this.limits.maxExpressionLength) {
      throw new CelError(
        'limit',
        `expression is ${text.length} characters long; the limit is ${this.limits.maxExpressionLength}`,
      );
    }
    if (text.trim() === '') throw new CelError('syntax', 'expression is empty');
    return this.#scope.compile(text);
  }
}

export class Program {
  readonly #run: CheckedProgram['run'];
  readonly resultType: string;

  constructor(
    readonly text: string,
    checked: CheckedProgram,
    readonly origin?: ExpressionOrigin,
  ) {
    this.#run = checked.run;
    this.resultType = checked.resultType;
  }

  /**
   * Evaluates against an activation (variable name → CEL value; see values.ts for
   * turning JSON into CEL values). Throws CelError; never blocks past the cost budget.
   */
  evaluate(activation: Readonly<Record<string, unknown>>, options?: EvaluateOptions): CelValue {
    const meter = options?.meter;
    const savedSpent = activeMeter.spent;
    const savedLimit = activeMeter.limit;
    const limit = options?.costLimit ?? PER_EXPRESSION_COST_LIMIT;
    activeMeter.spent = 0;
    activeMeter.limit = meter ? Math.min(limit, meter.remaining) : limit;
    try {
      const value = this.#run(activation as Record<string, unknown>);
      if (activeMeter.spent > activeMeter.limit) throw costExceeded();
      return value;
    } catch (error) {
      const overBudget = activeMeter.spent > activeMeter.limit;
      const cel = overBudget ? costExceeded() : toCelError(error, this.text);
      throw this.origin ? cel.withOrigin(this.origin) : cel;
    } finally {
      if (meter) meter.spent += activeMeter.spent;
      activeMeter.spent = savedSpent;
      activeMeter.limit = savedLimit;
    }
  }
}

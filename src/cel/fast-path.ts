/**
 * A fast path for evaluating checked, instrumented cel-js syntax trees (see adapter.ts):
 * the tree of one expression is compiled once into a JS function (fast-path-codegen.ts)
 * that runs without the evaluator's per-node dispatch and scope objects.
 *
 * Exactness comes from two rules:
 * - Operators, functions, methods and field selections call the node's own `handle` with
 *   the arguments the evaluator would pass (the evaluator instance is captured once per
 *   environment), so library overrides, replaced methods and their cost charges are the
 *   evaluator's own code. What the generated code does itself (scoping, comprehension
 *   loops with their metering, `&&`, `||`, `?:`, literals, `has()`, `orValue`, `cel.bind`,
 *   and operators on primitive operands no library overrides) mirrors the evaluator and
 *   adapter.ts step by step.
 * - Whenever the code is not sure it would produce what the evaluator produces (an error
 *   of any kind, an operand of the wrong kind), it throws and the caller re-runs the
 *   evaluator from the same cost meter state. CEL is pure, so the re-run gives the
 *   evaluator's exact value or error. The fast path never reports an error itself.
 *
 * A node outside the supported subset (map literals with entries, macros other than the
 * ones above, ...) means no fast path for the whole expression.
 */
import { Optional, type Environment } from '@marcbachmann/cel-js';
import { isDeepStrictEqual } from 'node:util';
import { activeMeter } from './cost.js';
import type { AstNode } from './adapter.js';
import { BAIL, Unsupported, generateFastProgram, type CompileHooks, type Evaluator, type FastProgram } from './fast-path-codegen.js';

export { BAIL, type FastProgram };

/** Counters for tests and benchmarks: whether the fast path is compiled and actually runs. */
export const fastPathCounters = { compiled: 0, unsupported: 0, returned: 0, bailed: 0, lastUnsupported: '' };

export interface FastPathOptions extends CompileHooks {
  /** The evaluator instance of the environment the tree was checked in (see evaluatorOf). */
  readonly evaluator: unknown;
}

/** The compiled program of `root`, or undefined when some node is outside the supported subset. */
export function compileFastPath(root: AstNode, options: FastPathOptions): FastProgram | undefined {
  try {
    const program = generateFastProgram(root, options.evaluator as Evaluator, options);
    fastPathCounters.compiled++;
    return program;
  } catch (error) {
    if (!(error instanceof Unsupported)) throw error;
    fastPathCounters.unsupported++;
    fastPathCounters.lastUnsupported = error.message;
    return undefined;
  }
}
// ---------------------------------------------------------------------------------------
// The evaluator instance, captured once per environment

const evaluators = new WeakMap<Environment, unknown>();

/**
 * The evaluator instance an environment passes to node handles. cel-js keeps it private;
 * evaluating a probe whose root node records its first argument reveals it.
 */
export function evaluatorOf(env: Environment): unknown {
  let ev = evaluators.get(env);
  if (ev === undefined) {
    const probe = env.parse('true');
    (probe.ast as unknown as { evaluate: (e: unknown) => boolean }).evaluate = (e) => {
      ev = e;
      return true;
    };
    probe();
    if (ev === undefined) throw new Error('CEL fast path: the evaluator instance could not be captured');
    evaluators.set(env, ev);
  }
  return ev;
}

// ---------------------------------------------------------------------------------------
// Running: fast path first, the evaluator on any bail-out

export function fastPathEnabled(): boolean {
  return process.env.CELGATE_CEL_FASTPATH !== '0';
}

/**
 * The program to run: the closures, and on any exception the evaluator from the same meter
 * state. With CELGATE_CEL_FASTPATH_CHECK=1 both run and must agree (value and cost).
 */
export function withFastPath(fast: FastProgram, interpreter: FastProgram, text: string): FastProgram {
  if (process.env.CELGATE_CEL_FASTPATH_CHECK === '1') return differential(fast, interpreter, text);
  return (activation) => {
    const spent = activeMeter.spent;
    try {
      const value = fast(activation);
      fastPathCounters.returned++;
      return value;
    } catch {
      fastPathCounters.bailed++;
      activeMeter.spent = spent;
      return interpreter(activation);
    }
  };
}

function differential(fast: FastProgram, interpreter: FastProgram, text: string): FastProgram {
  return (activation) => {
    const spent = activeMeter.spent;
    let fastValue: unknown;
    let fastCost = 0;
    let bailed = false;
    try {
      fastValue = fast(activation);
      fastCost = activeMeter.spent - spent;
      fastPathCounters.returned++;
    } catch {
      bailed = true;
      fastPathCounters.bailed++;
    }
    activeMeter.spent = spent;
    let value: unknown;
    try {
      value = interpreter(activation);
    } catch (error) {
      if (!bailed) throw new Error(`CEL fast path returned a value where the evaluator failed (${String((error as Error)?.message ?? error)}): ${text}`);
      throw error;
    }
    if (bailed) return value;
    const cost = activeMeter.spent - spent;
    if (!sameCelValue(fastValue, value)) throw new Error(`CEL fast path value differs from the evaluator's: ${text}`);
    if (fastCost !== cost) throw new Error(`CEL fast path cost ${fastCost} differs from the evaluator's ${cost}: ${text}`);
    return value;
  };
}

/** Deep equality of CEL values that tells int (bigint) from double (number) and looks into optionals. */
export function sameCelValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Optional) {
    const o = b as Optional;
    return a.hasValue() === o.hasValue() && (!a.hasValue() || sameCelValue(a.value(), o.value()));
  }
  if (Array.isArray(a)) {
    const l = b as unknown[];
    return a.length === l.length && a.every((x, i) => sameCelValue(x, l[i]));
  }
  if (a instanceof Map) {
    const m = b as Map<unknown, unknown>;
    if (a.size !== m.size) return false;
    for (const [key, value] of a) if (!m.has(key) || !sameCelValue(value, m.get(key))) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(a);
  if (proto === Object.prototype || proto === null) {
    const keys = Object.keys(a);
    const other = b as Record<string, unknown>;
    if (keys.length !== Object.keys(other).length) return false;
    return keys.every((key) => Object.hasOwn(other, key) && sameCelValue((a as Record<string, unknown>)[key], other[key]));
  }
  // Library values (Uint8Array, Date, Duration, UnsignedInt, Quantity, ...): structure and text.
  return isDeepStrictEqual(a, b) && String(a) === String(b);
}

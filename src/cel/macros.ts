/**
 * Macros the evaluator lacks, from libraries Kubernetes enables in cel-go: `optMap` and
 * `optFlatMap` (optional types, with the non-macro `optional.ofNonZeroValue` that belongs beside
 * them) and `sortBy` (the lists extension). Part of the evaluator adapter (adapter.ts): it speaks
 * the evaluator's macro interface, which the library registrar (library.ts) does not offer.
 *
 * - `opt.optMap(x, expr)`: `optional.none()` when `opt` is empty, else `optional.of(expr)`
 *   with `x` bound to the value.
 * - `opt.optFlatMap(x, expr)`: the same, but `expr` must itself return an optional.
 * - `optional.ofNonZeroValue(v)`: `optional.none()` when `v` is its type's zero value (0, 0u,
 *   0.0, '', b'', false, null, an empty list or map, a zero duration, the epoch), else
 *   `optional.of(v)`.
 * - `list.sortBy(x, key)`: the list ordered by `key` evaluated with `x` bound to each element
 *   (a stable sort; keys comparable and of one type, as for `sort()`).
 */
import { EvaluationError, Optional, type Environment } from '@marcbachmann/cel-js';
import { Duration, UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { sortByKeys } from './lib/lists.js';
import { registerTwoVariableComprehensions } from './two-variable-comprehensions.js';

/** What the evaluator hands a macro and calls on it (the subset used here). */
export interface Node {
  readonly op: string;
  readonly args: unknown;
  readonly maybeAsync?: boolean;
  setMeta(key: string, value: unknown): Node;
}

export interface Type {
  readonly kind: string;
  readonly keyType?: Type;
  readonly valueType?: Type;
  toString(): string;
}

export interface Checker {
  check(node: Node, ctx: Scope): Type;
  getType(name: string): Type;
  createError(code: string, message: string, node: Node): Error;
}

export interface Scope {
  forkWithVariable(name: string, type: Type): Scope;
  reuse(ctx: Scope): Scope;
  setIterValue(value: unknown, ev: Runner): Scope;
}

export interface Runner {
  run(node: Node, ctx: Scope): unknown;
}

interface BindingMacro {
  readonly ast: Node;
  readonly receiver: Node;
  readonly variable: string;
  readonly body: Node;
  scope: Scope | undefined;
  typeCheck(checker: Checker, macro: BindingMacro, ctx: Scope): Type;
  evaluate(ev: Runner, macro: BindingMacro, ctx: Scope): unknown;
}

export function registerMacros(env: Environment): void {
  registerTwoVariableComprehensions(env);
  env.registerFunction('optional.optMap(ast, ast): optional<dyn>', optionalMapMacro('optMap', false) as never);
  env.registerFunction('optional.optFlatMap(ast, ast): optional<dyn>', optionalMapMacro('optFlatMap', true) as never);
  env.registerFunction('list.sortBy(ast, ast): list<dyn>', sortByMacro as never);
  env.registerFunction('OptionalNamespace.ofNonZeroValue(A): optional<A>', ((_: unknown, value: unknown) => (isZeroValue(value) ? Optional.none() : Optional.of(value))) as never);
}

export interface MacroCall {
  readonly ast: Node;
  readonly args: readonly Node[];
  readonly receiver: Node;
}

/** `receiver.name(var, body)`: a macro binding `var` while `body` runs. */
function bindingMacro(description: string, call: MacroCall, typeCheck: BindingMacro['typeCheck'], evaluate: BindingMacro['evaluate']): BindingMacro {
  const variable = call.args[0]!;
  if (variable.op !== 'id') throw new EvaluationError(`${description}: the first argument must be a variable name`, variable as never);
  return { ast: call.ast, receiver: call.receiver, variable: variable.args as string, body: call.args[1]!, scope: undefined, typeCheck, evaluate };
}

function optionalMapMacro(name: string, flat: boolean) {
  const description = `optional.${name}(var, expr)`;
  return (call: MacroCall): BindingMacro => bindingMacro(description, call, typeCheck, evaluate);

  function typeCheck(checker: Checker, macro: BindingMacro, ctx: Scope): Type {
    const receiverType = checker.check(macro.receiver, ctx);
    if (receiverType.kind !== 'optional' && receiverType.kind !== 'dyn') {
      throw checker.createError('optional_expected', `${description} receiver must be optional, got '${receiverType}'`, macro.receiver);
    }
    macro.scope = ctx.forkWithVariable(macro.variable, receiverType.valueType ?? checker.getType('dyn'));
    const bodyType = checker.check(macro.body, macro.scope);
    if (!(macro.receiver.maybeAsync || macro.body.maybeAsync)) macro.ast.setMeta('async', false);
    if (flat) {
      if (bodyType.kind === 'optional') return bodyType;
      if (bodyType.kind === 'dyn') return checker.getType('optional<dyn>');
      throw checker.createError('optional_expected', `${description} expression must return an optional, got '${bodyType}'`, macro.body);
    }
    try {
      return checker.getType(`optional<${bodyType}>`);
    } catch {
      return checker.getType('optional<dyn>');
    }
  }

  function evaluate(ev: Runner, macro: BindingMacro, ctx: Scope): unknown {
    const optional = ev.run(macro.receiver, ctx);
    if (!(optional instanceof Optional)) throw new EvaluationError(`${description} receiver must be optional`, macro.receiver as never);
    if (!optional.hasValue()) return Optional.none();
    const result = ev.run(macro.body, macro.scope!.reuse(ctx).setIterValue(optional.value(), ev));
    if (!flat) return Optional.of(result);
    if (!(result instanceof Optional)) throw new EvaluationError(`${description} expression must return an optional`, macro.body as never);
    return result;
  }
}

const SORT_BY = 'list.sortBy(var, key)';

function sortByMacro(call: MacroCall): BindingMacro {
  return bindingMacro(SORT_BY, call, typeCheckSortBy, evaluateSortBy);
}

function typeCheckSortBy(checker: Checker, macro: BindingMacro, ctx: Scope): Type {
  const listType = checker.check(macro.receiver, ctx);
  if (listType.kind !== 'list' && listType.kind !== 'dyn') {
    throw checker.createError('invalid_argument', `${SORT_BY} receiver must be a list, got '${listType}'`, macro.receiver);
  }
  macro.scope = ctx.forkWithVariable(macro.variable, listType.valueType ?? checker.getType('dyn'));
  checker.check(macro.body, macro.scope);
  if (!(macro.receiver.maybeAsync || macro.body.maybeAsync)) macro.ast.setMeta('async', false);
  return listType.kind === 'list' ? listType : checker.getType('list<dyn>');
}

function evaluateSortBy(ev: Runner, macro: BindingMacro, ctx: Scope): unknown {
  const list = ev.run(macro.receiver, ctx);
  if (!Array.isArray(list)) throw new EvaluationError(`${SORT_BY} receiver must be a list`, macro.receiver as never);
  const scope = macro.scope!.reuse(ctx);
  const keys = list.map((element) => ev.run(macro.body, scope.setIterValue(element, ev)));
  try {
    return sortByKeys(list, keys);
  } catch (error) {
    throw new EvaluationError(`${SORT_BY}: ${(error as Error).message}`, macro.body as never);
  }
}

function isZeroValue(value: unknown): boolean {
  if (value === null || value === false || value === '' || value === 0 || value === 0n) return true;
  if (Array.isArray(value) || value instanceof Uint8Array) return value.length === 0;
  if (value instanceof Map) return value.size === 0;
  if (value instanceof UnsignedInt) return value.valueOf() === 0n;
  if (value instanceof Duration) return value.seconds === 0n && value.nanos === 0;
  if (value instanceof Date) return value.getTime() === 0;
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) return Object.keys(value).length === 0;
  return false;
}

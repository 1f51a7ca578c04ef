/**
 * Two-variable comprehensions (cel-go's ext.TwoVarComprehensions, part of Kubernetes' CEL
 * environment since 1.32): over a list the variables are the index and the element, over a
 * map the key and the value.
 *
 * - `all(i, v, pred)`, `exists(i, v, pred)`: as their one-variable forms, including how
 *   errors combine (a false, resp. true, iteration decides even after another failed);
 * - `existsOne(i, v, pred)` (also `exists_one`): exactly one iteration holds; errors fail;
 * - `transformList(i, v, [filter,] expr)`: the list of `expr`;
 * - `transformMap(k, v, [filter,] expr)`: a map from each key (index) to `expr`;
 * - `transformMapEntry(k, v, [filter,] expr)`: `expr` is a map whose entries are merged
 *   into the result; a key made twice is an error.
 *
 * Every iteration is charged the size of what it evaluates, as one-variable loops are
 * (adapter.ts' meterComprehension).
 */
import { EvaluationError, type Environment } from '@marcbachmann/cel-js';
import { collectNodes } from './adapter.js';
import type { AstNode } from './adapter.js';
import { assertBudgetLeft, charge } from './cost.js';
import type { Checker, MacroCall, Node, Runner, Scope, Type } from './macros.js';
import { celMap } from './values.js';

type Kind = 'all' | 'exists' | 'existsOne' | 'transformList' | 'transformMap' | 'transformMapEntry';

interface TwoVariableMacro {
  readonly kind: Kind;
  readonly description: string;
  readonly ast: Node;
  readonly receiver: Node;
  readonly first: string;
  readonly second: string;
  readonly filter: Node | undefined;
  readonly body: Node;
  /** Meter units per iteration: the nodes of the filter and body. */
  readonly stepCost: number;
  /** The scope declaring `first`, and inside it the one declaring `second` (set by typeCheck). */
  firstScope: Scope | undefined;
  secondScope: Scope | undefined;
  typeCheck(checker: Checker, macro: TwoVariableMacro, ctx: Scope): Type;
  evaluate(ev: Runner, macro: TwoVariableMacro, ctx: Scope): unknown;
}

const MACROS: readonly (readonly [name: string, kind: Kind, arities: readonly number[]])[] = [
  ['all', 'all', [3]],
  ['exists', 'exists', [3]],
  ['existsOne', 'existsOne', [3]],
  ['exists_one', 'existsOne', [3]],
  ['transformList', 'transformList', [3, 4]],
  ['transformMap', 'transformMap', [3, 4]],
  ['transformMapEntry', 'transformMapEntry', [3, 4]],
];

const RESULT_TYPES: Readonly<Record<Kind, string>> = {
  all: 'bool',
  exists: 'bool',
  existsOne: 'bool',
  transformList: 'list<dyn>',
  transformMap: 'map<dyn, dyn>',
  transformMapEntry: 'map<dyn, dyn>',
};

export function registerTwoVariableComprehensions(env: Environment): void {
  for (const [name, kind, arities] of MACROS) {
    for (const arity of arities) {
      const params = Array.from({ length: arity }, () => 'ast').join(', ');
      // Registered on list; the macro itself accepts maps and dyn (macros are found by name and arity).
      env.registerFunction(`list.${name}(${params}): ${RESULT_TYPES[kind]}`, ((call: MacroCall) => expand(name, kind, call)) as never);
    }
  }
}

function expand(name: string, kind: Kind, call: MacroCall): TwoVariableMacro {
  const description = `${name}(${call.args.length === 4 ? 'k, v, filter, expr' : kind.startsWith('transform') ? 'k, v, expr' : 'k, v, predicate'})`;
  const [firstNode, secondNode] = call.args as [Node, Node];
  for (const variable of [firstNode, secondNode]) {
    if (variable.op !== 'id') throw new EvaluationError(`${description}: the variables must be simple names`, variable as never);
  }
  const first = firstNode.args as string;
  const second = secondNode.args as string;
  if (first === second) throw new EvaluationError(`${description}: the two variables must have different names, got '${first}' twice`, secondNode as never);
  const filter = call.args.length === 4 ? call.args[2] : undefined;
  const body = call.args[call.args.length - 1]!;
  const stepCost = collectNodes(body as unknown as AstNode).length + (filter ? collectNodes(filter as unknown as AstNode).length : 0);
  return { kind, description, ast: call.ast, receiver: call.receiver, first, second, filter, body, stepCost, firstScope: undefined, secondScope: undefined, typeCheck, evaluate };
}

// ---------------------------------------------------------------------------------------
// Type checking

function typeCheck(checker: Checker, macro: TwoVariableMacro, ctx: Scope): Type {
  const receiverType = checker.check(macro.receiver, ctx);
  const dyn = checker.getType('dyn');
  // An element type still open (the element of `[]`) can hold anything.
  const known = (type: Type | undefined): Type => (type && type.kind !== 'param' ? type : dyn);
  let firstType: Type;
  let secondType: Type;
  if (receiverType.kind === 'list') [firstType, secondType] = [checker.getType('int'), known(receiverType.valueType)];
  else if (receiverType.kind === 'map') [firstType, secondType] = [known(receiverType.keyType), known(receiverType.valueType)];
  else if (receiverType.kind === 'dyn') [firstType, secondType] = [dyn, dyn];
  else throw checker.createError('invalid_argument', `${macro.description} receiver must be a list or a map, got '${receiverType}'`, macro.receiver);
  macro.firstScope = ctx.forkWithVariable(macro.first, firstType);
  macro.secondScope = macro.firstScope.forkWithVariable(macro.second, secondType);
  if (macro.filter) expectBool(checker, macro, macro.filter, 'filter');
  const bodyType = checker.check(macro.body, macro.secondScope);
  if (!(macro.receiver.maybeAsync || macro.body.maybeAsync || macro.filter?.maybeAsync)) macro.ast.setMeta('async', false);
  switch (macro.kind) {
    case 'all':
    case 'exists':
    case 'existsOne':
      if (!isBool(bodyType)) {
        throw checker.createError('invalid_argument', `${macro.description} predicate must be a bool, got '${bodyType}'`, macro.body);
      }
      return checker.getType('bool');
    case 'transformList':
      return typeOr(checker, `list<${bodyType}>`, 'list<dyn>');
    case 'transformMap':
      return typeOr(checker, `map<${firstType}, ${bodyType}>`, 'map<dyn, dyn>');
    case 'transformMapEntry':
      if (bodyType.kind === 'map') return bodyType;
      if (bodyType.kind === 'dyn') return checker.getType('map<dyn, dyn>');
      throw checker.createError('invalid_argument', `${macro.description} expression must return a map, got '${bodyType}'`, macro.body);
  }
}

function expectBool(checker: Checker, macro: TwoVariableMacro, node: Node, what: string): void {
  const type = checker.check(node, macro.secondScope!);
  if (!isBool(type)) throw checker.createError('invalid_argument', `${macro.description} ${what} must be a bool, got '${type}'`, node);
}

/** bool, or dyn (checked when it runs). */
function isBool(type: Type): boolean {
  return type.kind === 'dyn' || String(type) === 'bool';
}

function typeOr(checker: Checker, name: string, fallback: string): Type {
  try {
    return checker.getType(name);
  } catch {
    return checker.getType(fallback);
  }
}

// ---------------------------------------------------------------------------------------
// Evaluation

function evaluate(ev: Runner, macro: TwoVariableMacro, ctx: Scope): unknown {
  const receiver = ev.run(macro.receiver, ctx);
  const pairs = pairsOf(receiver, macro);
  assertBudgetLeft();
  const firstScope = macro.firstScope!.reuse(ctx);
  const scope = macro.secondScope!.reuse(firstScope);
  /** Runs `node` for one pair (charging the iteration once, on its first node). */
  const runFor = (first: unknown, second: unknown): Scope => {
    charge(macro.stepCost);
    firstScope.setIterValue(first, ev);
    return scope.setIterValue(second, ev);
  };
  switch (macro.kind) {
    case 'all':
    case 'exists':
      return quantify(ev, macro, pairs, runFor, macro.kind === 'exists');
    case 'existsOne': {
      let count = 0;
      for (const [first, second] of pairs) if (predicate(ev, macro, macro.body, runFor(first, second))) count++;
      return count === 1;
    }
    case 'transformList': {
      const out: unknown[] = [];
      for (const [first, second] of pairs) {
        const at = runFor(first, second);
        if (!macro.filter || predicate(ev, macro, macro.filter, at)) out.push(ev.run(macro.body, at));
      }
      return out;
    }
    case 'transformMap': {
      const entries: [unknown, unknown][] = [];
      for (const [first, second] of pairs) {
        const at = runFor(first, second);
        if (!macro.filter || predicate(ev, macro, macro.filter, at)) entries.push([first, ev.run(macro.body, at)]);
      }
      return celMap(entries);
    }
    case 'transformMapEntry': {
      const entries = new Map<unknown, unknown>();
      for (const [first, second] of pairs) {
        const at = runFor(first, second);
        if (macro.filter && !predicate(ev, macro, macro.filter, at)) continue;
        for (const [key, value] of mapEntries(ev.run(macro.body, at), macro)) {
          if (entries.has(key)) throw new EvaluationError(`insert failed: key ${String(key)} already exists`, macro.body as never);
          entries.set(key, value);
        }
      }
      return celMap([...entries]);
    }
  }
}

/**
 * `all` and `exists` as CEL's logical operators combine: an iteration that decides (false
 * for all, true for exists) wins over errors in others; otherwise the first error fails.
 */
function quantify(ev: Runner, macro: TwoVariableMacro, pairs: Iterable<[unknown, unknown]>, runFor: (a: unknown, b: unknown) => Scope, decisive: boolean): boolean {
  let failure: unknown;
  let failed = false;
  for (const [first, second] of pairs) {
    let value: unknown;
    try {
      value = ev.run(macro.body, runFor(first, second));
    } catch (error) {
      if (!failed) [failure, failed] = [error, true];
      continue;
    }
    if (value === decisive) return decisive;
    if (typeof value !== 'boolean' && !failed) {
      [failure, failed] = [new EvaluationError(`${macro.description} predicate must be a bool`, macro.body as never), true];
    }
  }
  if (failed) throw failure;
  return !decisive;
}

function predicate(ev: Runner, macro: TwoVariableMacro, node: Node, scope: Scope): boolean {
  const value = ev.run(node, scope);
  if (typeof value !== 'boolean') throw new EvaluationError(`${macro.description} ${node === macro.filter ? 'filter' : 'predicate'} must be a bool`, node as never);
  return value;
}

/** Index and element of a list, key and value of a map (a plain object or a Map). */
function pairsOf(receiver: unknown, macro: TwoVariableMacro): [unknown, unknown][] {
  if (Array.isArray(receiver)) return receiver.map((element, index) => [BigInt(index), element]);
  if (receiver instanceof Set) return [...receiver].map((element, index) => [BigInt(index), element]);
  return mapEntries(receiver, macro, macro.receiver);
}

function mapEntries(value: unknown, macro: TwoVariableMacro, node: Node = macro.body): [unknown, unknown][] {
  if (value instanceof Map) return [...value];
  if (typeof value === 'object' && value !== null && (value.constructor === Object || value.constructor === undefined)) return Object.entries(value);
  throw new EvaluationError(`${macro.description} ${node === macro.receiver ? 'receiver must be a list or a map' : 'expression must return a map'}`, node as never);
}

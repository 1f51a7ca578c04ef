/**
 * A fast path for evaluating checked, instrumented cel-js syntax trees (see adapter.ts):
 * the tree of one expression is compiled once into plain JS closures that run without the
 * evaluator's per-node dispatch and scope objects.
 *
 * Exactness comes from two rules:
 * - Operators, functions, methods and field selections call the node's own `handle` with
 *   the arguments the evaluator would pass (the evaluator instance is captured once per
 *   environment), so library overrides, replaced methods and their cost charges are the
 *   evaluator's own code. What the closures implement themselves (scoping, comprehension
 *   loops with their metering, `&&`, `||`, `?:`, literals, `has()`, `orValue`, `cel.bind`)
 *   mirrors the evaluator and adapter.ts step by step.
 * - Whenever a closure is not sure it would produce what the evaluator produces (an error
 *   of any kind, an operand of the wrong kind), it throws and the caller re-runs the
 *   evaluator from the same cost meter state. CEL is pure, so the re-run gives the
 *   evaluator's exact value or error. The fast path never reports an error itself.
 *
 * A node outside the supported subset (map literals with entries, macros other than the
 * ones above, ...) means no fast path for the whole expression.
 */
import { Optional, type Environment } from '@marcbachmann/cel-js';
import { isDeepStrictEqual } from 'node:util';
import { activeMeter, assertBudgetLeft, charge } from './cost.js';
import type { AstNode } from './adapter.js';
import { NO_FIELD, lazyFieldsOf, type LazyFieldReader } from './lazy-fields.js';

/** Thrown by the closures when only the evaluator can tell the outcome. Preallocated: bails are frequent. */
export const BAIL: Error = Object.freeze(Object.assign(new Error('CEL fast path bail-out'), { stack: '' })) as Error;

export type FastProgram = (activation: Record<string, unknown>) => unknown;

/** Counters for tests and benchmarks: whether the fast path is compiled and actually runs. */
export const fastPathCounters = { compiled: 0, unsupported: 0, returned: 0, bailed: 0, lastUnsupported: '' };

/** The evaluator instance cel-js passes to every handle; opaque here. */
type Evaluator = {
  debugType(value: unknown): { fieldLazy(value: unknown, field: string, node: unknown, ev: Evaluator): unknown };
  /** The run-time type of a list or map by its first element, recursively (reads that entry). */
  debugTypeDeep(value: unknown): unknown;
};

/** A checked type as cel-js keeps it; `matchesValueType` is how it tests a run-time value. */
interface TypeDecl {
  readonly kind: string;
  matchesValueType(value: unknown, ev: Evaluator): boolean;
}

type Handle = (...args: unknown[]) => unknown;
type Closure = (activation: Record<string, unknown>) => unknown;

export interface FastPathOptions {
  /** The evaluator instance of the environment the tree was checked in (see evaluatorOf). */
  readonly evaluator: unknown;
  /** The cost of one comprehension iteration, as adapter.ts' meterComprehension charges it. */
  readonly stepCost: (step: AstNode) => number;
  /**
   * Whether a library implementation replaces the evaluator's for this operator (`==`,
   * `!_`) or function (`size()`) and these operand kinds (adapter.ts' OverrideTable).
   */
  readonly overridden: (key: string, kinds: readonly string[]) => boolean;
  /** Whether a library replaced or specialised method `name` of `arity` arguments. */
  readonly methodHooked: (name: string, arity: number) => boolean;
}

/** Thrown while compiling: the node is outside the supported subset. */
class Unsupported extends Error {}

const unsupported = (node: AstNode, why: string): never => {
  throw new Unsupported(`${node.op}: ${why}`);
};

/** The closures of `root`, or undefined when some node is outside the supported subset. */
export function compileFastPath(root: AstNode, options: FastPathOptions): FastProgram | undefined {
  try {
    const closure = new Compiler(options.evaluator as Evaluator, options.stepCost, options).compile(root, ROOT_SCOPE);
    fastPathCounters.compiled++;
    return closure;
  } catch (error) {
    if (!(error instanceof Unsupported)) throw error;
    fastPathCounters.unsupported++;
    fastPathCounters.lastUnsupported = error.message;
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------
// Scopes: comprehension and cel.bind variables, resolved lexically at compile time

/**
 * The value of a loop or bind variable, and a loop's accumulator. One cell per node, reused
 * across runs as the evaluator reuses its scope objects: CEL cannot recurse, so a node is
 * never running twice at once.
 */
interface Cell {
  value: unknown;
  accu: unknown;
}

interface Scope {
  readonly name: string;
  readonly cell: Cell;
  readonly parent: Scope | undefined;
  /** The innermost comprehension: what `accuValue` and friends refer to. */
  readonly loop: Cell | undefined;
}

const ROOT_SCOPE: Scope | undefined = undefined;

function lookup(scope: Scope | undefined, name: string): Cell | undefined {
  for (let s = scope; s; s = s.parent) if (s.name === name) return s.cell;
  return undefined;
}

// ---------------------------------------------------------------------------------------
// The compiler

interface ComprehensionArgs {
  readonly iterable: AstNode;
  readonly iterVarName: string;
  readonly init: AstNode;
  readonly step: AstNode;
  readonly errorsAreFatal: boolean;
  readonly condition?: (accu: unknown) => boolean;
  readonly result: (accu: unknown) => unknown;
  readonly iterCtx: { readonly iterType: TypeDecl };
}

interface OptionalMacro {
  readonly functionDesc: string;
  readonly receiver: AstNode;
  readonly arg: AstNode;
}

interface BindMacro {
  readonly var: string;
  readonly val: AstNode;
  readonly exp: AstNode;
  readonly bindCtx: { readonly iterType: TypeDecl };
}

interface HasMacro {
  readonly macroHasProps: readonly AstNode[];
  readonly evaluate: { readonly name: string };
}

/** Methods that ask the outside world (the authorizer's `check` calls the decider). */
const IMPURE_METHODS = new Set(['check']);

const BINARY = new Set(['==', '!=', '<', '<=', '>', '>=', 'in', '+', '-', '*', '/', '%', '[]', '[?]']);

class Compiler {
  constructor(
    private readonly ev: Evaluator,
    private readonly stepCost: (step: AstNode) => number,
    private readonly hooks: Pick<FastPathOptions, 'overridden' | 'methodHooked'>,
  ) {}

  /** The primitive kinds for which the evaluator's own implementation of `key` runs (no library override). */
  private builtInKinds(key: string, arity: 1 | 2): ReadonlySet<PrimitiveKind> {
    const overridden = this.hooks.overridden;
    return new Set(PRIMITIVE_KINDS.filter((kind) => !overridden(key, arity === 1 ? [kind] : [kind, kind])));
  }

  compile(node: AstNode, scope: Scope | undefined): Closure {
    const meta = node.meta;
    // Macro expansions (all, map, ...) and constants (`cel`, `optional`) run their alternate.
    if (meta.alternate) return this.compile(meta.alternate, scope);
    if (meta.macro) return this.macro(node, meta.macro as unknown, scope);
    switch (node.op) {
      case 'value':
        return this.literal(node);
      case 'id':
        return this.identifier(node, scope);
      case '.':
      case '.?':
        return this.select(node, scope);
      case '!_':
      case '-_':
        return this.unary(node, scope);
      case '&&':
      case '||':
        return this.logical(node, scope);
      case '?:':
        return this.conditional(node, scope);
      case 'list':
        return this.list(node, scope);
      case 'map':
        // Map literals with entries build keys as adapter.ts' checkMapKeys does; not mirrored.
        if ((node.args as unknown[]).length > 0) unsupported(node, 'map literal with entries');
        return () => ({});
      case 'call':
        return this.call(node, scope);
      case 'rcall':
        return this.methodCall(node, scope);
      case 'comprehension':
        return this.comprehension(node, scope);
      case 'accuValue':
      case 'accuInc':
      case 'accuPush':
        return this.accumulator(node, scope);
      default:
        if (BINARY.has(node.op)) return this.binary(node, scope);
        return unsupported(node, 'operator not supported');
    }
  }

  private handleOf(node: AstNode): Handle {
    const handle = node.handle;
    if (typeof handle !== 'function') unsupported(node, 'no handle');
    // A node whose evaluate was replaced (map literals, loop steps) is handled by its caller.
    if (Object.hasOwn(node, 'evaluate') && node.evaluate !== node.meta.evaluate) unsupported(node, 'instrumented evaluate');
    return handle as Handle;
  }

  private literal(node: AstNode): Closure {
    const value = node.args;
    return () => value;
  }

  /**
   * Loop and bind variables by lexical scope; else the activation's entry, which must fit
   * the declared type (the evaluator converts or fails otherwise: bail).
   */
  private identifier(node: AstNode, scope: Scope | undefined): Closure {
    const name = node.args as string;
    const cell = lookup(scope, name);
    if (cell) return () => cell.value;
    const type = node.checkedType as unknown as TypeDecl | undefined;
    if (!type) return unsupported(node, 'unchecked identifier');
    const ev = this.ev;
    if (type.kind === 'dyn') {
      return (activation) => {
        if (typeof activation !== 'object' || activation === null || activation instanceof Map) throw BAIL;
        const value = activation[name];
        if (value === undefined) throw BAIL;
        return value;
      };
    }
    return (activation) => {
      if (typeof activation !== 'object' || activation === null || activation instanceof Map) throw BAIL;
      const value = activation[name];
      if (value === undefined || !type.matchesValueType(value, ev)) throw BAIL;
      return value;
    };
  }

  /** `a.f` and `a.?f`: the evaluator's handle receives the field name, not an evaluated operand. */
  private select(node: AstNode, scope: Scope | undefined): Closure {
    const [operandNode, field] = node.args as [AstNode, string];
    const operand = this.compile(operandNode, scope);
    const handle = this.handleOf(node);
    const ev = this.ev;
    // cel-js' `fieldAccess` serves a `dyn` operand; for a plain object holding a plain value
    // its answer is the entry itself. A lookup per node (a constant key) is faster than the
    // evaluator's one shared lookup; everything else goes through the handle.
    if (node.op === '.' && handle.name === 'fieldAccess') {
      return (activation) => {
        const left = operand(activation) as Record<string, unknown> | null;
        if (typeof left !== 'object' || left === null) return handle(left, field, node, ev);
        // Asked first: on admission's `variables` (a Proxy) `constructor` is already a trap.
        const lazy = lazyFieldsOf(left);
        if (lazy !== undefined) return lazyField(lazy, left, field, node, handle, ev);
        if (left.constructor === Object && Object.hasOwn(left, field)) {
          const value = left[field];
          if (isPlainValue(value)) return value;
        }
        return handle(left, field, node, ev);
      };
    }
    return (activation) => handle(operand(activation), field, node, ev);
  }

  private binary(node: AstNode, scope: Scope | undefined): Closure {
    const [leftNode, rightNode] = node.args as [AstNode, AstNode];
    const left = this.compile(leftNode, scope);
    const right = this.compile(rightNode, scope);
    const handle = this.handleOf(node);
    const ev = this.ev;
    const direct = directBinary(node.op, this.builtInKinds(node.op, 2));
    if (direct) {
      return (activation) => {
        const l = left(activation);
        const r = right(activation);
        const value = direct(l, r);
        return value === NOT_DIRECT ? handle(l, r, node, ev) : value;
      };
    }
    return (activation) => {
      const l = left(activation);
      return handle(l, right(activation), node, ev);
    };
  }

  private unary(node: AstNode, scope: Scope | undefined): Closure {
    const operand = this.compile(node.args as AstNode, scope);
    const handle = this.handleOf(node);
    const ev = this.ev;
    // `!` on a bool is the evaluator's `!a` unless a library re-declared it.
    if (node.op === '!_' && this.builtInKinds('!_', 1).has('bool')) {
      return (activation) => {
        const value = operand(activation);
        return typeof value === 'boolean' ? !value : handle(value, node, ev);
      };
    }
    return (activation) => handle(operand(activation), node, ev);
  }

  /**
   * `&&` and `||` with boolean operands. The evaluator absorbs an error on one side when the
   * other side decides; any such case bails, so only the plain short-circuit remains.
   */
  private logical(node: AstNode, scope: Scope | undefined): Closure {
    const [leftNode, rightNode] = node.args as [AstNode, AstNode];
    const left = this.compile(leftNode, scope);
    const right = this.compile(rightNode, scope);
    const decisive = node.op === '||';
    return (activation) => {
      const l = left(activation);
      if (l === decisive) return decisive;
      if (l !== !decisive) throw BAIL;
      const r = right(activation);
      if (typeof r !== 'boolean') throw BAIL;
      return r;
    };
  }

  private conditional(node: AstNode, scope: Scope | undefined): Closure {
    const [c, a, b] = (node.args as AstNode[]).map((n) => this.compile(n, scope)) as [Closure, Closure, Closure];
    return (activation) => {
      const condition = c(activation);
      if (condition === true) return a(activation);
      if (condition === false) return b(activation);
      throw BAIL;
    };
  }

  /** Elements are evaluated last to first, as the evaluator does (it matters for the order of variable reads). */
  private list(node: AstNode, scope: Scope | undefined): Closure {
    const elements = (node.args as AstNode[]).map((n) => this.compile(n, scope));
    return (activation) => evaluateAll(elements, activation);
  }

  private call(node: AstNode, scope: Scope | undefined): Closure {
    const [name, argNodes] = node.args as [string, AstNode[]];
    const args = argNodes.map((n) => this.compile(n, scope));
    const handle = this.handleOf(node);
    const ev = this.ev;
    if (name === 'size' && args.length === 1 && this.sizeIsBuiltIn('size()')) {
      const [arg] = args as [Closure];
      const typed = typedAtRunTime(argNodes[0]!);
      return (activation) => {
        const value = arg(activation);
        if (typed) ev.debugTypeDeep(value);
        const size = builtInSize(value);
        return size === NOT_DIRECT ? handle([value], node, ev) : size;
      };
    }
    return (activation) => handle(evaluateAll(args, activation), node, ev);
  }

  private methodCall(node: AstNode, scope: Scope | undefined): Closure {
    const operands = node.receiverWithArgs;
    if (!operands) return unsupported(node, 'unchecked method call');
    // A bail-out re-runs the whole expression: a call the outside world sees must run once.
    if (IMPURE_METHODS.has((node.args as [string])[0])) return unsupported(node, 'method with side effects');
    const compiled = operands.map((n) => this.compile(n, scope));
    const handle = this.handleOf(node);
    const ev = this.ev;
    const direct = this.directMethod(node, handle, compiled.length - 1);
    if (direct) {
      return (activation) => {
        const args = evaluateAll(compiled, activation);
        const value = direct(args);
        return value === NOT_DIRECT ? handle(args, ev, node) : value;
      };
    }
    return (activation) => handle(evaluateAll(compiled, activation), ev, node);
  }

  /** Whether `size(x)` / `x.size()` of a string, list or plain map is the evaluator's own. */
  private sizeIsBuiltIn(key: string): boolean {
    return !['string', 'list', 'map'].some((kind) => this.hooks.overridden(key, [kind]));
  }

  /**
   * The string methods the evaluator implements itself, and `size()`, computed directly
   * where cel-js' run-time lookup (`callRecFn`, for a `dyn` receiver) would find its
   * built-in: no library replaced the method and the operands have the built-in's kinds.
   */
  private directMethod(node: AstNode, handle: Handle, arity: number): ((args: unknown[]) => unknown) | undefined {
    const name = (node.args as [string])[0];
    if (handle.name !== 'callRecFn' || this.hooks.methodHooked(name, arity)) return undefined;
    if (arity === 0 && name === 'size') {
      const typed = typedAtRunTime(node.receiverWithArgs![0]!);
      const ev = this.ev;
      return (args) => {
        if (typed) ev.debugTypeDeep(args[0]);
        return builtInSize(args[0]);
      };
    }
    const method = arity === 1 ? STRING_METHODS[name] : undefined;
    if (!method) return undefined;
    return (args) => {
      const [receiver, arg] = args;
      return typeof receiver === 'string' && typeof arg === 'string' ? method(receiver, arg) : NOT_DIRECT;
    };
  }

  // -------------------------------------------------------------------------------------
  // Macros that keep their own evaluate (the others expand into comprehensions)

  private macro(node: AstNode, macro: unknown, scope: Scope | undefined): Closure {
    const optional = macro as Partial<OptionalMacro>;
    if (optional.functionDesc === 'optional.orValue(value)') return this.orValue(optional as OptionalMacro, scope);
    if (optional.functionDesc === 'optional.or(optional)') return this.or(optional as OptionalMacro, scope);
    const bind = macro as Partial<BindMacro>;
    if (node.op === 'rcall' && (node.args as [string])[0] === 'bind' && bind.bindCtx && bind.exp && bind.val) {
      return this.bind(bind as BindMacro, scope);
    }
    const has = macro as Partial<HasMacro>;
    // adapter.ts replaces the evaluator's has() by evaluateHas; that is the one mirrored here.
    if (has.macroHasProps && has.evaluate?.name === 'evaluateHas') return this.has(has as HasMacro, scope);
    return unsupported(node, 'macro not supported');
  }

  private orValue(macro: OptionalMacro, scope: Scope | undefined): Closure {
    const receiver = this.compile(macro.receiver, scope);
    const fallback = this.compile(macro.arg, scope);
    return (activation) => {
      const optional = receiver(activation);
      if (!(optional instanceof Optional)) throw BAIL;
      return optional.hasValue() ? optional.value() : fallback(activation);
    };
  }

  private or(macro: OptionalMacro, scope: Scope | undefined): Closure {
    const receiver = this.compile(macro.receiver, scope);
    const other = this.compile(macro.arg, scope);
    return (activation) => {
      const optional = receiver(activation);
      if (!(optional instanceof Optional)) throw BAIL;
      if (optional.hasValue()) return optional;
      const alternative = other(activation);
      if (!(alternative instanceof Optional)) throw BAIL;
      return alternative;
    };
  }

  /** `cel.bind(v, value, body)`: the value must fit the type the checker gave it, as the evaluator insists. */
  private bind(macro: BindMacro, scope: Scope | undefined): Closure {
    const value = this.compile(macro.val, scope);
    const cell: Cell = { value: undefined, accu: undefined };
    const body = this.compile(macro.exp, { name: macro.var, cell, parent: scope, loop: scope?.loop });
    const type = macro.bindCtx.iterType;
    const ev = this.ev;
    return (activation) => {
      const bound = value(activation);
      if (!type.matchesValueType(bound, ev)) throw BAIL;
      cell.value = bound;
      return body(activation);
    };
  }

  /**
   * adapter.ts' evaluateHas: walk the selection chain with the evaluator's field lookup;
   * where it would raise "No such key", bail.
   */
  private has(macro: HasMacro, scope: Scope | undefined): Closure {
    const chain = macro.macroHasProps;
    const root = this.compile(chain[chain.length - 1]!, scope);
    const selects = chain.slice(0, -1).map((select) => ({ optional: select.op === '.?', field: (select.args as [AstNode, string])[1], select }));
    const ev = this.ev;
    return (activation) => {
      let value = root(activation);
      let selectedFrom: unknown;
      let optionalChain = false;
      for (let i = selects.length - 1; i >= 0; i--) {
        const { optional, field, select } = selects[i]!;
        if (optional) optionalChain = true;
        selectedFrom = value;
        value = ev.debugType(value).fieldLazy(value, field, select, ev);
        if (value !== undefined) continue;
        if (i > 0 && !optional && !optionalChain) throw BAIL;
        return false;
      }
      return value instanceof Optional && selectedFrom instanceof Optional ? value.hasValue() : true;
    };
  }

  // -------------------------------------------------------------------------------------
  // Comprehensions

  /**
   * The evaluator's loop (operators.js runQualifier/runComprehension) with adapter.ts'
   * metering: the budget is checked before the loop and every iteration charges the size
   * of the step before running it. Quantifiers (all, exists) absorb errors of single
   * iterations in the evaluator; any error here bails instead.
   */
  private comprehension(node: AstNode, scope: Scope | undefined): Closure {
    const args = node.args as ComprehensionArgs;
    this.handleOf(node);
    const iterable = this.compile(args.iterable, scope);
    const init = this.loopInit(args.init);
    const cell: Cell = { value: undefined, accu: undefined };
    const step = this.compile(args.step, { name: args.iterVarName, cell, parent: scope, loop: cell });
    const stepCost = this.stepCost(args.step);
    const iterType = args.iterCtx.iterType;
    const { condition, result } = args;
    const quantifier = !args.errorsAreFatal;
    if (quantifier && !condition) unsupported(node, 'quantifier without condition');
    const ev = this.ev;
    return (activation) => {
      const range = iterable(activation);
      assertBudgetLeft();
      const items = iterationItems(range);
      let accu = init();
      cell.accu = accu;
      for (let i = 0; i < items.length; i++) {
        if (condition && !condition(accu)) {
          if (quantifier) return result(accu);
          break;
        }
        const item = items[i];
        if (!iterType.matchesValueType(item, ev)) throw BAIL;
        cell.value = item;
        charge(stepCost);
        accu = step(activation);
      }
      return result(accu);
    };
  }

  /** The macros start loops from a literal: a bool, a number, or an empty list (a new one per run). */
  private loopInit(init: AstNode): () => unknown {
    if (init.meta.alternate || init.meta.macro) return unsupported(init, 'loop init');
    if (init.op === 'value') {
      const value = init.args;
      return () => value;
    }
    if (init.op === 'list' && (init.args as unknown[]).length === 0) return () => [];
    return unsupported(init, 'loop init');
  }

  private accumulator(node: AstNode, scope: Scope | undefined): Closure {
    const loop = scope?.loop;
    if (!loop) return unsupported(node, 'accumulator outside a loop');
    if (node.op === 'accuValue') return () => loop.accu;
    if (node.op === 'accuInc') {
      return () => {
        if (typeof loop.accu !== 'number') throw BAIL;
        return (loop.accu += 1);
      };
    }
    const element = this.compile(node.args as AstNode, scope);
    return (activation) => {
      const list = loop.accu;
      if (!Array.isArray(list)) throw BAIL;
      list.push(element(activation));
      return list;
    };
  }
}

/**
 * A field of an object with a LAZY_FIELDS reader, as cel-js' `fieldAccess` finds it on an
 * object whose constructor is Object: the own entry, checked by `debugType` (which throws
 * for a value of no CEL type); a missing or undefined entry is its "No such key" error.
 * The entry is read once, as the evaluator reads it once.
 */
function lazyField(read: LazyFieldReader, left: object, field: string, node: AstNode, handle: Handle, ev: Evaluator): unknown {
  const value = read(field);
  if (value === NO_FIELD) return handle(left, field, node, ev);
  if (value === undefined) throw BAIL;
  ev.debugType(value);
  return value;
}

// ---------------------------------------------------------------------------------------
// Operators and functions computed directly: cel-js' built-ins for primitive operands

/** What a direct implementation answers when the operands are not its kinds: the handle decides. */
const NOT_DIRECT: unique symbol = Symbol('not direct');

type PrimitiveKind = 'string' | 'int' | 'double' | 'bool';
const PRIMITIVE_KINDS: readonly PrimitiveKind[] = ['string', 'int', 'double', 'bool'];

/** The CEL kind of a JS primitive, by `typeof`. */
const KIND_OF_TYPEOF: Readonly<Record<string, PrimitiveKind | undefined>> = { string: 'string', bigint: 'int', number: 'double', boolean: 'bool' };

const MAX_INT = 2n ** 63n - 1n;
const MIN_INT = -(2n ** 63n);

type Direct = (l: unknown, r: unknown) => unknown;

/**
 * cel-js' overloads for two operands of one primitive kind (overloads.js): equality is
 * `===` (so NaN differs from itself), relations are JS `<` and friends (strings by UTF-16
 * code units, as cel-js compares them), `+` concatenates strings and adds numbers, and an
 * int sum outside int64 is the handle's overflow error. Mixed kinds (int with double: the
 * numbers library's) and kinds a library overrides go to the handle.
 */
function directBinary(op: string, builtIn: ReadonlySet<PrimitiveKind>): Direct | undefined {
  if (builtIn.size === 0) return undefined;
  const sameBuiltInKind = (l: unknown, r: unknown): boolean => {
    const kind = typeof l;
    return kind === typeof r && builtIn.has(KIND_OF_TYPEOF[kind]!);
  };
  const relation = (holds: (l: never, r: never) => boolean): Direct => (l, r) => (sameBuiltInKind(l, r) ? holds(l as never, r as never) : NOT_DIRECT);
  switch (op) {
    case '==':
      return relation((l, r) => l === r);
    case '!=':
      return relation((l, r) => l !== r);
    case '<':
      return relation((l, r) => l < r);
    case '<=':
      return relation((l, r) => l <= r);
    case '>':
      return relation((l, r) => l > r);
    case '>=':
      return relation((l, r) => l >= r);
    case '+':
      return (l, r) => {
        if (!sameBuiltInKind(l, r) || typeof l === 'boolean') return NOT_DIRECT;
        if (typeof l !== 'bigint') return (l as string) + (r as string);
        const sum = l + (r as bigint);
        return sum > MAX_INT || sum < MIN_INT ? NOT_DIRECT : sum;
      };
    default:
      return undefined;
  }
}

/**
 * Whether cel-js' run-time overload lookup types this operand from its value
 * (`debugRuntimeType`): a list or map is typed by its first entry, which may throw or, on a
 * lazy map, compute that entry. The direct route makes the same call first.
 */
function typedAtRunTime(operand: AstNode): boolean {
  return (operand.checkedType as { hasDynType?: boolean } | undefined)?.hasDynType !== false;
}

/** cel-js' `size`: code points of a string, length of a list, entries of a plain map; an int. */
function builtInSize(value: unknown): unknown {
  if (typeof value === 'string') return BigInt(codePoints(value));
  if (Array.isArray(value)) return BigInt(value.length);
  if (typeof value === 'object' && value !== null && value.constructor === Object) return BigInt(Object.keys(value).length);
  return NOT_DIRECT;
}

function codePoints(text: string): number {
  let count = 0;
  // Counting UTF-16 units is exact unless the text has surrogate pairs.
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdfff) count++;
    else return count + [...text.slice(i)].length;
  }
  return count;
}

/** cel-js' `string.startsWith/endsWith/contains(string)`. */
const STRING_METHODS: Readonly<Record<string, ((s: string, arg: string) => boolean) | undefined>> = Object.assign(Object.create(null), {
  startsWith: (s: string, prefix: string) => s.startsWith(prefix),
  endsWith: (s: string, suffix: string) => s.endsWith(suffix),
  contains: (s: string, part: string) => s.includes(part),
});

/** Values cel-js' `debugType` accepts without consulting its registry of object types. */
function isPlainValue(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'bigint':
    case 'number':
    case 'boolean':
      return true;
    case 'object': {
      if (value === null) return true;
      const ctor = (value as object).constructor;
      return ctor === Object || ctor === Array || ctor === Map || ctor === Set || ctor === undefined;
    }
    default:
      return false;
  }
}

/** Evaluates closures last to first into a new array (the evaluator's resolveAstArray order). */
function evaluateAll(closures: readonly Closure[], activation: Record<string, unknown>): unknown[] {
  let i = closures.length;
  const out = new Array<unknown>(i);
  while (i-- > 0) out[i] = closures[i]!(activation);
  return out;
}

/** What a comprehension iterates: list elements, or map keys (operators.js toIterable). */
function iterationItems(range: unknown): readonly unknown[] {
  if (Array.isArray(range)) return range;
  if (range instanceof Set) return [...range];
  if (range instanceof Map) return [...range.keys()];
  if (range !== null && typeof range === 'object') return Object.keys(range);
  throw BAIL;
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

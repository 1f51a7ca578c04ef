/**
 * The one module that knows the evaluator underneath (@marcbachmann/cel-js). It turns
 * our library declarations into the evaluator's registrations, compiles expression
 * text into checked, instrumented programs, and maps the evaluator's errors to
 * CelError. Replacing the evaluator means rewriting this file only.
 *
 * Instrumentation happens once per compile, on the checked syntax tree:
 * - comprehension loops charge the cost meter per iteration (see cost.ts);
 * - methods with a replaced or literal-specialised implementation get it wired in;
 * - arithmetic whose int overflow the evaluator misses is range-checked.
 */
import { Environment, EvaluationError, Optional } from '@marcbachmann/cel-js';
import { UnsignedInt, Duration } from '@marcbachmann/cel-js/evaluator';
import { CelError, CelFunctionError, positionAt, type CelErrorKind } from './errors.js';
import { COST_EXCEEDED, assertBudgetLeft, charge, type CompileLimits } from './cost.js';
import type { CelFunction, CelLibrary, LibraryRegistrar } from './library.js';

export { Optional, UnsignedInt, Duration };

/** True for the values `type(x)` returns. */
export function isCelType(value: unknown): boolean {
  return typeof value === 'object' && value !== null && value.constructor?.name === 'Type';
}

/** The evaluator's program: call it with an activation object. */
export type RawProgram = (activation?: Record<string, unknown>) => unknown;

export interface CheckedProgram {
  readonly run: RawProgram;
  /** The statically checked result type, e.g. `bool`, `int`, `list<string>`, `dyn`. */
  readonly resultType: string;
}

type Specializer = (literals: readonly unknown[]) => CelFunction | undefined;

/** Everything the libraries asked for that the evaluator cannot express by itself. */
interface MethodHooks {
  readonly replacements: Map<string, CelFunction>;
  readonly specializers: Map<string, Specializer>;
}

const methodKey = (name: string, arity: number): string => `${name}/${arity}`;

/** A base environment with the libraries registered; variables are added per use. */
export class EvaluatorBase {
  readonly #env: Environment;
  readonly #hooks: MethodHooks = { replacements: new Map(), specializers: new Map() };

  constructor(libraries: readonly CelLibrary[], limits: CompileLimits) {
    this.#env = new Environment({
      unlistedVariablesAreDyn: false,
      homogeneousAggregateLiterals: false,
      enableOptionalTypes: true,
      limits: {
        maxAstNodes: limits.maxAstNodes,
        maxDepth: limits.maxDepth,
        maxListElements: limits.maxListElements,
        maxMapEntries: limits.maxMapEntries,
        maxCallArguments: limits.maxCallArguments,
      },
    });
    const registrar = new Registrar(this.#env, this.#hooks);
    for (const library of libraries) {
      try {
        library.register(registrar);
      } catch (error) {
        throw new Error(`CEL library '${library.name}' failed to register: ${(error as Error).message}`);
      }
    }
  }

  /** A child environment declaring these variables (name → CEL type). Freezes the base. */
  withVariables(variables: Readonly<Record<string, string>>): EvaluatorScope {
    const env = this.#env.clone();
    for (const [name, type] of Object.entries(variables)) env.registerVariable(name, type);
    return new EvaluatorScope(env, this.#hooks);
  }
}

export class EvaluatorScope {
  constructor(
    private readonly env: Environment,
    private readonly hooks: MethodHooks,
  ) {}

  /** Parses, type-checks and instruments; throws CelError with an expression position. */
  compile(text: string): CheckedProgram {
    let parsed: ReturnType<Environment['parse']>;
    try {
      parsed = this.env.parse(text);
    } catch (error) {
      throw toCelError(error, text, 'syntax');
    }
    const checked = parsed.check();
    if (!checked.valid) throw toCelError(checked.error, text, 'type');
    instrument(parsed.ast as unknown as AstNode, this.hooks, text);
    return { run: parsed as RawProgram, resultType: checked.type ?? 'dyn' };
  }
}

class Registrar implements LibraryRegistrar {
  readonly #namespaces = new Map<string, string>();

  constructor(
    private readonly env: Environment,
    private readonly hooks: MethodHooks,
  ) {}

  namespace(name: string): void {
    if (this.#namespaces.has(name)) return;
    const typeName = `${name[0]!.toUpperCase()}${name.slice(1)}Namespace`;
    // A distinct class per namespace, so overloads on one never match another.
    const ctor = { [typeName]: class {} }[typeName]!;
    this.env.registerType(typeName, ctor);
    this.env.registerConstant(name, typeName, new ctor());
    this.#namespaces.set(name, typeName);
  }

  type(name: string, ctor: abstract new (...args: never[]) => unknown): void {
    this.env.registerType(name, ctor as unknown as new () => unknown);
  }

  fn(signature: string, impl: CelFunction): void {
    const dot = signature.indexOf('.');
    const paren = signature.indexOf('(');
    const receiver = dot > 0 && dot < paren ? signature.slice(0, dot) : undefined;
    const namespaceType = receiver === undefined ? undefined : this.#namespaces.get(receiver);
    const arity = countParameters(signature);
    if (namespaceType !== undefined) {
      // The evaluator passes the namespace object as receiver; drop it.
      this.env.registerFunction(`${namespaceType}${signature.slice(dot)}`, guard(dropFirst(impl, arity)));
    } else {
      this.env.registerFunction(signature, guard(impl));
    }
  }

  operator(signature: string, impl: CelFunction): void {
    this.env.registerOperator(signature, guard(impl));
  }

  replaceMethod(name: string, arity: number, impl: CelFunction): void {
    this.hooks.replacements.set(methodKey(name, arity), impl);
  }

  specializeMethod(name: string, arity: number, prepare: Specializer): void {
    this.hooks.specializers.set(methodKey(name, arity), prepare);
  }
}

function countParameters(signature: string): number {
  const inner = signature.slice(signature.indexOf('(') + 1, signature.lastIndexOf(')')).trim();
  if (inner === '') return 0;
  let depth = 0;
  let count = 1;
  for (const c of inner) {
    if (c === '<') depth++;
    else if (c === '>') depth--;
    else if (c === ',' && depth === 0) count++;
  }
  return count;
}

// Fixed-arity wrappers keep calls monomorphic; rest parameters would allocate per call.
function dropFirst(impl: CelFunction, arity: number): CelFunction {
  switch (arity) {
    case 0:
      return () => impl();
    case 1:
      return (_ns: unknown, a: unknown) => impl(a);
    case 2:
      return (_ns: unknown, a: unknown, b: unknown) => impl(a, b);
    case 3:
      return (_ns: unknown, a: unknown, b: unknown, c: unknown) => impl(a, b, c);
    default:
      return (_ns: unknown, ...rest: unknown[]) => impl(...rest);
  }
}

/** Turns our CelFunctionError into the evaluator's error so that it gets a position. */
function guard(impl: CelFunction): CelFunction {
  return function guarded(this: unknown, ...args: unknown[]) {
    try {
      return impl.apply(this, args);
    } catch (error) {
      throw asEvaluatorError(error);
    }
  };
}

function asEvaluatorError(error: unknown, node?: AstNode): unknown {
  if (error instanceof CelFunctionError) {
    return new EvaluationError({ code: error.code, message: error.message, node: node as never });
  }
  return error;
}

// ---------------------------------------------------------------------------------------
// Errors

interface EvaluatorErrorShape {
  readonly name?: string;
  readonly code?: string;
  readonly summary?: string;
  readonly message?: string;
  readonly range?: { readonly start: number; readonly end: number };
}

/** Maps any error from parsing, checking or evaluating `text` to a CelError. */
export function toCelError(error: unknown, text: string, fallbackKind: CelErrorKind = 'evaluation'): CelError {
  if (error instanceof CelError) return error;
  if (error === COST_EXCEEDED) return costExceeded();
  if (error instanceof CelFunctionError) return new CelError('evaluation', error.message, undefined, undefined, error.code);
  const shape = (error ?? {}) as EvaluatorErrorShape;
  const summary = shape.summary ?? shape.message ?? String(error);
  const kind: CelErrorKind =
    shape.name === 'ParseError'
      ? limitCode(shape.code)
        ? 'limit'
        : 'syntax'
      : shape.name === 'TypeError'
        ? 'type'
        : shape.name === 'EvaluationError'
          ? 'evaluation'
          : fallbackKind;
  const position = shape.range ? positionAt(text, shape.range.start) : undefined;
  return new CelError(kind, summary, position, undefined, shape.code);
}

function limitCode(code: string | undefined): boolean {
  return code !== undefined && /limit|exceed|too_many|max/i.test(code);
}

export function costExceeded(): CelError {
  return new CelError(
    'cost',
    'cost budget exceeded: the expression did too much work (see the README on cost limits)',
    undefined,
    undefined,
    'cost_exceeded',
  );
}

// ---------------------------------------------------------------------------------------
// Instrumentation of the checked syntax tree

interface AstNode {
  op: string;
  args: unknown;
  pos: number;
  readonly meta: {
    readonly alternate?: AstNode;
    readonly macro?: { evaluate(ev: unknown, macro: unknown, ctx: unknown): unknown };
    readonly evaluate: EvaluateFn;
  };
  handle?: (...args: unknown[]) => unknown;
  evaluate: EvaluateFn;
  receiverWithArgs?: AstNode[];
}

type EvaluateFn = (ev: unknown, ast: AstNode, ctx: unknown) => unknown;

function isAstNode(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && typeof (value as AstNode).op === 'string' && 'args' in value;
}

/** Every node below `root`, including the comprehension trees that macros expand into. */
function collectNodes(root: AstNode): AstNode[] {
  const seen = new Set<AstNode>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const item = stack.pop();
    if (isAstNode(item)) {
      if (seen.has(item)) continue;
      seen.add(item);
      const meta = item.meta;
      if (meta.alternate) stack.push(meta.alternate);
      stack.push(item.args);
    } else if (Array.isArray(item)) {
      for (const element of item) stack.push(element);
    } else if (typeof item === 'object' && item !== null && Object.getPrototypeOf(item) === Object.prototype) {
      for (const value of Object.values(item)) if (typeof value === 'object') stack.push(value);
    }
  }
  return [...seen];
}

/** The function a node's `evaluate` resolves to once the node stops self-replacing. */
function resolvedEvaluate(node: AstNode): EvaluateFn {
  const { alternate, macro } = node.meta;
  if (alternate) return (ev, _ast, ctx) => alternate.evaluate(ev, alternate, ctx);
  if (macro) return (ev, _ast, ctx) => macro.evaluate(ev, macro, ctx);
  return node.meta.evaluate;
}

function instrument(root: AstNode, hooks: MethodHooks, text: string): void {
  for (const node of collectNodes(root)) {
    switch (node.op) {
      case 'comprehension':
        meterComprehension(node);
        break;
      case 'rcall':
        wireMethod(node, hooks, text);
        break;
      default:
    }
  }
}

interface ComprehensionArgs {
  readonly step: AstNode;
}

function meterComprehension(node: AstNode): void {
  const handle = node.handle;
  if (!handle) return;
  // Refuse to start a loop once the budget is gone, so nested loops stop at once.
  node.handle = (items: unknown, args: unknown, ev: unknown, ctx: unknown) => {
    assertBudgetLeft();
    return handle(items, args, ev, ctx);
  };
  const step = (node.args as ComprehensionArgs).step;
  const stepCost = collectNodes(step).length;
  const evaluateStep = resolvedEvaluate(step);
  step.evaluate = (ev, ast, ctx) => {
    charge(stepCost);
    return evaluateStep(ev, ast, ctx);
  };
}

function wireMethod(node: AstNode, hooks: MethodHooks, text: string): void {
  const [name, , argNodes] = node.args as [string, AstNode, AstNode[]];
  const key = methodKey(name, argNodes.length);
  const prepare = hooks.specializers.get(key);
  let impl = hooks.replacements.get(key);
  if (prepare) {
    const literals = argNodes.map((a) => (a.op === 'value' ? a.args : undefined));
    try {
      impl = prepare(literals) ?? impl;
    } catch (error) {
      const cel = toCelError(error, text, 'type');
      throw new CelError('type', cel.summary, positionAt(text, argNodes[0]?.pos ?? node.pos), undefined, cel.code);
    }
  }
  if (!impl) return;
  const chosen = impl;
  node.handle = (args: unknown) => {
    try {
      return chosen(...(args as unknown[]));
    } catch (error) {
      throw asEvaluatorError(error, node);
    }
  };
}

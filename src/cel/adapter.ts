/**
 * The one module that knows the evaluator underneath (@marcbachmann/cel-js). It turns
 * our library declarations into the evaluator's registrations, compiles expression
 * text into checked, instrumented programs, and maps the evaluator's errors to
 * CelError. Replacing the evaluator means rewriting this file only.
 *
 * Instrumentation happens once per compile, on the checked syntax tree:
 * - comprehension loops charge the cost meter per iteration (see cost.ts);
 * - methods with a replaced or literal-specialised implementation get it wired in;
 * - operators and functions a library re-declares get the library's implementation
 *   (statically where the checked types decide, else by the operands' run-time kinds);
 * - map literals get CEL's keys (int, uint, bool, string; no duplicates), and numeric
 *   keys and list indexes match across int, uint and double;
 * - bytes literals get their text's UTF-8 encoding (the evaluator keeps one byte per char),
 *   and int literals must fit int64.
 * A pass before checking corrects what the checker gets wrong for CEL: `has()` on any
 * expression, equality of any two lists or maps, and selection from or operators on
 * values typed by an unbound type parameter (`[].all(x, x > 0)`, `optional.none().?f`).
 */
import { Environment, EvaluationError, Optional } from '@marcbachmann/cel-js';
import { registerMacros } from './macros.js';
import { UnsignedInt, Duration } from '@marcbachmann/cel-js/evaluator';
import { CelError, CelFunctionError, positionAt, type CelErrorKind } from './errors.js';
import { COST_EXCEEDED, assertBudgetLeft, charge, type CompileLimits } from './cost.js';
import type { CelFunction, CelLibrary, LibraryRegistrar } from './library.js';
import { celMap } from './values.js';
import { compileFastPath, evaluatorOf, fastPathEnabled, withFastPath } from './fast-path.js';
import { dropAbsentElements, explainOptionalEntries, optionalEntryOperand, optionalEntryValue, registerOptionalEntries, rewriteOptionalEntries } from './optional-entries.js';

export { Optional, UnsignedInt, Duration };

/**
 * Returned by a library's operator or function implementation that declines a case it
 * re-declared from the evaluator: the evaluator's own implementation then runs.
 */
export const NOT_HANDLED: unique symbol = Symbol('not handled');

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
  readonly overrides: OverrideTable;
}

const methodKey = (name: string, arity: number): string => `${name}/${arity}`;

/** A base environment with the libraries registered; variables are added per use. */
export class EvaluatorBase {
  readonly #env: Environment;
  readonly #hooks: MethodHooks = { replacements: new Map(), specializers: new Map(), overrides: new OverrideTable() };

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
    registerMacros(this.#env);
    registerOptionalEntries(this.#env);
    const registrar = new Registrar(this.#env, this.#hooks);
    for (const library of libraries) {
      try {
        library.register(registrar);
      } catch (error) {
        throw new Error(`CEL library '${library.name}' failed to register: ${(error as Error).message}`);
      }
    }
    registrar.exposeTypeNames();
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
    // What the parser reads (optional-entries.ts); the tree's positions refer to it.
    const source = rewriteOptionalEntries(text);
    try {
      parsed = this.env.parse(source);
    } catch (error) {
      throw toCelError(error, source, 'syntax');
    }
    prepareForCheck(parsed.ast as unknown as AstNode);
    const checked = parsed.check();
    if (!checked.valid) throw toCelError(checked.error, source, 'type');
    const root = parsed.ast as unknown as AstNode;
    instrument(root, this.hooks, source);
    const interpreter = parsed as RawProgram;
    // The same tree compiled to closures; the evaluator runs whenever they bail (fast-path.ts).
    const fast = fastPathEnabled()
      ? compileFastPath(root, {
          evaluator: evaluatorOf(this.env),
          stepCost: (step) => collectNodes(step).length,
          overridden: (key, kinds) => this.hooks.overrides.find(key, kinds) !== undefined,
          methodHooked: (name, arity) => this.hooks.replacements.has(methodKey(name, arity)) || this.hooks.specializers.has(methodKey(name, arity)),
        })
      : undefined;
    const run = fast ? withFastPath(fast, interpreter as (activation: Record<string, unknown>) => unknown, text) : interpreter;
    return { run: run as RawProgram, resultType: checked.type ?? 'dyn' };
  }
}

/**
 * The value `type(v)` gives for a value of the registered type `name` (cel-js compares
 * type values by identity, so it must be that very object): asked of a scratch
 * environment with a value that only has the type's prototype.
 */
function typeValueOf(env: Environment, name: string, ctor: abstract new (...args: never[]) => unknown): unknown {
  const scratch = env.clone();
  scratch.registerVariable('value', name);
  return scratch.evaluate('type(value)', { value: Object.create(ctor.prototype as object) as unknown });
}

class Registrar implements LibraryRegistrar {
  readonly #namespaces = new Map<string, string>();
  readonly #types: [name: string, ctor: abstract new (...args: never[]) => unknown][] = [];

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
    this.hooks.overrides.nameType(ctor, name);
    this.#types.push([name, ctor]);
  }

  /**
   * Makes every dotted type name a library declared usable as an expression, as in
   * Kubernetes (`type(ip('10.0.0.1')) == net.IP`): the first segment becomes a constant
   * whose fields lead, segment by segment, to the value `type()` gives for that type.
   * cel-js resolves only undotted type names (`int`, `map`) this way. Called once, after
   * every library has registered.
   */
  exposeTypeNames(): void {
    type Tree = Map<string, Tree | (abstract new (...args: never[]) => unknown)>;
    const roots: Tree = new Map();
    for (const [name, ctor] of this.#types) {
      const segments = name.split('.');
      if (segments.length < 2 || this.#namespaces.has(segments[0]!)) continue;
      let tree = roots;
      for (const segment of segments.slice(0, -1)) {
        let next = tree.get(segment);
        if (!(next instanceof Map)) tree.set(segment, (next = new Map()));
        tree = next;
      }
      tree.set(segments[segments.length - 1]!, ctor);
    }
    // One message type per level, named after its path: `net` is a `net.$types` whose fields
    // IP and CIDR are types. The type values can only be asked once registration is over.
    const leaves: [holder: Record<string, unknown>, segment: string, name: string, ctor: abstract new (...args: never[]) => unknown][] = [];
    const declare = (path: string, tree: Tree): { typeName: string; value: Record<string, unknown> } => {
      const typeName = `${path}.$types`;
      const ctor = { [typeName]: class {} }[typeName]!;
      const value = new ctor() as Record<string, unknown>;
      const fields: Record<string, string> = {};
      for (const [segment, child] of tree) {
        if (child instanceof Map) {
          const nested = declare(`${path}.${segment}`, child);
          fields[segment] = nested.typeName;
          value[segment] = nested.value;
        } else {
          fields[segment] = 'type';
          leaves.push([value, segment, `${path}.${segment}`, child]);
        }
      }
      this.env.registerType(typeName, { ctor, fields } as never);
      return { typeName, value };
    };
    for (const [root, tree] of roots) {
      const { typeName, value } = declare(root, tree as Tree);
      this.env.registerConstant(root, typeName, value);
    }
    for (const [holder, segment, name, ctor] of leaves) holder[segment] = typeValueOf(this.env, name, ctor);
  }


  fn(signature: string, impl: CelFunction): void {
    const dot = signature.indexOf('.');
    const paren = signature.indexOf('(');
    const receiver = dot > 0 && dot < paren ? signature.slice(0, dot) : undefined;
    const namespaceType = receiver === undefined ? undefined : this.#namespaces.get(receiver);
    const arity = countParameters(signature);
    const name = signature.slice(0, paren).trim();
    if (receiver === undefined && evaluatorAcceptsCall(name, parameterTypes(signature))) {
      // A built-in re-declared: the library's implementation replaces the evaluator's
      // (the built-in declaration, and so the checked result type, stays).
      this.hooks.overrides.add(`${name}()`, parameterTypes(signature), impl);
      return;
    }
    if (namespaceType !== undefined) {
      // The evaluator passes the namespace object as receiver; drop it.
      this.env.registerFunction(`${namespaceType}${signature.slice(dot)}`, guard(dropFirst(impl, arity)));
    } else {
      this.env.registerFunction(signature, guard(impl));
    }
  }

  operator(signature: string, impl: CelFunction): void {
    const { op, operands } = parseOperatorSignature(signature);
    // The checker must know the operand types; for ones it already knows, only the
    // implementation changes (overrides also win over the evaluator's dyn overloads).
    if (!evaluatorAcceptsOperator(op, operands)) this.env.registerOperator(signature, guard(impl));
    this.hooks.overrides.addOperator(op, operands, impl);
  }

  replaceMethod(name: string, arity: number, impl: CelFunction): void {
    this.hooks.replacements.set(methodKey(name, arity), impl);
  }

  specializeMethod(name: string, arity: number, prepare: Specializer): void {
    this.hooks.specializers.set(methodKey(name, arity), prepare);
  }
}

function countParameters(signature: string): number {
  return parameterTypes(signature).length;
}

/** The parameter types of `name(T1, T2): R`, split at top-level commas. */
function parameterTypes(signature: string): string[] {
  const inner = signature.slice(signature.indexOf('(') + 1, signature.lastIndexOf(')')).trim();
  return inner === '' ? [] : splitTopLevel(inner);
}

function splitTopLevel(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of list) {
    if (c === '<') depth++;
    else if (c === '>') depth--;
    if (c === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current.trim());
  return parts;
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
  const summary = inUserTerms(shape.summary ?? shape.message ?? String(error));
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

/**
 * An evaluator message in the terms of what the user wrote: namespaces are typed constants
 * inside (`math` is a `MathNamespace`), and `?` entries are calls (optional-entries.ts).
 */
function inUserTerms(message: string): string {
  return explainOptionalEntries(message).replace(/\b([A-Z][A-Za-z0-9]*)Namespace\b/g, (_, name: string) => `${name[0]!.toLowerCase()}${name.slice(1)}`);
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

export interface AstNode {
  op: string;
  args: unknown;
  pos: number;
  readonly meta: {
    readonly alternate?: AstNode;
    readonly macro?: { evaluate(ev: unknown, macro: unknown, ctx: unknown): unknown };
    readonly evaluate: EvaluateFn;
    readonly check: CheckFn;
  };
  handle?: (...args: unknown[]) => unknown;
  evaluate: EvaluateFn;
  receiverWithArgs?: AstNode[];
  /** Offsets of the node's text in the expression. */
  readonly start: number;
  readonly end: number;
  /** Set by the checker on every node it checked. */
  readonly checkedType?: CheckedType;
  setMeta(key: 'check', value: CheckFn): AstNode;
}

type CheckFn = (checker: TypeChecker, ast: AstNode, ctx: unknown) => CheckedType;

interface TypeChecker {
  getType(name: string): CheckedType;
  check(node: AstNode, ctx: unknown): CheckedType;
  createError(code: string, message: string, node: AstNode | undefined): Error;
}

interface RunningEvaluator {
  run(node: AstNode, ctx: unknown): unknown;
  debugType(value: unknown): { fieldLazy(value: unknown, field: string, node: AstNode, ev: RunningEvaluator): unknown };
}

/** The evaluator's `has()` macro: its argument, and the field chain it walks when run. */
interface HasMacro {
  readonly args: readonly AstNode[];
  typeCheck(checker: TypeChecker, macro: HasMacro, ctx: unknown): CheckedType;
  evaluate(ev: RunningEvaluator, macro: HasMacro, ctx: unknown): unknown;
  macroHasProps?: AstNode[];
}

interface CheckedType {
  readonly kind: string;
  readonly name: string;
  readonly valueType?: CheckedType;
}

export type EvaluateFn = (ev: unknown, ast: AstNode, ctx: unknown) => unknown;

function isAstNode(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && typeof (value as AstNode).op === 'string' && 'args' in value;
}

/** Every node below `root`, including the comprehension trees that macros expand into. */
export function collectNodes(root: AstNode): AstNode[] {
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
  const nodes = collectNodes(root);
  const negatedOperands = new Set(nodes.filter((n) => n.op === '-_').map((n) => n.args));
  for (const node of nodes) {
    switch (node.op) {
      case 'comprehension':
        meterComprehension(node);
        break;
      case 'rcall':
        wireMethod(node, hooks, text);
        break;
      case 'call': {
        const [name, argNodes] = node.args as [string, AstNode[]];
        wireOverride(node, `${name}()`, argNodes, CALL, hooks.overrides);
        break;
      }
      case 'map':
        checkMapKeys(node);
        break;
      case 'list':
        dropAbsentElements(node);
        break;
      case 'value':
        if (node.args instanceof Uint8Array) encodeBytesLiteral(node, text);
        if (typeof node.args === 'bigint') checkIntLiteral(node, negatedOperands.has(node), text);
        break;
      case '[]':
      case '[?]':
        matchNumericIndex(node);
        break;
      case '-_':
      case '!_':
        wireOverride(node, node.op, [node.args as AstNode], UNARY, hooks.overrides);
        break;
      default:
        if (BINARY_OPERATORS.has(node.op)) wireOverride(node, node.op, node.args as AstNode[], BINARY, hooks.overrides);
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

// ---------------------------------------------------------------------------------------
// Library overrides of the evaluator's operators and functions

/** An operand kind only run time knows (a `dyn` or type-parameter operand). */
const ANY = '*';
const BINARY_OPERATORS = new Set(['==', '!=', '<', '<=', '>', '>=', 'in', '+', '-', '*', '/', '%']);

interface Override {
  readonly kinds: readonly string[];
  readonly impl: CelFunction;
}

/**
 * Library implementations by operator (`==`, `-_`) or function (`int()`) and operand
 * kinds (`int`, `list`, `net.IP`, or ANY). Where one fits the operands, it runs instead
 * of the evaluator's implementation.
 */
class OverrideTable {
  readonly #byKey = new Map<string, Override[]>();
  readonly #typeNames = new Map<unknown, string>();
  /** findForValues' answers by key, then by each operand's kind (null: none fits). */
  readonly #answers = new Map<string, Map<string, unknown>>();

  nameType(ctor: unknown, name: string): void {
    this.#typeNames.set(ctor, name);
  }

  add(key: string, types: readonly string[], impl: CelFunction): void {
    const list = this.#byKey.get(key) ?? [];
    list.push({ kinds: types.map(kindOfTypeName), impl });
    this.#byKey.set(key, list);
  }

  /** As the evaluator does, `==` also declares `!=`, and both with the operands swapped. */
  addOperator(op: string, types: readonly string[], impl: CelFunction): void {
    this.add(op, types, impl);
    if (op !== '==') return;
    const [left, right] = types as [string, string];
    const swapped: CelFunction = (b, a) => impl(a, b);
    this.add('!=', types, negated(impl));
    if (kindOfTypeName(left) === kindOfTypeName(right)) return;
    this.add('==', [right, left], swapped);
    this.add('!=', [right, left], negated(swapped));
  }

  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  /** The implementation for these operand kinds; exact kinds win over ANY. */
  find(key: string, kinds: readonly string[]): CelFunction | undefined {
    let loose: CelFunction | undefined;
    for (const o of this.#byKey.get(key) ?? []) {
      if (o.kinds.length !== kinds.length) continue;
      let fits = true;
      let exact = true;
      for (let i = 0; i < kinds.length && fits; i++) {
        if (o.kinds[i] === kinds[i]) continue;
        if (o.kinds[i] === ANY) exact = false;
        else fits = false;
      }
      if (fits && exact) return o.impl;
      if (fits) loose ??= o.impl;
    }
    return loose;
  }

  /** `find` for run-time values, remembered per combination of kinds. */
  findForValues(key: string, values: readonly unknown[]): CelFunction | undefined {
    if (values.length === 0) return this.find(key, []);
    let level = this.#answers.get(key) ?? this.#answers.set(key, new Map()).get(key)!;
    for (let i = 0; i < values.length - 1; i++) {
      const kind = this.kindOf(values[i]);
      let next = level.get(kind) as Map<string, unknown> | undefined;
      if (!next) level.set(kind, (next = new Map()));
      level = next;
    }
    const last = this.kindOf(values[values.length - 1]);
    let answer = level.get(last) as CelFunction | null | undefined;
    if (answer === undefined) {
      answer = this.find(key, values.map((v) => this.kindOf(v))) ?? null;
      level.set(last, answer);
    }
    return answer ?? undefined;
  }

  /** The implementations that may fit once the ANY operands' kinds are known. */
  candidates(key: string, kinds: readonly string[]): readonly Override[] {
    return (this.#byKey.get(key) ?? []).filter(
      (o) => o.kinds.length === kinds.length && o.kinds.every((k, i) => k === ANY || kinds[i] === ANY || k === kinds[i]),
    );
  }

  /** The run-time kind of a CEL value, named as in signatures. */
  kindOf(value: unknown): string {
    switch (typeof value) {
      case 'bigint':
        return 'int';
      case 'number':
        return 'double';
      case 'string':
        return 'string';
      case 'boolean':
        return 'bool';
      default:
    }
    if (value === null || value === undefined) return 'null';
    if (value instanceof UnsignedInt) return 'uint';
    if (value instanceof Uint8Array) return 'bytes';
    if (Array.isArray(value) || value instanceof Set) return 'list';
    if (value instanceof Date) return 'google.protobuf.Timestamp';
    if (value instanceof Duration) return 'google.protobuf.Duration';
    if (value instanceof Optional) return 'optional';
    if (isCelType(value)) return 'type';
    const ctor = (value as object).constructor;
    if (value instanceof Map || ctor === Object || ctor === undefined) return 'map';
    return this.#typeNames.get(ctor) ?? '?';
  }
}

function negated(impl: CelFunction): CelFunction {
  return (a, b) => {
    const equal = impl(a, b);
    return equal === NOT_HANDLED ? equal : !equal;
  };
}

/** `list<V>` → `list`, `map<K, V>` → `map`, `dyn` and type parameters → ANY. */
function kindOfTypeName(type: string): string {
  const t = type.trim();
  if (t === 'dyn' || /^[A-Z]$/.test(t)) return ANY;
  return /^(list|map|optional)\b/.exec(t)?.[1] ?? t;
}

function kindOfCheckedType(type: CheckedType | undefined): string {
  if (!type || type.kind === 'dyn' || type.kind === 'param') return ANY;
  return type.kind === 'list' || type.kind === 'map' || type.kind === 'optional' ? type.kind : type.name;
}

/** `int == double` → op `==`; `-int` → op `-_` (the evaluator's name for unary minus). */
function parseOperatorSignature(signature: string): { op: string; operands: string[] } {
  const declared = signature.replace(/:\s*[\w.<>, ]+$/, '').trim();
  const unary = /^([-!])\s*([\w.<>, ]+)$/.exec(declared);
  if (unary) return { op: `${unary[1]}_`, operands: [unary[2]!.trim()] };
  const binary = /^([\w.<>, ]+?)\s+(==|!=|<=|>=|<|>|in|[-+*/%])\s+([\w.<>, ]+)$/.exec(declared);
  if (!binary) throw new Error(`Operator overload invalid: ${signature}`);
  return { op: binary[2]!, operands: [binary[1]!.trim(), binary[3]!.trim()] };
}

/**
 * Whether the evaluator's own declarations already type-check this call or operator
 * (asked of a fresh environment with only the built-ins, so nothing is locked).
 */
function evaluatorAcceptsCall(name: string, types: readonly string[]): boolean {
  return probeChecks(`${name}(${types.map((_, i) => `a${i}`).join(', ')})`, types);
}

function evaluatorAcceptsOperator(op: string, types: readonly string[]): boolean {
  return probeChecks(op.endsWith('_') ? `${op[0]}a0` : `a0 ${op} a1`, types);
}

function probeChecks(expression: string, types: readonly string[]): boolean {
  const probe = new Environment({ homogeneousAggregateLiterals: false, enableOptionalTypes: true });
  try {
    types.forEach((type, i) => probe.registerVariable(`a${i}`, type.replace(/\b[A-Z]\b/g, 'dyn')));
  } catch {
    return false; // a type only a library declares: nothing built in can take it
  }
  return probe.check(expression).valid;
}

type Handle = (...args: unknown[]) => unknown;
/** The override for these operand values, if one fits. */
type Pick = (...operands: unknown[]) => CelFunction | undefined;
/** Builds a node handle that tries the picked override and falls back to `original`. */
type Shape = (pick: Pick, original: Handle, node: AstNode) => Handle;

function callOverride(node: AstNode, impl: CelFunction, ...operands: unknown[]): unknown {
  try {
    return impl(...operands);
  } catch (error) {
    throw asEvaluatorError(error, node);
  }
}

// Node handles: binary operators get (left, right, ast, ev), unary (operand, ast, ev),
// global calls (args, ast, ev).
const BINARY: Shape = (pick, original, node) => (l, r, ast, ev) => {
  const impl = pick(l, r);
  const out = impl ? callOverride(node, impl, l, r) : NOT_HANDLED;
  return out === NOT_HANDLED ? original(l, r, ast, ev) : out;
};
const UNARY: Shape = (pick, original, node) => (v, ast, ev) => {
  const impl = pick(v);
  const out = impl ? callOverride(node, impl, v) : NOT_HANDLED;
  return out === NOT_HANDLED ? original(v, ast, ev) : out;
};
const CALL: Shape = (pick, original, node) => (args, ast, ev) => {
  const impl = pick(...(args as unknown[]));
  const out = impl ? callOverride(node, impl, ...(args as unknown[])) : NOT_HANDLED;
  return out === NOT_HANDLED ? original(args, ast, ev) : out;
};

function wireOverride(node: AstNode, key: string, operands: readonly AstNode[], shape: Shape, table: OverrideTable): void {
  const original = node.handle;
  if (!original || !table.has(key)) return;
  const kinds = operands.map((operand) => kindOfCheckedType(operand.checkedType));
  const candidates = kinds.includes(ANY) ? table.candidates(key, kinds) : [];
  // Bound at compile time when the checked kinds settle it: every operand kind is known,
  // or the only candidate takes any value wherever the checker saw `dyn` (`V in list<V>`).
  const settled = !kinds.includes(ANY)
    ? table.find(key, kinds)
    : candidates.length === 1 && candidates[0]!.kinds.every((k, i) => kinds[i] !== ANY || k === ANY)
      ? candidates[0]!.impl
      : undefined;
  if (settled) node.handle = shape(() => settled, original, node);
  else if (candidates.length > 0) node.handle = shape((...values) => table.findForValues(key, values), original, node);
}

// ---------------------------------------------------------------------------------------
// Before checking: where the checker's types differ from CEL's

function prepareForCheck(root: AstNode): void {
  for (const node of collectNodes(root)) {
    if (node.op === 'comprehension') typeEmptyRange(node);
    else if (node.op === 'call' && (node.args as [string])[0] === 'has') fixHasMacro(node);
    else if (node.op === '==' || node.op === '!=') allowAggregateEquality(node);
    else if (node.op === '?:') allowNullBranch(node);
    else if (ACCESS_OPERATORS.has(node.op)) selectFromTypeParameters(node);
  }
}

const ACCESS_OPERATORS = new Set(['.', '.?', '[]', '[?]']);

/**
 * A value typed by an unbound type parameter (an element of `{}`, the value of
 * `optional.none()`) cannot be selected from, says the checker; it can hold anything,
 * so selecting from it is checked as from `dyn` (and from `optional<dyn>` for optionals).
 */
function selectFromTypeParameters(node: AstNode): void {
  const check = node.meta.check;
  node.setMeta('check', (checker, ast, ctx) => {
    try {
      return check(checker, ast, ctx);
    } catch (error) {
      const operand = (node.args as [AstNode])[0];
      const type = operand.checkedType;
      const optionalOfParameter = type?.kind === 'optional' && type.valueType?.kind === 'param';
      const general = type?.kind === 'param' ? 'dyn' : optionalOfParameter ? 'optional' : undefined;
      if (!general) throw error;
      (operand as { checkedType?: CheckedType }).checkedType = checker.getType(general);
      return check(checker, ast, ctx);
    }
  });
}

/**
 * `cond ? 'text' : null` is how Kubernetes documents an audit annotation that may be
 * omitted; cel-go accepts a null branch beside any other type. The checker wants both
 * branches alike, so such a conditional is typed `dyn` instead.
 */
function allowNullBranch(node: AstNode): void {
  const check = node.meta.check;
  node.setMeta('check', (checker, ast, ctx) => {
    try {
      return check(checker, ast, ctx);
    } catch (error) {
      const [, left, right] = (node.args as AstNode[]).map((operand) => operand.checkedType?.name);
      if (left === 'null' || right === 'null') return checker.getType('dyn');
      throw error;
    }
  });
}

/**
 * CEL compares any two lists or any two maps (`[1] == [1.0]` is true, `['a'] == [1]`
 * false); the checker wants identical element types. Its verdict on such a pair is
 * overruled; the comparison itself is the library's (`list<V> == list<V>` in numbers.ts).
 */
function allowAggregateEquality(node: AstNode): void {
  const check = node.meta.check;
  node.setMeta('check', (checker, ast, ctx) => {
    try {
      return check(checker, ast, ctx);
    } catch (error) {
      const [left, right] = (node.args as AstNode[]).map((operand) => operand.checkedType?.kind);
      if (left === right && (left === 'list' || left === 'map')) return checker.getType('bool');
      throw error;
    }
  });
}

/**
 * `[]` and `{}` type as lists and maps of a type parameter, and an operator on the
 * parameter (`[].all(x, x > 0)`) matches several overloads, which the checker rejects.
 * As a comprehension range they contribute no elements, so dyn elements are exact.
 */
function typeEmptyRange(comprehension: AstNode): void {
  const range = (comprehension.args as { iterable: AstNode }).iterable;
  if ((range.op === 'list' || range.op === 'map') && (range.args as unknown[]).length === 0) {
    const dynType = range.op;
    range.setMeta('check', (checker) => checker.getType(dynType));
  }
}

/**
 * CEL's `has(e.f)` takes any expression `e`; the evaluator's macro only a variable's
 * field chain (rejecting `has(object.items[0].name)`), and it reports an empty optional
 * as present (`has({'a': optional.none()}.a.b)`). Both are replaced here.
 */
function fixHasMacro(node: AstNode): void {
  const macro = (node.meta as { macro?: HasMacro }).macro;
  if (!macro?.typeCheck || !macro.evaluate) return;
  macro.typeCheck = checkHas;
  macro.evaluate = evaluateHas;
}

/** The operand must be a field selection; its chain, root last, is kept for evaluation. */
function checkHas(checker: TypeChecker, macro: HasMacro, ctx: unknown): CheckedType {
  let operand = macro.args[0];
  if (operand?.op !== '.') throw checker.createError('invalid_macro_argument', 'has() invalid argument', operand);
  const chain: AstNode[] = [];
  while (operand.op === '.' || operand.op === '.?') {
    chain.push(operand);
    operand = (operand.args as [AstNode])[0];
  }
  checker.check(operand, ctx);
  chain.push(operand);
  macro.macroHasProps ??= chain;
  return checker.getType('bool');
}

/**
 * Walks the chain like the evaluator: a missing field before the last is an error
 * unless an optional selection (`.?`) came first. Selecting from an optional gives an
 * optional, present only if it has a value; an entry holding an empty optional is present.
 */
function evaluateHas(ev: RunningEvaluator, macro: HasMacro, ctx: unknown): boolean {
  const chain = macro.macroHasProps!;
  let i = chain.length - 1;
  let value = ev.run(chain[i]!, ctx);
  let selectedFrom: unknown;
  let optionalChain = false;
  while (i-- > 0) {
    const select = chain[i]!;
    const field = (select.args as [AstNode, string])[1];
    if (select.op === '.?') optionalChain = true;
    selectedFrom = value;
    value = ev.debugType(value).fieldLazy(value, field, select, ev);
    if (value !== undefined) continue;
    if (i > 0 && select.op === '.' && !optionalChain) {
      throw new EvaluationError({ code: 'no_such_key', message: `No such key: ${field}`, node: select as never });
    }
    return false;
  }
  return value instanceof Optional && selectedFrom instanceof Optional ? value.hasValue() : true;
}

// ---------------------------------------------------------------------------------------
// Literals and indexes the evaluator builds differently from CEL

/**
 * Map literals as CEL defines them: keys are int, uint, bool or string, a key may not
 * repeat (`0` and `0u` are the same key), and non-string keys stay what they are (the
 * evaluator turns `{1: 'a'}` into `{'1': 'a'}`), so such maps become Maps; so do maps
 * with keys a plain object cannot hold (the evaluator silently drops those).
 */
function checkMapKeys(node: AstNode): void {
  const entries = node.args as Array<[AstNode, AstNode]>;
  if (entries.length === 0) return;
  node.evaluate = (ev, _ast, ctx) => {
    const run = (n: AstNode): unknown => (ev as RunningEvaluator).run(n, ctx);
    const seen = new Set<string>();
    const built: Array<[unknown, unknown]> = [];
    let stringKeys = true;
    for (const [keyNode, valueNode] of entries) {
      const key = run(keyNode);
      const optional = optionalEntryOperand(valueNode);
      const value = optional ? optionalEntryValue(optional, run) : run(valueNode);
      // An absent optional entry (`{?key: optional.none()}`) is left out.
      if (value === undefined) continue;
      const identity = mapKeyIdentity(key, keyNode);
      if (seen.has(identity)) {
        const message = `repeated key in map literal: ${String(key)}`;
        throw new EvaluationError({ code: 'repeated_map_key', message, node: keyNode as never });
      }
      seen.add(identity);
      stringKeys &&= typeof key === 'string';
      built.push([key, value]);
    }
    return celMap(built, stringKeys);
  };
}

/** One string per distinct CEL key; numeric keys compare by value across int and uint. */
function mapKeyIdentity(key: unknown, node: AstNode): string {
  if (typeof key === 'string') return `s:${key}`;
  if (typeof key === 'bigint') return `n:${key}`;
  if (key instanceof UnsignedInt) return `n:${key.valueOf()}`;
  if (typeof key === 'boolean') return `b:${key}`;
  const kind = key === null ? 'null' : typeof key === 'number' ? 'double' : 'this type';
  const message = `unsupported map key type: ${kind}`;
  throw new EvaluationError({ code: 'unsupported_key_type', message, node: node as never });
}

/**
 * Index keys compare as numbers, not as JS values: `{1: x}[1u]` and `{1u: x}[1]` find the
 * entry, and a list takes a uint or integral double index (`list[dyn(0u)]`).
 */
function matchNumericIndex(node: AstNode): void {
  const original = node.handle;
  const [, keyNode] = node.args as [AstNode, AstNode];
  if (!original || kindOfCheckedType(keyNode.checkedType) === 'string') return;
  node.handle = (container, key, ast, ev) => original(container, numericIndexKey(container, key), ast, ev);
}

function numericIndexKey(container: unknown, key: unknown): unknown {
  const wanted = integralValue(key);
  if (wanted === undefined) return key;
  if (Array.isArray(container) || container instanceof Set) return wanted;
  if (!(container instanceof Map) || container.has(key)) return key;
  for (const candidate of container.keys()) if (integralValue(candidate) === wanted) return candidate;
  return key;
}

function integralValue(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (value instanceof UnsignedInt) return value.valueOf();
  return typeof value === 'number' && Number.isInteger(value) ? BigInt(value) : undefined;
}

const INT_RANGE = { min: -(2n ** 63n), max: 2n ** 63n - 1n };

/** An int literal must fit int64; 9223372036854775808 only as the operand of a minus. */
function checkIntLiteral(node: AstNode, negated: boolean, text: string): void {
  const value = node.args as bigint;
  if (value <= INT_RANGE.max || (negated && value === -INT_RANGE.min)) return;
  const message = `integer literal ${value} is out of the int64 range`;
  throw new CelError('syntax', message, positionAt(text, node.pos), undefined, 'invalid_integer');
}

/**
 * The evaluator stores one byte per character of a bytes literal, so `b'ÿ'` becomes
 * [0xff]; CEL encodes unescaped text as UTF-8 ([0xc3, 0xbf]). Only literals with
 * non-ASCII text differ, and those are decoded again from their source.
 */
function encodeBytesLiteral(node: AstNode, text: string): void {
  const source = text.slice(node.start, node.end);
  if (/^[\x00-\x7f]*$/.test(source)) return;
  const quoteAt = source.search(/["']/);
  const quote = source.startsWith(source[quoteAt]!.repeat(3), quoteAt) ? source[quoteAt]!.repeat(3) : source[quoteAt]!;
  node.args = decodeBytes(source.slice(quoteAt + quote.length, source.length - quote.length));
}

const BYTE_ESCAPES: Readonly<Record<string, number>> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11 };

/** The bytes of a (non-raw) bytes literal body; the evaluator already rejected bad escapes. */
function decodeBytes(body: string): Uint8Array {
  const out: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < body.length; ) {
    const c = body[i]!;
    if (c !== '\\') {
      const code = body.codePointAt(i)!;
      out.push(...encoder.encode(String.fromCodePoint(code)));
      i += code > 0xffff ? 2 : 1;
      continue;
    }
    const next = body[i + 1]!;
    if (next === 'x' || next === 'X') {
      out.push(Number.parseInt(body.slice(i + 2, i + 4), 16));
      i += 4;
    } else if (next >= '0' && next <= '7') {
      out.push(Number.parseInt(body.slice(i + 1, i + 4), 8));
      i += 4;
    } else {
      out.push(BYTE_ESCAPES[next] ?? next.charCodeAt(0)); // \\ \? \" \' \` stand for themselves
      i += 2;
    }
  }
  return Uint8Array.from(out);
}

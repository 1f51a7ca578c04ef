/**
 * The fast path's compiler (see fast-path.ts for the rules it keeps): one checked cel-js
 * tree becomes the source of one JS function, built with `new Function`.
 *
 * Why source and not a tree of closures: closures made by one compiler share their code
 * and V8's type feedback across every expression of every policy, so each field read and
 * call site in them sees all shapes and goes megamorphic. A function per expression gets
 * its own feedback and optimised code: `c.securityContext` becomes one monomorphic load.
 *
 * What goes into the source: generated local names (`t12`), JSON-quoted strings, number
 * and bigint literals. Everything else (nodes, handles, types, helpers) is passed in as a
 * constant, so no text from a policy is ever parsed as code.
 */
import { Optional } from '@marcbachmann/cel-js';
import { assertBudgetLeft, charge } from './cost.js';
import type { AstNode } from './adapter.js';
import { NO_FIELD, lazyFieldsOf, type LazyFieldReader } from './lazy-fields.js';

/** Thrown by generated code when only the evaluator can tell the outcome. Preallocated: bails are frequent. */
export const BAIL: Error = Object.freeze(Object.assign(new Error('CEL fast path bail-out'), { stack: '' })) as Error;

export type FastProgram = (activation: Record<string, unknown>) => unknown;

/** The evaluator instance cel-js passes to every handle; opaque here. */
export type Evaluator = {
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

export interface CompileHooks {
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
export class Unsupported extends Error {}

const unsupported = (node: AstNode, why: string): never => {
  throw new Unsupported(`${node.op}: ${why}`);
};

/** Compiles `root` to a function; throws Unsupported for a node outside the subset. */
export function generateFastProgram(root: AstNode, ev: Evaluator, hooks: CompileHooks): FastProgram {
  const generator = new Generator(ev, hooks);
  const result = generator.emit(root, undefined);
  return generator.finish(result);
}

// ---------------------------------------------------------------------------------------
// Scopes: comprehension and cel.bind variables, resolved lexically at compile time

interface Scope {
  readonly name: string;
  /** The local holding the variable's value. */
  readonly local: string;
  readonly parent: Scope | undefined;
  /** The local of the innermost comprehension's accumulator: what `accuValue` and friends read. */
  readonly accu: string | undefined;
}

function lookup(scope: Scope | undefined, name: string): string | undefined {
  for (let s = scope; s; s = s.parent) if (s.name === name) return s.local;
  return undefined;
}

// ---------------------------------------------------------------------------------------
// Tree shapes the macros keep

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

const RELATIONS: Readonly<Record<string, string | undefined>> = { '==': '===', '!=': '!==', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };
const BINARY = new Set(['==', '!=', '<', '<=', '>', '>=', 'in', '+', '-', '*', '/', '%', '[]', '[?]']);

type PrimitiveKind = 'string' | 'int' | 'double' | 'bool';
const PRIMITIVE_KINDS: readonly PrimitiveKind[] = ['string', 'int', 'double', 'bool'];
/** The `typeof` of each CEL primitive kind's JS value. */
const TYPEOF: Readonly<Record<PrimitiveKind, string>> = { string: 'string', int: 'bigint', double: 'number', bool: 'boolean' };

/** cel-js' `string.startsWith/endsWith/contains(string)`, as JS string methods. */
const STRING_METHODS: Readonly<Record<string, string | undefined>> = Object.assign(Object.create(null), {
  startsWith: 'startsWith',
  endsWith: 'endsWith',
  contains: 'includes',
});

// ---------------------------------------------------------------------------------------
// The generator

class Generator {
  readonly #constants: unknown[] = [];
  readonly #constantNames = new Map<unknown, string>();
  #temps = 0;
  #lines: string[] = [];

  constructor(
    private readonly ev: Evaluator,
    private readonly hooks: CompileHooks,
  ) {}

  finish(result: string): FastProgram {
    const constants = this.#constants.map((_, i) => `k${i} = K[${i}]`).join(', ');
    const source = [
      '"use strict";',
      `const { ${Object.keys(RUNTIME).join(', ')} } = R;`,
      constants ? `const ${constants};` : '',
      'return function celFastPath(activation) {',
      // The identifiers' condition, checked once: a bail where no identifier is read is merely slower.
      "if (typeof activation !== 'object' || activation === null || activation instanceof Map) throw BAIL;",
      ...this.#lines,
      `return ${result};`,
      '};',
    ].join('\n');
    return new Function('K', 'R', 'ev', source)(this.#constants, RUNTIME, this.ev) as FastProgram;
  }

  /** A name for `value` in the generated code. */
  private constant(value: unknown): string {
    let name = this.#constantNames.get(value);
    if (name === undefined) {
      name = `k${this.#constants.length}`;
      this.#constants.push(value);
      this.#constantNames.set(value, name);
    }
    return name;
  }

  private temp(): string {
    return `t${this.#temps++}`;
  }

  private line(code: string): void {
    this.#lines.push(code);
  }

  /** Statements emitted by `fill`, as one block's text. */
  private block(fill: () => void): string {
    const outer = this.#lines;
    this.#lines = [];
    try {
      fill();
      return `{\n${this.#lines.join('\n')}\n}`;
    } finally {
      this.#lines = outer;
    }
  }

  /** A new local holding `code`'s value. */
  private bind(code: string): string {
    const local = this.temp();
    this.line(`const ${local} = ${code};`);
    return local;
  }

  /** The primitive kinds for which the evaluator's own implementation of `key` runs (no library override). */
  private builtInKinds(key: string, arity: 1 | 2): PrimitiveKind[] {
    return PRIMITIVE_KINDS.filter((kind) => !this.hooks.overridden(key, arity === 1 ? [kind] : [kind, kind]));
  }

  /** Emits the statements computing `node`; returns a JS expression (a local or a literal) for its value. */
  emit(node: AstNode, scope: Scope | undefined): string {
    const meta = node.meta;
    // Macro expansions (all, map, ...) and constants (`cel`, `optional`) run their alternate.
    if (meta.alternate) return this.emit(meta.alternate, scope);
    if (meta.macro) return this.macro(node, meta.macro as unknown, scope);
    switch (node.op) {
      case 'value':
        return this.literal(node.args);
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
        // A list with optional elements (optional-entries.ts) evaluates its own way; not mirrored.
        if (isInstrumented(node)) unsupported(node, 'list literal with optional elements');
        return `[${this.operands(node.args as AstNode[], scope).join(', ')}]`;
      case 'map':
        // Map literals with entries build keys as adapter.ts' checkMapKeys does; not mirrored.
        if ((node.args as unknown[]).length > 0) unsupported(node, 'map literal with entries');
        return '{}';
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

  /** Operands into locals, last to first as the evaluator's resolveAstArray does (the order of variable reads). */
  private operands(nodes: readonly AstNode[], scope: Scope | undefined): string[] {
    const locals = new Array<string>(nodes.length);
    for (let i = nodes.length - 1; i >= 0; i--) locals[i] = this.bind(this.emit(nodes[i]!, scope));
    return locals;
  }

  private handleOf(node: AstNode): string {
    const handle = node.handle;
    if (typeof handle !== 'function') unsupported(node, 'no handle');
    // A node whose evaluate was replaced (map literals, loop steps) is handled by its caller.
    if (isInstrumented(node)) unsupported(node, 'instrumented evaluate');
    return this.constant(handle);
  }

  /** Literals are shared across runs, as the evaluator shares them. */
  private literal(value: unknown): string {
    switch (typeof value) {
      case 'string':
        return JSON.stringify(value);
      case 'boolean':
        return String(value);
      case 'bigint':
        return `${value}n`;
      case 'number':
        return Number.isFinite(value) && !Object.is(value, -0) ? String(value) : this.constant(value);
      default:
        return value === null ? 'null' : this.constant(value);
    }
  }

  /**
   * Loop and bind variables by lexical scope; else the activation's entry, which must fit
   * the declared type (the evaluator converts or fails otherwise: bail).
   */
  private identifier(node: AstNode, scope: Scope | undefined): string {
    const name = node.args as string;
    const local = lookup(scope, name);
    if (local) return local;
    const type = node.checkedType as unknown as TypeDecl | undefined;
    if (!type) return unsupported(node, 'unchecked identifier');
    const value = this.bind(`activation[${JSON.stringify(name)}]`);
    if (type.kind === 'dyn') this.line(`if (${value} === undefined) throw BAIL;`);
    else this.line(`if (${value} === undefined || !${this.constant(type)}.matchesValueType(${value}, ev)) throw BAIL;`);
    return value;
  }

  /** `a.f` and `a.?f`: the evaluator's handle receives the field name, not an evaluated operand. */
  private select(node: AstNode, scope: Scope | undefined): string {
    const lowered = this.optionalSelect(node, scope);
    if (lowered) return this.bind(`${lowered.present} ? new Optional(${lowered.value}) : OPTIONAL_NONE`);
    const [operandNode, field] = node.args as [AstNode, string];
    const operand = this.bind(this.emit(operandNode, scope));
    const handle = this.handleOf(node);
    const handleFn = node.handle as Handle;
    const nodeName = this.constant(node);
    const key = JSON.stringify(field);
    // cel-js' `fieldAccess` serves a `dyn` operand; for a plain object holding a plain value
    // its answer is the entry itself. Everything else goes through the handle.
    // A variable of the activation may come with a lazy reader (admission's `variables`, a
    // Proxy on which the plain test would cost three traps): asked first there.
    if (node.op === '.' && handleFn.name === 'fieldAccess') {
      const value = this.temp();
      const plain =
        `if (typeof ${operand} === 'object' && ${operand} !== null && ${operand}.constructor === Object && hasOwn(${operand}, ${key}) && isPlainValue(${value} = ${operand}[${key}])) {}` +
        ` else ${value} = ${handle}(${operand}, ${key}, ${nodeName}, ev);`;
      this.line(`let ${value};`);
      if (isActivationVariable(operandNode, scope)) {
        const read = this.bind(`lazyFieldsOf(activation, ${JSON.stringify(operandNode.args as string)})`);
        this.line(`if (${read} !== undefined) ${value} = lazyField(${read}, ${operand}, ${key}, ${nodeName}, ${handle}, ev); else ${plain}`);
      } else {
        this.line(plain);
      }
      return value;
    }
    return this.bind(`${handle}(${operand}, ${key}, ${nodeName}, ev)`);
  }

  /**
   * `a.?f` by cel-js' `oFieldAccess` (registry.js getOptionalField, then getMapField for a
   * plain object), kept as two locals, present and value, instead of an Optional: a chain
   * `a.?b.?c.orValue(d)` then allocates nothing. Undefined for other nodes.
   *
   * The evaluator unwraps an Optional operand, answers none for an absent one, and for a
   * plain object (a map) gives none for a missing or undefined entry, else the entry when
   * it fits `dyn`. Anything else is the handle's, with the operand it would have received.
   */
  private optionalSelect(node: AstNode, scope: Scope | undefined): { present: string; value: string } | undefined {
    if (node.op !== '.?' || node.meta.alternate || node.meta.macro) return undefined;
    const handleFn = node.handle as Handle | undefined;
    if (typeof handleFn !== 'function' || handleFn.name !== 'oFieldAccess') return undefined;
    const handle = this.handleOf(node);
    const [operandNode, field] = node.args as [AstNode, string];
    const inner = this.optionalSelect(operandNode, scope);
    const present = this.temp();
    const value = this.temp();
    const key = JSON.stringify(field);
    const object = this.temp();
    const viaHandle = (operand: string) =>
      `{ const o = ${handle}(${operand}, ${key}, ${this.constant(node)}, ev); ${present} = o.hasValue(); ${value} = ${present} ? o.value() : undefined; }`;
    const fromObject = (operand: string) =>
      `if (typeof ${operand} === 'object' && ${operand} !== null && ${operand}.constructor === Object) {` +
      ` ${value} = hasOwn(${operand}, ${key}) ? ${operand}[${key}] : undefined;` +
      ` if (${value} === undefined) ${present} = false; else if (isPlainValue(${value})) ${present} = true; else ${viaHandle(operand)} }`;
    this.line(`let ${present}, ${value};`);
    if (inner) {
      this.line(
        `if (!${inner.present}) { ${present} = false; } else { const ${object} = ${inner.value}; ${fromObject(object)}` +
          ` else ${viaHandle(`new Optional(${object})`)} }`,
      );
    } else {
      const operand = this.bind(this.emit(operandNode, scope));
      this.line(`${fromObject(operand)} else ${viaHandle(operand)}`);
    }
    return { present, value };
  }

  private binary(node: AstNode, scope: Scope | undefined): string {
    const [leftNode, rightNode] = node.args as [AstNode, AstNode];
    const left = this.bind(this.emit(leftNode, scope));
    const right = this.bind(this.emit(rightNode, scope));
    const viaHandle = `${this.handleOf(node)}(${left}, ${right}, ${this.constant(node)}, ev)`;
    const relation = RELATIONS[node.op];
    const kinds = relation || node.op === '+' ? this.builtInKinds(node.op, 2) : [];
    // cel-js' overloads for two operands of one primitive kind (overloads.js): equality is
    // `===` (so NaN differs from itself), relations are JS `<` and friends (strings by UTF-16
    // code units, as cel-js compares them), `+` concatenates strings and adds numbers, and an
    // int sum outside int64 is the handle's overflow error. Mixed kinds (int with double: the
    // numbers library's) and kinds a library overrides go to the handle.
    const addable = node.op === '+' ? kinds.filter((kind) => kind !== 'bool') : kinds;
    if (addable.length === 0) return this.bind(viaHandle);
    const value = this.temp();
    const type = this.temp();
    const sameKind = `${type} === typeof ${right} && (${addable.map((kind) => `${type} === '${TYPEOF[kind]}'`).join(' || ')})`;
    this.line(`let ${value}; const ${type} = typeof ${left};`);
    if (relation) {
      this.line(`if (${sameKind}) ${value} = ${left} ${relation} ${right}; else ${value} = ${viaHandle};`);
    } else if (addable.includes('int')) {
      this.line(
        `if (!(${sameKind})) ${value} = ${viaHandle};` +
          ` else if (${type} !== 'bigint') ${value} = ${left} + ${right};` +
          ` else { ${value} = ${left} + ${right}; if (${value} > MAX_INT || ${value} < MIN_INT) ${value} = ${viaHandle}; }`,
      );
    } else {
      this.line(`if (${sameKind}) ${value} = ${left} + ${right}; else ${value} = ${viaHandle};`);
    }
    return value;
  }

  private unary(node: AstNode, scope: Scope | undefined): string {
    const operand = this.bind(this.emit(node.args as AstNode, scope));
    const viaHandle = `${this.handleOf(node)}(${operand}, ${this.constant(node)}, ev)`;
    // `!` on a bool is the evaluator's `!a` unless a library re-declared it.
    if (node.op === '!_' && this.builtInKinds('!_', 1).includes('bool')) {
      return this.bind(`typeof ${operand} === 'boolean' ? !${operand} : ${viaHandle}`);
    }
    return this.bind(viaHandle);
  }

  /**
   * `&&` and `||` with boolean operands. The evaluator absorbs an error on one side when the
   * other side decides; any such case bails, so only the plain short-circuit remains.
   */
  private logical(node: AstNode, scope: Scope | undefined): string {
    const [leftNode, rightNode] = node.args as [AstNode, AstNode];
    const decisive = node.op === '||';
    const left = this.bind(this.emit(leftNode, scope));
    const value = this.temp();
    const right = this.block(() => {
      this.line(`if (${left} !== ${!decisive}) throw BAIL;`);
      const r = this.bind(this.emit(rightNode, scope));
      this.line(`if (typeof ${r} !== 'boolean') throw BAIL;`);
      this.line(`${value} = ${r};`);
    });
    this.line(`let ${value};`);
    this.line(`if (${left} === ${decisive}) ${value} = ${decisive}; else ${right}`);
    return value;
  }

  private conditional(node: AstNode, scope: Scope | undefined): string {
    const [c, a, b] = node.args as [AstNode, AstNode, AstNode];
    const condition = this.bind(this.emit(c, scope));
    const value = this.temp();
    const then = this.block(() => this.line(`${value} = ${this.emit(a, scope)};`));
    const otherwise = this.block(() => this.line(`${value} = ${this.emit(b, scope)};`));
    this.line(`let ${value};`);
    this.line(`if (${condition} === true) ${then} else if (${condition} === false) ${otherwise} else throw BAIL;`);
    return value;
  }

  private call(node: AstNode, scope: Scope | undefined): string {
    const [name, argNodes] = node.args as [string, AstNode[]];
    const args = this.operands(argNodes, scope);
    const handle = this.handleOf(node);
    const viaHandle = `${handle}([${args.join(', ')}], ${this.constant(node)}, ev)`;
    if (name === 'size' && args.length === 1 && this.sizeIsBuiltIn('size()')) return this.size(args[0]!, argNodes[0]!, viaHandle);
    return this.bind(viaHandle);
  }

  /**
   * cel-js' `size` (code points of a string, length of a list, entries of a plain map),
   * after the run-time typing its overload lookup does (which may throw).
   */
  private size(operand: string, operandNode: AstNode, viaHandle: string): string {
    if (typedAtRunTime(operandNode)) this.line(`ev.debugTypeDeep(${operand});`);
    const value = this.temp();
    this.line(`let ${value} = builtInSize(${operand}); if (${value} === NOT_DIRECT) ${value} = ${viaHandle};`);
    return value;
  }

  private methodCall(node: AstNode, scope: Scope | undefined): string {
    const operandNodes = node.receiverWithArgs;
    if (!operandNodes) return unsupported(node, 'unchecked method call');
    const name = (node.args as [string])[0];
    // A bail-out re-runs the whole expression: a call the outside world sees must run once.
    if (IMPURE_METHODS.has(name)) return unsupported(node, 'method with side effects');
    const operands = this.operands(operandNodes, scope);
    const handle = this.handleOf(node);
    const viaHandle = `${handle}([${operands.join(', ')}], ev, ${this.constant(node)})`;
    // The string methods the evaluator implements itself, and `size()`, computed directly
    // where cel-js' run-time lookup (`callRecFn`, for a `dyn` receiver) would find its
    // built-in: no library replaced the method and the operands have the built-in's kinds.
    const arity = operands.length - 1;
    if ((node.handle as Handle).name !== 'callRecFn' || this.hooks.methodHooked(name, arity)) return this.bind(viaHandle);
    if (arity === 0 && name === 'size') return this.size(operands[0]!, operandNodes[0]!, viaHandle);
    const method = arity === 1 ? STRING_METHODS[name] : undefined;
    if (!method) return this.bind(viaHandle);
    const [receiver, arg] = operands as [string, string];
    return this.bind(`typeof ${receiver} === 'string' && typeof ${arg} === 'string' ? ${receiver}.${method}(${arg}) : ${viaHandle}`);
  }

  /** Whether `size(x)` / `x.size()` of a string, list or plain map is the evaluator's own. */
  private sizeIsBuiltIn(key: string): boolean {
    return !['string', 'list', 'map'].some((kind) => this.hooks.overridden(key, [kind]));
  }

  // -------------------------------------------------------------------------------------
  // Macros that keep their own evaluate (the others expand into comprehensions)

  private macro(node: AstNode, macro: unknown, scope: Scope | undefined): string {
    const optional = macro as Partial<OptionalMacro>;
    if (optional.functionDesc === 'optional.orValue(value)') return this.orValue(optional as OptionalMacro, scope);
    if (optional.functionDesc === 'optional.or(optional)') return this.or(optional as OptionalMacro, scope);
    const bind = macro as Partial<BindMacro>;
    if (node.op === 'rcall' && (node.args as [string])[0] === 'bind' && bind.bindCtx && bind.exp && bind.val) {
      return this.celBind(bind as BindMacro, scope);
    }
    const has = macro as Partial<HasMacro>;
    // adapter.ts replaces the evaluator's has() by evaluateHas; that is the one mirrored here.
    if (has.macroHasProps && has.evaluate?.name === 'evaluateHas') return this.has(has as HasMacro, scope);
    return unsupported(node, 'macro not supported');
  }

  private orValue(macro: OptionalMacro, scope: Scope | undefined): string {
    const value = this.temp();
    const fallback = this.block(() => this.line(`${value} = ${this.emit(macro.arg, scope)};`));
    const lowered = this.optionalSelect(macro.receiver, scope);
    if (lowered) {
      this.line(`let ${value};`);
      this.line(`if (${lowered.present}) ${value} = ${lowered.value}; else ${fallback}`);
      return value;
    }
    const optional = this.bind(this.emit(macro.receiver, scope));
    this.line(`if (!(${optional} instanceof Optional)) throw BAIL;`);
    this.line(`let ${value};`);
    this.line(`if (${optional}.hasValue()) ${value} = ${optional}.value(); else ${fallback}`);
    return value;
  }

  private or(macro: OptionalMacro, scope: Scope | undefined): string {
    const optional = this.bind(this.emit(macro.receiver, scope));
    const value = this.temp();
    const alternative = this.block(() => {
      const other = this.bind(this.emit(macro.arg, scope));
      this.line(`if (!(${other} instanceof Optional)) throw BAIL;`);
      this.line(`${value} = ${other};`);
    });
    this.line(`if (!(${optional} instanceof Optional)) throw BAIL;`);
    this.line(`let ${value};`);
    this.line(`if (${optional}.hasValue()) ${value} = ${optional}; else ${alternative}`);
    return value;
  }

  /** `cel.bind(v, value, body)`: the value must fit the type the checker gave it, as the evaluator insists. */
  private celBind(macro: BindMacro, scope: Scope | undefined): string {
    const bound = this.bind(this.emit(macro.val, scope));
    this.line(`if (!${this.constant(macro.bindCtx.iterType)}.matchesValueType(${bound}, ev)) throw BAIL;`);
    return this.emit(macro.exp, { name: macro.var, local: bound, parent: scope, accu: scope?.accu });
  }

  /** adapter.ts' evaluateHas, by hasChain. */
  private has(macro: HasMacro, scope: Scope | undefined): string {
    const chain = macro.macroHasProps;
    const root = this.bind(this.emit(chain[chain.length - 1]!, scope));
    const selects = chain.slice(0, -1).map((select) => ({ optional: select.op === '.?', field: (select.args as [AstNode, string])[1], select }));
    return this.bind(`hasChain(${root}, ${this.constant(selects)}, ev)`);
  }

  // -------------------------------------------------------------------------------------
  // Comprehensions

  /**
   * The evaluator's loop (operators.js runQualifier/runComprehension) with adapter.ts'
   * metering: the budget is checked before the loop and every iteration charges the size
   * of the step before running it. Quantifiers (all, exists) absorb errors of single
   * iterations in the evaluator; any error here bails instead.
   *
   * The step's value becomes the loop's accumulator; `accuValue`, `accuInc` and `accuPush`
   * work on a second local that starts from the same init, as the evaluator's scope does.
   */
  private comprehension(node: AstNode, scope: Scope | undefined): string {
    const args = node.args as ComprehensionArgs;
    this.handleOf(node);
    if (!args.errorsAreFatal && !args.condition) unsupported(node, 'quantifier without condition');
    const range = this.bind(this.emit(args.iterable, scope));
    this.line('assertBudgetLeft();');
    const items = this.bind(`iterationItems(${range})`);
    const accu = this.temp();
    const scopeAccu = this.temp();
    const item = this.temp();
    const index = this.temp();
    this.line(`let ${accu} = ${this.loopInit(args.init)};`);
    this.line(`let ${scopeAccu} = ${accu};`);
    const condition = args.condition ? this.constant(args.condition) : undefined;
    const body = this.block(() => {
      if (condition) this.line(`if (!${condition}(${accu})) break;`);
      this.line(`const ${item} = ${items}[${index}];`);
      this.line(`if (!${this.constant(args.iterCtx.iterType)}.matchesValueType(${item}, ev)) throw BAIL;`);
      this.line(`charge(${this.hooks.stepCost(args.step)});`);
      this.line(`${accu} = ${this.emit(args.step, { name: args.iterVarName, local: item, parent: scope, accu: scopeAccu })};`);
    });
    this.line(`for (let ${index} = 0; ${index} < ${items}.length; ${index}++) ${body}`);
    return this.bind(`${this.constant(args.result)}(${accu})`);
  }

  /** The macros start loops from a literal: a bool, a number, or an empty list (a new one per run). */
  private loopInit(init: AstNode): string {
    if (init.meta.alternate || init.meta.macro) return unsupported(init, 'loop init');
    if (init.op === 'value') return this.literal(init.args);
    if (init.op === 'list' && (init.args as unknown[]).length === 0) return '[]';
    return unsupported(init, 'loop init');
  }

  private accumulator(node: AstNode, scope: Scope | undefined): string {
    const accu = scope?.accu;
    if (!accu) return unsupported(node, 'accumulator outside a loop');
    if (node.op === 'accuValue') return this.bind(accu);
    if (node.op === 'accuInc') {
      this.line(`if (typeof ${accu} !== 'number') throw BAIL;`);
      this.line(`${accu} += 1;`);
      return this.bind(accu);
    }
    const element = this.bind(this.emit(node.args as AstNode, scope));
    this.line(`if (!Array.isArray(${accu})) throw BAIL;`);
    this.line(`${accu}.push(${element});`);
    return this.bind(accu);
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

// ---------------------------------------------------------------------------------------
// What generated code calls

/** What a direct computation answers when the operands are not its kinds: the handle decides. */
const NOT_DIRECT: unique symbol = Symbol('not direct');

/**
 * A field of an object with a lazy reader, as cel-js' `fieldAccess` finds it on an object
 * whose constructor is Object: the own entry, checked by `debugType` (which throws for a
 * value of no CEL type); a missing or undefined entry is its "No such key" error. The
 * entry is read once, as the evaluator reads it once.
 */
function lazyField(read: LazyFieldReader, left: unknown, field: string, node: AstNode, handle: Handle, ev: Evaluator): unknown {
  const value = read(field);
  if (value === NO_FIELD) return handle(left, field, node, ev);
  if (value === undefined) throw BAIL;
  // debugType accepts every plain value without a look-up; asked only for the others.
  if (!isPlainValue(value)) ev.debugType(value);
  return value;
}

/** Whether adapter.ts replaced the node's own evaluate (map and list literals, loop steps). */
function isInstrumented(node: AstNode): boolean {
  return Object.hasOwn(node, 'evaluate') && node.evaluate !== node.meta.evaluate;
}

/** Whether `node` reads a variable of the activation (not a loop or bind variable). */
function isActivationVariable(node: AstNode, scope: Scope | undefined): boolean {
  return node.op === 'id' && !node.meta.alternate && !node.meta.macro && lookup(scope, node.args as string) === undefined;
}

/**
 * adapter.ts' evaluateHas: walk the selection chain (innermost select last) with the
 * evaluator's field lookup; where it would raise "No such key", bail.
 */
function hasChain(root: unknown, selects: readonly { optional: boolean; field: string; select: AstNode }[], ev: Evaluator): boolean {
  let value = root;
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

/** What a comprehension iterates: list elements, or map keys (operators.js toIterable). */
function iterationItems(range: unknown): readonly unknown[] {
  if (Array.isArray(range)) return range;
  if (range instanceof Set) return [...range];
  if (range instanceof Map) return [...range.keys()];
  if (range !== null && typeof range === 'object') return Object.keys(range);
  throw BAIL;
}

const RUNTIME = {
  BAIL,
  NOT_DIRECT,
  lazyFieldsOf,
  lazyField,
  MAX_INT: 2n ** 63n - 1n,
  MIN_INT: -(2n ** 63n),
  Optional,
  OPTIONAL_NONE: Optional.none(),
  hasOwn: Object.hasOwn,
  hasChain,
  builtInSize,
  isPlainValue,
  iterationItems,
  assertBudgetLeft,
  charge,
};

/**
 * The shape of one policy's `variables`, worked out once per policy load: the property
 * descriptors that make `variables.NAME` lazy, and which variables may share their value
 * with same-defined variables of other policies evaluated for the same request.
 *
 * Sharing is what makes a request cheap under a library like the Pod Security Standards:
 * twenty policies define `podSpec`, `containers`, ... with the same text, so the values are
 * the same for one object. A variable is shareable only when its value can depend on
 * nothing but `object`, `oldObject` and other shareable variables (see `shareKeyOf`).
 */
import type { NamedExpression } from './policies.js';
import { NO_FIELD, type LazyFieldReader } from '../../cel/lazy-fields.js';

/** Where a `variables` object keeps the Evaluation that computes its values. */
const OWNER: unique symbol = Symbol('celgate.admission.variables');

export interface VariableOwner {
  /** The value of variable `index`, evaluated on first use; throws its CelError. */
  variable(index: number): unknown;
}

export interface VariableLayout {
  readonly indexOf: ReadonlyMap<string, number>;
  /**
   * Per variable: equal keys (across policies) mean "same value for the same object and
   * oldObject"; undefined when the value may depend on params, request, namespaceObject,
   * authorizer or a variable that does.
   */
  readonly shareKeys: readonly (number | undefined)[];
  /**
   * A new `variables` object whose values `owner` computes on first read, and the reader
   * of its entries an activation offers the CEL fast path (src/cel/lazy-fields.ts).
   */
  valuesFor(owner: VariableOwner): { readonly values: Record<string, unknown>; readonly read: LazyFieldReader };
}

/**
 * A variable value computed by one policy evaluation, offered to the next ones. `reads`
 * are the variables its evaluation read, in order, with the values it saw: a reuse is
 * exact only when the reusing evaluation sees the same values (and has the budget).
 */
export interface SharedValue {
  readonly value: unknown;
  /** Cost units the expression itself spent (its variables' costs excluded). */
  readonly ownCost: number;
  readonly reads: readonly (readonly [name: string, value: unknown])[];
}

/** Per request (validating phase): share key → value. */
export type SharedValues = Map<number, SharedValue>;

/**
 * Share keys are long texts; the per-request lookups use a number per distinct text
 * instead. Equal texts get equal numbers while the table lasts; after a reset (policy
 * sets come and go in a long-running server) old and new layouts merely share less.
 */
const keyNumbers = new Map<string, number>();
const MAX_KEY_NUMBERS = 100_000;
let nextKeyNumber = 0;

function keyNumber(key: string): number {
  let number = keyNumbers.get(key);
  if (number === undefined) {
    if (keyNumbers.size >= MAX_KEY_NUMBERS) keyNumbers.clear();
    number = nextKeyNumber++;
    keyNumbers.set(key, number);
  }
  return number;
}

const layouts = new WeakMap<readonly NamedExpression[], VariableLayout>();

/** The layout of a policy's variables (the compiled, frozen list is the cache key). */
export function layoutOf(variables: readonly NamedExpression[]): VariableLayout {
  let layout = layouts.get(variables);
  if (!layout) {
    layout = buildLayout(variables);
    layouts.set(variables, layout);
  }
  return layout;
}

function buildLayout(variables: readonly NamedExpression[]): VariableLayout {
  const names = variables.map((v) => v.name);
  const indexOf = new Map(names.map((name, index) => [name, index]));
  const keys = new Map<string, string | undefined>();
  // With a duplicate name (a load issue) a name no longer tells which definition is read: share nothing.
  const distinct = indexOf.size === names.length;
  const shareKeys = names.map((name) => {
    const key = distinct ? shareKeyOf(name, variables, indexOf, keys, new Set()) : undefined;
    return key === undefined ? undefined : keyNumber(key);
  });
  const handler = valuesHandler(indexOf);
  return {
    indexOf,
    shareKeys,
    valuesFor: (owner) => ({
      values: new Proxy({ [OWNER]: owner }, handler) as unknown as Record<string, unknown>,
      read: fieldReader(indexOf, owner),
    }),
  };
}

type ValuesTarget = { [OWNER]: VariableOwner };

/**
 * `variables.NAME` for the CEL fast path (src/cel/lazy-fields.ts): what the `get` trap
 * answers for a variable's name, without the three traps (constructor, own descriptor,
 * get) the evaluator's field lookup costs.
 */
function fieldReader(indexOf: ReadonlyMap<string, number>, owner: VariableOwner): LazyFieldReader {
  return (name) => {
    const index = indexOf.get(name);
    return index === undefined ? NO_FIELD : owner.variable(index);
  };
}

/**
 * `variables` as seen by CEL: one own, enumerable, lazily computed property per variable
 * (the evaluator reads fields with hasOwn then get). A Proxy costs one allocation per
 * evaluation where defining getters on a fresh object cost microseconds; every other key
 * (constructor, symbols) is the plain target's, so the object still looks like a map.
 */
function valuesHandler(indexOf: ReadonlyMap<string, number>): ProxyHandler<ValuesTarget> {
  // Distinct names (a duplicate is a load issue; the last definition wins).
  const names = [...indexOf.keys()];
  const descriptors = new Map(
    names.map((name) => [
      name,
      {
        enumerable: true,
        configurable: true,
        get(this: Record<string, unknown>) {
          return this[name];
        },
      } satisfies PropertyDescriptor,
    ]),
  );
  return {
    get(target, key, receiver) {
      const index = typeof key === 'string' ? indexOf.get(key) : undefined;
      return index === undefined ? Reflect.get(target, key, receiver) : target[OWNER].variable(index);
    },
    has: (target, key) => (typeof key === 'string' && indexOf.has(key)) || Reflect.has(target, key),
    getOwnPropertyDescriptor: (target, key) => (typeof key === 'string' ? descriptors.get(key) : undefined) ?? Reflect.getOwnPropertyDescriptor(target, key),
    ownKeys: (target) => [...names, ...Reflect.ownKeys(target)],
    // The map is read-only, as the getters it stands for were.
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
  };
}

/**
 * Identifiers that make a value depend on more than the object: params and request differ
 * per binding and matched kind; namespaceObject and authorizer consult the outside.
 * Matching the bare words anywhere (even in string literals) only shares less.
 */
const UNSHAREABLE = /\b(?:params|request|namespaceObject|authorizer)\b/;
const VARIABLE_READ = /\bvariables\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)/g;
const VARIABLES_WORD = /\bvariables\b/g;

function shareKeyOf(
  name: string,
  variables: readonly NamedExpression[],
  indexOf: ReadonlyMap<string, number>,
  keys: Map<string, string | undefined>,
  visiting: Set<string>,
): string | undefined {
  if (keys.has(name)) return keys.get(name);
  const index = indexOf.get(name);
  // A read of a variable the policy does not define fails the same way everywhere.
  if (index === undefined) return '\u0001undefined';
  // A cycle fails at run time; never share it.
  if (visiting.has(name)) return undefined;
  visiting.add(name);
  const { expression } = variables[index]!;
  let key: string | undefined;
  if (expression.program && !UNSHAREABLE.test(expression.text)) {
    const reads = [...expression.text.matchAll(VARIABLE_READ)].map((m) => m[1]!);
    // `variables` used other than as `variables.NAME` (indexing, passing the map) is not analysed.
    const words = expression.text.match(VARIABLES_WORD)?.length ?? 0;
    if (words === reads.length) {
      const parts = [...new Set(reads)].sort().map((read) => [read, shareKeyOf(read, variables, indexOf, keys, visiting)] as const);
      if (parts.every(([, k]) => k !== undefined)) key = JSON.stringify([expression.text, parts]);
    }
  }
  visiting.delete(name);
  keys.set(name, key);
  return key;
}

/**
 * Kubernetes' quantity library (k8s.io/apiserver/pkg/cel/library, Kubernetes 1.29+):
 * `quantity(string)`, `isQuantity(string)`, the global `sign(Quantity)`, and the
 * members isInteger, asInteger, asApproximateFloat, add, sub, isGreaterThan,
 * isLessThan and compareTo. `==` compares values, so quantity('1Gi') == quantity('1024Mi').
 *
 * Not offered, as in Kubernetes: `string(Quantity)`, ordering operators, and the
 * `mul`/`div` functions proposed upstream but not released.
 */
import type { CelLibrary } from '../library.js';
import { CelFunctionError } from '../errors.js';
import { charge } from '../cost.js';
import {
  addAmounts,
  approximateFloat,
  asInt64,
  compareAmounts,
  int64Amount,
  signOf,
  subtractAmounts,
  type Amount,
} from './quantity-amount.js';
import { parseQuantity } from './quantity-parse.js';

export const QUANTITY_TYPE = 'kubernetes.Quantity';

/** A CEL `kubernetes.Quantity`. Immutable; the amount is private so field access finds nothing. */
export class Quantity {
  readonly #amount: Amount;

  constructor(amount: Amount) {
    this.#amount = amount;
  }

  static amountOf(quantity: Quantity): Amount {
    return quantity.#amount;
  }

  get celTypeName(): string {
    return QUANTITY_TYPE;
  }
}

/** Parses like Kubernetes' quantity(); throws its error message for invalid text. */
export function quantityOf(text: string): Quantity {
  const parsed = parseQuantity(text);
  if (parsed.error !== undefined) throw new CelFunctionError(parsed.error);
  return new Quantity(parsed.amount);
}

/** Kubernetes charges a string traversal (0.1 per character) for parsing. */
function chargeParse(text: string): void {
  charge(Math.ceil(text.length * 0.1));
}

const amountOf = (quantity: Quantity): Amount => Quantity.amountOf(quantity);
const compare = (a: Quantity, b: Quantity): bigint => BigInt(compareAmounts(amountOf(a), amountOf(b)));

function asInteger(quantity: Quantity): bigint {
  const value = asInt64(amountOf(quantity));
  if (value === undefined) throw new CelFunctionError('cannot convert value to integer');
  return value;
}

const plus = (a: Quantity, b: Amount): Quantity => new Quantity(addAmounts(amountOf(a), b));
const minus = (a: Quantity, b: Amount): Quantity => new Quantity(subtractAmounts(amountOf(a), b));

export const quantityLibrary: CelLibrary = {
  name: 'quantity',
  register(r) {
    const Q = QUANTITY_TYPE;
    r.type(Q, Quantity);
    r.fn(`quantity(string): ${Q}`, (text: string) => {
      chargeParse(text);
      return quantityOf(text);
    });
    r.fn('isQuantity(string): bool', (text: string) => {
      chargeParse(text);
      return parseQuantity(text).error === undefined;
    });
    // Kubernetes declares sign as a global overload: sign(q) compiles, q.sign() does not.
    r.fn(`sign(${Q}): int`, (q: Quantity) => BigInt(signOf(amountOf(q))));
    r.fn(`${Q}.isInteger(): bool`, (q: Quantity) => asInt64(amountOf(q)) !== undefined);
    r.fn(`${Q}.asInteger(): int`, asInteger);
    r.fn(`${Q}.asApproximateFloat(): double`, (q: Quantity) => approximateFloat(amountOf(q)));
    r.fn(`${Q}.add(${Q}): ${Q}`, (a: Quantity, b: Quantity) => plus(a, amountOf(b)));
    r.fn(`${Q}.add(int): ${Q}`, (a: Quantity, b: bigint) => plus(a, int64Amount(b)));
    r.fn(`${Q}.sub(${Q}): ${Q}`, (a: Quantity, b: Quantity) => minus(a, amountOf(b)));
    r.fn(`${Q}.sub(int): ${Q}`, (a: Quantity, b: bigint) => minus(a, int64Amount(b)));
    r.fn(`${Q}.isGreaterThan(${Q}): bool`, (a: Quantity, b: Quantity) => compare(a, b) === 1n);
    r.fn(`${Q}.isLessThan(${Q}): bool`, (a: Quantity, b: Quantity) => compare(a, b) === -1n);
    r.fn(`${Q}.compareTo(${Q}): int`, compare);
    r.operator(`${Q} == ${Q}`, (a: Quantity, b: Quantity) => compare(a, b) === 0n);
  },
};

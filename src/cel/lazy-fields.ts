/**
 * A protocol for map-like objects whose entries are computed on first read (admission's
 * `variables`): the object carries a reader under LAZY_FIELDS, so the CEL fast path can
 * read `variables.NAME` with one call instead of going through a Proxy's traps.
 *
 * The reader must answer exactly what the evaluator's field lookup would find: the
 * entry's value (computing it on first use, throwing what its failure throws), or
 * NO_FIELD when the object has no such own entry.
 */
export const LAZY_FIELDS: unique symbol = Symbol('celgate.cel.lazyFields');

/** The reader's answer for a name the object does not define. */
export const NO_FIELD: unique symbol = Symbol('celgate.cel.noField');

export type LazyFieldReader = (name: string) => unknown;

/** The reader an object offers, if any. */
export function lazyFieldsOf(value: object): LazyFieldReader | undefined {
  return (value as { [LAZY_FIELDS]?: LazyFieldReader })[LAZY_FIELDS];
}

/**
 * A protocol for activation variables that are map-like objects whose entries are computed
 * on first read (admission's `variables`, a Proxy): the activation carries, under
 * LAZY_FIELDS, a reader for such a variable's entries, so the CEL fast path reads
 * `variables.NAME` with one call instead of the Proxy's traps. The reader sits on the
 * activation, not on the Proxy, because reading any property of a Proxy costs a trap.
 *
 * A reader must answer exactly what the evaluator's field lookup on the variable would
 * find: the entry's value (computing it on first use, throwing what its failure throws),
 * or NO_FIELD when the object has no such own entry.
 */
export const LAZY_FIELDS: unique symbol = Symbol('celgate.cel.lazyFields');

/** The reader's answer for a name the object does not define. */
export const NO_FIELD: unique symbol = Symbol('celgate.cel.noField');

export type LazyFieldReader = (name: string) => unknown;

/** What an activation carries under LAZY_FIELDS: variable name → reader of its entries. */
export type LazyFields = Readonly<Record<string, LazyFieldReader>>;

/** The reader the activation offers for its variable `name`, if any. */
export function lazyFieldsOf(activation: object, name: string): LazyFieldReader | undefined {
  const lazy = (activation as { [LAZY_FIELDS]?: LazyFields })[LAZY_FIELDS];
  return lazy !== undefined && Object.hasOwn(lazy, name) ? lazy[name] : undefined;
}

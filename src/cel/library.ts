/**
 * How a CEL library (one file under `lib/`) adds itself to the environment. Libraries
 * speak only this interface, never the evaluator underneath, so the evaluator can be
 * replaced by rewriting `adapter.ts` alone.
 *
 * Signatures use CEL's notation: `name(int, string): bool` for a global function,
 * `string.name(int): bool` for a method on a receiver, and `ns.name(T): T` for a
 * function in a namespace declared with `namespace('ns')` (such as `math.greatest`).
 * Values are the evaluator's CEL values: bigint for int, number for double, string,
 * boolean, null, Uint8Array for bytes, arrays, plain objects or Maps for maps.
 */

// CEL values are dynamically typed; a library function receives what the checker allowed.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CelFunction = (...args: any[]) => unknown;

export interface LibraryRegistrar {
  /** Declares a function overload. */
  fn(signature: string, impl: CelFunction): void;
  /** Declares a namespace identifier (e.g. `math`, `sets`, `base64`). */
  namespace(name: string): void;
  /** Declares a value type that library functions return (e.g. `net.IP`, `kubernetes.Quantity`). */
  type(name: string, ctor: abstract new (...args: never[]) => unknown): void;
  /** Declares an operator overload, e.g. `int == double` (relational operators return bool). */
  operator(signature: string, impl: CelFunction): void;
  /**
   * Gives a method a different implementation, for the evaluator's built-ins whose
   * semantics differ from Kubernetes' (e.g. `matches` must use RE2). `arity` counts
   * the arguments after the receiver.
   */
  replaceMethod(name: string, arity: number, impl: CelFunction): void;
  /**
   * Lets a method precompute from literal arguments at compile time (e.g. compile a
   * regex once). `prepare` gets the arguments after the receiver, `undefined` where an
   * argument is not a literal; it may throw CelFunctionError to reject the expression at
   * compile time, and may return a faster implementation taking all arguments.
   */
  specializeMethod(name: string, arity: number, prepare: (literals: readonly unknown[]) => CelFunction | undefined): void;
}

export interface CelLibrary {
  readonly name: string;
  register(registrar: LibraryRegistrar): void;
}

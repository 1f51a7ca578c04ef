/** Argument checks shared by the libraries, for methods that may receive `dyn` values at run time. */
import { CelFunctionError } from '../errors.js';

export function noSuchOverload(fn: string, detail: string): CelFunctionError {
  return new CelFunctionError(`no such overload: ${fn} ${detail}`, 'no_such_overload');
}

export function requireString(value: unknown, fn: string): string {
  if (typeof value !== 'string') throw noSuchOverload(fn, 'expects a string');
  return value;
}

export function requireInt(value: unknown, fn: string): bigint {
  if (typeof value !== 'bigint') throw noSuchOverload(fn, 'expects an int');
  return value;
}

/** A CEL int as a JS number, refusing values beyond what a string or list index can be. */
export function intToIndex(value: bigint, fn: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new CelFunctionError(`${fn}: index ${value} out of range`, 'index_out_of_range');
  }
  return Number(value);
}

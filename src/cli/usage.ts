/** Exit codes shared by every command, and the usage error that maps to code 2. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const EXIT_OK = 0;
/** A policy decision or check failed (a deny, a lint problem, an evaluation error). */
export const EXIT_FAILED = 1;
/** The command was used wrongly, or its inputs did not load. */
export const EXIT_USAGE = 2;

export class UsageError extends Error {}

/** A subcommand; its one-line summary lives in main.ts's index, which loads it only when chosen. */
export interface Command {
  readonly name: string;
  readonly help: string;
  run(args: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly positionals: string[];
}

/** node:util parseArgs with `--help` added and its errors turned into usage errors. */
export function parseCommandArgs(args: string[], options: Options): ParsedArgs {
  try {
    const parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    return parsed as ParsedArgs;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Prints `help` when `--help` was given; the command then returns EXIT_OK. */
export function helpRequested(values: { readonly help?: unknown }, help: string): boolean {
  if (values.help !== true) return false;
  console.log(help);
  return true;
}

/** For commands that take no positional arguments: the first one is a usage error. */
export function refusePositionals(positionals: readonly string[]): void {
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
}

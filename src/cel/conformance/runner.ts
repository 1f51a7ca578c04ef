/**
 * Runs the CEL specification's conformance cases through `CelEnvironment`, the same
 * environment policies compile in, with every Kubernetes library loaded.
 *
 * A case passes when its outcome matches the file's expectation: the value (compared
 * as simple.proto defines), an error (any error: messages differ between
 * implementations), or the checked type. Cases that need protobuf messages are
 * skipped; every other case that cannot run here fails, with the reason.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CelEnvironment, type Program } from '../environment.js';
import { CelError } from '../errors.js';
import { isCelIdentifier } from '../syntax.js';
import { describeValue, sameResult } from './equality.js';
import { protoNeedOfExpression } from './requirements.js';
import { parseConformanceFile, type ConformanceTest } from './testfile.js';
import { isMessage, stringOf, type TextMessage } from './textproto.js';
import { celTypeString, normalizeTypeString } from './types.js';
import { NeedsProtoMessages, Unrepresentable, celValueOf } from './values.js';

export type CaseStatus = 'pass' | 'fail' | 'skip';

export interface CaseResult {
  readonly name: string;
  readonly expr: string;
  readonly status: CaseStatus;
  /** Why it failed or was skipped. */
  readonly reason?: string;
}

export interface FileResult {
  /** The file's base name without `.textproto`, e.g. `basic`. */
  readonly file: string;
  readonly cases: readonly CaseResult[];
  readonly pass: number;
  readonly fail: number;
  readonly skip: number;
}

/** The files whose pass rate is the bar celgate holds itself to. */
export const BAR_FILES: readonly string[] = Object.freeze([
  'basic',
  'comparisons',
  'conversions',
  'dynamic',
  'fields',
  'fp_math',
  'integer_math',
  'lists',
  'logic',
  'macros',
  'namespace',
  'parse',
  'plumbing',
  'string',
  'timestamps',
  'optionals',
  'bindings_ext',
  'string_ext',
  'math_ext',
  'encoders_ext',
  'network_ext',
]);

const EXTENSION = '.textproto';

/** The conformance files in `dir`, by base name, sorted. */
export function listConformanceFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(EXTENSION))
    .map((f) => basename(f, EXTENSION))
    .sort();
}

/** Runs every case of one file. Throws only when the file cannot be read or parsed. */
export function runConformanceFile(dir: string, file: string): FileResult {
  const text = readFileSync(join(dir, `${file}${EXTENSION}`), 'utf8');
  let parsed: ReturnType<typeof parseConformanceFile>;
  try {
    parsed = parseConformanceFile(text);
  } catch (error) {
    throw new Error(`${file}${EXTENSION}: ${(error as Error).message}`);
  }
  const cases = parsed.sections.flatMap((section) => section.tests.map(runCase));
  return {
    file,
    cases,
    pass: cases.filter((c) => c.status === 'pass').length,
    fail: cases.filter((c) => c.status === 'fail').length,
    skip: cases.filter((c) => c.status === 'skip').length,
  };
}

export function runCase(test: ConformanceTest): CaseResult {
  const verdict = (status: CaseStatus, reason?: string): CaseResult => ({
    name: test.name,
    expr: test.expr,
    status,
    ...(reason === undefined ? {} : { reason }),
  });
  try {
    const outcome = decide(test);
    return verdict(outcome.status, outcome.reason);
  } catch (error) {
    if (error instanceof NeedsProtoMessages) return verdict('skip', `needs protobuf messages: ${error.message}`);
    if (error instanceof Unrepresentable) return verdict('fail', error.message);
    return verdict('fail', `runner could not run the case: ${(error as Error).message}`);
  }
}

interface Outcome {
  readonly status: CaseStatus;
  readonly reason?: string;
}

const PASS: Outcome = { status: 'pass' };
const fail = (reason: string): Outcome => ({ status: 'fail', reason });

function decide(test: ConformanceTest): Outcome {
  const protoNeed = protoNeedOfExpression(test);
  if (protoNeed !== undefined) throw new NeedsProtoMessages(protoNeed);
  // Conversions first: they throw NeedsProtoMessages for message-typed data.
  const variables = declarationsOf(test);
  const activation = activationOf(test);
  const expected = expectedOf(test);
  if (test.disableMacros) return fail('runner cannot disable macro expansion');
  if (test.expected.kind === 'unknown') return fail('unknown-set results (partial evaluation) are not supported');

  // An environment that rejects the declarations throws: a runner failure, not an outcome.
  const compiled = new CelEnvironment({ variables }).tryCompile(test.expr);
  if (compiled.error) return compileFailure(test, compiled.error);
  const program = compiled.program;

  if (expected.type !== undefined) {
    const actual = normalizeTypeString(program.resultType);
    if (actual !== expected.type) return fail(`checked type ${actual}, expected ${expected.type}`);
  }
  if (test.checkOnly) return PASS;
  return compareEvaluation(program, activation, test, expected.value);
}

/**
 * A check error satisfies an expected error: the spec's own cases expect checker errors
 * through `eval_error` (network_ext's `is_ip_cidr_compile_error`), and unchecked cases
 * expect the error a checker would have found earlier. Any other compile error fails.
 */
function compileFailure(test: ConformanceTest, error: CelError): Outcome {
  if (error.kind === 'type' && test.expected.kind === 'error') return PASS;
  return fail(`${error.kind === 'type' ? 'check' : error.kind} error: ${error.summary}`);
}

const NO_RESULT = Symbol('no result');

function compareEvaluation(
  program: Program,
  activation: Record<string, unknown>,
  test: ConformanceTest,
  expected: unknown,
): Outcome {
  let actual: unknown = NO_RESULT;
  let error: CelError | undefined;
  try {
    actual = program.evaluate(activation);
  } catch (e) {
    error = e instanceof CelError ? e : new CelError('evaluation', String((e as Error)?.message ?? e));
  }
  if (test.expected.kind === 'error') {
    return error ? PASS : fail(`expected an error, got ${describeValue(actual)}`);
  }
  if (error) return fail(`${error.kind} error: ${error.summary}`);
  if (expected === NO_EXPECTED_VALUE) return PASS;
  return sameResult(actual, expected) ? PASS : fail(`got ${describeValue(actual)}, expected ${describeValue(expected)}`);
}

// ---------------------------------------------------------------------------------------
// The case's environment, activation and expectation in celgate's terms

/**
 * Each declared or bound variable, typed from `type_env` (else `dyn`). Names CEL could
 * never reference (reserved words) are left out; qualified names (`x.y`) are left out
 * too, because the evaluator has no qualified identifiers, so cases using them fail.
 */
function declarationsOf(test: ConformanceTest): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const decl of test.typeEnv) {
    const name = stringOf(decl.get('name')) ?? '';
    if (decl.has('function')) throw new UnsupportedCase(`declares function ${name}, which the runner cannot provide`);
    const ident = decl.get('ident');
    const type = isMessage(ident) ? ident.get('type') : undefined;
    if (isCelIdentifier(name)) variables[name] = isMessage(type) ? celTypeString(type) : 'dyn';
  }
  for (const name of test.bindings.keys()) if (isCelIdentifier(name) && !(name in variables)) variables[name] = 'dyn';
  return variables;
}

function activationOf(test: ConformanceTest): Record<string, unknown> {
  const activation: Record<string, unknown> = {};
  for (const [name, exprValue] of test.bindings) {
    const value = exprValue.get('value');
    if (!isMessage(value)) throw new UnsupportedCase(`binding ${name} is an error or unknown, not a value`);
    if (isCelIdentifier(name)) activation[name] = celValueOf(value);
    else celValueOf(value); // still converted, so message-typed bindings mark the case as skipped
  }
  return activation;
}

const NO_EXPECTED_VALUE = Symbol('no expected value');

interface Expected {
  readonly value: unknown;
  readonly type?: string;
}

function expectedOf(test: ConformanceTest): Expected {
  const e = test.expected;
  switch (e.kind) {
    case 'value':
      return { value: celValueOf(e.value) };
    case 'typed':
      return {
        value: e.value ? celValueOf(e.value) : NO_EXPECTED_VALUE,
        ...(e.type ? { type: normalizeTypeString(celTypeString(e.type as TextMessage)) } : {}),
      };
    default:
      return { value: NO_EXPECTED_VALUE };
  }
}

/** The case uses a conformance feature the runner does not offer. */
class UnsupportedCase extends Error {}

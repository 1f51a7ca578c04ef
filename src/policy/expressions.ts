/**
 * Where each kind keeps its CEL, and compiling all of it with file:line positions.
 * The variables each face declares are the ones DESIGN.md lists.
 */
import { CelEnvironment, positionInFile, type Program } from '../cel/index.js';
import type { Face } from './kinds.js';
import type { PolicyIssue } from './issues.js';
import type { PolicyResource } from './load.js';
import { rewriteAndCheck } from './object-literals.js';

/** Variables of admission CEL, as Kubernetes declares them. */
export const ADMISSION_VARIABLES = Object.freeze({
  object: 'dyn',
  oldObject: 'dyn',
  request: 'dyn',
  params: 'dyn',
  namespaceObject: 'dyn',
  variables: 'dyn',
  authorizer: 'dyn',
});

/** Variables of authorization CEL: Envoy's attribute vocabulary plus celgate's auth and context. */
export const AUTHZ_VARIABLES = Object.freeze({
  request: 'dyn',
  source: 'dyn',
  destination: 'dyn',
  connection: 'dyn',
  auth: 'dyn',
  context: 'dyn',
});

const environments = new Map<Face, CelEnvironment>();

export function environmentFor(face: Face): CelEnvironment {
  let env = environments.get(face);
  if (!env) {
    env = new CelEnvironment({ variables: face === 'admission' ? ADMISSION_VARIABLES : AUTHZ_VARIABLES });
    environments.set(face, env);
  }
  return env;
}

type PathPattern = readonly (string | '*')[];

/** CEL-bearing fields by kind; `*` stands for every index of a list. */
const EXPRESSION_FIELDS: Readonly<Record<string, readonly PathPattern[]>> = {
  ValidatingAdmissionPolicy: [
    ['spec', 'matchConditions', '*', 'expression'],
    ['spec', 'variables', '*', 'expression'],
    ['spec', 'validations', '*', 'expression'],
    ['spec', 'validations', '*', 'messageExpression'],
    ['spec', 'auditAnnotations', '*', 'valueExpression'],
  ],
  MutatingAdmissionPolicy: [
    ['spec', 'matchConditions', '*', 'expression'],
    ['spec', 'variables', '*', 'expression'],
    ['spec', 'mutations', '*', 'applyConfiguration', 'expression'],
    ['spec', 'mutations', '*', 'jsonPatch', 'expression'],
  ],
};

export interface ExpressionField {
  readonly path: readonly (string | number)[];
  readonly text: string;
}

/** Every CEL expression in a resource with its concrete field path. */
export function expressionFields(resource: PolicyResource): ExpressionField[] {
  const patterns = EXPRESSION_FIELDS[resource.type.kind] ?? [];
  const found: ExpressionField[] = [];
  for (const pattern of patterns) collect(resource.value, pattern, [], found);
  return found;
}

function collect(value: unknown, pattern: PathPattern, path: (string | number)[], out: ExpressionField[]): void {
  if (pattern.length === 0) {
    if (typeof value === 'string') out.push({ path, text: value });
    return;
  }
  const [head, ...rest] = pattern;
  if (head === '*') {
    if (Array.isArray(value)) value.forEach((item, i) => collect(item, rest, [...path, i], out));
  } else if (typeof value === 'object' && value !== null) {
    collect((value as Record<string, unknown>)[head!], rest, [...path, head!], out);
  }
}

export function fieldName(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** One CEL field of a resource, compiled: a program, or the error already recorded as an issue. */
export type CompiledField = {
  readonly field: string;
  readonly file: string;
  /** Where the expression starts in the file. */
  readonly line: number;
  readonly column: number;
} & ({ readonly program: Program; readonly error?: undefined } | { readonly program?: undefined; readonly error: string });

/**
 * Compiles the CEL text at `path` in the resource's face environment, with its file:line origin;
 * a failure becomes an issue at the exact file:line:col. Every engine compiles its fields here.
 */
export function compileField(resource: PolicyResource, path: readonly (string | number)[], text: string, issues: PolicyIssue[]): CompiledField {
  const field = fieldName(path);
  const file = resource.document.file;
  const start = resource.document.contentPositionOf(path);
  const at = { field, file, line: start.line, column: start.column };
  // Mutating policies construct Object{...} and JSONPatch{...} values (see object-literals.ts).
  const rewritten = resource.type.kind === 'MutatingAdmissionPolicy' ? rewriteAndCheck(text) : { text };
  if (rewritten.error !== undefined) {
    issues.push({ file, line: start.line, column: start.column, message: rewritten.error, field });
    return { ...at, error: rewritten.error };
  }
  const result = environmentFor(resource.type.face).tryCompile(rewritten.text, { file, line: start.line, column: start.column, indent: start.indent, field });
  if (result.program) return { ...at, program: result.program };
  const { line, column } = positionInFile(start, result.error.position, start.indent);
  issues.push({ file, line, column, message: result.error.summary, field });
  return { ...at, error: result.error.summary };
}

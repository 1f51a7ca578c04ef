/**
 * Where each kind keeps its CEL, and compiling all of it with file:line positions.
 * The variables each face declares are the ones DESIGN.md lists.
 */
import { CelEnvironment, positionInFile, type CelError, type Program } from '../cel/index.js';
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

export interface CompiledExpression {
  readonly field: string;
  readonly program: Program;
}

/** Compiles every expression of a resource; each failure becomes an issue at its file:line:col. */
export function compileExpressions(resource: PolicyResource, issues: PolicyIssue[]): CompiledExpression[] {
  const env = environmentFor(resource.type.face);
  const compiled: CompiledExpression[] = [];
  for (const { path, text } of expressionFields(resource)) {
    const field = fieldName(path);
    const start = resource.document.contentPositionOf(path);
    const origin = { file: resource.document.file, line: start.line, column: start.column, indent: start.indent, field };
    // Mutating policies construct Object{...} and JSONPatch{...} values (see object-literals.ts).
    const rewritten = resource.type.kind === 'MutatingAdmissionPolicy' ? rewriteAndCheck(text) : { text };
    if (rewritten.error !== undefined) {
      issues.push({ file: resource.document.file, line: start.line, column: start.column, message: rewritten.error, field });
      continue;
    }
    const result = env.tryCompile(rewritten.text, origin);
    if (result.program) {
      compiled.push({ field, program: result.program });
    } else {
      issues.push(issueFromCelError(result.error, resource, field, start));
    }
  }
  return compiled;
}

function issueFromCelError(
  error: CelError,
  resource: PolicyResource,
  field: string,
  start: { line: number; column: number; indent: number },
): PolicyIssue {
  const { line, column } = positionInFile(start, error.position, start.indent);
  return { file: resource.document.file, line, column, message: error.summary, field };
}

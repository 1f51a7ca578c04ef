/**
 * CEL conditions of AccessPolicy: compiled once with file:line origins, evaluated against
 * the request's shared activation under the decision's cost budget. A non-boolean result
 * or an evaluation error is recorded and counts as "not matched"; the combiner then fails
 * closed unless failOpen was asked for.
 */
import { CelError, type Program } from '../../cel/index.js';
import { compileField, fieldName, type PolicyIssue, type PolicyResource } from '../../policy/index.js';
import type { RequestView } from './attributes.js';
import type { FieldPath } from './issue.js';
import type { EvalContext } from './policy.js';

export interface Condition {
  readonly policy: string;
  readonly field: string;
  readonly file: string;
  readonly line: number;
  readonly program: Program;
}

export function compileCondition(resource: PolicyResource, issues: PolicyIssue[], policy: string, value: unknown, path: FieldPath): Condition | undefined {
  const field = fieldName(path);
  const file = resource.document.file;
  if (typeof value !== 'string') {
    const { line, column } = resource.document.positionOf(path);
    issues.push({ file, line, column, message: 'condition must be a CEL expression (a string)', field });
    return undefined;
  }
  const compiled = compileField(resource, path, value, issues);
  if (!compiled.program) return undefined;
  if (compiled.program.resultType !== 'bool' && compiled.program.resultType !== 'dyn') {
    issues.push({ file, line: compiled.line, column: compiled.column, message: `condition must evaluate to bool, not ${compiled.program.resultType}`, field });
    return undefined;
  }
  return { policy, field, file, line: compiled.line, program: compiled.program };
}

/** True when the condition holds; false when it does not or could not be evaluated. */
export function holds(condition: Condition, view: RequestView, ctx: EvalContext): boolean {
  let outcome: 'true' | 'false' | 'error';
  let detail: string | undefined;
  try {
    const value = condition.program.evaluate(view.activation, { meter: ctx.meter });
    if (typeof value === 'boolean') outcome = value ? 'true' : 'false';
    else {
      outcome = 'error';
      detail = `${condition.file}:${condition.line}: ${condition.field} returned a non-boolean value`;
    }
  } catch (error) {
    outcome = 'error';
    detail = error instanceof CelError ? error.message : `${condition.file}:${condition.line}: ${(error as Error).message}`;
  }
  if (detail) ctx.errors.push(`${condition.policy}: ${detail}`);
  ctx.onExpression?.({ policy: condition.policy, field: condition.field, file: condition.file, line: condition.line, outcome });
  return outcome === 'true';
}

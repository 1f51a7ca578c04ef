/**
 * Evaluating one ValidatingAdmissionPolicy for one binding and param, as kube-apiserver's
 * validator does: matchConditions, then every validation (with message, messageExpression
 * and reason), then auditAnnotations.
 */
import { CostMeter, PER_EVALUATION_COST_BUDGET, celTypeName } from '../../cel/index.js';
import { Evaluation, OUT_OF_BUDGET, type RequestContext } from './activation.js';
import type { FailurePolicy, NamedExpression, PolicyExpression, Validation, ValidatingPolicy } from './policies.js';

export interface ValidationDecision {
  readonly action: 'admit' | 'deny';
  readonly error: boolean;
  readonly message: string;
  /** A Kubernetes StatusReason; empty for evaluation errors. */
  readonly reason: string;
  /** Index into spec.validations; -1 for errors not tied to one validation. */
  readonly expressionIndex: number;
  /** file:line of the expression that decided; absent for validations that admitted. */
  readonly source?: string;
}

export type AnnotationResult =
  | { readonly key: string; readonly value: string; readonly error?: undefined }
  /** An annotation that failed: it denies the request (failurePolicy Ignore drops evaluation errors before this). */
  | { readonly key: string; readonly error: string };

export interface ValidateResult {
  /** False when a matchCondition excluded the request. */
  readonly matched: boolean;
  readonly decisions: readonly ValidationDecision[];
  readonly annotations: readonly AnnotationResult[];
}

/** kube-apiserver limit on a messageExpression result (celconfig.MaxEvaluatedMessageExpressionSizeBytes). */
const MAX_MESSAGE_BYTES = 5 * 1024;

export interface EvaluationInput {
  readonly object: unknown;
  readonly oldObject: unknown;
  readonly request: unknown;
  readonly params: unknown;
}

const where = (e: PolicyExpression): string => `${e.file}:${e.line}`;

/** Evaluates matchConditions: undefined when all hold, else skip or an error text. */
export function evaluateMatchConditions(evaluation: Evaluation, conditions: readonly NamedExpression[]): { skip: true; source: string } | { error: string; source: string } | undefined {
  // Most policies have none; the lists below are made only for errors.
  if (conditions.length === 0) return undefined;
  let errors: string[] | undefined;
  let firstError: PolicyExpression | undefined;
  // kube-apiserver evaluates every condition, then: any false skips, else any error fails.
  let falseCondition: PolicyExpression | undefined;
  for (let i = 0; i < conditions.length; i++) {
    const expression = conditions[i]!.expression;
    const result = evaluation.run(expression);
    if (result.error !== undefined) {
      (errors ??= []).push(result.error);
      firstError ??= expression;
    } else if (result.value === false) {
      falseCondition ??= expression;
    }
  }
  if (falseCondition) return { skip: true, source: where(falseCondition) };
  if (errors) return { error: errors.length === 1 ? errors[0]! : `[${errors.join(', ')}]`, source: where(firstError!) };
  return undefined;
}

export function validatePolicy(context: RequestContext, policy: ValidatingPolicy, binding: string, input: EvaluationInput): ValidateResult {
  const failAction = actionForError(policy.failurePolicy);
  const scope = { policy: policy.name, binding };
  const evaluation = new Evaluation(context, new CostMeter(PER_EVALUATION_COST_BUDGET), scope, input, policy.variables);
  const matched = evaluateMatchConditions(evaluation, policy.matchConditions);
  if (matched && 'skip' in matched) return { matched: false, decisions: [], annotations: [] };
  if (matched) {
    return { matched: true, decisions: [{ action: failAction, error: true, message: matched.error, reason: '', expressionIndex: -1, source: matched.source }], annotations: [] };
  }

  const decisions: ValidationDecision[] = [];
  const validations = policy.validations;
  for (let index = 0; index < validations.length; index++) {
    const validation = validations[index]!;
    const result = evaluation.run(validation.expression);
    if (result.error === undefined && result.value === true) {
      // Admitted: nothing reads where it came from (the common case, so no source text is made).
      decisions.push({ action: 'admit', error: false, message: '', reason: '', expressionIndex: index });
      continue;
    }
    const source = where(validation.expression);
    if (result.error !== undefined) {
      if (result.outOfBudget) {
        // The server stops and reports one error for the whole policy.
        return { matched: true, decisions: [{ action: failAction, error: true, message: OUT_OF_BUDGET, reason: '', expressionIndex: -1, source }], annotations: [] };
      }
      decisions.push({ action: failAction, error: true, message: result.error, reason: '', expressionIndex: index, source });
    } else {
      decisions.push({ action: 'deny', error: false, message: failureMessage(evaluation, validation), reason: validation.reason, expressionIndex: index, source });
    }
  }

  if (policy.auditAnnotations.length === 0) return { matched: true, decisions, annotations: [] };
  // Audit annotations run with a budget of their own, as in kube-apiserver.
  const annotationEvaluation = new Evaluation(context, new CostMeter(PER_EVALUATION_COST_BUDGET), scope, input, policy.variables);
  const annotations: AnnotationResult[] = [];
  for (const { key, valueExpression } of policy.auditAnnotations) {
    const result = annotationEvaluation.run(valueExpression);
    if (result.error !== undefined) {
      if (policy.failurePolicy === 'Fail') annotations.push({ key, error: result.error });
    } else if (typeof result.value === 'string') {
      const value = result.value.trim();
      if (value !== '') annotations.push({ key, value });
    } else if (result.value !== null && result.value !== undefined) {
      annotations.push({
        key,
        // An unsupported type is an error whatever the failurePolicy (AuditAnnotationActionError).
        error: `valueExpression '${valueExpression.text}' resulted in unsupported return type: ${celTypeName(result.value)}. Return type must be either string or null.`,
      });
    }
  }
  return { matched: true, decisions, annotations };
}

/** messageExpression if it gives one usable line, else message, else `failed expression: EXPR`. */
function failureMessage(evaluation: Evaluation, validation: Validation): string {
  if (validation.messageExpression) {
    const result = evaluation.run(validation.messageExpression);
    if (result.error === undefined && typeof result.value === 'string') {
      const message = result.value.trim();
      if (message !== '' && Buffer.byteLength(message) <= MAX_MESSAGE_BYTES && !message.includes('\n')) return message;
    }
  }
  const message = validation.message?.trim();
  if (message) return message;
  return `failed expression: ${validation.expression.text.trim()}`;
}

function actionForError(failurePolicy: FailurePolicy): 'admit' | 'deny' {
  return failurePolicy === 'Ignore' ? 'admit' : 'deny';
}

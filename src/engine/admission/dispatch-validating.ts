/**
 * Running every ValidatingAdmissionPolicy against a request, as kube-apiserver's
 * validating dispatcher does: match policy then binding, collect params, validate, and
 * turn each failed validation into the binding's validationActions (Deny, Warn, Audit).
 */
import type { RequestContext } from './activation.js';
import { candidatesFor } from './candidates.js';
import type { CelObjects } from './conversion.js';
import { matchRequest, requestNamespace, requestShape } from './match.js';
import { configErrorMessage, warningMessage } from './messages.js';
import { collectParams } from './params.js';
import type { Binding, ValidatingPolicy } from './policies.js';
import type { EvaluationResult, GroupVersionKind, PolicyEvaluation } from './types.js';
import { validatePolicy } from './validate.js';

export interface Denial {
  readonly policy: string;
  readonly binding?: string;
  readonly message: string;
  readonly reason: string;
}

export interface AuditFailure {
  readonly message: string;
  readonly policy: string;
  readonly binding: string;
  readonly expressionIndex: number;
  readonly validationActions: readonly string[];
}

/** What the validating pass accumulates across policies. */
export interface ValidatingOutcome {
  readonly denials: Denial[];
  readonly warnings: string[];
  readonly auditFailures: AuditFailure[];
  /** `POLICY/KEY` → distinct values. */
  readonly annotations: Map<string, Set<string>>;
  readonly evaluations: PolicyEvaluation[];
}

const KIND = 'ValidatingAdmissionPolicy';

export function runValidatingPolicies(
  policies: readonly ValidatingPolicy[],
  context: RequestContext,
  /** The object and oldObject as the version a policy matched sees them (see conversion.ts). */
  objectsFor: (matched: GroupVersionKind) => CelObjects,
  outcome: ValidatingOutcome,
): void {
  const { request, cluster } = context;
  const record = (policy: string, binding: string, result: EvaluationResult, message?: string, source?: string): void => {
    const evaluation: { -readonly [K in keyof PolicyEvaluation]: PolicyEvaluation[K] } = { policy, binding, kind: KIND, result };
    // Absent rather than undefined, as before; assigned rather than spread (this runs per policy).
    if (message !== undefined) evaluation.message = message;
    if (source) evaluation.source = source;
    outcome.evaluations.push(evaluation);
  };
  const configError = (policy: ValidatingPolicy, binding: Binding | undefined, error: string): void => {
    const message = configErrorMessage(error, binding !== undefined);
    record(policy.name, binding?.name ?? '', 'error', message, `${(binding ?? policy).file}:${(binding ?? policy).line}`);
    if (policy.failurePolicy === 'Fail') outcome.denials.push({ policy: policy.name, ...(binding ? { binding: binding.name } : {}), message, reason: '' });
  };

  const shape = requestShape(request);
  for (const policy of candidatesFor(policies, request)) {
    if (policy.bindings.length === 0) continue;
    const match = matchRequest(policy.match, request, cluster, shape);
    if (match.error !== undefined) {
      configError(policy, undefined, match.error);
      continue;
    }
    if (!match.matches) continue;
    const requestCel = context.requestValue(match.kind, match.resource);
    const objects = objectsFor(match.kind);
    // Made on the first annotation: most policies have none.
    let annotationValues: Map<string, Set<string>> | undefined;

    for (const binding of policy.bindings) {
      const bound = matchRequest(binding.match, request, cluster, shape);
      if (bound.error !== undefined) {
        configError(policy, binding, bound.error);
        continue;
      }
      if (!bound.matches) continue;
      const params = collectParams(policy.paramKind, binding.paramRef, requestNamespace(request), cluster);
      if (params.error !== undefined) {
        configError(policy, binding, params.error);
        continue;
      }
      if (params.params.length === 0) record(policy.name, binding.name, 'skip', 'no params found for the binding (parameterNotFoundAction Allow)');

      for (const param of params.params) {
        const result = validatePolicy(context, policy, binding.name, { object: objects.object, oldObject: objects.oldObject, request: requestCel, params: param });
        if (!result.matched) {
          record(policy.name, binding.name, 'skip');
          continue;
        }
        let verdict: EvaluationResult = 'pass';
        let first: { message: string; source?: string } | undefined;
        const decisions = result.decisions;
        for (let index = 0; index < decisions.length; index++) {
          const decision = decisions[index]!;
          if (decision.action === 'admit') {
            if (decision.error && verdict === 'pass') {
              verdict = 'error';
              first ??= firstFailure(decision.message, decision.source);
            }
            continue;
          }
          first ??= firstFailure(decision.message, decision.source);
          for (const action of binding.validationActions) {
            if (action === 'Deny') {
              outcome.denials.push({ policy: policy.name, binding: binding.name, message: decision.message, reason: decision.reason });
              verdict = 'deny';
            } else if (action === 'Warn') {
              outcome.warnings.push(warningMessage(policy.name, binding.name, decision.message));
              if (verdict !== 'deny') verdict = 'warn';
            } else {
              outcome.auditFailures.push({
                message: decision.message,
                policy: policy.name,
                binding: binding.name,
                expressionIndex: index,
                validationActions: binding.validationActions,
              });
              if (verdict !== 'deny' && verdict !== 'warn') verdict = 'audit';
            }
          }
        }
        for (const annotation of result.annotations) {
          if (annotation.error !== undefined) {
            // An annotation that fails denies, whatever the binding's validationActions.
            outcome.denials.push({ policy: policy.name, binding: binding.name, message: annotation.error, reason: '' });
            verdict = 'deny';
            first ??= { message: annotation.error };
          } else {
            annotationValues ??= new Map();
            const values = annotationValues.get(annotation.key) ?? new Set<string>();
            values.add(annotation.value);
            annotationValues.set(annotation.key, values);
          }
        }
        record(policy.name, binding.name, verdict, first?.message, first?.source);
      }
    }
    if (annotationValues) for (const [key, values] of annotationValues) outcome.annotations.set(`${policy.name}/${key}`, values);
  }
}

/** The message (and source, when known) an evaluation record shows for its first failure. */
function firstFailure(message: string, source: string | undefined): { message: string; source?: string } {
  return source ? { message, source } : { message };
}

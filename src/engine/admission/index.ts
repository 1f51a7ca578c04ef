/**
 * The admission engine: Kubernetes ValidatingAdmissionPolicy and MutatingAdmissionPolicy
 * with kube-apiserver's semantics. Compile once (`compileAdmissionPolicies`), then
 * `admit` each request against the immutable result.
 */
import { requestContext } from './activation.js';
import { REASON_CODES } from './compile.js';
import { objectsByVersion } from './conversion.js';
import { runValidatingPolicies, type ValidatingOutcome } from './dispatch-validating.js';
import { MAX_AUDIT_ANNOTATION_VALUE_LENGTH, VALIDATION_FAILURE_ANNOTATION, deniedMessage, forbiddenMessage, goJson } from './messages.js';
import { runMutatingPolicies } from './mutate.js';
import type { AdmissionPolicies } from './policies.js';
import type { AdmissionDecision, AdmissionRequest, AdmitOptions, PolicyEvaluation } from './types.js';

export { compileAdmissionPolicies } from './compile.js';
export { clusterStateFrom } from './cluster.js';
export type { AdmissionPolicies } from './policies.js';
export * from './types.js';

/**
 * Decides one request: mutations (phase mutate/both), then validations on the result
 * (validate/both). As in kube-apiserver, each policy evaluation (policy × binding × param)
 * runs under its own PER_EVALUATION_COST_BUDGET, and each expression under
 * PER_EXPRESSION_COST_LIMIT.
 */
export function admit(policies: AdmissionPolicies, request: AdmissionRequest, options: AdmitOptions): AdmissionDecision {
  const context = requestContext(request, options.cluster, options.decider, options.onExpression);
  const evaluations: PolicyEvaluation[] = [];
  let current = request;
  let patch: AdmissionDecision['patch'] = null;
  let patchedObject: unknown = null;

  if (options.phase !== 'validate' && policies.mutating.length > 0) {
    const mutated = runMutatingPolicies(policies.mutating, context, evaluations, options.kubernetesDefaults !== false);
    if (mutated.denial) {
      return {
        allowed: false,
        status: mutated.denial,
        warnings: [],
        auditAnnotations: {},
        patch: null,
        patchedObject: null,
        evaluations,
      };
    }
    if (mutated.patch) {
      patch = mutated.patch;
      patchedObject = mutated.object;
      current = { ...request, object: mutated.object };
    }
  }

  const outcome: ValidatingOutcome = { denials: [], warnings: [], auditFailures: [], annotations: new Map(), evaluations };
  if (options.phase !== 'mutate' && policies.validating.length > 0) {
    const validatingContext = context.forValidation(current);
    runValidatingPolicies(policies.validating, validatingContext, objectsByVersion(current), outcome);
  }

  const auditAnnotations: Record<string, string> = {};
  for (const [key, values] of outcome.annotations) {
    const value = [...values].sort().join(', ');
    auditAnnotations[key] = truncateBytes(value, MAX_AUDIT_ANNOTATION_VALUE_LENGTH);
  }
  if (outcome.auditFailures.length > 0) auditAnnotations[VALIDATION_FAILURE_ANNOTATION] = goJson(outcome.auditFailures);

  const denial = outcome.denials[0];
  if (denial) {
    const reason = denial.reason || 'Invalid';
    return {
      allowed: false,
      status: {
        code: REASON_CODES[reason] ?? 422,
        reason,
        message: forbiddenMessage(current, deniedMessage('ValidatingAdmissionPolicy', denial.policy, denial.binding, denial.message)),
      },
      warnings: outcome.warnings,
      auditAnnotations,
      patch,
      patchedObject,
      evaluations,
    };
  }
  return { allowed: true, warnings: outcome.warnings, auditAnnotations, patch, patchedObject, evaluations };
}

function truncateBytes(value: string, limit: number): string {
  const bytes = Buffer.from(value);
  return bytes.length <= limit ? value : bytes.subarray(0, limit).toString();
}

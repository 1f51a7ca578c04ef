/**
 * Running MutatingAdmissionPolicies, as kube-apiserver's mutating policy dispatcher does:
 * every matching policy × binding × param, each mutation in order on the object as the
 * previous ones left it; then, if anything changed, one reinvocation round for the
 * IfNeeded policies invoked before the last change. Errors are collected and, unless
 * the policy's failurePolicy is Ignore, deny the request.
 */
import jsonpatch from 'fast-json-patch';
import { CostMeter, PER_EVALUATION_COST_BUDGET, celTypeName, fromJson, toJson } from '../../cel/index.js';
import { fromJsonReusing, roundTripJson } from '../../cel/values.js';
import { Evaluation, type RequestContext } from './activation.js';
import { applyConfiguration, cloneJson, deepEqual, shareUnchanged } from './apply-configuration.js';
import { candidatesFor } from './candidates.js';
import { convertObject, needsConversion, type CelObjects } from './conversion.js';
import { withKubernetesDefaults } from './defaults.js';
import { matchRequest, requestNamespace, requestShape } from './match.js';
import { configErrorMessage } from './messages.js';
import { collectParams } from './params.js';
import type { Binding, Mutation, MutatingPolicy } from './policies.js';
import type { AdmissionStatus, GroupVersionKind, JsonPatchOperation, PolicyEvaluation } from './types.js';
import { evaluateMatchConditions } from './validate.js';

export interface MutatingOutcome {
  readonly denial?: AdmissionStatus;
  /** Present only when the object changed. */
  readonly patch?: readonly JsonPatchOperation[];
  readonly object?: unknown;
}

interface Invocation {
  readonly policy: MutatingPolicy;
  readonly binding: Binding;
  readonly param: unknown;
  readonly request: unknown;
  /** The kind the policy matched: the request's, or an equivalent version's (matchPolicy Equivalent). */
  readonly kind: GroupVersionKind;
  /** Identifies policy × binding × param for reinvocation. */
  readonly key: string;
}

interface PolicyError {
  readonly policy: MutatingPolicy;
  readonly binding?: Binding;
  readonly message: string;
  readonly reason: string;
}

const KIND = 'MutatingAdmissionPolicy';

export function runMutatingPolicies(policies: readonly MutatingPolicy[], context: RequestContext, evaluations: PolicyEvaluation[], kubernetesDefaults: boolean): MutatingOutcome {
  // Nothing to mutate without an object (DELETE, CONNECT).
  if (typeof context.request.object !== 'object' || context.request.object === null) return {};
  // The object as JSON data (a copy the mutations may share structure with) and its CEL form, in one walk.
  const start = roundTripJson(context.request.object);
  const original = start.json;
  let object = original;
  // CEL forms, converted once: oldObject never changes, object only when a mutation changes it.
  const celOld = fromJson(context.request.oldObject ?? null);
  let converted = { json: original, cel: start.cel };
  const celObjects = (json: unknown): CelObjects => {
    // Every object here is left as it was made (changes make new ones), so the parts a new one
    // shares with the last converted one keep their CEL form.
    if (converted.json !== json) converted = { json, cel: fromJsonReusing(json, converted.json, converted.cel) };
    return { object: converted.cel, oldObject: celOld };
  };
  const allErrors: PolicyError[] = [];
  const record = (policy: string, binding: string, result: PolicyEvaluation['result'], message?: string, source?: string): void => {
    evaluations.push({ policy, binding, kind: KIND, result, ...(message !== undefined ? { message } : {}), ...(source ? { source } : {}) });
  };

  const invocationsFor = (current: unknown, round: 1 | 2): Invocation[] => {
    const request = { ...context.request, object: current };
    const out: Invocation[] = [];
    // Configuration errors are reported once, from the first round.
    const errors = round === 1 ? allErrors : [];
    const shape = requestShape(request);
    for (const policy of candidatesFor(policies, request)) {
      if (policy.bindings.length === 0) continue;
      const match = matchRequest(policy.match, request, context.cluster, shape);
      if (match.error !== undefined) {
        errors.push({ policy, message: configErrorMessage(match.error, false), reason: '' });
        continue;
      }
      if (!match.matches) continue;
      const requestCel = context.requestValue(match.kind, match.resource);
      for (const binding of policy.bindings) {
        const bound = matchRequest(binding.match, request, context.cluster, shape);
        if (bound.error !== undefined) {
          errors.push({ policy, binding, message: configErrorMessage(bound.error, true), reason: '' });
          continue;
        }
        if (!bound.matches) continue;
        const params = collectParams(policy.paramKind, binding.paramRef, requestNamespace(request), context.cluster);
        if (params.error !== undefined) {
          errors.push({ policy, binding, message: configErrorMessage(params.error, true), reason: '' });
          continue;
        }
        params.params.forEach((param, i) => out.push({ policy, binding, param, request: requestCel, kind: match.kind, key: `${policy.name}\u0000${binding.name}\u0000${i}` }));
      }
    }
    return out;
  };

  // Round one: every invocation, every mutation. A change marks the IfNeeded mutations
  // invoked before it for reinvocation (not the one that made the change).
  const invoked = new Set<string>();
  const reinvoke = new Set<string>();
  let changedAny = false;
  const runRound = (round: 1 | 2): void => {
    for (const invocation of invocationsFor(object, round)) {
      invocation.policy.mutations.forEach((mutation, index) => {
        const key = `${invocation.key}\u0000${index}`;
        if (round === 2 && !reinvoke.has(key)) return;
        const result = needsConversion(context.request.kind, invocation.kind)
          ? mutateConverted(context, invocation, mutation, object)
          : mutateOnce(context, invocation, mutation, object, celObjects(object));
        if ('error' in result) {
          allErrors.push({ policy: invocation.policy, binding: invocation.binding, message: result.error, reason: 'Invalid' });
          record(invocation.policy.name, invocation.binding.name, 'error', result.error, result.source);
          return;
        }
        // A mutation whose matchConditions excluded the request still counts as invoked.
        const changed = 'skip' in result ? false : !deepEqual(object, result.object);
        if ('skip' in result) record(invocation.policy.name, invocation.binding.name, 'skip', undefined, result.source);
        else record(invocation.policy.name, invocation.binding.name, 'pass', changed ? 'mutated the object' : 'no change', result.source);
        if (changed && !('skip' in result)) {
          // kube-apiserver's dispatcher defaults the patched object before the next policy sees it
          // (whether it changed is decided before that, as here).
          object = kubernetesDefaults ? withKubernetesDefaults(result.object) : result.object;
          changedAny = true;
          for (const k of invoked) reinvoke.add(k);
        }
        if (round === 1 && invocation.policy.reinvocationPolicy === 'IfNeeded') invoked.add(key);
      });
    }
  };
  runRound(1);
  if (changedAny && reinvoke.size > 0) runRound(2);

  const failing = allErrors.filter((e) => e.policy.failurePolicy === 'Fail');
  const first = failing[0];
  if (first) {
    // The generic policy dispatcher: admission.NewForbidden (403), its message replaced by
    // the first PolicyError's, and its reason by that error's reason when it has one.
    const message = first.binding
      ? `policy '${first.policy.name}' with binding '${first.binding.name}' denied request: ${first.message}`
      : `policy ${JSON.stringify(first.policy.name)} denied request: ${first.message}`;
    return { denial: { code: 403, reason: first.reason || 'Forbidden', message } };
  }
  if (deepEqual(object, original)) return {};
  return { patch: jsonpatch.compare(original as object, object as object) as JsonPatchOperation[], object };
}

type MutationResult = { readonly object: unknown; readonly source: string } | { readonly skip: true; readonly source: string } | { readonly error: string; readonly source: string };

/**
 * A mutation by a policy that matched another version of the request's kind: it runs on
 * the object converted to that version, and what it makes is converted back.
 */
function mutateConverted(context: RequestContext, invocation: Invocation, mutation: Mutation, object: unknown): MutationResult {
  const requested = context.request.kind;
  const converted = convertObject(object, requested, invocation.kind);
  const cel = { object: fromJson(converted), oldObject: fromJson(convertObject(context.request.oldObject ?? null, requested, invocation.kind)) };
  const result = mutateOnce(context, invocation, mutation, converted, cel);
  return 'object' in result ? { object: convertObject(result.object, invocation.kind, requested), source: result.source } : result;
}

function mutateOnce(context: RequestContext, invocation: Invocation, mutation: Mutation, object: unknown, cel: CelObjects): MutationResult {
  const { policy, binding } = invocation;
  const source = `${mutation.expression.file}:${mutation.expression.line}`;
  const evaluation = new Evaluation(
    context,
    new CostMeter(PER_EVALUATION_COST_BUDGET),
    { policy: policy.name, binding: binding.name },
    { object: cel.object, oldObject: cel.oldObject, request: invocation.request, params: invocation.param },
    policy.variables,
  );
  const matched = evaluateMatchConditions(evaluation, policy.matchConditions);
  if (matched && 'skip' in matched) return { skip: true, source: matched.source };
  if (matched) return { error: matched.error, source: matched.source };
  const result = evaluation.run(mutation.expression);
  if (result.error !== undefined) return { error: result.error, source };
  const applied = mutation.patchType === 'JSONPatch' ? applyJsonPatch(object, result.value) : applyObject(object, result.value);
  return 'error' in applied ? { error: applied.error, source } : { object: applied.object, source };
}

function applyObject(object: unknown, value: unknown): { object: unknown } | { error: string } {
  const patch = toJson(value);
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    return { error: `unsupported return type from ApplyConfiguration expression: ${celTypeName(value)}` };
  }
  return { object: applyConfiguration(object, patch as Record<string, unknown>) };
}

const PATCH_FIELDS: ReadonlySet<string> = new Set(['op', 'path', 'from', 'value']);

function applyJsonPatch(object: unknown, value: unknown): { object: unknown } | { error: string } {
  if (!Array.isArray(value)) return { error: 'type mismatch: JSONPatchType.expression should evaluate to array' };
  const operations: jsonpatch.Operation[] = [];
  for (const item of value) {
    const op = toJson(item) as Record<string, unknown> | null;
    if (typeof op !== 'object' || op === null || Array.isArray(op)) {
      return { error: 'type mismatch: JSONPatchType.expression should evaluate to array of JSONPatch' };
    }
    const unknownField = Object.keys(op).find((k) => !PATCH_FIELDS.has(k));
    if (unknownField) return { error: `type mismatch: JSONPatch has no field '${unknownField}'` };
    if (typeof op.op !== 'string' || typeof op.path !== 'string') return { error: 'JSONPatch requires string fields op and path' };
    operations.push(op as unknown as jsonpatch.Operation);
  }
  // No operations: the object as it is (what patching a copy would give, without copying).
  if (operations.length === 0) return { object };
  try {
    const result = jsonpatch.applyPatch(cloneJson(object), operations, true, true);
    // The patched copy shares what the patch left unchanged (the object itself when nothing changed).
    return { object: shareUnchanged(result.newDocument, object) };
  } catch (error) {
    // A failed `test` operation leaves the object as it was: patches can be conditional.
    if ((error as { name?: string }).name === 'TEST_OPERATION_FAILED') return { object };
    return { error: `JSON Patch: ${(error as Error).message.split('\n')[0]}` };
  }
}

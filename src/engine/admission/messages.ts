/** The texts kube-apiserver writes for admission policy outcomes. */
import type { AdmissionRequest } from './types.js';

export type PolicyKindName = 'ValidatingAdmissionPolicy' | 'MutatingAdmissionPolicy';

/** `ValidatingAdmissionPolicy 'P' with binding 'B' denied request: MSG` (no binding for policy-level errors). */
export function deniedMessage(kind: PolicyKindName, policy: string, binding: string | undefined, message: string): string {
  return binding === undefined
    ? `${kind} '${policy}' denied request: ${message}`
    : `${kind} '${policy}' with binding '${binding}' denied request: ${message}`;
}

/** The warning for a failed validation whose binding has validationActions Warn. */
export function warningMessage(policy: string, binding: string, message: string): string {
  return `Validation failed for ValidatingAdmissionPolicy '${policy}' with binding '${binding}': ${message}`;
}

/** Configuration errors (matching, params) as the dispatcher words them. */
export function configErrorMessage(error: string, withBinding: boolean): string {
  return withBinding ? `failed to configure binding: ${error}` : `failed to configure policy: ${error}`;
}

/**
 * admission.NewForbidden: `RESOURCE.GROUP "NAME" is forbidden: MSG`, where NAME is the
 * request's name, else the object's name or generateName, else "Unknown".
 */
export function forbiddenMessage(request: AdmissionRequest, message: string): string {
  const { group, resource } = request.resource;
  const qualified = group ? `${resource}.${group}` : resource;
  return `${qualified} ${JSON.stringify(nameOf(request))} is forbidden: ${message}`;
}

function nameOf(request: AdmissionRequest): string {
  if (request.name) return request.name;
  const object = request.object as { metadata?: { name?: unknown; generateName?: unknown } } | null | undefined;
  if (!object || typeof object !== 'object') return 'Unknown';
  const metadata = object.metadata;
  if (typeof metadata?.name === 'string' && metadata.name) return metadata.name;
  if (typeof metadata?.generateName === 'string' && metadata.generateName) return metadata.generateName;
  return 'Unknown';
}

/** Go's json.Marshal escapes <, > and & (HTML-safe), so the audit annotation does too. */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Audit annotation key for failed validations with validationActions Audit. */
export const VALIDATION_FAILURE_ANNOTATION = 'validation.policy.admission.k8s.io/validation_failure';

/** kube-apiserver truncates audit annotation values to this many bytes. */
export const MAX_AUDIT_ANNOTATION_VALUE_LENGTH = 10 * 1024;

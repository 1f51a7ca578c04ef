/**
 * Which workloads a policy applies to, shared by every kind: the policy's namespace (or the
 * whole mesh from the root namespace), `selector.matchLabels` against the destination's
 * labels, or `targetRef(s)` naming a Service.
 */
import type { PolicyResource, PolicyIssue } from '../../policy/index.js';
import type { RequestView } from './attributes.js';
import { issueAt, isRecord } from './issue.js';

export interface Scope {
  readonly namespace: string;
  /** In the root namespace: applies to workloads in every namespace. */
  readonly meshWide: boolean;
  readonly matchLabels: Readonly<Record<string, string>> | undefined;
  /** Service names from targetRefs of kind Service; undefined when none are set. */
  readonly services: readonly string[] | undefined;
}

export function compileScope(resource: PolicyResource, rootNamespace: string, issues: PolicyIssue[]): Scope {
  const namespace = resource.namespace ?? 'default';
  const spec = isRecord(resource.value.spec) ? resource.value.spec : {};
  let matchLabels: Record<string, string> | undefined;
  const selector = spec.selector;
  if (selector !== undefined && selector !== null) {
    const labels = isRecord(selector) ? selector.matchLabels : undefined;
    if (labels !== undefined && !isRecord(labels)) {
      issueAt(resource, issues, ['spec', 'selector', 'matchLabels'], 'selector.matchLabels must be a map of label names to values');
    } else if (labels) {
      matchLabels = {};
      for (const [k, v] of Object.entries(labels)) matchLabels[k] = String(v);
    }
  }
  const refs = [
    ...(isRecord(spec.targetRef) ? [{ ref: spec.targetRef, path: ['spec', 'targetRef'] as (string | number)[] }] : []),
    ...(Array.isArray(spec.targetRefs) ? spec.targetRefs.map((ref, i) => ({ ref, path: ['spec', 'targetRefs', i] as (string | number)[] })) : []),
  ];
  let services: string[] | undefined;
  if (refs.length > 0 && matchLabels) {
    issueAt(resource, issues, ['spec', 'selector'], 'only one of targetRefs or workloadSelector can be set');
  }
  for (const { ref, path } of refs) {
    if (!isRecord(ref) || typeof ref.name !== 'string' || typeof ref.kind !== 'string') {
      issueAt(resource, issues, path, 'targetRef needs kind and name');
      continue;
    }
    const group = typeof ref.group === 'string' ? ref.group : '';
    if (typeof ref.namespace === 'string' && ref.namespace !== '' && ref.namespace !== namespace) {
      issueAt(resource, issues, [...path, 'namespace'], `targetRef namespace ${ref.namespace} must match the policy namespace ${namespace}: cross-namespace references are not supported`);
      continue;
    }
    if (ref.kind === 'Service' && (group === '' || group === 'core')) {
      (services ??= []).push(ref.name);
    } else {
      issueAt(resource, issues, [...path, 'kind'], `targetRef kind ${group ? `${group}/` : ''}${ref.kind} is not supported yet by celgate; use kind Service or selector.matchLabels`);
    }
  }
  return { namespace, meshWide: namespace === rootNamespace, matchLabels, services };
}

export function inScope(scope: Scope, view: RequestView): boolean {
  if (!scope.meshWide && scope.namespace !== view.destinationNamespace) return false;
  if (scope.matchLabels) {
    const labels = view.destinationLabels;
    for (const key in scope.matchLabels) if (labels[key] !== scope.matchLabels[key]) return false;
  }
  if (scope.services && !scope.services.includes(view.destinationService)) return false;
  return true;
}

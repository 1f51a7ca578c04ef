/**
 * Finding the param objects a binding refers to (paramKind + paramRef), with
 * kube-apiserver's rules for namespaces, selectors and parameterNotFoundAction.
 */
import { fromJson } from '../../cel/index.js';
import { labelsOf } from './selectors.js';
import type { ParamKind, ParamRef } from './policies.js';
import type { ClusterState } from './types.js';

/** Built-in kinds whose scope is known; any other kind is namespaced if its objects carry a namespace. */
const CLUSTER_SCOPED = new Set([
  'v1/Namespace',
  'v1/Node',
  'v1/PersistentVolume',
  'rbac.authorization.k8s.io/v1/ClusterRole',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding',
  'storage.k8s.io/v1/StorageClass',
  'apiextensions.k8s.io/v1/CustomResourceDefinition',
]);
const NAMESPACED = new Set(['v1/ConfigMap', 'v1/Secret', 'v1/ServiceAccount']);

function isNamespaced(kind: ParamKind, cluster: ClusterState): boolean {
  const key = `${kind.apiVersion}/${kind.kind}`;
  if (CLUSTER_SCOPED.has(key)) return false;
  if (NAMESPACED.has(key)) return true;
  return cluster.objects(kind.apiVersion, kind.kind).some((o) => typeof (o.metadata as { namespace?: unknown } | undefined)?.namespace === 'string');
}

export type ParamsOutcome = { readonly params: readonly unknown[]; readonly error?: undefined } | { readonly error: string };

const NO_PARAMS: ParamsOutcome = Object.freeze({ params: Object.freeze([null]) });

/**
 * The params to evaluate with, as CEL values: `[null]` when the policy has no paramKind
 * or the binding no paramRef; possibly empty (nothing to evaluate) when none are found
 * and parameterNotFoundAction allows it.
 */
export function collectParams(paramKind: ParamKind | undefined, paramRef: ParamRef | undefined, requestNamespace: string, cluster: ClusterState): ParamsOutcome {
  if (!paramKind || !paramRef) return NO_PARAMS;
  const namespaced = isNamespaced(paramKind, cluster);
  let namespace: string | undefined;
  if (namespaced) {
    namespace = paramRef.namespace || requestNamespace;
    if (!namespace) return { error: 'cannot use namespaced paramRef in policy binding that matches cluster-scoped resources' };
  } else if (paramRef.namespace) {
    return { error: 'paramRef.namespace must not be provided for a cluster-scoped `paramKind`' };
  }
  const candidates = cluster.objects(paramKind.apiVersion, paramKind.kind, namespace);
  let found: readonly Readonly<Record<string, unknown>>[];
  if (paramRef.name) {
    found = candidates.filter((o) => (o.metadata as { name?: unknown } | undefined)?.name === paramRef.name);
  } else if (paramRef.selector) {
    const selector = paramRef.selector;
    found = candidates.filter((o) => selector.matches(labelsOf(o)));
  } else {
    return { error: 'one of name or selector must be provided' };
  }
  if (found.length === 0 && paramRef.parameterNotFoundAction === 'Deny') {
    return { error: 'no params found for policy binding with `Deny` parameterNotFoundAction' };
  }
  return { params: found.map(celFormOf) };
}

/**
 * Cluster objects are immutable (a new cluster state replaces them), so each is converted
 * to its CEL form once rather than per binding and request. CEL values are never modified.
 */
const celForms = new WeakMap<object, unknown>();

function celFormOf(object: Readonly<Record<string, unknown>>): unknown {
  let cel = celForms.get(object);
  if (cel === undefined) {
    cel = fromJson(object);
    celForms.set(object, cel);
  }
  return cel;
}

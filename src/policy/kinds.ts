/**
 * The resource kinds celgate reads, by API group, with the versions each accepts
 * (preferred first), and the hints given for an apiVersion or kind that is not known.
 */

import { closestName } from './names.js';

/** `data`: objects policies read (param ConfigMaps, Namespaces with their labels), not policies. */
export type Face = 'admission' | 'authz' | 'proxy' | 'test' | 'data';

interface GroupKinds {
  readonly group: string;
  readonly versions: readonly string[];
  readonly kinds: readonly string[];
  readonly face: Face;
}

const GROUPS: readonly GroupKinds[] = [
  {
    group: 'admissionregistration.k8s.io',
    versions: ['v1', 'v1beta1', 'v1alpha1'],
    kinds: ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'],
    face: 'admission',
  },
  {
    group: 'admissionregistration.k8s.io',
    versions: ['v1beta1', 'v1alpha1', 'v1'],
    kinds: ['MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding'],
    face: 'admission',
  },
  {
    group: 'security.istio.io',
    versions: ['v1', 'v1beta1'],
    kinds: ['AuthorizationPolicy', 'RequestAuthentication', 'PeerAuthentication'],
    face: 'authz',
  },
  { group: 'celgate.dev', versions: ['v1alpha1'], kinds: ['AccessPolicy'], face: 'authz' },
  {
    group: 'networking.istio.io',
    versions: ['v1', 'v1beta1', 'v1alpha3'],
    kinds: ['VirtualService', 'DestinationRule', 'ServiceEntry', 'Gateway', 'WorkloadEntry'],
    face: 'proxy',
  },
  { group: 'celgate.dev', versions: ['v1alpha1'], kinds: ['PolicyTest'], face: 'test' },
  { group: '', versions: ['v1'], kinds: ['ConfigMap', 'Namespace'], face: 'data' },
];

export interface KnownKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly face: Face;
}

export type Recognition =
  | { readonly known: KnownKind }
  | { readonly error: string; readonly field: 'apiVersion' | 'kind' };

/** Recognises a document by apiVersion and kind, or explains what is wrong with them. */
export function recognizeKind(apiVersion: unknown, kind: unknown): Recognition {
  if (typeof apiVersion !== 'string' || apiVersion === '') return { error: 'missing apiVersion', field: 'apiVersion' };
  if (typeof kind !== 'string' || kind === '') return { error: 'missing kind', field: 'kind' };
  const slash = apiVersion.lastIndexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = apiVersion.slice(slash + 1);

  const entry = GROUPS.find((g) => g.group === group && g.kinds.includes(kind));
  if (entry) {
    if (entry.versions.includes(version)) return { known: { group, version, kind, face: entry.face } };
    return {
      error: `${kind} is not served at ${apiVersion}; use ${entry.versions.map((v) => `${group}/${v}`).join(' or ')}`,
      field: 'apiVersion',
    };
  }

  const groupKnown = GROUPS.some((g) => g.group === group);
  const forKind = GROUPS.find((g) => g.kinds.includes(kind));
  if (forKind) {
    const suggested = forKind.versions.includes(version) ? version : forKind.versions[0];
    return { error: `unknown apiVersion '${apiVersion}' for ${kind}: did you mean ${forKind.group}/${suggested}?`, field: 'apiVersion' };
  }
  if (groupKnown) {
    const kinds = GROUPS.filter((g) => g.group === group).flatMap((g) => g.kinds);
    const closest = closestName(kind, kinds);
    const hint = closest ? `did you mean ${closest}?` : `known kinds: ${kinds.join(', ')}`;
    return { error: `unknown kind '${kind}' in ${group}: ${hint}`, field: 'kind' };
  }
  const builtIn = KUBERNETES_KINDS.get(kind);
  if (builtIn !== undefined && builtIn !== apiVersion) {
    return { error: `unknown apiVersion '${apiVersion}' for ${kind}: ${kind} is a Kubernetes kind served at ${builtIn}`, field: 'apiVersion' };
  }
  const similarGroup = groupFromTokens(apiVersion);
  const hint = similarGroup ? `: did you mean ${similarGroup}/${version}?` : '';
  return { error: `unknown apiVersion '${apiVersion}' (kind ${kind})${hint}`, field: 'apiVersion' };
}

/** Where common Kubernetes kinds are served, for a hint when one comes with a mangled apiVersion. */
const KUBERNETES_KINDS: ReadonlyMap<string, string> = new Map([
  ['Service', 'v1'],
  ['Pod', 'v1'],
  ['Secret', 'v1'],
  ['ServiceAccount', 'v1'],
  ['Endpoints', 'v1'],
  ['Deployment', 'apps/v1'],
  ['StatefulSet', 'apps/v1'],
  ['DaemonSet', 'apps/v1'],
  ['EndpointSlice', 'discovery.k8s.io/v1'],
  ['Ingress', 'networking.k8s.io/v1'],
]);

/** Finds a known group whose name parts all appear in a mangled apiVersion such as `Istio::networking/v1alpha3`. */
function groupFromTokens(apiVersion: string): string | undefined {
  const tokens = apiVersion
    .toLowerCase()
    .replace(/\/[^/]*$/, '')
    .split(/[^a-z0-9]+/)
    .filter((t) => t.length > 1 && t !== 'io' && t !== 'dev');
  if (tokens.length === 0) return undefined;
  const candidates = [...new Set(GROUPS.map((g) => g.group))].filter((group) => {
    const parts = group.split('.');
    return tokens.every((t) => parts.includes(t));
  });
  return candidates.length === 1 ? candidates[0] : undefined;
}

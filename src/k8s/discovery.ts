/**
 * Which of the kinds celgate reads the API server offers, and at which version: discovery
 * (/apis, /apis/GROUP/VERSION, /api/v1) answers what is served, so celgate watches
 * admissionregistration.k8s.io at the version the cluster has and skips Istio or AccessPolicy
 * when their CRDs are not installed.
 */
import { KubeApiError, type KubeClient } from './client.js';

/** A kind the API server serves, with what it takes to list and watch it. */
export interface ServedKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** The resource name in URLs. */
  readonly plural: string;
  readonly namespaced: boolean;
}

export const apiVersionOf = (kind: Pick<ServedKind, 'group' | 'version'>): string => (kind.group === '' ? kind.version : `${kind.group}/${kind.version}`);

/**
 * A collection path: cluster-wide (all namespaces), e.g.
 * /apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies, or one namespace's
 * (/api/v1/namespaces/NAMESPACE/services) when a namespaced kind is given one.
 */
export function collectionPath(kind: ServedKind, namespace?: string): string {
  const base = kind.group === '' ? `/api/${kind.version}` : `/apis/${kind.group}/${kind.version}`;
  return kind.namespaced && namespace !== undefined ? `${base}/namespaces/${namespace}/${kind.plural}` : `${base}/${kind.plural}`;
}

/** The path of one object: the reference a compile error names. */
export function objectPath(kind: ServedKind, name: string, namespace?: string): string {
  const base = kind.group === '' ? `/api/${kind.version}` : `/apis/${kind.group}/${kind.version}`;
  return kind.namespaced && namespace ? `${base}/namespaces/${namespace}/${kind.plural}/${name}` : `${base}/${kind.plural}/${name}`;
}

/** The kinds celgate reads, with the versions it understands, preferred first (as src/policy/kinds.ts). */
export const WANTED_KINDS: readonly { readonly group: string; readonly kind: string; readonly versions: readonly string[]; readonly face: 'admission' | 'authz' | 'data' }[] = [
  { group: 'admissionregistration.k8s.io', kind: 'ValidatingAdmissionPolicy', versions: ['v1', 'v1beta1', 'v1alpha1'], face: 'admission' },
  { group: 'admissionregistration.k8s.io', kind: 'ValidatingAdmissionPolicyBinding', versions: ['v1', 'v1beta1', 'v1alpha1'], face: 'admission' },
  { group: 'admissionregistration.k8s.io', kind: 'MutatingAdmissionPolicy', versions: ['v1', 'v1beta1', 'v1alpha1'], face: 'admission' },
  { group: 'admissionregistration.k8s.io', kind: 'MutatingAdmissionPolicyBinding', versions: ['v1', 'v1beta1', 'v1alpha1'], face: 'admission' },
  { group: '', kind: 'Namespace', versions: ['v1'], face: 'data' },
  { group: 'security.istio.io', kind: 'AuthorizationPolicy', versions: ['v1', 'v1beta1'], face: 'authz' },
  { group: 'security.istio.io', kind: 'RequestAuthentication', versions: ['v1', 'v1beta1'], face: 'authz' },
  { group: 'security.istio.io', kind: 'PeerAuthentication', versions: ['v1', 'v1beta1'], face: 'authz' },
  { group: 'celgate.dev', kind: 'AccessPolicy', versions: ['v1alpha1'], face: 'authz' },
];

interface ResourceListEntry {
  name: string;
  kind: string;
  namespaced: boolean;
  verbs?: string[];
}

/** Discovery answers, cached per group/version for the life of one Discovery. */
export class Discovery {
  readonly #client: KubeClient;
  #groups: Map<string, string[]> | undefined;
  readonly #resourceLists = new Map<string, Promise<ResourceListEntry[] | undefined>>();

  constructor(client: KubeClient) {
    this.#client = client;
  }

  /** Versions served per API group (the core group '' is always v1). */
  async groups(): Promise<ReadonlyMap<string, readonly string[]>> {
    if (!this.#groups) {
      const list = await this.#client.get<{ groups?: { name: string; versions?: { version: string }[] }[] }>('/apis');
      const groups = new Map<string, string[]>([['', ['v1']]]);
      for (const group of list.groups ?? []) groups.set(group.name, (group.versions ?? []).map((v) => v.version));
      this.#groups = groups;
    }
    return this.#groups;
  }

  /** The kind at `apiVersion`, if served there (used for paramKind, which names an exact version). */
  async find(apiVersion: string, kind: string): Promise<ServedKind | undefined> {
    const slash = apiVersion.lastIndexOf('/');
    const group = slash < 0 ? '' : apiVersion.slice(0, slash);
    const version = apiVersion.slice(slash + 1);
    const resources = await this.#resources(group, version);
    // Subresources (pods/status) share the kind; the collection is the name without a slash.
    const entry = resources?.find((r) => r.kind === kind && !r.name.includes('/') && (r.verbs === undefined || (r.verbs.includes('list') && r.verbs.includes('watch'))));
    return entry ? { group, version, kind, plural: entry.name, namespaced: entry.namespaced } : undefined;
  }

  /** Each wanted kind at the first of its versions the server serves; kinds not served are left out. */
  async wanted(): Promise<ServedKind[]> {
    const groups = await this.groups();
    const found: ServedKind[] = [];
    for (const want of WANTED_KINDS) {
      const served = groups.get(want.group);
      if (!served) continue;
      for (const version of want.versions) {
        if (!served.includes(version)) continue;
        const kind = await this.find(want.group === '' ? version : `${want.group}/${version}`, want.kind);
        if (kind) {
          found.push(kind);
          break;
        }
      }
    }
    return found;
  }

  #resources(group: string, version: string): Promise<ResourceListEntry[] | undefined> {
    const key = `${group}/${version}`;
    let pending = this.#resourceLists.get(key);
    if (!pending) {
      const path = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
      pending = this.#client.get<{ resources?: ResourceListEntry[] }>(path).then(
        (list) => list.resources ?? [],
        (error: unknown) => {
          this.#resourceLists.delete(key);
          if (error instanceof KubeApiError && error.statusCode === 404) return undefined;
          throw error;
        },
      );
      this.#resourceLists.set(key, pending);
    }
    return pending;
  }
}

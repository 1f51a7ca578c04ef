/**
 * Loading what the webhook decides with: the compiled admission policies plus the cluster state
 * (params and namespaces) from files. A load either yields a whole set or every issue found;
 * never half a set.
 */
import { resolve, sep } from 'node:path';
import { toJson } from '../cel/index.js';
import { compileAdmissionPolicies, clusterStateFrom, type AdmissionPolicies } from '../engine/admission/index.js';
import type { ClusterState } from '../engine/admission/types.js';
import { loadResources, readDocuments, type PolicyIssue, type PolicyResource } from '../policy/index.js';

export interface AdmissionPolicySet {
  readonly policies: AdmissionPolicies;
  readonly cluster: ClusterState;
  /** How many policy resources were loaded, for logs. */
  readonly resourceCount: number;
  /** The admission policy and binding resources the set was compiled from (webhook registration reads their rules). */
  readonly resources: readonly PolicyResource[];
  readonly loadedAt: Date;
  /**
   * Problems in live (cluster) policies that did not stop the set from loading: the broken policy
   * stays in the set and its failing expressions apply its failurePolicy, as in kube-apiserver.
   */
  readonly tolerated?: readonly PolicyIssue[];
}

/**
 * Policies that come from somewhere live (the Kubernetes API, via src/k8s), not from files.
 * `current()` is undefined until the first full sync. Issues in these resources are logged
 * but do not refuse the set: one broken object must not block every other policy.
 */
export interface LivePolicySource {
  current():
    | { readonly resources: readonly PolicyResource[]; readonly issues: readonly PolicyIssue[]; readonly objects: readonly unknown[] }
    | undefined;
  /** Whether an issue's file names a live object (its issues are tolerated). */
  owns(file: string): boolean;
}

export interface PolicySources {
  /** Files or directories holding ValidatingAdmissionPolicy / MutatingAdmissionPolicy resources and bindings. */
  readonly policyPaths: readonly string[];
  /** Files holding param objects and Namespace objects (YAML/JSON, several documents, or a List). */
  readonly dataPaths?: readonly string[];
  /** Policies, namespaces and params from the cluster, combined with the files'. */
  readonly live?: LivePolicySource;
}

export type LoadOutcome = { readonly set: AdmissionPolicySet; readonly issues?: undefined } | { readonly set?: undefined; readonly issues: readonly PolicyIssue[] };

/** Reads data files into plain JSON objects; `kind: List` (and *List) documents contribute their items. */
export async function loadClusterObjects(paths: readonly string[], issues: PolicyIssue[]): Promise<unknown[]> {
  if (paths.length === 0) return [];
  const { documents, issues: readIssues } = await readDocuments(paths);
  issues.push(...readIssues);
  const objects: unknown[] = [];
  for (const document of documents) {
    const value = toJson(document.value) as Record<string, unknown> | null;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      const { line, column } = document.position;
      issues.push({ file: document.file, line, column, message: 'expected a Kubernetes object (apiVersion, kind, metadata)' });
      continue;
    }
    if (typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items)) objects.push(...value.items);
    else objects.push(value);
  }
  return objects;
}

/** Whether `file` is one of `paths` or inside one of them. */
function isUnder(file: string, paths: readonly string[]): boolean {
  const target = resolve(file);
  return paths.some((path) => {
    const root = resolve(path);
    return target === root || target.startsWith(root + sep);
  });
}

export async function loadPolicySet(sources: PolicySources): Promise<LoadOutcome> {
  const dataPaths = sources.dataPaths ?? [];
  const loaded = await loadResources(sources.policyPaths);
  // Param objects often live next to the policies that use them (policies/x/params/): files given as
  // data are not policy documents, so their kinds (ConfigMap, Namespace...) are not policy problems.
  const issues = dataPaths.length === 0 ? loaded.issues : loaded.issues.filter((issue) => !isUnder(issue.file, dataPaths));
  const live = sources.live?.current();
  if (sources.live && !live) {
    return { issues: [{ file: 'k8s:', line: 1, column: 1, message: 'the cluster has not been fully listed yet' }] };
  }
  const resources = [...loaded.resources, ...(live?.resources ?? [])];
  const liveIssues: PolicyIssue[] = [...(live?.issues ?? [])];
  const admission = resources.filter((resource) => resource.type.face === 'admission');
  const compileIssues: PolicyIssue[] = [];
  const policies = compileAdmissionPolicies(admission, compileIssues);
  for (const issue of compileIssues) (sources.live?.owns(issue.file) ? liveIssues : issues).push(issue);
  // ConfigMaps and Namespaces found among the policies are data too (params shipped beside their policies).
  const beside = resources.filter((resource) => resource.type.face === 'data').map((resource) => toJson(resource.value));
  const objects = [...beside, ...(await loadClusterObjects(dataPaths, issues)), ...(live?.objects ?? [])];
  if (issues.length > 0) return { issues: sortIssues(issues) };
  return {
    set: {
      policies,
      cluster: clusterStateFrom(objects),
      resourceCount: admission.length,
      resources: admission,
      loadedAt: new Date(),
      ...(liveIssues.length > 0 ? { tolerated: sortIssues(liveIssues) } : {}),
    },
  };
}

export function sortIssues(issues: readonly PolicyIssue[]): PolicyIssue[] {
  return [...issues].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}

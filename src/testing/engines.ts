/**
 * The test runner's bridge to the engines: load and compile a policy set once, and decide one
 * case with exactly the engines the webhook and the ext_authz server use.
 */
import { readDocuments, toResource, type PolicyIssue, type PolicyResource } from '../policy/index.js';
import { admit, clusterStateFrom, compileAdmissionPolicies } from '../engine/admission/index.js';
import { compileAccessPolicies, decideAccess } from '../engine/access/index.js';
import type { AdmissionDecision, AdmissionPhase, ClusterState } from '../engine/admission/types.js';
import type { AccessDecision } from '../engine/access/types.js';
import type { CaseInput } from './types.js';

type AdmissionPolicies = ReturnType<typeof compileAdmissionPolicies>;
type AccessPolicies = ReturnType<typeof compileAccessPolicies>;

export interface CompiledSet {
  readonly resources: readonly PolicyResource[];
  readonly admission: AdmissionPolicies;
  readonly access: AccessPolicies;
}

/** Groups whose documents in a policies path must load; anything else (a ConfigMap of params, say) is passed over. */
const POLICY_GROUPS = ['admissionregistration.k8s.io', 'security.istio.io', 'celgate.dev', 'networking.istio.io'];

/** Loads policy files: every admission and access resource; PolicyTest documents beside them are skipped. */
export async function loadPolicyFiles(files: readonly string[]): Promise<{ resources: PolicyResource[]; issues: PolicyIssue[] }> {
  const { documents, issues } = await readDocuments(files);
  const resources: PolicyResource[] = [];
  for (const document of documents) {
    const local: PolicyIssue[] = [];
    const resource = toResource(document, local);
    if (resource) {
      if (resource.type.face === 'admission' || resource.type.face === 'authz') resources.push(resource);
      continue;
    }
    const value = document.value as { apiVersion?: unknown } | null;
    const apiVersion = typeof value?.apiVersion === 'string' ? value.apiVersion : '';
    const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.lastIndexOf('/')) : '';
    if (POLICY_GROUPS.includes(group) || local.some((i) => i.message.includes('did you mean'))) issues.push(...local);
  }
  return { resources, issues };
}

export function compileSet(resources: readonly PolicyResource[], issues: PolicyIssue[]): CompiledSet {
  const admission = compileAdmissionPolicies(
    resources.filter((r) => r.type.face === 'admission'),
    issues,
  );
  const access = compileAccessPolicies(
    resources.filter((r) => r.type.face === 'authz'),
    issues,
  );
  return { resources, admission, access };
}

export type Outcome =
  | { readonly face: 'admission'; readonly decision: AdmissionDecision }
  | { readonly face: 'access'; readonly decision: AccessDecision };

/** What the engines report for each expression they evaluate (coverage listens to these). */
export type ExpressionListener = (event: unknown) => void;

export async function decide(
  set: CompiledSet,
  input: CaseInput,
  cluster: ClusterState,
  onExpression?: ExpressionListener,
  phase: AdmissionPhase = 'both',
): Promise<Outcome> {
  if (input.face === 'admission') {
    const decision = admit(set.admission, input.request, { phase, cluster, ...(input.kubernetesDefaults === false ? { kubernetesDefaults: false } : {}), ...(onExpression ? { onExpression } : {}) });
    return { face: 'admission', decision };
  }
  const decision = await decideAccess(set.access, input.request, { explain: false, ...(onExpression ? { onExpression } : {}) });
  return { face: 'access', decision };
}

export function clusterFor(objects: readonly unknown[]): ClusterState {
  return clusterStateFrom(objects);
}

/** Test helpers: policies from YAML text, and AdmissionRequests for common objects. */
import { parseDocuments, toResource, formatIssue, type PolicyIssue, type PolicyResource } from '../../../src/policy/index.js';
import { admit, clusterStateFrom, compileAdmissionPolicies, type AdmissionPolicies } from '../../../src/engine/admission/index.js';
import type { AdmissionDecision, AdmissionRequest, AdmitOptions, ClusterState, Operation } from '../../../src/engine/admission/types.js';

export function resourcesFrom(yaml: string, file = 'policy.yaml'): { resources: PolicyResource[]; issues: PolicyIssue[] } {
  const { documents, issues } = parseDocuments(file, yaml);
  const resources: PolicyResource[] = [];
  for (const d of documents) {
    const r = toResource(d, issues);
    if (r) resources.push(r);
  }
  return { resources, issues };
}

/** Compiles YAML and fails the test on any issue. */
export function policiesFrom(yaml: string, file = 'policy.yaml'): AdmissionPolicies {
  const { resources, issues } = resourcesFrom(yaml, file);
  const compiled = compileAdmissionPolicies(resources, issues);
  if (issues.length > 0) throw new Error(`unexpected issues:\n${issues.map(formatIssue).join('\n')}`);
  return compiled;
}

/** Compiles YAML and returns the formatted issues. */
export function issuesOf(yaml: string, file = 'policy.yaml'): string[] {
  const { resources, issues } = resourcesFrom(yaml, file);
  compileAdmissionPolicies(resources, issues);
  return issues.map(formatIssue);
}

export const EMPTY_CLUSTER: ClusterState = clusterStateFrom([]);

interface RequestOptions {
  operation?: Operation;
  oldObject?: unknown;
  namespace?: string;
  username?: string;
  groups?: string[];
  subResource?: string;
}

const RESOURCES: Record<string, [string, string]> = {
  Deployment: ['apps', 'deployments'],
  Pod: ['', 'pods'],
  ConfigMap: ['', 'configmaps'],
  Namespace: ['', 'namespaces'],
  Service: ['', 'services'],
  ClusterRole: ['rbac.authorization.k8s.io', 'clusterroles'],
};

/** An AdmissionRequest for `object` (kind from the object; resource from a small table). */
export function requestFor(object: Record<string, any>, options: RequestOptions = {}): AdmissionRequest {
  const kind = object.kind as string;
  const [group, resource] = RESOURCES[kind] ?? ['', `${kind.toLowerCase()}s`];
  const version = String(object.apiVersion).split('/').pop()!;
  const clusterScoped = kind === 'Namespace' || kind === 'ClusterRole';
  const operation = options.operation ?? 'CREATE';
  const namespace = clusterScoped ? undefined : (options.namespace ?? object.metadata?.namespace ?? 'default');
  return {
    uid: 'test-uid',
    kind: { group, version, kind },
    resource: { group, version, resource },
    ...(options.subResource ? { subResource: options.subResource } : {}),
    name: object.metadata?.name ?? '',
    ...(namespace ? { namespace } : {}),
    operation,
    userInfo: { username: options.username ?? 'alice', groups: options.groups ?? ['system:authenticated'] },
    object: operation === 'DELETE' ? null : object,
    oldObject: options.oldObject ?? null,
    dryRun: false,
  };
}

export function deployment(replicas: number, extra: { name?: string; labels?: Record<string, string>; namespace?: string } = {}): Record<string, any> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: extra.name ?? 'nginx', namespace: extra.namespace ?? 'default', ...(extra.labels ? { labels: extra.labels } : {}) },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'nginx' } },
      template: { metadata: { labels: { app: 'nginx' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.25' }] } },
    },
  };
}

export function run(policies: AdmissionPolicies, request: AdmissionRequest, options: Partial<AdmitOptions> = {}): AdmissionDecision {
  return admit(policies, request, { phase: 'both', cluster: EMPTY_CLUSTER, ...options });
}

export function namespace(name: string, labels: Record<string, string> = {}): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

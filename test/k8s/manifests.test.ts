/**
 * The deployment manifests in webhooks/: every file parses, kustomization lists what exists, the
 * AccessPolicy CRD's schema accepts every AccessPolicy celgate documents and ships (and rejects
 * what the engine rejects for shape), and the RBAC grants exactly the documented verbs.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { compileAccessPolicies } from '../../src/engine/access/index.js';
import { formatIssue, loadResources, type PolicyIssue } from '../../src/policy/index.js';
import { resourcesFrom } from '../engine/admission/helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const WEBHOOKS = join(ROOT, 'webhooks');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

type Doc = Record<string, any>;

function documents(file: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const out: Doc[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${relative(ROOT, file)}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

const ALL = yamlFiles(WEBHOOKS).map((file) => ({ file: relative(WEBHOOKS, file), docs: documents(file) }));
const find = (kind: string, name: string): Doc => {
  const doc = ALL.flatMap((f) => f.docs).find((d) => d.kind === kind && d.metadata?.name === name);
  if (!doc) throw new Error(`no ${kind} ${name} in webhooks/`);
  return doc;
};

// ---------------------------------------------------------------------------------------------
// A validator for the subset of OpenAPI v3 that structural CRD schemas use here: type, properties,
// additionalProperties, items, required, enum, minimum/maximum, minLength, minItems, pattern,
// x-kubernetes-preserve-unknown-fields. Unknown fields are errors: the API server would prune
// them silently, so the policy stored would not be the policy written.

type Schema = Record<string, any>;

function validate(schema: Schema, value: unknown, path: string, errors: string[]): void {
  if (schema['x-kubernetes-preserve-unknown-fields'] === true && schema.type === undefined) return;
  const type = schema.type as string | undefined;
  const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;
  if (type && !(type === actual || (type === 'number' && actual === 'integer'))) {
    errors.push(`${path}: expected ${type}, got ${actual}`);
    return;
  }
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${path}: ${JSON.stringify(value)} is not one of ${schema.enum.join(', ')}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${path}: ${value} < minimum ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${path}: ${value} > maximum ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${path}: shorter than ${schema.minLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) errors.push(`${path}: does not match ${schema.pattern}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.items) value.forEach((item, i) => validate(schema.items, item, `${path}[${i}]`, errors));
  }
  if (actual === 'object') {
    const object = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in object)) errors.push(`${path}.${key}: required`);
    for (const [key, item] of Object.entries(object)) {
      const property = schema.properties?.[key];
      if (property) validate(property, item, `${path}.${key}`, errors);
      else if (typeof schema.additionalProperties === 'object') validate(schema.additionalProperties, item, `${path}.${key}`, errors);
      else if (schema.properties && schema['x-kubernetes-preserve-unknown-fields'] !== true) errors.push(`${path}.${key}: unknown field (the API server would prune it)`);
    }
  }
}

/** Kubernetes' structural-schema rule: every node has a type, except preserve-unknown-fields / int-or-string nodes. */
function structuralProblems(schema: Schema, path: string, problems: string[]): void {
  if (!schema.type && !schema['x-kubernetes-preserve-unknown-fields'] && !schema['x-kubernetes-int-or-string']) problems.push(`${path}: no type`);
  for (const [key, child] of Object.entries<Schema>(schema.properties ?? {})) structuralProblems(child, `${path}.${key}`, problems);
  if (typeof schema.additionalProperties === 'object') structuralProblems(schema.additionalProperties, `${path}.*`, problems);
  if (schema.items) structuralProblems(schema.items, `${path}[]`, problems);
}

// ---------------------------------------------------------------------------------------------

describe('webhooks/ manifests', () => {
  test('every file parses and every document is a named Kubernetes object', () => {
    expect(ALL.length).toBeGreaterThanOrEqual(12);
    for (const { file, docs } of ALL) {
      expect(docs.length).toBeGreaterThan(0);
      for (const doc of docs) {
        expect([file, typeof doc.apiVersion, typeof doc.kind]).toEqual([file, 'string', 'string']);
        if (doc.kind !== 'Kustomization') expect([file, typeof doc.metadata?.name]).toEqual([file, 'string']);
      }
    }
  });

  test('kustomization.yaml lists files that exist, and every manifest but the optional registration RBAC and the proxy RBAC', () => {
    const kustomization = ALL.find((f) => f.file === 'kustomization.yaml')!.docs[0]!;
    const listed: string[] = kustomization.resources;
    const manifests = ALL.map((f) => f.file).filter((f) => f !== 'kustomization.yaml');
    for (const file of listed) expect(manifests).toContain(file);
    // The proxy's RBAC is for `celgate proxy` beside workloads, not for the webhook deployment.
    expect(manifests.filter((f) => !listed.includes(f)).sort()).toEqual(['rbac-proxy.yaml', 'rbac-registration.yaml']);
    // The optional file is mentioned where it would go.
    expect(readFileSync(join(WEBHOOKS, 'kustomization.yaml'), 'utf8')).toMatch(/#\s*- rbac-registration\.yaml/);
  });

  test('the Deployment runs serve --kubernetes with its token, its pod name and namespace, and the mounted policy files', () => {
    const deployment = find('Deployment', 'celgate');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    expect(container.args.slice(0, 2)).toEqual(['serve', '--kubernetes']);
    expect(container.args[container.args.indexOf('--policies') + 1]).toBe(pod.containers[0].volumeMounts.find((m: Doc) => m.name === 'policies').mountPath);
    expect(container.args).not.toContain('--register-webhooks'); // the static configurations stay the default
    // Kubernetes (service accounts): the pod spec's automountServiceAccountToken takes precedence over the account's.
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.serviceAccountName).toBe(find('ServiceAccount', 'celgate').metadata.name);
    const env = Object.fromEntries(container.env.map((e: Doc) => [e.name, e.valueFrom?.fieldRef?.fieldPath ?? e.value]));
    expect(env).toMatchObject({ POD_NAME: 'metadata.name', POD_NAMESPACE: 'metadata.namespace' });
    expect(env.NODE_OPTIONS).toContain('--max-old-space-size=');
  });

  test('the HorizontalPodAutoscaler (autoscaling/v2) scales the celgate Deployment and keeps two replicas', () => {
    const hpa = find('HorizontalPodAutoscaler', 'celgate');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: find('Deployment', 'celgate').metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    expect(hpa.spec.metrics[0]).toEqual({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } });
  });
});

describe('AccessPolicy CRD', () => {
  const crd = find('CustomResourceDefinition', 'accesspolicies.celgate.dev');
  const version = crd.spec.versions.find((v: Doc) => v.name === 'v1alpha1');
  const schema: Schema = version.schema.openAPIV3Schema;

  test('serves celgate.dev/v1alpha1 AccessPolicy, namespaced, with a structural schema', () => {
    expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
    expect(crd.spec).toMatchObject({ group: 'celgate.dev', scope: 'Namespaced', names: { kind: 'AccessPolicy', plural: 'accesspolicies' } });
    expect(version).toMatchObject({ served: true, storage: true });
    const problems: string[] = [];
    structuralProblems(schema, 'openAPIV3Schema', problems);
    // bindings[].subjects[] is a string ("*") or an object: free-form, checked by celgate.
    expect(problems).toEqual([]);
  });

  test('spec fields are exactly the ones the engine reads', () => {
    // src/engine/access/access-policy.ts SPEC_FIELDS
    expect(Object.keys(schema.properties.spec.properties).sort()).toEqual(['bindings', 'denyResponse', 'derivedRoles', 'roles', 'rules', 'selector', 'targetRef', 'targetRefs']);
  });

  async function shippedAccessPolicies(): Promise<{ origin: string; value: Doc }[]> {
    const out: { origin: string; value: Doc }[] = [];
    // docs/access-policy.md: every yaml block that is an AccessPolicy.
    const markdown = readFileSync(join(ROOT, 'docs', 'access-policy.md'), 'utf8');
    for (const [, block] of markdown.matchAll(/```yaml\n([\s\S]*?)```/g)) {
      for (const doc of parseAllDocuments(block!)) {
        const value = doc.toJS();
        if (value?.kind === 'AccessPolicy') out.push({ origin: 'docs/access-policy.md', value });
      }
    }
    const { resources } = await loadResources([join(ROOT, 'examples'), join(ROOT, 'policies')]);
    for (const r of resources) {
      if (r.type.kind === 'AccessPolicy') out.push({ origin: `${relative(ROOT, r.document.file)}`, value: JSON.parse(JSON.stringify(r.value, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))) });
    }
    return out;
  }

  test('accepts every AccessPolicy in docs/access-policy.md and examples/ (which the engine also compiles)', async () => {
    const policies = await shippedAccessPolicies();
    expect(policies.filter((p) => p.origin === 'docs/access-policy.md')).toHaveLength(1);
    expect(policies.length).toBeGreaterThanOrEqual(2);
    for (const { origin, value } of policies) {
      const errors: string[] = [];
      validate(schema, value, `${origin} ${value.metadata.name}`, errors);
      expect(errors).toEqual([]);
      // The same document compiles in the engine: the schema is not accepting a non-policy.
      const { resources, issues } = resourcesFrom(JSON.stringify(value), origin);
      compileAccessPolicies(resources, issues as PolicyIssue[]);
      expect(issues.map(formatIssue)).toEqual([]);
    }
  });

  test('rejects shapes the engine rejects: unknown fields, wrong types, bad effect or status', () => {
    const base = { apiVersion: 'celgate.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'p' }, spec: {} };
    const errorsFor = (spec: Doc): string[] => {
      const errors: string[] = [];
      validate(schema, { ...base, spec }, 'p', errors);
      return errors;
    };
    expect(errorsFor({ selector: { matchLabels: { app: 'a' } } })).toEqual([]);
    expect(errorsFor({ selectr: {} })).toEqual(['p.spec.selectr: unknown field (the API server would prune it)']);
    expect(errorsFor({ rules: [{ name: 'r', effect: 'MAYBE', condition: 'true' }] })).toEqual(['p.spec.rules[0].effect: "MAYBE" is not one of ALLOW, DENY, AUDIT']);
    expect(errorsFor({ denyResponse: { status: 200 } })).toEqual(['p.spec.denyResponse.status: 200 < minimum 400']);
    expect(errorsFor({ roles: [{ name: 'r', permissions: [{ ports: [8080] }] }] })).toEqual(['p.spec.roles[0].permissions[0].ports[0]: expected string, got integer']);
    expect(errorsFor({ bindings: [{ subjects: [], roles: ['r'] }] })).toEqual(['p.spec.bindings[0].subjects: fewer than 1 items']);
    expect(errorsFor({ rules: [{ name: 'r' }] })).toEqual(['p.spec.rules[0].condition: required']);
  });
});

describe('RBAC', () => {
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
  const grants = (rules: Rule[]): string[] =>
    rules
      .flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g || 'core'}/${res}${r.resourceNames ? `[${r.resourceNames.join(',')}]` : ''}:${v}`))))
      .sort();

  test('the celgate ClusterRole grants exactly list/watch on what celgate reads, create on SubjectAccessReviews and update on policy status', () => {
    const role = find('ClusterRole', 'celgate');
    const expected: string[] = [];
    const read = (group: string, resources: string[]) => resources.forEach((r) => expected.push(`${group}/${r}:list`, `${group}/${r}:watch`));
    read('admissionregistration.k8s.io', ['validatingadmissionpolicies', 'validatingadmissionpolicybindings', 'mutatingadmissionpolicies', 'mutatingadmissionpolicybindings']);
    read('core', ['namespaces', 'configmaps']);
    read('celgate.dev', ['accesspolicies']);
    read('security.istio.io', ['authorizationpolicies', 'requestauthentications', 'peerauthentications']);
    read('networking.istio.io', ['virtualservices', 'destinationrules', 'serviceentries', 'workloadentries', 'gateways']);
    expected.push('authorization.k8s.io/subjectaccessreviews:create', 'admissionregistration.k8s.io/validatingadmissionpolicies/status:update');
    expect(grants(role.rules)).toEqual(expected.sort());
    // No wildcard: arbitrary paramKinds are documented as an explicit addition (a wildcard would read Secrets).
    expect(JSON.stringify(role.rules)).not.toContain('"*"');
    expect(readFileSync(join(WEBHOOKS, 'rbac.yaml'), 'utf8')).toMatch(/wildcard[\s\S]*Secrets/);
  });

  test('the Lease Role allows create, and get/update of the celgate Lease only', () => {
    const role = find('Role', 'celgate-leader-election');
    expect(role.metadata.namespace).toBe('celgate');
    expect(grants(role.rules)).toEqual(['coordination.k8s.io/leases:create', 'coordination.k8s.io/leases[celgate]:get', 'coordination.k8s.io/leases[celgate]:update']);
  });

  test('webhook registration has its own optional ClusterRole: create, and get/update of the celgate configurations', () => {
    const role = find('ClusterRole', 'celgate-webhook-registration');
    expect(grants(role.rules)).toEqual(
      [
        'admissionregistration.k8s.io/validatingwebhookconfigurations:create',
        'admissionregistration.k8s.io/mutatingwebhookconfigurations:create',
        'admissionregistration.k8s.io/validatingwebhookconfigurations[celgate]:get',
        'admissionregistration.k8s.io/validatingwebhookconfigurations[celgate]:update',
        'admissionregistration.k8s.io/mutatingwebhookconfigurations[celgate]:get',
        'admissionregistration.k8s.io/mutatingwebhookconfigurations[celgate]:update',
      ].sort(),
    );
  });

  test('the proxy ClusterRole reads exactly what Kubernetes discovery watches: get/list/watch of services, pods and endpointslices', () => {
    const role = find('ClusterRole', 'celgate-proxy');
    const expected = [
      ['core', 'services'],
      ['core', 'pods'],
      ['discovery.k8s.io', 'endpointslices'],
    ].flatMap(([group, resource]) => ['get', 'list', 'watch'].map((verb) => `${group}/${resource}:${verb}`));
    expect(grants(role.rules)).toEqual(expected.sort());
    // Bound to workloads' ServiceAccounts (an example in the file), never to celgate's own.
    const binding = find('ClusterRoleBinding', 'celgate-proxy');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'celgate-proxy' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'shopping', namespace: 'shop' }]);
  });

  test('every binding names its role and the celgate ServiceAccount', () => {
    for (const [kind, roleKind, name] of [
      ['ClusterRoleBinding', 'ClusterRole', 'celgate'],
      ['ClusterRoleBinding', 'ClusterRole', 'celgate-webhook-registration'],
      ['RoleBinding', 'Role', 'celgate-leader-election'],
    ] as const) {
      const binding = find(kind, name);
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name });
      expect(find(roleKind, name)).toBeDefined();
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'celgate', namespace: 'celgate' }]);
    }
    expect(find('ServiceAccount', 'celgate').metadata.namespace).toBe('celgate');
  });
});

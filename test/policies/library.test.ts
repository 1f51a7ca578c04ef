/**
 * The shipped policy library as a whole: every file loads and compiles with zero issues, every
 * policy is bound the way the library promises, and every policy is exercised by a test.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { compileAdmissionPolicies } from '../../src/engine/admission/index.js';
import { formatIssue, loadResources, type PolicyIssue, type PolicyResource } from '../../src/policy/index.js';
import { loadPolicies, readYaml } from './harness.js';

/** Every policy file of the library; param objects (params/) are data, not policies. */
function policyFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'params' ? [] : policyFiles(path);
    return name.endsWith('.yaml') ? [path] : [];
  });
}

const FILES = policyFiles('policies');
let resources: PolicyResource[];

beforeAll(async () => {
  ({ resources } = await loadResources(FILES));
});

const ofKind = (kind: string) => resources.filter((r) => r.type.kind === kind);

it('loads and compiles every expression with zero issues', async () => {
  const { issues } = await loadResources(FILES);
  const problems: PolicyIssue[] = [...issues];
  compileAdmissionPolicies(resources.filter((r) => r.type.face === 'admission'), problems);
  expect(problems.map(formatIssue)).toEqual([]);
});

it('compiles into the admission engine with zero issues', async () => {
  const { problems } = await loadPolicies(FILES);
  expect(problems).toEqual([]);
});

it('has one policy per Pod Security Standards control, and the best practices', () => {
  const names = [...ofKind('ValidatingAdmissionPolicy'), ...ofKind('MutatingAdmissionPolicy')].map((r) => r.name).sort();
  expect(names.length).toBeGreaterThanOrEqual(20);
  expect(names.filter((n) => n.startsWith('psa-baseline-'))).toHaveLength(12);
  expect(names.filter((n) => n.startsWith('psa-restricted-'))).toHaveLength(7);
  expect(names).toEqual(
    expect.arrayContaining(['disallow-latest-tag', 'require-resources', 'require-labels', 'allowed-registries', 'add-default-labels', 'add-default-security-context']),
  );
});

it('binds every policy once, skipping namespaces labelled celgate.dev/exempt=true', () => {
  const exempt = { matchExpressions: [{ key: 'celgate.dev/exempt', operator: 'NotIn', values: ['true'] }] };
  for (const [policyKind, bindingKind] of [
    ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'],
    ['MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding'],
  ] as const) {
    for (const policy of ofKind(policyKind)) {
      const bindings = ofKind(bindingKind).filter((b) => (b.value.spec as { policyName?: string }).policyName === policy.name);
      expect({ policy: policy.name, bindings: bindings.length }).toEqual({ policy: policy.name, bindings: 1 });
      const spec = bindings[0]!.value.spec as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      expect(spec.matchResources.namespaceSelector).toEqual(exempt);
      if (bindingKind === 'ValidatingAdmissionPolicyBinding') expect(spec.validationActions).toEqual(['Deny']);
    }
  }
});

it('matches Pods and the pod templates of every workload controller', () => {
  const resourcesOf = (r: PolicyResource): string[] =>
    ((r.value.spec as any).matchConstraints.resourceRules as any[]).flatMap((rule) => rule.resources); // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const policy of [...ofKind('ValidatingAdmissionPolicy'), ...ofKind('MutatingAdmissionPolicy')]) {
    expect({ policy: policy.name, resources: resourcesOf(policy) }).toEqual({
      policy: policy.name,
      resources: expect.arrayContaining(['pods', 'deployments', 'replicasets', 'statefulsets', 'daemonsets', 'jobs', 'cronjobs']),
    });
  }
});

it('has a test naming every policy', () => {
  const tests = readdirSync('test/policies')
    .filter((f) => f.endsWith('.test.ts') && f !== 'library.test.ts')
    .map((f) => readFileSync(join('test/policies', f), 'utf8'))
    .join('\n');
  const untested = [...ofKind('ValidatingAdmissionPolicy'), ...ofKind('MutatingAdmissionPolicy')]
    .map((r) => r.name)
    .filter((name) => !tests.includes(name));
  expect(untested).toEqual([]);
});

it('keeps ConfigMap keys unique across the library, so one ConfigMap can hold any selection', () => {
  const names = FILES.map((f) => f.split('/').pop());
  expect(new Set(names).size).toBe(names.length);
  // and every params file is a ConfigMap the bindings' paramRef names
  const params = readdirSync('policies/best-practices/params').flatMap((f) => readYaml(join('policies/best-practices/params', f)));
  const refs = ofKind('ValidatingAdmissionPolicyBinding')
    .map((b) => (b.value.spec as any).paramRef) // eslint-disable-line @typescript-eslint/no-explicit-any
    .filter(Boolean)
    .map((ref) => `${ref.namespace}/${ref.name}`)
    .sort();
  expect(refs).toEqual(params.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort());
});

/** The PolicyTest format: what loads, and every mistake reported at its file:line. */
import { join } from 'node:path';
import { formatIssue } from '../../src/policy/index.js';
import { loadRun } from '../../src/testing/runner.js';
import { globToRegExp } from '../../src/testing/paths.js';
import { CONTAINER_LIMIT_POLICY, pod, suite, workspace } from './workspace.js';

async function issuesOf(files: Record<string, string>): Promise<string[]> {
  const dir = await workspace(files);
  const run = await loadRun([dir]);
  return run.issues.map((i) => formatIssue(i).replace(`${dir}/`, ''));
}

describe('PolicyTest loading', () => {
  it('loads a suite with fixtures from inline objects, files and patches', async () => {
    const dir = await workspace({
      'policy.yaml': CONTAINER_LIMIT_POLICY,
      'pods.yaml': `${pod(1)}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: big}\nspec: {containers: [{name: a, image: x}, {name: b, image: y}, {name: c, image: z}]}\n`,
      'test.yaml': `apiVersion: celgate.dev/v1alpha1
kind: PolicyTest
metadata: {name: fixtures}
spec:
  policies: ["*.yaml"]
  fixtures:
    small: {file: pods.yaml, document: 0}
    big: {file: pods.yaml, kind: Pod, name: big}
    two: {fixture: small, jsonPatch: [{op: add, path: /spec/containers/-, value: {name: extra, image: x}}]}
  cases:
    - name: from a document index
      admission: {object: {fixture: small}}
      expect: {allowed: true}
    - name: selected by kind and name
      admission: {object: {fixture: big}}
      expect: {allowed: false}
    - name: patched
      admission: {object: {fixture: two}}
      expect: {allowed: true}
    - name: merged into the namespace
      admission: {object: {fixture: big, merge: {metadata: {namespace: kube-system}}}}
      expect: {allowed: true}
`,
    });
    const run = await loadRun([dir]);
    expect(run.issues).toEqual([]);
    expect(run.suites).toHaveLength(1);
    const cases = run.suites[0]!.suite.cases;
    expect(cases.map((c) => c.name)).toEqual(['from a document index', 'selected by kind and name', 'patched', 'merged into the namespace']);
    const request = (i: number) => (cases[i]!.input.face === 'admission' ? cases[i]!.input.request : undefined);
    expect((request(2)!.object as { spec: { containers: unknown[] } }).spec.containers).toHaveLength(2);
    expect(request(3)!.namespace).toBe('kube-system');
    // The glob `*.yaml` also matches the test and the pods file: only policy kinds become policies.
    expect(run.suites[0]!.set.resources.map((r) => r.type.kind)).toEqual(['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
    // Integers reach the engine as JSON numbers, as a webhook receives them.
    expect(JSON.stringify(request(0)!.object)).toContain('"containers"');
  });

  it('reports a misspelt field at its line with a suggestion', async () => {
    const issues = await issuesOf({
      'policy.yaml': CONTAINER_LIMIT_POLICY,
      'test.yaml': suite(
        'typo',
        `    - name: one\n      admission: {object: ${pod(1)}}\n      expcet: {allowed: true}\n` +
          `    - name: two\n      admission: {object: ${pod(1)}}\n      expect:\n        alowed:\n          true\n`,
      ),
    });
    expect(issues).toContain("test.yaml:10:7: unknown field 'expcet': did you mean 'expect'? (spec.cases[0].expcet)");
    expect(issues).toContain("test.yaml:14:9: unknown field 'alowed': did you mean 'allowed'? (spec.cases[1].expect.alowed)");
  });

  it('reports a policy file that does not exist', async () => {
    const issues = await issuesOf({ 'test.yaml': suite('missing', `    - name: one\n      admission: {object: ${pod(1)}}\n      expect: {allowed: true}\n`, 'nope.yaml') });
    expect(issues[0]).toBe('test.yaml:6:14: policy no such file or directory: nope.yaml (spec.policies[0])');
  });

  it('treats a suite without cases as a load error', async () => {
    const issues = await issuesOf({ 'policy.yaml': CONTAINER_LIMIT_POLICY, 'test.yaml': suite('empty', '    []\n').replace('cases:\n    []', 'cases: []') });
    expect(issues.join('\n')).toMatch(/test\.yaml:7:\d+: spec\.cases is empty/);
  });

  it('rejects an empty expect, an unknown fixture and a case without input', async () => {
    const issues = await issuesOf({
      'policy.yaml': CONTAINER_LIMIT_POLICY,
      'test.yaml': suite(
        'broken',
        [
          '    - name: empty expect',
          `      admission: {object: ${pod(1)}}`,
          '      expect: {}',
          '    - name: unknown fixture',
          '      admission: {object: {fixture: nope}}',
          '      expect: {allowed: true}',
          '    - name: no input',
          '      expect: {allowed: true}',
          '',
        ].join('\n'),
      ),
    });
    expect(issues.join('\n')).toMatch(/test\.yaml:10:\d+: expect is empty/);
    expect(issues.join('\n')).toMatch(/test\.yaml:12:\d+: unknown fixture 'nope': spec\.fixtures defines none/);
    expect(issues.join('\n')).toMatch(/test\.yaml:14:\d+: a case needs one of admission, admissionReview or request/);
  });

  it('reports a policy that does not compile, and a test file with broken YAML', async () => {
    const issues = await issuesOf({
      'policy.yaml': CONTAINER_LIMIT_POLICY.replace('variables.count <= 2', 'variables.count <= '),
      'test.yaml': suite('ok', `    - name: one\n      admission: {object: ${pod(1)}}\n      expect: {allowed: true}\n`),
      'broken.test.yaml': 'kind: PolicyTest\nspec: [\n',
    });
    expect(issues.some((i) => /^policy\.yaml:20:\d+: /.test(i))).toBe(true);
    expect(issues.some((i) => /^broken\.test\.yaml:\d+:\d+: YAML syntax error/.test(i))).toBe(true);
  });

  it('says so when no PolicyTest is found', async () => {
    const issues = await issuesOf({ 'policy.yaml': CONTAINER_LIMIT_POLICY });
    expect(issues[0]).toMatch(/no PolicyTest documents found/);
  });

  it('matches globs', () => {
    expect(globToRegExp('**/*.yaml').test('a/b/c.yaml')).toBe(true);
    expect(globToRegExp('**/*.yaml').test('c.yaml')).toBe(true);
    expect(globToRegExp('*.{yaml,yml}').test('c.yml')).toBe(true);
    expect(globToRegExp('*.yaml').test('a/c.yaml')).toBe(false);
    expect(globToRegExp('pod-?.yaml').test('pod-1.yaml')).toBe(true);
  });

  it('resolves paths relative to the test file', async () => {
    const dir = await workspace({
      'policies/policy.yaml': CONTAINER_LIMIT_POLICY,
      'tests/t.yaml': suite('relative', `    - name: one\n      admission: {object: ${pod(1)}}\n      expect: {allowed: true}\n`, '../policies/*.yaml'),
    });
    const run = await loadRun([join(dir, 'tests')]);
    expect(run.issues).toEqual([]);
    expect(run.suites[0]!.suite.policyFiles).toEqual([join(dir, 'policies/policy.yaml')]);
  });
});

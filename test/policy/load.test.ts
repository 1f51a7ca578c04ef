import { compileAdmissionPolicies } from '../../src/engine/admission/index.js';
import { loadResources, parseDocuments, recognizeKind, formatIssue, type PolicyIssue, type PolicyResource } from '../../src/policy/index.js';

/** Compiles admission resources as `celgate lint` does, through the engine. */
const compileAll = (resources: PolicyResource[], problems: PolicyIssue[]): void => {
  compileAdmissionPolicies(resources.filter((r) => r.type.face === 'admission'), problems);
};

describe('loading policy documents', () => {
  it('loads the shipped policies without problems', async () => {
    const { resources, issues } = await loadResources(['policies']);
    expect(issues.map(formatIssue)).toEqual([]);
    expect(resources.length).toBeGreaterThan(0);
    const problems: PolicyIssue[] = [];
    compileAll(resources, problems);
    expect(problems.map(formatIssue)).toEqual([]);
  });

  it('collects every problem, each with file:line:col', async () => {
    const file = 'test/fixtures/lint/broken.yaml';
    const { resources, issues } = await loadResources([file]);
    const problems = [...issues];
    compileAll(resources, problems);
    const lines = problems.map(formatIssue).sort();
    expect(lines).toEqual([
      expect.stringMatching(/^test\/fixtures\/lint\/broken\.yaml:13:44: .*EOF.*\(spec\.validations\[0\]\.expression\)$/),
      expect.stringMatching(/^test\/fixtures\/lint\/broken\.yaml:16:11: Unknown variable: undefinedVariable \(spec\.validations\[1\]\.expression\)$/),
      expect.stringMatching(/^test\/fixtures\/lint\/broken\.yaml:18:13: .*did you mean networking\.istio\.io\/v1alpha3\?/),
      expect.stringMatching(/^test\/fixtures\/lint\/broken\.yaml:24:7: unknown kind 'ValidatingAdmisionPolicy'.*did you mean ValidatingAdmissionPolicy\?/),
      expect.stringMatching(/^test\/fixtures\/lint\/broken\.yaml:30:11: metadata\.name is required/),
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    const { issues } = parseDocuments('x.yaml', 'a: 1\nb: [1, 2\nc: 3\n');
    expect(issues[0]).toMatchObject({ file: 'x.yaml', message: expect.stringMatching(/YAML syntax error/) });
    expect(issues[0]!.line).toBeGreaterThanOrEqual(2);
  });

  it('reports a missing path instead of throwing', async () => {
    const { issues } = await loadResources(['does/not/exist']);
    expect(issues.map(formatIssue)).toEqual(['does/not/exist:1:1: no such file or directory']);
  });

  it('skips empty and null documents, as kubectl does (a trailing ---, a comment alone)', () => {
    // k8s.io/cli-runtime resource.StreamVisitor skips a document whose raw form is empty or "null".
    const { documents, issues } = parseDocuments('x.yaml', '---\na: 1\n---\n# only a comment\n---\nnull\n---\n~\n---\nb: 2\n---\n');
    expect(issues).toEqual([]);
    expect(documents.map((d) => d.value)).toEqual([{ a: 1n }, { b: 2n }]);
    expect(documents.map((d) => d.position.line)).toEqual([2, 10]);
  });

  it('reads integers as CEL ints', () => {
    const { documents } = parseDocuments('x.yaml', 'spec:\n  replicas: 3\n  ratio: 0.5\n');
    expect(documents[0]!.value).toEqual({ spec: { replicas: 3n, ratio: 0.5 } });
  });
});

describe('recognising kinds', () => {
  it('accepts the versions DESIGN.md lists', () => {
    expect(recognizeKind('admissionregistration.k8s.io/v1beta1', 'ValidatingAdmissionPolicy')).toHaveProperty('known');
    expect(recognizeKind('networking.istio.io/v1alpha3', 'VirtualService')).toHaveProperty('known');
    expect(recognizeKind('security.istio.io/v1', 'AuthorizationPolicy')).toHaveProperty('known');
    expect(recognizeKind('celgate.dev/v1alpha1', 'PolicyTest')).toHaveProperty('known');
  });

  it('hints at the right apiVersion for a mangled one', () => {
    expect(recognizeKind('Istio::networking/v1alpha3', 'Gateway')).toEqual({
      error: "unknown apiVersion 'Istio::networking/v1alpha3' for Gateway: did you mean networking.istio.io/v1alpha3?",
      field: 'apiVersion',
    });
    expect(recognizeKind('Istio::networking/v1alpha3', 'Service')).toEqual({
      error: "unknown apiVersion 'Istio::networking/v1alpha3' for Service: Service is a Kubernetes kind served at v1",
      field: 'apiVersion',
    });
    expect(recognizeKind('security.istio.io/v2', 'AuthorizationPolicy')).toEqual({
      error: 'AuthorizationPolicy is not served at security.istio.io/v2; use security.istio.io/v1 or security.istio.io/v1beta1',
      field: 'apiVersion',
    });
  });
});

/** Temporary directories holding policies and PolicyTest suites for the runner's tests. */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export async function workspace(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'celgate-test-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

/** Pods with more than `max` containers are denied; kube-system is exempt (a matchCondition). */
export const CONTAINER_LIMIT_POLICY = `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: container-limit
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["pods"]
  matchConditions:
    - name: not-kube-system
      expression: "request.namespace != 'kube-system'"
  variables:
    - name: count
      expression: "size(object.spec.containers)"
  validations:
    - expression: "variables.count <= 2"
      messageExpression: "'at most 2 containers, got ' + string(variables.count)"
      reason: Forbidden
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: container-limit
spec:
  policyName: container-limit
  validationActions: [Deny]
`;

export function pod(containers: number, namespace = 'default'): string {
  const list = Array.from({ length: containers }, (_, i) => `{name: c${i}, image: "nginx:1.27"}`).join(', ');
  return `{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: ${namespace}}, spec: {containers: [${list}]}}`;
}

/** A suite over CONTAINER_LIMIT_POLICY with the given cases (YAML list items, indented by 4). */
export function suite(name: string, cases: string, policies = 'policy.yaml'): string {
  return `apiVersion: celgate.dev/v1alpha1
kind: PolicyTest
metadata:
  name: ${name}
spec:
  policies: [${policies}]
  cases:
${cases}`;
}

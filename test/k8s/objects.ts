/** Kubernetes objects the tests create on the fake API server, as kubectl would send them. */
import type { KubeObject } from './fake-apiserver.js';

export const VAP = 'admissionregistration.k8s.io/v1';

/** A ValidatingAdmissionPolicy denying Pods whose images use the `latest` tag. */
export function noLatestPolicy(name = 'no-latest', expression = "object.spec.containers.all(c, !c.image.endsWith(':latest'))"): KubeObject {
  return {
    apiVersion: VAP,
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] }] },
      validations: [{ expression, message: 'images must not use the latest tag' }],
    },
  };
}

export function binding(name: string, policyName: string, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: VAP,
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name },
    spec: { policyName, validationActions: ['Deny'], ...extra },
  };
}

export function namespace(name: string, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } };
}

/** An AdmissionReview for creating a Pod with `image` in `ns`. */
export function podReview(image: string, ns = 'default', uid = 'b1f3d7a2-0000-4000-8000-000000000001'): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      operation: 'CREATE',
      namespace: ns,
      name: 'web',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      userInfo: { username: 'alice' },
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: ns }, spec: { containers: [{ name: 'web', image }] } },
    },
  };
}

/** Polls `check` until it returns true or `ms` pass; returns how long it took. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 1000, what = 'condition'): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`${what} did not hold within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

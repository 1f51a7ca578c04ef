import type { V1Deployment, V1Namespace, V1Pod } from '@kubernetes/client-node';
import { applyKubernetesDefaults } from '../../src/engine/admission/defaults.js';
import { guessResource, RequestShapeError, requestForObject } from '../../src/engine/admission/request.js';

const pod: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'shop' }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } };

describe('requestForObject', () => {
  it('describes a Pod as kube-apiserver does: core group, pods resource, its namespace and name', () => {
    const request = requestForObject(pod);
    expect(request.kind).toEqual({ group: '', version: 'v1', kind: 'Pod' });
    expect(request.resource).toEqual({ group: '', version: 'v1', resource: 'pods' });
    expect(request.requestKind).toEqual(request.kind);
    expect(request.namespace).toBe('shop');
    expect(request.name).toBe('web');
    expect(request.operation).toBe('CREATE');
    // kube-apiserver defaults the decoded object before admission: the request carries a defaulted copy.
    expect(request.object).toEqual(applyKubernetesDefaults(pod));
    expect(request.object).not.toBe(pod);
    expect(requestForObject(pod, { defaults: false }).object).toBe(pod);
    expect(request.oldObject).toBeNull();
    expect(request.dryRun).toBe(false);
    expect(request.options).toEqual({ apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' });
    expect(request.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestForObject(pod).uid).not.toBe(request.uid);
  });

  it('splits the group from apiVersion and uses the built-in resource names', () => {
    const deployment: V1Deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api' } };
    const request = requestForObject(deployment);
    expect(request.kind).toEqual({ group: 'apps', version: 'v1', kind: 'Deployment' });
    expect(request.resource.resource).toBe('deployments');
    const cases: [string, string, string][] = [
      ['networking.k8s.io/v1', 'Ingress', 'ingresses'],
      ['networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies'],
      ['v1', 'Endpoints', 'endpoints'],
      ['policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets'],
      ['autoscaling/v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers'],
      ['admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration', 'validatingwebhookconfigurations'],
      ['apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'customresourcedefinitions'],
    ];
    for (const [apiVersion, kind, resource] of cases) expect(requestForObject({ apiVersion, kind, metadata: { name: 'x' } }).resource.resource).toBe(resource);
  });

  it('puts a namespaced object without a namespace in `default`, and cluster-scoped ones in none', () => {
    expect(requestForObject({ ...pod, metadata: { name: 'web' } }).namespace).toBe('default');
    const namespace: V1Namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } };
    expect(requestForObject(namespace).namespace).toBeUndefined();
    expect(requestForObject({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'r', namespace: 'ignored' } }).namespace).toBeUndefined();
    expect(requestForObject(pod, { namespace: 'other' }).namespace).toBe('other');
  });

  it('guesses the resource of unknown kinds like apimachinery UnsafeGuessKindToResource', () => {
    // apimachinery meta.UnsafeGuessKindToResource: lower-case; "s" → +"es", "y" → "ies", else +"s".
    expect(guessResource('Widget')).toBe('widgets');
    expect(guessResource('Gateway')).toBe('gatewaies'); // the guess knows no English: y → ies even after a vowel
    expect(guessResource('Class')).toBe('classes');
    expect(guessResource('Policy')).toBe('policies');
    expect(requestForObject({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }).resource).toEqual({ group: 'example.com', version: 'v1', resource: 'widgets' });
  });

  it('sends the object as oldObject and no object on DELETE, both on UPDATE', () => {
    // Kubernetes docs (validating-admission-policy): "object - The object from the incoming request.
    // For DELETE requests, this value is null." "oldObject - The existing object. The value is null for CREATE requests."
    // (defaults: false: this test is about which object goes where; defaulting has its own tests.)
    const deleted = requestForObject(pod, { operation: 'DELETE', defaults: false });
    expect(deleted.object).toBeNull();
    expect(deleted.oldObject).toBe(pod);
    expect(deleted.options).toEqual({ apiVersion: 'meta.k8s.io/v1', kind: 'DeleteOptions' });
    const old = { ...pod, metadata: { ...pod.metadata, labels: { v: '1' } } };
    const updated = requestForObject(pod, { operation: 'UPDATE', oldObject: old, dryRun: true, userInfo: { username: 'alice', groups: ['dev'] }, defaults: false });
    expect(updated.object).toBe(pod);
    expect(updated.oldObject).toBe(old);
    expect(updated.dryRun).toBe(true);
    expect(updated.userInfo).toEqual({ username: 'alice', groups: ['dev'] });
    expect(requestForObject(pod, { operation: 'CONNECT' }).options).toBeUndefined();
  });

  it('refuses objects it cannot describe, saying which field is missing', () => {
    expect(() => requestForObject('pod')).toThrow(RequestShapeError);
    expect(() => requestForObject({ kind: 'Pod' })).toThrow(/apiVersion is required/);
    expect(() => requestForObject({ apiVersion: 'v1' })).toThrow(/kind is required/);
  });
});

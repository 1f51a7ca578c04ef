/**
 * matchPolicy Equivalent converts the object: Kubernetes API reference (MatchResources,
 * matchPolicy): "a request to apps/v1beta1 or extensions/v1beta1 would be converted to
 * apps/v1 and sent to the ValidatingAdmissionPolicy". The policy sees object and oldObject
 * in the version its rule named; a mutation made there is converted back to the request's.
 */
import { convertObject } from '../../../src/engine/admission/conversion.js';
import { deployment, policiesFrom, requestFor, run } from './helpers.js';

function policy(kind: 'Validating' | 'Mutating', rules: string, body: string): string {
  const version = kind === 'Validating' ? 'v1' : 'v1beta1';
  return `
apiVersion: admissionregistration.k8s.io/${version}
kind: ${kind}AdmissionPolicy
metadata: {name: p}
spec:
  matchConstraints:
    resourceRules:
${rules.replace(/^/gm, '    ')}
${body.replace(/^/gm, '  ')}
---
apiVersion: admissionregistration.k8s.io/${version}
kind: ${kind}AdmissionPolicyBinding
metadata: {name: b}
spec:
  policyName: p
${kind === 'Validating' ? '  validationActions: [Deny]' : ''}
`;
}

const v1beta2Deployment = () => ({ ...deployment(1), apiVersion: 'apps/v1beta2' });

describe('matchPolicy Equivalent: conversion to the matched version', () => {
  it('a validating policy for apps/v1 sees an apps/v1beta2 request as apps/v1, object and oldObject', () => {
    const yaml = policy(
      'Validating',
      '- {apiGroups: [apps], apiVersions: [v1], operations: ["*"], resources: [deployments]}',
      `validations:
- expression: "object.apiVersion == 'apps/v1' && oldObject.apiVersion == 'apps/v1' && request.requestKind.version == 'v1beta2'"`,
    );
    const request = requestFor(v1beta2Deployment(), { operation: 'UPDATE', oldObject: v1beta2Deployment() });
    expect(request.kind.version).toBe('v1beta2');
    expect(run(policiesFrom(yaml), request).allowed).toBe(true);
    // With Exact the rule does not match at all; a policy for the request's own version sees it unconverted.
    const own = policy(
      'Validating',
      '- {apiGroups: [apps], apiVersions: [v1beta2], operations: ["*"], resources: [deployments]}',
      `validations:
- expression: "object.apiVersion == 'apps/v1beta2'"`,
    );
    expect(run(policiesFrom(own), request).allowed).toBe(true);
  });

  it('a custom resource matched through another served version gets that apiVersion (conversion strategy None)', () => {
    const widget = { apiVersion: 'example.com/v1alpha1', kind: 'Widget', metadata: { name: 'w', namespace: 'default' }, spec: { size: 3 } };
    const yaml = policy(
      'Validating',
      '- {apiGroups: [example.com], apiVersions: [v1], operations: ["*"], resources: [widgets]}',
      `validations:
- expression: "object.apiVersion == 'example.com/v1' && object.spec.size == 3"`,
    );
    expect(run(policiesFrom(yaml), requestFor(widget)).allowed).toBe(true);
  });

  it('a mutation made in the matched version is converted back to the request version', () => {
    const yaml = policy(
      'Mutating',
      '- {apiGroups: [apps], apiVersions: [v1], operations: ["*"], resources: [deployments]}',
      `mutations:
- patchType: ApplyConfiguration
  applyConfiguration:
    expression: "object.apiVersion == 'apps/v1' ? Object{metadata: Object.metadata{labels: {'seen-as': 'v1'}}} : Object{}"`,
    );
    const decision = run(policiesFrom(yaml), requestFor(v1beta2Deployment()), { phase: 'mutate' });
    expect(decision.allowed).toBe(true);
    const mutated = decision.patchedObject as { apiVersion: string; metadata: { labels: Record<string, string> } };
    expect(mutated.apiVersion).toBe('apps/v1beta2');
    expect(mutated.metadata.labels['seen-as']).toBe('v1');
    // The patch turns the submitted object into the mutated one: apiVersion is not touched.
    expect(decision.patch).toEqual([{ op: 'add', path: '/metadata/labels', value: { 'seen-as': 'v1' } }]);
  });
});

describe('convertObject', () => {
  const coreEvent = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'e', namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'web' },
    message: 'Started container',
    reason: 'Started',
    source: { component: 'kubelet' },
    firstTimestamp: '2026-01-01T00:00:00Z',
    lastTimestamp: '2026-01-01T00:01:00Z',
    count: 2,
    reportingComponent: 'kubelet',
    type: 'Normal',
  };
  const eventsKind = { group: 'events.k8s.io', version: 'v1', kind: 'Event' };
  const coreKind = { group: '', version: 'v1', kind: 'Event' };

  it('renames the Event fields events.k8s.io/v1 names differently from core/v1, and back', () => {
    // Kubernetes API reference, events.k8s.io/v1 Event: regarding, note, deprecatedSource,
    // deprecatedFirstTimestamp, deprecatedLastTimestamp, deprecatedCount, reportingController.
    const converted = convertObject(coreEvent, coreKind, eventsKind);
    expect(converted).toEqual({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: 'e', namespace: 'default' },
      regarding: { kind: 'Pod', name: 'web' },
      note: 'Started container',
      reason: 'Started',
      deprecatedSource: { component: 'kubelet' },
      deprecatedFirstTimestamp: '2026-01-01T00:00:00Z',
      deprecatedLastTimestamp: '2026-01-01T00:01:00Z',
      deprecatedCount: 2,
      reportingController: 'kubelet',
      type: 'Normal',
    });
    expect(convertObject(converted, eventsKind, coreKind)).toEqual(coreEvent);
    expect(coreEvent.message).toBe('Started container');
  });

  it('leaves null (a DELETE request has no object) as it is', () => {
    expect(convertObject(null, coreKind, eventsKind)).toBeNull();
  });
});

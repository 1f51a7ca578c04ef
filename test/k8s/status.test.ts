/**
 * Compile-failure status for ValidatingAdmissionPolicies, written by the leader only.
 * The loopback API server has no /status subresource, so the status write goes to the object
 * itself through the real client (same body, same resourceVersion conflict rules).
 */
import { AdmissionregistrationV1Api, KubeConfig, type V1ValidatingAdmissionPolicy } from '@kubernetes/client-node';
import { COMPILED_CONDITION, createStatusWriter, desiredStatus, type PolicyStatusApi } from '../../src/k8s/status.js';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';

const POLICY = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicy',
  metadata: { name: 'p', generation: 2 },
  spec: { validations: [{ expression: 'object.foo()' }] },
};

describe('ValidatingAdmissionPolicy status', () => {
  let server: FakeApiServer;
  let api: AdmissionregistrationV1Api;
  let statusApi: PolicyStatusApi;
  beforeEach(async () => {
    server = await startFakeApiServer();
    const config = new KubeConfig();
    config.loadFromString(server.kubeconfig());
    api = config.makeApiClient(AdmissionregistrationV1Api);
    statusApi = {
      readValidatingAdmissionPolicy: (p) => api.readValidatingAdmissionPolicy(p),
      replaceValidatingAdmissionPolicyStatus: (p) => api.replaceValidatingAdmissionPolicy(p),
    } as PolicyStatusApi;
  });
  afterEach(async () => {
    await server.close();
  });

  const read = () => server.get('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy', 'p') as Record<string, any>;

  test('the leader writes a False condition with the errors, then True once the policy compiles', async () => {
    server.create(POLICY);
    let clock = new Date('2026-01-01T00:00:00Z');
    const writer = createStatusWriter(statusApi, { isLeader: () => true, now: () => clock });
    const problems = [{ field: 'spec.validations[0].expression', message: "undeclared reference to 'foo'" }];

    expect(await writer.report([{ policy: await api.readValidatingAdmissionPolicy({ name: 'p' }), problems }])).toEqual(['p']);
    const failed = read().status.conditions;
    expect(failed).toEqual([
      {
        type: COMPILED_CONDITION,
        status: 'False',
        reason: 'CompileError',
        observedGeneration: read().metadata.generation,
        lastTransitionTime: '2026-01-01T00:00:00.000Z',
        message: "celgate cannot compile this policy; it is not enforced by celgate: spec.validations[0].expression: undeclared reference to 'foo'",
      },
    ]);

    // The same report again writes nothing.
    clock = new Date('2026-01-01T00:01:00Z');
    expect(await writer.report([{ policy: await api.readValidatingAdmissionPolicy({ name: 'p' }), problems }])).toEqual([]);

    expect(await writer.report([{ policy: await api.readValidatingAdmissionPolicy({ name: 'p' }), problems: [] }])).toEqual(['p']);
    expect(read().status.conditions).toEqual([expect.objectContaining({ type: COMPILED_CONDITION, status: 'True', reason: 'Compiled', lastTransitionTime: '2026-01-01T00:01:00.000Z' })]);
  });

  test('a policy that never failed gets no write; a follower writes nothing; a stale copy is re-read on 409', async () => {
    server.create(POLICY);
    const policy = await api.readValidatingAdmissionPolicy({ name: 'p' });
    let leader = false;
    const writer = createStatusWriter(statusApi, { isLeader: () => leader });
    expect(await writer.report([{ policy, problems: [{ message: 'boom' }] }])).toEqual([]);
    leader = true;
    expect(await writer.report([{ policy, problems: [] }])).toEqual([]);
    expect(read().status).toBeUndefined();

    server.update({ ...read(), metadata: { ...read().metadata, labels: { changed: 'yes' } } }); // `policy` is now stale
    expect(await writer.report([{ policy, problems: [{ message: 'boom' }] }])).toEqual(['p']);
    expect(read().metadata.labels).toEqual({ changed: 'yes' });
    expect(read().status.conditions[0]).toMatchObject({ status: 'False', message: expect.stringContaining('boom') });
  });

  test('other conditions are kept and lastTransitionTime only moves when status changes', () => {
    const other = { type: 'Other', status: 'True', reason: 'X', message: '', lastTransitionTime: new Date(0) };
    const policy: V1ValidatingAdmissionPolicy = { metadata: { name: 'p', generation: 1 }, status: { conditions: [other] } };
    const first = desiredStatus({ policy, problems: [{ message: 'a' }] }, new Date(5_000))!;
    expect(first.conditions!.map((c) => c.type)).toEqual(['Other', COMPILED_CONDITION]);
    const second = desiredStatus({ policy: { ...policy, status: first }, problems: [{ message: 'b' }] }, new Date(9_000))!;
    expect(second.conditions![1]!.lastTransitionTime).toEqual(new Date(5_000));
    expect(second.conditions![1]!.message).toContain(': b');
  });
});

/**
 * The deployment manifests in webhooks/: parsed with `yaml` and checked against what the
 * admissionregistration.k8s.io/v1 API requires and what celgate's server expects.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { deniedBy, errors, loadPolicies, readYaml, review } from '../policies/harness.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const DIR = 'webhooks';
const FILES = readdirSync(DIR, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yaml'));
/** Applied only with `serve --register-webhooks`, so left out of the kustomization (commented there). */
const OPT_IN = ['rbac-registration.yaml', 'rbac-proxy.yaml'];
const MANIFESTS: Json[] = FILES.filter((f) => f !== 'kustomization.yaml').flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    return { ...(doc.toJS() as Json), __file: file };
  }),
);

function one(kind: string): Json {
  const found = MANIFESTS.filter((m) => m.kind === kind);
  expect(found).toHaveLength(1);
  return found[0]!;
}

const deployment = () => one('Deployment');
const container = () => deployment().spec.template.spec.containers[0];

it('every manifest has apiVersion, kind and a name, and namespaced ones live in celgate', () => {
  const clusterScoped = new Set(['Namespace', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);
  for (const m of MANIFESTS) {
    expect({ file: m.__file, apiVersion: typeof m.apiVersion, kind: typeof m.kind, name: typeof m.metadata?.name }).toEqual({
      file: m.__file,
      apiVersion: 'string',
      kind: 'string',
      name: 'string',
    });
    if (!clusterScoped.has(m.kind)) expect({ file: m.__file, namespace: m.metadata.namespace }).toEqual({ file: m.__file, namespace: 'celgate' });
  }
  expect(one('Namespace').metadata.name).toBe('celgate');
});

it('the kustomization lists every manifest', () => {
  const kustomization = parseAllDocuments(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as Json;
  expect(kustomization.kind).toBe('Kustomization');
  expect([...kustomization.resources].sort()).toEqual(FILES.filter((f) => f !== 'kustomization.yaml' && !OPT_IN.includes(f)).sort());
});

describe('Deployment', () => {
  it('runs two replicas of celgate serve --kubernetes with the policies and certificates directories', () => {
    const d = deployment();
    expect(d.apiVersion).toBe('apps/v1');
    expect(d.spec.replicas).toBe(2);
    for (const [k, v] of Object.entries(d.spec.selector.matchLabels)) expect(d.spec.template.metadata.labels[k]).toBe(v);
    expect(container().args).toEqual(['serve', '--kubernetes', '--policies', '/etc/celgate/policies', '--certs', '/etc/celgate/certs']);
    expect(d.spec.template.spec.serviceAccountName).toBe(one('ServiceAccount').metadata.name);
  });

  it('probes /readyz and /healthz over HTTPS on the container port 8443', () => {
    const c = container();
    const port = c.ports.find((p: Json) => p.containerPort === 8443);
    expect(port).toBeDefined();
    for (const [probe, path] of [
      ['readinessProbe', '/readyz'],
      ['livenessProbe', '/healthz'],
    ] as const) {
      const get = c[probe].httpGet;
      expect({ probe, path: get.path, scheme: get.scheme }).toEqual({ probe, path, scheme: 'HTTPS' });
      expect([8443, port.name]).toContain(get.port);
    }
  });

  it('declares resource requests and a memory limit', () => {
    const { requests, limits } = container().resources;
    expect(requests.cpu).toEqual(expect.any(String));
    expect(requests.memory).toEqual(expect.any(String));
    expect(limits.memory).toEqual(expect.any(String));
  });

  it('runs under the restricted security context', () => {
    const pod = deployment().spec.template.spec;
    const sc = container().securityContext;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.seccompProfile.type).toBe('RuntimeDefault');
    expect(sc).toEqual(
      expect.objectContaining({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      }),
    );
  });

  it('mounts the policies ConfigMap and the TLS Secret read-only where the args point', () => {
    const pod = deployment().spec.template.spec;
    const mounts = Object.fromEntries(container().volumeMounts.map((m: Json) => [m.mountPath, m]));
    const volumes = Object.fromEntries(pod.volumes.map((v: Json) => [v.name, v]));
    const policies = volumes[mounts['/etc/celgate/policies'].name];
    const certs = volumes[mounts['/etc/celgate/certs'].name];
    expect(mounts['/etc/celgate/policies'].readOnly).toBe(true);
    expect(mounts['/etc/celgate/certs'].readOnly).toBe(true);
    expect(policies.configMap.name).toBe(one('ConfigMap').metadata.name);
    expect(certs.secret.secretName).toEqual(expect.any(String));
  });
});

it('the Service sends 443 to the container port', () => {
  const service = one('Service');
  const c = container();
  expect(service.spec.selector).toEqual(deployment().spec.selector.matchLabels);
  expect(service.spec.ports).toHaveLength(1);
  const [port] = service.spec.ports;
  expect(port.port).toBe(443);
  const target = c.ports.find((p: Json) => p.containerPort === port.targetPort || p.name === port.targetPort);
  expect(target?.containerPort).toBe(8443);
});

it('the PodDisruptionBudget keeps one replica up', () => {
  const pdb = one('PodDisruptionBudget');
  expect(pdb.apiVersion).toBe('policy/v1');
  expect(pdb.spec.minAvailable).toBe(1);
  expect(pdb.spec.selector.matchLabels).toEqual(deployment().spec.selector.matchLabels);
});

describe.each([
  ['ValidatingWebhookConfiguration', '/validate'],
  ['MutatingWebhookConfiguration', '/mutate'],
])('%s', (kind, path) => {
  const webhooks = () => one(kind).webhooks as Json[];

  it(`calls the celgate Service at ${path}`, () => {
    expect(one(kind).apiVersion).toBe('admissionregistration.k8s.io/v1');
    expect(webhooks().length).toBeGreaterThan(0);
    for (const w of webhooks()) {
      expect(w.name).toMatch(/^[a-z0-9-]+(\.[a-z0-9-]+){2,}$/); // the API requires a fully qualified name
      expect(w.clientConfig.service).toEqual({ name: one('Service').metadata.name, namespace: 'celgate', path, port: 443 });
      // "" is the placeholder `celgate certs webhook --write-manifests` fills with the base64 of the CA's PEM.
      const caBundle: string = w.clientConfig.caBundle;
      expect(typeof caBundle).toBe('string');
      if (caBundle !== '') expect(Buffer.from(caBundle, 'base64').toString('utf8')).toContain('-----BEGIN CERTIFICATE-----');
    }
  });

  it('has the settings the README documents', () => {
    for (const w of webhooks()) {
      expect(w.sideEffects).toBe('None');
      expect(w.admissionReviewVersions).toEqual(['v1']);
      expect(w.timeoutSeconds).toBe(5);
      expect(w.failurePolicy).toBe('Fail');
    }
  });

  it('never sends requests from the celgate and kube-system namespaces', () => {
    for (const w of webhooks()) {
      expect(w.namespaceSelector.matchExpressions).toEqual(
        expect.arrayContaining([{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: expect.arrayContaining(['celgate', 'kube-system']) }]),
      );
    }
  });

  it('covers pods and the workload controllers', () => {
    for (const w of webhooks()) {
      const covered = (w.rules as Json[]).flatMap((r: Json) => r.resources.map((res: string) => `${r.apiGroups[0]}/${res}`));
      expect(covered).toEqual(
        expect.arrayContaining(['/pods', 'apps/deployments', 'apps/replicasets', 'apps/statefulsets', 'apps/daemonsets', 'batch/jobs', 'batch/cronjobs']),
      );
      for (const r of w.rules as Json[]) expect(r.operations).toEqual(expect.arrayContaining(['CREATE', 'UPDATE']));
    }
  });
});

it("the webhook's own Deployment meets the restricted profile and the best practices", async () => {
  const { policies, problems } = await loadPolicies([
    'policies/pod-security/baseline',
    'policies/pod-security/restricted',
    'policies/best-practices/disallow-latest-tag.yaml',
    'policies/best-practices/require-resources.yaml',
    'policies/best-practices/require-labels.yaml',
    'policies/best-practices/allowed-registries.yaml',
  ]);
  expect(problems).toEqual([]);
  const params = ['required-labels.yaml', 'allowed-registries.yaml'].flatMap((f) => readYaml(`policies/best-practices/params/${f}`));
  // Judged as if it ran in an ordinary namespace: the celgate namespace itself is exempt.
  const { __file, ...object } = deployment();
  const decision = review(policies, { ...object, metadata: { ...object.metadata, namespace: 'apps' } }, { cluster: params });
  expect(errors(decision)).toEqual([]);
  expect(deniedBy(decision)).toEqual([]);
});

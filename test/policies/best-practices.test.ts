/**
 * The best-practice policies (policies/best-practices) through the admission engine: image tags,
 * resources, required labels and allowed registries (both parameterised by the ConfigMaps in
 * policies/best-practices/params), and the two MutatingAdmissionPolicies.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  asWorkload,
  deniedBy,
  denialMessage,
  errors,
  fixture,
  loadPolicies,
  readYaml,
  review,
  type Json,
  type Policies,
} from './harness.js';

const DIR = 'policies/best-practices';
const PARAMS_DIR = join(DIR, 'params');
const MUTATING_FILES = ['add-default-labels.yaml', 'add-default-security-context.yaml'].map((f) => join(DIR, f));
const VALIDATING_FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => join(DIR, f))
  .filter((f) => !MUTATING_FILES.includes(f));
const PARAMS = readdirSync(PARAMS_DIR).flatMap((f) => readYaml(join(PARAMS_DIR, f)));

let policies: Policies;
let mutating: Policies;

beforeAll(async () => {
  const loaded = await loadPolicies(VALIDATING_FILES);
  expect(loaded.problems).toEqual([]);
  policies = loaded.policies;
});

/** A pod that every best practice accepts; tests change one thing at a time. */
function goodPod(): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web',
      namespace: 'apps',
      labels: { 'app.kubernetes.io/name': 'web', 'app.kubernetes.io/part-of': 'shop', team: 'payments', 'celgate.dev/admitted-by': 'celgate' },
    },
    spec: {
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'web',
          image: 'ghcr.io/celgate/web:2.1.0',
          resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '128Mi' } },
        },
      ],
    },
  };
}

const validate = (object: Json, cluster: readonly unknown[] = PARAMS) => review(policies, object, { cluster });

/** The params with one more allowed registry prefix. */
function allowingRegistry(prefix: string): Json[] {
  return PARAMS.map((p) =>
    p.metadata.name === 'allowed-registries' ? { ...p, data: { registries: `${p.data.registries}\n${prefix}` } } : p,
  );
}

describe('the params', () => {
  it('are ConfigMaps in the celgate namespace, named as the bindings refer to them', () => {
    expect(PARAMS.map((p) => `${p.apiVersion} ${p.kind} ${p.metadata.namespace}/${p.metadata.name}`).sort()).toEqual([
      'v1 ConfigMap celgate/allowed-registries',
      'v1 ConfigMap celgate/required-labels',
    ]);
  });
});

it('admits the good pod and the restricted Deployment fixture', () => {
  for (const object of [goodPod(), fixture('restricted-deployment.yaml')]) {
    const decision = validate(object);
    expect(errors(decision)).toEqual([]);
    expect(deniedBy(decision)).toEqual([]);
  }
});

describe('disallow-latest-tag', () => {
  const withImage = (image: string): Json => {
    const pod = goodPod();
    pod.spec.containers[0].image = image;
    return pod;
  };

  it.each([
    ['ghcr.io/celgate/web:2.1.0'],
    ['ghcr.io/celgate/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'],
    ['localhost:5000/web:1.0'],
  ])('allows %s', (image) => {
    expect(deniedBy(validate(withImage(image), allowingRegistry('localhost:5000/')))).toEqual([]);
  });

  it.each([
    ['ghcr.io/celgate/web:latest'],
    ['ghcr.io/celgate/web'],
    // The ":5000" is the registry's port, not a tag: this image has no tag, so it means :latest.
    ['localhost:5000/web'],
  ])('denies %s', (image) => {
    const decision = validate(withImage(image), allowingRegistry('localhost:5000/'));
    expect(deniedBy(decision)).toEqual(['disallow-latest-tag']);
    expect(denialMessage(decision, 'disallow-latest-tag')).toContain(`container "web" uses image "${image}"`);
  });

  it('checks init containers and workload templates', () => {
    const pod = goodPod();
    pod.spec.initContainers = [{ name: 'migrate', image: 'ghcr.io/celgate/migrate:latest', resources: pod.spec.containers[0].resources }];
    const decision = validate(asWorkload('StatefulSet', pod));
    expect(deniedBy(decision).filter((p) => p === 'disallow-latest-tag')).toEqual(['disallow-latest-tag']);
    expect(denialMessage(decision, 'disallow-latest-tag')).toContain('container "migrate"');
  });
});

describe('require-resources', () => {
  it('denies a container without a memory limit, naming what is missing', () => {
    const pod = goodPod();
    delete pod.spec.containers[0].resources.limits;
    const decision = validate(pod);
    expect(deniedBy(decision)).toEqual(['require-resources']);
    expect(denialMessage(decision, 'require-resources')).toContain('container "web" must set resources.limits.memory');
  });

  it('denies a container without any resources', () => {
    const pod = goodPod();
    pod.spec.initContainers = [{ name: 'setup', image: 'ghcr.io/celgate/setup:1.0' }];
    const decision = validate(pod);
    expect(denialMessage(decision, 'require-resources')).toContain(
      'container "setup" must set resources.requests.cpu, resources.requests.memory, resources.limits.memory',
    );
  });

  it('does not require a CPU limit', () => {
    const pod = goodPod();
    expect(pod.spec.containers[0].resources.limits.cpu).toBeUndefined();
    expect(deniedBy(validate(pod))).toEqual([]);
  });
});

describe('require-labels (params: ConfigMap celgate/required-labels)', () => {
  it('denies an object without the labels the ConfigMap lists', () => {
    const pod = goodPod();
    delete pod.metadata.labels['app.kubernetes.io/part-of'];
    const decision = validate(pod);
    expect(deniedBy(decision)).toEqual(['require-labels']);
    expect(denialMessage(decision, 'require-labels')).toBe('Pod "web" is missing required labels: app.kubernetes.io/part-of');
  });

  it('follows the ConfigMap: other labels, other answer', () => {
    const params = PARAMS.map((p) =>
      p.metadata.name === 'required-labels' ? { ...p, data: { labels: 'cost-center, app.kubernetes.io/name' } } : p,
    );
    const decision = validate(goodPod(), params);
    expect(denialMessage(decision, 'require-labels')).toContain('missing required labels: cost-center');
  });

  it('denies when the param object is missing (parameterNotFoundAction: Deny)', () => {
    // kube-apiserver treats "no params found for policy binding with `Deny` parameterNotFoundAction"
    // as a configuration error of the binding, which failurePolicy Fail turns into a denial.
    const decision = validate(goodPod(), PARAMS.filter((p) => p.metadata.name !== 'required-labels'));
    expect(decision.allowed).toBe(false);
    expect(errors(decision)).toEqual([expect.stringMatching(/^require-labels: .*no params found/)]);
    expect(decision.status?.message).toContain('require-labels');
  });
});

describe('allowed-registries (params: ConfigMap celgate/allowed-registries)', () => {
  const withImage = (image: string): Json => {
    const pod = goodPod();
    pod.spec.containers[0].image = image;
    return pod;
  };

  it.each([['ghcr.io/celgate/web:2.1.0'], ['registry.k8s.io/pause:3.9'], ['nginx:1.25'], ['docker.io/library/redis:7']])('allows %s', (image) => {
    expect(deniedBy(validate(withImage(image)))).toEqual([]);
  });

  it.each([
    ['quay.io/evil/miner:1.0', 'quay.io/evil/miner:1.0'],
    // The prefix ends with "/", so a look-alike organisation does not pass.
    ['ghcr.io/celgate-evil/web:1.0', 'ghcr.io/celgate-evil/web:1.0'],
    // Docker Hub shorthand: "acme/app" is docker.io/acme/app, not docker.io/library/.
    ['acme/app:1.0', 'docker.io/acme/app:1.0'],
  ])('denies %s', (image, normalized) => {
    const decision = validate(withImage(image));
    expect(deniedBy(decision)).toEqual(['allowed-registries']);
    expect(denialMessage(decision, 'allowed-registries')).toContain(`container "web" uses image "${normalized}"`);
  });
});

describe('mutating policies', () => {
  beforeAll(async () => {
    const loaded = await loadPolicies(MUTATING_FILES);
    expect(loaded.problems).toEqual([]);
    mutating = loaded.policies;
  });
  const mutate = (object: Json) => review(mutating, object, { phase: 'mutate', cluster: PARAMS });

  it('add-default-labels adds the labels a pod lacks', () => {
    const pod = goodPod();
    delete pod.metadata.labels.team;
    delete pod.metadata.labels['celgate.dev/admitted-by'];
    const decision = mutate(pod);
    expect(errors(decision)).toEqual([]);
    const patched = decision.patchedObject as Json;
    expect(patched.metadata.labels).toEqual({ ...pod.metadata.labels, team: 'unassigned', 'celgate.dev/admitted-by': 'celgate' });
  });

  it('add-default-labels never changes a label that is set', () => {
    const pod = goodPod(); // has team=payments and celgate.dev/admitted-by
    const decision = mutate(pod);
    expect(errors(decision)).toEqual([]);
    expect(decision.patch).toBeNull();
  });

  it('add-default-security-context gives a pod without a securityContext the RuntimeDefault seccomp profile', () => {
    const pod = goodPod();
    delete pod.spec.securityContext;
    const decision = mutate(pod);
    expect(errors(decision)).toEqual([]);
    expect((decision.patchedObject as Json).spec.securityContext).toEqual({ seccompProfile: { type: 'RuntimeDefault' } });
    // Defaulting: kube-apiserver gives every PodSpec `securityContext: {}` (SetDefaults_PodSpec)
    // before admission, so the policy adds the profile inside the existing (empty) securityContext.
    expect(decision.patch).toEqual(
      expect.arrayContaining([{ op: 'add', path: '/spec/securityContext/seccompProfile', value: { type: 'RuntimeDefault' } }]),
    );
  });

  it('add-default-security-context fills the pod template of a CronJob and keeps other fields', () => {
    const pod = goodPod();
    pod.spec.securityContext = { runAsNonRoot: true };
    const decision = mutate(asWorkload('CronJob', pod));
    expect(errors(decision)).toEqual([]);
    const spec = (decision.patchedObject as Json).spec.jobTemplate.spec.template.spec;
    expect(spec.securityContext).toEqual({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  });

  it('add-default-security-context keeps a profile the pod chose', () => {
    const pod = goodPod();
    pod.spec.securityContext = { seccompProfile: { type: 'Localhost', localhostProfile: 'web.json' } };
    const decision = mutate(pod);
    expect(errors(decision)).toEqual([]);
    expect(decision.patch).toBeNull();
  });

  it('the defaults make a bare pod pass the restricted seccomp control', async () => {
    const pod = goodPod();
    delete pod.spec.securityContext;
    const patched = mutate(pod).patchedObject as Json;
    const { policies: restricted, problems } = await loadPolicies(['policies/pod-security/restricted/psa-restricted-seccomp.yaml']);
    expect(problems).toEqual([]);
    expect(deniedBy(review(restricted, pod))).toEqual(['psa-restricted-seccomp']);
    expect(deniedBy(review(restricted, patched))).toEqual([]);
  });
});

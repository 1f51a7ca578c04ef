/**
 * Built-in Kubernetes defaulting (what kube-apiserver applies on decode, before admission).
 * Sources, kubernetes/kubernetes: pkg/apis/core/v1/defaults.go, pkg/apis/apps/v1/defaults.go,
 * pkg/apis/batch/v1/defaults.go, and the zz_generated.defaults.go next to each (which defaulters
 * run on which object).
 */
import { applyKubernetesDefaults, defaultPullPolicy, hasKubernetesDefaults, imageTag, withKubernetesDefaults } from '../../../src/engine/admission/defaults.js';
import { requestForObject } from '../../../src/engine/admission/request.js';
import { formatIssue } from '../../../src/policy/index.js';
import { loadRun, runSuites } from '../../../src/testing/runner.js';
import { workspace } from '../../testing/workspace.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const container = (image: string, extra: Json = {}): Json => ({ name: 'c', image, ...extra });

/** The container defaults every container of a pod or pod template gets (SetDefaults_Container). */
const containerDefaults = (imagePullPolicy: string): Json => ({
  imagePullPolicy,
  terminationMessagePath: '/dev/termination-log',
  terminationMessagePolicy: 'File',
});

/** SetDefaults_PodSpec: applies to Pods and to every pod template. */
const podSpecDefaults: Json = {
  dnsPolicy: 'ClusterFirst',
  restartPolicy: 'Always',
  securityContext: {},
  terminationGracePeriodSeconds: 30,
  schedulerName: 'default-scheduler',
};

const template = (spec: Json = {}): Json => ({ metadata: { labels: { app: 'web' } }, spec: { containers: [container('nginx:1.27')], ...spec } });

describe('applyKubernetesDefaults: Pod', () => {
  it('gives a bare pod the PodSpec, Pod and container defaults', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: { containers: [container('nginx:1.27', { ports: [{ containerPort: 80 }] })] } };
    expect(applyKubernetesDefaults(pod)).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web' },
      spec: {
        ...podSpecDefaults,
        enableServiceLinks: true, // SetDefaults_Pod (Pods only)
        containers: [{ ...container('nginx:1.27'), ...containerDefaults('IfNotPresent'), ports: [{ containerPort: 80, protocol: 'TCP' }] }],
      },
    });
  });

  it('defaults init and ephemeral containers, probes, lifecycle handlers and fieldRefs', () => {
    const probe = { httpGet: { port: 8080 } };
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web' },
      spec: {
        initContainers: [container('busybox')],
        containers: [
          container('app:2', {
            livenessProbe: probe,
            readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 5, timeoutSeconds: 0 },
            lifecycle: { preStop: { httpGet: { port: 80, path: '/quit' } } },
            env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
          }),
        ],
        ephemeralContainers: [container('debug:latest')],
      },
    };
    const out = applyKubernetesDefaults(pod) as Json;
    expect(out.spec.initContainers[0]).toMatchObject(containerDefaults('Always'));
    expect(out.spec.ephemeralContainers[0]).toMatchObject(containerDefaults('Always'));
    const app = out.spec.containers[0];
    // SetDefaults_Probe (timeoutSeconds is a plain int32: 0 counts as unset) and SetDefaults_HTTPGetAction.
    expect(app.livenessProbe).toEqual({ httpGet: { port: 8080, path: '/', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
    expect(app.readinessProbe).toEqual({ tcpSocket: { port: 80 }, periodSeconds: 5, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 });
    expect(app.lifecycle.preStop.httpGet).toEqual({ port: 80, path: '/quit', scheme: 'HTTP' });
    expect(app.env[0].valueFrom.fieldRef).toEqual({ fieldPath: 'spec.nodeName', apiVersion: 'v1' }); // SetDefaults_ObjectFieldSelector
    expect(app.startupProbe).toBeUndefined(); // probes are defaulted only when set
  });

  it('defaults requests to limits in Pods only, never in pod templates', () => {
    const resources = { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '100m' } };
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: { containers: [container('a:1', { resources })], initContainers: [container('b:1', { resources: { limits: { memory: '1Gi' } } })] } };
    const out = applyKubernetesDefaults(pod) as Json;
    // defaults.go SetDefaults_Pod: "If limits are specified, but requests are not, default requests to limits"
    expect(out.spec.containers[0].resources).toEqual({ limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '100m', memory: '128Mi' } });
    expect(out.spec.initContainers[0].resources.requests).toEqual({ memory: '1Gi' });
    // "... we only want this defaulting semantic to take place on a v1.Pod and not a v1.PodTemplate"
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { template: { spec: { containers: [container('a:1', { resources: { limits: { cpu: '1' } } })] } } } };
    const defaulted = applyKubernetesDefaults(deployment) as Json;
    expect(defaulted.spec.template.spec.containers[0].resources).toEqual({ limits: { cpu: '1' } });
    expect(defaulted.spec.template.spec.enableServiceLinks).toBeUndefined();
  });

  it('makes container ports host ports with hostNetwork (Pods only)', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'n' }, spec: { hostNetwork: true, containers: [container('a:1', { ports: [{ containerPort: 9100 }, { containerPort: 53, hostPort: 5353, protocol: 'UDP' }] })] } };
    expect((applyKubernetesDefaults(pod) as Json).spec.containers[0].ports).toEqual([
      { containerPort: 9100, hostPort: 9100, protocol: 'TCP' },
      { containerPort: 53, hostPort: 5353, protocol: 'UDP' },
    ]);
  });

  it('defaults volume sources: emptyDir when none, file modes, hostPath type, token expiry', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'v' },
      spec: {
        containers: [container('a:1')],
        volumes: [
          { name: 'scratch' },
          { name: 'host', hostPath: { path: '/var/log' } },
          { name: 'secret', secret: { secretName: 's' } },
          { name: 'config', configMap: { name: 'c', defaultMode: 0o400 } },
          { name: 'projected', projected: { sources: [{ serviceAccountToken: { path: 'token' } }, { downwardAPI: { items: [{ path: 'n', fieldRef: { fieldPath: 'metadata.name' } }] } }] } },
          { name: 'eph', ephemeral: { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'] } } } },
        ],
      },
    };
    const volumes = (applyKubernetesDefaults(pod) as Json).spec.volumes;
    expect(volumes[0]).toEqual({ name: 'scratch', emptyDir: {} });
    expect(volumes[1].hostPath).toEqual({ path: '/var/log', type: '' });
    expect(volumes[2].secret.defaultMode).toBe(420);
    expect(volumes[3].configMap.defaultMode).toBe(0o400);
    expect(volumes[4].projected.defaultMode).toBe(420);
    expect(volumes[4].projected.sources[0].serviceAccountToken.expirationSeconds).toBe(3600);
    expect(volumes[4].projected.sources[1].downwardAPI.items[0].fieldRef.apiVersion).toBe('v1');
    expect(volumes[5].ephemeral.volumeClaimTemplate.spec.volumeMode).toBe('Filesystem');
  });
});

describe('applyKubernetesDefaults: imagePullPolicy', () => {
  // defaults.go SetDefaults_Container: "if tag == latest → PullAlways, else PullIfNotPresent", with the tag
  // from parsers.ParseImageName: "If both tag and digest are empty, a default image tag will be returned" (latest).
  it.each([
    ['nginx', 'Always'],
    ['nginx:latest', 'Always'],
    ['nginx:1.27', 'IfNotPresent'],
    ['nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31', 'IfNotPresent'],
    ['nginx:latest@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31', 'Always'],
    ['localhost:5000/team/app', 'Always'],
    ['localhost:5000/team/app:v2', 'IfNotPresent'],
    ['', 'IfNotPresent'], // does not parse: no tag
  ])('%s → %s', (image, policy) => {
    expect(defaultPullPolicy(image)).toBe(policy);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [container(image)] } };
    expect((applyKubernetesDefaults(pod) as Json).spec.containers[0].imagePullPolicy).toBe(policy);
  });

  it('reads the tag after the registry port, not the port', () => {
    expect(imageTag('registry.example.com:443/app')).toBe('latest');
    expect(imageTag('registry.example.com:443/app:1.0')).toBe('1.0');
  });
});

describe('applyKubernetesDefaults: apps/v1', () => {
  it('Deployment: replicas, RollingUpdate 25%/25%, history and progress deadline, and its pod template', () => {
    const out = applyKubernetesDefaults({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { template: template() } }) as Json;
    expect(out.spec).toMatchObject({
      replicas: 1,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    });
    expect(out.spec.template.spec).toMatchObject(podSpecDefaults);
    expect(out.spec.template.spec.containers[0]).toMatchObject(containerDefaults('IfNotPresent'));
  });

  it('Deployment: a Recreate strategy gets no rollingUpdate; replicas 0 stays 0', () => {
    const out = applyKubernetesDefaults({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { replicas: 0, strategy: { type: 'Recreate' }, template: template() } }) as Json;
    expect(out.spec.replicas).toBe(0);
    expect(out.spec.strategy).toEqual({ type: 'Recreate' });
  });

  it('StatefulSet, DaemonSet, ReplicaSet', () => {
    const sts = applyKubernetesDefaults({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 's' },
      spec: { template: template(), volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'] } }] },
    }) as Json;
    expect(sts.spec).toMatchObject({ podManagementPolicy: 'OrderedReady', updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } }, replicas: 1, revisionHistoryLimit: 10 });
    expect(sts.spec.volumeClaimTemplates[0].spec.volumeMode).toBe('Filesystem');
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toBeUndefined(); // feature-gated: not defaulted here
    expect(sts.spec.template.spec.restartPolicy).toBe('Always');

    const onDelete = applyKubernetesDefaults({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 's' }, spec: { updateStrategy: { type: 'OnDelete' }, template: template() } }) as Json;
    expect(onDelete.spec.updateStrategy).toEqual({ type: 'OnDelete' });

    const ds = applyKubernetesDefaults({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'ds' }, spec: { template: template() } }) as Json;
    expect(ds.spec).toMatchObject({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, revisionHistoryLimit: 10 });
    expect(ds.spec.replicas).toBeUndefined();

    const rs = applyKubernetesDefaults({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'rs' }, spec: { template: template() } }) as Json;
    expect(rs.spec.replicas).toBe(1);
    expect(rs.spec.template.spec.dnsPolicy).toBe('ClusterFirst');
  });
});

describe('applyKubernetesDefaults: batch/v1', () => {
  it('Job: completions and parallelism 1, backoffLimit 6, labels from the template, and the pod template', () => {
    const out = applyKubernetesDefaults({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { template: template({ restartPolicy: 'Never' }) } }) as Json;
    expect(out.spec).toMatchObject({ completions: 1, parallelism: 1, backoffLimit: 6, completionMode: 'NonIndexed', suspend: false, manualSelector: false });
    expect(out.metadata.labels).toEqual({ app: 'web' });
    expect(out.spec.template.spec.restartPolicy).toBe('Never');
    expect(out.spec.template.spec.terminationGracePeriodSeconds).toBe(30);
    expect(out.spec.podReplacementPolicy).toBeUndefined(); // feature-gated: not defaulted here
  });

  it('Job: parallelism alone leaves completions unset; backoffLimitPerIndex makes backoffLimit MaxInt32', () => {
    const parallel = applyKubernetesDefaults({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j', labels: { own: 'x' } }, spec: { parallelism: 3, template: template() } }) as Json;
    expect(parallel.spec.completions).toBeUndefined();
    expect(parallel.spec.parallelism).toBe(3);
    expect(parallel.metadata.labels).toEqual({ own: 'x' });
    const perIndex = applyKubernetesDefaults({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { completionMode: 'Indexed', completions: 4, backoffLimitPerIndex: 1, template: template() } }) as Json;
    expect(perIndex.spec.backoffLimit).toBe(2147483647);
    expect(perIndex.spec.parallelism).toBe(1);
  });

  it('CronJob: its own defaults and the pod template, but not the Job defaults on the job template', () => {
    const out = applyKubernetesDefaults({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c' }, spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: template({ restartPolicy: 'OnFailure' }) } } } }) as Json;
    expect(out.spec).toMatchObject({ concurrencyPolicy: 'Allow', suspend: false, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1 });
    expect(out.spec.jobTemplate.spec.backoffLimit).toBeUndefined();
    expect(out.spec.jobTemplate.spec.template.spec).toMatchObject({ ...podSpecDefaults, restartPolicy: 'OnFailure' });
    expect(out.spec.jobTemplate.spec.template.spec.containers[0].imagePullPolicy).toBe('IfNotPresent');
  });
});

describe('applyKubernetesDefaults: other core/v1 kinds', () => {
  it('Service: ClusterIP, no affinity, TCP and targetPort = port, internal traffic policy', () => {
    const out = applyKubernetesDefaults({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }, { port: 53, protocol: 'UDP', targetPort: 'dns' }] } }) as Json;
    expect(out.spec).toEqual({
      selector: { app: 'web' },
      type: 'ClusterIP',
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
      ports: [
        { port: 80, protocol: 'TCP', targetPort: 80 },
        { port: 53, protocol: 'UDP', targetPort: 'dns' },
      ],
    });
  });

  it('Service: LoadBalancer and ClientIP affinity defaults; ExternalName gets no traffic policies', () => {
    const lb = applyKubernetesDefaults({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { type: 'LoadBalancer', sessionAffinity: 'ClientIP', ports: [{ port: 443 }] } }) as Json;
    expect(lb.spec).toMatchObject({
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      allocateLoadBalancerNodePorts: true,
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } },
    });
    const external = applyKubernetesDefaults({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { type: 'ExternalName', externalName: 'db.example.com' } }) as Json;
    expect(external.spec).toEqual({ type: 'ExternalName', externalName: 'db.example.com', sessionAffinity: 'None' });
  });

  it('ReplicationController, PodTemplate, Secret, Namespace, PersistentVolumeClaim', () => {
    const rc = applyKubernetesDefaults({ apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'rc' }, spec: { template: template() } }) as Json;
    expect(rc.spec.replicas).toBe(1);
    expect(rc.spec.selector).toEqual({ app: 'web' });
    expect(rc.metadata.labels).toEqual({ app: 'web' });
    expect(rc.spec.template.spec.schedulerName).toBe('default-scheduler');

    const podTemplate = applyKubernetesDefaults({ apiVersion: 'v1', kind: 'PodTemplate', metadata: { name: 't' }, template: template() }) as Json;
    expect(podTemplate.template.spec).toMatchObject(podSpecDefaults);
    expect(podTemplate.spec).toBeUndefined();

    expect((applyKubernetesDefaults({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } }) as Json).type).toBe('Opaque');

    const ns = applyKubernetesDefaults({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { team: 'a' } } }) as Json;
    expect(ns.metadata.labels).toEqual({ team: 'a', 'kubernetes.io/metadata.name': 'shop' });
    expect(ns.status).toEqual({ phase: 'Active' });

    const pvc = applyKubernetesDefaults({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'p' }, spec: { accessModes: ['ReadWriteOnce'] } }) as Json;
    expect(pvc.spec.volumeMode).toBe('Filesystem');
    expect(pvc.status).toEqual({ phase: 'Pending' });
  });
});

describe('applyKubernetesDefaults: what it never does', () => {
  it('never modifies its input', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [container('nginx', { resources: { limits: { cpu: '1' } } })] } };
    const before = structuredClone(pod);
    const out = applyKubernetesDefaults(pod);
    expect(pod).toEqual(before);
    expect(out).not.toBe(pod);
    expect((out as Json).spec.containers[0]).not.toBe(pod.spec.containers[0]);
  });

  it('never overrides a value that is set', () => {
    const set = {
      dnsPolicy: 'None',
      restartPolicy: 'OnFailure',
      securityContext: { runAsNonRoot: true },
      terminationGracePeriodSeconds: 0,
      schedulerName: 'custom',
      enableServiceLinks: false,
      containers: [container('nginx', { imagePullPolicy: 'Never', terminationMessagePath: '/tmp/msg', terminationMessagePolicy: 'FallbackToLogsOnError', ports: [{ containerPort: 53, protocol: 'UDP' }] })],
    };
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: set };
    expect((applyKubernetesDefaults(pod) as Json).spec).toEqual(set);
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: { replicas: 7, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 2 } }, revisionHistoryLimit: 0, progressDeadlineSeconds: 60, template: { spec: set } },
    };
    const out = applyKubernetesDefaults(deployment) as Json;
    expect(out.spec).toMatchObject({ replicas: 7, revisionHistoryLimit: 0, progressDeadlineSeconds: 60, strategy: { rollingUpdate: { maxSurge: 2, maxUnavailable: '25%' } } });
    expect(out.spec.template.spec).toEqual(set);
  });

  it('passes unknown kinds, CRDs, other versions and non-objects through unchanged', () => {
    const crd = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { replicas: null } };
    const beta = { apiVersion: 'batch/v1beta1', kind: 'CronJob', metadata: { name: 'c' }, spec: {} };
    const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } };
    for (const object of [crd, beta, configMap]) {
      expect(hasKubernetesDefaults(object)).toBe(false);
      expect(applyKubernetesDefaults(object)).toBe(object);
    }
    expect(applyKubernetesDefaults(null)).toBeNull();
    expect(applyKubernetesDefaults({ apiVersion: 'v1', kind: 'toString' })).toEqual({ apiVersion: 'v1', kind: 'toString' });
  });

  it('is idempotent: defaulting a defaulted object changes nothing', () => {
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { template: template() } };
    const once = applyKubernetesDefaults(deployment);
    expect(applyKubernetesDefaults(once)).toEqual(once);
  });
});

describe('requestForObject applies the defaults', () => {
  const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'shop' }, spec: { template: template() } };

  it('to object and oldObject by default, and not with defaults: false', () => {
    const old = { ...deployment, spec: { ...deployment.spec, replicas: 3 } };
    const update = requestForObject(deployment, { operation: 'UPDATE', oldObject: old });
    expect((update.object as Json).spec.replicas).toBe(1);
    expect((update.oldObject as Json).spec.replicas).toBe(3);
    expect((update.oldObject as Json).spec.revisionHistoryLimit).toBe(10);
    const remove = requestForObject(deployment, { operation: 'DELETE' });
    expect((remove.oldObject as Json).spec.replicas).toBe(1);
    const raw = requestForObject(deployment, { operation: 'UPDATE', oldObject: old, defaults: false });
    expect(raw.object).toBe(deployment);
    expect(raw.oldObject).toBe(old);
    expect(deployment.spec).not.toHaveProperty('replicas');
  });
});

describe('PolicyTest cases get the defaults (kubernetesDefaults: false opts out)', () => {
  const policy = `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: security-context}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}]
  validations:
    - expression: "has(object.spec.securityContext)"
      message: "pods need a securityContext"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: security-context}
spec: {policyName: security-context, validationActions: [Deny]}
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata: {name: label}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}]
  reinvocationPolicy: Never
  mutations:
    - patchType: ApplyConfiguration
      applyConfiguration:
        expression: "Object{metadata: Object.metadata{labels: {'seen': 'yes'}}}"
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata: {name: label}
spec: {policyName: label}
`;
  const suiteText = (defaults: string) => `apiVersion: celgate.dev/v1alpha1
kind: PolicyTest
metadata: {name: defaults}
spec:
  policies: [policy.yaml]
${defaults}
  fixtures:
    pod: {apiVersion: v1, kind: Pod, metadata: {name: p, namespace: default}, spec: {containers: [{name: c, image: nginx}]}}
  cases:
    - name: a pod without securityContext is admitted, as in a cluster (securityContext {} is a default)
      admission: {object: {fixture: pod}}
      expect:
        allowed: true
        # Written as a manifest: compared after the same defaults (the API server re-defaults after mutation).
        patchedObject: {fixture: pod, merge: {metadata: {labels: {seen: "yes"}}}}
    - name: the same pod as written is denied
      admission: {object: {fixture: pod}, kubernetesDefaults: false}
      expect: {allowed: false, messageContains: "pods need a securityContext"}
`;

  it('defaults case objects unless the case or the suite says kubernetesDefaults: false', async () => {
    const dir = await workspace({ 'policy.yaml': policy, 'test.yaml': suiteText('') });
    const loaded = await loadRun([dir]);
    expect(loaded.issues.map(formatIssue)).toEqual([]);
    const summary = await runSuites(loaded.suites);
    expect(summary.results.map((r) => [r.testCase.name, r.status, r.mismatches])).toEqual([
      [expect.stringContaining('is admitted'), 'pass', []],
      [expect.stringContaining('is denied'), 'pass', []],
    ]);

    // Suite-wide opt-out: now the first case is denied too.
    const off = await workspace({ 'policy.yaml': policy, 'test.yaml': suiteText('  defaults: {kubernetesDefaults: false}') });
    const offSummary = await runSuites((await loadRun([off])).suites);
    expect(offSummary.results.map((r) => r.status)).toEqual(['fail', 'pass']);
  });

  it('reports a kubernetesDefaults that is not a boolean at its line', async () => {
    const dir = await workspace({ 'policy.yaml': policy, 'test.yaml': suiteText('  defaults: {kubernetesDefaults: "no"}') });
    const loaded = await loadRun([dir]);
    expect(loaded.issues.map((i) => formatIssue(i).replace(`${dir}/`, ''))).toEqual([expect.stringMatching(/^test\.yaml:6:\d+: spec\.defaults\.kubernetesDefaults must be true or false/)]);
  });
});

describe('resource quantities read as the API server decodes them', () => {
  // k8s.io/apimachinery/pkg/api/resource: a Quantity field is decoded with ParseQuantity and written
  // back with MarshalJSON, so admission sees strings in the printed form (test/cel/lib/quantity-text.test.ts).
  const resources = { limits: { cpu: 0.5, memory: '2048Mi' }, requests: { cpu: '1000m' } };

  it('rewrites container, pod-level and overhead quantities, and emptyDir and claim sizes, in Pods and templates', () => {
    const spec = {
      containers: [container('a:1', { resources })],
      initContainers: [container('b:1', { resources: { limits: { memory: 2000000 } } })],
      ephemeralContainers: [container('c:1', { resources: { requests: { cpu: 2 } } })],
      resources: { limits: { cpu: '4000m' } },
      overhead: { cpu: '0.25' },
      volumes: [
        { name: 'scratch', emptyDir: { sizeLimit: '1024Mi' } },
        { name: 'claim', ephemeral: { volumeClaimTemplate: { spec: { resources: { requests: { storage: '10000Mi' } } } } } },
      ],
    };
    const pod = applyKubernetesDefaults({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec });
    // Requests are copied from the limits as decoded (SetDefaults_Pod runs on the decoded object).
    expect(pod.spec.containers[0].resources).toEqual({ limits: { cpu: '500m', memory: '2Gi' }, requests: { cpu: '1', memory: '2Gi' } });
    expect(pod.spec.initContainers[0].resources).toEqual({ limits: { memory: '2M' }, requests: { memory: '2M' } });
    expect(pod.spec.ephemeralContainers[0].resources).toEqual({ requests: { cpu: '2' } });
    expect(pod.spec.resources).toEqual({ limits: { cpu: '4' } });
    expect(pod.spec.overhead).toEqual({ cpu: '250m' });
    expect(pod.spec.volumes[0].emptyDir).toEqual({ sizeLimit: '1Gi' });
    expect(pod.spec.volumes[1].ephemeral.volumeClaimTemplate.spec.resources).toEqual({ requests: { storage: '10000Mi' } });

    const deployment = applyKubernetesDefaults({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { template: { spec: { containers: [container('a:1', { resources })] } } } });
    expect(deployment.spec.template.spec.containers[0].resources).toEqual({ limits: { cpu: '500m', memory: '2Gi' }, requests: { cpu: '1' } });
  });

  it('rewrites claims, quotas and limit ranges, and defaults a Container limit range (SetDefaults_LimitRangeItem)', () => {
    const claim = applyKubernetesDefaults({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'c' }, spec: { resources: { requests: { storage: '5120Mi' } } } });
    expect(claim.spec.resources).toEqual({ requests: { storage: '5Gi' } });
    const statefulSet = applyKubernetesDefaults({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 's' },
      spec: { template: template(), volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { resources: { requests: { storage: 2000 } } } }] },
    });
    expect(statefulSet.spec.volumeClaimTemplates[0].spec.resources).toEqual({ requests: { storage: '2k' } });
    const quota = applyKubernetesDefaults({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'q' }, spec: { hard: { 'requests.cpu': 10, 'requests.memory': '10240Mi', pods: '20' } } });
    expect(quota.spec.hard).toEqual({ 'requests.cpu': '10', 'requests.memory': '10Gi', pods: '20' });

    // Default limits fall back to max, default requests to the default limits, then to min.
    const limitRange = applyKubernetesDefaults({
      apiVersion: 'v1',
      kind: 'LimitRange',
      metadata: { name: 'l' },
      spec: {
        limits: [
          { type: 'Container', max: { cpu: '2000m', memory: '1Gi' }, min: { cpu: '100m', 'ephemeral-storage': '1Gi' }, default: { memory: '512Mi' } },
          { type: 'Pod', max: { cpu: 4 } },
        ],
      },
    });
    expect(limitRange.spec.limits).toEqual([
      {
        type: 'Container',
        max: { cpu: '2', memory: '1Gi' },
        min: { cpu: '100m', 'ephemeral-storage': '1Gi' },
        default: { memory: '512Mi', cpu: '2' },
        defaultRequest: { memory: '512Mi', cpu: '2', 'ephemeral-storage': '1Gi' },
      },
      // Only Container items get defaults; empty default maps are omitted, as the API server writes them.
      { type: 'Pod', max: { cpu: '4' } },
    ]);
  });

  it('leaves values that are no quantity as written (the API server would refuse them), and is idempotent', () => {
    const pod = applyKubernetesDefaults({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [container('a:1', { resources: { limits: { cpu: 'lots', memory: true } } })] } });
    expect(pod.spec.containers[0].resources.limits).toEqual({ cpu: 'lots', memory: true });
    const once = applyKubernetesDefaults({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [container('a:1', { resources })] } });
    expect(applyKubernetesDefaults(once)).toEqual(once);
    // A quantity is the one thing withKubernetesDefaults finds to change in an otherwise defaulted pod.
    const written = { ...once, spec: { ...once.spec, containers: [{ ...once.spec.containers[0], resources: { limits: { cpu: 1.5 }, requests: { cpu: '1500m' } } }] } };
    const rewritten = withKubernetesDefaults(written);
    expect(rewritten).not.toBe(written);
    expect(rewritten.spec.containers[0].resources).toEqual({ limits: { cpu: '1500m' }, requests: { cpu: '1500m' } });
    expect(withKubernetesDefaults(rewritten)).toBe(rewritten);
  });
});

/**
 * The Pod Security Standards policies (policies/pod-security), control by control, through the
 * admission engine. Each case cites the allowed values from the PSS page
 * (https://kubernetes.io/docs/concepts/security/pod-security-standards/), and each denial checks
 * which policy denied — exactly that one — and that its message names the container and field.
 */
import {
  asWorkload,
  deniedBy,
  denialMessage,
  errors,
  fixture,
  loadPolicies,
  review,
  WORKLOAD_KINDS,
  type Json,
  type Policies,
} from './harness.js';

const BASELINE = 'policies/pod-security/baseline';
const RESTRICTED = 'policies/pod-security/restricted';

let baseline: Policies;
/** The restricted profile is cumulative: "Everything from the baseline profile" plus its own controls. */
let restricted: Policies;

beforeAll(async () => {
  const b = await loadPolicies([BASELINE]);
  expect(b.problems).toEqual([]);
  baseline = b.policies;
  const r = await loadPolicies([BASELINE, RESTRICTED]);
  expect(r.problems).toEqual([]);
  restricted = r.policies;
});

interface Case {
  readonly title: string;
  readonly change: (pod: Json) => void;
  /** Policies expected to deny, or [] when the change is allowed. */
  readonly deny: readonly string[];
  /** A fragment the message of deny[0] must contain. */
  readonly message?: string;
}

const sc = (c: Json): Json => (c.securityContext ??= {});
const podSc = (pod: Json): Json => (pod.spec.securityContext ??= {});
const app = (pod: Json): Json => pod.spec.containers[0];

function runCases(profile: () => Policies, base: string, cases: readonly Case[]): void {
  it.each(cases.map((c) => [c.title, c] as const))('%s', (_title, c) => {
    const pod = fixture(base);
    c.change(pod);
    const decision = review(profile(), pod);
    expect(errors(decision)).toEqual([]);
    expect(deniedBy(decision)).toEqual([...c.deny].sort());
    expect(decision.allowed).toBe(c.deny.length === 0);
    if (c.deny.length > 0) {
      expect(decision.status?.code).toBe(403); // reason Forbidden
      if (c.message) expect(denialMessage(decision, c.deny[0]!)).toContain(c.message);
    }
  });
}

describe('baseline profile', () => {
  it('admits the minimally specified pod', () => {
    const decision = review(baseline, fixture('baseline-pod.yaml'));
    expect(errors(decision)).toEqual([]);
    expect(decision.allowed).toBe(true);
  });

  describe('HostProcess', () => {
    // PSS: spec.securityContext.windowsOptions.hostProcess and the containers' — allowed: undefined/nil, false
    runCases(() => baseline, 'baseline-pod.yaml', [
      { title: 'hostProcess false is allowed', change: (p) => (podSc(p).windowsOptions = { hostProcess: false }), deny: [] },
      {
        title: 'pod-level hostProcess true is denied',
        change: (p) => (podSc(p).windowsOptions = { hostProcess: true }),
        deny: ['psa-baseline-host-process'],
        message: 'pod must not set spec.securityContext.windowsOptions.hostProcess to true',
      },
      {
        title: 'container hostProcess true is denied',
        change: (p) => (sc(app(p)).windowsOptions = { hostProcess: true }),
        deny: ['psa-baseline-host-process'],
        message: 'container "app" must not set securityContext.windowsOptions.hostProcess to true',
      },
    ]);
  });

  describe('Host Namespaces', () => {
    // PSS: spec.hostNetwork, spec.hostPID, spec.hostIPC — allowed: undefined/nil, false
    runCases(() => baseline, 'baseline-pod.yaml', [
      { title: 'false is allowed', change: (p) => Object.assign(p.spec, { hostNetwork: false, hostPID: false, hostIPC: false }), deny: [] },
      { title: 'hostNetwork is denied', change: (p) => (p.spec.hostNetwork = true), deny: ['psa-baseline-host-namespaces'], message: 'spec.hostNetwork' },
      { title: 'hostPID is denied', change: (p) => (p.spec.hostPID = true), deny: ['psa-baseline-host-namespaces'], message: 'spec.hostPID' },
      { title: 'hostIPC is denied', change: (p) => (p.spec.hostIPC = true), deny: ['psa-baseline-host-namespaces'], message: 'spec.hostIPC' },
    ]);
  });

  describe('Privileged Containers', () => {
    // PSS: spec.{containers,initContainers,ephemeralContainers}[*].securityContext.privileged — allowed: undefined/nil, false
    runCases(() => baseline, 'baseline-pod.yaml', [
      { title: 'privileged false is allowed', change: (p) => (sc(app(p)).privileged = false), deny: [] },
      {
        title: 'a privileged container is denied',
        change: (p) => (sc(app(p)).privileged = true),
        deny: ['psa-baseline-privileged'],
        message: 'container "app" must not set securityContext.privileged to true',
      },
      {
        title: 'a privileged init container is denied',
        change: (p) => (p.spec.initContainers = [{ name: 'setup', image: 'busybox:1.36', securityContext: { privileged: true } }]),
        deny: ['psa-baseline-privileged'],
        message: 'container "setup"',
      },
      {
        title: 'a privileged ephemeral container is denied',
        change: (p) => (p.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox:1.36', securityContext: { privileged: true } }]),
        deny: ['psa-baseline-privileged'],
        message: 'container "debugger"',
      },
    ]);
  });

  describe('Capabilities', () => {
    // PSS: capabilities.add — allowed: undefined/nil, AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID,
    // KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT
    runCases(() => baseline, 'baseline-pod.yaml', [
      {
        title: 'the default set is allowed',
        change: (p) =>
          (sc(app(p)).capabilities = {
            add: ['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'],
          }),
        deny: [],
      },
      {
        title: 'NET_RAW and SYS_ADMIN are denied',
        change: (p) => (sc(app(p)).capabilities = { add: ['CHOWN', 'NET_RAW', 'SYS_ADMIN'] }),
        deny: ['psa-baseline-capabilities'],
        message: 'container "app" must not add NET_RAW, SYS_ADMIN in securityContext.capabilities.add',
      },
    ]);
  });

  describe('HostPath Volumes', () => {
    // PSS: spec.volumes[*].hostPath — allowed: undefined/nil
    runCases(() => baseline, 'baseline-pod.yaml', [
      { title: 'other volumes are allowed', change: (p) => (p.spec.volumes = [{ name: 'tmp', emptyDir: {} }]), deny: [] },
      {
        title: 'a hostPath volume is denied',
        change: (p) => (p.spec.volumes = [{ name: 'tmp', emptyDir: {} }, { name: 'docker', hostPath: { path: '/var/run/docker.sock' } }]),
        deny: ['psa-baseline-host-path-volumes'],
        message: 'volume "docker" must not use hostPath',
      },
    ]);
  });

  describe('Host Ports', () => {
    // PSS: spec.{containers,initContainers,ephemeralContainers}[*].ports[*].hostPort — allowed: undefined/nil, 0
    runCases(() => baseline, 'baseline-pod.yaml', [
      { title: 'hostPort 0 is allowed', change: (p) => (app(p).ports = [{ containerPort: 80, hostPort: 0 }]), deny: [] },
      {
        title: 'a host port is denied',
        change: (p) => (app(p).ports = [{ containerPort: 80 }, { containerPort: 443, hostPort: 8443 }]),
        deny: ['psa-baseline-host-ports'],
        message: 'container "app" must not set ports[*].hostPort (found 8443)',
      },
    ]);
  });

  describe('Host Probes / Lifecycle Hooks', () => {
    // PSS (v1.34+): probes' and lifecycle handlers' httpGet.host / tcpSocket.host — allowed: undefined/nil, ""
    runCases(() => baseline, 'baseline-pod.yaml', [
      { title: 'an empty host is allowed', change: (p) => (app(p).readinessProbe = { httpGet: { host: '', path: '/', port: 80 } }), deny: [] },
      {
        title: 'a probe host is denied',
        change: (p) => (app(p).livenessProbe = { tcpSocket: { host: '169.254.169.254', port: 80 } }),
        deny: ['psa-baseline-host-probes'],
        message: 'container "app" must not set host in probes or lifecycle handlers (found 169.254.169.254)',
      },
      {
        title: 'a lifecycle hook host is denied',
        change: (p) => (app(p).lifecycle = { preStop: { httpGet: { host: 'kubernetes.default', path: '/', port: 443 } } }),
        deny: ['psa-baseline-host-probes'],
        message: 'kubernetes.default',
      },
    ]);
  });

  describe('AppArmor', () => {
    // PSS: appArmorProfile.type — allowed: undefined/nil, RuntimeDefault, Localhost;
    // annotations container.apparmor.security.beta.kubernetes.io/* — allowed: undefined/nil, runtime/default, localhost/*
    runCases(() => baseline, 'baseline-pod.yaml', [
      {
        title: 'RuntimeDefault, Localhost and localhost/* annotations are allowed',
        change: (p) => {
          podSc(p).appArmorProfile = { type: 'RuntimeDefault' };
          sc(app(p)).appArmorProfile = { type: 'Localhost', localhostProfile: 'k8s-apparmor-example' };
          p.metadata.annotations = { 'container.apparmor.security.beta.kubernetes.io/app': 'localhost/k8s-apparmor-example' };
        },
        deny: [],
      },
      {
        title: 'an Unconfined container profile is denied',
        change: (p) => (sc(app(p)).appArmorProfile = { type: 'Unconfined' }),
        deny: ['psa-baseline-apparmor'],
        message: 'container "app" must not set securityContext.appArmorProfile.type to "Unconfined"',
      },
      {
        title: 'an unconfined annotation is denied',
        change: (p) => (p.metadata.annotations = { 'container.apparmor.security.beta.kubernetes.io/app': 'unconfined' }),
        deny: ['psa-baseline-apparmor'],
        message: 'annotation container.apparmor.security.beta.kubernetes.io/app must not be "unconfined"',
      },
    ]);
  });

  describe('SELinux', () => {
    // PSS: seLinuxOptions.type — allowed: undefined/"", container_t, container_init_t, container_kvm_t,
    // container_engine_t; seLinuxOptions.user and .role — allowed: undefined/""
    runCases(() => baseline, 'baseline-pod.yaml', [
      {
        title: 'the container types are allowed',
        change: (p) => {
          podSc(p).seLinuxOptions = { type: 'container_t', level: 's0:c123,c456' };
          sc(app(p)).seLinuxOptions = { type: 'container_engine_t' };
        },
        deny: [],
      },
      {
        title: 'another type is denied',
        change: (p) => (podSc(p).seLinuxOptions = { type: 'spc_t' }),
        deny: ['psa-baseline-selinux'],
        message: 'pod must not set spec.securityContext.seLinuxOptions: type "spc_t"',
      },
      {
        title: 'a user or role is denied',
        change: (p) => (sc(app(p)).seLinuxOptions = { user: 'system_u', role: 'system_r' }),
        deny: ['psa-baseline-selinux'],
        message: 'container "app" must not set securityContext.seLinuxOptions: user "system_u", role "system_r"',
      },
    ]);
  });

  describe('/proc Mount Type', () => {
    // PSS: procMount — allowed: undefined/nil, Default (v1.35+: any value when hostUsers is false)
    runCases(() => baseline, 'baseline-pod.yaml', [
      { title: 'Default is allowed', change: (p) => (sc(app(p)).procMount = 'Default'), deny: [] },
      {
        title: 'Unmasked is allowed in a user namespace',
        change: (p) => {
          p.spec.hostUsers = false;
          sc(app(p)).procMount = 'Unmasked';
        },
        deny: [],
      },
      {
        title: 'Unmasked is denied',
        change: (p) => (sc(app(p)).procMount = 'Unmasked'),
        deny: ['psa-baseline-proc-mount'],
        message: 'container "app" must not set securityContext.procMount to "Unmasked"',
      },
    ]);
  });

  describe('Seccomp', () => {
    // PSS: seccompProfile.type — allowed: undefined/nil, RuntimeDefault, Localhost
    runCases(() => baseline, 'baseline-pod.yaml', [
      {
        title: 'RuntimeDefault and Localhost are allowed',
        change: (p) => {
          podSc(p).seccompProfile = { type: 'RuntimeDefault' };
          sc(app(p)).seccompProfile = { type: 'Localhost', localhostProfile: 'profiles/audit.json' };
        },
        deny: [],
      },
      {
        title: 'Unconfined at pod level is denied',
        change: (p) => (podSc(p).seccompProfile = { type: 'Unconfined' }),
        deny: ['psa-baseline-seccomp'],
        message: 'pod must not set spec.securityContext.seccompProfile.type to "Unconfined"',
      },
      {
        title: 'Unconfined in a container is denied',
        change: (p) => (sc(app(p)).seccompProfile = { type: 'Unconfined' }),
        deny: ['psa-baseline-seccomp'],
        message: 'container "app" must not set securityContext.seccompProfile.type to "Unconfined"',
      },
    ]);
  });

  describe('Sysctls', () => {
    // PSS: spec.securityContext.sysctls[*].name — allowed: the "safe" set (kernel.shm_rmid_forced,
    // net.ipv4.ip_local_port_range, ..., net.ipv4.tcp_keepalive_probes)
    runCases(() => baseline, 'baseline-pod.yaml', [
      {
        title: 'safe sysctls are allowed',
        change: (p) =>
          (podSc(p).sysctls = [
            { name: 'kernel.shm_rmid_forced', value: '0' },
            { name: 'net.ipv4.ip_unprivileged_port_start', value: '80' },
            { name: 'net.ipv4.tcp_keepalive_time', value: '600' },
          ]),
        deny: [],
      },
      {
        title: 'an unsafe sysctl is denied',
        change: (p) => (podSc(p).sysctls = [{ name: 'net.ipv4.tcp_syncookies', value: '1' }, { name: 'kernel.msgmax', value: '65536' }]),
        deny: ['psa-baseline-sysctls'],
        message: 'pod must not set sysctl kernel.msgmax in spec.securityContext.sysctls',
      },
    ]);
  });
});

describe('restricted profile', () => {
  it('admits the restricted pod', () => {
    const decision = review(restricted, fixture('restricted-pod.yaml'));
    expect(errors(decision)).toEqual([]);
    expect(deniedBy(decision)).toEqual([]);
    expect(decision.allowed).toBe(true);
  });

  it('denies the minimally specified pod with every restricted-only control', () => {
    const decision = review(restricted, fixture('baseline-pod.yaml'));
    expect(deniedBy(decision)).toEqual([
      'psa-restricted-capabilities',
      'psa-restricted-privilege-escalation',
      'psa-restricted-run-as-non-root',
      'psa-restricted-seccomp',
    ]);
  });

  describe('Volume Types', () => {
    // PSS: every spec.volumes[*] must be one of configMap, csi, downwardAPI, emptyDir, ephemeral,
    // persistentVolumeClaim, projected, secret
    runCases(() => restricted, 'restricted-pod.yaml', [
      {
        title: 'the core volume types are allowed',
        change: (p) =>
          p.spec.volumes.push(
            { name: 'token', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } },
            { name: 'info', downwardAPI: { items: [] } },
            { name: 'creds', secret: { secretName: 'creds' } },
            { name: 'csi', csi: { driver: 'secrets-store.csi.k8s.io' } },
            { name: 'scratch2', ephemeral: { volumeClaimTemplate: { spec: {} } } },
          ),
        deny: [],
      },
      {
        title: 'nfs is denied',
        change: (p) => p.spec.volumes.push({ name: 'share', nfs: { server: 'nfs.example.com', path: '/' } }),
        deny: ['psa-restricted-volume-types'],
        message: 'volume "share" must not use volume type nfs',
      },
      {
        title: 'hostPath is denied by both profiles',
        change: (p) => p.spec.volumes.push({ name: 'host', hostPath: { path: '/' } }),
        deny: ['psa-restricted-volume-types', 'psa-baseline-host-path-volumes'],
        message: 'volume "host" must not use volume type hostPath',
      },
    ]);
  });

  describe('Privilege Escalation', () => {
    // PSS: allowPrivilegeEscalation — allowed: false (Linux only: not checked when spec.os.name is windows)
    runCases(() => restricted, 'restricted-pod.yaml', [
      {
        title: 'unset is denied',
        change: (p) => delete sc(app(p)).allowPrivilegeEscalation,
        deny: ['psa-restricted-privilege-escalation'],
        message: 'container "app" must set securityContext.allowPrivilegeEscalation to false',
      },
      {
        title: 'true in an init container is denied',
        change: (p) => (sc(p.spec.initContainers[0]).allowPrivilegeEscalation = true),
        deny: ['psa-restricted-privilege-escalation'],
        message: 'container "init"',
      },
      {
        title: 'a Windows pod is not checked',
        change: (p) => {
          p.spec.os = { name: 'windows' };
          delete sc(app(p)).allowPrivilegeEscalation;
        },
        deny: [],
      },
    ]);
  });

  describe('Running as Non-root', () => {
    // PSS: runAsNonRoot — allowed: true; container fields may be undefined/nil if the pod-level
    // spec.securityContext.runAsNonRoot is set to true
    runCases(() => restricted, 'restricted-pod.yaml', [
      {
        title: 'every container set, pod unset, is allowed',
        change: (p) => {
          delete podSc(p).runAsNonRoot;
          sc(app(p)).runAsNonRoot = true;
          sc(p.spec.initContainers[0]).runAsNonRoot = true;
        },
        deny: [],
      },
      {
        title: 'pod unset and a container unset is denied',
        change: (p) => {
          delete podSc(p).runAsNonRoot;
          sc(app(p)).runAsNonRoot = true;
        },
        deny: ['psa-restricted-run-as-non-root'],
        message: 'container "init" must set securityContext.runAsNonRoot to true',
      },
      {
        title: 'a container overriding with false is denied',
        change: (p) => (sc(app(p)).runAsNonRoot = false),
        deny: ['psa-restricted-run-as-non-root'],
        message: 'container "app" must not set securityContext.runAsNonRoot to false',
      },
    ]);
  });

  describe('Running as Non-root user', () => {
    // PSS (v1.23+): runAsUser — allowed: any non-zero value, undefined/null
    runCases(() => restricted, 'restricted-pod.yaml', [
      { title: 'a non-zero user is allowed', change: (p) => (sc(app(p)).runAsUser = 65532), deny: [] },
      {
        title: 'pod-level 0 is denied',
        change: (p) => (podSc(p).runAsUser = 0),
        deny: ['psa-restricted-run-as-user'],
        message: 'pod must not set spec.securityContext.runAsUser to 0',
      },
      {
        title: 'container 0 is denied',
        change: (p) => (sc(app(p)).runAsUser = 0),
        deny: ['psa-restricted-run-as-user'],
        message: 'container "app" must not set securityContext.runAsUser to 0',
      },
    ]);
  });

  describe('Seccomp', () => {
    // PSS: seccompProfile.type — allowed: RuntimeDefault, Localhost; container fields may be unset
    // when the pod-level field is set, and the pod-level field may be unset when all containers set it
    runCases(() => restricted, 'restricted-pod.yaml', [
      {
        title: 'every container set, pod unset, is allowed',
        change: (p) => {
          delete podSc(p).seccompProfile;
          sc(app(p)).seccompProfile = { type: 'Localhost', localhostProfile: 'app.json' };
          sc(p.spec.initContainers[0]).seccompProfile = { type: 'RuntimeDefault' };
        },
        deny: [],
      },
      {
        title: 'neither pod nor container set is denied',
        change: (p) => {
          delete podSc(p).seccompProfile;
          sc(app(p)).seccompProfile = { type: 'RuntimeDefault' };
        },
        deny: ['psa-restricted-seccomp'],
        message: 'container "init" must set securityContext.seccompProfile.type to RuntimeDefault or Localhost',
      },
      {
        title: 'Unconfined is denied by both profiles',
        change: (p) => (sc(app(p)).seccompProfile = { type: 'Unconfined' }),
        deny: ['psa-restricted-seccomp', 'psa-baseline-seccomp'],
        message: 'container "app" must not set securityContext.seccompProfile.type to "Unconfined"',
      },
    ]);
  });

  describe('Capabilities', () => {
    // PSS (v1.22+): capabilities.drop must include ALL; capabilities.add — allowed: undefined/nil, NET_BIND_SERVICE
    runCases(() => restricted, 'restricted-pod.yaml', [
      {
        title: 'not dropping ALL is denied',
        change: (p) => (sc(app(p)).capabilities = { drop: ['NET_RAW'] }),
        deny: ['psa-restricted-capabilities'],
        message: 'container "app" must set securityContext.capabilities.drop to include "ALL"',
      },
      {
        title: 'adding a baseline-allowed capability other than NET_BIND_SERVICE is denied',
        change: (p) => (sc(app(p)).capabilities = { drop: ['ALL'], add: ['CHOWN'] }),
        deny: ['psa-restricted-capabilities'],
        message: 'container "app" must not add CHOWN in securityContext.capabilities.add',
      },
    ]);
  });

  describe('/proc Mount Type', () => {
    // v1.35+: the restricted profile requires the default /proc masks even in a user namespace
    runCases(() => restricted, 'restricted-pod.yaml', [
      {
        title: 'Unmasked in a user namespace is denied by restricted only',
        change: (p) => {
          p.spec.hostUsers = false;
          sc(app(p)).procMount = 'Unmasked';
        },
        deny: ['psa-restricted-proc-mount'],
        message: 'container "app" must not set securityContext.procMount to "Unmasked"',
      },
    ]);
  });
});

describe('every control at once', () => {
  it('reports each broken control once, naming the containers', () => {
    const decision = review(restricted, fixture('bad-pod.yaml'));
    expect(errors(decision)).toEqual([]);
    expect(decision.allowed).toBe(false);
    expect(deniedBy(decision)).toEqual([
      'psa-baseline-apparmor',
      'psa-baseline-capabilities',
      'psa-baseline-host-namespaces',
      'psa-baseline-host-path-volumes',
      'psa-baseline-host-ports',
      'psa-baseline-host-probes',
      'psa-baseline-host-process',
      'psa-baseline-privileged',
      'psa-baseline-proc-mount',
      'psa-baseline-seccomp',
      'psa-baseline-selinux',
      'psa-baseline-sysctls',
      'psa-restricted-capabilities',
      'psa-restricted-privilege-escalation',
      'psa-restricted-proc-mount',
      'psa-restricted-run-as-non-root',
      'psa-restricted-run-as-user',
      'psa-restricted-seccomp',
      'psa-restricted-volume-types',
    ]);
    expect(denialMessage(decision, 'psa-baseline-capabilities')).toContain('container "init" must not add SYS_ADMIN');
    expect(denialMessage(decision, 'psa-baseline-host-namespaces')).toBe(
      'Host Namespaces (Pod Security Standards, baseline): pod must not set spec.hostNetwork to true; ' +
        'pod must not set spec.hostPID to true; pod must not set spec.hostIPC to true',
    );
  });
});

describe('pod templates of workload controllers (autogen)', () => {
  it.each(WORKLOAD_KINDS)('a privileged %s is denied', (kind) => {
    const pod = fixture('baseline-pod.yaml');
    sc(app(pod)).privileged = true;
    const decision = review(baseline, asWorkload(kind, pod));
    expect(errors(decision)).toEqual([]);
    expect(deniedBy(decision)).toEqual(['psa-baseline-privileged']);
    expect(denialMessage(decision, 'psa-baseline-privileged')).toContain('container "app" must not set securityContext.privileged to true');
  });

  it.each(WORKLOAD_KINDS)('a restricted %s is admitted by the restricted profile', (kind) => {
    const decision = review(restricted, asWorkload(kind, fixture('restricted-pod.yaml')));
    expect(errors(decision)).toEqual([]);
    expect(deniedBy(decision)).toEqual([]);
  });

  it('checks the pod template annotations of a workload (AppArmor)', () => {
    const pod = fixture('baseline-pod.yaml');
    pod.metadata.annotations = { 'container.apparmor.security.beta.kubernetes.io/app': 'unconfined' };
    const decision = review(baseline, asWorkload('Deployment', pod));
    expect(deniedBy(decision)).toEqual(['psa-baseline-apparmor']);
  });

  it('denies the privileged Deployment fixture', () => {
    const decision = review(baseline, fixture('privileged-deployment.yaml'));
    expect(deniedBy(decision)).toEqual(['psa-baseline-privileged']);
    expect(decision.status?.message).toContain('container "agent" must not set securityContext.privileged to true');
  });

  it('admits the restricted Deployment fixture', () => {
    const decision = review(restricted, fixture('restricted-deployment.yaml'));
    expect(errors(decision)).toEqual([]);
    expect(decision.allowed).toBe(true);
  });
});

describe('exemptions and operations', () => {
  it('skips namespaces labelled celgate.dev/exempt=true', () => {
    const pod = fixture('bad-pod.yaml');
    pod.metadata.namespace = 'exempt';
    const decision = review(restricted, pod);
    expect(decision.allowed).toBe(true);
    expect(deniedBy(decision)).toEqual([]);
  });

  it('checks UPDATE as well as CREATE', () => {
    const good = fixture('baseline-pod.yaml');
    const bad = fixture('baseline-pod.yaml');
    sc(app(bad)).privileged = true;
    const decision = review(baseline, bad, { operation: 'UPDATE', oldObject: good });
    expect(deniedBy(decision)).toEqual(['psa-baseline-privileged']);
  });

  it('checks ephemeral containers added through the pods/ephemeralcontainers subresource (kubectl debug)', () => {
    const before = fixture('baseline-pod.yaml');
    const after = fixture('baseline-pod.yaml');
    after.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox:1.36', securityContext: { privileged: true } }];
    const decision = review(baseline, after, { operation: 'UPDATE', oldObject: before, subResource: 'ephemeralcontainers' });
    expect(deniedBy(decision)).toEqual(['psa-baseline-privileged']);
    expect(denialMessage(decision, 'psa-baseline-privileged')).toContain('container "debugger"');
  });

  it('does not judge DELETE', () => {
    const bad = fixture('bad-pod.yaml');
    const decision = review(restricted, bad, { operation: 'DELETE' });
    expect(decision.allowed).toBe(true);
  });
});

// The floor of the admission benchmark: the validate phase of the shipped library's 23 validating
// policies (Pod Security Standards baseline and restricted, and the best practices) written by hand
// in plain JavaScript over the parsed AdmissionRequest: no CEL, no cost accounting, no per-policy
// evaluations, shortened messages, no mutation. No engine can decide these policies faster than
// this, so the HTTP and in-process figures measured with it (`index.js --floor`) bound what the
// bars can ask of any implementation on this machine. Each check follows its policy's CEL; the
// benchmark verifies that it allows and denies the workload's reviews exactly as admit() does.

const ALLOWED_CAPABILITIES = ['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'];
const ALLOWED_SYSCTLS = ['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes'];
const SELINUX_TYPES = ['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'];
const VOLUME_TYPES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
const PROFILE_TYPES = ['RuntimeDefault', 'Localhost'];
const REQUIRED_RESOURCES = ['requests.cpu', 'requests.memory', 'limits.memory'];

const podSpecOf = (o) => (o.kind === 'Pod' ? o.spec : o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec.template.spec);
const podMetadataOf = (o) => (o.kind === 'Pod' ? o.metadata : o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.metadata ?? {} : o.spec.template.metadata ?? {});
const about = (c, text) => `container "${c.name}" ${text}`;
const lines = (text) => text.replaceAll('\n', ',').split(',').map((s) => s.trim()).filter((s) => s !== '');
const seLinuxFindings = (o) =>
  [SELINUX_TYPES.includes(o.type ?? '') ? '' : `type "${o.type}"`, (o.user ?? '') === '' ? '' : `user "${o.user}"`, (o.role ?? '') === '' ? '' : `role "${o.role}"`].filter((s) => s !== '').join(', ');
const notWindows = (spec) => (spec.os?.name ?? '') !== 'windows';

/** One function per policy: (object, podSpec, podMetadata, containers, params) -> violation texts. */
const CHECKS = [
  ['psa-baseline-apparmor', (o, spec, meta, cs) => [
    ...(PROFILE_TYPES.includes(spec.securityContext?.appArmorProfile?.type ?? 'RuntimeDefault') ? [] : ['pod appArmorProfile']),
    ...cs.filter((c) => !PROFILE_TYPES.includes(c.securityContext?.appArmorProfile?.type ?? 'RuntimeDefault')).map((c) => about(c, 'appArmorProfile')),
    ...Object.keys(meta.annotations ?? {})
      .filter((k) => k.startsWith('container.apparmor.security.beta.kubernetes.io/') && meta.annotations[k] !== 'runtime/default' && !meta.annotations[k].startsWith('localhost/'))
      .map((k) => `annotation ${k}`),
  ]],
  ['psa-baseline-capabilities', (o, spec, meta, cs) =>
    cs.filter((c) => (c.securityContext?.capabilities?.add ?? []).some((x) => !ALLOWED_CAPABILITIES.includes(x)))
      .map((c) => about(c, `must not add ${c.securityContext.capabilities.add.filter((x) => !ALLOWED_CAPABILITIES.includes(x)).join(', ')}`))],
  ['psa-baseline-host-namespaces', (o, spec) => ['hostNetwork', 'hostPID', 'hostIPC'].filter((f) => spec[f] === true).map((f) => `pod must not set spec.${f} to true`)],
  ['psa-baseline-host-path-volumes', (o, spec) => (spec.volumes ?? []).filter((v) => v.hostPath !== undefined).map((v) => `volume "${v.name}" must not use hostPath`)],
  ['psa-baseline-host-ports', (o, spec, meta, cs) =>
    cs.filter((c) => (c.ports ?? []).some((p) => (p.hostPort ?? 0) !== 0)).map((c) => about(c, `hostPort ${c.ports.filter((p) => (p.hostPort ?? 0) !== 0).map((p) => String(p.hostPort)).join(', ')}`))],
  ['psa-baseline-host-probes', (o, spec, meta, cs) =>
    cs.map((c) => {
      const hosts = [c.livenessProbe, c.readinessProbe, c.startupProbe, c.lifecycle?.postStart, c.lifecycle?.preStop]
        .flatMap((h) => [h?.httpGet?.host, h?.tcpSocket?.host]).map((h) => h ?? '').filter((h) => h !== '');
      return hosts.length === 0 ? '' : about(c, `host ${hosts.join(', ')}`);
    }).filter((m) => m !== '')],
  ['psa-baseline-host-process', (o, spec, meta, cs) => [
    ...(spec.securityContext?.windowsOptions?.hostProcess === true ? ['pod hostProcess'] : []),
    ...cs.filter((c) => c.securityContext?.windowsOptions?.hostProcess === true).map((c) => about(c, 'hostProcess')),
  ]],
  ['psa-baseline-privileged', (o, spec, meta, cs) => cs.filter((c) => c.securityContext?.privileged === true).map((c) => about(c, 'must not set securityContext.privileged to true'))],
  ['psa-baseline-proc-mount', (o, spec, meta, cs) => (spec.hostUsers === false ? [] : cs.filter((c) => (c.securityContext?.procMount ?? 'Default') !== 'Default').map((c) => about(c, 'procMount')))],
  ['psa-baseline-seccomp', (o, spec, meta, cs) => [
    ...(PROFILE_TYPES.includes(spec.securityContext?.seccompProfile?.type ?? 'RuntimeDefault') ? [] : ['pod seccompProfile']),
    ...cs.filter((c) => !PROFILE_TYPES.includes(c.securityContext?.seccompProfile?.type ?? 'RuntimeDefault')).map((c) => about(c, 'seccompProfile')),
  ]],
  ['psa-baseline-selinux', (o, spec, meta, cs) => {
    const pod = seLinuxFindings(spec.securityContext?.seLinuxOptions ?? {});
    return [...(pod === '' ? [] : [`pod seLinuxOptions: ${pod}`]), ...cs.map((c) => seLinuxFindings(c.securityContext?.seLinuxOptions ?? {})).filter((m) => m !== '')];
  }],
  ['psa-baseline-sysctls', (o, spec) => (spec.securityContext?.sysctls ?? []).filter((s) => !ALLOWED_SYSCTLS.includes(s.name)).map((s) => `sysctl ${s.name}`)],
  ['psa-restricted-capabilities', (o, spec, meta, cs) => (!notWindows(spec) ? [] : [
    ...cs.filter((c) => !(c.securityContext?.capabilities?.drop ?? []).includes('ALL')).map((c) => about(c, 'must drop ALL')),
    ...cs.filter((c) => (c.securityContext?.capabilities?.add ?? []).some((x) => x !== 'NET_BIND_SERVICE')).map((c) => about(c, 'must not add')),
  ])],
  ['psa-restricted-privilege-escalation', (o, spec, meta, cs) =>
    (!notWindows(spec) ? [] : cs.filter((c) => (c.securityContext?.allowPrivilegeEscalation ?? true) !== false).map((c) => about(c, 'must set allowPrivilegeEscalation to false')))],
  ['psa-restricted-proc-mount', (o, spec, meta, cs) => cs.filter((c) => (c.securityContext?.procMount ?? 'Default') !== 'Default').map((c) => about(c, 'procMount'))],
  ['psa-restricted-run-as-non-root', (o, spec, meta, cs) => {
    const pod = spec.securityContext?.runAsNonRoot ?? null;
    return [
      ...(pod === false ? ['pod runAsNonRoot false'] : []),
      ...cs.filter((c) => c.securityContext?.runAsNonRoot === false).map((c) => about(c, 'runAsNonRoot false')),
      ...(pod === true ? [] : cs.filter((c) => (c.securityContext?.runAsNonRoot ?? null) === null).map((c) => about(c, 'must set runAsNonRoot'))),
    ];
  }],
  ['psa-restricted-run-as-user', (o, spec, meta, cs) => [
    ...(spec.securityContext?.runAsUser === 0 ? ['pod runAsUser 0'] : []),
    ...cs.filter((c) => c.securityContext?.runAsUser === 0).map((c) => about(c, 'runAsUser 0')),
  ]],
  ['psa-restricted-seccomp', (o, spec, meta, cs) => {
    const pod = spec.securityContext?.seccompProfile?.type ?? '';
    const type = (c) => c.securityContext?.seccompProfile?.type ?? '';
    return !notWindows(spec) ? [] : [
      ...(pod === '' || PROFILE_TYPES.includes(pod) ? [] : ['pod seccompProfile']),
      ...cs.filter((c) => type(c) !== '' && !PROFILE_TYPES.includes(type(c))).map((c) => about(c, 'seccompProfile')),
      ...(pod !== '' ? [] : cs.filter((c) => type(c) === '').map((c) => about(c, 'must set seccompProfile'))),
    ];
  }],
  ['psa-restricted-volume-types', (o, spec) =>
    (spec.volumes ?? []).filter((v) => !VOLUME_TYPES.some((t) => t in v)).map((v) => `volume "${v.name}" ${Object.keys(v).filter((k) => k !== 'name').join(', ')}`)],
  ['require-labels', (o, spec, meta, cs, params) => params.requiredLabels.filter((l) => !(l in (o.metadata.labels ?? {})))],
  ['require-resources', (o, spec) =>
    [...(spec.containers ?? []), ...(spec.initContainers ?? [])].map((c) => {
      const missing = REQUIRED_RESOURCES.filter((r) => !(r.split('.')[1] in (c.resources?.[r.split('.')[0]] ?? {})));
      return missing.length === 0 ? '' : about(c, `must set resources.${missing.join(', resources.')}`);
    }).filter((m) => m !== '')],
  ['allowed-registries', (o, spec, meta, cs, params) =>
    cs.map((c) => {
      const first = c.image.split('/')[0];
      const image = c.image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? c.image : `docker.io/${c.image.includes('/') ? c.image : `library/${c.image}`}`;
      return params.registries.some((r) => image.startsWith(r)) ? '' : about(c, `uses image "${image}"`);
    }).filter((m) => m !== '')],
  ['disallow-latest-tag', (o, spec, meta, cs) =>
    cs.filter((c) => {
      if (c.image.includes('@')) return false;
      const parts = c.image.split('/');
      const last = parts[parts.length - 1];
      return !last.includes(':') || last.endsWith(':latest');
    }).map((c) => about(c, `uses image "${c.image}"`))],
];

/**
 * The hand-written validate phase for the library's params (`data` of the required-labels and
 * allowed-registries ConfigMaps) and namespace labels by name. Returns the AdmissionResponse fields.
 */
export function floorValidator({ requiredLabels, registries }, namespaceLabels = new Map()) {
  const params = { requiredLabels: lines(requiredLabels), registries: lines(registries) };
  return function validate(request) {
    if ((namespaceLabels.get(request.namespace) ?? {})['celgate.dev/exempt'] === 'true') return { allowed: true };
    const o = request.object;
    const spec = podSpecOf(o);
    const containers = [...(spec.containers ?? []), ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])];
    const denials = [];
    for (const [name, check] of CHECKS) {
      const violations = check(o, spec, podMetadataOf(o), containers, params);
      if (violations.length > 0) denials.push(`ValidatingAdmissionPolicy '${name}' with binding '${name}' denied request: ${violations.join('; ')}`);
    }
    return denials.length === 0 ? { allowed: true } : { allowed: false, status: { code: 403, reason: 'Forbidden', message: denials.join('\n') } };
  };
}

export const FLOOR_POLICY_COUNT = CHECKS.length;

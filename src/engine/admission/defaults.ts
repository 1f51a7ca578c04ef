/**
 * Built-in Kubernetes defaulting, as kube-apiserver applies it when it decodes a request body and
 * before any admission plugin runs: a Deployment without `spec.replicas` reaches admission
 * policies with `replicas: 1`, a Pod with `spec.securityContext: {}`, and so on. The webhook gets
 * objects the API server already defaulted; `celgate apply` and the PolicyTest runner build their
 * requests from manifests, which this module defaults so that policies decide the same way.
 * It also rewrites resource.Quantity fields the way the decoder prints them back ("1000m" -> "1").
 *
 * Only the defaults of the versions served by kube-apiserver today (v1, apps/v1, batch/v1) are
 * applied, and only those that do not depend on a feature gate. Sources (kubernetes/kubernetes):
 *   core:  pkg/apis/core/v1/defaults.go (SetDefaults_*) and zz_generated.defaults.go (which
 *          nested defaulters run for which object: SetObjectDefaults_*), plus the declarative
 *          `+default` markers of k8s.io/api/core/v1 (container and service port protocol TCP,
 *          ReplicationController replicas 1).
 *   apps:  pkg/apis/apps/v1/defaults.go and zz_generated.defaults.go.
 *   batch: pkg/apis/batch/v1/defaults.go and zz_generated.defaults.go.
 * Other kinds and versions (CRDs included) pass through unchanged.
 */

import { quantityText } from '../../cel/lib/quantity-text.js';
import { cloneJson, shareUnchanged } from './apply-configuration.js';

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/*
 * What "unset" means depends on the Go type of the field, because defaulting runs on the decoded
 * Go struct: a pointer (`*int32 replicas`) is unset only when absent or null (0 is a value), a
 * string is also unset when "", and a plain integer (`int32 timeoutSeconds`) also when 0.
 */
const absent = (value: unknown): boolean => value === undefined || value === null;
const emptyString = (value: unknown): boolean => absent(value) || value === '';
const zeroInt = (value: unknown): boolean => absent(value) || value === 0;

/**
 * Set while withKubernetesDefaults checks whether the defaults would change an object at all:
 * the defaulters then run on the object itself, and the first write stops them instead.
 */
let probing = false;
const WOULD_CHANGE: unique symbol = Symbol('the defaults would change the object');

/** Every write of a defaulter goes through here (or remove). */
function set(object: JsonObject, key: string, value: unknown): void {
  if (probing) throw WOULD_CHANGE;
  object[key] = value;
}

function remove(object: JsonObject, key: string): void {
  if (!Object.prototype.hasOwnProperty.call(object, key)) return;
  if (probing) throw WOULD_CHANGE;
  delete object[key];
}

function defaultPointer(object: JsonObject, key: string, value: unknown): void {
  if (absent(object[key])) set(object, key, value);
}
function defaultString(object: JsonObject, key: string, value: string): void {
  if (emptyString(object[key])) set(object, key, value);
}
function defaultInt(object: JsonObject, key: string, value: number): void {
  if (zeroInt(object[key])) set(object, key, value);
}

/** The object at `object[key]`, created as {} when unset (a nil struct pointer the defaulter allocates). */
function ensureObject(object: JsonObject, key: string): JsonObject {
  const current = object[key];
  if (isObject(current)) return current;
  const created: JsonObject = {};
  set(object, key, created);
  return created;
}

function objectsIn(value: unknown): JsonObject[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

function child(object: JsonObject | undefined, key: string): JsonObject | undefined {
  const value = object?.[key];
  return isObject(value) ? value : undefined;
}

// ---------------------------------------------------------------------------------------------
// Decoding before defaulting: resource.Quantity fields come back from the API server's decoder as
// it prints them (quantity-text.ts), so a policy reads `cpu: 0.5` as "500m" and `memory: 2048Mi`
// as "2Gi". A value that is no quantity stays as written (the API server would refuse the request).

function decodeQuantity(holder: JsonObject | undefined, key: string): void {
  const value = holder?.[key];
  if (typeof value !== 'string' && typeof value !== 'number') return;
  const text = quantityText(value);
  if (text !== undefined && text !== value) set(holder!, key, text);
}

/** A ResourceList: resource name -> quantity. */
function decodeResourceList(list: JsonObject | undefined): void {
  if (list) for (const name of Object.keys(list)) decodeQuantity(list, name);
}

/** ResourceRequirements and VolumeResourceRequirements: limits and requests. */
function decodeRequirements(resources: JsonObject | undefined): void {
  decodeResourceList(child(resources, 'limits'));
  decodeResourceList(child(resources, 'requests'));
}

/** Every Quantity of a PodSpec: container resources, pod-level resources, overhead, volume sizes. */
function decodePodSpec(spec: JsonObject): void {
  for (const key of ['initContainers', 'containers', 'ephemeralContainers']) {
    for (const container of objectsIn(spec[key])) decodeRequirements(child(container, 'resources'));
  }
  decodeRequirements(child(spec, 'resources'));
  decodeResourceList(child(spec, 'overhead'));
  for (const volume of objectsIn(spec.volumes)) {
    decodeQuantity(child(volume, 'emptyDir'), 'sizeLimit');
    decodeRequirements(child(child(child(child(volume, 'ephemeral'), 'volumeClaimTemplate'), 'spec'), 'resources'));
  }
}

// ---------------------------------------------------------------------------------------------
// core/v1: containers (SetDefaults_Container, SetDefaults_Probe, SetDefaults_HTTPGetAction,
// SetDefaults_ObjectFieldSelector, ContainerPort.protocol +default="TCP")

/**
 * The tag ParseImageName (pkg/util/parsers) finds in an image reference: the explicit tag, else
 * "latest" when there is no digest either, else none. References it cannot parse give no tag.
 */
export function imageTag(image: unknown): string | undefined {
  if (typeof image !== 'string' || image === '' || /\s/.test(image)) return undefined;
  const at = image.indexOf('@');
  const name = at < 0 ? image : image.slice(0, at);
  const hasDigest = at >= 0;
  // A tag is the part after the last ':' of the last path component (a ':' before a '/' is a registry port).
  const lastSlash = name.lastIndexOf('/');
  const colon = name.indexOf(':', lastSlash + 1);
  const repository = colon < 0 ? name : name.slice(0, colon);
  // Repository paths must be lower-case (docker reference grammar); upper case fails to parse.
  const path = repository.slice(repository.indexOf('/') + 1);
  if (repository === '' || path !== path.toLowerCase()) return undefined;
  if (colon >= 0) return name.slice(colon + 1);
  return hasDigest ? undefined : 'latest';
}

/** imagePullPolicy's default: Always for the tag `latest` (explicit or implied), else IfNotPresent. */
export function defaultPullPolicy(image: unknown): 'Always' | 'IfNotPresent' {
  return imageTag(image) === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultFieldRef(holder: JsonObject | undefined): void {
  const fieldRef = child(holder, 'fieldRef');
  if (fieldRef) defaultString(fieldRef, 'apiVersion', 'v1');
}

function defaultHttpGet(handler: JsonObject | undefined): void {
  const httpGet = child(handler, 'httpGet');
  if (!httpGet) return;
  defaultString(httpGet, 'path', '/');
  defaultString(httpGet, 'scheme', 'HTTP');
}

function defaultProbe(probe: JsonObject | undefined): void {
  if (!probe) return;
  defaultInt(probe, 'timeoutSeconds', 1);
  defaultInt(probe, 'periodSeconds', 10);
  defaultInt(probe, 'successThreshold', 1);
  defaultInt(probe, 'failureThreshold', 3);
  defaultHttpGet(probe);
}

function defaultContainer(container: JsonObject): void {
  defaultString(container, 'imagePullPolicy', defaultPullPolicy(container.image));
  defaultString(container, 'terminationMessagePath', '/dev/termination-log');
  defaultString(container, 'terminationMessagePolicy', 'File');
  for (const port of objectsIn(container.ports)) defaultString(port, 'protocol', 'TCP');
  for (const env of objectsIn(container.env)) defaultFieldRef(child(env, 'valueFrom'));
  defaultProbe(child(container, 'livenessProbe'));
  defaultProbe(child(container, 'readinessProbe'));
  defaultProbe(child(container, 'startupProbe'));
  const lifecycle = child(container, 'lifecycle');
  defaultHttpGet(child(lifecycle, 'postStart'));
  defaultHttpGet(child(lifecycle, 'preStop'));
}

// ---------------------------------------------------------------------------------------------
// core/v1: volumes (SetDefaults_Volume and the volume sources' defaulters)

/** 0644, the default file mode of secret, configMap, downwardAPI and projected volumes. */
const DEFAULT_VOLUME_MODE = 0o644;

function defaultVolume(volume: JsonObject): void {
  // A volume with no source at all is an emptyDir (every VolumeSource pointer is nil).
  const hasSource = Object.entries(volume).some(([key, value]) => key !== 'name' && !absent(value));
  if (!hasSource) set(volume, 'emptyDir', {});
  const hostPath = child(volume, 'hostPath');
  if (hostPath) defaultPointer(hostPath, 'type', ''); // HostPathUnset
  for (const key of ['secret', 'configMap', 'downwardAPI', 'projected']) {
    const source = child(volume, key);
    if (source) defaultPointer(source, 'defaultMode', DEFAULT_VOLUME_MODE);
  }
  for (const item of objectsIn(child(volume, 'downwardAPI')?.items)) defaultFieldRef(item);
  for (const source of objectsIn(child(volume, 'projected')?.sources)) {
    for (const item of objectsIn(child(source, 'downwardAPI')?.items)) defaultFieldRef(item);
    const token = child(source, 'serviceAccountToken');
    if (token) defaultPointer(token, 'expirationSeconds', 3600);
  }
  const claimSpec = child(child(child(volume, 'ephemeral'), 'volumeClaimTemplate'), 'spec');
  if (claimSpec) defaultClaimSpec(claimSpec);
}

/** SetDefaults_PersistentVolumeClaimSpec. */
function defaultClaimSpec(spec: JsonObject): void {
  defaultPointer(spec, 'volumeMode', 'Filesystem');
}

// ---------------------------------------------------------------------------------------------
// core/v1: pod specs. SetDefaults_PodSpec runs on every PodSpec (Pods and pod templates alike);
// SetDefaults_Pod only on Pod objects ("we only want this defaulting semantic to take place on a
// v1.Pod and not a v1.PodTemplate").

function defaultPodSpec(spec: JsonObject): void {
  defaultString(spec, 'dnsPolicy', 'ClusterFirst');
  defaultString(spec, 'restartPolicy', 'Always');
  defaultPointer(spec, 'securityContext', {});
  defaultPointer(spec, 'terminationGracePeriodSeconds', 30);
  defaultString(spec, 'schedulerName', 'default-scheduler');
  for (const volume of objectsIn(spec.volumes)) defaultVolume(volume);
  for (const key of ['initContainers', 'containers', 'ephemeralContainers']) {
    for (const container of objectsIn(spec[key])) defaultContainer(container);
  }
}

/** Pod-only defaults (SetDefaults_Pod), without the PodLevelResources-gated pod-level resources. */
function defaultPodOnly(spec: JsonObject): void {
  for (const key of ['containers', 'initContainers']) {
    for (const container of objectsIn(spec[key])) {
      // Requests default to the limits, per resource, when a limit is set and its request is not.
      const resources = child(container, 'resources');
      const limits = child(resources, 'limits');
      if (!resources || !limits || Object.keys(limits).length === 0) continue;
      const requests = ensureObject(resources, 'requests');
      for (const [name, quantity] of Object.entries(limits)) {
        if (!(name in requests)) set(requests, name, quantity);
      }
    }
  }
  defaultPointer(spec, 'enableServiceLinks', true);
  if (spec.hostNetwork === true) {
    // With the host's network, every container port is also a host port.
    for (const key of ['containers', 'initContainers']) {
      for (const container of objectsIn(spec[key])) {
        for (const port of objectsIn(container.ports)) {
          if (zeroInt(port.hostPort) && typeof port.containerPort === 'number' && port.containerPort !== 0) set(port, 'hostPort', port.containerPort);
        }
      }
    }
  }
}

function defaultTemplate(template: JsonObject | undefined): void {
  const spec = child(template, 'spec');
  if (!spec) return;
  decodePodSpec(spec);
  defaultPodSpec(spec);
}

/** SetDefaults_LimitRangeItem: a Container item's default limit falls back to max, its default request to the default limit, then to min. */
function defaultLimitRangeItem(item: JsonObject): void {
  if (item.type !== 'Container') return;
  const fill = (target: 'default' | 'defaultRequest', source: JsonObject | undefined): void => {
    for (const [name, quantity] of Object.entries(source ?? {})) {
      // The API server allocates both maps but omits them when they stay empty: created on the first entry.
      if (!(name in (child(item, target) ?? {}))) set(ensureObject(item, target), name, quantity);
    }
  };
  fill('default', child(item, 'max'));
  fill('defaultRequest', child(item, 'default'));
  fill('defaultRequest', child(item, 'min'));
}

/** Labels copied from the pod template when the object has none (Job, ReplicationController). */
function labelsFromTemplate(object: JsonObject, template: JsonObject | undefined): JsonObject | undefined {
  const labels = child(child(template, 'metadata'), 'labels');
  if (!labels) return undefined;
  const metadata = ensureObject(object, 'metadata');
  const own = child(metadata, 'labels');
  if (!own || Object.keys(own).length === 0) set(metadata, 'labels', { ...labels });
  return labels;
}

// ---------------------------------------------------------------------------------------------
// Per kind. Each defaulter receives the (already copied) object and its spec.

type Defaulter = (object: JsonObject, spec: JsonObject) => void;

const CORE: Readonly<Record<string, Defaulter>> = {
  Pod(_object, spec) {
    decodePodSpec(spec);
    defaultPodOnly(spec);
    defaultPodSpec(spec);
  },
  PodTemplate(object) {
    defaultTemplate(child(object, 'template'));
  },
  ReplicationController(object, spec) {
    const template = child(spec, 'template');
    const labels = labelsFromTemplate(object, template);
    if (labels) {
      const selector = child(spec, 'selector');
      if (!selector || Object.keys(selector).length === 0) set(spec, 'selector', { ...labels });
    }
    defaultPointer(spec, 'replicas', 1);
    defaultTemplate(template);
  },
  Service(_object, spec) {
    defaultString(spec, 'sessionAffinity', 'None');
    // The one "default" that removes a value: without affinity, its configuration is dropped.
    if (spec.sessionAffinity === 'None') remove(spec, 'sessionAffinityConfig');
    if (spec.sessionAffinity === 'ClientIP') {
      const clientIP = child(child(spec, 'sessionAffinityConfig'), 'clientIP');
      if (!clientIP || absent(clientIP.timeoutSeconds)) set(spec, 'sessionAffinityConfig', { clientIP: { timeoutSeconds: 10800 } });
    }
    defaultString(spec, 'type', 'ClusterIP');
    for (const port of objectsIn(spec.ports)) {
      defaultString(port, 'protocol', 'TCP');
      if ((zeroInt(port.targetPort) || port.targetPort === '') && typeof port.port === 'number') set(port, 'targetPort', port.port);
    }
    const type = spec.type;
    const externallyAccessible =
      type === 'LoadBalancer' || type === 'NodePort' || (type === 'ClusterIP' && Array.isArray(spec.externalIPs) && spec.externalIPs.length > 0);
    if (externallyAccessible) defaultString(spec, 'externalTrafficPolicy', 'Cluster');
    if (type === 'ClusterIP' || type === 'NodePort' || type === 'LoadBalancer') defaultPointer(spec, 'internalTrafficPolicy', 'Cluster');
    if (type === 'LoadBalancer') defaultPointer(spec, 'allocateLoadBalancerNodePorts', true);
  },
  Secret(object) {
    defaultString(object, 'type', 'Opaque');
  },
  Namespace(object) {
    // Every named namespace carries its own name as a label, whatever the manifest says.
    const metadata = child(object, 'metadata');
    if (metadata && typeof metadata.name === 'string' && metadata.name !== '') {
      set(metadata, 'labels', { ...(child(metadata, 'labels') ?? {}), 'kubernetes.io/metadata.name': metadata.name });
    }
    defaultString(ensureObject(object, 'status'), 'phase', 'Active');
  },
  PersistentVolumeClaim(object, spec) {
    decodeRequirements(child(spec, 'resources'));
    defaultClaimSpec(spec);
    defaultString(ensureObject(object, 'status'), 'phase', 'Pending');
  },
  ResourceQuota(_object, spec) {
    decodeResourceList(child(spec, 'hard'));
  },
  LimitRange(_object, spec) {
    for (const item of objectsIn(spec.limits)) {
      for (const key of ['max', 'min', 'default', 'defaultRequest', 'maxLimitRequestRatio']) decodeResourceList(child(item, key));
      defaultLimitRangeItem(item);
    }
  },
  Endpoints(object) {
    for (const subset of objectsIn(object.subsets)) {
      for (const port of objectsIn(subset.ports)) defaultString(port, 'protocol', 'TCP');
    }
  },
};

const APPS: Readonly<Record<string, Defaulter>> = {
  Deployment(_object, spec) {
    defaultPointer(spec, 'replicas', 1);
    const strategy = ensureObject(spec, 'strategy');
    defaultString(strategy, 'type', 'RollingUpdate');
    if (strategy.type === 'RollingUpdate') {
      const rollingUpdate = ensureObject(strategy, 'rollingUpdate');
      defaultPointer(rollingUpdate, 'maxUnavailable', '25%');
      defaultPointer(rollingUpdate, 'maxSurge', '25%');
    }
    defaultPointer(spec, 'revisionHistoryLimit', 10);
    defaultPointer(spec, 'progressDeadlineSeconds', 600);
    defaultTemplate(child(spec, 'template'));
  },
  ReplicaSet(_object, spec) {
    defaultPointer(spec, 'replicas', 1);
    defaultTemplate(child(spec, 'template'));
  },
  DaemonSet(_object, spec) {
    const strategy = ensureObject(spec, 'updateStrategy');
    defaultString(strategy, 'type', 'RollingUpdate');
    if (strategy.type === 'RollingUpdate') {
      const rollingUpdate = ensureObject(strategy, 'rollingUpdate');
      defaultPointer(rollingUpdate, 'maxUnavailable', 1);
      defaultPointer(rollingUpdate, 'maxSurge', 0);
    }
    defaultPointer(spec, 'revisionHistoryLimit', 10);
    defaultTemplate(child(spec, 'template'));
  },
  StatefulSet(_object, spec) {
    defaultString(spec, 'podManagementPolicy', 'OrderedReady');
    const strategy = ensureObject(spec, 'updateStrategy');
    if (emptyString(strategy.type)) {
      set(strategy, 'type', 'RollingUpdate');
      ensureObject(strategy, 'rollingUpdate');
    }
    const rollingUpdate = child(strategy, 'rollingUpdate');
    if (strategy.type === 'RollingUpdate' && rollingUpdate) defaultPointer(rollingUpdate, 'partition', 0);
    // persistentVolumeClaimRetentionPolicy (StatefulSetAutoDeletePVC) and rollingUpdate.maxUnavailable
    // (MaxUnavailableStatefulSet) are defaulted only under feature gates: left out.
    defaultPointer(spec, 'replicas', 1);
    defaultPointer(spec, 'revisionHistoryLimit', 10);
    defaultTemplate(child(spec, 'template'));
    for (const claim of objectsIn(spec.volumeClaimTemplates)) {
      const claimSpec = child(claim, 'spec');
      if (!claimSpec) continue;
      decodeRequirements(child(claimSpec, 'resources'));
      defaultClaimSpec(claimSpec);
    }
  },
};

/** SetDefaults_PodFailurePolicyOnPodConditionsPattern: a pod condition pattern matches status True. */
function defaultPodFailurePolicy(jobSpec: JsonObject | undefined): void {
  for (const rule of objectsIn(child(jobSpec, 'podFailurePolicy')?.rules)) {
    for (const pattern of objectsIn(rule.onPodConditions)) defaultString(pattern, 'status', 'True');
  }
}

/** The largest int32 (math.MaxInt32): backoffLimit's default when backoffLimitPerIndex is set. */
const MAX_INT32 = 2147483647;

const BATCH: Readonly<Record<string, Defaulter>> = {
  Job(object, spec) {
    // A non-parallel job may leave both unset: both become 1.
    if (absent(spec.completions) && absent(spec.parallelism)) set(spec, 'completions', 1);
    defaultPointer(spec, 'parallelism', 1);
    defaultPointer(spec, 'backoffLimit', absent(spec.backoffLimitPerIndex) ? 6 : MAX_INT32);
    labelsFromTemplate(object, child(spec, 'template'));
    defaultPointer(spec, 'completionMode', 'NonIndexed');
    defaultPointer(spec, 'suspend', false);
    defaultPodFailurePolicy(spec);
    // podReplacementPolicy is defaulted only under the JobPodReplacementPolicy gate: left out.
    defaultPointer(spec, 'manualSelector', false);
    defaultTemplate(child(spec, 'template'));
  },
  CronJob(_object, spec) {
    defaultString(spec, 'concurrencyPolicy', 'Allow');
    defaultPointer(spec, 'suspend', false);
    defaultPointer(spec, 'successfulJobsHistoryLimit', 3);
    defaultPointer(spec, 'failedJobsHistoryLimit', 1);
    // The job template is a JobTemplateSpec, not a Job: SetDefaults_Job does not run on it, only the
    // nested defaulters (pod template, pod failure policy patterns) do.
    const jobSpec = child(child(spec, 'jobTemplate'), 'spec');
    defaultPodFailurePolicy(jobSpec);
    defaultTemplate(child(jobSpec, 'template'));
  },
};

const BY_API_VERSION: ReadonlyMap<string, Readonly<Record<string, Defaulter>>> = new Map([
  ['v1', CORE],
  ['apps/v1', APPS],
  ['batch/v1', BATCH],
]);

function defaulterFor(object: unknown): Defaulter | undefined {
  if (!isObject(object) || typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') return undefined;
  const kinds = BY_API_VERSION.get(object.apiVersion);
  return kinds && Object.hasOwn(kinds, object.kind) ? kinds[object.kind] : undefined;
}

/** Kinds whose defaulters do not touch `spec` (and must not add one). */
const KINDS_WITHOUT_SPEC_DEFAULTS: ReadonlySet<string> = new Set(['Secret', 'Endpoints', 'PodTemplate', 'Namespace']);

/** Whether `object` is of a kind and version that has built-in defaults here. */
export function hasKubernetesDefaults(object: unknown): boolean {
  return defaulterFor(object) !== undefined;
}

/**
 * `object` as kube-apiserver would hand it to admission after decoding: a deep copy with the
 * built-in defaults of its kind applied; values already set are never changed. Objects of other
 * kinds or versions (and anything that is not an object) are returned as they are, not copied.
 * The input is never modified.
 */
export function applyKubernetesDefaults<T>(object: T): T {
  const defaulter = defaulterFor(object);
  if (!defaulter) return object;
  const copy = cloneJson(object) as JsonObject;
  // A spec is a struct, never nil, in the decoded object: its defaults apply even when it is absent.
  const spec = KINDS_WITHOUT_SPEC_DEFAULTS.has(copy.kind as string) ? {} : ensureObject(copy, 'spec');
  defaulter(copy, spec);
  return copy as T;
}

/**
 * applyKubernetesDefaults, sharing with `object` every part the defaults left as it was (`object`
 * itself when none applies, found without copying anything), for callers that modify neither:
 * identity then short-cuts their comparisons, diffs and conversions. `object` must be plain JSON
 * data (objects with Object.prototype, as JSON.parse makes them); it is never modified.
 */
export function withKubernetesDefaults<T>(object: T): T {
  const defaulter = defaulterFor(object);
  if (!defaulter || !wouldChange(object as JsonObject, defaulter)) return object;
  return shareUnchanged(applyKubernetesDefaults(object), object) as T;
}

/**
 * Runs the defaulter on `object` itself with every write turned into a stop: if none is
 * reached, the defaulter read exactly what it would read in a copy and changes nothing.
 */
function wouldChange(object: JsonObject, defaulter: Defaulter): boolean {
  probing = true;
  try {
    const spec = KINDS_WITHOUT_SPEC_DEFAULTS.has(object.kind as string) ? {} : ensureObject(object, 'spec');
    defaulter(object, spec);
    return false;
  } catch (error) {
    if (error === WOULD_CHANGE) return true;
    throw error;
  } finally {
    probing = false;
  }
}

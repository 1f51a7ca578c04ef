/**
 * Building an AdmissionRequest for a plain object, the way kube-apiserver would describe it to an
 * admission plugin: group/version/kind from apiVersion/kind, the resource (plural) the object is
 * stored under, its namespace and name, and the operation's old/new objects.
 */
import { randomUUID } from 'node:crypto';
import { applyKubernetesDefaults } from './defaults.js';
import type { AdmissionRequest, GroupVersionKind, GroupVersionResource, Operation, UserInfo } from './types.js';

export interface RequestForObjectOptions {
  readonly operation?: Operation;
  /** The object before the change (UPDATE). For DELETE the object itself is the old object. */
  readonly oldObject?: unknown;
  readonly userInfo?: UserInfo;
  readonly dryRun?: boolean;
  /** Overrides metadata.namespace (and the `default` fallback) for namespaced kinds. */
  readonly namespace?: string;
  readonly uid?: string;
  /**
   * Apply the built-in Kubernetes defaults to the object and old object first, as kube-apiserver
   * does when it decodes a request, before admission (default true). Turn off for objects that
   * were already defaulted (taken from a cluster) or to see a manifest exactly as written.
   */
  readonly defaults?: boolean;
}

/** Who `celgate apply` and the test runner act as unless told otherwise. */
export const DEFAULT_USER: UserInfo = Object.freeze({ username: 'celgate', groups: Object.freeze(['system:authenticated']) });

interface BuiltinKind {
  readonly resource: string;
  readonly namespaced: boolean;
}

const ns = (resource: string): BuiltinKind => ({ resource, namespaced: true });
const cluster = (resource: string): BuiltinKind => ({ resource, namespaced: false });

/**
 * Built-in kinds by "group/Kind" ("" for the core group): their resource names and scope, as the
 * API server's discovery reports them. Kinds not listed fall back to the API server's own guess.
 */
const BUILTIN_KINDS: ReadonlyMap<string, BuiltinKind> = new Map([
  ['/Pod', ns('pods')],
  ['/Service', ns('services')],
  ['/ConfigMap', ns('configmaps')],
  ['/Secret', ns('secrets')],
  ['/ServiceAccount', ns('serviceaccounts')],
  ['/Endpoints', ns('endpoints')],
  ['/Event', ns('events')],
  ['/LimitRange', ns('limitranges')],
  ['/ResourceQuota', ns('resourcequotas')],
  ['/PersistentVolumeClaim', ns('persistentvolumeclaims')],
  ['/ReplicationController', ns('replicationcontrollers')],
  ['/PodTemplate', ns('podtemplates')],
  ['/Binding', ns('bindings')],
  ['/Namespace', cluster('namespaces')],
  ['/Node', cluster('nodes')],
  ['/PersistentVolume', cluster('persistentvolumes')],
  ['/ComponentStatus', cluster('componentstatuses')],
  ['apps/Deployment', ns('deployments')],
  ['apps/ReplicaSet', ns('replicasets')],
  ['apps/DaemonSet', ns('daemonsets')],
  ['apps/StatefulSet', ns('statefulsets')],
  ['apps/ControllerRevision', ns('controllerrevisions')],
  ['batch/Job', ns('jobs')],
  ['batch/CronJob', ns('cronjobs')],
  ['autoscaling/HorizontalPodAutoscaler', ns('horizontalpodautoscalers')],
  ['policy/PodDisruptionBudget', ns('poddisruptionbudgets')],
  ['networking.k8s.io/Ingress', ns('ingresses')],
  ['networking.k8s.io/NetworkPolicy', ns('networkpolicies')],
  ['networking.k8s.io/IngressClass', cluster('ingressclasses')],
  ['discovery.k8s.io/EndpointSlice', ns('endpointslices')],
  ['rbac.authorization.k8s.io/Role', ns('roles')],
  ['rbac.authorization.k8s.io/RoleBinding', ns('rolebindings')],
  ['rbac.authorization.k8s.io/ClusterRole', cluster('clusterroles')],
  ['rbac.authorization.k8s.io/ClusterRoleBinding', cluster('clusterrolebindings')],
  ['storage.k8s.io/StorageClass', cluster('storageclasses')],
  ['storage.k8s.io/VolumeAttachment', cluster('volumeattachments')],
  ['storage.k8s.io/CSIDriver', cluster('csidrivers')],
  ['storage.k8s.io/CSINode', cluster('csinodes')],
  ['scheduling.k8s.io/PriorityClass', cluster('priorityclasses')],
  ['node.k8s.io/RuntimeClass', cluster('runtimeclasses')],
  ['coordination.k8s.io/Lease', ns('leases')],
  ['certificates.k8s.io/CertificateSigningRequest', cluster('certificatesigningrequests')],
  ['apiextensions.k8s.io/CustomResourceDefinition', cluster('customresourcedefinitions')],
  ['apiregistration.k8s.io/APIService', cluster('apiservices')],
  ['admissionregistration.k8s.io/ValidatingWebhookConfiguration', cluster('validatingwebhookconfigurations')],
  ['admissionregistration.k8s.io/MutatingWebhookConfiguration', cluster('mutatingwebhookconfigurations')],
  ['admissionregistration.k8s.io/ValidatingAdmissionPolicy', cluster('validatingadmissionpolicies')],
  ['admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding', cluster('validatingadmissionpolicybindings')],
  ['admissionregistration.k8s.io/MutatingAdmissionPolicy', cluster('mutatingadmissionpolicies')],
  ['admissionregistration.k8s.io/MutatingAdmissionPolicyBinding', cluster('mutatingadmissionpolicybindings')],
  ['flowcontrol.apiserver.k8s.io/FlowSchema', cluster('flowschemas')],
  ['flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration', cluster('prioritylevelconfigurations')],
]);

/** Splits an apiVersion: "apps/v1" → {group: "apps", version: "v1"}, "v1" → core group. */
export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/**
 * The resource name the API server would guess for a kind it has no discovery for: lower-case,
 * then "s" → "ses", "y" → "ies", otherwise "+s", and names ending in "endpoints" stay as they are
 * (apimachinery's UnsafeGuessKindToResource).
 */
export function guessResource(kind: string): string {
  const singular = kind.toLowerCase();
  if (singular === '' || singular.endsWith('endpoints')) return singular;
  if (singular.endsWith('s')) return `${singular}es`;
  if (singular.endsWith('y')) return `${singular.slice(0, -1)}ies`;
  return `${singular}s`;
}

/** The resource and scope of a kind: the built-in table first, then the guess (assumed namespaced). */
export function resourceFor(group: string, kind: string): BuiltinKind {
  return BUILTIN_KINDS.get(`${group}/${kind}`) ?? { resource: guessResource(kind), namespaced: true };
}

/** The operation options kube-apiserver sends with each operation (request.options). */
const OPTIONS_KIND: Readonly<Record<Operation, string | undefined>> = {
  CREATE: 'CreateOptions',
  UPDATE: 'UpdateOptions',
  DELETE: 'DeleteOptions',
  CONNECT: undefined,
};

export class RequestShapeError extends Error {}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * The AdmissionRequest kube-apiserver would send for `object` under `operation`. Throws
 * RequestShapeError when the object has no apiVersion/kind to describe it by.
 */
export function requestForObject(object: unknown, options: RequestForObjectOptions = {}): AdmissionRequest {
  const operation = options.operation ?? 'CREATE';
  const data = asRecord(object);
  if (!data) throw new RequestShapeError('the resource must be an object with apiVersion, kind and metadata');
  const { apiVersion, kind } = data;
  if (typeof apiVersion !== 'string' || apiVersion === '') throw new RequestShapeError('apiVersion is required (e.g. "v1" or "apps/v1")');
  if (typeof kind !== 'string' || kind === '') throw new RequestShapeError('kind is required (e.g. "Pod")');
  const metadata = asRecord(data.metadata);
  const { group, version } = parseApiVersion(apiVersion);
  const { resource, namespaced } = resourceFor(group, kind);
  const gvk: GroupVersionKind = { group, version, kind };
  const gvr: GroupVersionResource = { group, version, resource };

  const declaredNamespace = typeof metadata?.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : undefined;
  const namespace = namespaced ? (options.namespace ?? declaredNamespace ?? 'default') : undefined;
  const name = typeof metadata?.name === 'string' ? metadata.name : '';
  const optionsKind = OPTIONS_KIND[operation];

  // On DELETE the API server sends the stored object as oldObject and no new object. Stored
  // objects were defaulted when they were written, so old objects get the defaults too.
  const withDefaults = options.defaults === false ? <T>(value: T): T => value : applyKubernetesDefaults;
  const newObject = operation === 'DELETE' ? null : withDefaults(object);
  const oldObject = operation === 'DELETE' ? withDefaults(object) : operation === 'UPDATE' ? withDefaults(options.oldObject ?? null) : null;

  return {
    uid: options.uid ?? randomUUID(),
    kind: gvk,
    resource: gvr,
    requestKind: gvk,
    requestResource: gvr,
    name,
    ...(namespace !== undefined ? { namespace } : {}),
    operation,
    userInfo: options.userInfo ?? DEFAULT_USER,
    object: newObject,
    oldObject,
    dryRun: options.dryRun ?? false,
    ...(optionsKind ? { options: { apiVersion: 'meta.k8s.io/v1', kind: optionsKind } } : {}),
  };
}

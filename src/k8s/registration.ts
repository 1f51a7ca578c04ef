/**
 * Webhook self-registration (`celgate serve --kubernetes --register-webhooks`, off by default):
 * celgate's ValidatingWebhookConfiguration and MutatingWebhookConfiguration, scoped to what the
 * loaded policies can match, so the API server calls celgate only for those requests.
 *
 * Scope: the union of the `spec.matchConstraints.resourceRules` of every policy that a binding
 * names (a policy without a binding never applies, so it needs no calls). Webhook rules can only
 * widen what is sent, never say "except", so what the rules cannot express is dropped and the
 * engine still applies it to each request it receives:
 * - `excludeResourceRules` (the webhook is called for excluded resources; the engine skips them),
 * - `resourceNames` (called for every name),
 * - the policies' and bindings' namespaceSelector/objectSelector and the bindings' matchResources
 *   (bindings only narrow their policy: the union of policies already covers them),
 * - `matchPolicy` (the webhooks use Equivalent, which also covers Exact policies).
 * Validating policies scope the validating webhook, mutating policies the mutating one; a kind
 * with no bound policy gets a webhook with no rules (called for nothing).
 */
import type {
  AdmissionregistrationV1Api,
  V1LabelSelector,
  V1MutatingWebhook,
  V1MutatingWebhookConfiguration,
  V1RuleWithOperations,
  V1ValidatingWebhook,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { statusCodeOf } from './leader-election.js';

export type WebhookApi = Pick<
  AdmissionregistrationV1Api,
  | 'readValidatingWebhookConfiguration'
  | 'createValidatingWebhookConfiguration'
  | 'replaceValidatingWebhookConfiguration'
  | 'readMutatingWebhookConfiguration'
  | 'createMutatingWebhookConfiguration'
  | 'replaceMutatingWebhookConfiguration'
>;

export type WebhookEndpoint =
  /** The in-cluster Service in front of celgate (the manifests' `celgate/celgate`, port 443). */
  | { readonly service: { readonly namespace: string; readonly name: string; readonly port?: number } }
  /** An https base URL (celgate outside the cluster); /validate and /mutate are appended. */
  | { readonly url: string };

export interface WebhookRegistrationOptions {
  /** Name of both configurations (default `celgate`, as in webhooks/). */
  readonly name?: string;
  /** PEM of the CA that signed the serving certificate (the `ca.crt` of `celgate serve --certs`). */
  readonly caPem: string;
  readonly endpoint: WebhookEndpoint;
  /** Default Fail, as webhooks/ (see its README, "Choices"). */
  readonly failurePolicy?: 'Fail' | 'Ignore';
  /** 1–30 (the API server's bounds); default 5. */
  readonly timeoutSeconds?: number;
  /**
   * Namespaces the API server never sends (default: celgate's own namespace and kube-system,
   * by `kubernetes.io/metadata.name`, so an outage cannot block celgate's or the control plane's recovery).
   */
  readonly namespaceSelector?: V1LabelSelector;
}

export interface DesiredWebhooks {
  readonly validating: V1ValidatingWebhookConfiguration;
  readonly mutating: V1MutatingWebhookConfiguration;
}

export class WebhookRegistrationError extends Error {}

type Json = Record<string, unknown>;
const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

const VALIDATING = { policy: 'ValidatingAdmissionPolicy', binding: 'ValidatingAdmissionPolicyBinding' } as const;
const MUTATING = { policy: 'MutatingAdmissionPolicy', binding: 'MutatingAdmissionPolicyBinding' } as const;

/** The webhook rules covering every bound policy of one family (`objects`: plain policy and binding documents). */
export function rulesForPolicies(objects: readonly unknown[], family: { readonly policy: string; readonly binding: string }): V1RuleWithOperations[] {
  const bound = new Set<string>();
  for (const o of objects) {
    if (isRecord(o) && o.kind === family.binding && isRecord(o.spec) && typeof o.spec.policyName === 'string') bound.add(o.spec.policyName);
  }
  // Rules that differ only in resources merge into one.
  const merged = new Map<string, { readonly rule: Omit<V1RuleWithOperations, 'resources'>; readonly resources: Set<string> }>();
  for (const o of objects) {
    if (!isRecord(o) || o.kind !== family.policy || !isRecord(o.metadata) || !bound.has(String(o.metadata.name))) continue;
    const constraints = isRecord(o.spec) && isRecord(o.spec.matchConstraints) ? o.spec.matchConstraints : undefined;
    const rules = constraints && Array.isArray(constraints.resourceRules) ? constraints.resourceRules : [];
    for (const r of rules) {
      if (!isRecord(r)) continue;
      const rule = {
        apiGroups: [...new Set(strings(r.apiGroups))].sort(),
        apiVersions: [...new Set(strings(r.apiVersions))].sort(),
        operations: [...new Set(strings(r.operations))].sort() as V1RuleWithOperations['operations'],
        scope: typeof r.scope === 'string' ? r.scope : '*',
      };
      const resources = strings(r.resources);
      if (rule.apiGroups.length === 0 || rule.apiVersions.length === 0 || rule.operations!.length === 0 || resources.length === 0) continue; // matches nothing
      const key = JSON.stringify(rule);
      const entry = merged.get(key) ?? { rule, resources: new Set<string>() };
      for (const resource of resources) entry.resources.add(resource);
      merged.set(key, entry);
    }
  }
  return [...merged.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, { rule, resources }]) => ({ apiGroups: rule.apiGroups, apiVersions: rule.apiVersions, operations: rule.operations, resources: [...resources].sort(), scope: rule.scope }));
}

function checkOptions(options: WebhookRegistrationOptions): void {
  if (!/-----BEGIN CERTIFICATE-----/.test(options.caPem)) throw new WebhookRegistrationError('webhook registration: caPem must hold a PEM certificate (the CA of the serving certificate)');
  const timeout = options.timeoutSeconds ?? 5;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 30) throw new WebhookRegistrationError(`webhook registration: timeoutSeconds must be a whole number from 1 to 30, not ${timeout}`);
  if ('url' in options.endpoint) {
    let url: URL;
    try {
      url = new URL(options.endpoint.url);
    } catch {
      throw new WebhookRegistrationError(`webhook registration: ${options.endpoint.url} is not a URL`);
    }
    // admissionregistration/v1 WebhookClientConfig: "The scheme must be https" and no query or fragment.
    if (url.protocol !== 'https:' || url.search || url.hash || url.username) throw new WebhookRegistrationError(`webhook registration: url must be https without user, query or fragment, not ${options.endpoint.url}`);
  }
}

function clientConfig(options: WebhookRegistrationOptions, path: '/validate' | '/mutate'): V1ValidatingWebhook['clientConfig'] {
  const caBundle = Buffer.from(options.caPem).toString('base64');
  if ('url' in options.endpoint) return { url: `${options.endpoint.url.replace(/\/+$/, '')}${path}`, caBundle };
  const { namespace, name, port } = options.endpoint.service;
  return { service: { namespace, name, path, port: port ?? 443 }, caBundle };
}

function defaultNamespaceSelector(options: WebhookRegistrationOptions): V1LabelSelector {
  const own = 'service' in options.endpoint ? options.endpoint.service.namespace : 'celgate';
  return { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...new Set([own, 'kube-system'])].sort() }] };
}

/** The two configurations for the loaded policies (`objects`: plain policy and binding documents). */
export function desiredWebhooks(objects: readonly unknown[], options: WebhookRegistrationOptions): DesiredWebhooks {
  checkOptions(options);
  const name = options.name ?? 'celgate';
  const metadata = { name, labels: { 'app.kubernetes.io/name': 'celgate', 'app.kubernetes.io/managed-by': 'celgate' } };
  const common = {
    failurePolicy: options.failurePolicy ?? 'Fail',
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    timeoutSeconds: options.timeoutSeconds ?? 5,
    namespaceSelector: options.namespaceSelector ?? defaultNamespaceSelector(options),
    objectSelector: {},
    matchPolicy: 'Equivalent',
  };
  const validating: V1ValidatingWebhook = { name: 'validate.celgate.dev', clientConfig: clientConfig(options, '/validate'), ...common, rules: rulesForPolicies(objects, VALIDATING) };
  // IfNeeded: run again when a later webhook changed the object, so mutations stay applied.
  const mutating: V1MutatingWebhook = { name: 'mutate.celgate.dev', clientConfig: clientConfig(options, '/mutate'), ...common, reinvocationPolicy: 'IfNeeded', rules: rulesForPolicies(objects, MUTATING) };
  return {
    validating: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata, webhooks: [validating] },
    mutating: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata, webhooks: [mutating] },
  };
}

/** The fields celgate sets, in a fixed order: what "already up to date" compares. */
function owned(webhooks: readonly (V1ValidatingWebhook | V1MutatingWebhook)[] | undefined): string {
  return JSON.stringify(
    (webhooks ?? []).map((w) => {
      const c = w.clientConfig ?? {};
      return [
        w.name,
        c.url ?? null,
        c.service ? [c.service.namespace, c.service.name, c.service.path ?? null, c.service.port ?? 443] : null,
        c.caBundle ?? '',
        (w.rules ?? []).map((r) => [r.apiGroups ?? [], r.apiVersions ?? [], r.operations ?? [], r.resources ?? [], r.scope ?? '*']),
        w.failurePolicy ?? null,
        w.sideEffects ?? null,
        w.admissionReviewVersions ?? [],
        w.timeoutSeconds ?? null,
        w.namespaceSelector ?? null,
        w.matchPolicy ?? null,
        'reinvocationPolicy' in w ? (w.reinvocationPolicy ?? null) : null,
      ];
    }),
  );
}

export type ReconcileOutcome = 'created' | 'updated' | 'unchanged';

interface Operations<T extends { metadata?: { resourceVersion?: string; name?: string }; webhooks?: (V1ValidatingWebhook | V1MutatingWebhook)[] }> {
  read(name: string): Promise<T>;
  create(body: T): Promise<T>;
  replace(name: string, body: T): Promise<T>;
}

const CONFLICT_RETRIES = 3;

async function reconcileOne<T extends { metadata?: { resourceVersion?: string; name?: string; labels?: Record<string, string> }; webhooks?: (V1ValidatingWebhook | V1MutatingWebhook)[] }>(
  ops: Operations<T>,
  desired: T,
  what: string,
): Promise<ReconcileOutcome> {
  const name = desired.metadata?.name ?? '';
  for (let attempt = 1; ; attempt += 1) {
    let current: T | undefined;
    try {
      current = await ops.read(name);
    } catch (error) {
      if (statusCodeOf(error) !== 404) throw new WebhookRegistrationError(`cannot read ${what} ${name}: ${(error as Error).message}`);
    }
    try {
      if (!current) {
        await ops.create(desired);
        return 'created';
      }
      if (owned(current.webhooks) === owned(desired.webhooks)) return 'unchanged';
      // Replace with the read resourceVersion: a concurrent writer makes this a 409, and we re-read.
      await ops.replace(name, {
        ...current,
        metadata: { ...current.metadata, labels: { ...current.metadata?.labels, ...desired.metadata?.labels } },
        webhooks: desired.webhooks,
      });
      return 'updated';
    } catch (error) {
      const code = statusCodeOf(error);
      if ((code === 409 || (code === 404 && current)) && attempt < CONFLICT_RETRIES) continue;
      throw new WebhookRegistrationError(`cannot ${current ? 'update' : 'create'} ${what} ${name}: ${(error as Error).message}`);
    }
  }
}

/** Creates the configurations or brings them up to date; unchanged ones are not written. */
export async function reconcileWebhooks(api: WebhookApi, desired: DesiredWebhooks): Promise<{ readonly validating: ReconcileOutcome; readonly mutating: ReconcileOutcome }> {
  const validating = await reconcileOne<V1ValidatingWebhookConfiguration>(
    {
      read: (name) => api.readValidatingWebhookConfiguration({ name }),
      create: (body) => api.createValidatingWebhookConfiguration({ body }),
      replace: (name, body) => api.replaceValidatingWebhookConfiguration({ name, body }),
    },
    desired.validating,
    'ValidatingWebhookConfiguration',
  );
  const mutating = await reconcileOne<V1MutatingWebhookConfiguration>(
    {
      read: (name) => api.readMutatingWebhookConfiguration({ name }),
      create: (body) => api.createMutatingWebhookConfiguration({ body }),
      replace: (name, body) => api.replaceMutatingWebhookConfiguration({ name, body }),
    },
    desired.mutating,
    'MutatingWebhookConfiguration',
  );
  return { validating, mutating };
}

export interface WebhookRegistrar {
  /** The policy set changed: reconcile to it (one reconcile at a time; the latest set wins). */
  update(objects: readonly unknown[]): Promise<void>;
  /** The serving CA changed (certificate rotation). */
  setCaPem(caPem: string): Promise<void>;
  close(): void;
}

/**
 * Keeps the configurations current as policies change. Failures go to `onError` and are retried
 * on the next change (and after `retryMs`, default 10 s), so a transient API error heals itself.
 */
export function createWebhookRegistrar(
  api: WebhookApi,
  options: WebhookRegistrationOptions & {
    readonly onReconciled?: (result: { readonly validating: ReconcileOutcome; readonly mutating: ReconcileOutcome }) => void;
    readonly onError?: (error: Error) => void;
    readonly retryMs?: number;
  },
): WebhookRegistrar {
  checkOptions(options);
  let caPem = options.caPem;
  let latest: readonly unknown[] | undefined;
  let running: Promise<void> | undefined;
  let dirty = false;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const runOnce = async (): Promise<void> => {
    while (dirty && !closed && latest) {
      dirty = false;
      try {
        // (not `onReconciled?.(await ...)`: an absent callback would skip the reconcile itself)
        const result = await reconcileWebhooks(api, desiredWebhooks(latest, { ...options, caPem }));
        options.onReconciled?.(result);
      } catch (error) {
        options.onError?.(error instanceof Error ? error : new Error(String(error)));
        clearTimeout(retry);
        retry = setTimeout(() => void kick(), options.retryMs ?? 10_000);
        retry.unref?.();
      }
    }
  };
  const kick = (): Promise<void> => {
    dirty = true;
    running ??= runOnce().finally(() => {
      running = undefined;
      // A change that arrived just as the loop ended.
      if (dirty && !closed && latest) void kick();
    });
    return running;
  };

  return {
    update(objects) {
      latest = objects;
      return kick();
    },
    setCaPem(pem) {
      caPem = pem;
      checkOptions({ ...options, caPem });
      return kick();
    },
    close() {
      closed = true;
      clearTimeout(retry);
    },
  };
}

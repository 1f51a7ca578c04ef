/**
 * Policies, namespaces and params from the cluster, kept live. One informer per served kind
 * (admission policies and bindings, Namespaces, AccessPolicy and Istio security kinds when their
 * CRDs exist, and every paramKind the policies name, discovered as policies appear); every change
 * schedules a debounced rebuild of one immutable snapshot, handed to `onChange`.
 *
 * Each policy object is serialised to YAML under a virtual file name — its API path, e.g.
 * `k8s:/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/no-latest` — and read by
 * the same loader as policy files, so every problem still names a "file" and a line. Conversions
 * are cached by uid and resourceVersion: a rebuild re-reads only the objects that changed.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { stringify } from 'yaml';
import { parseDocuments, toResource, type PolicyIssue, type PolicyResource } from '../policy/index.js';
import { KubeClient } from './client.js';
import { Discovery, WANTED_KINDS, apiVersionOf, objectPath, type ServedKind } from './discovery.js';
import { KindInformer } from './informers.js';

/** The file name prefix of cluster objects in issues and resources. */
export const CLUSTER_FILE_PREFIX = 'k8s:';

export interface ClusterSnapshot {
  /** Admission and access policy resources read from the cluster. */
  readonly resources: readonly PolicyResource[];
  /** Problems reading them (each names the object's path and a line of its YAML form). */
  readonly issues: readonly PolicyIssue[];
  /** Namespaces and param objects as plain JSON, for namespaceSelector, namespaceObject and paramRef. */
  readonly objects: readonly unknown[];
  /** Increments with every rebuild. */
  readonly generation: number;
}

export interface ClusterSourceOptions {
  readonly config: KubeConfig;
  /** Wait this long after a change for more before rebuilding (default 100 ms). */
  readonly debounceMs?: number;
  /** Rebuild from the informers' caches this often even without events (default 10 minutes; 0 never). */
  readonly resyncMs?: number;
  readonly logger?: Logger;
  /** Called with each rebuilt snapshot after the first full sync. */
  readonly onChange?: (snapshot: ClusterSnapshot) => void;
  /** Backoff of failed lists and watches (ms). */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

const POLICY_KINDS = new Set(WANTED_KINDS.filter((k) => k.face !== 'data').map((k) => `${k.group}/${k.kind}`));
const ADMISSION_POLICY_KINDS = new Set(['ValidatingAdmissionPolicy', 'MutatingAdmissionPolicy']);

interface Converted {
  readonly version: string;
  readonly resource?: PolicyResource;
  readonly issues: readonly PolicyIssue[];
}

export class ClusterSource {
  readonly synced: Promise<ClusterSnapshot>;
  readonly #options: ClusterSourceOptions;
  readonly #client: KubeClient;
  readonly #discovery: Discovery;
  readonly #informers = new Map<string, KindInformer>();
  /** paramKinds looked up and not served, so the log says it once. */
  readonly #missingParamKinds = new Set<string>();
  readonly #converted = new Map<string, Converted>();
  #snapshot: ClusterSnapshot | undefined;
  #generation = 0;
  #debounce: NodeJS.Timeout | undefined;
  #resync: NodeJS.Timeout | undefined;
  #stopped = false;
  #isSynced = false;

  constructor(options: ClusterSourceOptions) {
    this.#options = options;
    this.#client = new KubeClient(options.config);
    this.#discovery = new Discovery(this.#client);
    this.synced = this.#start();
    // The caller awaits `synced` when it wants to; an unobserved failure must not crash the process.
    this.synced.catch(() => {});
  }

  /** The latest snapshot, once the first full sync is done. */
  current(): ClusterSnapshot | undefined {
    return this.#snapshot;
  }

  /** Whether an issue's file names a cluster object (LivePolicySource). */
  owns(file: string): boolean {
    return file.startsWith(CLUSTER_FILE_PREFIX);
  }

  get server(): string {
    return this.#client.server;
  }

  /**
   * The objects of one watched kind as last seen (with status), e.g. the ValidatingAdmissionPolicies
   * whose status the leader writes; empty when the kind is not watched.
   */
  objectsOf(group: string, kind: string): readonly KubernetesObject[] {
    return this.#informers.get(`${group}/${kind}`)?.objects() ?? [];
  }

  /** Kinds being watched, as `apiVersion/kind`. */
  watching(): string[] {
    return [...this.#informers.values()].map((i) => `${apiVersionOf(i.kind)}/${i.kind.kind}`).sort();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#debounce) clearTimeout(this.#debounce);
    if (this.#resync) clearInterval(this.#resync);
    await Promise.all([...this.#informers.values()].map((informer) => informer.stop()));
  }

  async #start(): Promise<ClusterSnapshot> {
    const kinds = await this.#discoverWithRetry();
    for (const kind of kinds) this.#watch(kind);
    this.#options.logger?.info({ server: this.#client.server, kinds: this.watching() }, 'watching the cluster');
    await Promise.all([...this.#informers.values()].map((informer) => informer.synced));
    // Params the policies name: watch them too, and wait for those lists before calling the set complete.
    for (;;) {
      const added = await this.#watchParamKinds();
      if (added.length === 0) break;
      await Promise.all(added.map((informer) => informer.synced));
    }
    const snapshot = this.#build();
    this.#isSynced = true;
    const resyncMs = this.#options.resyncMs ?? 600_000;
    if (resyncMs > 0) {
      this.#resync = setInterval(() => this.#changed(), resyncMs);
      this.#resync.unref();
    }
    return snapshot;
  }

  async #discoverWithRetry(): Promise<ServedKind[]> {
    let delay = this.#options.initialBackoffMs ?? 200;
    for (;;) {
      try {
        return await this.#discovery.wanted();
      } catch (error) {
        if (this.#stopped) throw error;
        this.#options.logger?.warn({ err: error, retryInMs: delay }, 'API discovery failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(this.#options.maxBackoffMs ?? 30_000, delay * 2);
      }
    }
  }

  #watch(kind: ServedKind): KindInformer {
    const key = `${kind.group}/${kind.kind}`;
    const existing = this.#informers.get(key);
    if (existing) return existing;
    const informer = new KindInformer(this.#options.config, this.#client, kind, {
      onChange: () => this.#changed(),
      onError: (error, retryInMs) =>
        this.#options.logger?.warn({ err: error instanceof Error ? error.message : error, kind: `${apiVersionOf(kind)}/${kind.kind}`, retryInMs }, 'list/watch failed; retrying'),
      ...(this.#options.initialBackoffMs !== undefined ? { initialBackoffMs: this.#options.initialBackoffMs } : {}),
      ...(this.#options.maxBackoffMs !== undefined ? { maxBackoffMs: this.#options.maxBackoffMs } : {}),
    });
    this.#informers.set(key, informer);
    if (!this.#stopped) informer.start();
    return informer;
  }

  /** Starts informers for paramKinds not yet watched; returns the new ones. */
  async #watchParamKinds(): Promise<KindInformer[]> {
    const added: KindInformer[] = [];
    for (const { apiVersion, kind } of this.#paramKinds()) {
      const key = `${apiVersion}/${kind}`;
      const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.lastIndexOf('/')) : '';
      if (this.#informers.has(`${group}/${kind}`)) continue;
      let served: ServedKind | undefined;
      try {
        served = await this.#discovery.find(apiVersion, kind);
      } catch (error) {
        this.#options.logger?.warn({ err: error, paramKind: key }, 'cannot look up a paramKind; will retry on the next change');
        continue;
      }
      if (!served) {
        if (!this.#missingParamKinds.has(key)) this.#options.logger?.warn({ paramKind: key }, 'a policy names a paramKind the API server does not serve');
        this.#missingParamKinds.add(key);
        continue;
      }
      this.#missingParamKinds.delete(key);
      added.push(this.#watch(served));
    }
    return added;
  }

  #paramKinds(): { apiVersion: string; kind: string }[] {
    const found = new Map<string, { apiVersion: string; kind: string }>();
    for (const informer of this.#informers.values()) {
      if (informer.kind.group !== 'admissionregistration.k8s.io' || !ADMISSION_POLICY_KINDS.has(informer.kind.kind)) continue;
      for (const object of informer.objects()) {
        const paramKind = (object as { spec?: { paramKind?: { apiVersion?: unknown; kind?: unknown } } }).spec?.paramKind;
        if (typeof paramKind?.apiVersion === 'string' && typeof paramKind.kind === 'string' && paramKind.apiVersion !== '' && paramKind.kind !== '') {
          found.set(`${paramKind.apiVersion}/${paramKind.kind}`, { apiVersion: paramKind.apiVersion, kind: paramKind.kind });
        }
      }
    }
    return [...found.values()];
  }

  #changed(): void {
    if (!this.#isSynced || this.#stopped) return;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      void this.#rebuild();
    }, this.#options.debounceMs ?? 100);
  }

  async #rebuild(): Promise<void> {
    try {
      // A new policy may name a param kind not watched yet: its objects arrive with their own events.
      await this.#watchParamKinds();
      if (this.#stopped) return;
      const snapshot = this.#build();
      this.#options.onChange?.(snapshot);
    } catch (error) {
      this.#options.logger?.error({ err: error }, 'rebuilding the cluster policy snapshot failed');
    }
  }

  #build(): ClusterSnapshot {
    const resources: PolicyResource[] = [];
    const issues: PolicyIssue[] = [];
    const objects: unknown[] = [];
    const seen = new Set<string>();
    const informers = [...this.#informers.values()].sort((a, b) => a.kind.kind.localeCompare(b.kind.kind));
    for (const informer of informers) {
      const isPolicy = POLICY_KINDS.has(`${informer.kind.group}/${informer.kind.kind}`);
      const items = [...informer.objects()].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
      for (const object of items) {
        if (!isPolicy) {
          objects.push(object);
          continue;
        }
        const path = objectPath(informer.kind, object.metadata?.name ?? '', object.metadata?.namespace);
        seen.add(path);
        const converted = this.#convert(path, object);
        if (converted.resource) resources.push(converted.resource);
        issues.push(...converted.issues);
      }
    }
    for (const path of this.#converted.keys()) if (!seen.has(path)) this.#converted.delete(path);
    this.#snapshot = Object.freeze({ resources: Object.freeze(resources), issues: Object.freeze(issues), objects: Object.freeze(objects), generation: ++this.#generation });
    return this.#snapshot;
  }

  #convert(path: string, object: KubernetesObject): Converted {
    const version = `${object.metadata?.uid ?? ''}/${object.metadata?.resourceVersion ?? ''}`;
    const cached = this.#converted.get(path);
    if (cached && cached.version === version) return cached;
    const converted = toPolicyResource(path, object);
    const entry: Converted = { version, ...converted };
    this.#converted.set(path, entry);
    return entry;
  }
}

function keyOf(object: KubernetesObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

/** Fields a policy's meaning does not depend on, left out of its YAML form to keep line numbers useful. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** One cluster object as a PolicyResource read from the virtual file `k8s:PATH`. */
export function toPolicyResource(path: string, object: KubernetesObject): { resource?: PolicyResource; issues: PolicyIssue[] } {
  const { status: _status, ...rest } = object as KubernetesObject & { status?: unknown };
  const metadata = { ...(rest.metadata ?? {}) } as Record<string, unknown>;
  delete metadata.managedFields;
  const annotations = metadata.annotations as Record<string, string> | undefined;
  if (annotations && LAST_APPLIED in annotations) {
    const { [LAST_APPLIED]: _dropped, ...kept } = annotations;
    metadata.annotations = kept;
  }
  const file = `${CLUSTER_FILE_PREFIX}${path}`;
  const text = stringify({ ...rest, metadata }, { lineWidth: 0 });
  const { documents, issues } = parseDocuments(file, text);
  const document = documents[0];
  if (!document) return { issues: issues.length > 0 ? issues : [{ file, line: 1, column: 1, message: 'the object is empty' }] };
  const resource = toResource(document, issues);
  return resource ? { resource, issues } : { issues };
}

/**
 * A small, honest Kubernetes API server on loopback (HTTPS, bearer token) for tests.
 *
 * It stores objects and serves them the way kube-apiserver does for the parts celgate and
 * @kubernetes/client-node use; it knows nothing about what a test expects. Behaviour follows the
 * Kubernetes API concepts page (https://kubernetes.io/docs/reference/using-api/api-concepts/):
 * - discovery: GET /api, /api/v1, /apis, /apis/GROUP, /apis/GROUP/VERSION (APIResourceList);
 * - list: `{kind: XList, apiVersion, metadata: {resourceVersion}, items}`; like the real server, items
 *   carry no apiVersion/kind ("the list's resourceVersion is the version at which it was built");
 * - watch (`?watch=1&resourceVersion=N&allowWatchBookmarks=true&timeoutSeconds=S`): newline-delimited JSON events
 *   ADDED/MODIFIED/DELETED for every change after N, then live; BOOKMARK events carry only
 *   `metadata.resourceVersion`; a watch without resourceVersion (or "0") starts with a synthetic
 *   ADDED for each stored object; a resourceVersion older than the kept history gets an `ERROR` event
 *   whose object is a Status with code 410 (reason Expired), and the stream ends ("clients must handle
 *   the case by recognizing the status code 410 Gone, clearing their local cache, performing a list");
 * - create (POST, 409 AlreadyExists), get, update (PUT; a stale metadata.resourceVersion is a 409
 *   Conflict — the optimistic concurrency Leases rely on), PUT .../NAME/status (only .status changes), patch (merge-patch or JSON patch), delete;
 *   every write increments one global resourceVersion and records an event;
 * - SubjectAccessReview create, answered from RBAC-like rules the TEST configures (`authorize(...)`).
 *
 * API for tests (and the other Kubernetes helper):
 *   const api = await startFakeApiServer({ resources?, token?, listDelayMs?, bookmarkIntervalMs? });
 *   api.url, api.ca, api.kubeconfig(), api.writeKubeconfig(dir) → path
 *   api.create(obj) / api.update(obj) / api.patch(apiVersion, kind, name, patch, namespace?) /
 *   api.remove(apiVersion, kind, name, namespace?) / api.get(...) → stored copy (throws ApiError)
 *   api.addResource(type)     serve a new kind (a CRD being installed); discovery shows it
 *   api.compact()             forget the event history up to now: older watch resourceVersions get 410
 *   api.breakWatches()        destroy every open watch socket mid-stream (a network failure)
 *   api.listDelayMs = N       delay list responses (readiness tests)
 *   api.authorize(rules)      the SubjectAccessReview rule table (see AccessRule)
 *   api.requests              every request seen: {method, path, query}
 *   api.resourceVersion       the current global resourceVersion
 *   await api.close()
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomUUID } from 'node:crypto';
import fastJsonPatch from 'fast-json-patch';
import { makeTestCerts } from '../authz/certs.js';

export interface ResourceType {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** The resource name in URLs (lower-case plural). */
  readonly plural: string;
  readonly namespaced: boolean;
  readonly verbs?: readonly string[];
}

/** One RBAC-like rule for SubjectAccessReviews; a missing list means "any"; '*' matches anything. */
export interface AccessRule {
  readonly users?: readonly string[];
  readonly groups?: readonly string[];
  readonly verbs: readonly string[];
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly namespaces?: readonly string[];
  readonly names?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
}

export type KubeObject = Record<string, unknown> & { metadata?: Record<string, unknown> };

export interface FakeApiServerOptions {
  /** Kinds served (default: DEFAULT_RESOURCES). */
  readonly resources?: readonly ResourceType[];
  readonly token?: string;
  readonly listDelayMs?: number;
  /** How often open watches that asked for bookmarks get one (default 500 ms; 0 disables). */
  readonly bookmarkIntervalMs?: number;
}

const OBJECT_VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

export const DEFAULT_RESOURCES: readonly ResourceType[] = [
  { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  { group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  { group: 'admissionregistration.k8s.io', version: 'v1', kind: 'ValidatingAdmissionPolicy', plural: 'validatingadmissionpolicies', namespaced: false },
  { group: 'admissionregistration.k8s.io', version: 'v1', kind: 'ValidatingAdmissionPolicyBinding', plural: 'validatingadmissionpolicybindings', namespaced: false },
  { group: 'admissionregistration.k8s.io', version: 'v1beta1', kind: 'MutatingAdmissionPolicy', plural: 'mutatingadmissionpolicies', namespaced: false },
  { group: 'admissionregistration.k8s.io', version: 'v1beta1', kind: 'MutatingAdmissionPolicyBinding', plural: 'mutatingadmissionpolicybindings', namespaced: false },
  { group: 'admissionregistration.k8s.io', version: 'v1', kind: 'ValidatingWebhookConfiguration', plural: 'validatingwebhookconfigurations', namespaced: false },
  { group: 'admissionregistration.k8s.io', version: 'v1', kind: 'MutatingWebhookConfiguration', plural: 'mutatingwebhookconfigurations', namespaced: false },
  { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true },
  { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true },
  { group: 'authorization.k8s.io', version: 'v1', kind: 'SubjectAccessReview', plural: 'subjectaccessreviews', namespaced: false, verbs: ['create'] },
];

/** The Istio and celgate custom resources, for tests that install "CRDs" (addResource). */
export const ISTIO_AND_CELGATE_RESOURCES: readonly ResourceType[] = [
  { group: 'security.istio.io', version: 'v1', kind: 'AuthorizationPolicy', plural: 'authorizationpolicies', namespaced: true },
  { group: 'security.istio.io', version: 'v1', kind: 'RequestAuthentication', plural: 'requestauthentications', namespaced: true },
  { group: 'security.istio.io', version: 'v1', kind: 'PeerAuthentication', plural: 'peerauthentications', namespaced: true },
  { group: 'celgate.dev', version: 'v1alpha1', kind: 'AccessPolicy', plural: 'accesspolicies', namespaced: true },
];

/** An API error as a Kubernetes Status. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }

  status(): KubeObject {
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, code: this.code };
  }
}

interface StoredEvent {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly typeKey: string;
  readonly object: KubeObject;
}

interface OpenWatch {
  readonly typeKey: string;
  readonly namespace: string | undefined;
  readonly response: ServerResponse;
  readonly socket: Socket;
  readonly bookmarks: boolean;
  readonly type: ResourceType;
}

const typeKeyOf = (group: string, kind: string): string => `${group}/${kind}`;
const apiVersionOf = (type: ResourceType): string => (type.group === '' ? type.version : `${type.group}/${type.version}`);
const clone = <T>(value: T): T => structuredClone(value);

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export class FakeApiServer {
  readonly token: string;
  readonly requests: { method: string; path: string; query: string }[] = [];
  listDelayMs: number;
  #types: ResourceType[];
  #objects = new Map<string, KubeObject>();
  #history: StoredEvent[] = [];
  /** Events at or below this resourceVersion are forgotten. */
  #compactedAt = 0;
  #rv = 1;
  #watches = new Set<OpenWatch>();
  #rules: AccessRule[] = [];
  #bookmarkTimer: NodeJS.Timeout | undefined;
  #server!: Server;
  #sockets = new Set<Socket>();
  url = '';
  readonly ca: string;
  readonly #tls: { cert: Buffer; key: Buffer };

  constructor(options: FakeApiServerOptions = {}) {
    this.token = options.token ?? `token-${randomUUID()}`;
    this.listDelayMs = options.listDelayMs ?? 0;
    this.#types = [...(options.resources ?? DEFAULT_RESOURCES)];
    const certs = makeTestCerts();
    this.ca = certs.ca.toString('utf8');
    this.#tls = { cert: certs.serverCert, key: certs.serverKey };
    const interval = options.bookmarkIntervalMs ?? 500;
    if (interval > 0) {
      this.#bookmarkTimer = setInterval(() => this.sendBookmarks(), interval);
      this.#bookmarkTimer.unref();
    }
  }

  async listen(): Promise<void> {
    this.#server = createServer(this.#tls, (request, response) => void this.#handle(request, response));
    this.#server.on('secureConnection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address() as { port: number };
    this.url = `https://127.0.0.1:${address.port}`;
  }

  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** A kubeconfig (YAML) for this server: its CA and bearer token. */
  kubeconfig(): string {
    const ca = Buffer.from(this.ca).toString('base64');
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: fake\n  cluster:\n    server: ${this.url}\n    certificate-authority-data: ${ca}`,
      'users:',
      `- name: tester\n  user:\n    token: ${this.token}`,
      'contexts:',
      '- name: fake\n  context:\n    cluster: fake\n    user: tester',
      'current-context: fake',
      '',
    ].join('\n');
  }

  writeKubeconfig(dir = mkdtempSync(join(tmpdir(), 'celgate-kubeconfig-'))): string {
    const file = join(dir, 'kubeconfig.yaml');
    writeFileSync(file, this.kubeconfig());
    return file;
  }

  addResource(type: ResourceType): void {
    if (!this.#types.some((t) => t.group === type.group && t.kind === type.kind)) this.#types.push(type);
  }

  authorize(rules: readonly AccessRule[]): void {
    this.#rules = [...rules];
  }

  /** Forgets the event history: a watch from an older resourceVersion now gets 410 Gone. */
  compact(): void {
    this.#compactedAt = this.#rv;
    this.#history = [];
  }

  /** Destroys every open watch connection without a clean end, as a network failure would. */
  breakWatches(): number {
    const count = this.#watches.size;
    for (const watch of this.#watches) watch.socket.destroy();
    this.#watches.clear();
    return count;
  }

  /** Sends a BOOKMARK (the current resourceVersion) to every watch that allowed bookmarks. */
  sendBookmarks(): void {
    for (const watch of this.#watches) {
      if (!watch.bookmarks) continue;
      this.#send(watch, 'BOOKMARK', { kind: watch.type.kind, apiVersion: apiVersionOf(watch.type), metadata: { resourceVersion: String(this.#rv) } });
    }
  }

  get(apiVersion: string, kind: string, name: string, namespace?: string): KubeObject {
    const type = this.#typeFor(apiVersion, kind);
    const found = this.#objects.get(this.#key(type, namespace, name));
    if (!found) throw new ApiError(404, 'NotFound', `${type.plural} "${name}" not found`);
    return clone(found);
  }

  create(object: KubeObject): KubeObject {
    const type = this.#typeFor(String(object.apiVersion), String(object.kind));
    return this.#create(type, object, object.metadata?.namespace as string | undefined);
  }

  update(object: KubeObject): KubeObject {
    const type = this.#typeFor(String(object.apiVersion), String(object.kind));
    return this.#update(type, object, object.metadata?.namespace as string | undefined, String(object.metadata?.name ?? ''));
  }

  /** A JSON merge patch (an object) or a JSON patch (an array of operations). */
  patch(apiVersion: string, kind: string, name: string, patch: unknown, namespace?: string): KubeObject {
    const type = this.#typeFor(apiVersion, kind);
    return this.#patch(type, namespace, name, patch);
  }

  remove(apiVersion: string, kind: string, name: string, namespace?: string): KubeObject {
    return this.#delete(this.#typeFor(apiVersion, kind), namespace, name);
  }

  async close(): Promise<void> {
    if (this.#bookmarkTimer) clearInterval(this.#bookmarkTimer);
    for (const watch of this.#watches) watch.response.end();
    this.#watches.clear();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // --- storage -------------------------------------------------------------------------------

  #typeFor(apiVersion: string, kind: string): ResourceType {
    const { group, version } = splitApiVersion(apiVersion);
    const type = this.#types.find((t) => t.group === group && t.version === version && t.kind === kind);
    if (!type) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${kind} in ${apiVersion})`);
    return type;
  }

  #key(type: ResourceType, namespace: string | undefined, name: string): string {
    return `${typeKeyOf(type.group, type.kind)}/${type.namespaced ? (namespace ?? '') : ''}/${name}`;
  }

  #record(type: ResourceType, eventType: StoredEvent['type'], object: KubeObject): void {
    const event: StoredEvent = { rv: this.#rv, type: eventType, typeKey: typeKeyOf(type.group, type.kind), object: clone(object) };
    this.#history.push(event);
    for (const watch of this.#watches) {
      if (watch.typeKey !== event.typeKey) continue;
      if (watch.namespace !== undefined && object.metadata?.namespace !== watch.namespace) continue;
      this.#send(watch, event.type, event.object);
    }
  }

  #checkName(type: ResourceType, object: KubeObject, namespace: string | undefined): { name: string; namespace: string | undefined } {
    const name = object.metadata?.name;
    if (typeof name !== 'string' || name === '') throw new ApiError(422, 'Invalid', `${type.kind}.metadata.name: Required value: name is required`);
    if (type.namespaced && !namespace) throw new ApiError(422, 'Invalid', `${type.kind}.metadata.namespace: Required value`);
    return { name, namespace: type.namespaced ? namespace : undefined };
  }

  #create(type: ResourceType, input: KubeObject, namespace: string | undefined): KubeObject {
    const object = clone(input);
    const id = this.#checkName(type, object, namespace ?? (object.metadata?.namespace as string | undefined));
    const key = this.#key(type, id.namespace, id.name);
    if (this.#objects.has(key)) throw new ApiError(409, 'AlreadyExists', `${type.plural} "${id.name}" already exists`);
    this.#rv++;
    object.apiVersion = apiVersionOf(type);
    object.kind = type.kind;
    object.metadata = {
      ...object.metadata,
      ...(id.namespace ? { namespace: id.namespace } : {}),
      uid: randomUUID(),
      resourceVersion: String(this.#rv),
      generation: 1,
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    this.#objects.set(key, object);
    this.#record(type, 'ADDED', object);
    return clone(object);
  }

  #update(type: ResourceType, input: KubeObject, namespace: string | undefined, name: string): KubeObject {
    const key = this.#key(type, namespace, name);
    const current = this.#objects.get(key);
    if (!current) throw new ApiError(404, 'NotFound', `${type.plural} "${name}" not found`);
    const sent = input.metadata?.resourceVersion;
    if (sent !== undefined && sent !== '' && sent !== current.metadata!.resourceVersion) {
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${type.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    const next = clone(input);
    this.#rv++;
    const specChanged = JSON.stringify(next.spec) !== JSON.stringify(current.spec);
    next.apiVersion = apiVersionOf(type);
    next.kind = type.kind;
    next.metadata = {
      ...next.metadata,
      name,
      ...(type.namespaced ? { namespace } : {}),
      uid: current.metadata!.uid,
      creationTimestamp: current.metadata!.creationTimestamp,
      generation: Number(current.metadata!.generation ?? 1) + (specChanged ? 1 : 0),
      resourceVersion: String(this.#rv),
    };
    this.#objects.set(key, next);
    this.#record(type, 'MODIFIED', next);
    return clone(next);
  }

  /**
   * PUT .../status: "the main resource's spec is ignored, only the status is applied" (API
   * conventions, subresources); the sent resourceVersion is still a precondition (409 when stale).
   */
  #updateStatus(type: ResourceType, namespace: string | undefined, name: string, input: KubeObject): KubeObject {
    const current = this.#objects.get(this.#key(type, namespace, name));
    if (!current) throw new ApiError(404, 'NotFound', `${type.plural} "${name}" not found`);
    const sent = input.metadata?.resourceVersion;
    const next: KubeObject = { ...clone(current), status: clone(input.status), metadata: { ...clone(current.metadata), resourceVersion: sent ?? current.metadata!.resourceVersion } };
    if (input.status === undefined) delete next.status;
    return this.#update(type, next, namespace, name);
  }

  #patch(type: ResourceType, namespace: string | undefined, name: string, patch: unknown): KubeObject {
    const current = this.#objects.get(this.#key(type, namespace, name));
    if (!current) throw new ApiError(404, 'NotFound', `${type.plural} "${name}" not found`);
    let next: KubeObject;
    if (Array.isArray(patch)) {
      try {
        next = fastJsonPatch.applyPatch(clone(current), patch as fastJsonPatch.Operation[], true, false).newDocument as KubeObject;
      } catch (error) {
        throw new ApiError(422, 'Invalid', `the JSON patch does not apply: ${(error as Error).message}`);
      }
    } else if (typeof patch === 'object' && patch !== null) {
      next = mergePatch(clone(current), patch) as KubeObject;
    } else {
      throw new ApiError(400, 'BadRequest', 'a patch must be a JSON object (merge patch) or an array (JSON patch)');
    }
    // A patch applies to the stored version; a resourceVersion inside it is a precondition.
    const precondition = (patch as { metadata?: { resourceVersion?: unknown } }).metadata?.resourceVersion;
    if (precondition === undefined) next.metadata = { ...next.metadata, resourceVersion: current.metadata!.resourceVersion };
    return this.#update(type, next, namespace, name);
  }

  #delete(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const key = this.#key(type, namespace, name);
    const current = this.#objects.get(key);
    if (!current) throw new ApiError(404, 'NotFound', `${type.plural} "${name}" not found`);
    this.#objects.delete(key);
    this.#rv++;
    // The DELETED event carries the object at the deletion's resourceVersion.
    const gone = { ...clone(current), metadata: { ...current.metadata, resourceVersion: String(this.#rv) } };
    this.#record(type, 'DELETED', gone);
    return gone;
  }

  #list(type: ResourceType, namespace: string | undefined): KubeObject[] {
    const prefix = `${typeKeyOf(type.group, type.kind)}/`;
    const items: KubeObject[] = [];
    for (const [key, object] of this.#objects) {
      if (!key.startsWith(prefix)) continue;
      if (namespace !== undefined && object.metadata?.namespace !== namespace) continue;
      items.push(object);
    }
    return items.sort((a, b) => String(a.metadata?.name).localeCompare(String(b.metadata?.name)));
  }

  // --- HTTP ----------------------------------------------------------------------------------

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'https://fake');
    this.requests.push({ method: request.method ?? 'GET', path: url.pathname, query: url.search });
    try {
      if (request.headers.authorization !== `Bearer ${this.token}`) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      const body = request.method === 'GET' || request.method === 'DELETE' ? undefined : await readBody(request);
      await this.#route(request.method ?? 'GET', url, body, request.headers['content-type'] ?? '', response);
    } catch (error) {
      const apiError = error instanceof ApiError ? error : new ApiError(500, 'InternalError', (error as Error).message);
      if (!response.headersSent) json(response, apiError.code, apiError.status());
      else response.end();
    }
  }

  async #route(method: string, url: URL, body: unknown, contentType: string, response: ServerResponse): Promise<void> {
    const parts = url.pathname.split('/').filter(Boolean);
    // Discovery.
    if (method === 'GET' && url.pathname === '/api') return json(response, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
    if (method === 'GET' && url.pathname === '/apis') return json(response, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: this.#groups() });
    if (method === 'GET' && parts[0] === 'apis' && parts.length === 2) {
      const group = this.#groups().find((g) => g.name === parts[1]);
      if (!group) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      return json(response, 200, { kind: 'APIGroup', apiVersion: 'v1', ...group });
    }
    const gv = parts[0] === 'api' ? { group: '', version: parts[1], rest: parts.slice(2) } : parts[0] === 'apis' ? { group: parts[1]!, version: parts[2], rest: parts.slice(3) } : undefined;
    if (!gv || gv.version === undefined) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const served = this.#types.filter((t) => t.group === gv.group && t.version === gv.version);
    if (served.length === 0) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (gv.rest.length === 0 && method === 'GET') {
      return json(response, 200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: gv.group === '' ? gv.version : `${gv.group}/${gv.version}`,
        resources: served.map((t) => ({ name: t.plural, singularName: t.kind.toLowerCase(), namespaced: t.namespaced, kind: t.kind, verbs: t.verbs ?? OBJECT_VERBS })),
      });
    }
    // namespaces/NS/PLURAL[/NAME] or PLURAL[/NAME]; `namespaces/NAME` itself is the Namespace object.
    let namespace: string | undefined;
    let rest = gv.rest;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const type = served.find((t) => t.plural === rest[0]);
    // The status subresource (PLURAL/NAME/status): GET, and PUT that changes only .status.
    const subresource = rest.length === 3 && rest[2] === 'status' ? 'status' : undefined;
    if (!type || (rest.length > 2 && !subresource)) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (namespace !== undefined && !type.namespaced) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const name = rest[1];

    if (type.kind === 'SubjectAccessReview') {
      if (method !== 'POST' || name !== undefined) throw new ApiError(405, 'MethodNotAllowed', 'only create is allowed on subjectaccessreviews');
      return json(response, 201, this.#review(body));
    }
    if (name === undefined) {
      if (method === 'GET') {
        const watch = url.searchParams.get('watch');
        if (watch === '1' || watch === 'true') return this.#watch(type, namespace, url.searchParams, response);
        if (this.listDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.listDelayMs));
        const items = this.#list(type, namespace).map((item) => {
          const { apiVersion: _a, kind: _k, ...rest } = item;
          return clone(rest);
        });
        return json(response, 200, { kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata: { resourceVersion: String(this.#rv) }, items });
      }
      if (method === 'POST') return json(response, 201, this.#create(type, asObject(body), type.namespaced ? (namespace ?? (asObject(body).metadata?.namespace as string | undefined)) : undefined));
      throw new ApiError(405, 'MethodNotAllowed', `${method} is not allowed on a collection`);
    }
    if (subresource) {
      if (method === 'PUT') return json(response, 200, this.#updateStatus(type, namespace, name, asObject(body)));
      if (method !== 'GET') throw new ApiError(405, 'MethodNotAllowed', `${method} is not allowed on the status subresource`);
    }
    switch (method) {
      case 'GET': {
        const found = this.#objects.get(this.#key(type, namespace, name));
        if (!found) throw new ApiError(404, 'NotFound', `${type.plural} "${name}" not found`);
        return json(response, 200, found);
      }
      case 'PUT':
        return json(response, 200, this.#update(type, asObject(body), namespace, name));
      case 'PATCH':
        if (contentType.includes('json-patch') !== Array.isArray(body)) throw new ApiError(415, 'UnsupportedMediaType', `content type ${contentType} does not match the patch body`);
        return json(response, 200, this.#patch(type, namespace, name, body));
      case 'DELETE':
        return json(response, 200, this.#delete(type, namespace, name));
      default:
        throw new ApiError(405, 'MethodNotAllowed', `${method} is not allowed`);
    }
  }

  #groups(): { name: string; versions: { groupVersion: string; version: string }[]; preferredVersion: { groupVersion: string; version: string } }[] {
    const byGroup = new Map<string, string[]>();
    for (const t of this.#types) {
      if (t.group === '') continue;
      const versions = byGroup.get(t.group) ?? [];
      if (!versions.includes(t.version)) versions.push(t.version);
      byGroup.set(t.group, versions);
    }
    return [...byGroup].map(([name, versions]) => {
      const list = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
      return { name, versions: list, preferredVersion: list[0]! };
    });
  }

  #watch(type: ResourceType, namespace: string | undefined, query: URLSearchParams, response: ServerResponse): void {
    response.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const watch: OpenWatch = {
      typeKey: typeKeyOf(type.group, type.kind),
      namespace,
      response,
      socket: response.socket as Socket,
      bookmarks: query.get('allowWatchBookmarks') === 'true',
      type,
    };
    const from = query.get('resourceVersion') ?? '';
    if (from === '' || from === '0') {
      // "Start at any": the current state as ADDED events, then changes.
      for (const object of this.#list(type, namespace)) this.#send(watch, 'ADDED', object);
    } else {
      const rv = Number(from);
      if (!Number.isInteger(rv) || rv < this.#compactedAt) {
        this.#send(watch, 'ERROR', {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `too old resource version: ${from} (${this.#compactedAt})`,
          reason: 'Expired',
          code: 410,
        });
        response.end();
        return;
      }
      for (const event of this.#history) {
        if (event.rv <= rv || event.typeKey !== watch.typeKey) continue;
        if (namespace !== undefined && event.object.metadata?.namespace !== namespace) continue;
        this.#send(watch, event.type, event.object);
      }
    }
    this.#watches.add(watch);
    // timeoutSeconds: the server ends the watch cleanly after that long; the client resumes it.
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '0');
    const timer = timeoutSeconds > 0 ? setTimeout(() => response.end(), timeoutSeconds * 1000) : undefined;
    response.on('close', () => {
      if (timer) clearTimeout(timer);
      this.#watches.delete(watch);
    });
  }

  #send(watch: OpenWatch, type: string, object: KubeObject): void {
    if (!watch.response.writableEnded) watch.response.write(`${JSON.stringify({ type, object })}\n`);
  }

  #review(body: unknown): KubeObject {
    const review = asObject(body);
    const spec = (review.spec ?? {}) as {
      user?: string;
      groups?: string[];
      resourceAttributes?: { namespace?: string; verb?: string; group?: string; resource?: string; subresource?: string; name?: string };
      nonResourceAttributes?: { path?: string; verb?: string };
    };
    const user = spec.user ?? '';
    const groups = spec.groups ?? [];
    const any = (list: readonly string[] | undefined, value: string | undefined): boolean =>
      list === undefined || list.includes('*') || (value !== undefined && list.includes(value));
    const matched = this.#rules.findIndex((rule) => {
      const subject = (rule.users === undefined && rule.groups === undefined) || (rule.users ?? []).includes(user) || (rule.groups ?? []).some((g) => groups.includes(g));
      if (!subject) return false;
      const resource = spec.resourceAttributes;
      if (resource) {
        const resourceName = resource.subresource ? `${resource.resource}/${resource.subresource}` : resource.resource;
        return (
          rule.nonResourceURLs === undefined &&
          any(rule.verbs, resource.verb) &&
          any(rule.apiGroups, resource.group ?? '') &&
          any(rule.resources, resourceName) &&
          (rule.namespaces === undefined || any(rule.namespaces, resource.namespace)) &&
          (rule.names === undefined || any(rule.names, resource.name))
        );
      }
      const nonResource = spec.nonResourceAttributes;
      return nonResource !== undefined && rule.nonResourceURLs !== undefined && any(rule.verbs, nonResource.verb) && any(rule.nonResourceURLs, nonResource.path);
    });
    const status = matched >= 0 ? { allowed: true, reason: `allowed by rule ${matched}` } : { allowed: false, reason: 'no rule allows this request' };
    return { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', metadata: { creationTimestamp: null }, spec, status };
  }
}

function asObject(body: unknown): KubeObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'BadRequest', 'the body must be a JSON object');
  return body as KubeObject;
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

const BODY_LIMIT = 3 * 1024 * 1024;

function readBody(request: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_LIMIT) {
        reject(new ApiError(413, 'RequestEntityTooLarge', 'the request body is too large'));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text === '') return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(new ApiError(400, 'BadRequest', `the body is not JSON: ${(error as Error).message}`));
      }
    });
    request.on('error', reject);
  });
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const server = new FakeApiServer(options);
  await server.listen();
  return server;
}

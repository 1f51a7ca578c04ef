/** `celgate serve`: run celgate's servers (the admission webhook and the ext_authz faces) over TLS. */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Server as HttpsServer, ServerOptions as HttpsOptions } from 'node:https';
import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';
import { createAdmissionServer, type AdmissionPolicySet } from '../../admission/index.js';
import { toJson } from '../../cel/index.js';
import { ReloadableServerCredentials, startAuthzGrpcServer, startAuthzHttpServer, type AuthzServer, type GrpcTlsSettings } from '../../authz/index.js';
import { compileAccessPolicies, type AccessPolicies, type Destination } from '../../engine/access/index.js';
import { formatIssue, loadResources, watchPaths, type PolicyIssue } from '../../policy/index.js';
// Types only: the Kubernetes modules (and @kubernetes/client-node, ~0.4 s to load) load with --kubernetes.
import type { KubeConfig, V1ValidatingAdmissionPolicy } from '@kubernetes/client-node';
import type { ClusterSource } from '../../k8s/cluster-source.js';
import type { SubjectAccessReviewAuthorizer } from '../../k8s/authorizer.js';
import type { LeaderElector } from '../../k8s/leader-election.js';
import type { PolicyProblem } from '../../k8s/status.js';
import type { WebhookEndpoint } from '../../k8s/registration.js';
import { admissionLogLine } from '../../testing/index.js';
import { lineFile, type LineSink } from '../../telemetry/batched-file.js';
import { CertificateFileError, checkDnsName, createTlsContextSource, ensureServingCertificates, reportTlsClientErrors } from '../../pki/index.js';
import { logLevel, waitForSignal } from '../server-process.js';
import { EXIT_OK, EXIT_USAGE, UsageError, parseCommandArgs, type Command, type ParsedArgs, helpRequested, refusePositionals } from '../usage.js';

const HELP = `Usage: celgate serve [--policies PATH...] [OPTIONS]

Runs, over TLS, from the same policy files:
- the Kubernetes admission webhook: POST /validate (validating policies), POST /mutate
  (mutating policies, answered with a JSON Patch), GET /healthz, GET /readyz (503 until a
  policy set has loaded) and GET /metrics (Prometheus);
- Envoy's ext_authz over HTTP (every path under --authz-path-prefix is a check; 200 allows)
  and over gRPC (envoy.service.auth.v3.Authorization/Check), deciding with the
  AuthorizationPolicy, RequestAuthentication, PeerAuthentication and AccessPolicy resources.
Policy files are watched; a changed set is loaded and swapped in whole, and a set with
problems is rejected (each problem logged as file:line:col) while the previous set keeps serving.

With --kubernetes, policies also come from the cluster: ValidatingAdmissionPolicy and
MutatingAdmissionPolicy with their bindings (at the versions the API server offers), the param
objects their paramKind names, Namespaces, and AccessPolicy and Istio security kinds when their
CRDs exist; they are listed and watched, and every change rebuilds the set. /readyz is 503 until
the first full list. A cluster policy with problems is logged (naming it as k8s:/apis/...:line)
and does not block the other admission policies (its failing expressions apply its
failurePolicy); access policies stay all-or-nothing (the previous set keeps serving).
In this mode CEL's \`authorizer\` asks the API server (SubjectAccessReviews, cached 10 s), and
the replicas elect a leader (Lease \`celgate\` in $POD_NAMESPACE, else the service account's
namespace, else celgate; identity $POD_NAME, else HOST-PID) that sets the condition
celgate.dev/Compiled=False on ValidatingAdmissionPolicies celgate cannot compile and, with
--register-webhooks, keeps the webhook configurations current.

Options:
  --policies PATH     policy files or directories (repeatable; default: policies, or none
                      with --kubernetes: then only the files given are read beside the cluster)
  --kubernetes        read policies, params and namespaces from the Kubernetes API and follow them
  --kubeconfig FILE   with --kubernetes: the kubeconfig (default: $KUBECONFIG, the Pod's service
                      account, then ~/.kube/config)
  --register-webhooks with --kubernetes: the leader creates and updates the
                      ValidatingWebhookConfiguration and MutatingWebhookConfiguration \`celgate\`,
                      their rules the union of the bound policies' resourceRules and their caBundle
                      the CA of the serving certificate (off by default: webhooks/ has static ones)
  --webhook-service NS/NAME
                      the Service the API server calls, port 443 (default celgate/celgate)
  --webhook-url URL   instead of a Service: the https base URL (/validate and /mutate appended)
  --webhook-failure-policy Fail|Ignore
                      the webhooks' failurePolicy (default Fail)
  --webhook-timeout SECONDS
                      the webhooks' timeoutSeconds, 1-30 (default 5)
  --webhook-ca-bundle FILE
                      the CA certificate (PEM) written as caBundle (default: ca.crt of --certs;
                      required with --tls-cert)
  --shutdown-timeout SECONDS
                      on SIGTERM, how long in-flight requests may take to finish (default 10)
  --params PATH       param objects for bindings' paramRef (repeatable)
  --namespaces PATH   Namespace objects for namespaceSelector and namespaceObject (repeatable)
  --port N            webhook port (default 8443; 0 picks a free port)
  --host ADDRESS      address to listen on (default 0.0.0.0)
  --certs DIR         where the serving certificate lives; created there when missing (default certs)
  --tls-cert FILE     serving certificate chain (PEM); with --tls-key, instead of --certs
  --tls-key FILE      serving private key (PEM)
  --client-ca FILE    require client certificates signed by this CA
  --body-limit BYTES  largest AdmissionReview accepted (default 3145728, 3 MiB)
  --authz-http-port N ext_authz HTTP port (default 9002; 'off' disables it)
  --authz-grpc-port N ext_authz gRPC port (default 9001; 'off' disables it)
  --authz-path-prefix PREFIX
                      path prefix of HTTP checks, stripped before deciding (default: none,
                      every path is a check; with one, GET /metrics is served beside)
  --root-namespace NS Istio root namespace: policies there apply mesh-wide (default istio-system)
  --authz-namespace NS
                      namespace of the workload the ext_authz checks are for, when the check
                      does not say (Istio selects policies by it; default: default)
  --authz-workload-label KEY=VALUE
                      a label of that workload, for policies' selector (repeatable)
  --fail-open         allow when a policy cannot be evaluated (default: deny with 403)
  --log-decisions FILE|off
                      append every decision (admission and access) to FILE as JSON lines,
                      the log 'celgate replay' reads (default: access decisions on stdout;
                      'off' logs none)
  --log-level LEVEL   trace, debug, info (default), warn, error
  -h, --help          shows this help

Stops cleanly on SIGINT and SIGTERM: /readyz turns 503, requests in flight finish (up to
--shutdown-timeout), then the listeners close. Exit codes: 0 stopped, 2 usage error.`;

const OPTIONS = {
  policies: { type: 'string', multiple: true },
  kubernetes: { type: 'boolean' },
  kubeconfig: { type: 'string' },
  'register-webhooks': { type: 'boolean' },
  'webhook-service': { type: 'string' },
  'webhook-url': { type: 'string' },
  'webhook-failure-policy': { type: 'string' },
  'webhook-timeout': { type: 'string' },
  'webhook-ca-bundle': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  params: { type: 'string', multiple: true },
  namespaces: { type: 'string', multiple: true },
  port: { type: 'string' },
  host: { type: 'string' },
  certs: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'client-ca': { type: 'string' },
  'body-limit': { type: 'string' },
  'authz-http-port': { type: 'string' },
  'authz-grpc-port': { type: 'string' },
  'authz-path-prefix': { type: 'string' },
  'root-namespace': { type: 'string' },
  'authz-namespace': { type: 'string' },
  'authz-workload-label': { type: 'string', multiple: true },
  'fail-open': { type: 'boolean' },
  'log-decisions': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

/** What every face gets to start with. */
interface FaceContext {
  readonly args: ParsedArgs['values'];
  readonly tls: TlsSource;
  readonly log: Logger;
  /** Where decisions are logged for `celgate replay` (--log-decisions FILE); false for `off`. */
  readonly decisions?: LineSink | false;
  /** With --kubernetes: the cluster's policies, and a way to hear about each rebuilt snapshot. */
  readonly cluster?: ClusterFeed;
  /** Resolves when the process is asked to stop (a face waiting for the cluster gives up then). */
  readonly stopping: Promise<unknown>;
}

/** The cluster source shared by the faces, with change notifications fanned out to each. */
interface ClusterFeed {
  readonly source: ClusterSource;
  onChange(listener: () => void): void;
  /** CEL `authorizer` checks as SubjectAccessReviews. */
  readonly authorizer: SubjectAccessReviewAuthorizer;
  /** The admission face reports each set it swaps in (the leader writes status and registrations). */
  admissionSetLoaded(set: AdmissionPolicySet): void;
}

/** The policy paths: --policies, else `policies`, except with --kubernetes where no files is the default. */
function policyPaths(args: ParsedArgs['values']): string[] {
  return (args.policies as string[] | undefined) ?? (args.kubernetes === true ? [] : ['policies']);
}

interface RunningFace {
  /** One line per listener, printed for people: "admission webhook: https://..." */
  readonly describe: string;
  close(): Promise<void>;
  /** Graceful shutdown's first half: stop being ready, let in-flight requests finish. */
  drain?(deadlineMs: number): Promise<void>;
}

/** A server celgate serve starts. */
interface Face {
  readonly name: string;
  start(context: FaceContext): Promise<RunningFace>;
}

const admissionFace: Face = {
  name: 'admission',
  async start({ args, tls, log, decisions, cluster }) {
    const server = await createAdmissionServer({
      ...(decisions ? { onDecision: (request, decision, phase) => decisions.write(`${JSON.stringify(admissionLogLine(request, decision, phase))}\n`) } : {}),
      tls: tls.options,
      sources: {
        policyPaths: policyPaths(args),
        dataPaths: [...((args.params as string[] | undefined) ?? []), ...((args.namespaces as string[] | undefined) ?? [])],
        ...(cluster ? { live: cluster.source } : {}),
      },
      ...(cluster ? { authorizer: cluster.authorizer, onLoaded: (set: AdmissionPolicySet) => cluster.admissionSetLoaded(set) } : {}),
      // With the cluster, the first load waits for its first full list (not ready until then).
      loadOnCreate: cluster === undefined,
      watch: true,
      ...(args['body-limit'] !== undefined ? { bodyLimit: positiveInteger('--body-limit', args['body-limit'] as string) } : {}),
      logger: log.child({ face: 'admission' }),
    });
    const url = await server.listen(port(args.port as string | undefined, 8443), (args.host as string | undefined) ?? '0.0.0.0');
    const stopWatchingCerts = tls.watch(server.server);
    const faceLog = log.child({ face: 'admission' });
    reportTlsClientErrors(server.server, (message) => faceLog.warn(message));
    if (cluster) {
      void cluster.source.synced.then(() => server.reload());
      cluster.onChange(() => void server.reload());
    }
    return {
      describe: `admission webhook: ${url} (POST /validate, POST /mutate, GET /healthz /readyz /metrics)`,
      async drain(deadlineMs) {
        const { unfinished } = await server.drain(deadlineMs);
        if (unfinished > 0) faceLog.warn({ unfinished }, 'shutdown deadline reached with admission reviews in flight');
      },
      async close() {
        stopWatchingCerts();
        await server.close();
      },
    };
  },
};

type AccessLoad = { readonly policies: AccessPolicies; readonly issues?: undefined } | { readonly policies?: undefined; readonly issues: readonly PolicyIssue[] };

/**
 * Access policies from the files and (with --kubernetes) the cluster. Unlike admission policies,
 * any problem refuses the whole set, cluster objects included: dropping one broken Istio policy can
 * widen access (a workload whose only ALLOW policy is gone allows everything), so fail closed.
 */
async function loadAccessPolicies(paths: readonly string[], rootNamespace: string, cluster?: ClusterSource): Promise<AccessLoad> {
  const loaded = await loadResources(paths);
  const live = cluster?.current();
  const resources = [...loaded.resources, ...(live?.resources ?? [])];
  const issues = [...loaded.issues, ...(live?.issues ?? []).filter((issue) => !/\/(validating|mutating)admissionpolic/.test(issue.file))];
  const policies = compileAccessPolicies(resources, issues, { rootNamespace });
  return issues.length > 0 ? { issues } : { policies };
}

/**
 * Both ext_authz listeners decide with one access policy set, loaded from the policy paths,
 * reloaded on change and swapped into both at once; a set with problems is logged and refused.
 */
const authzFace: Face = {
  name: 'authz',
  async start({ args, tls, log, decisions, cluster, stopping }) {
    const httpPort = optionalPort('--authz-http-port', args['authz-http-port'] as string | undefined, 9002);
    const grpcPort = optionalPort('--authz-grpc-port', args['authz-grpc-port'] as string | undefined, 9001);
    if (httpPort === undefined && grpcPort === undefined) return { describe: 'ext_authz: off', close: async () => {} };
    const paths = policyPaths(args);
    const rootNamespace = (args['root-namespace'] as string | undefined) ?? 'istio-system';
    const authzLog = log.child({ face: 'authz' });
    const source = cluster?.source;
    let changed: () => void = () => {};
    cluster?.onChange(() => changed());
    let first: AccessLoad;
    if (source) {
      // In a cluster, a bad first set is not fatal (a restart would not fix it): wait for a good one,
      // with the ext_authz ports closed meanwhile, so Envoy fails closed.
      if ((await Promise.race([source.synced.then(() => true), stopping.then(() => false)])) === false) return { describe: 'ext_authz: not started', close: async () => {} };
      for (;;) {
        first = await loadAccessPolicies(paths, rootNamespace, source);
        if (!first.issues) break;
        for (const issue of first.issues) authzLog.error(formatIssue(issue));
        authzLog.error('access policies did not load; ext_authz starts when they do');
        const next = await Promise.race([new Promise<boolean>((resolve) => (changed = () => resolve(true))), stopping.then(() => false)]);
        if (!next) return { describe: 'ext_authz: not started', close: async () => {} };
      }
    } else {
      first = await loadAccessPolicies(paths, rootNamespace);
      if (first.issues) {
        for (const issue of first.issues) authzLog.error(formatIssue(issue));
        throw new Error(`access policies did not load (${first.issues.length} problems; see the log)`);
      }
    }
    const host = (args.host as string | undefined) ?? '0.0.0.0';
    const failOpen = args['fail-open'] === true;
    const destination = workloadOf(args);
    const prefix = args['authz-path-prefix'] as string | undefined;
    const servers: AuthzServer[] = [];
    const lines: string[] = [];
    const stopWatchingCerts: Array<() => void> = [];
    if (httpPort !== undefined) {
      const server = await startAuthzHttpServer({
        policies: first.policies!,
        host,
        port: httpPort,
        failOpen,
        ...(destination ? { destination } : {}),
        ...(decisions !== undefined ? { decisionLog: decisions && { destination: decisions } } : {}),
        tls: tls.options,
        watchTls: (s) => {
          reportTlsClientErrors(s, (message) => authzLog.warn(message));
          const stop = tls.watch(s as unknown as HttpsServer);
          stopWatchingCerts.push(stop);
          return stop;
        },
        ...(prefix !== undefined ? { pathPrefix: prefix } : {}),
      });
      servers.push(server);
      lines.push(`ext_authz HTTP: https://${server.address}${prefix ?? '/'} (200 allows; the original method, path and headers are the request)`);
    }
    if (grpcPort !== undefined) {
      // The same TLS settings as the HTTPS listeners, following the same rotation.
      const credentials = new ReloadableServerCredentials(tls.options as GrpcTlsSettings);
      stopWatchingCerts.push(tls.watch(credentials as unknown as HttpsServer));
      const server = await startAuthzGrpcServer({
        policies: first.policies!,
        host,
        port: grpcPort,
        failOpen,
        ...(destination ? { destination } : {}),
        credentials,
        ...(decisions !== undefined ? { decisionLog: decisions && { destination: decisions } } : {}),
      });
      servers.push(server);
      lines.push(`ext_authz gRPC: ${server.address} (envoy.service.auth.v3.Authorization/Check)`);
    }
    const reload = (): void => {
      void loadAccessPolicies(paths, rootNamespace, source).then((next) => {
        if (next.issues) {
          for (const issue of next.issues) authzLog.error(formatIssue(issue));
          authzLog.error('access policy reload refused; the previous set keeps serving');
          return;
        }
        for (const server of servers) server.setPolicies(next.policies);
        authzLog.info('access policies reloaded');
      });
    };
    changed = reload;
    const watching = watchPaths(
      paths,
      reload,
      (path, error) => authzLog.warn({ path, err: error }, 'cannot watch policy path; changes there need a restart'),
    );
    return {
      describe: lines.join('\n'),
      async close() {
        watching.close();
        for (const stop of stopWatchingCerts) stop();
        await Promise.all(servers.map((server) => server.close()));
      },
    };
  },
};

/** The servers `celgate serve` starts, in order; each takes the shared TLS source and logger. */
const FACES: readonly Face[] = [admissionFace, authzFace];

/** The workload the ext_authz listeners decide for, from --authz-namespace and --authz-workload-label. */
function workloadOf(args: ParsedArgs['values']): Destination | undefined {
  const namespace = args['authz-namespace'] as string | undefined;
  const pairs = (args['authz-workload-label'] as string[] | undefined) ?? [];
  if (namespace === undefined && pairs.length === 0) return undefined;
  if (namespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) {
    throw new UsageError(`--authz-namespace: '${namespace}' is not a valid namespace name`);
  }
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UsageError(`--authz-workload-label: expected KEY=VALUE, got '${pair}'`);
    labels[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return { ...(namespace !== undefined ? { namespace } : {}), ...(pairs.length > 0 ? { labels } : {}) };
}

function optionalPort(flag: string, text: string | undefined, fallback: number): number | undefined {
  if (text === 'off') return undefined;
  return port(text, fallback, flag);
}

function positiveInteger(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer, got '${text}'`);
  return n;
}

function nonNegativeSeconds(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || n > 3600 || text.trim() === '') throw new UsageError(`${flag} must be a number of seconds (0-3600), got '${text}'`);
  return n;
}

function port(text: string | undefined, fallback: number, flag = '--port'): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag} must be 0-65535, got '${text}'`);
  return n;
}

/** TLS settings for the listeners, and a way to follow certificate rotation on disk. */
interface TlsSource {
  readonly options: HttpsOptions;
  /** The CA that signed the serving certificate, when celgate manages it (--certs). */
  readonly caFile?: string;
  watch(server: HttpsServer): () => void;
}

/** A DNS name for the certificate from the machine's host name, when it is a valid one. */
function hostDnsNames(): string[] {
  try {
    return [checkDnsName(hostname())];
  } catch {
    return [];
  }
}

async function tlsSource(args: ParsedArgs['values'], log: Logger): Promise<TlsSource> {
  const certFile = args['tls-cert'] as string | undefined;
  const keyFile = args['tls-key'] as string | undefined;
  const clientCaFile = args['client-ca'] as string | undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  let files: { certFile: string; keyFile: string; caFile?: string };
  if (certFile !== undefined && keyFile !== undefined) {
    files = { certFile, keyFile };
  } else {
    const dir = (args.certs as string | undefined) ?? 'certs';
    const host = args.host as string | undefined;
    const ipAddresses = host !== undefined && isIP(host) !== 0 && host !== '0.0.0.0' && host !== '::' ? [host] : [];
    const ensured = await ensureServingCertificates(dir, { dnsNames: hostDnsNames(), ipAddresses });
    if (ensured.generated) {
      log.info({ certFile: ensured.certFile, keyFile: ensured.keyFile, caFile: ensured.caFile }, `generated a serving certificate (and its CA when missing) in ${dir}`);
    }
    files = ensured;
  }
  const source = createTlsContextSource({ certFile: files.certFile, keyFile: files.keyFile, ...(clientCaFile !== undefined ? { clientCaFile } : {}) });
  return { options: source.options, ...(files.caFile !== undefined ? { caFile: files.caFile } : {}), watch: (server) => source.watch(server as unknown as Parameters<typeof source.watch>[0]) };
}

// --- Kubernetes: the cluster source, the SubjectAccessReview authorizer, leader election and the
// leader's duties (status conditions, webhook registration) -----------------------------------

/** --register-webhooks and its settings, checked before anything starts. */
interface RegistrationSettings {
  readonly endpoint: WebhookEndpoint;
  readonly failurePolicy: 'Fail' | 'Ignore';
  readonly timeoutSeconds: number;
  /** --webhook-ca-bundle, when given (else the CA of --certs). */
  readonly caFile?: string;
}

const WEBHOOK_FLAGS = ['webhook-service', 'webhook-url', 'webhook-failure-policy', 'webhook-timeout', 'webhook-ca-bundle'] as const;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function registrationSettings(args: ParsedArgs['values']): RegistrationSettings | undefined {
  if (args['register-webhooks'] !== true) {
    const stray = WEBHOOK_FLAGS.find((flag) => args[flag] !== undefined);
    if (stray) throw new UsageError(`--${stray} needs --register-webhooks`);
    return undefined;
  }
  if (args.kubernetes !== true) throw new UsageError('--register-webhooks needs --kubernetes');
  const service = args['webhook-service'] as string | undefined;
  const url = args['webhook-url'] as string | undefined;
  if (service !== undefined && url !== undefined) throw new UsageError('give --webhook-service or --webhook-url, not both');
  let endpoint: WebhookEndpoint;
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`--webhook-url: '${url}' is not a URL`);
    }
    // admissionregistration/v1 WebhookClientConfig.url: "The scheme must be https", no query or fragment.
    if (parsed.protocol !== 'https:' || parsed.search || parsed.hash || parsed.username) throw new UsageError(`--webhook-url must be https without user, query or fragment, got '${url}'`);
    endpoint = { url };
  } else {
    const [namespace, name, extra] = (service ?? 'celgate/celgate').split('/');
    if (extra !== undefined || !namespace || !name || !DNS_LABEL.test(namespace) || !DNS_LABEL.test(name)) {
      throw new UsageError(`--webhook-service: expected NAMESPACE/NAME of a Service, got '${service}'`);
    }
    endpoint = { service: { namespace, name, port: 443 } };
  }
  const failurePolicy = (args['webhook-failure-policy'] as string | undefined) ?? 'Fail';
  if (failurePolicy !== 'Fail' && failurePolicy !== 'Ignore') throw new UsageError(`--webhook-failure-policy must be Fail or Ignore, got '${failurePolicy}'`);
  const timeoutText = (args['webhook-timeout'] as string | undefined) ?? '5';
  const timeoutSeconds = Number(timeoutText);
  // The API server accepts timeoutSeconds from 1 to 30.
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 30) throw new UsageError(`--webhook-timeout must be a whole number of seconds from 1 to 30, got '${timeoutText}'`);
  if (args['tls-cert'] !== undefined && args['webhook-ca-bundle'] === undefined) {
    throw new UsageError('--register-webhooks with --tls-cert needs --webhook-ca-bundle FILE: the CA that signed the serving certificate, written as caBundle');
  }
  const caFile = args['webhook-ca-bundle'] as string | undefined;
  return { endpoint, failurePolicy, timeoutSeconds, ...(caFile !== undefined ? { caFile } : {}) };
}

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** Who this replica is in the leader election, and where the Lease lives. */
function leaseLocation(env: NodeJS.ProcessEnv = process.env): { readonly identity: string; readonly namespace: string } {
  const identity = env.POD_NAME || `${hostname()}-${process.pid}`;
  let namespace = env.POD_NAMESPACE;
  if (!namespace) {
    try {
      namespace = readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim();
    } catch {
      namespace = undefined;
    }
  }
  return { identity, namespace: namespace || 'celgate' };
}

/** `k8s:/apis/admissionregistration.k8s.io/VERSION/validatingadmissionpolicies/NAME` → NAME. */
const VAP_FILE = /^k8s:\/apis\/admissionregistration\.k8s\.io\/[^/]+\/validatingadmissionpolicies\/([^/]+)$/;

/** Each cluster ValidatingAdmissionPolicy's problems in a loaded set, by name. */
function clusterPolicyProblems(issues: readonly PolicyIssue[]): Map<string, PolicyProblem[]> {
  const problems = new Map<string, PolicyProblem[]>();
  for (const issue of issues) {
    const name = VAP_FILE.exec(issue.file)?.[1];
    if (name === undefined) continue;
    const list = problems.get(name) ?? [];
    list.push({ ...(issue.field ? { field: issue.field } : {}), message: issue.message });
    problems.set(name, list);
  }
  return problems;
}

interface KubernetesRuntime {
  readonly feed: ClusterFeed;
  /** SIGTERM's first step: release the Lease so another replica leads at once. */
  stepDown(): Promise<void>;
  stop(): Promise<void>;
}

async function startKubernetes(config: KubeConfig, log: Logger, registration: (RegistrationSettings & { readonly caFile: string }) | undefined): Promise<KubernetesRuntime> {
  const [{ ClusterSource }, { createSubjectAccessReviewDecider }, { startLeaderElection }, { createStatusWriter }, { createWebhookRegistrar }, { createLeaderDuties }, client] = await Promise.all([
    import('../../k8s/cluster-source.js'),
    import('../../k8s/authorizer.js'),
    import('../../k8s/leader-election.js'),
    import('../../k8s/status.js'),
    import('../../k8s/registration.js'),
    import('../../k8s/leader-duties.js'),
    import('@kubernetes/client-node'),
  ]);
  const k8sLog = log.child({ component: 'k8s' });
  const admissionApi = config.makeApiClient(client.AdmissionregistrationV1Api);
  let caPem = registration ? readFileSync(registration.caFile, 'utf8') : '';
  // Built first: a bad caBundle or URL is a usage error before anything starts.
  const registrar = registration
    ? createWebhookRegistrar(admissionApi, {
        caPem,
        endpoint: registration.endpoint,
        failurePolicy: registration.failurePolicy,
        timeoutSeconds: registration.timeoutSeconds,
        onReconciled: (result) => {
          if (result.validating !== 'unchanged' || result.mutating !== 'unchanged') k8sLog.info(result, 'webhook configurations reconciled');
        },
        onError: (error) => k8sLog.error({ err: error.message }, 'webhook registration failed; retrying'),
      })
    : undefined;

  const listeners: Array<() => void> = [];
  const source = new ClusterSource({ config, logger: k8sLog, onChange: () => listeners.forEach((listener) => listener()) });
  void source.synced.then((snapshot) => log.info({ resources: snapshot.resources.length, objects: snapshot.objects.length }, 'cluster listed; serving its policies'));

  let elector: LeaderElector | undefined;
  const isLeader = (): boolean => elector?.isLeader() ?? false;
  const duties = createLeaderDuties({
    isLeader,
    clusterPolicies: () => source.objectsOf('admissionregistration.k8s.io', 'ValidatingAdmissionPolicy') as V1ValidatingAdmissionPolicy[],
    status: createStatusWriter(admissionApi, { isLeader, onError: (error) => k8sLog.warn({ err: error.message }, 'policy status not written') }),
    ...(registrar
      ? {
          register: async (documents: readonly unknown[]) => {
            // The CA file is re-read each time: a rotated CA reaches caBundle with the next change.
            const pem = readFileSync(registration!.caFile, 'utf8');
            if (pem !== caPem) {
              caPem = pem;
              await registrar.setCaPem(pem);
            }
            await registrar.update(documents);
          },
        }
      : {}),
    onStatusWritten: (names) => k8sLog.info({ policies: names }, 'policy status conditions written'),
    onError: (error) => k8sLog.warn({ err: error.message }, 'leader duty failed'),
  });

  const lease = leaseLocation();
  elector = startLeaderElection(config.makeApiClient(client.CoordinationV1Api), {
    namespace: lease.namespace,
    name: 'celgate',
    identity: lease.identity,
    onStartedLeading: () => {
      k8sLog.info({ identity: lease.identity, lease: `${lease.namespace}/celgate` }, 'elected leader');
      duties.startedLeading();
    },
    onStoppedLeading: () => k8sLog.info({ identity: lease.identity }, 'no longer the leader'),
    onNewLeader: (holder) => k8sLog.info({ leader: holder || '(none)' }, 'leader observed'),
    onError: (error) => k8sLog.warn({ err: error.message }, 'leader election attempt failed'),
  });

  const feed: ClusterFeed = {
    source,
    onChange: (listener) => listeners.push(listener),
    authorizer: createSubjectAccessReviewDecider(config.makeApiClient(client.AuthorizationV1Api)),
    admissionSetLoaded: (set) =>
      duties.served({
        documents: registrar ? set.resources.map((resource) => toJson(resource.value)) : [],
        problems: clusterPolicyProblems(set.tolerated ?? []),
      }),
  };
  let steppedDown: Promise<void> | undefined;
  const stepDown = (): Promise<void> => (steppedDown ??= elector.stop());
  return {
    feed,
    stepDown,
    async stop() {
      await stepDown();
      duties.close();
      registrar?.close();
      await source.stop();
    },
  };
}

export const serveCommand: Command = {
  name: 'serve',
  help: HELP,
  async run(args) {
    const parsed = parseCommandArgs(args, OPTIONS);
    if (helpRequested(parsed.values, HELP)) return EXIT_OK;
    refusePositionals(parsed.positionals);
    const level = logLevel(parsed.values['log-level'] as string | undefined);
    // Logs go to stderr as JSON lines; stdout carries only the listening addresses.
    const log = pino({ name: 'celgate', level }, pino.destination(2));

    // Every flag is checked before anything is written (certificates) or bound.
    port(parsed.values.port as string | undefined, 8443);
    optionalPort('--authz-http-port', parsed.values['authz-http-port'] as string | undefined, 9002);
    optionalPort('--authz-grpc-port', parsed.values['authz-grpc-port'] as string | undefined, 9001);
    workloadOf(parsed.values);
    if (parsed.values['body-limit'] !== undefined) positiveInteger('--body-limit', parsed.values['body-limit'] as string);
    const shutdownMs = parsed.values['shutdown-timeout'] === undefined ? 10_000 : nonNegativeSeconds('--shutdown-timeout', parsed.values['shutdown-timeout'] as string) * 1000;
    if (parsed.values.kubeconfig !== undefined && parsed.values.kubernetes !== true) throw new UsageError('--kubeconfig needs --kubernetes');
    const registration = registrationSettings(parsed.values);
    let kubeConfig: KubeConfig | undefined;
    if (parsed.values.kubernetes === true) {
      const config = await import('../../k8s/kube-config.js');
      try {
        kubeConfig = config.loadKubeConfig(parsed.values.kubeconfig !== undefined ? { file: parsed.values.kubeconfig as string } : {});
      } catch (error) {
        if (!(error instanceof config.KubeConfigError)) throw error;
        console.error(`celgate serve: ${error.message}`);
        return EXIT_USAGE;
      }
    }
    let tls: TlsSource;
    try {
      tls = await tlsSource(parsed.values, log);
    } catch (error) {
      if (error instanceof UsageError) throw error;
      if (!(error instanceof CertificateFileError)) log.error({ err: error }, 'TLS setup failed');
      console.error(`celgate serve: TLS setup failed: ${(error as Error).message}`);
      return EXIT_USAGE;
    }
    const logFile = parsed.values['log-decisions'] as string | undefined;
    const decisions = logFile === undefined ? undefined : logFile === 'off' ? false : lineFile(logFile);
    const signal = waitForSignal();
    let kubernetes: KubernetesRuntime | undefined;
    if (kubeConfig) {
      const caFile = registration?.caFile ?? tls.caFile;
      if (registration && caFile === undefined) throw new UsageError('--register-webhooks needs --webhook-ca-bundle FILE (the CA of the serving certificate)');
      try {
        kubernetes = await startKubernetes(kubeConfig, log, registration && caFile !== undefined ? { ...registration, caFile } : undefined);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const unreadable = code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR';
        if (!unreadable && !(error as Error).message.startsWith('webhook registration:')) throw error;
        console.error(`celgate serve: ${unreadable ? `cannot read the webhook CA bundle ${caFile}: ` : ''}${(error as Error).message}`);
        return EXIT_USAGE;
      }
    }
    const cluster = kubernetes?.feed;
    const running: RunningFace[] = [];
    try {
      for (const face of FACES) {
        const started = await face.start({ args: parsed.values, tls, log, stopping: signal, ...(decisions !== undefined ? { decisions } : {}), ...(cluster ? { cluster } : {}) });
        running.push(started);
        console.log(started.describe);
      }
    } catch (error) {
      for (const face of running.reverse()) await face.close();
      await kubernetes?.stop();
      if (error instanceof UsageError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      console.error(`celgate serve: cannot start: ${code === 'EADDRINUSE' ? 'the port is already in use' : (error as Error).message}`);
      return EXIT_USAGE;
    }
    const received = await signal;
    log.info({ signal: received, deadlineMs: shutdownMs }, 'shutting down: not ready, finishing requests in flight');
    // The Lease is released while requests drain, so another replica takes over the leader's duties at once.
    await Promise.all([...running.map((face) => face.drain?.(shutdownMs)), kubernetes?.stepDown()]);
    for (const face of running.reverse()) await face.close();
    await kubernetes?.stop();
    if (decisions) await decisions.close();
    return EXIT_OK;
  },
};

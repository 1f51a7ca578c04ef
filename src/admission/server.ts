/**
 * The admission webhook: AdmissionReviews over HTTPS in, the engine's decision out.
 * POST /validate runs the validating policies, POST /mutate the mutating ones (and answers a
 * JSON Patch). The current policy set lives in one reference that `reload()` swaps whole.
 */
import type { Server as HttpsServer, ServerOptions as HttpsOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { pino, type Logger } from 'pino';
import { admit } from '../engine/admission/index.js';
import type { AdmissionDecision, AdmissionPhase, AdmissionRequest, Decider } from '../engine/admission/types.js';
import { formatIssue, type PolicyIssue } from '../policy/index.js';
import { AdmissionMetrics } from './metrics.js';
import { loadPolicySet, type AdmissionPolicySet, type PolicySources } from './policy-set.js';
import { ReviewError, readReview, responseFor } from './review.js';
import { watchPaths, type Watching } from '../policy/watch.js';

export const DEFAULT_BODY_LIMIT = 3 * 1024 * 1024;

export interface AdmissionServerOptions {
  /** TLS for the listener: at least cert and key (PEM). Add ca + requestCert to require client certificates. */
  readonly tls: HttpsOptions;
  /** Where policies (and params/namespaces) come from; `reload()` reads them again. */
  readonly sources?: PolicySources;
  /** Watch the sources and reload on change (debounced). Default false. */
  readonly watch?: boolean;
  readonly watchDebounceMs?: number;
  /** Largest request body accepted, in bytes (default 3 MiB, Kubernetes' own request limit). */
  readonly bodyLimit?: number;
  /** How long a request may take to arrive in full, in ms (default 10 s, the webhook timeout's default). */
  readonly requestTimeoutMs?: number;
  readonly logger?: Logger;
  /**
   * Load the sources when created (default true). False when the sources are not ready yet
   * (a cluster still listing): the server answers 503 on /readyz until `reload()` succeeds.
   */
  readonly loadOnCreate?: boolean;
  /**
   * Answers `authorizer` checks (with --kubernetes: SubjectAccessReviews). Without it every
   * check is denied, the engine's offline default.
   */
  readonly authorizer?: RoundsAuthorizer;
  /** Called after each set is swapped in (the leader then writes status and webhook registrations). */
  readonly onLoaded?: (set: AdmissionPolicySet) => void;
  /** Called once per decided review (the decision log `celgate replay` reads). */
  readonly onDecision?: (request: AdmissionRequest, decision: AdmissionDecision, phase: AdmissionPhase) => void;
}

/**
 * Answers CEL `authorizer` checks that need a remote call (src/k8s/authorizer.ts, SubjectAccessReviews):
 * runs `evaluate` with a decider, possibly several times (rounds), and resolves to the last result.
 */
export interface RoundsAuthorizer {
  evaluate<T>(evaluate: (decider: Decider) => T): Promise<T>;
}

export type ReloadResult = { readonly ok: true; readonly set: AdmissionPolicySet } | { readonly ok: false; readonly issues: readonly PolicyIssue[] };

/** The routes and the phase each runs. */
const ENDPOINTS: readonly { readonly path: string; readonly phase: AdmissionPhase; readonly patch: boolean }[] = [
  { path: '/validate', phase: 'validate', patch: false },
  { path: '/mutate', phase: 'mutate', patch: true },
];

export class AdmissionServer {
  readonly metrics = new AdmissionMetrics();
  readonly log: Logger;
  readonly #app: FastifyInstance<HttpsServer>;
  readonly #options: AdmissionServerOptions;
  #set: AdmissionPolicySet | undefined;
  #reloading: Promise<ReloadResult> | undefined;
  #reloadAgain = false;
  #watching: Watching | undefined;
  /** Tolerated problems already logged, so an unchanged broken object is not logged on every rebuild. */
  #loggedTolerated = new Set<string>();
  #draining = false;
  readonly #inFlight = new Set<object>();
  #idle: (() => void) | undefined;

  constructor(options: AdmissionServerOptions) {
    this.#options = options;
    this.log = options.logger ?? pino({ name: 'celgate-admission' });
    const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
    const requestTimeout = options.requestTimeoutMs ?? 10_000;
    this.#app = Fastify({
      // Node takes requestTimeout at construction (setting it later, as fastify does, has no effect),
      // and enforces it only when it checks its connections (every 30 s by default).
      https: { ...options.tls, requestTimeout, connectionsCheckingInterval: Math.min(1000, Math.max(100, requestTimeout / 2)) } as HttpsOptions,
      logger: false,
      bodyLimit,
      requestTimeout,
      connectionTimeout: 60_000,
      keepAliveTimeout: 30_000,
      forceCloseConnections: true,
      return503OnClosing: true,
    }) as unknown as FastifyInstance<HttpsServer>;
    this.#routes(bodyLimit);
  }

  /** The underlying https.Server (for rotating certificates with setSecureContext). */
  get server(): HttpsServer {
    return this.#app.server;
  }

  /** The policy set serving now, if one has loaded. */
  get current(): AdmissionPolicySet | undefined {
    return this.#set;
  }

  /** Serves `set` from now on (tests and benchmarks that compile their own). */
  use(set: AdmissionPolicySet): void {
    this.#set = set;
  }

  /**
   * Loads the sources again and swaps the set in if it loaded cleanly. A set with issues is
   * rejected, each issue is logged as file:line:col, and the previous set keeps serving.
   */
  reload(): Promise<ReloadResult> {
    if (this.#reloading) {
      // A change arrived while loading: load once more afterwards so the newest files win.
      this.#reloadAgain = true;
      return this.#reloading;
    }
    this.#reloading = this.#reloadOnce().finally(() => {
      this.#reloading = undefined;
      if (this.#reloadAgain) {
        this.#reloadAgain = false;
        void this.reload();
      }
    });
    return this.#reloading;
  }

  async #reloadOnce(): Promise<ReloadResult> {
    const sources = this.#options.sources;
    if (!sources) throw new Error('this admission server has no policy sources to reload from');
    let outcome;
    try {
      outcome = await loadPolicySet(sources);
    } catch (error) {
      outcome = { issues: [{ file: sources.policyPaths.join(','), line: 1, column: 1, message: `cannot load policies: ${(error as Error).message}` }] };
    }
    if (outcome.issues) {
      this.metrics.reloaded('rejected');
      for (const issue of outcome.issues) this.log.error({ issue }, formatIssue(issue));
      this.log.error(
        { issues: outcome.issues.length },
        this.#set ? 'policy set rejected; the previous set keeps serving' : 'policy set rejected; not ready until a set loads',
      );
      return { ok: false, issues: outcome.issues };
    }
    this.#set = outcome.set;
    this.metrics.reloaded('loaded');
    this.#logTolerated(outcome.set.tolerated ?? []);
    this.log.info({ resources: outcome.set.resourceCount, paths: sources.policyPaths, ...(sources.live ? { cluster: true } : {}) }, 'policy set loaded');
    try {
      this.#options.onLoaded?.(outcome.set);
    } catch (error) {
      this.log.error({ err: error }, 'a policy set listener failed');
    }
    return { ok: true, set: outcome.set };
  }

  /** Logs each problem in a live (cluster) object once, naming the object; the rest of the set serves. */
  #logTolerated(issues: readonly PolicyIssue[]): void {
    const now = new Set(issues.map((issue) => formatIssue(issue)));
    for (const line of now) {
      if (!this.#loggedTolerated.has(line)) this.log.error({ object: line.split(':').slice(0, 2).join(':') }, `${line} (this policy's failing expressions apply its failurePolicy; the others serve)`);
    }
    this.#loggedTolerated = now;
  }

  /** Whether the server is draining for shutdown (readiness false). */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Graceful shutdown, first half: /readyz answers 503 from now on (so Kubernetes takes this
   * replica out of the Service), reviews still arriving are answered with `Connection: close`,
   * and the promise resolves when no review is in flight or after `deadlineMs`, whichever is
   * first. Call close() afterwards.
   */
  async drain(deadlineMs: number): Promise<{ readonly unfinished: number }> {
    this.#draining = true;
    if (this.#inFlight.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadlineMs);
        this.#idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#idle = undefined;
    }
    return { unfinished: this.#inFlight.size };
  }

  /** Starts listening; resolves to the https URL (with the port actually bound). */
  async listen(port = 8443, host = '0.0.0.0'): Promise<string> {
    await this.#app.listen({ port, host });
    if (this.#options.watch && this.#options.sources) {
      const { policyPaths, dataPaths = [] } = this.#options.sources;
      this.#watching = watchPaths(
        [...policyPaths, ...dataPaths],
        () => void this.reload(),
        (path, error) => this.log.warn({ path, err: error }, 'cannot watch policy path; changes there need a restart'),
        this.#options.watchDebounceMs,
      );
    }
    const address = this.#app.server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `https://${shownHost}:${address.port}`;
  }

  async close(): Promise<void> {
    this.#watching?.close();
    await this.#app.close();
  }

  #routes(bodyLimit: number): void {
    const app = this.#app;
    // Our own JSON parser: Kubernetes objects may legitimately carry keys such as `constructor`
    // (a label name), which fastify's default parser rejects as prototype poisoning. JSON.parse
    // defines such keys as plain own properties, and the engine's value conversion keeps them data.
    // Only JSON is an AdmissionReview; any other content type is answered 415.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (_request, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch (error) {
        done(httpError(400, `the body is not valid JSON: ${(error as Error).message}`), undefined);
      }
    });

    // Requests in flight, for drain(). A request leaves the set once, whichever hook runs.
    const finished = (request: object): void => {
      if (this.#inFlight.delete(request) && this.#inFlight.size === 0) this.#idle?.();
    };
    app.addHook('onRequest', (request, reply, done) => {
      this.#inFlight.add(request);
      // While draining, every answer closes its connection: kube-apiserver keeps HTTP/1.1
      // connections alive and would go on sending reviews to this replica over them after the
      // Service has dropped it (kubernetes/kubernetes#127335); a closed one makes it dial anew.
      if (this.#draining) reply.header('connection', 'close');
      done();
    });
    app.addHook('onResponse', (request, _reply, done) => {
      finished(request);
      done();
    });
    app.addHook('onRequestAbort', (request, done) => {
      finished(request);
      done();
    });

    app.setErrorHandler((error: FastifyError, _request, reply) => {
      const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
      if (status === 413) this.metrics.rejected('invalid');
      if (status >= 500) this.log.error({ err: error }, 'admission request failed');
      const message = status === 413 ? `the request body is larger than the limit of ${bodyLimit} bytes` : error.message;
      return sendError(reply, status, message);
    });
    app.setNotFoundHandler((request, reply) => sendError(reply, 404, `no route ${request.method} ${request.url}; use POST /validate or POST /mutate`));

    for (const endpoint of ENDPOINTS) {
      app.post(endpoint.path, async (request, reply) => {
        const started = performance.now();
        let review;
        try {
          review = readReview(request.body);
        } catch (error) {
          if (!(error instanceof ReviewError)) throw error;
          this.metrics.rejected('invalid');
          return sendError(reply, 400, error.message);
        }
        const set = this.#set;
        if (!set) {
          this.metrics.rejected('unavailable');
          return sendError(reply, 503, 'no policy set is loaded yet');
        }
        let decision: AdmissionDecision;
        try {
          const request = review.request;
          const authorizer = this.#options.authorizer;
          // With a remote authorizer the evaluation may run in rounds (each round's missing checks are
          // fetched, then it runs again); only the last round's decision is answered and logged.
          decision = authorizer
            ? await authorizer.evaluate((decider) => admit(set.policies, request, { phase: endpoint.phase, cluster: set.cluster, decider }))
            : admit(set.policies, request, { phase: endpoint.phase, cluster: set.cluster });
        } catch (error) {
          // The engine applies failurePolicy to evaluation errors; reaching here is a bug. Answer 500
          // so kube-apiserver applies the webhook's own failurePolicy, and log the request it broke on.
          this.metrics.rejected('error');
          this.log.error({ err: error, uid: review.request.uid }, 'admission engine failed');
          return sendError(reply, 500, `the admission engine failed: ${(error as Error).message}`);
        }
        const body = responseFor(review, decision, endpoint.patch);
        this.metrics.decided(decision, endpoint.path, (performance.now() - started) / 1000);
        this.#options.onDecision?.(review.request, decision, endpoint.phase);
        return reply.send(body);
      });
    }

    app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));
    app.get('/readyz', (_request, reply) =>
      this.#draining ? sendError(reply, 503, 'shutting down') : this.#set ? reply.send({ status: 'ready', loadedAt: this.#set.loadedAt.toISOString() }) : sendError(reply, 503, 'no policy set is loaded yet'),
    );
    app.get('/metrics', async (_request, reply) => {
      const text = await this.metrics.registry.metrics();
      return reply.header('content-type', this.metrics.registry.contentType).send(text);
    });
  }
}

function httpError(statusCode: number, message: string): FastifyError {
  return Object.assign(new Error(message), { statusCode, code: 'CELGATE_BAD_REQUEST', name: 'BadRequest' }) as FastifyError;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  404: 'Not Found',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

function sendError(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).send({ code: status, error: STATUS_TEXT[status] ?? 'Error', message });
}

/** Builds the server and, when it has sources, loads them once (a failed first load leaves it not ready). */
export async function createAdmissionServer(options: AdmissionServerOptions): Promise<AdmissionServer> {
  const server = new AdmissionServer(options);
  if (options.sources && options.loadOnCreate !== false) await server.reload();
  return server;
}

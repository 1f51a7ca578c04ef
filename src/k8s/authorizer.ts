/**
 * The CEL `authorizer` backed by the API server: every `check()` becomes a
 * SubjectAccessReview (authorization.k8s.io/v1), answered from a short-lived cache.
 *
 * CEL evaluation is synchronous (src/cel/lib/authorizer-values.ts: a Decider returns its
 * decision when `check()` returns), and a SubjectAccessReview is an HTTP call. So a decision
 * that needs the API server runs in rounds (`evaluateWithSubjectAccessReviews`):
 *
 *   1. evaluate with a decider that answers from the cache and records every check it could
 *      not answer;
 *   2. if nothing was missing, that result is final;
 *   3. otherwise fetch the missing reviews (in parallel, each under `timeoutMs`) and evaluate
 *      again — the answers are now known, and a check that only runs because of one of them
 *      (`a.allowed() || b.check(...)`) is discovered in the next round.
 *
 * A round with a missing answer is always thrown away, so no policy ever sees a made-up
 * decision. Evaluation is pure (admit() only reads), so repeating it is safe. If checks are
 * still missing after `maxRounds`, the last round answers them with an errored decision that
 * says so, which the policy sees through `errored()` — as a failed authorizer call would be.
 * Failed reviews (timeout, network, 5xx) are errored decisions too (`errored()` true,
 * `allowed()` false): never a crash, and never cached beyond the request that saw them.
 */
import type { AuthorizationV1Api, V1SubjectAccessReview } from '@kubernetes/client-node';
import type { AuthorizationAttributes, AuthorizationDecision, Decider } from '../cel/lib/authorizer.js';

/** The one call used, as @kubernetes/client-node's AuthorizationV1Api declares it. */
export type SubjectAccessReviewApi = Pick<AuthorizationV1Api, 'createSubjectAccessReview'>;

export interface SubjectAccessReviewOptions {
  /** How long an answer is reused (default 10 s). Errors are not cached. */
  readonly ttlMs?: number;
  /** Bound on one review call (default 2 s: well inside the webhook's 5 s timeout). */
  readonly timeoutMs?: number;
  /** Most cached answers kept (oldest dropped first; default 10,000). */
  readonly maxEntries?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

export interface EvaluateOptions {
  /** Evaluations at most (default 4): each round can reveal checks that depend on the last. */
  readonly maxRounds?: number;
}

export interface SubjectAccessReviewAuthorizer {
  /**
   * Runs `evaluate` until every authorizer check it makes has an answer (see the module
   * comment). `evaluate` may run several times; only the last result is returned, so side
   * effects in it (coverage callbacks, logs) should be collected per call and kept from the last.
   */
  evaluate<T>(evaluate: (decider: Decider) => T, options?: EvaluateOptions): Promise<T>;
  /** Reviews made and cache hits so far (for metrics and tests). */
  stats(): { readonly reviews: number; readonly hits: number; readonly errors: number };
  clear(): void;
}

interface CacheEntry {
  readonly decision: AuthorizationDecision;
  readonly expires: number;
}

const DEFAULT_TTL_MS = 10_000;
const DEFAULT_TIMEOUT_MS = 2_000;
const DEFAULT_MAX_ENTRIES = 10_000;
const DEFAULT_MAX_ROUNDS = 4;

/** The cache key: every attribute the review sends, in a fixed order (groups and extra sorted: order carries no meaning). */
export function reviewKey(a: AuthorizationAttributes): string {
  const extra = Object.keys(a.extra)
    .sort()
    .map((k) => [k, [...(a.extra[k] ?? [])].sort()]);
  return JSON.stringify([
    a.user,
    a.uid,
    [...a.groups].sort(),
    extra,
    a.resourceRequest,
    a.verb,
    a.resourceRequest ? [a.apiGroup, a.apiVersion, a.resource, a.subresource, a.namespace, a.name, a.fieldSelector, a.labelSelector] : a.path,
  ]);
}

/** The SubjectAccessReview for one check (authorization.k8s.io/v1 field names). */
export function subjectAccessReviewFor(a: AuthorizationAttributes): V1SubjectAccessReview {
  const extra: Record<string, string[]> = {};
  for (const [key, values] of Object.entries(a.extra)) extra[key] = [...values];
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: a.user,
      ...(a.uid ? { uid: a.uid } : {}),
      groups: [...a.groups],
      extra,
      ...(a.resourceRequest
        ? {
            resourceAttributes: {
              namespace: a.namespace,
              verb: a.verb,
              group: a.apiGroup,
              version: a.apiVersion,
              resource: a.resource,
              subresource: a.subresource,
              name: a.name,
              // Kubernetes' authorizer library sends selectors as raw text (AuthorizeWithSelectors).
              ...(a.fieldSelector ? { fieldSelector: { rawSelector: a.fieldSelector } } : {}),
              ...(a.labelSelector ? { labelSelector: { rawSelector: a.labelSelector } } : {}),
            },
          }
        : { nonResourceAttributes: { path: a.path, verb: a.verb } }),
    },
  };
}

/**
 * The decision a review's status means, as kube-apiserver's webhook authorizer reads it:
 * `allowed` → allow, else `denied` → deny, else no opinion; `evaluationError` makes the
 * decision errored (the API server's SubjectAccessReview handler reports the authorizer's
 * error there, and the CEL library's `errored()` is true exactly when the authorizer erred).
 */
export function decisionFromReview(review: V1SubjectAccessReview | undefined): AuthorizationDecision {
  const status = review?.status;
  if (!status || typeof status.allowed !== 'boolean') {
    return { decision: 'noOpinion', error: 'SubjectAccessReview response has no status.allowed' };
  }
  const decision = status.allowed ? 'allow' : status.denied ? 'deny' : 'noOpinion';
  const reason = status.reason ?? '';
  return status.evaluationError ? { decision, reason, error: status.evaluationError } : { decision, reason };
}

function errorMessage(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'number' ? `SubjectAccessReview failed (HTTP ${code}): ${message}` : `SubjectAccessReview failed: ${message}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref?.();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function createSubjectAccessReviewDecider(api: SubjectAccessReviewApi, options: SubjectAccessReviewOptions = {}): SubjectAccessReviewAuthorizer {
  const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const now = options.now ?? Date.now;
  const cache = new Map<string, CacheEntry>();
  // One review in flight per key, shared by concurrent requests.
  const inFlight = new Map<string, Promise<AuthorizationDecision>>();
  const counters = { reviews: 0, hits: 0, errors: 0 };

  const cached = (key: string): AuthorizationDecision | undefined => {
    const entry = cache.get(key);
    if (!entry) return undefined;
    if (entry.expires <= now()) {
      cache.delete(key);
      return undefined;
    }
    return entry.decision;
  };

  const remember = (key: string, decision: AuthorizationDecision): void => {
    cache.delete(key);
    cache.set(key, { decision, expires: now() + ttlMs });
    while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
  };

  const review = (key: string, attributes: AuthorizationAttributes): Promise<AuthorizationDecision> => {
    const running = inFlight.get(key);
    if (running) return running;
    counters.reviews += 1;
    const call = (async (): Promise<AuthorizationDecision> => {
      try {
        const result = await withTimeout(api.createSubjectAccessReview({ body: subjectAccessReviewFor(attributes) }), timeoutMs);
        const decision = decisionFromReview(result);
        if (decision.error === undefined) remember(key, decision);
        else counters.errors += 1;
        return decision;
      } catch (error) {
        counters.errors += 1;
        return { decision: 'noOpinion', error: errorMessage(error) };
      } finally {
        inFlight.delete(key);
      }
    })();
    inFlight.set(key, call);
    return call;
  };

  return {
    async evaluate<T>(evaluate: (decider: Decider) => T, evaluateOptions: EvaluateOptions = {}): Promise<T> {
      const maxRounds = Math.max(1, evaluateOptions.maxRounds ?? DEFAULT_MAX_ROUNDS);
      // Answers fixed for this request: a cache entry expiring between rounds must not
      // change an answer an earlier round already depended on, nor loop forever.
      const answers = new Map<string, AuthorizationDecision>();
      for (let round = 1; ; round += 1) {
        const last = round === maxRounds;
        const missing = new Map<string, AuthorizationAttributes>();
        const decider: Decider = (attributes) => {
          const key = reviewKey(attributes);
          const known = answers.get(key) ?? cached(key);
          if (known) {
            counters.hits += 1;
            answers.set(key, known);
            return known;
          }
          if (!last) missing.set(key, attributes);
          return last
            ? { decision: 'noOpinion', error: `authorizer check not resolved: more than ${maxRounds} rounds of dependent SubjectAccessReviews` }
            : { decision: 'noOpinion', error: 'authorizer check pending (this evaluation is discarded)' };
        };
        const result = evaluate(decider);
        if (missing.size === 0) return result;
        const fetched = await Promise.all([...missing].map(async ([key, attributes]) => [key, await review(key, attributes)] as const));
        for (const [key, decision] of fetched) answers.set(key, decision);
      }
    },
    stats: () => ({ ...counters }),
    clear: () => cache.clear(),
  };
}

/**
 * What both ext_authz servers share: run the engine on one request under a time limit, fail
 * closed (or open, when configured) on an evaluation error, and record the decision in the
 * log and the metrics. Never throws.
 */
import { randomUUID } from 'node:crypto';
import { decideAccess, type AccessPolicies } from '../engine/access/index.js';
import type { AccessDecision, AccessRequest } from '../engine/access/types.js';
import { createDecisionLog, decidingRule, type DecisionLog } from '../telemetry/decision-log.js';
import { createAuthzMetrics, type AuthzMetrics } from '../telemetry/authz-metrics.js';
import type { AuthzServerCommonOptions } from './http-server.js';

export interface DeciderOptions {
  readonly policies: AccessPolicies;
  /** Allow when evaluation fails (default false: deny 403). */
  readonly failOpen?: boolean;
  /** Longest a decision may take (a JWKS fetch, say) before it counts as an evaluation error. */
  readonly decisionTimeoutMs?: number;
  /** Decision log; omit to log nothing. */
  readonly decisionLog?: DecisionLog;
  readonly metrics?: AuthzMetrics;
}

export const DEFAULT_DECISION_TIMEOUT_MS = 2000;

/** What every ext_authz listener builds from its options: its metrics, the decision log and the decider. */
export function deciderFor(face: 'http' | 'grpc', options: AuthzServerCommonOptions): { decider: AuthzDecider; metrics: AuthzMetrics; decisionLog: DecisionLog | undefined } {
  const metrics = createAuthzMetrics(face);
  const decisionLog = options.decisionLog === false ? undefined : createDecisionLog(options.decisionLog);
  const decider = new AuthzDecider({
    policies: options.policies,
    failOpen: options.failOpen,
    decisionTimeoutMs: options.decisionTimeoutMs,
    decisionLog,
    metrics,
  });
  return { decider, metrics, decisionLog };
}

export class AuthzDecider {
  #policies: AccessPolicies;
  readonly #failOpen: boolean;
  readonly #timeoutMs: number;
  readonly #log: DecisionLog | undefined;
  readonly #metrics: AuthzMetrics | undefined;

  constructor(options: DeciderOptions) {
    this.#policies = options.policies;
    this.#failOpen = options.failOpen ?? false;
    this.#timeoutMs = options.decisionTimeoutMs ?? DEFAULT_DECISION_TIMEOUT_MS;
    this.#log = options.decisionLog;
    this.#metrics = options.metrics;
  }

  /** Swaps the compiled policy set; decisions already running finish on the old one. */
  setPolicies(policies: AccessPolicies): void {
    this.#policies = policies;
  }

  /** Decides one request. `id` is the decision id the caller reports back (x-request-id or generated). */
  async decide(request: AccessRequest, id: string, face: 'http' | 'grpc'): Promise<AccessDecision> {
    const started = performance.now();
    let decision: AccessDecision;
    let error: string | undefined;
    try {
      const result = decideAccess(this.#policies, request, { failOpen: this.#failOpen });
      decision = result instanceof Promise ? await withTimeout(result, this.#timeoutMs) : result;
      if (decision.id !== id) decision = { ...decision, id };
    } catch (cause) {
      error = (cause as Error)?.message ?? String(cause);
      decision = failureDecision(id, this.#failOpen, error);
    }
    const latencyMs = performance.now() - started;
    const rule = decidingRule(decision);
    this.#metrics?.observe(decision.allowed, rule?.policy ?? 'none', latencyMs / 1000, !decision.allowed && decision.status === 401);
    this.#log?.write({ face, request, decision, latencyMs, error });
    return decision;
  }
}

/** The decision when the engine could not decide: deny 403 (fail closed) unless failOpen. */
export function failureDecision(id: string, failOpen: boolean, message: string): AccessDecision {
  return {
    id,
    allowed: failOpen,
    status: failOpen ? 200 : 403,
    reason: `evaluation error (${failOpen ? 'failing open' : 'failing closed'}): ${message}`,
    headers: {},
    headersToRemove: [],
    route: null,
    matched: [],
  };
}

/** A request id when the caller sent none. */
export function newDecisionId(): string {
  return randomUUID();
}

/**
 * The HTTP status sent for a denial: the policy's 4xx, else 403. A policy decision is never
 * answered with 5xx or a non-error code (only 200 allows in Envoy's http_service mode).
 */
export function denialStatus(status: number): number {
  return Number.isInteger(status) && status >= 400 && status <= 499 ? status : 403;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`decision took longer than ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

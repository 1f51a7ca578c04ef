/**
 * The shape every compiled access policy has, whatever its kind: where it applies, which
 * actions it can take, and a matcher per action. The combiner only talks to this.
 */
import type { CostMeter } from '../../cel/index.js';
import type { RequestView } from './attributes.js';
import type { Scope } from './scope.js';
import type { AccessAction, ExplainStep } from './types.js';

/** What a policy adds to an allowed request (AccessPolicy `response`). */
export interface AllowResponse {
  readonly addHeaders: Readonly<Record<string, string>>;
  readonly removeHeaders: readonly string[];
  readonly route: Readonly<Record<string, string>> | null;
}

/** What a policy sends back on a denial (AccessPolicy `denyResponse`). */
export interface DenyResponse {
  readonly status: number;
  readonly body?: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface PolicyMatch {
  /** The rule's index (Istio) or name (AccessPolicy). */
  readonly rule: string;
  readonly allowResponse?: AllowResponse;
  readonly denyResponse?: DenyResponse;
}

/** Coverage event: one condition evaluated (see decideAccess's onExpression). */
export interface AccessExpressionEvent {
  readonly policy: string;
  readonly field: string;
  readonly file: string;
  readonly line: number;
  readonly outcome: 'true' | 'false' | 'error';
}

/** Per-decision state the matchers share. */
export interface EvalContext {
  readonly meter: CostMeter;
  /** Steps, only when explaining. */
  readonly explain: ExplainStep[] | undefined;
  readonly onExpression: ((event: AccessExpressionEvent) => void) | undefined;
  /** Evaluation errors met so far (`policy: message`). */
  readonly errors: string[];
}

export interface CompiledPolicy {
  readonly kind: 'AuthorizationPolicy' | 'AccessPolicy';
  /** `namespace/name`. */
  readonly id: string;
  readonly scope: Scope;
  /** Actions this policy can take; an ALLOW here switches its workloads to deny-by-default. */
  readonly actions: ReadonlySet<AccessAction>;
  /** Sent when the request is denied because none of the ALLOW rules matched. */
  readonly defaultDenyResponse?: DenyResponse;
  /** The first rule for `action` that matches, or undefined. Never throws. */
  match(view: RequestView, action: AccessAction, ctx: EvalContext): PolicyMatch | undefined;
}

/**
 * The combining rule, identical for Istio AuthorizationPolicy and celgate AccessPolicy
 * (Istio docs, authorization-policy): CUSTOM first (recorded, not delegated), then any
 * matching DENY denies; AUDIT only marks; if no policy with ALLOW semantics applies to the
 * workload the request is allowed; otherwise some ALLOW must match, else deny.
 */
import type { RequestView } from './attributes.js';
import type { AllowResponse, CompiledPolicy, DenyResponse, EvalContext, PolicyMatch } from './policy.js';
import { inScope } from './scope.js';
import type { AccessAction, AccessDecision, MatchedRule } from './types.js';

export interface Extras {
  /** Headers request authentication adds upstream (outputPayloadToHeader, outputClaimToHeaders). */
  readonly addHeaders: Readonly<Record<string, string>>;
  /** Token headers to strip (forwardOriginalToken: false). */
  readonly removeHeaders: readonly string[];
  readonly failOpen: boolean;
}

/** A namespace's candidate policies, split by the actions they can take (built at load). */
export interface Candidates {
  readonly custom: readonly CompiledPolicy[];
  readonly deny: readonly CompiledPolicy[];
  readonly audit: readonly CompiledPolicy[];
  readonly allow: readonly CompiledPolicy[];
}

export function bucket(policies: readonly CompiledPolicy[]): Candidates {
  const by = (action: AccessAction) => policies.filter((p) => p.actions.has(action));
  return { custom: by('CUSTOM'), deny: by('DENY'), audit: by('AUDIT'), allow: by('ALLOW') };
}

function applies(p: CompiledPolicy, view: RequestView, ctx: EvalContext): boolean {
  if (inScope(p.scope, view)) return true;
  ctx.explain?.push({ policy: p.id, check: 'scope', outcome: 'skipped', detail: 'does not select this workload' });
  return false;
}

export function combine(candidates: Candidates, view: RequestView, ctx: EvalContext, extras: Extras): AccessDecision {
  const matched: MatchedRule[] = [];

  for (const p of candidates.custom) {
    const m = applies(p, view, ctx) ? p.match(view, 'CUSTOM', ctx) : undefined;
    if (m) matched.push({ policy: p.id, kind: p.kind, action: 'CUSTOM', rule: m.rule });
  }

  let denied: CompiledPolicy | undefined;
  let denial: PolicyMatch | undefined;
  for (const p of candidates.deny) {
    denial = applies(p, view, ctx) ? p.match(view, 'DENY', ctx) : undefined;
    if (denial) {
      matched.push({ policy: p.id, kind: p.kind, action: 'DENY', rule: denial.rule });
      denied = p;
      break;
    }
  }

  let audit = false;
  for (const p of candidates.audit) {
    const m = applies(p, view, ctx) ? p.match(view, 'AUDIT', ctx) : undefined;
    if (m) {
      matched.push({ policy: p.id, kind: p.kind, action: 'AUDIT', rule: m.rule });
      audit = true;
    }
  }

  const base: Base = { id: view.id, matched, audit, auth: view.auth, explain: ctx.explain };
  const errorDenial = (): AccessDecision | undefined =>
    ctx.errors.length > 0 && !extras.failOpen ? deny(base, `evaluation error (failing closed): ${ctx.errors[0]}`, undefined) : undefined;

  if (denied && denial) {
    return errorDenial() ?? deny(base, `denied by ${denied.kind} ${denied.id} rule ${denial.rule}`, denial.denyResponse);
  }

  let allowPolicies: CompiledPolicy[] | undefined;
  for (const p of candidates.allow) if (applies(p, view, ctx)) (allowPolicies ??= []).push(p);
  if (!allowPolicies) {
    return errorDenial() ?? allow(base, 'allowed: no ALLOW policy applies to the workload', undefined, extras);
  }
  for (const p of allowPolicies) {
    const m = p.match(view, 'ALLOW', ctx);
    if (m) {
      matched.push({ policy: p.id, kind: p.kind, action: 'ALLOW', rule: m.rule });
      return errorDenial() ?? allow(base, `allowed by ${p.kind} ${p.id} rule ${m.rule}`, m.allowResponse, extras);
    }
  }
  return (
    errorDenial() ??
    deny(base, `denied: no ALLOW rule matched (${allowPolicies.map((p) => p.id).join(', ')})`, firstDenyResponse(allowPolicies))
  );
}

type Base = Pick<AccessDecision, 'id' | 'matched'> & Partial<Pick<AccessDecision, 'audit' | 'auth' | 'explain'>>;

function allow(base: Base, reason: string, response: AllowResponse | undefined, extras: Extras): AccessDecision {
  const headers = response && Object.keys(response.addHeaders).length > 0 ? { ...extras.addHeaders, ...response.addHeaders } : extras.addHeaders;
  const headersToRemove = response && response.removeHeaders.length > 0 ? [...extras.removeHeaders, ...response.removeHeaders] : extras.removeHeaders;
  return {
    id: base.id,
    allowed: true,
    status: 200,
    reason,
    headers,
    headersToRemove,
    route: response?.route ?? null,
    matched: base.matched,
    audit: base.audit,
    auth: base.auth,
    explain: base.explain,
  };
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const NO_NAMES: readonly string[] = Object.freeze([]);

export function deny(base: Base, reason: string, response: DenyResponse | undefined, status = 403): AccessDecision {
  return {
    id: base.id,
    allowed: false,
    status: response?.status ?? status,
    reason,
    headers: response?.headers ?? NO_HEADERS,
    headersToRemove: NO_NAMES,
    body: response?.body,
    route: null,
    matched: base.matched,
    audit: base.audit,
    auth: base.auth,
    explain: base.explain,
  };
}

/** For a default denial, the denyResponse of the first AccessPolicy that declares one. */
function firstDenyResponse(policies: readonly CompiledPolicy[]): DenyResponse | undefined {
  for (const p of policies) {
    if (p.defaultDenyResponse) return p.defaultDenyResponse;
  }
  return undefined;
}

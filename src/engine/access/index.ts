/**
 * The access engine: Istio AuthorizationPolicy / RequestAuthentication / PeerAuthentication
 * and celgate AccessPolicy compiled once into an immutable set, and a decision per request.
 */
import { CostMeter, PER_EVALUATION_COST_BUDGET } from '../../cel/index.js';
import { RequestView } from './attributes.js';
import { combine, deny } from './combine.js';
import type { AccessPolicies } from './compile.js';
import { InvalidPathError } from './paths.js';
import { peerAuthenticationFor } from './peer-authn.js';
import type { AccessExpressionEvent, EvalContext } from './policy.js';
import { locateToken, verifyToken, type Verified } from './request-authn.js';
import { inScope } from './scope.js';
import type { AccessDecision, AccessRequest, ExplainStep } from './types.js';

export * from './types.js';
export { compileAccessPolicies, type AccessPolicies, type CompileOptions } from './compile.js';
export { normalizePath, splitPathAndQuery, InvalidPathError, PATH_NORMALIZATIONS, type PathNormalization } from './paths.js';
export { peerAuthenticationFor, type MtlsMode, type PeerAuthenticationResult, type CompiledPeerAuthentication } from './peer-authn.js';
export type { AccessExpressionEvent } from './policy.js';

export interface DecideOptions {
  /** Record an ExplainStep per policy, rule and check. */
  readonly explain?: boolean;
  /** An evaluation error does not deny by itself (default: fail closed, 403). */
  readonly failOpen?: boolean;
  /** Called for every CEL condition evaluated (coverage). */
  readonly onExpression?: (event: AccessExpressionEvent) => void;
}

/**
 * Decides one request. Synchronous unless a RequestAuthentication applies and the request
 * carries a token not verified before (jose verifies asynchronously, and may have to fetch
 * the issuer's keys), in which case a Promise.
 */
export function decideAccess(policies: AccessPolicies, request: AccessRequest, options: DecideOptions = {}): AccessDecision | Promise<AccessDecision> {
  const explain: ExplainStep[] | undefined = options.explain ? [] : undefined;
  let view: RequestView;
  try {
    view = new RequestView(request, { pathNormalization: policies.pathNormalization, xffNumTrustedHops: policies.xffNumTrustedHops });
  } catch (error) {
    const id = request.request?.id || request.request?.headers?.['x-request-id'] || '';
    const reason = error instanceof InvalidPathError ? error.message : `invalid request: ${(error as Error).message}`;
    return deny({ id, matched: [], ...(explain ? { explain } : {}) }, reason, undefined, 400);
  }
  const ctx: EvalContext = { meter: new CostMeter(PER_EVALUATION_COST_BUDGET), explain, onExpression: options.onExpression, errors: [] };
  const failOpen = options.failOpen ?? false;

  // PeerAuthentication STRICT: a plaintext request never reaches the policies.
  if (policies.peerAuthentications.length > 0 && request.destination?.gateway !== true) {
    const port = request.destination?.port;
    const peer = peerAuthenticationFor(policies.peerAuthentications, view.destinationNamespace, view.destinationLabels, port);
    if (peer.mode === 'STRICT' && !view.mtls) {
      explain?.push({ policy: peer.policy ?? '', check: 'mtls', outcome: 'not matched', detail: 'STRICT requires mutual TLS' });
      return deny({ id: view.id, matched: [], ...(explain ? { explain } : {}) }, `denied: PeerAuthentication ${peer.policy} requires mutual TLS (STRICT)`, undefined);
    }
  }

  const authentications = policies.requestAuthentications.filter((ra) => inScope(ra.scope, view));
  const noExtras = failOpen ? NO_EXTRAS_FAIL_OPEN : NO_EXTRAS;
  if (authentications.length === 0) return combine(policies.candidates(view), view, ctx, noExtras);
  const located = locateToken(view, authentications);
  if (located.kind === 'none') return combine(policies.candidates(view), view, ctx, noExtras);
  if (located.kind === 'invalid') return unauthenticated(view, located.reason, explain);
  const authenticated = (verified: Verified): AccessDecision => {
    view.auth = verified.auth;
    // Copies: the cached verification is shared by later decisions.
    return combine(policies.candidates(view), view, ctx, { addHeaders: { ...verified.addHeaders }, removeHeaders: [...verified.removeHeaders], failOpen });
  };
  // A token verified before (and not expired) is accepted without waiting.
  const cached = policies.jwks.cached(located.found);
  if (cached) return authenticated(cached);
  return verifyToken(located.found, policies.jwks).then((verified) => ('error' in verified ? unauthenticated(view, verified.error, explain) : authenticated(verified)));
}

const NO_EXTRAS = Object.freeze({ addHeaders: Object.freeze({}), removeHeaders: Object.freeze([]) as readonly string[], failOpen: false });
const NO_EXTRAS_FAIL_OPEN = Object.freeze({ ...NO_EXTRAS, failOpen: true });

function unauthenticated(view: RequestView, reason: string, explain: ExplainStep[] | undefined): AccessDecision {
  explain?.push({ policy: '', check: 'jwt', outcome: 'not matched', detail: reason });
  return deny(
    { id: view.id, matched: [], ...(explain ? { explain } : {}) },
    reason,
    { status: 401, body: reason, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } },
    401,
  );
}

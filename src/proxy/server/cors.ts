/**
 * Istio's VirtualService corsPolicy as Envoy's CORS filter applies it: a preflight (OPTIONS with
 * Origin and Access-Control-Request-Method) from an allowed origin is answered by the proxy; an
 * actual request from an allowed origin is forwarded and its response gets the allow headers.
 * A request from another origin passes through untouched (Istio unmatchedPreflights: FORWARD).
 */
import { parseDuration } from '../routing/index.js';
import { headerValue, type HeaderMap } from './headers.js';

interface StringMatch {
  readonly exact?: string;
  readonly prefix?: string;
  readonly regex?: string;
}

interface CorsPolicy {
  readonly allowOrigins?: readonly StringMatch[];
  /** Deprecated Istio field: exact origins. */
  readonly allowOrigin?: readonly string[];
  readonly allowMethods?: readonly string[];
  readonly allowHeaders?: readonly string[];
  readonly exposeHeaders?: readonly string[];
  readonly maxAge?: string;
  readonly allowCredentials?: boolean;
}

export type CorsOutcome =
  | { readonly kind: 'none' }
  | { readonly kind: 'preflight'; readonly headers: Record<string, string> }
  | { readonly kind: 'actual'; readonly headers: Record<string, string> };

const NONE: CorsOutcome = { kind: 'none' };
const regexes = new Map<string, RegExp>();

function originAllowed(policy: CorsPolicy, origin: string): boolean {
  if (policy.allowOrigin?.includes(origin) || policy.allowOrigin?.includes('*')) return true;
  for (const match of policy.allowOrigins ?? []) {
    if (match.exact !== undefined && match.exact === origin) return true;
    if (match.prefix !== undefined && origin.startsWith(match.prefix)) return true;
    if (match.regex !== undefined) {
      let regex = regexes.get(match.regex);
      if (!regex) regexes.set(match.regex, (regex = new RegExp(`^(?:${match.regex})$`)));
      if (regex.test(origin)) return true;
    }
  }
  return false;
}

export function applyCors(policy: unknown, method: string, headers: Readonly<HeaderMap>): CorsOutcome {
  if (!policy || typeof policy !== 'object') return NONE;
  const cors = policy as CorsPolicy;
  const origin = headerValue(headers, 'origin');
  if (!origin || !originAllowed(cors, origin)) return NONE;
  const out: Record<string, string> = { 'access-control-allow-origin': origin };
  if (cors.allowCredentials) out['access-control-allow-credentials'] = 'true';
  if (method === 'OPTIONS' && headerValue(headers, 'access-control-request-method') !== undefined) {
    if (cors.allowMethods?.length) out['access-control-allow-methods'] = cors.allowMethods.join(',');
    if (cors.allowHeaders?.length) out['access-control-allow-headers'] = cors.allowHeaders.join(',');
    const maxAgeMs = cors.maxAge ? parseDuration(cors.maxAge) : undefined;
    if (maxAgeMs !== undefined) out['access-control-max-age'] = String(Math.floor(maxAgeMs / 1000));
    return { kind: 'preflight', headers: out };
  }
  if (cors.exposeHeaders?.length) out['access-control-expose-headers'] = cors.exposeHeaders.join(',');
  return { kind: 'actual', headers: out };
}

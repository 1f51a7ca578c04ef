/**
 * Istio RequestAuthentication: find a JWT where the rules say it may be (default
 * `Authorization: Bearer` and the `access_token` query parameter), verify it with jose
 * against the issuer's keys (inline `jwks` or `jwksUri`, fetched with a timeout, cached and
 * refreshed), and turn it into request-principal facts. An invalid token is rejected (401);
 * no token means no request principal (Istio docs, request_authentication).
 */
import type { JSONWebKeySet, JWTPayload, JWTVerifyGetKey } from 'jose';
import type { PolicyIssue, PolicyResource } from '../../policy/index.js';
import { parseQuery, type RequestView } from './attributes.js';
import { issueAt, isRecord, stringList, type FieldPath } from './issue.js';
import { compileScope, type Scope } from './scope.js';
import type { AuthAttributes } from './types.js';

/**
 * jose is imported on the first verification, not with this module: a proxy or server whose
 * mesh has no RequestAuthentication never loads it (about 7 MB of resident memory).
 */
let joseModule: Promise<typeof import('jose')> | undefined;
const loadJose = (): Promise<typeof import('jose')> => (joseModule ??= import('jose'));

/** A key lookup whose jose key set is made, once, when a token first needs it. */
function lazyKeySet(make: (jose: typeof import('jose')) => JWTVerifyGetKey): JWTVerifyGetKey {
  let getKey: JWTVerifyGetKey | undefined;
  return async (header, token) => (getKey ??= make(await loadJose()))(header, token);
}

interface HeaderLocation {
  readonly name: string;
  readonly prefix: string;
}

interface JwtRule {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly keys: { readonly inline: JWTVerifyGetKey } | { readonly uri: string };
  readonly fromHeaders: readonly HeaderLocation[];
  readonly fromParams: readonly string[];
  readonly fromCookies: readonly string[];
  readonly outputPayloadToHeader: string | undefined;
  readonly forwardOriginalToken: boolean;
  readonly outputClaimToHeaders: readonly { readonly header: string; readonly claim: string }[];
  readonly spaceDelimitedClaims: readonly string[];
}

export interface CompiledRequestAuthentication {
  readonly id: string;
  readonly scope: Scope;
  readonly rules: readonly JwtRule[];
}

/** Claims Istio always splits on spaces (OAuth scopes and permissions). */
const ALWAYS_SPACE_DELIMITED = ['scope', 'permission'];

export function compileRequestAuthentication(resource: PolicyResource, issues: PolicyIssue[], rootNamespace: string): CompiledRequestAuthentication | undefined {
  const before = issues.length;
  const spec = isRecord(resource.value.spec) ? resource.value.spec : {};
  const scope = compileScope(resource, rootNamespace, issues);
  const rules: JwtRule[] = [];
  if (spec.jwtRules !== undefined && !Array.isArray(spec.jwtRules)) issueAt(resource, issues, ['spec', 'jwtRules'], 'jwtRules must be a list');
  else (spec.jwtRules ?? []).forEach((rule: unknown, i: number) => {
    const compiled = compileJwtRule(resource, issues, rule, ['spec', 'jwtRules', i]);
    if (compiled) rules.push(compiled);
  });
  if (issues.length > before) return undefined;
  // Load jose now, while policies load, so the first token does not wait for it.
  if (rules.length > 0) loadJose().catch(() => {});
  return { id: `${scope.namespace}/${resource.name}`, scope, rules };
}

function compileJwtRule(resource: PolicyResource, issues: PolicyIssue[], rule: unknown, path: FieldPath): JwtRule | undefined {
  if (!isRecord(rule)) {
    issueAt(resource, issues, path, 'a jwtRule must be a mapping');
    return undefined;
  }
  if (typeof rule.issuer !== 'string' || rule.issuer === '') {
    issueAt(resource, issues, [...path, 'issuer'], 'issuer must be set');
    return undefined;
  }
  let keys: JwtRule['keys'] | undefined;
  if (typeof rule.jwks === 'string' && rule.jwks !== '') {
    if (rule.jwksUri !== undefined) issueAt(resource, issues, [...path, 'jwksUri'], 'set only one of jwks or jwksUri');
    try {
      const set = JSON.parse(rule.jwks) as JSONWebKeySet;
      if (!Array.isArray(set.keys)) throw new Error('no "keys" list');
      // The shape createLocalJWKSet demands, checked here so the error shows at load time.
      if (!set.keys.every(isRecord)) throw new Error('every entry of "keys" must be a JSON object');
      keys = { inline: lazyKeySet((jose) => jose.createLocalJWKSet(set)) };
    } catch (error) {
      issueAt(resource, issues, [...path, 'jwks'], `jwks is not a JSON Web Key Set: ${(error as Error).message}`);
    }
  } else if (typeof rule.jwksUri === 'string' && rule.jwksUri !== '') {
    let url: URL | undefined;
    try {
      url = new URL(rule.jwksUri);
    } catch {
      /* reported below */
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) issueAt(resource, issues, [...path, 'jwksUri'], `jwksUri ${JSON.stringify(rule.jwksUri)} is not an http(s) URL`);
    else keys = { uri: url.href };
  } else {
    issueAt(resource, issues, path, 'celgate needs jwks or jwksUri: OpenID discovery from the issuer is not supported yet');
  }
  const fromHeaders: HeaderLocation[] = [];
  if (Array.isArray(rule.fromHeaders)) {
    rule.fromHeaders.forEach((h: unknown, i: number) => {
      if (!isRecord(h) || typeof h.name !== 'string' || h.name === '') issueAt(resource, issues, [...path, 'fromHeaders', i], 'fromHeaders entries need a name');
      else fromHeaders.push({ name: h.name.toLowerCase(), prefix: typeof h.prefix === 'string' ? h.prefix : '' });
    });
  }
  const fromParams = stringList(resource, issues, rule.fromParams, [...path, 'fromParams']);
  const fromCookies = stringList(resource, issues, rule.fromCookies, [...path, 'fromCookies']);
  const explicit = fromHeaders.length > 0 || fromParams.length > 0 || fromCookies.length > 0;
  const outputClaimToHeaders: { header: string; claim: string }[] = [];
  if (Array.isArray(rule.outputClaimToHeaders)) {
    rule.outputClaimToHeaders.forEach((o: unknown, i: number) => {
      if (!isRecord(o) || typeof o.header !== 'string' || typeof o.claim !== 'string' || !o.header || !o.claim) {
        issueAt(resource, issues, [...path, 'outputClaimToHeaders', i], 'outputClaimToHeaders entries need header and claim');
      } else outputClaimToHeaders.push({ header: o.header.toLowerCase(), claim: o.claim });
    });
  }
  if (!keys) return undefined;
  return {
    issuer: rule.issuer,
    audiences: stringList(resource, issues, rule.audiences, [...path, 'audiences']),
    keys,
    // Istio's defaults when no location is given: Authorization: Bearer, then ?access_token=.
    fromHeaders: explicit ? fromHeaders : [{ name: 'authorization', prefix: 'Bearer ' }],
    fromParams: explicit ? fromParams : ['access_token'],
    fromCookies,
    outputPayloadToHeader: typeof rule.outputPayloadToHeader === 'string' && rule.outputPayloadToHeader ? rule.outputPayloadToHeader.toLowerCase() : undefined,
    forwardOriginalToken: rule.forwardOriginalToken === true,
    outputClaimToHeaders,
    spaceDelimitedClaims: [...ALWAYS_SPACE_DELIMITED, ...stringList(resource, issues, rule.spaceDelimitedClaims, [...path, 'spaceDelimitedClaims'])],
  };
}

// ---- keys ----------------------------------------------------------------------------

const MAX_CACHED_TOKENS = 10_000;

interface CachedToken {
  readonly verified: Verified;
  /** Epoch ms after which the entry must be verified again. */
  readonly until: number;
}

/**
 * Remote key sets by URI, shared by every rule of one compiled policy set, and the tokens
 * already verified (as Envoy's jwt_cache_config does), so a token seen before is accepted
 * synchronously until it expires or the key cache period ends.
 */
export class JwksCache {
  readonly #sets = new Map<string, JWTVerifyGetKey>();
  readonly #tokens = new Map<JwtRule, Map<string, CachedToken>>();
  constructor(private readonly options: { readonly timeoutMs: number; readonly cacheMs: number }) {}

  /** A previous successful verification of this token by this rule, if still valid. */
  cached(found: FoundToken): Verified | undefined {
    const entry = this.#tokens.get(found.rule)?.get(found.token);
    if (!entry) return undefined;
    if (Date.now() < entry.until) return entry.verified;
    this.#tokens.get(found.rule)!.delete(found.token);
    return undefined;
  }

  remember(found: FoundToken, verified: Verified): void {
    const exp = verified.auth.claims.exp;
    const until = Math.min(typeof exp === 'number' ? exp * 1000 : Number.POSITIVE_INFINITY, Date.now() + this.options.cacheMs);
    let tokens = this.#tokens.get(found.rule);
    if (!tokens) this.#tokens.set(found.rule, (tokens = new Map()));
    if (tokens.size >= MAX_CACHED_TOKENS) tokens.delete(tokens.keys().next().value!);
    tokens.set(found.token, { verified, until });
  }

  remote(uri: string): JWTVerifyGetKey {
    let set = this.#sets.get(uri);
    if (!set) {
      // jose fetches lazily, refetches after cacheMaxAge and when a token names an unknown kid.
      set = lazyKeySet((jose) => jose.createRemoteJWKSet(new URL(uri), { timeoutDuration: this.options.timeoutMs, cacheMaxAge: this.options.cacheMs, cooldownDuration: 30_000 }));
      this.#sets.set(uri, set);
    }
    return set;
  }
}

// ---- per request ---------------------------------------------------------------------

export interface FoundToken {
  readonly token: string;
  readonly rule: JwtRule;
  /** The header it came from, for forwardOriginalToken: false. */
  readonly header: string | undefined;
}

export type Authentication =
  | { readonly kind: 'none' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'verify'; readonly found: FoundToken };

/** Finds the token the applicable rules would read; no I/O. */
export function locateToken(view: RequestView, authentications: readonly CompiledRequestAuthentication[]): Authentication {
  let query: Record<string, string> | undefined;
  let cookies: Record<string, string> | undefined;
  let foreign: string | undefined;
  for (const ra of authentications) {
    for (const rule of ra.rules) {
      const found = tokenFor(rule);
      if (!found) continue;
      let iss: unknown;
      try {
        iss = unverifiedIssuer(found.token);
      } catch {
        return { kind: 'invalid', reason: 'Jwt is not in the form of Header.Payload.Signature' };
      }
      if (iss === rule.issuer) return { kind: 'verify', found };
      foreign ??= typeof iss === 'string' ? iss : '(none)';
    }
  }
  return foreign === undefined ? { kind: 'none' } : { kind: 'invalid', reason: `Jwt issuer ${foreign} is not configured` };

  function tokenFor(rule: JwtRule): FoundToken | undefined {
    for (const h of rule.fromHeaders) {
      const value = view.header(h.name);
      if (value === undefined) continue;
      if (h.prefix === '') return { token: value.trim(), rule, header: h.name };
      if (value.length > h.prefix.length && value.slice(0, h.prefix.length).toLowerCase() === h.prefix.toLowerCase()) {
        return { token: value.slice(h.prefix.length).trim(), rule, header: h.name };
      }
    }
    if (rule.fromParams.length > 0 && view.query) {
      query ??= parseQuery(view.query);
      for (const p of rule.fromParams) if (Object.prototype.hasOwnProperty.call(query, p) && query[p]) return { token: query[p]!, rule, header: undefined };
    }
    if (rule.fromCookies.length > 0 && view.header('cookie')) {
      cookies ??= parseCookies(view.header('cookie')!);
      for (const c of rule.fromCookies) if (cookies[c]) return { token: cookies[c]!, rule, header: undefined };
    }
    return undefined;
  }
}

export interface Verified {
  readonly auth: AuthAttributes;
  readonly addHeaders: Record<string, string>;
  readonly removeHeaders: string[];
}

/** Verifies the located token; resolves to the facts or an error message (never rejects). */
export async function verifyToken(found: FoundToken, cache: JwksCache): Promise<Verified | { readonly error: string }> {
  const result = await verifyUncached(found, cache);
  if (!('error' in result)) cache.remember(found, result);
  return result;
}

async function verifyUncached(found: FoundToken, cache: JwksCache): Promise<Verified | { readonly error: string }> {
  const rule = found.rule;
  const keys = 'inline' in rule.keys ? rule.keys.inline : cache.remote(rule.keys.uri);
  let payload: JWTPayload;
  try {
    const { jwtVerify } = await loadJose();
    ({ payload } = await jwtVerify(found.token, keys, {
      issuer: rule.issuer,
      ...(rule.audiences.length > 0 ? { audience: [...rule.audiences] } : {}),
    }));
  } catch (error) {
    return { error: `Jwt verification fails: ${(error as Error).message}` };
  }
  const claims: Record<string, unknown> = { ...payload };
  for (const name of rule.spaceDelimitedClaims) {
    const v = claims[name];
    if (typeof v === 'string') claims[name] = v.split(' ').filter((s) => s !== '');
  }
  const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  const auth: AuthAttributes = {
    principal: `${payload.iss}/${payload.sub ?? ''}`,
    claims,
    audiences: aud,
    ...(typeof payload.azp === 'string' ? { presenter: payload.azp } : {}),
  };
  const addHeaders: Record<string, string> = {};
  if (rule.outputPayloadToHeader) addHeaders[rule.outputPayloadToHeader] = found.token.split('.')[1]!;
  for (const { header, claim } of rule.outputClaimToHeaders) {
    const v = payload[claim];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') addHeaders[header] = String(v);
  }
  const removeHeaders = !rule.forwardOriginalToken && found.header ? [found.header] : [];
  return { auth, addHeaders, removeHeaders };
}

function parseCookies(header: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name && !(name in out)) out[name] = part.slice(eq + 1).trim();
  }
  return out;
}

/**
 * The `iss` claim of a compact JWS, read without verifying it: it only picks the rule whose
 * keys then verify the token. The same checks as jose's decodeJwt (three parts, a base64url
 * payload holding a JSON object), kept here so finding a token never waits for jose to load.
 */
function unverifiedIssuer(token: string): unknown {
  const parts = token.split('.');
  if (parts.length !== 3 || !BASE64URL.test(parts[1]!)) throw new Error('not a compact JWS');
  const payload: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  if (!isRecord(payload)) throw new Error('the payload is not a JSON object');
  return payload.iss;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

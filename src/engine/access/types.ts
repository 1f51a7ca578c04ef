/**
 * The access engine's contract: attributes named after Envoy's AttributeContext, and the
 * decision every face (ext_authz HTTP and gRPC, the proxy, `celgate check`, the test runner)
 * turns back into its own wire format.
 */

export interface Peer {
  readonly address?: string;
  readonly port?: number;
  /** The peer's SPIFFE URI (`spiffe://td/ns/NS/sa/SA`) from a verified certificate. */
  readonly principal?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface Destination extends Peer {
  /** The namespace of the workload the request is for (`default` when absent). */
  readonly namespace?: string;
  /** The Kubernetes Service the request was addressed to, for `targetRefs` of kind Service. */
  readonly service?: string;
  /**
   * The request arrived at a gateway's listener, not a sidecar's: PeerAuthentication, which
   * governs connections to sidecars, does not apply (the Gateway's own TLS settings do).
   */
  readonly gateway?: boolean;
}

export interface RequestAttributes {
  readonly id?: string;
  /** RFC 3339 time; the engine fills in now when absent. */
  readonly time?: string;
  readonly method: string;
  /** Path with query, as received (normalised by the engine before matching). */
  readonly path: string;
  readonly host?: string;
  readonly scheme?: string;
  readonly protocol?: string;
  /** Lower-case keys. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface ConnectionAttributes {
  readonly mtls?: boolean;
  readonly requested_server_name?: string;
  readonly uri_san_peer_certificate?: string;
}

/** What a caller hands the engine for one request. */
export interface AccessRequest {
  readonly source?: Peer;
  readonly destination?: Destination;
  readonly request: RequestAttributes;
  readonly connection?: ConnectionAttributes;
  /** ext_authz context_extensions. */
  readonly context?: Readonly<Record<string, string>>;
}

/** Verified JWT facts (from RequestAuthentication); absent when no token was presented. */
export interface AuthAttributes {
  /** `iss/sub`. */
  readonly principal: string;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly audiences: readonly string[];
  readonly presenter?: string;
}

export type AccessAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

export interface MatchedRule {
  /** `namespace/name`. */
  readonly policy: string;
  readonly kind: 'AuthorizationPolicy' | 'AccessPolicy';
  readonly action: AccessAction;
  /** The rule's index or name within the policy. */
  readonly rule: string;
}

export interface ExplainStep {
  readonly policy: string;
  readonly rule?: string;
  /** What was tested (`from[0].source.principals`, `condition` ...) and how it came out. */
  readonly check: string;
  readonly outcome: 'matched' | 'not matched' | 'error' | 'skipped';
  readonly detail?: string;
}

export interface AccessDecision {
  readonly id: string;
  readonly allowed: boolean;
  /** HTTP status for a denial (403 default, 401 for an invalid JWT); 200 when allowed. */
  readonly status: number;
  /** Human reason: which policy/rule decided, or why nothing did. */
  readonly reason: string;
  /** Headers to add upstream on allow, or to send to the client on deny. */
  readonly headers: Readonly<Record<string, string>>;
  readonly headersToRemove: readonly string[];
  /** Deny body, when a policy set one. */
  readonly body?: string;
  /** Route hint from an allowing AccessPolicy (e.g. `{subset: 'v2'}`); null when none. */
  readonly route: Readonly<Record<string, string>> | null;
  readonly matched: readonly MatchedRule[];
  /** Filled only when explaining was asked for. */
  readonly explain?: readonly ExplainStep[];
  /** True when an AUDIT policy or rule matched (it never changes `allowed`). */
  readonly audit?: boolean;
  /** The verified JWT, when RequestAuthentication accepted one. */
  readonly auth?: AuthAttributes;
}

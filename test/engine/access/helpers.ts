/** Shared helpers: compile policies from YAML text and decide requests against them. */
import { formatIssue, parseDocuments, toResource, type PolicyIssue, type PolicyResource } from '../../../src/policy/index.js';
import { compileAccessPolicies, decideAccess, type AccessPolicies, type AccessRequest, type CompileOptions } from '../../../src/engine/access/index.js';

export function resourcesFrom(yaml: string, file = 'policy.yaml'): { resources: PolicyResource[]; issues: PolicyIssue[] } {
  const { documents, issues } = parseDocuments(file, yaml);
  const resources: PolicyResource[] = [];
  for (const d of documents) {
    const r = toResource(d, issues);
    if (r) resources.push(r);
  }
  return { resources, issues };
}

/** Compiles and fails the test when there is any issue. */
export function compile(yaml: string, options?: CompileOptions): AccessPolicies {
  const { resources, issues } = resourcesFrom(yaml);
  const policies = compileAccessPolicies(resources, issues, options);
  if (issues.length > 0) throw new Error(`unexpected issues:\n${issues.map(formatIssue).join('\n')}`);
  return policies;
}

/** The formatted issues compiling `yaml` produces. */
export function issuesOf(yaml: string, options?: CompileOptions): string[] {
  const { resources, issues } = resourcesFrom(yaml);
  compileAccessPolicies(resources, issues, options);
  return issues.map(formatIssue);
}

export const FOO_HTTPBIN = { namespace: 'foo', labels: { app: 'httpbin' } };

/** A request to httpbin in namespace foo, overridable piecewise. */
export function req(overrides: {
  method?: string;
  path?: string;
  host?: string;
  headers?: Record<string, string>;
  principal?: string;
  address?: string;
  destination?: AccessRequest['destination'];
  connection?: AccessRequest['connection'];
  context?: Record<string, string>;
} = {}): AccessRequest {
  return {
    source: { address: overrides.address ?? '10.0.0.7', port: 40000, ...(overrides.principal ? { principal: overrides.principal } : {}) },
    destination: overrides.destination ?? { ...FOO_HTTPBIN, address: '10.0.1.1', port: 8000 },
    request: {
      method: overrides.method ?? 'GET',
      path: overrides.path ?? '/',
      host: overrides.host ?? 'httpbin.foo.svc',
      headers: overrides.headers ?? {},
    },
    ...(overrides.connection ? { connection: overrides.connection } : {}),
    ...(overrides.context ? { context: overrides.context } : {}),
  };
}

/** Decides synchronously (no JWT involved); throws if the engine returned a Promise. */
export function decide(policies: AccessPolicies, request: AccessRequest, options?: Parameters<typeof decideAccess>[2]) {
  const d = decideAccess(policies, request, options);
  if (d instanceof Promise) throw new Error('expected a synchronous decision');
  return d;
}

export function allowed(policies: AccessPolicies, request: AccessRequest): boolean {
  return decide(policies, request).allowed;
}

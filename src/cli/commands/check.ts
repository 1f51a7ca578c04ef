/** `celgate check`: decide access requests offline, exactly as the ext_authz servers would. */
import { compileAccessPolicies, decideAccess } from '../../engine/access/index.js';
import type { AccessDecision, AccessRequest } from '../../engine/access/types.js';
import { formatIssue, loadResources, type PolicyIssue } from '../../policy/index.js';
import { readAccessRequests, RequestFileError } from '../../authz/request-file.js';
import { LineWriter } from '../io.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, parseCommandArgs, UsageError, type Command, helpRequested } from '../usage.js';

const HELP = `Usage: celgate check --policies PATH... --requests FILE [OPTIONS]

Decides each access request in FILE against the AccessPolicy and Istio
AuthorizationPolicy / RequestAuthentication resources under the policy paths,
with the same engine the ext_authz servers use, and prints every decision.

FILE (JSON or YAML) holds one request, a list, or 'requests: [...]'. A request:
  request:     {method, path, host, scheme, protocol, headers, body, id, time}
  source:      {address, port, principal, labels}
  destination: {address, port, principal, labels, namespace, service}
  connection:  {mtls, requested_server_name, uri_san_peer_certificate}
  context:     {key: value}   (ext_authz context extensions)

Options:
  -p, --policies PATH     policy file or directory (repeatable)
  -r, --requests FILE     the requests to decide
      --root-namespace NS Istio's root namespace (default istio-system)
  -o, --output FORMAT     text (default) or json
      --explain           show, per policy, which rule and condition matched or failed
  -h, --help              shows this help

Exit codes: 0 every request allowed, 1 any denied, 2 usage or load errors.`;

export const checkCommand: Command = {
  name: 'check',
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {
      policies: { type: 'string', short: 'p', multiple: true },
      requests: { type: 'string', short: 'r' },
      'root-namespace': { type: 'string' },
      output: { type: 'string', short: 'o' },
      explain: { type: 'boolean' },
    });
    if (helpRequested(values, HELP)) return EXIT_OK;
    const policyPaths = [...((values.policies as string[] | undefined) ?? []), ...positionals];
    if (policyPaths.length === 0) throw new UsageError('--policies PATH is required');
    const requestFile = values.requests as string | undefined;
    if (!requestFile) throw new UsageError('--requests FILE is required');
    const output = (values.output as string | undefined) ?? 'text';
    if (output !== 'text' && output !== 'json') throw new UsageError(`--output must be text or json, not '${output}'`);
    const explain = values.explain === true;
    const rootNamespace = values['root-namespace'] as string | undefined;

    const { resources, issues } = await loadResources(policyPaths);
    const problems: PolicyIssue[] = [...issues];
    const policies = compileAccessPolicies(resources, problems, rootNamespace ? { rootNamespace } : {});
    if (problems.length > 0) {
      for (const problem of problems) console.error(formatIssue(problem));
      console.error(`celgate check: ${problems.length} problem(s) loading policies`);
      return EXIT_USAGE;
    }
    let requests: AccessRequest[];
    try {
      requests = await readAccessRequests(requestFile);
    } catch (error) {
      if (error instanceof RequestFileError) {
        console.error(error.message);
        return EXIT_USAGE;
      }
      throw error;
    }

    const results: Array<{ label: string; request: AccessRequest; decision: AccessDecision }> = [];
    for (const [index, request] of requests.entries()) {
      const decision = await decideAccess(policies, request, { explain });
      // Rows are named by the request's own id, else by position (never by a random id).
      const label = request.request.id || request.request.headers?.['x-request-id'] || `#${index + 1}`;
      results.push({ label, request, decision });
    }

    const out = new LineWriter();
    if (output === 'json') {
      await out.line(JSON.stringify({ results: results.map(({ label, decision }) => jsonResult(label, decision, explain)) }));
    } else {
      for (const result of results) for (const line of textResult(result.label, result.request, result.decision, explain)) await out.line(line);
    }
    await out.flush();
    return results.every((r) => r.decision.allowed) ? EXIT_OK : EXIT_FAILED;
  },
};

function jsonResult(id: string, decision: AccessDecision, explain: boolean): object {
  return {
    id,
    allowed: decision.allowed,
    status: decision.status,
    headers: decision.headers,
    headersToRemove: decision.headersToRemove,
    route: decision.route,
    matched: decision.matched.map((m) => ({ policy: m.policy, kind: m.kind, action: m.action, rule: m.rule })),
    reason: decision.reason,
    ...(decision.body !== undefined ? { body: decision.body } : {}),
    ...(explain ? { explain: decision.explain ?? [] } : {}),
  };
}

function textResult(id: string, request: AccessRequest, decision: AccessDecision, explain: boolean): string[] {
  const verdict = decision.allowed ? 'ALLOW' : 'DENY ';
  const lines = [`${verdict} ${id} ${request.request.method} ${request.request.path} -> ${decision.status}: ${decision.reason}`];
  for (const [name, value] of Object.entries(decision.headers)) lines.push(`    header ${name}: ${value}`);
  if (decision.headersToRemove.length > 0) lines.push(`    remove headers: ${decision.headersToRemove.join(', ')}`);
  if (decision.route) lines.push(`    route: ${JSON.stringify(decision.route)}`);
  if (explain) {
    for (const step of decision.explain ?? []) {
      const rule = step.rule !== undefined ? ` rule ${step.rule}` : '';
      const detail = step.detail ? ` (${step.detail})` : '';
      lines.push(`    ${step.policy}${rule}: ${step.check} ${step.outcome}${detail}`);
    }
  }
  return lines;
}

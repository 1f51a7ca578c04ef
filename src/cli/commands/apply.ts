/** `celgate apply`: evaluate manifests against admission policies offline, as kube-apiserver would. */
import { loadPolicySet, limitWarnings, readReview, ReviewError, type AdmissionPolicySet } from '../../admission/index.js';
import { toJson } from '../../cel/index.js';
import { admit } from '../../engine/admission/index.js';
import { RequestShapeError, requestForObject } from '../../engine/admission/request.js';
import type { AdmissionDecision, AdmissionRequest, Operation, UserInfo } from '../../engine/admission/types.js';
import { formatIssue, readDocuments, type PolicyIssue, type SourceDocument } from '../../policy/index.js';
import { LineWriter } from '../io.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, parseCommandArgs, type Command, helpRequested } from '../usage.js';

const HELP = `Usage: celgate apply -f PATH... [--policies PATH...] [OPTIONS]

Evaluates every resource in the -f files against the admission policies (mutating, then
validating: ValidatingAdmissionPolicy, MutatingAdmissionPolicy and their bindings) as
kube-apiserver would, without a cluster. Files may hold several YAML documents or JSON;
a document of kind AdmissionReview is evaluated as that exact request.

Like kube-apiserver, apply first fills in the built-in defaults of Kubernetes kinds (v1,
apps/v1, batch/v1: a Deployment without replicas has replicas: 1, a Pod gets
restartPolicy: Always, securityContext: {}, its containers an imagePullPolicy, ...), so
policies see what they would see in the cluster. AdmissionReview documents are taken as
they are (the API server already defaulted them).

Options:
  -f, --filename PATH    resources to evaluate (files or directories; repeatable; - not supported)
  --policies PATH        policy files or directories (repeatable; default: policies)
  --params PATH          param objects referenced by bindings' paramRef (repeatable)
  --namespaces PATH      Namespace objects, for namespaceSelector and namespaceObject (repeatable)
  --operation OP         CREATE (default), UPDATE, DELETE or CONNECT
  --old PATH             the old objects for UPDATE (matched by kind, namespace and name)
  --user NAME            the requesting user (default: celgate)
  --group NAME           a group of the requesting user (repeatable)
  --no-defaults          evaluate the resources exactly as written, without Kubernetes defaults
  -o, --output FORMAT    text (default) or json
  -h, --help             shows this help

Exit codes: 0 every resource allowed, 1 any resource denied, 2 usage or load errors.`;

const OPERATIONS: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

interface ResourceId {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string | null;
  readonly name: string;
}

interface ApplyResult {
  readonly resource: ResourceId;
  readonly operation: Operation;
  readonly allowed: boolean;
  readonly status: { code: number; reason: string; message: string } | null;
  readonly warnings: string[];
  readonly auditAnnotations: Record<string, string>;
  readonly patch: unknown[] | null;
  readonly patchedObject: unknown;
  readonly evaluations: { policy: string; binding: string; result: string; message: string | null }[];
}

/** A resource to evaluate and where it came from (for error messages). */
interface Input {
  readonly request: AdmissionRequest;
  readonly origin: string;
}

export const applyCommand: Command = {
  name: 'apply',
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {
      filename: { type: 'string', short: 'f', multiple: true },
      policies: { type: 'string', multiple: true },
      params: { type: 'string', multiple: true },
      namespaces: { type: 'string', multiple: true },
      operation: { type: 'string' },
      old: { type: 'string', multiple: true },
      user: { type: 'string' },
      group: { type: 'string', multiple: true },
      'no-defaults': { type: 'boolean' },
      output: { type: 'string', short: 'o' },
    });
    if (helpRequested(values, HELP)) return EXIT_OK;
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'; resources are given with -f`);
    const files = (values.filename as string[] | undefined) ?? [];
    if (files.length === 0) throw new UsageError('no resources given: use -f PATH');
    const output = (values.output as string | undefined) ?? 'text';
    if (output !== 'text' && output !== 'json') throw new UsageError(`--output must be text or json, got '${output}'`);
    const operation = ((values.operation as string | undefined) ?? 'CREATE').toUpperCase() as Operation;
    if (!OPERATIONS.includes(operation)) throw new UsageError(`--operation must be one of ${OPERATIONS.join(', ')}`);
    const oldFiles = (values.old as string[] | undefined) ?? [];
    if (oldFiles.length > 0 && operation !== 'UPDATE') throw new UsageError('--old is only meaningful with --operation UPDATE');
    const groups = (values.group as string[] | undefined) ?? [];
    if (groups.length > 0 && values.user === undefined) throw new UsageError('--group needs --user');
    const userInfo = values.user === undefined ? undefined : authenticatedUser(values.user as string, groups);

    const issues: PolicyIssue[] = [];
    const loaded = await loadPolicySet({
      policyPaths: (values.policies as string[] | undefined) ?? ['policies'],
      dataPaths: [...((values.params as string[] | undefined) ?? []), ...((values.namespaces as string[] | undefined) ?? [])],
    });
    if (loaded.issues) issues.push(...loaded.issues);
    const defaults = values['no-defaults'] !== true;
    const inputs = await readInputs(files, oldFiles, { operation, userInfo, defaults }, issues);
    if (issues.length > 0 || !loaded.set) {
      for (const issue of issues) console.error(formatIssue(issue));
      console.error(`celgate apply: ${issues.length} problem${issues.length === 1 ? '' : 's'}; nothing was evaluated`);
      return EXIT_USAGE;
    }
    const results = inputs.map((input) => evaluate(loaded.set!, input.request, defaults));
    const out = new LineWriter();
    if (output === 'json') {
      const allowed = results.filter((r) => r.allowed).length;
      await out.line(JSON.stringify({ results, summary: { allowed, denied: results.length - allowed } }, null, 2));
    } else {
      await printText(out, results, Boolean(process.stdout.isTTY) && !process.env.NO_COLOR);
    }
    await out.flush();
    return results.every((r) => r.allowed) ? EXIT_OK : EXIT_FAILED;
  },
};

/** Kubernetes adds system:authenticated to every authenticated user (system:unauthenticated to anonymous). */
function authenticatedUser(username: string, groups: readonly string[]): UserInfo {
  const implied = username === 'system:anonymous' ? 'system:unauthenticated' : 'system:authenticated';
  return { username, groups: groups.includes(implied) ? [...groups] : [...groups, implied] };
}

function originOf(document: SourceDocument): string {
  const { line, column } = document.position;
  return `${document.file}:${line}:${column}`;
}

function issueAt(document: SourceDocument, message: string): PolicyIssue {
  const { line, column } = document.position;
  return { file: document.file, line, column, message };
}

/** Documents as plain JSON objects, with `*List` documents expanded into their items. */
function objectsOf(documents: readonly SourceDocument[], issues: PolicyIssue[]): { value: Record<string, unknown>; document: SourceDocument }[] {
  const objects: { value: Record<string, unknown>; document: SourceDocument }[] = [];
  for (const document of documents) {
    const value = toJson(document.value);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push(issueAt(document, 'expected a Kubernetes object (apiVersion, kind, metadata)'));
      continue;
    }
    const record = value as Record<string, unknown>;
    if (typeof record.kind === 'string' && record.kind.endsWith('List') && Array.isArray(record.items)) {
      for (const item of record.items) objects.push({ value: item as Record<string, unknown>, document });
    } else {
      objects.push({ value: record, document });
    }
  }
  return objects;
}

function identity(object: Record<string, unknown>): string {
  const metadata = (object.metadata ?? {}) as Record<string, unknown>;
  return `${String(object.kind)}/${String(metadata.namespace ?? '')}/${String(metadata.name ?? '')}`;
}

async function readInputs(
  files: readonly string[],
  oldFiles: readonly string[],
  options: { operation: Operation; userInfo: UserInfo | undefined; defaults: boolean },
  issues: PolicyIssue[],
): Promise<Input[]> {
  const read = await readDocuments(files);
  issues.push(...read.issues);
  const objects = objectsOf(read.documents, issues);
  if (read.documents.length === 0 && read.issues.length === 0) {
    issues.push({ file: files.join(','), line: 1, column: 1, message: 'no resources found (expected YAML or JSON documents)' });
  }

  const olds = new Map<string, Record<string, unknown>>();
  const oldList: Record<string, unknown>[] = [];
  if (oldFiles.length > 0) {
    const readOld = await readDocuments(oldFiles);
    issues.push(...readOld.issues);
    for (const { value } of objectsOf(readOld.documents, issues)) {
      olds.set(identity(value), value);
      oldList.push(value);
    }
  }

  const inputs: Input[] = [];
  for (const { value, document } of objects) {
    try {
      if (value.kind === 'AdmissionReview') {
        // The API server built this request from an object it had already defaulted: taken as is.
        inputs.push({ request: readReview(value).request, origin: originOf(document) });
        continue;
      }
      let oldObject: unknown;
      if (options.operation === 'UPDATE') {
        // One old object for one resource pairs up whatever its name; otherwise match by identity.
        oldObject = objects.length === 1 && oldList.length === 1 ? oldList[0] : olds.get(identity(value));
        if (oldObject === undefined) {
          issues.push(issueAt(document, `UPDATE needs the old object of ${identity(value)}: give it with --old PATH`));
          continue;
        }
      }
      const request = requestForObject(value, {
        operation: options.operation,
        oldObject,
        defaults: options.defaults,
        ...(options.userInfo ? { userInfo: options.userInfo } : {}),
      });
      inputs.push({ request, origin: originOf(document) });
    } catch (error) {
      if (!(error instanceof ReviewError) && !(error instanceof RequestShapeError)) throw error;
      issues.push(issueAt(document, error.message));
    }
  }
  return inputs;
}

function resourceOf(request: AdmissionRequest): ResourceId {
  const { group, version, kind } = request.kind;
  return {
    apiVersion: group === '' ? version : `${group}/${version}`,
    kind,
    namespace: request.namespace ?? null,
    name: request.name ?? '',
  };
}

function evaluate(set: AdmissionPolicySet, request: AdmissionRequest, kubernetesDefaults: boolean): ApplyResult {
  const decision: AdmissionDecision = admit(set.policies, request, { phase: 'both', cluster: set.cluster, kubernetesDefaults });
  return {
    resource: resourceOf(request),
    operation: request.operation,
    allowed: decision.allowed,
    status: decision.status ? { code: decision.status.code, reason: decision.status.reason, message: decision.status.message } : null,
    warnings: limitWarnings(decision.warnings),
    auditAnnotations: { ...decision.auditAnnotations },
    patch: decision.patch && decision.patch.length > 0 ? [...decision.patch] : null,
    patchedObject: decision.patch && decision.patch.length > 0 ? (decision.patchedObject ?? null) : null,
    evaluations: decision.evaluations.map((e) => ({ policy: e.policy, binding: e.binding, result: e.result, message: e.message ?? null })),
  };
}

const COLOURS = { red: '\u001b[31m', green: '\u001b[32m', yellow: '\u001b[33m', dim: '\u001b[2m', reset: '\u001b[0m' };

async function printText(out: LineWriter, results: readonly ApplyResult[], colour: boolean): Promise<void> {
  const paint = (code: keyof typeof COLOURS, text: string): string => (colour ? `${COLOURS[code]}${text}${COLOURS.reset}` : text);
  for (const result of results) {
    const { kind, namespace, name } = result.resource;
    const where = namespace ? `${namespace}/${name}` : name;
    const verdict = result.allowed ? paint('green', 'ALLOW') : paint('red', 'DENY ');
    await out.line(`${verdict} ${kind} ${where}${result.patch ? paint('dim', ` (mutated: ${result.patch.length} patch operations)`) : ''}`);
    if (!result.allowed && result.status) await out.line(`  ${result.status.reason}: ${result.status.message}`);
    for (const evaluation of result.evaluations) {
      if (evaluation.result === 'pass' || evaluation.result === 'skip') continue;
      const label = evaluation.result === 'deny' || evaluation.result === 'error' ? paint('red', evaluation.result) : paint('yellow', evaluation.result);
      await out.line(`  ${label} ${evaluation.policy} (binding ${evaluation.binding})${evaluation.message ? `: ${evaluation.message}` : ''}`);
    }
    for (const warning of result.warnings) await out.line(`  ${paint('yellow', 'warning')}: ${warning}`);
    for (const [key, value] of Object.entries(result.auditAnnotations)) await out.line(`  ${paint('dim', `audit ${key}=${value}`)}`);
  }
  const allowed = results.filter((r) => r.allowed).length;
  await out.line(`${results.length} resources: ${allowed} allowed, ${results.length - allowed} denied`);
}

/**
 * Runs the shipped policy library through the real admission engine: load the YAML, compile it
 * (zero issues expected), build the AdmissionRequest kube-apiserver would send, and admit it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { formatIssue, loadResources, type PolicyIssue } from '../../src/policy/index.js';
import { admit, clusterStateFrom, compileAdmissionPolicies } from '../../src/engine/admission/index.js';
import { requestForObject } from '../../src/engine/admission/request.js';
import type { AdmissionDecision, AdmissionPhase, Operation } from '../../src/engine/admission/types.js';

export type Policies = ReturnType<typeof compileAdmissionPolicies>;
export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const FIXTURES = 'test/policies/fixtures';

/** Namespaces the requests land in: `apps` (plain) and `exempt` (opted out of celgate's policies). */
export const NAMESPACES: readonly Json[] = [
  namespace('default'),
  namespace('apps'),
  namespace('exempt', { 'celgate.dev/exempt': 'true' }),
  namespace('celgate', { 'celgate.dev/exempt': 'true' }),
];

function namespace(name: string, labels: Record<string, string> = {}): Json {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } };
}

/** Loads and compiles policy files; `problems` lists every load or compile issue as file:line:col. */
export async function loadPolicies(paths: readonly string[]): Promise<{ policies: Policies; problems: string[] }> {
  const { resources, issues } = await loadResources(paths);
  const problems: PolicyIssue[] = [...issues];
  const policies = compileAdmissionPolicies(resources, problems);
  return { policies, problems: problems.map(formatIssue) };
}

/** Every YAML document of a file, as plain JSON (numbers, not bigints: what the API server sends). */
export function readYaml(path: string): Json[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]!.message}`);
    return doc.toJS() as Json;
  });
}

/** A fresh copy of the single object in a fixture file, for a test to change. */
export function fixture(name: string): Json {
  const docs = readYaml(join(FIXTURES, name));
  if (docs.length !== 1) throw new Error(`${name}: expected one document, found ${docs.length}`);
  return structuredClone(docs[0]!);
}

export interface ReviewOptions {
  readonly operation?: Operation;
  readonly phase?: AdmissionPhase;
  readonly oldObject?: unknown;
  /** A subresource request, e.g. `ephemeralcontainers` (what `kubectl debug` updates). */
  readonly subResource?: string;
  /** Objects the cluster holds besides NAMESPACES (param objects). */
  readonly cluster?: readonly unknown[];
}

export function review(policies: Policies, object: Json, options: ReviewOptions = {}): AdmissionDecision {
  const base = requestForObject(object, {
    operation: options.operation ?? 'CREATE',
    ...(options.oldObject !== undefined ? { oldObject: options.oldObject } : {}),
  });
  const request = options.subResource ? { ...base, subResource: options.subResource, requestSubResource: options.subResource } : base;
  return admit(policies, request, {
    phase: options.phase ?? 'validate',
    cluster: clusterStateFrom([...NAMESPACES, ...(options.cluster ?? [])]),
  });
}

/** The names of the policies that denied, sorted. */
export function deniedBy(decision: AdmissionDecision): string[] {
  return decision.evaluations.filter((e) => e.result === 'deny').map((e) => e.policy).sort();
}

/** Evaluations that neither passed, denied nor were skipped: a policy that errored is a bug. */
export function errors(decision: AdmissionDecision): string[] {
  return decision.evaluations.filter((e) => e.result === 'error').map((e) => `${e.policy}: ${e.message ?? ''}`);
}

/** The message of one policy's denial. */
export function denialMessage(decision: AdmissionDecision, policy: string): string {
  const evaluation = decision.evaluations.find((e) => e.policy === policy && e.result === 'deny');
  if (!evaluation) throw new Error(`${policy} did not deny; denied by: ${deniedBy(decision).join(', ') || 'nobody'}`);
  return evaluation.message ?? '';
}

/** Wraps a pod spec (and pod metadata) into each workload kind, the way controllers template pods. */
export function asWorkload(kind: string, pod: Json): Json {
  const template = { metadata: { labels: { app: 'demo', ...(pod.metadata?.labels ?? {}) }, ...(pod.metadata?.annotations ? { annotations: pod.metadata.annotations } : {}) }, spec: pod.spec };
  const metadata = { name: `demo-${kind.toLowerCase()}`, namespace: pod.metadata?.namespace ?? 'apps' };
  const selector = { matchLabels: { app: 'demo' } };
  switch (kind) {
    case 'Deployment':
    case 'ReplicaSet':
    case 'StatefulSet':
    case 'DaemonSet':
      return { apiVersion: 'apps/v1', kind, metadata, spec: { selector, template } };
    case 'Job':
      return { apiVersion: 'batch/v1', kind, metadata, spec: { template: { ...template, spec: { restartPolicy: 'Never', ...pod.spec } } } };
    case 'CronJob':
      return {
        apiVersion: 'batch/v1',
        kind,
        metadata,
        spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { ...template, spec: { restartPolicy: 'Never', ...pod.spec } } } } },
      };
    default:
      throw new Error(`no workload kind ${kind}`);
  }
}

export const WORKLOAD_KINDS = ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'] as const;

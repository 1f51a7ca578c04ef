/**
 * Decision replay: re-decide logged decisions with a new policy set and list those that
 * change. Also the shape of the decision log lines replay reads (docs/policy-test.md,
 * "Decision log lines"), with a helper the webhook uses to write them.
 */
import type { AccessDecision, AccessRequest } from '../engine/access/types.js';
import type { AdmissionDecision, AdmissionPhase, AdmissionRequest, ClusterState, EvaluationResult } from '../engine/admission/types.js';
import { decide, type CompiledSet, type Outcome } from './engines.js';
import { isMapping } from './fields.js';

/** What a decision log keeps of an admission decision: enough to tell whether a replay differs. */
export interface LoggedAdmissionDecision {
  readonly allowed: boolean;
  readonly status?: { readonly code: number; readonly reason: string; readonly message: string };
  readonly warnings: readonly string[];
  readonly evaluations: readonly { readonly policy: string; readonly binding: string; readonly result: EvaluationResult }[];
}

export interface AdmissionLogLine {
  readonly type: 'admission';
  readonly time: string;
  readonly phase: AdmissionPhase;
  readonly request: AdmissionRequest;
  readonly decision: LoggedAdmissionDecision;
}

export interface LoggedAccessDecision {
  readonly allowed: boolean;
  readonly status: number;
  readonly reason: string;
  readonly matched: readonly { readonly policy: string; readonly action: string; readonly rule: string }[];
}

export interface AccessLogLine {
  readonly type: 'access';
  readonly time: string;
  readonly request: AccessRequest;
  readonly decision: LoggedAccessDecision;
}

export type DecisionLogLine = AdmissionLogLine | AccessLogLine;

/** The decision log line for one admission decision (one JSON object; write it as one line). */
export function admissionLogLine(request: AdmissionRequest, decision: AdmissionDecision, phase: AdmissionPhase = 'both', time = new Date()): AdmissionLogLine {
  return {
    type: 'admission',
    time: time.toISOString(),
    phase,
    request,
    decision: {
      allowed: decision.allowed,
      ...(decision.status ? { status: { code: decision.status.code, reason: decision.status.reason, message: decision.status.message } } : {}),
      warnings: decision.warnings,
      evaluations: decision.evaluations.map((e) => ({ policy: e.policy, binding: e.binding, result: e.result })),
    },
  };
}

/** The decision log line for one access decision. */
export function accessLogLine(request: AccessRequest, decision: AccessDecision, time = new Date()): AccessLogLine {
  return {
    type: 'access',
    time: time.toISOString(),
    request,
    decision: {
      allowed: decision.allowed,
      status: decision.status,
      reason: decision.reason,
      matched: decision.matched.map((m) => ({ policy: m.policy, action: m.action, rule: m.rule })),
    },
  };
}

/** Reads one log line; an `attributes` key is accepted for `request` on access lines. */
export function parseLogLine(text: string): DecisionLogLine | { error: string } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { error: `not JSON: ${(error as Error).message}` };
  }
  if (!isMapping(data)) return { error: 'a decision log line is a JSON object' };
  const request = data.request ?? data.attributes;
  const decision = data.decision;
  if (!isMapping(request) || !isMapping(decision) || typeof decision.allowed !== 'boolean') {
    return { error: 'expected {"type", "request", "decision": {"allowed", ...}}' };
  }
  const type = data.type ?? (isMapping(request.kind) && 'operation' in request ? 'admission' : 'access');
  if (type === 'admission') {
    const phase = data.phase === 'mutate' || data.phase === 'validate' ? data.phase : 'both';
    return { type, time: String(data.time ?? ''), phase, request: request as unknown as AdmissionRequest, decision: decision as unknown as LoggedAdmissionDecision };
  }
  if (type === 'access') {
    if (!isMapping(request.request)) return { error: 'an access line needs request.request (method, path, ...)' };
    return { type, time: String(data.time ?? ''), request: request as unknown as AccessRequest, decision: decision as unknown as LoggedAccessDecision };
  }
  return { error: `unknown type '${String(type)}': admission or access` };
}

export interface ReplayChange {
  /** Line number in the log, from 1. */
  readonly line: number;
  readonly type: 'admission' | 'access';
  /** What the request was, e.g. `CREATE pods default/web` or `GET /api (spiffe://…)`. */
  readonly subject: string;
  readonly before: string;
  readonly after: string;
  /** The policies that decided, before or after: the change is listed under each. */
  readonly policies: readonly string[];
}

function admissionSummary(allowed: boolean, code: number | undefined, message: string | undefined): string {
  return allowed ? 'allowed' : `denied ${code ?? ''}${message ? `: ${message}` : ''}`.trim();
}

function deciders(evaluations: readonly { policy: string; result: string }[]): string[] {
  return evaluations.filter((e) => e.result === 'deny' || e.result === 'error').map((e) => e.policy);
}

/** Compares one logged decision with the one the policy set gives now; undefined when it is the same. */
export async function replayLine(line: DecisionLogLine, lineNumber: number, set: CompiledSet, cluster: ClusterState): Promise<ReplayChange | undefined> {
  const now: Outcome =
    line.type === 'admission'
      ? await decide(set, { face: 'admission', request: line.request }, cluster, undefined, line.phase)
      : await decide(set, { face: 'access', request: line.request }, cluster);
  if (line.type === 'admission' && now.face === 'admission') {
    const old = line.decision;
    const d = now.decision;
    if (old.allowed === d.allowed && (old.allowed || old.status?.code === d.status?.code)) return undefined;
    const r = line.request;
    return {
      line: lineNumber,
      type: 'admission',
      subject: `${r.operation} ${r.resource?.resource ?? r.kind?.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name ?? ''}`,
      before: admissionSummary(old.allowed, old.status?.code, old.status?.message),
      after: admissionSummary(d.allowed, d.status?.code, d.status?.message),
      policies: [...new Set([...deciders(old.evaluations ?? []), ...deciders(d.evaluations)])],
    };
  }
  if (line.type === 'access' && now.face === 'access') {
    const old = line.decision;
    const d = now.decision;
    if (old.allowed === d.allowed && old.status === d.status) return undefined;
    const q = line.request;
    const show = (allowed: boolean, status: number, reason: string): string => (allowed ? 'allowed' : `denied ${status}: ${reason}`);
    return {
      line: lineNumber,
      type: 'access',
      subject: `${q.request.method} ${q.request.host ?? ''}${q.request.path}${q.source?.principal ? ` from ${q.source.principal}` : ''}`,
      before: show(old.allowed, old.status, old.reason),
      after: show(d.allowed, d.status, d.reason),
      policies: [...new Set([...(old.matched ?? []).map((m) => m.policy), ...d.matched.map((m) => m.policy)])],
    };
  }
  return undefined;
}

/** Changes grouped by policy; a change with no deciding policy goes under `(no policy)`. */
export function groupByPolicy(changes: readonly ReplayChange[]): Map<string, ReplayChange[]> {
  const groups = new Map<string, ReplayChange[]>();
  for (const change of changes) {
    for (const policy of change.policies.length ? change.policies : ['(no policy)']) groups.set(policy, [...(groups.get(policy) ?? []), change]);
  }
  return new Map([...groups].sort(([a], [b]) => (a < b ? -1 : 1)));
}

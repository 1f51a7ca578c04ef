/**
 * Checking a decision against a case's expectation. Only the fields the case states are
 * checked, and each one that differs becomes a Mismatch with both sides printable.
 */
import { relative } from 'node:path';
import type { AdmissionDecision } from '../engine/admission/types.js';
import type { Outcome } from './engines.js';
import { isMapping } from './fields.js';
import type { Expectation } from './types.js';

export interface Mismatch {
  readonly field: string;
  readonly expected: string;
  readonly actual: string;
  /** Extra lines (a structural diff of patchedObject). */
  readonly detail?: readonly string[];
}

/** The facts of a decision that expectations talk about, in one shape for both faces. */
export interface Facts {
  readonly allowed: boolean;
  readonly code: number | undefined;
  readonly reason: string | undefined;
  readonly message: string | undefined;
  /** Which policy (and file:line) decided, for people reading a failure. */
  readonly decidedBy: string;
}

export function factsOf(outcome: Outcome): Facts {
  if (outcome.face === 'admission') {
    const d = outcome.decision;
    const deciders = d.evaluations.filter((e) => e.result === 'deny' || e.result === 'error');
    const decidedBy = deciders.length
      ? deciders.map((e) => `${e.policy} (${e.result}${e.source ? ` at ${relativeSource(e.source)}` : ''})`).join(', ')
      : `no policy denied (evaluated: ${evaluatedList(d.evaluations)})`;
    return { allowed: d.allowed, code: d.status?.code, reason: d.status?.reason, message: d.status?.message, decidedBy };
  }
  const d = outcome.decision;
  const decidedBy = d.matched.length ? d.matched.map((m) => `${m.policy} ${m.action} rule ${m.rule}`).join(', ') : d.reason;
  return { allowed: d.allowed, code: d.status, reason: undefined, message: d.reason, decidedBy };
}

function evaluatedList(evaluations: AdmissionDecision['evaluations']): string {
  const ran = evaluations.filter((e) => e.result !== 'skip');
  if (ran.length === 0) return 'none';
  const shown = ran.slice(0, 5).map((e) => `${e.policy} ${e.result}`);
  return ran.length > 5 ? `${shown.join(', ')} and ${ran.length - 5} more` : shown.join(', ');
}

/** `file:line` relative to the working directory when that is shorter. */
export function relativeSource(source: string): string {
  let shown = relativeCache.get(source);
  if (shown === undefined) {
    const rel = relative(process.cwd(), source);
    shown = rel.startsWith('..') ? source : rel;
    relativeCache.set(source, shown);
  }
  return shown;
}
const relativeCache = new Map<string, string>();

const show = (value: unknown): string => (value === undefined ? '(none)' : JSON.stringify(value));

export function check(expect: Expectation, outcome: Outcome): Mismatch[] {
  const facts = factsOf(outcome);
  const out: Mismatch[] = [];
  const differ = (field: string, expected: unknown, actual: unknown): void => {
    if (!semanticEqual(expected, actual)) out.push({ field, expected: show(expected), actual: show(actual) });
  };
  if (expect.allowed !== undefined) differ('allowed', expect.allowed, facts.allowed);
  if (expect.status?.code !== undefined) differ('status.code', expect.status.code, facts.code);
  if (expect.status?.reason !== undefined) differ('status.reason', expect.status.reason, facts.reason);
  if (expect.message !== undefined) differ('message', expect.message, facts.message);
  if (expect.messageContains !== undefined && !(facts.message ?? '').includes(expect.messageContains)) {
    out.push({ field: 'messageContains', expected: `contains ${show(expect.messageContains)}`, actual: show(facts.message) });
  }
  if (expect.messageMatches !== undefined && !expect.messageMatches.test(facts.message ?? '')) {
    out.push({ field: 'messageMatches', expected: `matches /${expect.messageMatches.source}/`, actual: show(facts.message) });
  }
  if (outcome.face === 'admission') {
    const d = outcome.decision;
    if (expect.warnings !== undefined) differ('warnings', expect.warnings, d.warnings);
    if (expect.auditAnnotations !== undefined) differ('auditAnnotations', expect.auditAnnotations, d.auditAnnotations);
    if (expect.patchedObject !== undefined) {
      // No patch means the object came through unchanged.
      const actual = d.patchedObject ?? null;
      if (!semanticEqual(expect.patchedObject, actual)) {
        out.push({
          field: 'patchedObject',
          expected: expect.patchedObject === null ? 'unchanged' : 'a changed object',
          actual: actual === null ? 'unchanged' : expect.patchedObject === null ? 'changed' : 'differs (- expected, + actual):',
          detail: expect.patchedObject === null || actual === null ? [] : diffLines(expect.patchedObject, actual),
        });
      }
    }
    for (const p of expect.policies ?? []) {
      // A policy that does not apply to the request leaves no evaluation: that is a skip.
      const found: string[] = d.evaluations.filter((e) => e.policy === p.name).map((e) => e.result);
      if (found.length === 0) found.push('skip');
      if (!found.includes(p.result)) {
        out.push({ field: `policies[${p.name}]`, expected: p.result, actual: found.join(', ') });
      }
    }
  } else {
    const d = outcome.decision;
    if (expect.headers !== undefined) {
      for (const [name, value] of Object.entries(expect.headers)) differ(`headers.${name}`, value, d.headers[name]);
    }
    if (expect.headersToRemove !== undefined) differ('headersToRemove', [...expect.headersToRemove].sort(), [...d.headersToRemove].sort());
    if (expect.route !== undefined) differ('route', expect.route, d.route);
    for (const p of expect.policies ?? []) {
      const found = d.matched.filter((m) => m.policy === p.name || m.policy.endsWith(`/${p.name}`)).map((m) => m.action);
      if (!found.some((a) => a.toLowerCase() === p.result.toLowerCase())) {
        out.push({ field: `policies[${p.name}]`, expected: p.result, actual: found.length ? found.join(', ') : 'not matched' });
      }
    }
  }
  return out;
}

/** Deep equality where key order does not matter and numbers compare by value (1 == 1.0). */
export function semanticEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'bigint' || typeof b === 'bigint') return typeof a !== 'object' && typeof b !== 'object' && Number(a) === Number(b);
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => semanticEqual(x, b[i]));
  if (isMapping(a) && isMapping(b)) {
    const keys = Object.keys(a).filter((k) => a[k] !== undefined);
    const other = Object.keys(b).filter((k) => b[k] !== undefined);
    return keys.length === other.length && keys.every((k) => semanticEqual(a[k], b[k]));
  }
  return false;
}

/** A path-by-path diff: `- spec.replicas: 3` / `+ spec.replicas: 5`. */
export function diffLines(expected: unknown, actual: unknown, path = '', out: string[] = []): string[] {
  if (semanticEqual(expected, actual)) return out;
  if (isMapping(expected) && isMapping(actual)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
    for (const key of keys) diffLines(expected[key], actual[key], path ? `${path}.${key}` : key, out);
    return out;
  }
  if (Array.isArray(expected) && Array.isArray(actual) && expected.length === actual.length) {
    expected.forEach((item, i) => diffLines(item, actual[i], `${path}[${i}]`, out));
    return out;
  }
  const name = path || '(root)';
  if (expected !== undefined) out.push(`- ${name}: ${JSON.stringify(expected)}`);
  if (actual !== undefined) out.push(`+ ${name}: ${JSON.stringify(actual)}`);
  return out;
}

/**
 * Finding PolicyTest suites, loading each distinct policy set once, and running the cases
 * in-process with the production engines.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocuments, recognizeKind, type PolicyIssue } from '../policy/index.js';
import type { ClusterState } from '../engine/admission/types.js';
import { check, factsOf, type Mismatch } from './compare.js';
import { clusterFor, compileSet, decide, loadPolicyFiles, type CompiledSet, type ExpressionListener, type Outcome } from './engines.js';
import { readSuite, type FileCache } from './format.js';
import { walkDataFiles } from './paths.js';
import type { TestCase, TestSuite } from './types.js';

export interface LoadedSuite {
  readonly suite: TestSuite;
  readonly set: CompiledSet;
  readonly cluster: ClusterState;
}

export interface LoadedRun {
  readonly suites: readonly LoadedSuite[];
  /** Load errors: any one of them means nothing runs (exit 2). */
  readonly issues: readonly PolicyIssue[];
  /** Every file read, for --watch. */
  readonly inputs: readonly string[];
}

export type CaseStatus = 'pass' | 'fail' | 'skip';

export interface CaseResult {
  readonly suite: TestSuite;
  readonly testCase: TestCase;
  readonly status: CaseStatus;
  readonly mismatches: readonly Mismatch[];
  /** An engine error (counts as a failure). */
  readonly error?: string;
  readonly decidedBy?: string;
  readonly durationMs: number;
}

export interface RunSummary {
  readonly results: readonly CaseResult[];
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly durationMs: number;
}

/** Finds every PolicyTest document under the paths (default `.`), skipping node_modules and dot-directories. */
export function discoverSuites(paths: readonly string[], issues: PolicyIssue[], cache: FileCache): TestSuite[] {
  const files: string[] = [];
  for (const path of paths) {
    let info;
    try {
      info = statSync(path);
    } catch {
      issues.push({ file: path, line: 1, column: 1, message: 'no such file or directory' });
      continue;
    }
    if (info.isDirectory()) walkDataFiles(path, files);
    else files.push(path);
  }
  const suites: TestSuite[] = [];
  for (const file of [...new Set(files)]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      issues.push({ file, line: 1, column: 1, message: `cannot read file: ${(error as Error).message}` });
      continue;
    }
    // Most YAML in a repository is not a test: skip it without parsing.
    if (!text.includes('PolicyTest')) continue;
    const parsed = parseDocuments(file, text);
    // A broken file is reported only when it looks like a test; unrelated YAML is not ours to judge.
    if (/kind:\s*["']?PolicyTest|"kind"\s*:\s*"PolicyTest"/.test(text)) issues.push(...parsed.issues);
    cache.set(resolve(file), { documents: parsed.documents });
    for (const document of parsed.documents) {
      const value = document.value as { apiVersion?: unknown; kind?: unknown } | null;
      if (typeof value !== 'object' || value === null || value.kind !== 'PolicyTest') continue;
      const recognition = recognizeKind(value.apiVersion, value.kind);
      if ('error' in recognition) {
        const { line, column } = document.positionOf(['apiVersion']);
        issues.push({ file, line, column, message: recognition.error, field: 'apiVersion' });
        continue;
      }
      const suite = readSuite(document, issues, cache);
      if (suite) suites.push(suite);
    }
  }
  return suites;
}

/** Discovers suites and compiles each distinct policy set once. */
export async function loadRun(paths: readonly string[]): Promise<LoadedRun> {
  const issues: PolicyIssue[] = [];
  const cache: FileCache = new Map();
  const suites = discoverSuites(paths.length > 0 ? paths : ['.'], issues, cache);
  if (suites.length === 0 && issues.length === 0) {
    issues.push({ file: paths.join(' ') || '.', line: 1, column: 1, message: 'no PolicyTest documents found (kind: PolicyTest, apiVersion: celgate.dev/v1alpha1)' });
  }
  const sets = new Map<string, CompiledSet>();
  const loaded: LoadedSuite[] = [];
  for (const suite of suites) {
    const key = suite.policyFiles.join('\0');
    let set = sets.get(key);
    if (!set) {
      const { resources, issues: policyIssues } = await loadPolicyFiles(suite.policyFiles);
      set = compileSet(resources, policyIssues);
      issues.push(...policyIssues);
      sets.set(key, set);
    }
    if (set.resources.length === 0) {
      issues.push({ file: suite.file, line: suite.line, column: 1, message: `suite '${suite.name}' names no admission or access policy (spec.policies)`, field: 'spec.policies' });
    }
    let cluster: ClusterState;
    try {
      cluster = clusterFor(suite.clusterObjects);
    } catch (error) {
      issues.push({ file: suite.file, line: suite.line, column: 1, message: `params/namespaces: ${(error as Error).message}` });
      continue;
    }
    loaded.push({ suite, set, cluster });
  }
  const inputs = [...new Set(suites.flatMap((s) => s.inputs))].sort();
  return { suites: loaded, issues: dedupe(issues), inputs };
}

function dedupe(issues: PolicyIssue[]): PolicyIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.file}:${i.line}:${i.column}:${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export interface RunOptions {
  readonly filter?: RegExp;
  readonly failFast?: boolean;
  readonly onExpression?: ExpressionListener;
  /** Called with each decision (coverage of access rules). */
  readonly onOutcome?: (outcome: Outcome) => void;
  /** Called after each case, e.g. to print it as it finishes. */
  readonly onResult?: (result: CaseResult) => void;
  /** Compiled sets to use instead of the loaded ones (mutation testing). */
  readonly setFor?: (suite: LoadedSuite) => CompiledSet;
}

/** The name a --filter is matched against: `suite › case`. */
export function caseTitle(suite: TestSuite, testCase: TestCase): string {
  return `${suite.name} › ${testCase.name}`;
}

export async function runSuites(loaded: readonly LoadedSuite[], options: RunOptions = {}): Promise<RunSummary> {
  const started = performance.now();
  const results: CaseResult[] = [];
  let failed = 0;
  outer: for (const entry of loaded) {
    const set = options.setFor ? options.setFor(entry) : entry.set;
    for (const testCase of entry.suite.cases) {
      if (options.filter && !options.filter.test(caseTitle(entry.suite, testCase))) continue;
      const result = await runCase(entry, set, testCase, options.onExpression, options.onOutcome);
      results.push(result);
      options.onResult?.(result);
      if (result.status === 'fail') {
        failed++;
        if (options.failFast) break outer;
      }
    }
  }
  const skipped = results.filter((r) => r.status === 'skip').length;
  return { results, passed: results.length - failed - skipped, failed, skipped, durationMs: performance.now() - started };
}

export async function runCase(
  entry: LoadedSuite,
  set: CompiledSet,
  testCase: TestCase,
  onExpression?: ExpressionListener,
  onOutcome?: (outcome: Outcome) => void,
): Promise<CaseResult> {
  const base = { suite: entry.suite, testCase };
  if (testCase.skip !== undefined) return { ...base, status: 'skip', mismatches: [], durationMs: 0 };
  const started = performance.now();
  try {
    const outcome = await decide(set, testCase.input, entry.cluster, onExpression);
    onOutcome?.(outcome);
    const mismatches = check(testCase.expect, outcome);
    const durationMs = performance.now() - started;
    return { ...base, status: mismatches.length ? 'fail' : 'pass', mismatches, decidedBy: factsOf(outcome).decidedBy, durationMs };
  } catch (error) {
    return { ...base, status: 'fail', mismatches: [], error: `engine error: ${(error as Error).message}`, durationMs: performance.now() - started };
  }
}

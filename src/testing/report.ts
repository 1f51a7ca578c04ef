/** Printing results: lines for people, JSON for programs, JUnit XML for CI reporters. */
import { relative } from 'node:path';
import { formatIssue, type PolicyIssue } from '../policy/index.js';
import type { CaseResult, RunSummary } from './runner.js';

export interface Style {
  readonly green: (s: string) => string;
  readonly red: (s: string) => string;
  readonly yellow: (s: string) => string;
  readonly dim: (s: string) => string;
}

const paint = (code: number) => (s: string) => `\u001b[${code}m${s}\u001b[0m`;
export const COLOURS: Style = { green: paint(32), red: paint(31), yellow: paint(33), dim: paint(2) };
export const PLAIN: Style = { green: (s) => s, red: (s) => s, yellow: (s) => s, dim: (s) => s };

export function styleFor(stream: NodeJS.WriteStream): Style {
  return stream.isTTY && !process.env.NO_COLOR ? COLOURS : PLAIN;
}

export function summaryLine(summary: Pick<RunSummary, 'passed' | 'failed' | 'skipped'>): string {
  return `${summary.passed} passed, ${summary.failed} failed${summary.skipped ? `, ${summary.skipped} skipped` : ''}`;
}

/** One line per case; a failure adds expected and actual side by side and who decided. */
export function caseLines(result: CaseResult, style: Style): string[] {
  const title = `${result.suite.name} › ${result.testCase.name}`;
  if (result.status === 'pass') return [`${style.green('PASS')}  ${title}`];
  if (result.status === 'skip') return [`${style.yellow('SKIP')}  ${title}  ${style.dim(`(${result.testCase.skip})`)}`];
  const lines = [`${style.red('FAIL')}  ${title}  ${style.dim(shortLocation(result.testCase.location))}`];
  if (result.error) lines.push(`      ${result.error}`);
  if (result.mismatches.length > 0) {
    const rows = [['', 'expected', 'actual'], ...result.mismatches.map((m) => [m.field, m.expected, m.actual])];
    const widths = [0, 1].map((c) => Math.min(60, Math.max(...rows.map((r) => r[c]!.length))));
    rows.forEach((row, i) => {
      const text = `      ${row[0]!.padEnd(widths[0]!)}  ${row[1]!.padEnd(widths[1]!)}  ${row[2]}`;
      lines.push(i === 0 ? style.dim(text) : text);
    });
    for (const m of result.mismatches) for (const d of m.detail ?? []) lines.push(`        ${d.startsWith('-') ? style.green(d) : style.red(d)}`);
  }
  if (result.decidedBy) lines.push(`      decided by: ${result.decidedBy}`);
  return lines;
}

function shortLocation(location: string): string {
  const rel = relative(process.cwd(), location);
  return rel.startsWith('..') ? location : rel;
}

export function issuesText(issues: readonly PolicyIssue[]): string[] {
  return [...issues.map(formatIssue), `${issues.length} load error${issues.length === 1 ? '' : 's'}: no test ran`];
}

export function resultJson(result: CaseResult): Record<string, unknown> {
  return {
    suite: result.suite.name,
    file: result.suite.file,
    line: result.testCase.line,
    name: result.testCase.name,
    status: result.status,
    durationMs: Math.round(result.durationMs * 1000) / 1000,
    ...(result.decidedBy ? { decidedBy: result.decidedBy } : {}),
    ...(result.error ? { error: result.error } : {}),
    ...(result.testCase.skip ? { skipReason: result.testCase.skip } : {}),
    mismatches: result.mismatches,
  };
}

export function summaryJson(summary: RunSummary, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    passed: summary.passed,
    failed: summary.failed,
    skipped: summary.skipped,
    durationMs: Math.round(summary.durationMs),
    cases: summary.results.map(resultJson),
    ...extra,
  };
}

const xml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
const seconds = (ms: number): string => (ms / 1000).toFixed(3);

/** JUnit XML as GitLab's and GitHub's test reporters read it: one testsuite per PolicyTest. */
export function junitXml(summary: RunSummary): string {
  const bySuite = new Map<string, CaseResult[]>();
  for (const r of summary.results) {
    const key = `${r.suite.file}\0${r.suite.name}`;
    bySuite.set(key, [...(bySuite.get(key) ?? []), r]);
  }
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="celgate test" tests="${summary.results.length}" failures="${summary.failed}" errors="0" skipped="${summary.skipped}" time="${seconds(summary.durationMs)}">`,
  ];
  for (const results of bySuite.values()) {
    const suite = results[0]!.suite;
    const failures = results.filter((r) => r.status === 'fail').length;
    const skipped = results.filter((r) => r.status === 'skip').length;
    const time = results.reduce((t, r) => t + r.durationMs, 0);
    out.push(`  <testsuite name="${xml(suite.name)}" tests="${results.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds(time)}" file="${xml(shortLocation(suite.file))}">`);
    for (const r of results) {
      const attrs = `name="${xml(r.testCase.name)}" classname="${xml(suite.name)}" file="${xml(shortLocation(suite.file))}" line="${r.testCase.line}" time="${seconds(r.durationMs)}"`;
      if (r.status === 'pass') out.push(`    <testcase ${attrs}/>`);
      else if (r.status === 'skip') out.push(`    <testcase ${attrs}>`, `      <skipped message="${xml(r.testCase.skip ?? '')}"/>`, '    </testcase>');
      else {
        const first = r.error ?? (r.mismatches[0] ? `${r.mismatches[0].field}: expected ${r.mismatches[0].expected}, got ${r.mismatches[0].actual}` : 'failed');
        const body = caseLines(r, { green: (s) => s, red: (s) => s, yellow: (s) => s, dim: (s) => s }).join('\n');
        out.push(`    <testcase ${attrs}>`, `      <failure message="${xml(first)}" type="PolicyTestFailure">${xml(body)}</failure>`, '    </testcase>');
      }
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}

/** Load errors as JUnit, so a CI job that only reads the XML still sees why nothing ran. */
export function junitLoadErrors(issues: readonly PolicyIssue[]): string {
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="celgate test" tests="${issues.length}" failures="0" errors="${issues.length}" skipped="0" time="0">`,
    `  <testsuite name="load" tests="${issues.length}" failures="0" errors="${issues.length}" skipped="0" time="0">`,
  ];
  for (const issue of issues) {
    out.push(
      `    <testcase name="${xml(`${issue.file}:${issue.line}`)}" classname="load" file="${xml(issue.file)}" line="${issue.line}" time="0">`,
      `      <error message="${xml(issue.message)}" type="LoadError">${xml(formatIssue(issue))}</error>`,
      '    </testcase>',
    );
  }
  out.push('  </testsuite>', '</testsuites>', '');
  return out.join('\n');
}

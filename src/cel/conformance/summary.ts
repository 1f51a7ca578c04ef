/** Totals and the pass-rate bar over conformance results. */
import { BAR_FILES, type FileResult } from './runner.js';

export interface Totals {
  readonly pass: number;
  readonly fail: number;
  readonly skip: number;
  /** Passing share of the runnable (not skipped) cases, in percent; 100 when none ran. */
  readonly passRate: number;
}

export function totalsOf(results: readonly FileResult[]): Totals {
  const pass = sum(results, (r) => r.pass);
  const fail = sum(results, (r) => r.fail);
  const skip = sum(results, (r) => r.skip);
  return { pass, fail, skip, passRate: pass + fail === 0 ? 100 : (100 * pass) / (pass + fail) };
}

/** The results of the bar files only. */
export function barResults(results: readonly FileResult[]): FileResult[] {
  return results.filter((r) => BAR_FILES.includes(r.file));
}

function sum(results: readonly FileResult[], pick: (r: FileResult) => number): number {
  return results.reduce((n, r) => n + pick(r), 0);
}

/** A fixed-width table: file, pass, fail, skip, and a total line. */
export function formatTable(results: readonly FileResult[], title: string): string {
  const width = Math.max(5, ...results.map((r) => r.file.length));
  const row = (name: string, p: number | string, f: number | string, s: number | string): string =>
    `${name.padEnd(width)}  ${String(p).padStart(5)}  ${String(f).padStart(5)}  ${String(s).padStart(5)}`;
  const totals = totalsOf(results);
  return [
    title,
    row('file', 'pass', 'fail', 'skip'),
    ...results.map((r) => row(r.file, r.pass, r.fail, r.skip)),
    row('total', totals.pass, totals.fail, totals.skip),
    `pass rate of runnable cases: ${totals.passRate.toFixed(1)}%`,
  ].join('\n');
}

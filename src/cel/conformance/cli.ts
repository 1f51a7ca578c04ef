/**
 * `npm run conformance`: runs the CEL specification's conformance files and prints
 * pass/fail/skip per file.
 *
 *   --verbose           list each failing case with the reason (and skipped ones with -vv)
 *   --file NAME         run only this file (repeatable); implies --verbose
 *   --min-pass-rate N   exit 1 when the bar files pass fewer than N% of their runnable cases
 *
 * Files are read from $CEL_SPEC_DIR (default ../shared/cel-spec/testdata, relative to the
 * working directory). Exit code 0, or 1 for a missed --min-pass-rate, or 2 when the
 * runner itself cannot run (missing directory, unreadable file, bad arguments).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { BAR_FILES, listConformanceFiles, runConformanceFile, type FileResult } from './runner.js';
import { barResults, formatTable, totalsOf } from './summary.js';

interface Options {
  readonly dir: string;
  readonly files: readonly string[];
  readonly verbosity: number;
  readonly minPassRate?: number;
}

class UsageError extends Error {}

function parseArguments(argv: readonly string[]): Options {
  const files: string[] = [];
  let verbosity = 0;
  let minPassRate: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--verbose' || arg === '-v') verbosity = Math.max(verbosity, 1);
    else if (arg === '-vv') verbosity = 2;
    else if (arg === '--file') files.push(valueAfter(argv, i++, arg).replace(/\.textproto$/, ''));
    else if (arg === '--min-pass-rate') minPassRate = percentage(valueAfter(argv, i++, arg));
    else throw new UsageError(`unknown argument ${arg}`);
  }
  const dir = resolve(process.env.CEL_SPEC_DIR ?? '../shared/cel-spec/testdata');
  if (files.length > 0) verbosity = Math.max(verbosity, 1);
  return { dir, files, verbosity, ...(minPassRate === undefined ? {} : { minPassRate }) };
}

function valueAfter(argv: readonly string[], i: number, flag: string): string {
  const value = argv[i + 1];
  if (value === undefined) throw new UsageError(`${flag} needs a value`);
  return value;
}

function percentage(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new UsageError(`--min-pass-rate takes a percentage 0-100, got ${text}`);
  return n;
}

function details(result: FileResult, verbosity: number): string[] {
  const shown = result.cases.filter((c) => c.status === 'fail' || (verbosity > 1 && c.status === 'skip'));
  if (shown.length === 0) return [];
  return [
    `\n${result.file}:`,
    ...shown.map((c) => `  ${c.status.toUpperCase()} ${c.name}: ${c.reason ?? ''}\n       expr: ${c.expr}`),
  ];
}

function main(argv: readonly string[]): number {
  const options = parseArguments(argv);
  if (!existsSync(options.dir)) {
    throw new UsageError(`conformance data not found at ${options.dir} (set CEL_SPEC_DIR to the cel-spec testdata directory)`);
  }
  const available = listConformanceFiles(options.dir);
  const missing = options.files.filter((f) => !available.includes(f));
  if (missing.length > 0) throw new UsageError(`no such conformance file: ${missing.join(', ')}`);
  const files = options.files.length > 0 ? options.files : available;
  const results = files.map((file) => runConformanceFile(options.dir, file));

  const lines: string[] = [`CEL conformance data: ${options.dir}`, ''];
  const bar = barResults(results);
  const others = results.filter((r) => !BAR_FILES.includes(r.file));
  if (bar.length > 0) lines.push(formatTable(bar, 'Bar files'), '');
  if (others.length > 0) lines.push(formatTable(others, 'Other files (not counted towards the bar)'), '');
  if (options.verbosity > 0) for (const r of results) lines.push(...details(r, options.verbosity));
  console.log(lines.join('\n'));

  if (options.minPassRate === undefined) return 0;
  const rate = totalsOf(bar).passRate;
  if (rate >= options.minPassRate) return 0;
  console.error(`bar files pass ${rate.toFixed(1)}% of runnable cases, below the required ${options.minPassRate}%`);
  return 1;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  console.error(`conformance: ${(error as Error).message}`);
  process.exitCode = 2;
}

/** `celgate test`: runs PolicyTest suites with the production engines (the policy test runner for CI). */
import { watch, writeFileSync, type FSWatcher } from 'node:fs';
import { Coverage } from '../../testing/coverage.js';
import { mutationCheck, mutationText, type MutationReport } from '../../testing/mutate.js';
import { caseLines, issuesText, junitLoadErrors, junitXml, styleFor, summaryJson, summaryLine } from '../../testing/report.js';
import { loadRun, runSuites, type CaseResult } from '../../testing/runner.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, parseCommandArgs, type Command, helpRequested } from '../usage.js';

const HELP = `Usage: celgate test [PATH...] [OPTIONS]

Finds every PolicyTest document (celgate.dev/v1alpha1) under PATH (files or directories;
default: the current directory, skipping node_modules and dot-directories) and runs its
cases in-process with the same engines the webhook and the ext_authz server use.
The format is described in docs/policy-test.md.

Options:
  --output FORMAT      text (default) or json
  --junit FILE         also write JUnit XML (read by GitLab and GitHub test reporters)
  --filter REGEX       run only cases whose 'suite › case' title matches
  --fail-fast          stop at the first failing case
  --watch              re-run when a test, policy or fixture file changes
  --coverage           report which expressions ran, and which conditions were ever true/false
  --min-coverage N     fail (exit 1) when coverage is below N percent (implies --coverage)
  --lcov FILE          write coverage as an lcov tracefile (implies --coverage)
  --mutate             mutation check: change each policy slightly and report the changes no case notices
  -h, --help           shows this help

Exit codes: 0 every case passed, 1 a case failed (or coverage below --min-coverage),
2 a test or policy file did not load (every error is listed with file:line) or usage error.`;

interface TestOptions {
  readonly paths: string[];
  readonly json: boolean;
  readonly junit?: string;
  readonly filter?: RegExp;
  readonly failFast: boolean;
  readonly coverage: boolean;
  readonly minCoverage?: number;
  readonly lcov?: string;
  readonly mutate: boolean;
}

export const testCommand: Command = {
  name: 'test',
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {
      output: { type: 'string' },
      junit: { type: 'string' },
      filter: { type: 'string' },
      'fail-fast': { type: 'boolean' },
      watch: { type: 'boolean' },
      coverage: { type: 'boolean' },
      'min-coverage': { type: 'string' },
      lcov: { type: 'string' },
      mutate: { type: 'boolean' },
    });
    if (helpRequested(values, HELP)) return EXIT_OK;
    const options = optionsFrom(values, positionals);
    if (!values.watch) return runOnce(options);
    return watchLoop(options);
  },
};

function optionsFrom(values: Readonly<Record<string, unknown>>, positionals: string[]): TestOptions {
  const output = (values.output as string | undefined) ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`--output must be text or json, not '${output}'`);
  let filter: RegExp | undefined;
  if (values.filter !== undefined) {
    try {
      filter = new RegExp(values.filter as string);
    } catch (error) {
      throw new UsageError(`--filter: ${(error as Error).message}`);
    }
  }
  let minCoverage: number | undefined;
  if (values['min-coverage'] !== undefined) {
    minCoverage = Number(values['min-coverage']);
    if (!Number.isFinite(minCoverage) || minCoverage < 0 || minCoverage > 100) throw new UsageError('--min-coverage must be a number from 0 to 100');
  }
  return {
    paths: positionals.length > 0 ? positionals : ['.'],
    json: output === 'json',
    ...(values.junit ? { junit: values.junit as string } : {}),
    ...(filter ? { filter } : {}),
    failFast: values['fail-fast'] === true,
    coverage: values.coverage === true || minCoverage !== undefined || values.lcov !== undefined,
    ...(minCoverage !== undefined ? { minCoverage } : {}),
    ...(values.lcov ? { lcov: values.lcov as string } : {}),
    mutate: values.mutate === true,
  };
}

async function runOnce(options: TestOptions, onInputs?: (files: readonly string[]) => void): Promise<number> {
  const style = styleFor(process.stdout);
  const loaded = await loadRun(options.paths);
  onInputs?.(loaded.inputs);
  if (loaded.issues.length > 0) {
    if (options.junit) writeFileSync(options.junit, junitLoadErrors(loaded.issues));
    if (options.json) console.log(JSON.stringify({ loadErrors: loaded.issues }));
    else for (const line of issuesText(loaded.issues)) console.error(line);
    return EXIT_USAGE;
  }
  const coverage = options.coverage ? new Coverage() : undefined;
  if (coverage) for (const set of new Set(loaded.suites.map((s) => s.set))) coverage.addResources(set.resources);
  const print = (result: CaseResult): void => {
    for (const line of caseLines(result, style)) console.log(line);
  };
  const summary = await runSuites(loaded.suites, {
    ...(options.filter ? { filter: options.filter } : {}),
    failFast: options.failFast,
    ...(coverage ? { onExpression: coverage.listener, onOutcome: (o) => coverage.recordOutcome(o) } : {}),
    ...(options.json ? {} : { onResult: print }),
  });
  if (summary.results.length === 0 && options.filter) {
    console.error(`celgate test: no case matches --filter ${options.filter.source}`);
    return EXIT_USAGE;
  }
  let mutation: MutationReport | undefined;
  if (options.mutate) {
    const suites = options.filter ? loaded.suites.map((s) => ({ ...s, suite: { ...s.suite, cases: s.suite.cases.filter((c) => options.filter!.test(`${s.suite.name} › ${c.name}`)) } })) : loaded.suites;
    mutation = await mutationCheck(suites);
  }
  if (options.junit) writeFileSync(options.junit, junitXml(summary));
  if (options.lcov && coverage) writeFileSync(options.lcov, coverage.lcov());
  const belowMinimum = coverage !== undefined && options.minCoverage !== undefined && coverage.totals().percent < options.minCoverage;
  if (options.json) {
    console.log(
      JSON.stringify(
        summaryJson(summary, {
          ...(coverage ? { coverage: coverage.json() } : {}),
          ...(mutation ? { mutation } : {}),
        }),
      ),
    );
  } else {
    if (coverage) for (const line of coverage.text()) console.log(line);
    if (belowMinimum) console.log(style.red(`coverage ${coverage!.totals().percent}% is below --min-coverage ${options.minCoverage}%`));
    if (mutation) for (const line of mutationText(mutation)) console.log(line);
    console.log(summaryLine(summary));
  }
  return summary.failed > 0 || belowMinimum ? EXIT_FAILED : EXIT_OK;
}

/** Runs, then re-runs whenever one of the files the last run read changes; ends on Ctrl-C. */
async function watchLoop(options: TestOptions): Promise<number> {
  let watchers: FSWatcher[] = [];
  let last = EXIT_OK;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;
  const closeAll = (): void => {
    for (const w of watchers) w.close();
    watchers = [];
  };
  const rerun = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    closeAll();
    last = await runOnce(options, (files) => {
      for (const file of files) {
        try {
          watchers.push(watch(file, () => schedule()));
        } catch {
          // A file that vanished is reported by the run itself.
        }
      }
      // New test files appear in the paths given, so watch those too.
      for (const path of options.paths) {
        try {
          watchers.push(watch(path, { recursive: false }, () => schedule()));
        } catch {
          // As above.
        }
      }
    });
    console.log(`watching ${watchers.length} files for changes (Ctrl-C to stop)`);
    running = false;
    if (again) {
      again = false;
      await rerun();
    }
  };
  const schedule = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => void rerun(), 150);
  };
  await rerun();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
  });
  clearTimeout(timer);
  closeAll();
  return last;
}

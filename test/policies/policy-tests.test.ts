/**
 * The shipped policy library's own PolicyTest suites (policies/ ** /tests/*.test.yaml), run the way
 * CI runs them: the built `celgate test` binary, with full expression coverage required.
 * Needs `npx tsc -p tsconfig.json` first (bin/celgate.js runs dist/).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function celgate(args: readonly string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile('node', ['bin/celgate.js', ...args], { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every policy file of the library (not the tests, not the param objects). */
function policyFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'tests' || entry.name === 'params' ? [] : policyFiles(path);
    return entry.name.endsWith('.yaml') ? [path] : [];
  });
}

/** How many validations the library's ValidatingAdmissionPolicies hold, and how many mutations its MAPs hold. */
function countChecks(): { validations: number; mutations: number } {
  let validations = 0;
  let mutations = 0;
  for (const file of policyFiles('policies')) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const value = doc.toJS() as { kind?: string; spec?: { validations?: unknown[]; mutations?: unknown[] } } | null;
      if (value?.kind === 'ValidatingAdmissionPolicy') validations += value.spec?.validations?.length ?? 0;
      if (value?.kind === 'MutatingAdmissionPolicy') mutations += value.spec?.mutations?.length ?? 0;
    }
  }
  return { validations, mutations };
}

describe('the policy library passes its PolicyTest suites', () => {
  test('celgate test policies --coverage --min-coverage 100 exits 0 with every case passing', async () => {
    const { validations, mutations } = countChecks();
    // The library ships 23 validating and 2 mutating policies: a count of 0 means the walk broke.
    expect(validations).toBeGreaterThanOrEqual(23);
    expect(mutations).toBeGreaterThanOrEqual(3);

    const run = await celgate(['test', 'policies', '--coverage', '--min-coverage', '100']);
    const lines = run.stdout.trimEnd().split('\n');
    const last = lines[lines.length - 1] ?? '';
    const summary = /^(\d+) passed, (\d+) failed$/.exec(last);
    // On failure, show what the runner printed (failed cases, coverage gaps) rather than just the code.
    const failures = lines.filter((line) => line.startsWith('FAIL') || line.startsWith('  policies/'));
    expect({ code: run.code, last, failures, stderr: run.stderr }).toEqual({ code: 0, last, failures: [], stderr: '' });
    expect(summary).not.toBeNull();
    expect(Number(summary![2])).toBe(0);
    // Each validation needs at least one case where it holds and one where it does not.
    expect(Number(summary![1])).toBeGreaterThanOrEqual(validations * 2);
    expect(run.stdout).toMatch(/^coverage: 100% \(\d+\/\d+ branches and expressions\)$/m);
  }, 120_000);
});

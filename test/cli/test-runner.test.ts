/** `celgate test` as CI runs it: the built binary, its output, exit codes and report files. */
import { execFile, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONTAINER_LIMIT_POLICY, pod, suite, workspace } from '../testing/workspace.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function celgate(args: string[], cwd?: string): Promise<Run> {
  const bin = join(process.cwd(), 'bin/celgate.js');
  return new Promise((resolve) => {
    execFile('node', [bin, ...args], { timeout: 20000, ...(cwd ? { cwd } : {}), env: { ...process.env, NO_COLOR: '1' } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const GOOD = [
  '    - name: one container',
  `      admission: {object: ${pod(1)}}`,
  '      expect: {allowed: true}',
  '    - name: three containers',
  `      admission: {object: ${pod(3)}}`,
  '      expect:',
  '        allowed: false',
  '        status: {code: 403, reason: Forbidden}',
  '        messageContains: at most 2 containers, got 3',
  '',
].join('\n');

const WRONG = [
  '    - name: wrongly expects a denial',
  `      admission: {object: ${pod(1)}}`,
  '      expect: {allowed: false}',
  '',
].join('\n');

describe('celgate test', () => {
  it('passes a good suite: a line per case, then the count', async () => {
    const dir = await workspace({ 'policy.yaml': CONTAINER_LIMIT_POLICY, 'limit.test.yaml': suite('limit', GOOD) });
    const run = await celgate(['test'], dir);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('PASS  limit › one container\nPASS  limit › three containers\n2 passed, 0 failed\n');
  });

  it('exits 1 and names the case when an expectation is wrong', async () => {
    const dir = await workspace({ 'policy.yaml': CONTAINER_LIMIT_POLICY, 'limit.test.yaml': suite('limit', GOOD + WRONG) });
    const run = await celgate(['test', dir]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('FAIL  limit › wrongly expects a denial');
    expect(run.stdout).toMatch(/allowed +false +true/);
    expect(run.stdout).toContain('decided by: no policy denied (evaluated: container-limit pass)');
    expect(run.stdout.trimEnd().split('\n').pop()).toBe('2 passed, 1 failed');
  });

  it('exits 2 when a policy file is missing, listing the error with file:line', async () => {
    const dir = await workspace({ 'limit.test.yaml': suite('limit', GOOD, 'missing.yaml') });
    const run = await celgate(['test', dir]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${join(dir, 'limit.test.yaml')}:6:14: policy no such file or directory: missing.yaml`);
    expect(run.stdout).toBe('');
    const junit = join(dir, 'report.xml');
    expect((await celgate(['test', dir, '--junit', junit])).code).toBe(2);
    expect(await readFile(junit, 'utf8')).toMatch(/<testsuite name="load" tests="1" failures="0" errors="1"[^>]*>\n.*\n {6}<error message="policy no such file or directory: missing\.yaml" type="LoadError">/);
  });

  it('writes JSON with --output json', async () => {
    const dir = await workspace({ 'policy.yaml': CONTAINER_LIMIT_POLICY, 'limit.test.yaml': suite('limit', GOOD + WRONG) });
    const run = await celgate(['test', dir, '--output', 'json']);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ passed: 2, failed: 1, skipped: 0 });
    expect(report.cases.map((c: { name: string; status: string }) => [c.name, c.status])).toEqual([
      ['one container', 'pass'],
      ['three containers', 'pass'],
      ['wrongly expects a denial', 'fail'],
    ]);
    expect(report.cases[2]).toMatchObject({ suite: 'limit', line: 17, mismatches: [{ field: 'allowed', expected: 'false', actual: 'true' }] });
  });

  it('writes JUnit XML that CI reporters read', async () => {
    const dir = await workspace({ 'policy.yaml': CONTAINER_LIMIT_POLICY, 'limit.test.yaml': suite('limit', GOOD + WRONG) });
    const junit = join(dir, 'report.xml');
    const run = await celgate(['test', dir, '--junit', junit]);
    expect(run.code).toBe(1);
    const xml = await readFile(junit, 'utf8');
    expect(xml).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="celgate test" tests="3" failures="1" errors="0" skipped="0" time="[\d.]+">\n/);
    expect(xml).toMatch(/<testsuite name="limit" tests="3" failures="1" errors="0" skipped="0" time="[\d.]+" file="[^"]*limit\.test\.yaml">/);
    expect(xml).toMatch(/<testcase name="one container" classname="limit" file="[^"]*limit\.test\.yaml" line="8" time="[\d.]+"\/>/);
    expect(xml).toMatch(/<testcase name="wrongly expects a denial" [^>]*>\n {6}<failure message="allowed: expected false, got true" type="PolicyTestFailure">FAIL {2}limit › wrongly/);
    expect(xml.trimEnd().endsWith('</testsuites>')).toBe(true);
  });

  it('runs only matching cases with --filter, and exits 2 when none match', async () => {
    const dir = await workspace({ 'policy.yaml': CONTAINER_LIMIT_POLICY, 'limit.test.yaml': suite('limit', GOOD + WRONG) });
    const run = await celgate(['test', dir, '--filter', 'three']);
    expect(run).toMatchObject({ code: 0, stdout: 'PASS  limit › three containers\n1 passed, 0 failed\n' });
    expect((await celgate(['test', dir, '--filter', 'nothing-like-this'])).code).toBe(2);
  });

  it('reports coverage, fails below --min-coverage and writes lcov', async () => {
    const dir = await workspace({ 'policy.yaml': CONTAINER_LIMIT_POLICY, 'limit.test.yaml': suite('limit', GOOD) });
    const lcov = join(dir, 'lcov.info');
    const run = await celgate(['test', dir, '--min-coverage', '90', '--lcov', lcov]);
    // The matchCondition is never false (no kube-system case): 5 of 6 points.
    expect(run.stdout).toContain('coverage: 83.3% (5/6 branches and expressions)');
    expect(run.stdout).toMatch(/policy\.yaml:15 {2}container-limit spec\.matchConditions\[0\]\.expression: never false/);
    expect(run.stdout).toContain('coverage 83.3% is below --min-coverage 90%');
    expect(run.code).toBe(1);
    expect(await readFile(lcov, 'utf8')).toContain('BRDA:15,0,1,0\n');
    expect((await celgate(['test', dir, '--min-coverage', '80'])).code).toBe(0);
  });

  it('prints the mutation score and the surviving mutant', async () => {
    const dir = await workspace({ 'policy.yaml': CONTAINER_LIMIT_POLICY, 'limit.test.yaml': suite('limit', GOOD) });
    const run = await celgate(['test', dir, '--mutate']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/SURVIVED {2}\S*policy\.yaml:14 {2}container-limit removed spec\.matchConditions\.0/);
    expect(run.stdout).toContain('mutation score: 75% (3 killed, 1 survived)');
  });

  it('re-runs on change with --watch', async () => {
    const dir = await workspace({ 'policy.yaml': CONTAINER_LIMIT_POLICY, 'limit.test.yaml': suite('limit', GOOD) });
    const child = spawn('node', [join(process.cwd(), 'bin/celgate.js'), 'test', dir, '--watch'], { env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    const waitFor = (text: string) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${text}; output so far:\n${out}`)), 15000);
        const check = () => {
          if (out.includes(text)) {
            clearTimeout(timer);
            child.stdout.off('data', check);
            resolve();
          }
        };
        child.stdout.on('data', check);
        check();
      });
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    try {
      await waitFor('2 passed, 0 failed');
      await waitFor('watching');
      // Loosening the policy to 5 containers turns the expected denial into a failure.
      await writeFile(join(dir, 'policy.yaml'), CONTAINER_LIMIT_POLICY.replace('variables.count <= 2', 'variables.count <= 5'));
      await waitFor('1 passed, 1 failed');
    } finally {
      child.kill('SIGINT');
    }
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
  });

  it('passes the example suites in examples/policy-tests', async () => {
    const run = await celgate(['test', 'examples/policy-tests']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\d+ passed, 0 failed\n$/m);
  });

  it('exits 2 on a usage error', async () => {
    expect((await celgate(['test', '--output', 'xml'])).code).toBe(2);
    expect((await celgate(['test', '--filter', '('])).code).toBe(2);
  });
});

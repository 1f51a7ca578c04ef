/** The real `celgate` binary (built to dist/ by `npm test`'s pretest step), run as a user runs it. */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function celgate(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile('node', ['bin/celgate.js', ...args], { timeout: 15000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

describe('celgate eval', () => {
  it('prints the value with its CEL type', async () => {
    expect(await celgate(['eval', '1 + 2'])).toEqual({ code: 0, stdout: '{"value":3,"type":"int"}\n', stderr: '' });
    expect((await celgate(['eval', "'a' + 'b'"])).stdout).toBe('{"value":"ab","type":"string"}\n');
  });

  it('binds variables from --input and --var files (JSON or YAML)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'celgate-'));
    await writeFile(join(dir, 'pod.yaml'), 'spec:\n  replicas: 3\n');
    await writeFile(join(dir, 'input.json'), '{"limit": 5, "name": "web"}');
    const run = await celgate([
      'eval',
      'object.spec.replicas + 1 < limit && name == "web"',
      '--input',
      join(dir, 'input.json'),
      '--var',
      `object=${join(dir, 'pod.yaml')}`,
    ]);
    expect(run).toEqual({ code: 0, stdout: '{"value":true,"type":"bool"}\n', stderr: '' });
  });

  it('prints a compile error with its position and exits 1', async () => {
    const run = await celgate(['eval', '1 +\n  nope']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: 2:3: Unknown variable: nope/);
  });

  it('exits 2 on usage errors', async () => {
    expect((await celgate(['eval'])).code).toBe(2);
    expect((await celgate(['eval', '1', '--bogus'])).code).toBe(2);
    expect((await celgate(['eval', '1', '--input', 'does-not-exist.json'])).code).toBe(2);
    expect((await celgate(['frobnicate'])).code).toBe(2);
  });

  it('has --help on every command', async () => {
    for (const args of [['--help'], ['eval', '--help'], ['lint', '--help']]) {
      const run = await celgate(args);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Usage: celgate/);
    }
  });

  it('evaluates a batch of JSON lines, one result line per input', async () => {
    const input = [
      '{"expr": "x * 2", "vars": {"x": 21}}',
      '{"expr": "9223372036854775807 - x", "vars": {"x": 0}}',
      '{"expr": "1 +", "vars": {}}',
      'not json',
      '{"expr": "s.size()", "vars": {"s": "héllo"}}',
    ].join('\n');
    const run = await celgate(['eval', '--batch', '-'], input);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ value: 42, type: 'int' });
    expect(lines[1]).toEqual({ value: '9223372036854775807', type: 'int' });
    expect(lines[2].error).toMatch(/^1:4: /);
    expect(lines[3].error).toMatch(/^line 4: invalid JSON/);
    expect(lines[4]).toEqual({ value: 5, type: 'int' });
  });
});

describe('celgate lint', () => {
  it('passes on the shipped policies', async () => {
    const run = await celgate(['lint', 'policies']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
  });

  it('prints every problem as file:line:col and exits 1', async () => {
    const run = await celgate(['lint', 'test/fixtures/lint']);
    expect(run.code).toBe(1);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    for (const line of lines) expect(line).toMatch(/^test\/fixtures\/lint\/broken\.yaml:\d+:\d+: /);
  });
});

/**
 * `celgate replay` (src/cli/commands/replay.ts) run as a process from the built dist/. Until the
 * command is registered in main.ts, the test starts it through its module.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clusterFor, compileSet, decide, loadPolicyFiles } from '../../src/testing/engines.js';
import { accessLogLine, admissionLogLine } from '../../src/testing/replay.js';
import { requestForObject } from '../../src/engine/admission/request.js';
import { CONTAINER_LIMIT_POLICY, workspace } from './workspace.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function replay(args: string[]): Promise<Run> {
  const module = join(process.cwd(), 'dist/cli/commands/replay.js');
  const script = `import(${JSON.stringify(module)}).then((m) => m.replayCommand.run(JSON.parse(process.argv[1]))).then((code) => { process.exitCode = code; }, (e) => { console.error(e.message); process.exitCode = 2; });`;
  return new Promise((resolve) => {
    execFile('node', ['--input-type=module', '-e', script, JSON.stringify(args)], { timeout: 20000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const pod = (n: number) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: `pod-${n}`, namespace: 'shop' },
  spec: { containers: Array.from({ length: n }, (_, i) => ({ name: `c${i}`, image: 'nginx:1.27' })) },
});

const AUTHZ = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: shop}
spec:
  action: DENY
  rules:
    - to: [{operation: {paths: ["/admin/*"]}}]
`;

describe('celgate replay', () => {
  it('lists the decisions a policy change turns around, grouped by policy, and exits 1', async () => {
    const dir = await workspace({
      'old/policy.yaml': CONTAINER_LIMIT_POLICY,
      'new/policy.yaml': CONTAINER_LIMIT_POLICY.replace('variables.count <= 2', 'variables.count <= 1'),
      'new/authz.yaml': AUTHZ,
    });
    const { resources } = await loadPolicyFiles([join(dir, 'old/policy.yaml')]);
    const old = compileSet(resources, []);
    const cluster = clusterFor([]);
    const lines: string[] = [];
    for (const n of [1, 2, 3]) {
      const request = requestForObject(pod(n), { operation: 'CREATE' });
      const outcome = await decide(old, { face: 'admission', request }, cluster);
      if (outcome.face === 'admission') lines.push(JSON.stringify(admissionLogLine(request, outcome.decision)));
    }
    // Logged before the DENY policy existed: /admin was allowed.
    const access = { destination: { namespace: 'shop' }, request: { method: 'GET', path: '/admin/users' } };
    lines.push(JSON.stringify(accessLogLine(access, { id: '1', allowed: true, status: 200, reason: 'no policy applies', headers: {}, headersToRemove: [], route: null, matched: [] })));
    const log = join(dir, 'decisions.jsonl');
    await writeFile(log, lines.join('\n') + '\n');

    const run = await replay(['--log', log, '--policies', join(dir, 'new')]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    const out = run.stdout.split('\n');
    expect(out[0]).toBe('container-limit (1 change)');
    expect(out[1]).toMatch(/^ {2}.*decisions\.jsonl:2 {2}admission CREATE pods shop\/pod-2: allowed -> denied 403: .*got 2$/);
    expect(out[2]).toBe('shop/no-admin (1 change)');
    expect(out[3]).toMatch(/decisions\.jsonl:4 {2}access GET \/admin\/users: allowed -> denied 403: /);
    expect(out[4]).toBe('4 decisions replayed, 2 changed');

    expect((await replay(['--log', log, '--policies', join(dir, 'new'), '--allow-changes'])).code).toBe(0);
    expect((await replay(['--log', log, '--policies', join(dir, 'old/policy.yaml')])).stdout).toBe('4 decisions replayed, 0 changed\n');
    const json = JSON.parse((await replay(['--log', log, '--policies', join(dir, 'new'), '--output', 'json'])).stdout);
    expect(json).toMatchObject({ replayed: 4, changed: 2 });
  });

  it('exits 2 on a malformed log line, naming its line', async () => {
    const dir = await workspace({ 'policy.yaml': CONTAINER_LIMIT_POLICY, 'log.jsonl': '{"type":"admission"}\n' });
    const run = await replay(['--log', join(dir, 'log.jsonl'), '--policies', join(dir, 'policy.yaml')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${join(dir, 'log.jsonl')}:1:1: expected {"type", "request", "decision": {"allowed", ...}}`);
  });
});

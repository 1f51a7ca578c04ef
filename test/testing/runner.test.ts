/** The runner in-process: honest pass/fail, coverage numbers, mutation score and decision replay. */
import { join } from 'node:path';
import { Coverage } from '../../src/testing/coverage.js';
import { mutationCheck, expressionMutations, splitTopLevel } from '../../src/testing/mutate.js';
import { admissionLogLine, parseLogLine, replayLine, accessLogLine } from '../../src/testing/replay.js';
import { loadRun, runSuites } from '../../src/testing/runner.js';
import { clusterFor, compileSet, decide, loadPolicyFiles } from '../../src/testing/engines.js';
import type { AdmissionRequest } from '../../src/engine/admission/types.js';
import { CONTAINER_LIMIT_POLICY, pod, suite, workspace } from './workspace.js';

async function run(cases: string, policy = CONTAINER_LIMIT_POLICY) {
  const dir = await workspace({ 'policy.yaml': policy, 'test.yaml': suite('limit', cases) });
  const loaded = await loadRun([dir]);
  expect(loaded.issues).toEqual([]);
  return { dir, loaded };
}

describe('runner honesty', () => {
  it('fails a case whose expectation is wrong, and says what differed and who decided', async () => {
    const { loaded } = await run(
      [
        '    - name: three containers',
        `      admission: {object: ${pod(3)}}`,
        '      expect:',
        '        allowed: false',
        '        status: {code: 403, reason: Forbidden}',
        '        messageContains: "at most 2 containers, got 4"',
        '',
      ].join('\n'),
    );
    const summary = await runSuites(loaded.suites);
    expect(summary.failed).toBe(1);
    const [result] = summary.results;
    expect(result!.testCase.name).toBe('three containers');
    expect(result!.mismatches.map((m) => m.field)).toEqual(['messageContains']);
    expect(result!.mismatches[0]!.actual).toContain('at most 2 containers, got 3');
    expect(result!.decidedBy).toMatch(/^container-limit \(deny at .*policy\.yaml:20\)$/);
  });

  it('fails when a denial is expected and the request is allowed', async () => {
    const { loaded } = await run(`    - name: expects deny\n      admission: {object: ${pod(1)}}\n      expect: {allowed: false}\n`);
    const summary = await runSuites(loaded.suites);
    expect(summary).toMatchObject({ passed: 0, failed: 1 });
    expect(summary.results[0]!.mismatches).toEqual([{ field: 'allowed', expected: 'false', actual: 'true' }]);
  });

  it('checks per-policy results, skips and filters', async () => {
    const { loaded } = await run(
      [
        '    - name: kube-system is exempt',
        `      admission: {object: ${pod(5, 'kube-system')}}`,
        '      expect: {allowed: true, policies: [{name: container-limit, result: skip}]}',
        '    - name: denied',
        `      admission: {object: ${pod(5)}}`,
        '      expect: {policies: [{name: container-limit, result: deny}]}',
        '    - name: later',
        '      skip: waiting for the fix',
        `      admission: {object: ${pod(5)}}`,
        '      expect: {allowed: true}',
        '',
      ].join('\n'),
    );
    expect(await runSuites(loaded.suites)).toMatchObject({ passed: 2, failed: 0, skipped: 1 });
    const filtered = await runSuites(loaded.suites, { filter: /exempt/ });
    expect(filtered.results.map((r) => r.testCase.name)).toEqual(['kube-system is exempt']);
  });

  it('decides an AdmissionReview read from a file as it is', async () => {
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        name: 'captured',
        namespace: 'shop',
        operation: 'CREATE',
        userInfo: { username: 'alice' },
        object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'captured', namespace: 'shop' }, spec: { containers: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] } },
      },
    };
    const dir = await workspace({
      'policy.yaml': CONTAINER_LIMIT_POLICY,
      'review.json': JSON.stringify(review),
      'test.yaml': suite('review', '    - name: captured\n      admissionReview: {file: review.json}\n      expect: {allowed: false, messageContains: \'pods "captured" is forbidden\'}\n'),
    });
    const loaded = await loadRun([dir]);
    expect(loaded.issues).toEqual([]);
    expect(await runSuites(loaded.suites)).toMatchObject({ passed: 1, failed: 0 });
  });

  it('applies spec.defaults and per-case userInfo', async () => {
    const policy = CONTAINER_LIMIT_POLICY.replace("request.namespace != 'kube-system'", "request.userInfo.username != 'admin'");
    const dir = await workspace({
      'policy.yaml': policy,
      'test.yaml': `apiVersion: celgate.dev/v1alpha1
kind: PolicyTest
metadata: {name: users}
spec:
  policies: [policy.yaml]
  defaults:
    namespace: shop
    userInfo: {username: admin, groups: [system:masters]}
  cases:
    - name: admin is exempt by default
      admission: {object: ${pod(3)}}
      expect: {allowed: true, policies: [{name: container-limit, result: skip}]}
    - name: alice is not
      admission: {object: ${pod(3)}, userInfo: {username: alice}}
      expect: {allowed: false, messageContains: 'pods "p" is forbidden'}
`,
    });
    const loaded = await loadRun([dir]);
    expect(loaded.issues).toEqual([]);
    const request = loaded.suites[0]!.suite.cases[0]!.input;
    expect(request.face === 'admission' && request.request.namespace).toBe('shop');
    expect(await runSuites(loaded.suites)).toMatchObject({ passed: 2, failed: 0 });
  });

  it('stops at the first failure with failFast', async () => {
    const one = `    - name: a\n      admission: {object: ${pod(1)}}\n      expect: {allowed: false}\n`;
    const { loaded } = await run(one + one.replace('name: a', 'name: b'));
    expect((await runSuites(loaded.suites, { failFast: true })).results).toHaveLength(1);
  });
});

describe('access requests', () => {
  // Istio docs (authorization-policy): "If there are any DENY policies that match the request, deny
  // the request. If there are no ALLOW policies for the workload, allow the request." 
  const AUTHZ = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: shop}
spec:
  action: DENY
  rules:
    - to: [{operation: {paths: ["/admin/*"]}}]
`;
  it('checks allowed, status and the matched policy, and fails honestly', async () => {
    const request = (path: string) => `      request: {destination: {namespace: shop}, request: {method: GET, path: "${path}"}}`;
    const dir = await workspace({
      'authz.yaml': AUTHZ,
      'test.yaml': suite(
        'authz',
        [
          '    - name: admin is denied',
          request('/admin/users'),
          '      expect: {allowed: false, status: 403, policies: [{name: shop/no-admin, result: DENY}]}',
          '    - name: the shop is open',
          request('/items'),
          '      expect: {allowed: true}',
          '    - name: wrongly expects the shop closed',
          request('/items'),
          '      expect: {allowed: false}',
          '',
        ].join('\n'),
        'authz.yaml',
      ),
    });
    const loaded = await loadRun([dir]);
    expect(loaded.issues).toEqual([]);
    const summary = await runSuites(loaded.suites);
    expect(summary.results.map((r) => [r.testCase.name, r.status])).toEqual([
      ['admin is denied', 'pass'],
      ['the shop is open', 'pass'],
      ['wrongly expects the shop closed', 'fail'],
    ]);
    expect(summary.results[0]!.decidedBy).toBe('shop/no-admin DENY rule 0');
  });

  it('reports a misspelt attribute', async () => {
    const dir = await workspace({
      'authz.yaml': AUTHZ,
      'test.yaml': suite('authz', '    - name: typo\n      request: {source: {principle: x}, request: {method: GET, path: /}}\n      expect: {allowed: true}\n', 'authz.yaml'),
    });
    const loaded = await loadRun([dir]);
    expect(loaded.issues.map((i) => i.message)).toEqual(["unknown field 'principle': did you mean 'principal'?"]);
  });
});

describe('coverage', () => {
  it('counts conditions true/false and value expressions evaluated', async () => {
    const allowed = `    - name: allowed\n      admission: {object: ${pod(1)}}\n      expect: {allowed: true}\n`;
    const measure = async (cases: string) => {
      const { loaded } = await run(cases);
      const coverage = new Coverage();
      coverage.addResources(loaded.suites[0]!.set.resources);
      await runSuites(loaded.suites, { onExpression: coverage.listener });
      return coverage;
    };
    // matchCondition 1/2 (never false), variable 1/1, validation 1/2 (never false), messageExpression 0/1.
    const partial = await measure(allowed);
    expect(partial.totals()).toEqual({ covered: 3, total: 6, percent: 50 });
    expect(partial.text().join('\n')).toMatch(/policy\.yaml:20 {2}container-limit spec\.validations\[0\]\.expression: never false/);
    // A denied pod adds validation false and the message; kube-system adds the matchCondition false.
    const full = await measure(
      allowed + `    - name: denied\n      admission: {object: ${pod(3)}}\n      expect: {allowed: false}\n` + `    - name: exempt\n      admission: {object: ${pod(3, 'kube-system')}}\n      expect: {allowed: true}\n`,
    );
    expect(full.totals()).toEqual({ covered: 6, total: 6, percent: 100 });
    const lcov = full.lcov();
    expect(lcov).toMatch(/^TN:\nSF:.*policy\.yaml\n/);
    // The validation at line 20: true twice? No: once true (allowed), once false (denied).
    expect(lcov).toContain('BRDA:20,2,0,1\nBRDA:20,2,1,1\n');
    expect(lcov).toContain('DA:15,3\n');
    expect(lcov).toMatch(/LF:4\nLH:4\nend_of_record\n$/);
  });
});

describe('mutation check', () => {
  it('kills the mutants a case notices and reports the one none does', async () => {
    const { loaded } = await run(`    - name: three containers are denied\n      admission: {object: ${pod(3)}}\n      expect: {allowed: false}\n`);
    const report = await mutationCheck(loaded.suites);
    // Mutants: the matchCondition negated, its != swapped, it removed; the validation negated.
    expect(report.results.map((r) => [r.description, r.status])).toEqual([
      ['spec.validations.0.expression: negated', 'killed'],
      ['spec.matchConditions.0.expression: negated', 'killed'],
      ['spec.matchConditions.0.expression: swapped != for == at column 19', 'killed'],
      ['removed spec.matchConditions.0', 'survived'],
    ]);
    expect(report.results[3]!.location).toMatch(/policy\.yaml:14$/);
    expect(report).toMatchObject({ killed: 3, survived: 1, score: 75 });
  });

  it('finds top-level operands outside strings and brackets', () => {
    expect(splitTopLevel("a || (b || c) || 'x || y'", '||')).toEqual(['a', '(b || c)', "'x || y'"]);
    expect(expressionMutations("a == 'b==c' && d").map((m) => m.text)).toEqual(["!(a == 'b==c' && d)", "(d)", "(a == 'b==c')", "a != 'b==c' && d"]);
  });
});

describe('decision replay', () => {
  it('finds the logged admission decisions a new policy changes', async () => {
    const dir = await workspace({ 'old.yaml': CONTAINER_LIMIT_POLICY, 'new.yaml': CONTAINER_LIMIT_POLICY.replace('variables.count <= 2', 'variables.count <= 1') });
    const cluster = clusterFor([]);
    const load = async (file: string) => compileSet((await loadPolicyFiles([join(dir, file)])).resources, []);
    const before = await load('old.yaml');
    const after = await load('new.yaml');
    const request = (containers: number): AdmissionRequest => {
      const object = JSON.parse(JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${containers}`, namespace: 'default' }, spec: { containers: Array.from({ length: containers }, (_, i) => ({ name: `c${i}`, image: 'x' })) } }));
      return { uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, name: object.metadata.name, namespace: 'default', operation: 'CREATE', userInfo: {}, object };
    };
    const lines = [];
    for (const n of [1, 2, 3]) {
      const outcome = await decide(before, { face: 'admission', request: request(n) }, cluster);
      if (outcome.face !== 'admission') throw new Error('admission expected');
      lines.push(JSON.stringify(admissionLogLine(request(n), outcome.decision)));
    }
    const changes = [];
    for (const [i, text] of lines.entries()) {
      const line = parseLogLine(text);
      if ('error' in line) throw new Error(line.error);
      const change = await replayLine(line, i + 1, after, cluster);
      if (change) changes.push(change);
    }
    // Only the two-container pod changes: allowed before, denied now. Three were denied before and after.
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ line: 2, type: 'admission', subject: 'CREATE pods default/p2', before: 'allowed', policies: ['container-limit'] });
    expect(changes[0]!.after).toMatch(/^denied 403: pods "p2" is forbidden: .*got 2$/);
  });

  it('reads access lines and rejects malformed ones', () => {
    const line = accessLogLine({ request: { method: 'GET', path: '/' } }, { id: '', allowed: true, status: 200, reason: 'allowed', headers: {}, headersToRemove: [], route: null, matched: [] });
    expect(parseLogLine(JSON.stringify(line))).toMatchObject({ type: 'access', decision: { allowed: true, status: 200 } });
    expect(parseLogLine('{"decision": {}}')).toEqual({ error: 'expected {"type", "request", "decision": {"allowed", ...}}' });
    expect(parseLogLine('nope')).toMatchObject({ error: expect.stringMatching(/^not JSON/) });
  });
});

/**
 * `celgate apply` run as a user runs it (the built binary; `npx tsc -p tsconfig.json` first), and
 * checked against the webhook answering the same resources the way kube-apiserver would call it.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastJsonPatch from 'fast-json-patch';
import { parseAllDocuments } from 'yaml';
import { readFileSync } from 'node:fs';
import { FIXTURES, reviewFor, startServer, testTls } from '../admission/helpers.js';
import { applyKubernetesDefaults } from '../../src/engine/admission/defaults.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function celgate(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('node', ['bin/celgate.js', ...args], { timeout: 50000, env: { ...process.env, NO_COLOR: '1' } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const POLICIES = join(FIXTURES, 'policies');
const PARAMS = join(FIXTURES, 'data', 'params.yaml');
const MIXED = join(FIXTURES, 'resources', 'mixed.yaml');
const BASE = ['apply', '--policies', POLICIES, '--params', PARAMS];

async function tempFile(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'celgate-apply-'));
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

describe('celgate apply', () => {
  it('evaluates every resource (mutating then validating) and prints the documented JSON', async () => {
    const run = await celgate([...BASE, '-f', MIXED, '-o', 'json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    const output = JSON.parse(run.stdout);
    expect(Object.keys(output)).toEqual(['results', 'summary']);
    expect(output.summary).toEqual({ allowed: 2, denied: 2 });
    const [good, unlabelled, big, small] = output.results;
    expect(Object.keys(good)).toEqual(['resource', 'operation', 'allowed', 'status', 'warnings', 'auditAnnotations', 'patch', 'patchedObject', 'evaluations']);
    expect(good.resource).toEqual({ apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'good' });
    expect(good).toMatchObject({ operation: 'CREATE', allowed: true, status: null, warnings: [] });
    expect(good.patch).toEqual([{ op: 'add', path: '/metadata/labels/celgate.dev~1managed', value: 'true' }]);
    expect(good.patchedObject.metadata.labels).toEqual({ team: 'payments', 'celgate.dev/managed': 'true' });
    for (const evaluation of good.evaluations) expect(Object.keys(evaluation)).toEqual(['policy', 'binding', 'result', 'message']);

    // A namespaced object without a namespace is created in `default`.
    expect(unlabelled.resource).toEqual({ apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'unlabelled' });
    expect(unlabelled.allowed).toBe(false);
    expect(unlabelled.status).toMatchObject({ code: 403, reason: 'Forbidden' });
    expect(unlabelled.status.message).toContain('pod unlabelled has no team label');
    expect(unlabelled.warnings.join('\n')).toContain('images should be pinned');
    expect(unlabelled.evaluations).toContainEqual({ policy: 'require-team-label', binding: 'require-team-label', result: 'deny', message: expect.stringContaining('no team label') });

    expect(big).toMatchObject({ allowed: false, patch: null, patchedObject: null });
    expect(big.status.message).toContain('replicas must be at most 5');
    expect(small).toMatchObject({ allowed: true, resource: { kind: 'Deployment', namespace: 'shop', name: 'small' } });
  }, 60_000);

  it('prints one line per resource with the reasons under it, and exits 0 when all are allowed', async () => {
    const denied = await celgate([...BASE, '-f', MIXED]);
    expect(denied.code).toBe(1);
    const lines = denied.stdout.split('\n');
    expect(lines[0]).toMatch(/^ALLOW Pod shop\/good/);
    expect(denied.stdout).toMatch(/^DENY  Pod default\/unlabelled.*\n {2}Forbidden: .*no team label/m);
    expect(denied.stdout).toMatch(/^ {2}warning: .*images should be pinned/m);
    expect(denied.stdout).toMatch(/^DENY  Deployment shop\/big$/m);
    expect(denied.stdout).toContain('4 resources: 2 allowed, 2 denied');
    expect(denied.stdout).not.toContain('\u001b['); // no colour when stdout is not a terminal

    const good = await tempFile('good.yaml', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ok, namespace: shop}\nspec: {replicas: 1}\n');
    const allowed = await celgate([...BASE, '-f', good]);
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toMatch(/^ALLOW Deployment shop\/ok/);
  }, 60_000);

  it('takes an AdmissionReview document as that exact request', async () => {
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'review-1',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        namespace: 'custom',
        name: 'from-review',
        operation: 'UPDATE',
        userInfo: { username: 'alice' },
        object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'from-review', namespace: 'custom' }, spec: { containers: [{ name: 'a', image: 'a:1' }] } },
        oldObject: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'from-review', namespace: 'custom', labels: { team: 't' } }, spec: { containers: [] } },
      },
    };
    const file = await tempFile('review.json', JSON.stringify(review));
    const run = await celgate([...BASE, '-f', file, '-o', 'json']);
    const [result] = JSON.parse(run.stdout).results;
    expect(result.resource).toEqual({ apiVersion: 'v1', kind: 'Pod', namespace: 'custom', name: 'from-review' });
    expect(result.operation).toBe('UPDATE');
    expect(result.allowed).toBe(false); // the new object lost its team label
    expect(result.patch).toBeNull(); // the mutating policy matches CREATE only
  }, 60_000);

  it('runs DELETE with the object as oldObject, and needs --old for UPDATE', async () => {
    const remove = await celgate([...BASE, '-f', MIXED, '--operation', 'DELETE', '-o', 'json']);
    expect(remove.code).toBe(0); // no policy matches DELETE
    expect(JSON.parse(remove.stdout).results.every((r: { operation: string }) => r.operation === 'DELETE')).toBe(true);

    const update = await celgate([...BASE, '-f', MIXED, '--operation', 'UPDATE']);
    expect(update.code).toBe(2);
    expect(update.stderr).toMatch(new RegExp(`^${MIXED}:1:1: UPDATE needs the old object of Pod/shop/good: give it with --old PATH`, 'm'));

    const updateWithOld = await celgate([...BASE, '-f', MIXED, '--operation', 'UPDATE', '--old', MIXED, '-o', 'json']);
    const results = JSON.parse(updateWithOld.stdout).results;
    expect(results.map((r: { allowed: boolean }) => r.allowed)).toEqual([true, false, false, true]);
  }, 60_000);

  it('acts as --user with --group (plus system:authenticated, as the apiserver adds)', async () => {
    const policy = await tempFile(
      'user.yaml',
      `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: only-admins}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: ["*"], apiVersions: ["*"], operations: ["*"], resources: ["*"]}]
  validations:
    - expression: "'admins' in request.userInfo.groups && 'system:authenticated' in request.userInfo.groups"
      messageExpression: "request.userInfo.username + ' is not an admin'"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: only-admins}
spec: {policyName: only-admins, validationActions: [Deny]}
`,
    );
    const mallory = await celgate(['apply', '--policies', policy, '-f', MIXED, '--user', 'mallory', '-o', 'json']);
    expect(mallory.code).toBe(1);
    expect(JSON.parse(mallory.stdout).results[0].status.message).toContain('mallory is not an admin');
    const admin = await celgate(['apply', '--policies', policy, '-f', MIXED, '--user', 'root', '--group', 'admins']);
    expect(admin.code).toBe(0);
  }, 60_000);

  it('exits 2 and prints every load error as file:line:col', async () => {
    const broken = await tempFile(
      'broken.yaml',
      `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: broken}
spec:
  validations:
    - expression: "object.spec.replicas >"
`,
    );
    const run = await celgate(['apply', '--policies', broken, '-f', MIXED]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^${broken}:6:\\d+: `, 'm'));
    expect(run.stdout).toBe('');

    const noKind = await tempFile('nokind.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\nmetadata:\n  name: b\n');
    const bad = await celgate([...BASE, '-f', noKind]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(new RegExp(`^${noKind}:5:1: apiVersion is required`, 'm'));

    expect((await celgate(['apply'])).code).toBe(2);
    expect((await celgate([...BASE, '-f', MIXED, '-o', 'yaml'])).code).toBe(2);
    expect((await celgate([...BASE, '-f', join(FIXTURES, 'missing.yaml')])).stderr).toMatch(/missing\.yaml:1:1: no such file/);
  }, 60_000);

  it('reaches the same decisions as the webhook called as kube-apiserver calls it (mutate, then validate)', async () => {
    const tls = await testTls();
    const webhook = await startServer(tls, { sources: { policyPaths: [POLICIES], dataPaths: [PARAMS] } });
    try {
      const run = await celgate([...BASE, '-f', MIXED, '-o', 'json']);
      const results = JSON.parse(run.stdout).results;
      // kube-apiserver defaults what it decodes before it calls admission webhooks.
      const objects = parseAllDocuments(readFileSync(MIXED, 'utf8')).map((d) => applyKubernetesDefaults(d.toJS() as V1Pod));
      expect(results).toHaveLength(objects.length);
      for (const [i, object] of objects.entries()) {
        const mutated = await webhook.post('/mutate', reviewFor(object));
        let patched = object;
        if (mutated.json.response.patch) {
          const patch = JSON.parse(Buffer.from(mutated.json.response.patch, 'base64').toString('utf8'));
          patched = fastJsonPatch.applyPatch(structuredClone(object), patch, true, false).newDocument;
        }
        const validated = await webhook.post('/validate', reviewFor(patched));
        const allowed = mutated.json.response.allowed && validated.json.response.allowed;
        expect({ name: object.metadata!.name, allowed }).toEqual({ name: object.metadata!.name, allowed: results[i].allowed });
        if (results[i].patchedObject) expect(patched).toEqual(results[i].patchedObject);
        if (!allowed) expect(validated.json.response.status.message).toBe(results[i].status.message);
      }
    } finally {
      await webhook.stop();
    }
  }, 60_000);

  it('reads resource quantities as kube-apiserver decodes them: a YAML number is a quantity string', async () => {
    // k8s.io/apimachinery/pkg/api/resource: Quantity.UnmarshalJSON parses `cpu: 3` (an unquoted
    // number) and MarshalJSON writes the string "3"; `memory: 2048Mi` comes back as "2Gi"
    // (CanonicalizeBytes). So quantity() works on what the policy reads, as in a cluster.
    const policy = await tempFile(
      'quantities.yaml',
      `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: cpu-cap}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}]
  validations:
    - expression: "object.spec.containers.all(c, quantity(c.resources.limits.cpu).isLessThan(quantity('5')))"
      messageExpression: "'cpu limits must stay below 5, got ' + object.spec.containers.map(c, c.resources.limits.cpu + '/' + c.resources.limits.memory).join(', ')"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: cpu-cap}
spec: {policyName: cpu-cap, validationActions: [Deny]}
`,
    );
    const pods = await tempFile(
      'pods.yaml',
      ['small', 'large']
        .map((name) => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: shop}\nspec:\n  containers:\n    - name: c\n      image: nginx:1.27\n      resources: {limits: {cpu: ${name === 'small' ? 3 : 8}, memory: 2048Mi}}\n`)
        .join('---\n'),
    );
    const run = await celgate(['apply', '--policies', policy, '-f', pods, '-o', 'json']);
    expect(run.stderr).toBe('');
    const [small, large] = JSON.parse(run.stdout).results;
    expect([small.allowed, large.allowed]).toEqual([true, false]);
    expect(large.status.message).toContain('cpu limits must stay below 5, got 8/2Gi');
  });

  it('applies the built-in Kubernetes defaults first, as kube-apiserver does (and not with --no-defaults)', async () => {
    // kubernetes/kubernetes pkg/apis/apps/v1/defaults.go (SetDefaults_Deployment): replicas 1 when unset;
    // pkg/apis/core/v1/defaults.go (SetDefaults_Container): imagePullPolicy Always when the tag is
    // `latest` (ParseImageName implies `latest` without a tag or digest), else IfNotPresent.
    const policy = await tempFile(
      'defaults.yaml',
      `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: defaults}
spec:
  matchConstraints:
    resourceRules:
      - {apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}
      - {apiGroups: ["apps"], apiVersions: ["v1"], operations: ["CREATE"], resources: ["deployments"]}
  validations:
    - expression: "object.kind != 'Deployment' || (has(object.spec.replicas) && object.spec.replicas <= 5)"
      message: "replicas must be set and at most 5"
    - expression: "object.kind != 'Pod' || object.spec.containers.all(c, has(c.imagePullPolicy) && c.imagePullPolicy == 'Always')"
      message: "containers must pull Always"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: defaults}
spec: {policyName: defaults, validationActions: [Deny]}
`,
    );
    const pod = (name: string, image: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shop' }, spec: { containers: [{ name: 'c', image }] } });
    const resources = [
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'unset', namespace: 'shop' }, spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] } } } },
      pod('untagged', 'nginx'),
      pod('pinned', 'nginx:1.27'),
      // Taken as is: the API server already defaulted what it puts in a review, so nothing is added here.
      {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'r',
          kind: { group: '', version: 'v1', kind: 'Pod' },
          resource: { group: '', version: 'v1', resource: 'pods' },
          namespace: 'shop',
          name: 'reviewed',
          operation: 'CREATE',
          userInfo: { username: 'alice' },
          object: pod('reviewed', 'nginx'),
        },
      },
    ];
    const file = await tempFile('resources.json', JSON.stringify({ apiVersion: 'v1', kind: 'List', items: resources }));
    const outcome = (run: Run) => JSON.parse(run.stdout).results.map((r: { resource: { name: string }; allowed: boolean }) => `${r.resource.name}:${r.allowed}`);

    const defaulted = await celgate(['apply', '--policies', policy, '-f', file, '-o', 'json']);
    expect(defaulted.stderr).toBe('');
    expect(outcome(defaulted)).toEqual(['unset:true', 'untagged:true', 'pinned:false', 'reviewed:false']);
    expect(JSON.parse(defaulted.stdout).results[2].status.message).toContain('containers must pull Always');

    const raw = await celgate(['apply', '--policies', policy, '-f', file, '-o', 'json', '--no-defaults']);
    expect(outcome(raw)).toEqual(['unset:false', 'untagged:false', 'pinned:false', 'reviewed:false']);
    expect(JSON.parse(raw.stdout).results[0].status.message).toContain('replicas must be set and at most 5');

    const help = await celgate(['apply', '--help']);
    expect(help.stdout).toMatch(/--no-defaults +evaluate the resources exactly as written/);
  }, 60_000);
});

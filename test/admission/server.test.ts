/**
 * The admission webhook over real HTTPS on 127.0.0.1: AdmissionReviews in, responses checked the
 * way kube-apiserver reads them (uid echo, allowed/status, warnings, base64 JSONPatch).
 */
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import fastJsonPatch from 'fast-json-patch';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, capturingLogger, reviewFor, startServer, testTls, type Running, type TestTls } from './helpers.js';

const { applyPatch } = fastJsonPatch;

const SOURCES = { policyPaths: [join(FIXTURES, 'policies')], dataPaths: [join(FIXTURES, 'data')] };

const labelledPod: V1Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'good', namespace: 'shop', labels: { team: 'payments' } },
  spec: { containers: [{ name: 'app', image: 'registry.example.com/shop/app:1.2.3' }] },
};
const unlabelledPod: V1Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'unlabelled', namespace: 'shop' },
  spec: { containers: [{ name: 'app', image: 'nginx:latest' }] },
};
const deployment = (name: string, replicas: number): V1Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'shop' },
  spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } } },
});

let tls: TestTls;
let webhook: Running;

beforeAll(async () => {
  tls = await testTls();
  webhook = await startServer(tls, { sources: SOURCES });
});
afterAll(async () => {
  await webhook?.stop();
});

describe('POST /validate', () => {
  it('allows a compliant Pod, echoing apiVersion, kind and request.uid, with the audit annotation', async () => {
    const review = reviewFor(labelledPod);
    const { status, json } = await webhook.post('/validate', review);
    expect(status).toBe(200);
    expect(json.apiVersion).toBe('admission.k8s.io/v1');
    expect(json.kind).toBe('AdmissionReview');
    // Kubernetes docs (extensible-admission-controllers): the response must echo request.uid.
    expect(json.response.uid).toBe(review.request.uid);
    expect(json.response.allowed).toBe(true);
    expect(json.response.status).toBeUndefined();
    expect(json.response.patch).toBeUndefined();
    expect(Object.values(json.response.auditAnnotations ?? {})).toContain('payments');
  });

  it('denies a non-compliant Pod with a status, and passes on Warn-binding messages as warnings', async () => {
    const { status, json } = await webhook.post('/validate', reviewFor(unlabelledPod));
    expect(status).toBe(200);
    expect(json.response.allowed).toBe(false);
    expect(json.response.status.code).toBe(403);
    expect(json.response.status.reason).toBe('Forbidden');
    expect(json.response.status.message).toContain('pod unlabelled has no team label');
    expect(json.response.warnings.join('\n')).toContain('images should be pinned, not :latest');
  });

  it('answers v1beta1 reviews in v1beta1', async () => {
    const review = reviewFor(labelledPod, {}, 'admission.k8s.io/v1beta1');
    const { json } = await webhook.post('/validate', review);
    expect(json.apiVersion).toBe('admission.k8s.io/v1beta1');
    expect(json.response).toMatchObject({ uid: review.request.uid, allowed: true });
  });

  it('reads params through the binding paramRef (params loaded from the data files)', async () => {
    const big = await webhook.post('/validate', reviewFor(deployment('big', 10)));
    expect(big.json.response.allowed).toBe(false);
    expect(big.json.response.status.message).toContain('replicas must be at most 5');
    const small = await webhook.post('/validate', reviewFor(deployment('small', 2)));
    expect(small.json.response.allowed).toBe(true);
  });

  it('answers a dryRun request exactly like the same request without dryRun', async () => {
    const real = await webhook.post('/validate', reviewFor(unlabelledPod, { uid: 'u-1' }));
    const dry = await webhook.post('/validate', reviewFor(unlabelledPod, { uid: 'u-1', dryRun: true }));
    expect(dry.json).toEqual(real.json);
  });
});

describe('POST /mutate', () => {
  it('answers a base64 JSONPatch that turns the submitted Pod into the mutated one', async () => {
    const review = reviewFor(labelledPod);
    const { json } = await webhook.post('/mutate', review);
    expect(json.response.allowed).toBe(true);
    expect(json.response.patchType).toBe('JSONPatch');
    const patch = JSON.parse(Buffer.from(json.response.patch, 'base64').toString('utf8'));
    const patched = applyPatch(structuredClone(labelledPod), patch, true, false).newDocument;
    expect(patched).toEqual({ ...labelledPod, metadata: { ...labelledPod.metadata, labels: { team: 'payments', 'celgate.dev/managed': 'true' } } });
  });

  it('creates the labels map when the Pod has none', async () => {
    const { json } = await webhook.post('/mutate', reviewFor(unlabelledPod));
    const patch = JSON.parse(Buffer.from(json.response.patch, 'base64').toString('utf8'));
    const patched = applyPatch(structuredClone(unlabelledPod), patch, true, false).newDocument as V1Pod;
    expect(patched.metadata!.labels).toEqual({ 'celgate.dev/managed': 'true' });
    // /mutate runs the mutating phase only: the validating deny of this Pod is /validate's business.
    expect(json.response.allowed).toBe(true);
  });

  it('answers no patch when no mutating policy matches', async () => {
    const { json } = await webhook.post('/mutate', reviewFor(deployment('small', 2)));
    expect(json.response).toEqual({ uid: expect.any(String), allowed: true });
  });
});

describe('bad input', () => {
  it('answers 400 with what is wrong: not JSON, not an AdmissionReview, no request.uid', async () => {
    const garbage = await webhook.post('/validate', '{"apiVersion": nope');
    expect(garbage.status).toBe(400);
    expect(garbage.json.message).toMatch(/not valid JSON/);

    const wrongKind = await webhook.post('/validate', { apiVersion: 'admission.k8s.io/v1', kind: 'Pod', request: {} });
    expect(wrongKind.status).toBe(400);
    expect(wrongKind.json.message).toMatch(/kind must be AdmissionReview, got "Pod"/);

    const wrongVersion = await webhook.post('/validate', { apiVersion: 'admission.k8s.io/v2', kind: 'AdmissionReview', request: {} });
    expect(wrongVersion.json.message).toMatch(/apiVersion must be one of admission.k8s.io\/v1/);

    const review = reviewFor(labelledPod);
    const { uid: _uid, ...noUid } = review.request;
    const missingUid = await webhook.post('/validate', { ...review, request: noUid });
    expect(missingUid.status).toBe(400);
    expect(missingUid.json.message).toMatch(/request\.uid is required/);

    const noRequest = await webhook.post('/mutate', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
    expect(noRequest.status).toBe(400);
    expect(noRequest.json.message).toMatch(/request is required/);

    const array = await webhook.post('/validate', '[]');
    expect(array.status).toBe(400);
  });

  it('answers 413 to a body over the 3 MiB default limit, and keeps serving', async () => {
    const huge = reviewFor({ ...labelledPod, metadata: { ...labelledPod.metadata, annotations: { blob: 'x'.repeat(4 * 1024 * 1024) } } });
    const { status, json } = await webhook.post('/validate', huge);
    expect(status).toBe(413);
    expect(json.message).toMatch(/larger than the limit of 3145728 bytes/);
    expect((await webhook.post('/validate', reviewFor(labelledPod))).json.response.allowed).toBe(true);
  });

  it('answers 404 for other routes and 415 for other content types', async () => {
    expect((await webhook.post('/admit', reviewFor(labelledPod))).status).toBe(404);
    expect((await webhook.post('/validate', 'x', { 'content-type': 'text/plain' })).status).toBe(415);
  });

  it('keeps a label named `constructor` as data instead of rejecting the review', async () => {
    const pod = { ...labelledPod, metadata: { ...labelledPod.metadata, labels: { team: 'x', constructor: 'y' } } };
    const { status, json } = await webhook.post('/validate', reviewFor(pod));
    expect(status).toBe(200);
    expect(json.response.allowed).toBe(true);
  });

  it('closes a connection whose request never finishes arriving (request timeout)', async () => {
    const slow = await startServer(tls, { sources: SOURCES, requestTimeoutMs: 300 });
    try {
      const port = Number(new URL(slow.url).port);
      const started = Date.now();
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, ca: tls.ca, servername: '127.0.0.1' }, () => {
          socket.write('POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"kind"');
        });
        let received = '';
        socket.on('data', (chunk) => (received += chunk));
        socket.on('close', () => resolve(received));
        socket.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1.1 408/);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await slow.stop();
    }
  });
});

describe('graceful shutdown', () => {
  it('answers reviews that still arrive while draining, and closes each such connection after its answer', async () => {
    // kube-apiserver talks HTTP/1.1 to webhooks and keeps connections alive (kubernetes/kubernetes
    // PR #82090); a replica leaving the Service must close them or it keeps receiving reviews over
    // them (kubernetes/kubernetes#127335).
    const draining = await startServer(tls, { sources: SOURCES });
    try {
      const port = Number(new URL(draining.url).port);
      const socket = connect({ host: '127.0.0.1', port, ca: tls.ca, servername: '127.0.0.1' });
      await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      let received = '';
      socket.on('data', (chunk) => (received += chunk));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      const body = JSON.stringify(reviewFor(labelledPod));
      const send = () => socket.write(`POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      const answers = async (count: number) => {
        for (let waited = 0; (received.match(/HTTP\/1\.1 \d{3} /g) ?? []).length < count && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
        return received.split(/(?=HTTP\/1\.1 \d{3} )/); // answers follow one another with no separator
      };

      send();
      const [before] = await answers(1);

      expect(before).toMatch(/^HTTP\/1\.1 200/);
      expect(before).toMatch(/^connection: keep-alive/im);

      await draining.server.drain(1000);
      expect((await draining.get('/readyz')).status).toBe(503);
      send();
      const [, during] = await answers(2);
      expect(during).toMatch(/^HTTP\/1\.1 200/);
      expect(during).toMatch(/^connection: close/im);
      expect(JSON.parse(during!.slice(during!.indexOf('\r\n\r\n') + 4)).response.allowed).toBe(true);
      await closed; // the server ended the connection after its answer
    } finally {
      await draining.stop();
    }
  });
});

describe('health, readiness and metrics', () => {
  it('reports not ready (503) until a policy set has loaded', async () => {
    const empty = await startServer(tls, {});
    try {
      expect((await empty.get('/healthz')).status).toBe(200);
      expect((await empty.get('/readyz')).status).toBe(503);
      const review = await empty.post('/validate', reviewFor(labelledPod));
      expect(review.status).toBe(503);
      expect(review.json.message).toMatch(/no policy set is loaded/);
      empty.server.use(webhook.server.current!);
      expect((await empty.get('/readyz')).status).toBe(200);
      expect((await empty.post('/validate', reviewFor(labelledPod))).json.response.allowed).toBe(true);
    } finally {
      await empty.stop();
    }
  });

  it('counts reviews by verdict and denying policy, and times them', async () => {
    await webhook.post('/validate', reviewFor(unlabelledPod));
    await webhook.post('/validate', reviewFor(labelledPod));
    await webhook.post('/validate', 'nope');
    const { status, text } = await webhook.get('/metrics');
    expect(status).toBe(200);
    expect(text).toMatch(/celgate_admission_reviews_total\{verdict="denied",policy="require-team-label"\} [1-9]/);
    expect(text).toMatch(/celgate_admission_reviews_total\{verdict="allowed",policy=""\} [1-9]/);
    expect(text).toMatch(/celgate_admission_reviews_total\{verdict="invalid",policy=""\} [1-9]/);
    expect(text).toMatch(/celgate_admission_review_duration_seconds_count\{endpoint="\/validate"\} [1-9]/);
    expect(text).toContain('# TYPE celgate_admission_evaluation_errors_total counter');
  });
});

describe('reload', () => {
  async function copyFixtures(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'celgate-admission-reload-'));
    await cp(join(FIXTURES, 'policies'), join(dir, 'policies'), { recursive: true });
    await cp(join(FIXTURES, 'data'), join(dir, 'data'), { recursive: true });
    return dir;
  }

  it('swaps in a changed set, and keeps the old one serving when the new one has problems', async () => {
    const dir = await copyFixtures();
    const { logger, lines } = capturingLogger();
    const running = await startServer(tls, { sources: { policyPaths: [join(dir, 'policies')], dataPaths: [join(dir, 'data')] }, logger });
    try {
      const policyFile = join(dir, 'policies', 'require-team-label.yaml');
      const original = await readFile(policyFile, 'utf8');
      await writeFile(policyFile, original.replace("has no team label'", "needs a team label'"));
      expect((await running.server.reload()).ok).toBe(true);
      const changed = await running.post('/validate', reviewFor(unlabelledPod));
      expect(changed.json.response.status.message).toContain('pod unlabelled needs a team label');

      // A broken expression and a YAML syntax error: the set is rejected with both positions.
      await writeFile(policyFile, original.replace("'team' in object.metadata.labels\"", "'team' in object.metadata.labels &&\""));
      await writeFile(join(dir, 'policies', 'broken.yaml'), 'apiVersion: v1\nkind: [unclosed\n');
      const rejected = await running.server.reload();
      expect(rejected.ok).toBe(false);
      const logged = lines().map((l) => String(l.msg));
      expect(logged.some((m) => m.startsWith(`${policyFile}:`) && /:\d+:\d+: /.test(m))).toBe(true);
      expect(logged.some((m) => m.startsWith(`${join(dir, 'policies', 'broken.yaml')}:`) && /YAML syntax error/.test(m))).toBe(true);
      expect(logged).toContain('policy set rejected; the previous set keeps serving');
      const still = await running.post('/validate', reviewFor(unlabelledPod));
      expect(still.json.response.status.message).toContain('pod unlabelled needs a team label');
    } finally {
      await running.stop();
    }
  });

  it('answers every request while reloads swap the set underneath', async () => {
    const dir = await copyFixtures();
    const running = await startServer(tls, { sources: { policyPaths: [join(dir, 'policies')], dataPaths: [join(dir, 'data')] } });
    try {
      const requests = Array.from({ length: 60 }, (_, i) => running.post('/validate', reviewFor(i % 2 ? labelledPod : unlabelledPod)));
      const reloads = Array.from({ length: 3 }, () => running.server.reload());
      const answers = await Promise.all(requests);
      expect((await Promise.all(reloads)).every((r) => r.ok)).toBe(true);
      answers.forEach((answer, i) => {
        expect(answer.status).toBe(200);
        expect(answer.json.response.allowed).toBe(i % 2 === 1);
      });
    } finally {
      await running.stop();
    }
  });

  it('watches the policy paths and reloads on change', async () => {
    const dir = await copyFixtures();
    const running = await startServer(tls, { sources: { policyPaths: [join(dir, 'policies')], dataPaths: [join(dir, 'data')] }, watch: true, watchDebounceMs: 50 });
    try {
      expect((await running.post('/validate', reviewFor(deployment('mid', 7)))).json.response.allowed).toBe(false);
      const params = join(dir, 'data', 'params.yaml');
      await writeFile(params, (await readFile(params, 'utf8')).replace('"5"', '"8"'));
      await writeFile(join(dir, 'policies', 'extra.yaml'), '# an empty file also counts as a change\n');
      const deadline = Date.now() + 5000;
      let allowed = false;
      while (!allowed && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        allowed = (await running.post('/validate', reviewFor(deployment('mid', 7)))).json.response.allowed;
      }
      expect(allowed).toBe(true);
    } finally {
      await running.stop();
    }
  });
});

describe('warning limits', () => {
  it('cuts warnings to the apiserver limits when their total exceeds 4096 characters', async () => {
    // Kubernetes docs (extensible-admission-controllers): "Individual warning messages over 256 characters
    // may be truncated by the API server ... If more than 4096 characters of warning messages are added
    // (from all sources), additional warning messages are ignored."
    const dir = await mkdtemp(join(tmpdir(), 'celgate-admission-warn-'));
    const validations = Array.from({ length: 20 }, (_, i) => `    - expression: "false"\n      message: "w${i} ${'x'.repeat(400)}"`).join('\n');
    await writeFile(
      join(dir, 'warn.yaml'),
      `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: chatty}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}]
  validations:
${validations}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: chatty}
spec: {policyName: chatty, validationActions: [Warn]}
`,
    );
    const running = await startServer(tls, { sources: { policyPaths: [dir] } });
    try {
      const { json } = await running.post('/validate', reviewFor(labelledPod));
      expect(json.response.allowed).toBe(true);
      const warnings: string[] = json.response.warnings;
      expect(warnings.length).toBeGreaterThan(0);
      expect(warnings.length).toBeLessThanOrEqual(16);
      for (const warning of warnings) expect(warning.length).toBeLessThanOrEqual(256);
    } finally {
      await running.stop();
    }
  });
});

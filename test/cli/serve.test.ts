/**
 * `celgate serve` as a process (the built binary; `npx tsc -p tsconfig.json` first): it creates
 * certificates when there are none, prints its URL, serves AdmissionReviews, and stops on SIGTERM.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { FIXTURES, reviewFor } from '../admission/helpers.js';

const pod: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'shop' }, spec: { containers: [{ name: 'a', image: 'a:1' }] } };

interface Started {
  child: ChildProcess;
  url: string;
  /** The ext_authz HTTP listener's URL, when it was started. */
  authzUrl?: string;
  stderr: () => string;
  stdout: () => string;
  exited: Promise<number | null>;
}

function serve(args: string[]): Promise<Started> {
  const child = spawn('node', ['bin/celgate.js', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not print its URL; stderr: ${stderr}`)), 40000);
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      // Every face prints its lines once listening (all at once); the ext_authz face comes last.
      const match = /admission webhook: (https:\/\/\S+)/.exec(stdout);
      if (match && /ext_authz (gRPC|HTTP): |ext_authz: off/.test(stdout)) {
        clearTimeout(timer);
        const authz = /ext_authz HTTP: (https:\/\/[^/\s]+)/.exec(stdout);
        resolve({ child, url: match[1]!, ...(authz ? { authzUrl: authz[1]! } : {}), stderr: () => stderr, stdout: () => stdout, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${stderr}`));
    });
  });
}

function run(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', ['bin/celgate.js', ...args], { timeout: 15000 }, (error, _stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stderr }));
  });
}

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile('openssl', args, (error) => (error ? reject(error) : resolve())));
}

describe('celgate serve', () => {
  it('generates certificates into --certs, serves the webhook over them, and stops on SIGTERM', async () => {
    const work = await mkdtemp(join(tmpdir(), 'celgate-serve-'));
    const certs = join(work, 'certs');
    const decisionLog = join(work, 'decisions.jsonl');
    const started = await serve(['--policies', join(FIXTURES, 'policies'), '--params', join(FIXTURES, 'data'), '--port', '0', '--host', '127.0.0.1', '--certs', certs, '--authz-http-port', '0', '--authz-grpc-port', '0', '--log-decisions', decisionLog]);
    const client = new Agent({ connect: { ca: await readFile(join(certs, 'ca.crt')) } });
    try {
      expect(started.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(started.stderr()).toMatch(/generated a serving certificate/);
      const ready = await request(`${started.url}/readyz`, { dispatcher: client });
      expect(ready.statusCode).toBe(200);
      await ready.body.dump();
      const review = reviewFor(pod);
      const response = await request(`${started.url}/validate`, { method: 'POST', dispatcher: client, headers: { 'content-type': 'application/json' }, body: JSON.stringify(review) });
      const body = (await response.body.json()) as { response: { uid: string; allowed: boolean; status: { message: string } } };
      expect(body.response.uid).toBe(review.request.uid);
      expect(body.response.allowed).toBe(false);
      expect(body.response.status.message).toContain('pod p has no team label');
      // The ext_authz HTTP face runs beside the webhook on the same certificate. These policies
      // hold no AuthorizationPolicy or AccessPolicy, and with none applying Istio allows.
      expect(started.authzUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const check = await request(`${started.authzUrl}/api/items`, { dispatcher: client, headers: { 'x-request-id': 'serve-test-1' } });
      expect(check.statusCode).toBe(200);
      expect(check.headers['x-celgate-decision-id']).toBe('serve-test-1');
      await check.body.dump();
    } finally {
      await client.close();
      started.child.kill('SIGTERM');
    }
    expect(await started.exited).toBe(0);
    expect(started.stderr()).toMatch(/shutting down/);
    // --log-decisions wrote both decisions in the shape `celgate replay` reads; replayed under
    // the same policies, nothing changes.
    const lines = (await readFile(decisionLog, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { type?: string; id?: string });
    expect(lines.some((line) => line.type === 'admission')).toBe(true);
    expect(lines.some((line) => line.id === 'serve-test-1')).toBe(true);
    const replay = await run(['replay', '--log', decisionLog, '--policies', join(FIXTURES, 'policies'), '--cluster', join(FIXTURES, 'data', 'params.yaml')]);
    expect(replay).toMatchObject({ code: 0 });
  }, 60_000);

  it('uses --tls-cert/--tls-key as given (an openssl self-signed certificate)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'celgate-serve-openssl-'));
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', key, '-out', cert]);
    const started = await serve(['--policies', join(FIXTURES, 'policies'), '--params', join(FIXTURES, 'data'), '--port', '0', '--host', '127.0.0.1', '--tls-cert', cert, '--tls-key', key, '--authz-http-port', 'off', '--authz-grpc-port', 'off']);
    const client = new Agent({ connect: { ca: await readFile(cert) } });
    try {
      const health = await request(`${started.url}/healthz`, { dispatcher: client });
      expect(health.statusCode).toBe(200);
      await health.body.dump();
      expect(existsSync(join(dir, 'ca.crt'))).toBe(false);
    } finally {
      await client.close();
      started.child.kill('SIGINT');
    }
    expect(await started.exited).toBe(0);
  }, 60_000);

  it('decides ext_authz checks for the workload named by --authz-namespace and --authz-workload-label', async () => {
    // Istio docs (authorization-policy): a policy applies to the workloads in its namespace that
    // its `selector` matches; ext_authz checks do not carry the workload, so serve is told it.
    const work = await mkdtemp(join(tmpdir(), 'celgate-serve-workload-'));
    await writeFile(
      join(work, 'deny-admin.yaml'),
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny-admin, namespace: shop}\n' +
        'spec:\n  selector: {matchLabels: {app: cart}}\n  action: DENY\n  rules: [{to: [{operation: {paths: [/admin]}}]}]\n',
    );
    const started = await serve(['--policies', work, '--port', '0', '--host', '127.0.0.1', '--certs', join(work, 'certs'), '--authz-http-port', '0', '--authz-grpc-port', 'off', '--authz-namespace', 'shop', '--authz-workload-label', 'app=cart']);
    const client = new Agent({ connect: { ca: await readFile(join(work, 'certs', 'ca.crt')) } });
    try {
      const denied = await request(`${started.authzUrl}/admin`, { dispatcher: client });
      expect(denied.statusCode).toBe(403);
      await denied.body.dump();
      const allowed = await request(`${started.authzUrl}/items`, { dispatcher: client, headers: { 'x-request-id': 'items-1' } });
      expect(allowed.statusCode).toBe(200);
      await allowed.body.dump();
      // Without --log-decisions, access decisions are logged on stdout, and a quiet server's
      // lines show up without waiting for more (batches go out at most 200 ms late).
      await new Promise((resolve) => setTimeout(resolve, 600));
      const decisions = started.stdout().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { id: string; decision: { allowed: boolean } });
      expect(decisions.find((line) => line.id === 'items-1')?.decision.allowed).toBe(true);
    } finally {
      await client.close();
      started.child.kill('SIGTERM');
    }
    expect(await started.exited).toBe(0);
    expect((await run(['serve', '--authz-workload-label', 'cart'])).stderr).toMatch(/--authz-workload-label: expected KEY=VALUE, got 'cart'/);
  }, 60_000);

  it('logs no decisions with --log-decisions off', async () => {
    const work = await mkdtemp(join(tmpdir(), 'celgate-serve-nolog-'));
    const started = await serve(['--policies', join(FIXTURES, 'policies'), '--port', '0', '--host', '127.0.0.1', '--certs', join(work, 'certs'), '--authz-http-port', '0', '--authz-grpc-port', 'off', '--log-decisions', 'off']);
    const client = new Agent({ connect: { ca: await readFile(join(work, 'certs', 'ca.crt')) } });
    try {
      const check = await request(`${started.authzUrl}/items`, { dispatcher: client });
      expect(check.statusCode).toBe(200);
      await check.body.dump();
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(started.stdout()).toMatch(/ext_authz HTTP: /);
      expect(started.stdout()).not.toMatch(/^\{/m);
    } finally {
      await client.close();
      started.child.kill('SIGTERM');
    }
    expect(await started.exited).toBe(0);
  }, 60_000);

  it('exits 2 on usage errors', async () => {
    expect((await run(['serve', '--port', 'abc'])).code).toBe(2);
    expect((await run(['serve', '--tls-cert', 'x.crt'])).stderr).toMatch(/--tls-cert and --tls-key go together/);
    const missing = await run(['serve', '--tls-cert', '/nonexistent/x.crt', '--tls-key', '/nonexistent/x.key', '--port', '0']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/x\.crt/);
  }, 60_000);
});

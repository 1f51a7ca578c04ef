/**
 * `celgate check` (the built binary), the ext_authz HTTP server and the ext_authz gRPC server
 * decide the same cases alike: one engine, three faces.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { startAuthzGrpcServer, startAuthzHttpServer } from '../../src/authz/index.js';
import { BACKEND, cases, makeFixture, type Case, type Fixture } from '../authz/fixture.js';
import { check, checkClient, checkRequestFor } from '../authz/envoy-client.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function celgate(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('node', ['bin/celgate.js', ...args], { timeout: 15000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

interface Result {
  id: string;
  allowed: boolean;
  status: number;
  headers: Record<string, string>;
  headersToRemove: string[];
  route: unknown;
  matched: Array<{ policy: string; kind: string; action: string; rule: string }>;
  reason: string;
  explain?: Array<{ policy: string; check: string; outcome: string }>;
}

describe('celgate check', () => {
  let fixture: Fixture;
  let all: Case[];
  let requestsFile: string;

  beforeAll(async () => {
    fixture = await makeFixture();
    all = await cases(fixture);
    requestsFile = join(fixture.dir, 'requests.json');
    await writeFile(requestsFile, JSON.stringify({ requests: all.map((c) => c.request) }, null, 2));
  });

  it('decides like the HTTP and gRPC servers on every case', async () => {
    const run = await celgate(['check', '--policies', fixture.policyFile, '--requests', requestsFile, '--output', 'json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1); // some cases are denied
    const results = (JSON.parse(run.stdout) as { results: Result[] }).results;
    expect(results.map((r) => [r.allowed, r.status])).toEqual(all.map((c) => [c.allowed, c.status]));

    const http = await startAuthzHttpServer({ policies: fixture.policies, trustForwardedClientCert: true, destination: { namespace: 'shop' }, decisionLog: false });
    const grpc = await startAuthzGrpcServer({ policies: fixture.policies, decisionLog: false });
    const client = checkClient(grpc.address);
    try {
      for (const [i, c] of all.entries()) {
        const headers: Record<string, string> = { ...c.request.request.headers, host: c.request.request.host! };
        if (c.request.source?.principal) headers['x-forwarded-client-cert'] = `By=${BACKEND};URI=${c.request.source.principal}`;
        const viaHttp = await request(`http://${http.address}${c.request.request.path}`, { method: c.request.request.method as 'GET', headers });
        await viaHttp.body.text();
        const viaGrpc = await check(client, checkRequestFor(c.request));
        const cli = results[i]!;
        expect({ name: c.name, http: viaHttp.statusCode, grpc: viaGrpc.status?.code ?? 0 }).toEqual({
          name: c.name,
          http: cli.allowed ? 200 : cli.status,
          grpc: cli.allowed ? 0 : cli.status === 401 ? 16 : 7,
        });
        if (cli.allowed) {
          // The same upstream headers in all three faces.
          for (const [name, value] of Object.entries(cli.headers)) expect(viaHttp.headers[name]).toBe(value);
          const grpcHeaders = Object.fromEntries((viaGrpc.ok_response?.headers ?? []).map((h) => [h.header.key, h.header.value]));
          expect(grpcHeaders).toEqual(cli.headers);
          expect(viaGrpc.ok_response?.headers_to_remove ?? []).toEqual(cli.headersToRemove);
        }
      }
    } finally {
      client.close();
      await http.close();
      await grpc.close();
    }
  });

  it('prints the JSON shape with matched rules, and exits 0 when everything is allowed', async () => {
    const file = join(fixture.dir, 'one.yaml');
    await writeFile(file, `request:\n  method: GET\n  path: /api/items\n  id: r-1\nsource:\n  principal: spiffe://cluster.local/ns/shop/sa/frontend\ndestination:\n  namespace: shop\n`);
    const run = await celgate(['check', '-p', fixture.policyFile, '-r', file, '-o', 'json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      results: [
        {
          id: 'r-1',
          allowed: true,
          status: 200,
          headers: {},
          headersToRemove: [],
          route: null,
          matched: [{ policy: 'shop/frontend-reads', kind: 'AuthorizationPolicy', action: 'ALLOW', rule: expect.any(String) }],
          reason: expect.any(String),
        },
      ],
    });
  });

  it('prints text, and with --explain the per-policy steps', async () => {
    const run = await celgate(['check', '--policies', fixture.policyFile, '--requests', requestsFile, '--explain']);
    expect(run.code).toBe(1);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^ALLOW case-1 GET \/public\/index\.html -> 200: /);
    expect(lines.find((l) => l.startsWith('DENY  case-5'))).toMatch(/GET \/admin\/users -> 403: /);
    expect(run.stdout).toMatch(/^ {4}shop\/no-admin.*matched/m);
    const json = JSON.parse((await celgate(['check', '-p', fixture.policyFile, '-r', requestsFile, '-o', 'json', '--explain'])).stdout) as { results: Result[] };
    expect(json.results[4]!.explain!.some((s) => s.policy === 'shop/no-admin' && s.outcome === 'matched')).toBe(true);
  });

  it('names file:line:col for a malformed request and exits 2', async () => {
    const file = join(fixture.dir, 'bad.yaml');
    await writeFile(file, 'requests:\n- request:\n    method: GET\n    path: /x\n- request:\n    method: GET\n    paht: /y\n');
    const run = await celgate(['check', '--policies', fixture.policyFile, '--requests', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${file}:7:11: unknown field 'paht'`);
    expect(run.stderr).toContain('(requests[1].request.paht)');
  });

  it('reports policy load errors as file:line:col and exits 2', async () => {
    const file = join(fixture.dir, 'broken-policy.yaml');
    await writeFile(file, 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: x, namespace: shop}\nspec:\n  action: MAYBE\n');
    const run = await celgate(['check', '--policies', file, '--requests', requestsFile]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`${file.replace(/[.]/g, '\\.')}:5:\\d+: `));
  });

  it('exits 2 on usage errors', async () => {
    const runs = await Promise.all([
      celgate(['check']),
      celgate(['check', '--policies', fixture.policyFile]),
      celgate(['check', '-p', fixture.policyFile, '-r', requestsFile, '-o', 'xml']),
      celgate(['check', '-p', fixture.policyFile, '-r', join(fixture.dir, 'missing.json')]),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2]);
    expect(runs[3]!.stderr).toMatch(/cannot read .*missing\.json: ENOENT/);
    expect((await celgate(['check', '--help'])).stdout).toMatch(/^Usage: celgate check/);
  });
});

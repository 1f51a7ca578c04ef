/**
 * The shop mesh demo (examples/shop): its checked-in Istio/celgate YAML loads cleanly, and a
 * short real run (`node examples/shop/demo.js`, which starts 5 applications, 5 sidecars and an
 * ingress gateway as child processes on 127.0.0.1) routes, denies, survives a killed endpoint
 * and leaves no process behind. Needs dist/ (the suite's pretest builds it).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadResources } from '../../src/policy/index.js';
import { loadProxyConfig, ProxyConfigError } from '../../src/proxy/config.js';

const EXAMPLE = join(process.cwd(), 'examples', 'shop');

interface CallResult {
  sent: number;
  ok: number;
  failed: number;
  statuses: Record<string, number>;
}

interface Summary {
  ok: boolean;
  runDir: string;
  pids: number[];
  calls: Record<string, CallResult>;
  versions: Record<string, Record<string, number>>;
  served: Record<string, { total: number; ok: number; failed: number }>;
  routes: Record<string, Record<string, number>>;
  denials: Array<{ service: string; status: number; policy: string; request: string; peer: string; count: number }>;
  retries: number;
  lostIdempotent: number;
  wronglyAllowed: number;
  timeline: { victim: string; killedAt?: string; restartedAt?: string; observations: string[] };
  unexpectedExits: string[];
}

describe('examples/shop: the checked-in configuration', () => {
  test('the mesh YAML loads with no issues', async () => {
    const { resources, issues } = await loadResources([join(EXAMPLE, 'mesh')]);
    expect(issues).toEqual([]);
    const kinds = resources.map((r) => `${r.type.kind}/${r.name}`).sort();
    expect(kinds).toEqual(
      expect.arrayContaining([
        'AccessPolicy/inventory-read-only',
        'AuthorizationPolicy/payment-charge',
        'AuthorizationPolicy/shopping-from-ingress',
        'DestinationRule/inventory',
        'Gateway/shop-gateway',
        'PeerAuthentication/default',
        'ServiceEntry/inventory',
        'VirtualService/inventory',
        'WorkloadEntry/inventory-v2',
      ]),
    );
  });

  test('every port in the checked-in YAML is in the documented block 20000-20049, each used once per role', () => {
    const files = [...readdirSync(join(EXAMPLE, 'mesh')).map((f) => join(EXAMPLE, 'mesh', f)), ...readdirSync(join(EXAMPLE, 'proxies')).map((f) => join(EXAMPLE, 'proxies', f))];
    const listenerPorts: number[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      // The demo shifts exactly the numbers 20000-20049; no other 2xxxx number may appear.
      for (const match of text.matchAll(/\b2\d{4}\b/g)) expect(Number(match[0])).toBeLessThan(20050);
      if (file.includes('proxies')) for (const match of text.matchAll(/port: (2\d{4})/g)) listenerPorts.push(Number(match[1]));
    }
    expect(new Set(listenerPorts).size).toBe(listenerPorts.length);
  });

  test('each ProxyConfig fails only for want of the certificates and logs the demo creates', () => {
    for (const file of readdirSync(join(EXAMPLE, 'proxies'))) {
      let error: unknown;
      try {
        loadProxyConfig(join(EXAMPLE, 'proxies', file));
      } catch (caught) {
        error = caught;
      }
      // Checked-in copies point at ../certs and ../logs, which exist only in the demo's run directory.
      expect(error).toBeInstanceOf(ProxyConfigError);
      for (const issue of (error as ProxyConfigError).issues) expect(issue.message).toMatch(/no such file|does not exist/);
    }
  });
});

describe('examples/shop: npm run demo', () => {
  let exitCode: number | null;
  let stdout = '';
  let stderr = '';
  let summary: Summary;
  const out = mkdtempSync(join(tmpdir(), 'celgate-shop-test-'));

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  beforeAll(async () => {
    const jsonFile = join(out, 'summary.json');
    // A low rate: the test shares two cores with the rest of the suite.
    const child = spawn(process.execPath, [join(EXAMPLE, 'demo.js'), '--duration', '8', '--rate', '40', '--summary-json', jsonFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    exitCode = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    if (existsSync(jsonFile)) summary = JSON.parse(readFileSync(jsonFile, 'utf8')) as Summary;
  }, 90_000);

  test('exits 0 and prints the summary', () => {
    if (exitCode !== 0) throw new Error(`demo exited ${exitCode}\n--- stdout\n${stdout}\n--- stderr\n${stderr.slice(-3000)}`);
    expect(summary.ok).toBe(true);
    expect(stdout).toContain('Lost idempotent requests: 0');
    expect(stdout).toContain('Denied by policy');
    // Progress goes to stderr as plain lines when it is not a terminal.
    expect(stderr).toMatch(/\[#+\.*\]\s+\d+s\/8s/);
  });

  test('user calls went through, and none of the idempotent ones was lost', () => {
    expect(summary.calls['cart']!.sent).toBeGreaterThan(100);
    expect(summary.calls['cart']!.failed).toBe(0);
    expect(summary.calls['cart-beta']!.failed).toBe(0);
    expect(summary.lostIdempotent).toBe(0);
    expect(summary.calls['checkout']!.ok).toBeGreaterThan(0);
    expect(summary.served['payment']!.total).toBeGreaterThan(0);
  });

  test('inventory is split 90/10 by weight and beta users always get v2', () => {
    // Istio docs (virtual-service, HTTPRouteDestination): "weight: The proportion of traffic to be
    // forwarded to the service version." The default route is 90 v1 / 10 v2.
    const split = summary.routes['shop/inventory/default']!;
    const total = (split['v1'] ?? 0) + (split['v2'] ?? 0);
    expect(total).toBeGreaterThan(100);
    const v2Share = (split['v2'] ?? 0) / total;
    expect(v2Share).toBeGreaterThan(0.02);
    expect(v2Share).toBeLessThan(0.3);
    // HTTPMatchRequest headers exact: x-user: beta is routed to subset v2 only.
    expect(Object.keys(summary.routes['shop/inventory/beta']!)).toEqual(['v2']);
    expect(Object.keys(summary.versions['cart-beta']!)).toEqual(['v2']);
  });

  test('the policies refused every forbidden call, and the sidecars logged why', () => {
    expect(summary.wronglyAllowed).toBe(0);
    // Istio docs (authorization-policy): an ALLOW policy denies requests that match none of its rules.
    const paymentDenials = summary.denials.filter((d) => d.service === 'payment' && d.status === 403);
    expect(paymentDenials.reduce((n, d) => n + d.count, 0)).toBeGreaterThan(0);
    expect(paymentDenials.map((d) => d.peer)).toContain('spiffe://cluster.local/ns/shop/sa/inventory');
    const readOnly = summary.denials.filter((d) => d.service === 'inventory');
    expect(readOnly.length).toBeGreaterThan(0);
    for (const d of readOnly) expect(d).toMatchObject({ status: 405, policy: 'shop/inventory-read-only', request: 'POST /api/v1/items' });
    // PeerAuthentication STRICT: a plain-text connection to a sidecar is closed.
    expect(summary.calls['plaintext-payment']!.ok).toBe(summary.calls['plaintext-payment']!.sent);
  });

  test('the killed inventory endpoint was noticed, and it was restarted', () => {
    expect(summary.timeline.killedAt).toBeDefined();
    expect(summary.timeline.restartedAt).toBeDefined();
    expect(summary.timeline.observations.join('; ')).toMatch(/ejected|unhealthy/);
    expect(summary.unexpectedExits).toEqual([]);
  });

  test('no process of the run is left behind', () => {
    expect(summary.pids.length).toBeGreaterThanOrEqual(12);
    const leftovers = summary.pids.filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(summary.runDir);
      } catch {
        return false;
      }
    });
    expect(leftovers).toEqual([]);
  });
});

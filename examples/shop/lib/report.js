// Reading what the sidecars recorded (admin /metrics, access logs) and printing the summary.
import { readFileSync } from 'node:fs';
import { CALLS, percentile } from './traffic.js';
import { WORKLOADS } from './topology.js';

/** Prometheus text → [{name, labels, value}] (enough of the format for celgate's own metrics). */
export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2].replace(/\\(.)/g, '$1');
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

function sum(samples, name, filter = () => true) {
  return samples.filter((s) => s.name === name && filter(s.labels)).reduce((total, s) => total + s.value, 0);
}

/** The JSON lines of an access log (lines that do not parse are counted, not thrown). */
export function readAccessLog(file) {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { entries: [], unreadable: 0 };
  }
  const entries = [];
  let unreadable = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      entries.push(JSON.parse(line));
    } catch {
      unreadable++;
    }
  }
  return { entries, unreadable };
}

/** `outbound|80|v1|inventory.shop.svc.cluster.local` → `v1` ('' when the cluster has no subset). */
function subsetOf(cluster) {
  return typeof cluster === 'string' ? (cluster.split('|')[2] ?? '') : '';
}

const ms = (value) => (Number.isFinite(value) ? `${value < 10 ? value.toFixed(1) : value.toFixed(0)} ms` : 'n/a');
const pct = (part, whole) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : 'n/a');
const pad = (text, width) => String(text).padEnd(width);
const num = (value, width = 6) => String(value).padStart(width);

/**
 * Everything the summary needs, computed once: the test and the exit code read the same numbers
 * the text shows.
 */
export function analyse({ driver, metrics, logs, timeline }) {
  const inbound = new Map();
  const denials = new Map();
  for (const w of WORKLOADS) {
    const served = { total: 0, ok: 0, failed: 0 };
    for (const e of logs[w.name]?.entries ?? []) {
      if (e.listener !== 'inbound') continue;
      // Access log lines: decision is "allowed", "denied" or null; policy is the deciding policy, if one.
      if (e.decision === 'denied') {
        const policy = e.policy ?? 'no ALLOW rule matched (deny by default)';
        const key = `${w.service}\u0000${e.status}\u0000${policy}\u0000${e.method} ${e.path}\u0000${e.peer ?? 'no peer certificate'}`;
        denials.set(key, (denials.get(key) ?? 0) + 1);
        continue;
      }
      if (e.path === '/healthz') continue;
      served.total++;
      if (e.status >= 200 && e.status < 300) served.ok++;
      else served.failed++;
    }
    inbound.set(w.name, served);
  }

  // inventory routing, as shopping's sidecar decided it (reads only: writes are refused upstream).
  const routes = new Map();
  for (const e of logs.shopping?.entries ?? []) {
    if (e.listener !== 'outbound' || !String(e.authority).startsWith('inventory.') || e.method !== 'GET') continue;
    const route = e.route ?? 'none';
    const bySubset = routes.get(route) ?? new Map();
    bySubset.set(subsetOf(e.cluster), (bySubset.get(subsetOf(e.cluster)) ?? 0) + 1);
    routes.set(route, bySubset);
  }

  const shopping = metrics.shopping ?? [];
  const retries = sum(shopping, 'celgate_proxy_retries_total');
  const retriesByDestination = Object.fromEntries(shopping.filter((s) => s.name === 'celgate_proxy_retries_total').map((s) => [s.labels.destination, s.value]));
  const ejections = shopping.filter((s) => s.name === 'celgate_proxy_outlier_ejections_total' && s.value > 0).map((s) => ({ cluster: s.labels.cluster, count: s.value }));
  const overflows = sum(shopping, 'celgate_proxy_circuit_breaker_overflows_total');
  let attemptsOverOne = 0;
  for (const e of logs.shopping?.entries ?? []) if (e.attempts > 1) attemptsOverOne++;

  const userLatencies = driver.latencies;
  return {
    inbound,
    denials: [...denials.entries()].map(([key, count]) => {
      const [service, status, policy, request, peer] = key.split('\u0000');
      return { service, status: Number(status), policy, request, peer, count };
    }),
    routes,
    retries,
    retriesByDestination,
    retriedRequests: attemptsOverOne,
    ejections,
    overflows,
    p50: percentile(userLatencies, 50),
    p99: percentile(userLatencies, 99),
    max: userLatencies.length ? Math.max(...userLatencies) : NaN,
    lostIdempotent: driver.lostIdempotent(),
    wronglyAllowed: driver.wronglyAllowed(),
    unreadableLogLines: Object.values(logs).reduce((n, l) => n + l.unreadable, 0),
    timeline,
  };
}

/** The summary as text (what `npm run demo` prints and the README shows). */
export function formatSummary({ options, driver, analysis, unexpectedExits, warmUpCalls = 0 }) {
  const a = analysis;
  const out = [];
  const line = (text = '') => out.push(text);
  line(`celgate shop mesh: ${options.durationS} s at ${options.rate} req/s on 127.0.0.1:${options.base}-${options.base + 49}`);
  line('5 workloads + 5 sidecars + 1 ingress gateway (celgate proxy), mutual TLS with SPIFFE identities');
  line();
  line('User calls (load driver → ingress gateway → shopping)');
  for (const kind of ['cart', 'cart-beta', 'checkout']) {
    const r = driver.results.get(kind);
    const versions = driver.versions.get(kind);
    const split = versions ? [...versions.entries()].sort().map(([v, n]) => `${v} ${n}`).join(', ') : '';
    line(`  ${pad(CALLS[kind].label, 34)} ${num(r.sent)} sent ${num(r.ok)} ok ${num(r.failed, 4)} failed   inventory ${split}`);
  }
  line(`  latency p50 ${ms(a.p50)}, p99 ${ms(a.p99)}, max ${ms(a.max)}`);
  line();
  line(`Requests served, per service and version (sidecar inbound access logs; health checks left out, ${warmUpCalls} warm-up calls in)`);
  for (const w of WORKLOADS) {
    const s = a.inbound.get(w.name);
    // Said only when the numbers show it: the victim's errors, and retries enough to cover them.
    const covered = w.name === a.timeline.victim && a.retries >= s.failed ? '; shopping retried them' : '';
    const failed = s.failed > 0 ? `   (${s.failed} answered with an error${w.name === a.timeline.victim ? ' while its app was down' : ''}${covered})` : '';
    line(`  ${pad(w.service, 10)} ${pad(w.version, 3)} ${pad(w.name, 15)} ${num(s.total)}${failed}`);
  }
  line();
  line('inventory routing by shopping\'s sidecar (VirtualService shop/inventory)');
  for (const [route, bySubset] of [...a.routes.entries()].sort()) {
    const total = [...bySubset.values()].reduce((x, y) => x + y, 0);
    const parts = [...bySubset.entries()].sort().map(([subset, n]) => `${subset || '(no subset)'} ${n} (${pct(n, total)})`).join(', ');
    const configured = route.endsWith('/default') ? '   configured 90/10' : route.endsWith('/beta') ? '   x-user: beta → v2' : '';
    line(`  ${pad(route, 20)} ${parts}${configured}`);
  }
  line();
  line('Denied by policy (sidecar inbound access logs)');
  const denials = [...a.denials].sort((x, y) => y.count - x.count);
  if (denials.length === 0) line('  none');
  for (const d of denials) line(`  ${pad(d.service, 10)} ${d.status} ×${num(d.count, 4)}  ${pad(d.request, 24)} from ${d.peer}: ${d.policy}`);
  const plaintext = driver.results.get('plaintext-payment');
  line(`  payment    mTLS ×${num(plaintext.ok, 4)}  plain-text connections closed by PeerAuthentication shop/default (STRICT)`);
  line('  answers seen by the callers:');
  for (const kind of Object.keys(CALLS).filter((k) => CALLS[k].attack)) {
    const r = driver.results.get(kind);
    line(`    ${pad(CALLS[kind].label, 44)} ${num(r.ok, 4)}/${r.sent} refused as expected (${CALLS[kind].expect}${r.answer ? ` "${r.answer}"` : ''})`);
  }
  line();
  line('Resilience (shopping\'s sidecar)');
  const t = a.timeline;
  line(`  ${t.victim} app killed (SIGKILL) at ${t.killedAt ?? '-'} s, restarted at ${t.restartedAt ?? '-'} s`);
  line(`  seen by shopping's sidecar: ${t.observations.length ? t.observations.join('; ') : 'no state change observed'}`);
  line(`  retries ${a.retries} (${a.retriedRequests} requests needed more than one attempt)`);
  line(`  outlier ejections ${a.ejections.reduce((n, e) => n + e.count, 0)}${a.ejections.length ? ` (${a.ejections.map((e) => `${e.cluster} ×${e.count}`).join(', ')})` : ''}`);
  line(`  circuit-breaker overflows ${a.overflows}`);
  line();
  const checkout = driver.results.get('checkout');
  line(`Lost idempotent requests: ${a.lostIdempotent}${a.lostIdempotent === 0 ? ' (every GET /api/v1/cart answered 200)' : ''}`);
  if (checkout.failed > 0) line(`Failed checkouts (POST, not retried on 5xx): ${checkout.failed} (first: ${checkout.sample})`);
  for (const kind of Object.keys(CALLS)) {
    const r = driver.results.get(kind);
    if (r.failed > 0 && kind !== 'checkout') line(`  ${CALLS[kind].label}: ${r.failed} unexpected answers, e.g. ${r.sample}`);
  }
  if (a.wronglyAllowed > 0) line(`Forbidden calls that got through to an application: ${a.wronglyAllowed}`);
  for (const exit of unexpectedExits) line(`Unexpected: ${exit}`);
  if (a.unreadableLogLines > 0) line(`Access log lines that were not JSON: ${a.unreadableLogLines}`);
  return out.join('\n');
}

/** The summary's numbers as plain JSON. */
export function summaryData({ driver, analysis, unexpectedExits, warmUpCalls }) {
  const a = analysis;
  const toObject = (map) => Object.fromEntries([...map.entries()].map(([k, v]) => [k, v instanceof Map ? toObject(v) : v]));
  return {
    calls: Object.fromEntries([...driver.results.entries()].map(([kind, r]) => [kind, { sent: r.sent, ok: r.ok, failed: r.failed, statuses: toObject(r.statuses) }])),
    versions: toObject(driver.versions),
    served: toObject(a.inbound),
    routes: toObject(a.routes),
    denials: a.denials,
    retries: a.retries,
    ejections: a.ejections,
    overflows: a.overflows,
    latencyMs: { p50: a.p50, p99: a.p99, max: a.max },
    lostIdempotent: a.lostIdempotent,
    wronglyAllowed: a.wronglyAllowed,
    timeline: a.timeline,
    unexpectedExits,
    warmUpCalls,
  };
}

#!/usr/bin/env node
// The companion proxy against haproxy on this machine, same upstream, same load generator, in
// one run: requests/s, p50/p99, proxy CPU µs per request (process CPU time), RSS, for plain HTTP
// and the two-proxy mTLS path, with and without in-process authorization and with a remote
// ext_authz hop; added median latency at a fixed rate; the in-process authorization cost.
// Every server runs in its own process; the load generator (autocannon) runs here.
// Usage: npm run build && node bench/proxy/index.js [--duration 5 --runs 3 --connections 32
//        --rate 1500 --only celgate,mtls-celgate]
// celgate proxies run with the V8 flags docs/proxy.md recommends (bench/node-options.js); BENCH_PROXY_NODE_OPTIONS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") applies to the celgate proxies.
import { PROXY_NODE_OPTIONS } from '../node-options.js';
import { fork, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { compileAccessPolicies, decideAccess } from '../../dist/engine/access/index.js';
import { loadResources } from '../../dist/policy/index.js';
import { accessRequestFor, createAuthorizer } from '../../dist/proxy/server/authorize.js';
import { accessRequests } from '../authz/workload.js';
import {
  BENCH_DESTINATION,
  BENCH_PATH,
  DESTINATIONS,
  ENDPOINTS_PER_DESTINATION,
  NAMESPACE,
  ROUTES,
  TRUST_DOMAIN,
  clientMesh,
  haproxyConfig,
  hostOf,
  principalOf,
  proxyConfigYaml,
  routeTableMesh,
  serverHost,
  serverMesh,
  writeCertificates,
  writeFile,
} from './mesh.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    rate: { type: 'string', default: '1500' },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const DURATION = Number(values.duration);
const RUNS = Number(values.runs);
const CONNECTIONS = Number(values.connections);
const RATE = Number(values.rate);
for (const [name, value] of Object.entries({ duration: DURATION, runs: RUNS, connections: CONNECTIONS, rate: RATE })) {
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`--${name}: expected a positive number, got '${values[name]}'`);
    process.exit(2);
  }
}
const BARS = { plainVsHaproxy: 0.33, mtlsVsHaproxy: 0.6, cpuPlainUs: 120, cpuMtlsAuthzUs: 160, authzUs: 10, addedLatencyMs: 0.7, rssIdleMB: 80, rssLoadMB: 128, errors: 0 };
const CELGATE_BIN = fileURLToPath(new URL('../../bin/celgate.js', import.meta.url));
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

const median = (xs) => {
  const sorted = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)];
};
const percentile = (xs, p) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
};
const round = (x, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : NaN);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- haproxy -------------------------------------------------------------------------
function haproxyVersion() {
  const probe = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  return probe.error ? undefined : probe.stdout.split('\n')[0];
}

/** haproxy from the Debian package: installed with apt-get when it is not on PATH. */
function ensureHaproxy() {
  let version = haproxyVersion();
  if (version) return version;
  console.log('haproxy is not on PATH: running `apt-get install -y haproxy` (Debian package)...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let install = spawnSync('apt-get', ['install', '-y', 'haproxy'], { stdio: 'inherit', env });
  if (install.status !== 0 && !install.error) {
    console.log('apt-get install failed; running `apt-get update` and trying again...');
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    install = spawnSync('apt-get', ['install', '-y', 'haproxy'], { stdio: 'inherit', env });
  }
  version = haproxyVersion();
  if (!version) {
    const why = install.error ? `apt-get could not run (${install.error.message})` : `apt-get exited with ${install.status}`;
    console.error(`bench/proxy: haproxy is needed as the baseline and could not be installed: ${why}. Install it with \`apt-get install -y haproxy\` (as root) and run again.`);
    process.exit(1);
  }
  return version;
}

// ---- processes ------------------------------------------------------------------------
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

const children = [];

/** A bench server process (servers.js): resolves with its pid, ports and a stats() call. */
async function startServer(...args) {
  const child = fork(new URL('./servers.js', import.meta.url), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(() => child.connected && child.send('stop'));
  const ports = await new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m.ports));
    child.once('exit', (code) => reject(new Error(`bench server ${args[0]} exited with ${code}`)));
  });
  return {
    pid: child.pid,
    ports,
    stats: () =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve(m.stats));
        child.send('stats');
      }),
  };
}

/** `celgate proxy --config FILE` as its own process; resolves once its log says it started (with the bound ports). */
async function startCelgate(name, configFile) {
  const execArgv = [...PROXY_NODE_OPTIONS, ...(process.env.BENCH_PROXY_NODE_OPTIONS ? process.env.BENCH_PROXY_NODE_OPTIONS.split(' ').filter(Boolean) : [])];
  const child = spawn(process.execPath, [...execArgv, CELGATE_BIN, 'proxy', '--config', configFile, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const started = new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (output.length < 20_000) output += `${line}\n`;
        try {
          const entry = JSON.parse(line);
          if (entry.msg === 'proxy started') resolve({ ports: entry.ports, admin: entry.admin });
          else if (entry.level >= 50) console.error(`[${name}] ${entry.msg}`);
        } catch {
          /* not a log line */
        }
      }
    });
    child.stderr.on('data', (chunk) => {
      if (output.length < 20_000) output += chunk;
    });
    child.once('exit', (code) => reject(new Error(`celgate proxy ${name} exited with ${code} before it started:\n${output}`)));
    setTimeout(() => reject(new Error(`celgate proxy ${name} did not start within 30 s:\n${output}`)), 30_000).unref();
  });
  children.push(async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    // Finishing lets --cpu-prof write its profile.
    await Promise.race([exited, sleep(10_000)]);
  });
  const { ports, admin } = await started;
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`celgate proxy ${name} exited (${code ?? signal}) during the bench:\n${output.slice(-4000)}`);
  });
  return { name, pid: child.pid, ports, admin, exited: () => new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve))) };
}

async function startHaproxy(configFile, ports) {
  const check = spawnSync('haproxy', ['-c', '-f', configFile], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy rejects the generated config ${configFile}:\n${check.stdout}${check.stderr}`);
  const child = spawn('haproxy', ['-f', configFile, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr.on('data', (chunk) => (errors += chunk));
  children.push(() => child.exitCode === null && child.kill('SIGTERM'));
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}: ${errors}`);
    const up = await Promise.all(ports.map(canConnect));
    if (up.every(Boolean)) return { name: 'haproxy', pid: child.pid };
    await sleep(100);
  }
  throw new Error(`haproxy did not listen on ${ports.join(', ')} within 10 s: ${errors}`);
}

let stopping = false;
async function stopAll() {
  stopping = true;
  await Promise.all(children.reverse().map((stop) => stop()));
  await sleep(200);
}

// ---- /proc -----------------------------------------------------------------------------
/** User + system CPU time of a process, in microseconds. */
function cpuMicros(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name: state is field 3, utime 14 and stime 15 (1-based, proc(5)).
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
}

function rssMB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) / 1024 : NaN;
}

/** Samples the RSS of `pids` every 100 ms; stop() returns the maximum of each. */
function sampleRss(pids) {
  const max = Object.fromEntries(pids.map((pid) => [pid, rssMB(pid)]));
  const timer = setInterval(() => {
    for (const pid of pids) max[pid] = Math.max(max[pid], rssMB(pid));
  }, 100);
  return () => {
    clearInterval(timer);
    for (const pid of pids) max[pid] = Math.max(max[pid], rssMB(pid));
    return max;
  };
}

// ---- load -----------------------------------------------------------------------------
function autocannonRun(target, seconds) {
  return autocannon({
    url: `http://127.0.0.1:${target.port}${BENCH_PATH}`,
    headers: { host: target.host, accept: 'application/json', 'user-agent': 'bench/1.0' },
    connections: CONNECTIONS,
    pipelining: 1,
    duration: seconds,
  });
}

/** What the errors were: socket errors, timeouts and each non-2xx status. */
function errorKinds(result) {
  const kinds = {};
  if (result.errors) kinds.socket = result.errors;
  if (result.timeouts) kinds.timeout = result.timeouts;
  for (const [status, { count }] of Object.entries(result.statusCodeStats ?? {})) if (!status.startsWith('2')) kinds[status] = count;
  return kinds;
}

/** One case at full load: throughput, latency, errors, CPU per request and max RSS of its proxies. */
async function measure(target) {
  await autocannonRun(target, 1); // warm-up (JIT, connection pools), not counted
  const pids = target.processes.map((p) => p.pid);
  const cpuBefore = pids.map(cpuMicros);
  const statsBefore = target.stats ? await target.stats() : undefined;
  const rss = sampleRss(pids);
  const result = await autocannonRun(target, DURATION);
  const maxRss = rss();
  const cpuAfter = pids.map(cpuMicros);
  const statsAfter = target.stats ? await target.stats() : undefined;
  const total = result.requests.total;
  const cpu = {};
  const memory = {};
  target.processes.forEach((p, i) => {
    cpu[p.name] = (cpuAfter[i] - cpuBefore[i]) / total;
    memory[p.name] = maxRss[p.pid];
  });
  return {
    requestsPerSecond: total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    errorKinds: errorKinds(result),
    cpuUsPerRequest: cpu,
    maxRssMB: memory,
    ...(statsBefore ? { remoteChecksPerRequest: (statsAfter.checks - statsBefore.checks) / total } : {}),
  };
}

/** Latencies (ms) of requests started at a fixed rate for `seconds` through `pool`. */
async function pacedBlock(pool, host, seconds) {
  const latencies = [];
  const interval = 1000 / RATE;
  const total = Math.floor(RATE * seconds);
  const pending = [];
  let errors = 0;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = start + i * interval - performance.now();
    if (wait > 1) await sleep(wait);
    const t0 = performance.now();
    pending.push(
      pool.request({ method: 'GET', path: BENCH_PATH, headers: { host } }).then(
        async ({ statusCode, body }) => {
          await body.dump();
          latencies.push(performance.now() - t0);
          if (statusCode !== 200) errors++;
        },
        () => errors++,
      ),
    );
  }
  await Promise.all(pending);
  return { latencies, errors };
}

/** Median latency of each target at RATE req/s, in alternating 0.5 s blocks so load drift hits all alike. */
async function fixedRate(targets) {
  const pools = targets.map((t) => new Pool(`http://127.0.0.1:${t.port}`, { connections: 16, pipelining: 1 }));
  const latencies = targets.map(() => []);
  const errors = targets.map(() => 0);
  for (let block = 0; block < 8; block++) {
    const order = targets.map((_, i) => i);
    if (block % 2) order.reverse();
    for (const i of order) {
      const result = await pacedBlock(pools[i], targets[i].host, 0.5);
      if (block >= 2) latencies[i].push(...result.latencies); // the first blocks warm up
      errors[i] += result.errors;
    }
  }
  await Promise.all(pools.map((p) => p.close()));
  return Object.fromEntries(targets.map((t, i) => [t.name, { p50: median(latencies[i]), p99: percentile(latencies[i], 0.99), errors: errors[i] }]));
}

// ---- in-process authorization ----------------------------------------------------------
async function inProcessAuthorization(policyFile) {
  const { resources, issues } = await loadResources([policyFile]);
  const problems = [...issues];
  const policies = compileAccessPolicies(resources, problems);
  if (problems.length > 0) throw new Error(JSON.stringify(problems));
  const workload = { name: 'api', namespace: NAMESPACE, serviceAccount: 'api', labels: { app: 'api' }, trustDomain: TRUST_DOMAIN, principal: principalOf('api') };
  // What the server sidecar's inbound listener asks for the bench request over mTLS.
  const input = {
    id: 'bench-1',
    method: 'GET',
    path: BENCH_PATH,
    authority: serverHost('authz'),
    scheme: 'https',
    protocol: 'HTTP/1.1',
    headers: { host: serverHost('authz'), accept: 'application/json', 'user-agent': 'bench/1.0', 'x-request-id': 'bench-1', 'x-forwarded-client-cert': `By=${principalOf('api')};URI=${principalOf('frontend')}` },
    source: { address: '127.0.0.1', port: 40000, principal: principalOf('frontend') },
    destination: { address: '127.0.0.1', port: 15006 },
    mtls: true,
  };
  const authorizer = createAuthorizer({ mode: 'in-process', failOpen: false }, workload, policies);
  const first = await authorizer.decide(input);
  if (!first.allowed) throw new Error(`the bench request is denied in-process (${first.reason}); the mesh policies and BENCH_PATH disagree`);
  const time = async (fn, iterations) => {
    const rounds = [];
    for (let r = 0; r < 5; r++) {
      const start = performance.now();
      for (let i = 0; i < iterations; i++) await fn(i);
      rounds.push(((performance.now() - start) * 1000) / iterations);
    }
    return median(rounds);
  };
  const mix = accessRequests();
  return {
    policies: policies.policies.length,
    // The proxy's call: AccessRequest built from the listener's input, engine decision, decision object.
    authorizerUs: await time(() => authorizer.decide(input), 20_000),
    engineUs: await time(() => decideAccess(policies, accessRequestFor(input, workload)), 20_000),
    // bench/authz's 2,000 requests over 10 namespaces (77.8% allowed).
    engineMixUs: await time((i) => decideAccess(policies, mix[i % mix.length]), 20_000),
  };
}

// ---- setup -----------------------------------------------------------------------------
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
const haproxy = ensureHaproxy();
console.log(`celgate proxy bench — ${machine}; ${haproxy}`);
console.log(`load: autocannon, ${CONNECTIONS} keep-alive connections, ${DURATION}s per case (after 1s warm-up), ${RUNS} runs (medians); fixed rate ${RATE}/s for latency; load average at start ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);

const dir = mkdtempSync(join(tmpdir(), 'celgate-bench-proxy-'));
let exitCode = 0;
try {
  const certs = writeCertificates(dir);
  const endpointCount = DESTINATIONS * ENDPOINTS_PER_DESTINATION;
  const upstream = await startServer('upstream', String(endpointCount));
  const benchEndpoints = upstream.ports.slice(BENCH_DESTINATION * ENDPOINTS_PER_DESTINATION, (BENCH_DESTINATION + 1) * ENDPOINTS_PER_DESTINATION);
  const appPort = upstream.ports[0];
  const application = `http://127.0.0.1:${appPort}`;

  // The plain proxy: outbound, 100 routes, 10 destinations, 50 endpoints, no identity (plain text upstream).
  const plainMesh = routeTableMesh(join(dir, 'plain'), upstream.ports);
  const policyFile = serverMesh(join(dir, 'server'));
  const plain = await startCelgate('plain', writeFile(dir, 'plain.yaml', proxyConfigYaml({ name: 'plain', serviceAccount: 'frontend', meshDir: join(dir, 'plain'), listener: { mode: 'outbound' }, authorization: { mode: 'none' } })));
  await sleep(1500);
  const idleRssMB = rssMB(plain.pid);
  console.log(`plain proxy: ${ROUTES} routes, ${DESTINATIONS} destinations, ${endpointCount} endpoints (${plainMesh}); idle RSS ${round(idleRssMB, 1)} MB`);

  const extAuthz = await startServer('ext-authz', policyFile, NAMESPACE);
  const server = async (name, authorization) =>
    startCelgate(`server-${name}`, writeFile(dir, `server-${name}.yaml`, proxyConfigYaml({ name: `api-${name}`, serviceAccount: 'api', meshDir: join(dir, 'server'), identity: certs.api, listener: { mode: 'inbound', application }, authorization })));
  const serverNone = await server('none', { mode: 'none' });
  const serverAuthz = await server('authz', { mode: 'in-process' });
  const serverRemote = await server('remote', { mode: 'http', url: `http://127.0.0.1:${extAuthz.ports[0]}`, timeout: '200ms' });

  const haproxyPorts = { plain: await freePort(), mtls: await freePort() };
  const haproxyFile = writeFile(dir, 'haproxy.cfg', haproxyConfig({ plainPort: haproxyPorts.plain, mtlsPort: haproxyPorts.mtls, endpointPorts: benchEndpoints, appPort, certs }));
  const haproxyProcess = await startHaproxy(haproxyFile, [haproxyPorts.plain, haproxyPorts.mtls]);

  clientMesh(join(dir, 'client'), { none: serverNone.ports.inbound, authz: serverAuthz.ports.inbound, remote: serverRemote.ports.inbound, haproxy: haproxyPorts.mtls });
  const client = await startCelgate('client', writeFile(dir, 'client.yaml', proxyConfigYaml({ name: 'frontend', serviceAccount: 'frontend', meshDir: join(dir, 'client'), identity: certs.frontend, listener: { mode: 'outbound' }, authorization: { mode: 'none' } })));

  const bare = await startServer('bare-proxy', benchEndpoints.join(','));
  const benchHost = hostOf(BENCH_DESTINATION);
  const extAuthzProcess = { name: 'ext-authz', pid: extAuthz.pid };
  const allTargets = [
    { name: 'direct', label: 'direct to the upstream', port: benchEndpoints[0], host: benchHost, processes: [] },
    { name: 'haproxy', label: 'haproxy plain', port: haproxyPorts.plain, host: benchHost, processes: [haproxyProcess] },
    { name: 'node-bare', label: 'bare node:http+undici proxy', port: bare.ports[0], host: benchHost, processes: [{ name: 'bare', pid: bare.pid }] },
    { name: 'celgate', label: 'celgate plain (routes, LB)', port: plain.ports.outbound, host: benchHost, processes: [plain] },
    { name: 'celgate-authz', label: 'celgate plain + authz', port: serverAuthz.ports.inbound, host: serverHost('authz'), processes: [serverAuthz] },
    { name: 'celgate-remote', label: 'celgate plain + ext_authz', port: serverRemote.ports.inbound, host: serverHost('remote'), processes: [serverRemote, extAuthzProcess], stats: extAuthz.stats },
    { name: 'mtls-haproxy', label: 'mTLS celgate→haproxy', port: client.ports.outbound, host: serverHost('haproxy'), processes: [client, haproxyProcess] },
    { name: 'mtls-celgate', label: 'mTLS celgate→celgate', port: client.ports.outbound, host: serverHost('none'), processes: [client, serverNone] },
    { name: 'mtls-celgate-authz', label: 'mTLS celgate→celgate+authz', port: client.ports.outbound, host: serverHost('authz'), processes: [client, serverAuthz] },
    { name: 'mtls-celgate-remote', label: 'mTLS celgate→celgate+ext_authz', port: client.ports.outbound, host: serverHost('remote'), processes: [client, serverRemote, extAuthzProcess], stats: extAuthz.stats },
  ];
  const baselines = new Set(['direct', 'haproxy', 'node-bare', 'mtls-haproxy']);
  const only = values.only ? new Set(values.only.split(',').map((s) => s.trim())) : undefined;
  for (const name of only ?? []) {
    if (!allTargets.some((t) => t.name === name)) throw new Error(`--only: unknown case '${name}' (cases: ${allTargets.map((t) => t.name).join(', ')})`);
  }
  const targets = allTargets.filter((t) => !only || only.has(t.name) || baselines.has(t.name));
  const latencyNames = ['direct', 'haproxy', 'celgate', 'mtls-haproxy', 'mtls-celgate-authz'].filter((n) => targets.some((t) => t.name === n));

  // Every case answers 200 before any load (a wrong config shows here, not as a throughput number).
  for (const t of targets) {
    const pool = new Pool(`http://127.0.0.1:${t.port}`);
    const { statusCode, body } = await pool.request({ method: 'GET', path: BENCH_PATH, headers: { host: t.host } });
    const text = await body.text();
    await pool.close();
    if (statusCode !== 200) throw new Error(`${t.name}: GET ${BENCH_PATH} (host ${t.host}) answered ${statusCode}: ${text.slice(0, 300)}`);
  }

  const authz = await inProcessAuthorization(policyFile);
  console.log(`in-process authorization (${authz.policies} policies): ${round(authz.authorizerUs, 2)} µs per proxied request (engine alone ${round(authz.engineUs, 2)} µs; bench/authz mix ${round(authz.engineMixUs, 2)} µs)\n`);

  // ---- runs ------------------------------------------------------------------------------
  const runs = [];
  for (let run = 0; run < RUNS; run++) {
    const results = {};
    for (const t of targets) results[t.name] = await measure(t);
    const latency = await fixedRate(latencyNames.map((n) => targets.find((t) => t.name === n)));
    runs.push({ results, latency, load: loadavg()[0] });
    console.log(`run ${run + 1}/${RUNS}: ${targets.map((t) => `${t.name} ${Math.round(results[t.name].requestsPerSecond)}/s${t.processes.length ? ` (${Math.round(Math.max(...Object.values(results[t.name].maxRssMB)))} MB)` : ''}`).join(', ')}; load average ${loadavg()[0].toFixed(1)}`);
  }

  // ---- report ----------------------------------------------------------------------------
  const med = (f) => median(runs.map(f));
  const rows = targets.map((t) => {
    const baseline = t.name.startsWith('mtls-') ? 'mtls-haproxy' : 'haproxy';
    return {
      name: t.name,
      label: t.label,
      rps: med((r) => r.results[t.name].requestsPerSecond),
      p50: med((r) => r.results[t.name].p50),
      p99: med((r) => r.results[t.name].p99),
      errors: runs.reduce((sum, r) => sum + r.results[t.name].errors, 0),
      errorKinds: runs.reduce((all, r) => {
        for (const [kind, n] of Object.entries(r.results[t.name].errorKinds)) all[kind] = (all[kind] ?? 0) + n;
        return all;
      }, {}),
      vsHaproxy: t.name === 'direct' || t.name === baseline ? NaN : med((r) => r.results[t.name].requestsPerSecond / r.results[baseline].requestsPerSecond),
      vsDirect: t.name === 'direct' ? NaN : med((r) => r.results[t.name].requestsPerSecond / r.results.direct.requestsPerSecond),
      cpu: Object.fromEntries(t.processes.map((p) => [p.name, med((r) => r.results[t.name].cpuUsPerRequest[p.name])])),
      rss: Object.fromEntries(t.processes.map((p) => [p.name, med((r) => r.results[t.name].maxRssMB[p.name])])),
      remoteChecksPerRequest: t.stats ? med((r) => r.results[t.name].remoteChecksPerRequest) : undefined,
    };
  });
  console.log(`\nmedians of ${RUNS} runs (ratios: median of the ratios measured in each run; the mTLS cases' haproxy is celgate client sidecar → haproxy)`);
  console.log('case                            req/s   p50 ms  p99 ms  errors  vs haproxy  vs direct  CPU µs/req by process        max RSS MB by process');
  for (const r of rows) {
    const cpu = Object.entries(r.cpu).map(([n, v]) => `${n} ${round(v, 0)}`).join(', ');
    const rss = Object.entries(r.rss).map(([n, v]) => `${n} ${round(v, 0)}`).join(', ');
    const ratio = (x) => (Number.isFinite(x) ? `${round(x)}x` : '-');
    let extra = r.remoteChecksPerRequest !== undefined ? `  (ext_authz checks per request ${round(r.remoteChecksPerRequest, 3)})` : '';
    if (r.errors > 0) extra += `  errors: ${Object.entries(r.errorKinds).map(([k, n]) => `${k} x${n}`).join(', ')}`;
    console.log(
      `${r.label.padEnd(30)} ${String(Math.round(r.rps)).padStart(7)} ${String(round(r.p50, 1)).padStart(7)} ${String(round(r.p99, 1)).padStart(7)} ${String(r.errors).padStart(7)} ${ratio(r.vsHaproxy).padStart(11)} ${ratio(r.vsDirect).padStart(10)}  ${cpu.padEnd(28)} ${rss}${extra}`,
    );
  }
  const row = (name) => rows.find((r) => r.name === name);
  const lat = (name) => ({ p50: med((r) => r.latency[name]?.p50), p99: med((r) => r.latency[name]?.p99), errors: runs.reduce((s, r) => s + (r.latency[name]?.errors ?? 0), 0) });
  const proxiesOnPath = { direct: 0, haproxy: 1, celgate: 1, 'mtls-haproxy': 2, 'mtls-celgate-authz': 2 };
  console.log(`\nfixed rate ${RATE}/s (paced undici client, 16 keep-alive connections, alternating 0.5 s blocks; medians of ${RUNS} runs)`);
  console.log('path                      p50 ms   p99 ms   added p50 per proxy');
  const added = {};
  for (const name of latencyNames) {
    const l = lat(name);
    const perProxy = proxiesOnPath[name] ? med((r) => (r.latency[name].p50 - r.latency.direct.p50) / proxiesOnPath[name]) : NaN;
    added[name] = perProxy;
    console.log(`${name.padEnd(24)} ${String(round(l.p50, 3)).padStart(7)}  ${String(round(l.p99, 3)).padStart(7)}   ${Number.isFinite(perProxy) ? `${round(perProxy, 3)} ms` : '-'}${l.errors ? `  (${l.errors} errors)` : ''}`);
  }

  const celgateRows = rows.filter((r) => !baselines.has(r.name));
  const bareRow = row('node-bare');
  const maxLoadRss = Math.max(...celgateRows.flatMap((r) => Object.entries(r.rss).filter(([n]) => n !== 'ext-authz').map(([, v]) => v)));
  const celgateErrors = celgateRows.reduce((s, r) => s + r.errors, 0) + latencyNames.filter((n) => !baselines.has(n)).reduce((s, n) => s + lat(n).errors, 0);
  const results = {
    plainVsHaproxy: row('celgate') ? round(row('celgate').vsHaproxy) : NaN,
    mtlsVsHaproxy: row('mtls-celgate') ? round(row('mtls-celgate').vsHaproxy) : NaN,
    mtlsAuthzVsHaproxy: row('mtls-celgate-authz') ? round(row('mtls-celgate-authz').vsHaproxy) : NaN,
    mtlsRemoteVsHaproxy: row('mtls-celgate-remote') ? round(row('mtls-celgate-remote').vsHaproxy) : NaN,
    cpuPlainUs: row('celgate') ? round(row('celgate').cpu.plain, 1) : NaN,
    cpuMtlsAuthzUs: row('mtls-celgate-authz') ? round(row('mtls-celgate-authz').cpu['server-authz'], 1) : NaN,
    cpuMtlsClientUs: row('mtls-celgate') ? round(row('mtls-celgate').cpu.client, 1) : NaN,
    cpuHaproxyPlainUs: round(row('haproxy').cpu.haproxy, 1),
    bareNodeVsHaproxy: round(row('node-bare').vsHaproxy),
    cpuBareNodeUs: round(row('node-bare').cpu.bare, 1),
    cpuHaproxyMtlsUs: round(row('mtls-haproxy').cpu.haproxy, 1),
    authzUs: round(authz.authorizerUs, 2),
    addedLatencyPlainMs: round(added.celgate, 3),
    addedLatencyMtlsMs: round(added['mtls-celgate-authz'], 3),
    addedLatencyHaproxyMs: round(added.haproxy, 3),
    rssIdleMB: round(idleRssMB, 1),
    rssLoadMB: round(maxLoadRss, 1),
    errors: celgateErrors,
    remoteChecksPerRequest: row('celgate-remote') ? round(row('celgate-remote').remoteChecksPerRequest, 3) : NaN,
  };
  const bar = (label, value, limit, ok, unit = '') => {
    const verdict = !Number.isFinite(value) ? 'not measured' : ok ? 'ok' : 'MISSED';
    if (verdict === 'MISSED') exitCode = 1;
    console.log(`${label.padEnd(58)} ${String(value).padStart(8)}${unit} (bar ${limit}${unit})  ${verdict}`);
  };
  console.log('\nbars');
  bar('plain throughput vs haproxy', results.plainVsHaproxy, `>= ${BARS.plainVsHaproxy}`, results.plainVsHaproxy >= BARS.plainVsHaproxy, 'x');
  console.log(`  (the bare node:http + undici proxy: ${round(bareRow.vsHaproxy)}x haproxy, ${round(bareRow.cpu.bare, 1)} µs per request)`);
  bar('two-proxy mTLS vs celgate→haproxy', results.mtlsVsHaproxy, `>= ${BARS.mtlsVsHaproxy}`, results.mtlsVsHaproxy >= BARS.mtlsVsHaproxy, 'x');
  console.log(`  (with in-process authz on the server side ${results.mtlsAuthzVsHaproxy}x, with the ext_authz hop ${results.mtlsRemoteVsHaproxy}x)`);
  bar('CPU per request, plain proxy', results.cpuPlainUs, `<= ${BARS.cpuPlainUs}`, results.cpuPlainUs <= BARS.cpuPlainUs, ' µs');
  bar('CPU per request, mTLS server sidecar + 50-policy authz', results.cpuMtlsAuthzUs, `<= ${BARS.cpuMtlsAuthzUs}`, results.cpuMtlsAuthzUs <= BARS.cpuMtlsAuthzUs, ' µs');
  console.log(`  (client sidecar ${results.cpuMtlsClientUs} µs; haproxy plain ${results.cpuHaproxyPlainUs} µs, TLS server side ${results.cpuHaproxyMtlsUs} µs)`);
  bar('in-process authorization per request', results.authzUs, `<= ${BARS.authzUs}`, results.authzUs <= BARS.authzUs, ' µs');
  bar(`added median latency per proxy at ${RATE}/s, plain`, results.addedLatencyPlainMs, `<= ${BARS.addedLatencyMs}`, results.addedLatencyPlainMs <= BARS.addedLatencyMs, ' ms');
  bar(`added median latency per proxy at ${RATE}/s, mTLS pair + authz`, results.addedLatencyMtlsMs, `<= ${BARS.addedLatencyMs}`, results.addedLatencyMtlsMs <= BARS.addedLatencyMs, ' ms');
  bar(`RSS idle (${ROUTES} routes, ${DESTINATIONS} destinations, ${endpointCount} endpoints)`, results.rssIdleMB, `<= ${BARS.rssIdleMB}`, results.rssIdleMB <= BARS.rssIdleMB, ' MB');
  bar('RSS under load (max over celgate proxies)', results.rssLoadMB, `<= ${BARS.rssLoadMB}`, results.rssLoadMB <= BARS.rssLoadMB, ' MB');
  bar('errors under load (non-2xx + socket errors, all runs)', results.errors, `= ${BARS.errors}`, results.errors === BARS.errors);
  console.log(`\nload average at the end ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`\n${JSON.stringify({ machine, haproxy, duration: DURATION, runs: RUNS, connections: CONNECTIONS, rate: RATE, ...results, cases: Object.fromEntries(rows.map((r) => [r.name, { rps: Math.round(r.rps), p50: r.p50, p99: r.p99, errors: r.errors }])) })}`);
} catch (error) {
  console.error(`bench/proxy: ${error.stack ?? error}`);
  exitCode = 1;
} finally {
  await stopAll();
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
}
process.exit(exitCode);

#!/usr/bin/env node
// ext_authz throughput, latency, memory and in-process decision rate for celgate, against a
// bare fastify server (answers 200) and a bare grpc-js Check server (answers OK) measured in
// the same run. Servers run in child processes; the load generator runs here.
// Usage: npm run build && node bench/authz/index.js [--duration S] [--rounds N] [--rate R] [--connections N]
import { fork } from 'node:child_process';
import { connect as http2Connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { SERVER_NODE_OPTIONS } from '../node-options.js';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { loadResources } from '../../dist/policy/index.js';
import { compileAccessPolicies, decideAccess } from '../../dist/engine/access/index.js';
import { authorizationService } from '../../dist/authz/index.js';
import { accessRequests, writePolicies } from './workload.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '500' },
    connections: { type: 'string', default: '64' },
    sessions: { type: 'string', default: '4' },
    inflight: { type: 'string', default: '32' },
    log: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const DURATION = Number(values.duration);
const ROUNDS = Number(values.rounds);
const RATE = Number(values.rate);
const CONNECTIONS = Number(values.connections);
const SESSIONS = Number(values.sessions);
const INFLIGHT = Number(values.inflight);
const LOG = values.log ? 'log' : 'nolog';
const BARS = { throughput: 0.6, addedLatencyMs: 0.2, decisionsPerSecond: 200_000, rssMB: 120 };

console.log(`server V8 flags (webhooks/deployment.yaml NODE_OPTIONS): ${SERVER_NODE_OPTIONS.join(' ') || 'none'}`);

const policyFile = writePolicies();
const requests = accessRequests();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

// ---- in-process decisions -------------------------------------------------------------
async function inProcess() {
  const { resources, issues } = await loadResources([policyFile]);
  const problems = [...issues];
  const policies = compileAccessPolicies(resources, problems);
  if (problems.length > 0) throw new Error(JSON.stringify(problems));
  const expected = [];
  for (const r of requests) expected.push(await decideAccess(policies, r));
  const rates = [];
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    let n = 0;
    while (performance.now() - start < 600) {
      for (const r of requests) {
        const d = decideAccess(policies, r);
        if (d instanceof Promise) await d;
      }
      n += requests.length;
    }
    rates.push(n / ((performance.now() - start) / 1000));
  }
  return { policies: policies.policies.length, allowedShare: expected.filter((d) => d.allowed).length / expected.length, decisionsPerSecond: median(rates), expected };
}

// ---- servers in child processes ------------------------------------------------------
async function startServer(mode) {
  // Every server runs with the V8 flags celgate ships with (SERVER_NODE_OPTIONS), baselines too;
  // BENCH_SERVER_NODE_OPTIONS (e.g. --cpu-prof) adds to them.
  const execArgv = [...SERVER_NODE_OPTIONS, ...(process.env.BENCH_SERVER_NODE_OPTIONS ? process.env.BENCH_SERVER_NODE_OPTIONS.split(' ') : [])];
  const child = fork(new URL('./server.js', import.meta.url), [mode, policyFile, LOG], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  const port = await new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`${mode} server exited ${code}`)));
  });
  return {
    port,
    rssMB: () =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve(round(m.rss / 2 ** 20, 1)));
        child.send('rss');
      }),
    stop: async () => {
      child.send('stop');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/**
 * Bare server and celgate side by side: decisions verified, then each loaded alone for
 * throughput, then both measured at a fixed rate in alternating blocks so that drift in the
 * machine's load (other processes share it) hits both alike.
 */
async function compare(bareMode, authzMode, face) {
  const bare = await startServer(bareMode);
  const authz = await startServer(authzMode);
  try {
    const mismatches = await face.verify(authz.port, engine.expected);
    // Throughput in ROUNDS alternating slices (bare, celgate, celgate, bare, ...): the machine's
    // background load drifts, and each pair's ratio is taken from neighbouring slices.
    const slices = { bare: [], authz: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? ['authz', 'bare'] : ['bare', 'authz'];
      for (const which of order) slices[which].push(await face.load(which === 'bare' ? bare.port : authz.port, DURATION / ROUNDS));
    }
    const ratios = slices.authz.map((a, i) => a.requestsPerSecond / slices.bare[i].requestsPerSecond);
    const bareLoad = { ...slices.bare[0], requestsPerSecond: median(slices.bare.map((l) => l.requestsPerSecond)) };
    const authzLoad = { ...slices.authz[0], requestsPerSecond: median(slices.authz.map((l) => l.requestsPerSecond)), ratio: median(ratios), ratios };
    const bareRss = await bare.rssMB();
    const authzRss = await authz.rssMB();
    const clients = { bare: face.client(bare.port), authz: face.client(authz.port) };
    const latencies = { bare: [], authz: [] };
    for (let block = 0; block < 8; block++) {
      const order = block % 2 ? ['authz', 'bare'] : ['bare', 'authz'];
      for (const which of order) {
        const block_ = await pacedBlock(clients[which].send, 0.5);
        if (block >= 2) latencies[which].push(...block_); // the first blocks warm up
      }
    }
    await clients.bare.close();
    await clients.authz.close();
    return {
      bare: { ...bareLoad, rssMB: bareRss, p50: median(latencies.bare) },
      authz: { ...authzLoad, rssMB: authzRss, p50: median(latencies.authz), mismatches },
    };
  } finally {
    await bare.stop();
    await authz.stop();
  }
}

/** Latencies (ms) of requests started at a fixed rate for `seconds`. */
async function pacedBlock(send, seconds) {
  const latencies = [];
  const interval = 1000 / RATE;
  const total = Math.floor(RATE * seconds);
  const pending = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = start + i * interval - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const t0 = performance.now();
    pending.push(send(i).then(() => latencies.push(performance.now() - t0)));
  }
  await Promise.all(pending);
  return latencies;
}

// ---- HTTP ----------------------------------------------------------------------------
/** An AccessRequest as Envoy's http_service would forward it. */
function httpRequest(r) {
  // Envoy's x-forwarded-client-cert: By= names the destination workload (so its namespace),
  // URI= the client's certificate when it presented one.
  const xfcc = `By=${r.destination.principal}${r.source.principal ? `;URI=${r.source.principal}` : ''}`;
  const headers = { ...r.request.headers, host: r.request.host, 'x-forwarded-for': r.source.address, 'x-forwarded-client-cert': xfcc };
  return { method: r.request.method, path: r.request.path, headers };
}
const httpRequests = requests.map(httpRequest);

async function httpVerify(port, expected) {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 4 });
  let mismatches = 0;
  for (let i = 0; i < httpRequests.length; i++) {
    const { statusCode, body } = await pool.request(httpRequests[i]);
    await body.dump();
    if ((statusCode === 200) !== expected[i].allowed) mismatches++;
  }
  await pool.close();
  return mismatches;
}

async function httpLoad(port, seconds) {
  const result = await autocannon({ url: `http://127.0.0.1:${port}`, connections: CONNECTIONS, duration: seconds, requests: httpRequests });
  return { requestsPerSecond: result.requests.average, ok: result['2xx'], non2xx: result.non2xx, errors: result.errors + result.timeouts };
}

function httpClient(port) {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 8 });
  return {
    send: async (i) => {
      const { body } = await pool.request(httpRequests[i % httpRequests.length]);
      await body.dump();
    },
    close: () => pool.close(),
  };
}

// ---- gRPC ----------------------------------------------------------------------------
const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';
const check = authorizationService().Check;
function checkRequest(r) {
  const peer = (p) => ({ principal: p.principal, address: p.address ? { socket_address: { address: p.address, port_value: 0 } } : undefined });
  return {
    attributes: {
      source: peer(r.source),
      destination: peer(r.destination),
      request: { http: { id: r.request.headers['x-request-id'], method: r.request.method, path: r.request.path, host: r.request.host, scheme: 'http', protocol: 'HTTP/1.1', headers: r.request.headers } },
    },
  };
}
/** Pre-encoded, gRPC-framed CheckRequests: the client spends nothing on protobuf. */
const grpcFrames = requests.map((r) => {
  const message = check.requestSerialize(checkRequest(r));
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
});
/** An HTTP/2 connection with Nagle off, as gRPC clients (and Envoy) use. */
function connect(url) {
  const { hostname, port } = new URL(url);
  return http2Connect(url, { createConnection: () => netConnect({ host: hostname, port: Number(port), noDelay: true }) });
}
const GRPC_HEADERS = { ':method': 'POST', ':path': CHECK_PATH, 'content-type': 'application/grpc', te: 'trailers' };

function grpcCall(session, frame, collect) {
  return new Promise((resolve) => {
    const stream = session.request(GRPC_HEADERS);
    const chunks = collect ? [] : undefined;
    let status = -1;
    stream.on('response', (h) => {
      if (h['grpc-status'] !== undefined) status = Number(h['grpc-status']);
    });
    stream.on('trailers', (t) => {
      status = Number(t['grpc-status']);
    });
    stream.on('data', (chunk) => chunks?.push(chunk));
    stream.on('close', () => resolve({ status, body: chunks ? Buffer.concat(chunks) : undefined }));
    stream.on('error', () => undefined);
    stream.end(frame);
  });
}

async function grpcVerify(port, expected) {
  const session = connect(`http://127.0.0.1:${port}`);
  let mismatches = 0;
  for (let i = 0; i < grpcFrames.length; i++) {
    const { status, body } = await grpcCall(session, grpcFrames[i], true);
    const response = status === 0 ? check.responseDeserialize(body.subarray(5)) : undefined;
    const allowed = (response?.status?.code ?? 0) === 0 && response?.ok_response !== undefined;
    if (allowed !== expected[i].allowed) mismatches++;
  }
  session.close();
  return mismatches;
}

async function grpcLoad(port, seconds) {
  const sessions = Array.from({ length: SESSIONS }, () => connect(`http://127.0.0.1:${port}`));
  let completed = 0;
  let failed = 0;
  let next = 0;
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  const worker = async (session) => {
    while (performance.now() < deadline) {
      const { status } = await grpcCall(session, grpcFrames[next++ % grpcFrames.length], false);
      if (status === 0) completed++;
      else failed++;
    }
  };
  await Promise.all(sessions.flatMap((s) => Array.from({ length: INFLIGHT }, () => worker(s))));
  const elapsed = (performance.now() - start) / 1000;
  for (const s of sessions) s.close();
  return { requestsPerSecond: completed / elapsed, failed };
}

function grpcClient(port) {
  const session = connect(`http://127.0.0.1:${port}`);
  return { send: (i) => grpcCall(session, grpcFrames[i % grpcFrames.length], false), close: async () => session.close() };
}

// ---- run -----------------------------------------------------------------------------
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
console.log(`celgate ext_authz bench — ${machine}`);
console.log(`workload: ${requests.length} prepared requests, decision log ${LOG === 'log' ? 'on (to /dev/null)' : 'off'}; load ${DURATION}s per server in ${ROUNDS} alternating rounds; fixed rate ${RATE}/s for latency\n`);

const engine = await inProcess();
console.log(`policies: ${engine.policies}, allowed share: ${round(engine.allowedShare * 100, 1)}%`);
console.log(`in-process decisions: ${Math.round(engine.decisionsPerSecond).toLocaleString('en')}/s (bar >= ${BARS.decisionsPerSecond.toLocaleString('en')}/s)\n`);

const skip = { requestsPerSecond: NaN, p50: NaN, rssMB: 0, mismatches: 0 };
const http = values.only === 'grpc' ? { bare: skip, authz: skip } : await compare('http-bare', 'http-authz', { verify: httpVerify, load: httpLoad, client: httpClient });
const grpc = values.only === 'http' ? { bare: skip, authz: skip } : await compare('grpc-bare', 'grpc-authz', { verify: grpcVerify, load: grpcLoad, client: grpcClient });
const [httpBare, httpAuthz, grpcBare, grpcAuthz] = [http.bare, http.authz, grpc.bare, grpc.authz];

const rows = [
  ['HTTP bare fastify', httpBare],
  ['HTTP celgate ext_authz', httpAuthz],
  ['gRPC bare grpc-js', grpcBare],
  ['gRPC celgate ext_authz', grpcAuthz],
];
console.log('server                    req/s     p50@rate(ms)  max RSS(MB)  notes');
for (const [name, r] of rows) {
  const notes = [];
  if (r.mismatches !== undefined) notes.push(`${r.mismatches} decision mismatches vs in-process`);
  if (r.non2xx !== undefined && name.includes('celgate')) notes.push(`${round((r.ok / (r.ok + r.non2xx)) * 100, 1)}% answered 200`);
  if (r.errors) notes.push(`${r.errors} errors`);
  if (r.failed) notes.push(`${r.failed} failed calls`);
  console.log(`${name.padEnd(24)} ${String(Math.round(r.requestsPerSecond)).padStart(7)}   ${String(round(r.p50, 3)).padStart(10)}   ${String(r.rssMB).padStart(10)}   ${notes.join('; ')}`);
}
const results = {
  // Median of the per-round ratios (neighbouring slices), not the ratio of medians.
  httpThroughputRatio: round(httpAuthz.ratio ?? NaN),
  grpcThroughputRatio: round(grpcAuthz.ratio ?? NaN),
  httpAddedP50Ms: round(httpAuthz.p50 - httpBare.p50, 3),
  grpcAddedP50Ms: round(grpcAuthz.p50 - grpcBare.p50, 3),
  decisionsPerSecond: Math.round(engine.decisionsPerSecond),
  maxRssMB: Math.max(httpAuthz.rssMB, grpcAuthz.rssMB),
};
const verdict = (ok) => (ok ? 'ok' : 'BELOW BAR');
console.log(`
HTTP throughput ratio      ${results.httpThroughputRatio}x (bar >= ${BARS.throughput}x)  ${verdict(results.httpThroughputRatio >= BARS.throughput)}
gRPC throughput ratio      ${results.grpcThroughputRatio}x (bar >= ${BARS.throughput}x)  ${verdict(results.grpcThroughputRatio >= BARS.throughput)}
  (gRPC client ceiling = the bare server's req/s above: ${Math.round(grpcBare.requestsPerSecond)}/s with ${SESSIONS} HTTP/2 connections x ${INFLIGHT} calls in flight)
HTTP added median latency  ${results.httpAddedP50Ms} ms at ${RATE}/s (bar <= ${BARS.addedLatencyMs} ms)  ${verdict(results.httpAddedP50Ms <= BARS.addedLatencyMs)}
gRPC added median latency  ${results.grpcAddedP50Ms} ms at ${RATE}/s (bar <= ${BARS.addedLatencyMs} ms)  ${verdict(results.grpcAddedP50Ms <= BARS.addedLatencyMs)}
in-process decisions       ${results.decisionsPerSecond.toLocaleString('en')}/s (bar >= ${BARS.decisionsPerSecond.toLocaleString('en')}/s)  ${verdict(results.decisionsPerSecond >= BARS.decisionsPerSecond)}
max RSS under load         ${results.maxRssMB} MB (bar <= ${BARS.rssMB} MB)  ${verdict(results.maxRssMB <= BARS.rssMB)}
decision mismatches        HTTP ${httpAuthz.mismatches}, gRPC ${grpcAuthz.mismatches} (must be 0)`);
console.log(`\n${JSON.stringify({ machine, ...results })}`);

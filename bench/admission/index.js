#!/usr/bin/env node
// Admission webhook benchmark: celgate's webhook (every policy under policies/) against a bare
// fastify HTTPS server that parses the AdmissionReview and answers allowed:true, measured in the
// same run with autocannon over HTTPS keep-alive, on a mix of Pod and Deployment reviews.
// Bars: throughput >= 0.6x baseline; median added latency <= 0.3 ms at a fixed rate of 1/3 of the
// baseline's maximum; peak RSS <= 150 MB; in-process admit() rate >= 20x celgate's HTTP rate.
// --floor also measures floor.js (the library's validating policies hand-written in plain JS, served
// by the baseline's fastify): what the bars would give with no engine at all.
// Usage: npx tsc -p tsconfig.json && node bench/admission/index.js [--duration S] [--connections N] [--floor]
import { fork } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { admit } from '../../dist/engine/admission/index.js';
import { requestForObject } from '../../dist/engine/admission/request.js';
import { ensureServingCertificates } from '../../dist/pki/index.js';
import { loadFloor, loadLibrary } from './library.js';
import { objects } from './workload.js';

const { values } = parseArgs({
  options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '10' }, floor: { type: 'boolean', default: false } },
});
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const BARS = { throughput: 0.6, addedLatencyMs: 0.3, peakRssMb: 150, inProcess: 20 };
const SERVER = new URL('./server.js', import.meta.url).pathname;

// ---- the workload (workload.js), each object to /validate and /mutate ----

const calls = [];
for (const object of objects) for (const path of ['/validate', '/mutate']) calls.push({ path, request: requestForObject(object) });
const requests = calls.map(({ path, request }) => ({
  method: 'POST',
  path,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request }),
}));

// ---- servers in child processes ----
const certDir = mkdtempSync(join(tmpdir(), 'celgate-bench-admission-'));
await ensureServingCertificates(certDir, { ipAddresses: ['127.0.0.1'] });

function startServer(mode) {
  return new Promise((resolve, reject) => {
    // BENCH_SERVER_NODE_OPTIONS: extra node flags for the servers, e.g. "--cpu-prof --cpu-prof-dir=DIR".
    const execArgv = process.env.BENCH_SERVER_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [];
    const child = fork(SERVER, [mode, certDir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    child.once('message', (message) => resolve({ child, ...message }));
    child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
}
const ask = (child, message) => new Promise((resolve) => { child.once('message', resolve); child.send(message); });
async function stopServer(server) {
  const rss = await ask(server.child, 'rss');
  server.child.removeAllListeners('exit');
  server.child.send('stop');
  return rss;
}

/** One autocannon run; latency medians from every response's own timing (autocannon's histogram is whole ms). */
function load(port, options) {
  return new Promise((resolve, reject) => {
    const latencies = [];
    const instance = autocannon(
      { url: `https://127.0.0.1:${port}`, connections: CONNECTIONS, pipelining: 1, duration: DURATION, requests, ...options },
      (error, result) => {
        if (error) return reject(error);
        latencies.sort((a, b) => a - b);
        const non2xx = result.non2xx + result.errors + result.timeouts;
        resolve({ rps: result.requests.average, total: result.requests.total, non2xx, p50: latencies[Math.floor(latencies.length / 2)] ?? NaN, p99: latencies[Math.floor(latencies.length * 0.99)] ?? NaN });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  });
}

async function measure(mode) {
  const server = await startServer(mode);
  await load(server.port, { duration: 2 }); // warm-up: JIT, TLS sessions, caches
  const max = await load(server.port, {});
  return { server, max };
}

// Decisions must agree with what the policies say before anything is timed.
const baseline = await measure('baseline');
const celgate = await measure('celgate');
// The webhook adapter alone (no policies): separates the adapter's cost from the engine's.
const adapter = await measure('adapter');
const adapterRss = await stopServer(adapter.server);
const rate = Math.max(1, Math.round(baseline.max.rps / 3));
const baselineFixed = await load(baseline.server.port, { overallRate: rate });
const celgateFixed = await load(celgate.server.port, { overallRate: rate });
const baselineRss = await stopServer(baseline.server);
const celgateRss = await stopServer(celgate.server);

// The floor last, on a machine as warm as it was for celgate.
const floor = values.floor ? await measure('floor') : undefined;
const floorFixed = floor ? await load(floor.server.port, { overallRate: rate }) : undefined;
if (floor) await stopServer(floor.server);

// ---- in-process decision rate: admit() on the same requests ----
const { policies, cluster } = await loadLibrary();
const phases = calls.map(({ path, request }) => ({ request, phase: path === '/mutate' ? 'mutate' : 'validate' }));
/** Best of two timed runs of `decide` over the workload, after a warm-up, in calls per second. */
function decisionsPerSecond(decide) {
  const run = (iterations) => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) decide(phases[i % phases.length]);
    return iterations / (Number(process.hrtime.bigint() - started) / 1e9);
  };
  run(5000);
  return Math.max(run(30000), run(30000));
}
const inProcess = decisionsPerSecond(({ request, phase }) => admit(policies, request, { phase, cluster }));

// ---- report ----
const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1);
const ratio = celgate.max.rps / baseline.max.rps;
const added = celgateFixed.p50 - baselineFixed.p50;
const inProcessRatio = inProcess / celgate.max.rps;
const peakMb = celgateRss.peakRss / 1024 / 1024;
const ok = (pass) => (pass ? 'ok' : 'MISSED');
console.log(`node ${process.version}, ${CONNECTIONS} connections, ${DURATION}s per run, ${requests.length} reviews (Pods and Deployments, /validate and /mutate)`);
console.log(`celgate: ${celgate.server.info}\n`);
console.log(`                          baseline      celgate`);
console.log(`max throughput (req/s)  ${baseline.max.rps.toFixed(0).padStart(9)}  ${celgate.max.rps.toFixed(0).padStart(11)}   ratio ${ratio.toFixed(2)}x (bar >= ${BARS.throughput}x) ${ok(ratio >= BARS.throughput)}`);
console.log(`adapter only, no policies ${adapter.max.rps.toFixed(0).padStart(20)}   ratio ${(adapter.max.rps / baseline.max.rps).toFixed(2)}x (the webhook adapter without the engine's work; peak RSS ${mb(adapterRss.peakRss)} MB)`);
console.log(`p50 at max (ms)         ${baseline.max.p50.toFixed(3).padStart(9)}  ${celgate.max.p50.toFixed(3).padStart(11)}`);
console.log(`p50 at ${String(rate).padStart(5)} req/s (ms) ${baselineFixed.p50.toFixed(3).padStart(9)}  ${celgateFixed.p50.toFixed(3).padStart(11)}   added ${added.toFixed(3)} ms (bar <= ${BARS.addedLatencyMs} ms) ${ok(added <= BARS.addedLatencyMs)}`);
console.log(`p99 at ${String(rate).padStart(5)} req/s (ms) ${baselineFixed.p99.toFixed(3).padStart(9)}  ${celgateFixed.p99.toFixed(3).padStart(11)}`);
console.log(`peak RSS (MB)           ${mb(baselineRss.peakRss).padStart(9)}  ${mb(celgateRss.peakRss).padStart(11)}   (bar <= ${BARS.peakRssMb} MB) ${ok(peakMb <= BARS.peakRssMb)}`);
console.log(`in-process admit()/s                 ${inProcess.toFixed(0).padStart(11)}   ${inProcessRatio.toFixed(1)}x the HTTP rate (bar >= ${BARS.inProcess}x) ${ok(inProcessRatio >= BARS.inProcess)}`);
if (floor) {
  // The floor must decide the workload as the engine does, the same policies denying, or its speed says nothing.
  const validate = await loadFloor();
  const denying = (message) => [...message.matchAll(/ValidatingAdmissionPolicy '([^']+)'/g)].map((m) => m[1]).sort().join(',');
  const disagreements = phases.filter(({ request, phase }) => {
    if (phase !== 'validate') return false;
    const engine = admit(policies, request, { phase, cluster });
    const engineDenying = engine.evaluations.filter((e) => e.result === 'deny').map((e) => e.policy).sort().join(',');
    return denying(validate(request).status?.message ?? '') !== engineDenying;
  });
  if (disagreements.length > 0) throw new Error(`floor.js decides ${disagreements.length} reviews differently from admit()`);
  // The floor's server runs the validate phase for /mutate too, so it is timed the same way here.
  const floorInProcess = decisionsPerSecond(({ request }) => validate(request));
  console.log(
    `hand-written floor       ${floor.max.rps.toFixed(0).padStart(20)}   ratio ${(floor.max.rps / baseline.max.rps).toFixed(2)}x; added p50 at ${rate} req/s ${(floorFixed.p50 - baselineFixed.p50).toFixed(3)} ms; in-process ${floorInProcess.toFixed(0)}/s = ${(floorInProcess / floor.max.rps).toFixed(1)}x its HTTP rate (floor.js: no engine, validate phase only)`,
  );
}
const failures = [baseline.max, celgate.max, baselineFixed, celgateFixed, ...(floor ? [floor.max, floorFixed] : [])].reduce((n, r) => n + r.non2xx, 0);
if (failures > 0) console.log(`\nWARNING: ${failures} responses were not 2xx (or errored/timed out)`);
process.exitCode = ratio >= BARS.throughput && added <= BARS.addedLatencyMs && peakMb <= BARS.peakRssMb && inProcessRatio >= BARS.inProcess && failures === 0 ? 0 : 1;
